#include "compute/parallel/pipeline.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>

#include "compute/common/error.h"
#include "compute/kernels/activation.h"
#include "compute/kernels/loss.h"
#include "compute/kernels/matmul.h"
#include "compute/kernels/optimizer.h"
#include "compute/nn/plan.h"
#include "compute/nn/trainer.h"
#include "compute/vk/buffer.h"
#include "compute/vk/check.h"
#include "compute/vk/pipeline.h"
#include "compute/vk/sequence.h"
#include "shaders/step_params.h"

namespace ts::parallel {
namespace {

// A dense layer and the activation that follows it (identity when none does).
struct DenseSpec {
  std::string name;
  uint32_t inputs = 0, outputs = 0;
  bool bias = true;
  kernels::Activation activation = kernels::Activation::kIdentity;
  float leaky_slope = 0.01f;
};

kernels::TensorRef Ref(const vk::Buffer& buffer) { return kernels::WholeBuffer(buffer); }

}  // namespace

const char* PipelineScheduleName(PipelineSchedule schedule) {
  return schedule == PipelineSchedule::kGPipe ? "GPipe" : "1F1B";
}

std::vector<std::pair<bool, uint32_t>> StageOrder(PipelineSchedule schedule, uint32_t stage, uint32_t stages,
                                                  uint32_t micro_batches) {
  std::vector<std::pair<bool, uint32_t>> order;
  if (schedule == PipelineSchedule::kGPipe) {
    for (uint32_t m = 0; m < micro_batches; ++m) order.push_back({true, m});
    for (uint32_t m = 0; m < micro_batches; ++m) order.push_back({false, m});
    return order;
  }
  const uint32_t warm_up = std::min(stages - stage - 1, micro_batches);
  uint32_t forward = 0, backward = 0;
  for (; forward < warm_up; ++forward) order.push_back({true, forward});
  while (forward < micro_batches) {
    order.push_back({true, forward++});
    order.push_back({false, backward++});
  }
  while (backward < micro_batches) order.push_back({false, backward++});
  return order;
}

struct PipelineTrainer::Stage {
  struct Layer {
    DenseSpec spec;
    std::unique_ptr<vk::Buffer> w, b, dw, db, dz, da;  // da: the gradient of this layer's output (inner layers)
    std::vector<std::unique_ptr<vk::Buffer>> state_w, state_b;
    std::vector<std::unique_ptr<vk::Buffer>> z, a;    // per micro-batch: pre-activation, output (a empty: z)
    const vk::Buffer& output(uint32_t m) const { return a.empty() ? *z[m] : *a[m]; }
  };
  vk::Context* context = nullptr;
  std::unique_ptr<vk::PipelineCache> pipelines;
  std::vector<Layer> layers;
  bool last = false;
  std::vector<std::unique_ptr<vk::Buffer>> input, out_grad, labels, row_loss, row_correct;  // per micro-batch
  std::unique_ptr<vk::Buffer> dx, ones, step_params;
  std::vector<vk::Sequence> forward, backward;  // per micro-batch
  std::unique_ptr<vk::Sequence> update;
  vk::UniqueCommandPool pool;
  std::vector<VkCommandBuffer> forward_cb, backward_cb;
  VkCommandBuffer update_cb = VK_NULL_HANDLE;
  vk::UniqueFence fence;
  bool in_flight = false;

  void Wait() noexcept {
    if (!in_flight) return;
    VkFence f = fence.get();
    vkWaitForFences(context->device(), 1, &f, VK_TRUE, UINT64_MAX);
    in_flight = false;
  }
  void Submit(VkCommandBuffer cb) {
    VkFence f = fence.get();
    vk::Check(vkResetFences(context->device(), 1, &f), "vkResetFences");
    context->Submit(cb, f);
    in_flight = true;
  }
  bool Done() {
    const VkResult result = vkGetFenceStatus(context->device(), fence.get());
    if (result == VK_NOT_READY) return false;
    vk::Check(result, "vkGetFenceStatus (pipeline stage)");
    in_flight = false;
    return true;
  }
  VkCommandBuffer Record(const vk::Sequence& sequence) {
    VkCommandBufferAllocateInfo allocate{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
    allocate.commandPool = pool.get();
    allocate.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    allocate.commandBufferCount = 1;
    VkCommandBuffer cb = VK_NULL_HANDLE;
    vk::Check(vkAllocateCommandBuffers(context->device(), &allocate, &cb), "vkAllocateCommandBuffers");
    VkCommandBufferBeginInfo begin{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    vk::Check(vkBeginCommandBuffer(cb, &begin), "vkBeginCommandBuffer");
    sequence.Record(cb, 0, /*timed=*/false);
    vk::RecordComputeToHostBarrier(cb);
    vk::Check(vkEndCommandBuffer(cb), "vkEndCommandBuffer");
    return cb;
  }
};

PipelineTrainer::PipelineTrainer(std::vector<vk::Context*> contexts, const nn::ModelDesc& model,
                                 const nn::TrainConfig& config, const data::Dataset& train, uint32_t micro_batches,
                                 PipelineSchedule schedule, const std::vector<float>& initial_parameters)
    : config_(config), micro_batches_(micro_batches), schedule_(schedule), train_(&train) {
  nn::ValidateTrainConfig(config);
  const uint32_t k = static_cast<uint32_t>(contexts.size());
  if (k == 0) throw Error("A pipeline needs at least one stage.");
  if (micro_batches == 0 || config.batch_size % micro_batches != 0)
    throw Error("The batch " + std::to_string(config.batch_size) + " does not split into " +
                std::to_string(micro_batches) + " micro-batches; choose a multiple.");
  if (train.count() < config.batch_size)
    throw Error("The training set '" + train.name + "' has fewer samples than the batch " +
                std::to_string(config.batch_size) + ".");
  micro_batch_rows_ = config.batch_size / micro_batches;

  // The model as dense layers with their activations, and its loss head.
  const std::vector<nn::LayerShape> shapes = nn::InferShapes(model);
  std::vector<DenseSpec> dense;
  kernels::LossKind loss = kernels::LossKind::kSoftmaxCrossEntropy;
  bool has_loss = false;
  for (size_t i = 1; i < model.layers.size(); ++i) {
    const nn::LayerDesc& layer = model.layers[i];
    if (layer.kind == nn::LayerKind::kDense) {
      DenseSpec spec;
      spec.name = layer.name;
      spec.inputs = static_cast<uint32_t>(nn::ShapeElements(shapes[i - 1].output));
      spec.outputs = layer.units;
      spec.bias = layer.bias;
      dense.push_back(spec);
    } else if (layer.kind == nn::LayerKind::kActivation && !dense.empty() &&
               dense.back().activation == kernels::Activation::kIdentity &&
               model.layers[i - 1].kind == nn::LayerKind::kDense) {
      dense.back().activation = layer.activation;
      dense.back().leaky_slope = layer.leaky_slope;
    } else if (layer.kind == nn::LayerKind::kLoss && i + 1 == model.layers.size()) {
      loss = layer.loss;
      has_loss = true;
    } else if (layer.kind != nn::LayerKind::kFlatten || i != 1) {
      throw Error("layers[" + std::to_string(i) + "] (" + layer.name +
                  "): the pipeline view runs multilayer perceptrons (dense layers, each followed by at most one "
                  "activation, and a loss head); this layer is not one of them.");
    }
  }
  if (!has_loss) throw Error("The model '" + model.name + "' has no loss head to train with.");
  if (dense.size() < k)
    throw Error("The model '" + model.name + "' has " + std::to_string(dense.size()) + " dense layers: too few for " +
                std::to_string(k) + " stages (one layer a stage at least).");

  // Stages of consecutive layers, balanced by parameters (greedy: close a stage at its share).
  std::vector<uint32_t> first_layer = {0};
  {
    uint64_t total = 0;
    for (const DenseSpec& d : dense) total += uint64_t(d.inputs + 1) * d.outputs;
    uint64_t running = 0;
    for (uint32_t i = 0; i < dense.size(); ++i) {
      running += uint64_t(dense[i].inputs + 1) * dense[i].outputs;
      const uint32_t stages_left = k - static_cast<uint32_t>(first_layer.size());
      const uint32_t layers_left = static_cast<uint32_t>(dense.size()) - i - 1;
      if (stages_left == 0) break;
      if (layers_left == stages_left || running * k >= total * first_layer.size()) first_layer.push_back(i + 1);
    }
    first_layer.push_back(static_cast<uint32_t>(dense.size()));
  }

  // Initial weights: the given ones, or the plan's seeded initialisation.
  std::vector<float> parameters = initial_parameters;
  if (parameters.empty()) {
    vk::PipelineCache pipelines(*contexts[0]);
    nn::PlanOptions options;
    options.batch = micro_batch_rows_;
    options.slots = 1;
    options.autotune = false;
    std::unique_ptr<nn::Plan> plan = nn::Plan::Compile(*contexts[0], pipelines, model, options);
    plan->InitializeParameters(static_cast<uint32_t>(config.seed));
    parameters = plan->ReadParameters();
  }
  uint64_t expected = 0;
  for (const DenseSpec& d : dense) expected += uint64_t(d.inputs) * d.outputs + (d.bias ? d.outputs : 0);
  if (parameters.size() != expected)
    throw Error("Expected " + std::to_string(expected) + " initial parameter values, found " +
                std::to_string(parameters.size()) + ".");

  const uint32_t rows = micro_batch_rows_, mb = micro_batches;
  const uint32_t states = kernels::OptimizerStateCount(config.optimizer);
  size_t at = 0;  // into parameters
  for (uint32_t s = 0; s < k; ++s) {
    auto stage = std::make_unique<Stage>();
    vk::Context& c = *contexts[s];
    stage->context = &c;
    stage->pipelines = std::make_unique<vk::PipelineCache>(c);
    stage->last = s + 1 == k;
    auto buffer = [&](uint64_t floats, const std::string& name, const std::vector<float>* values = nullptr) {
      auto b = std::make_unique<vk::Buffer>(c, std::max<uint64_t>(floats, 1) * 4, "stage " + std::to_string(s) + " " + name);
      std::vector<float> fill = values ? *values : std::vector<float>(floats, 0.0f);
      b->UploadVector(std::span<const float>(fill));
      return b;
    };
    for (uint32_t i = first_layer[s]; i < first_layer[s + 1]; ++i) {
      Stage::Layer layer;
      layer.spec = dense[i];
      const DenseSpec& d = layer.spec;
      std::vector<float> w(parameters.begin() + at, parameters.begin() + at + uint64_t(d.inputs) * d.outputs);
      at += w.size();
      std::vector<float> b(d.outputs, 0.0f);
      if (d.bias) {
        std::copy(parameters.begin() + at, parameters.begin() + at + d.outputs, b.begin());
        at += d.outputs;
      }
      layer.w = buffer(w.size(), d.name + ".weight", &w);
      layer.b = buffer(b.size(), d.name + ".bias", &b);
      layer.dw = buffer(w.size(), d.name + ".weight gradient");
      layer.db = buffer(b.size(), d.name + ".bias gradient");
      layer.dz = buffer(uint64_t(rows) * d.outputs, d.name + " dZ");
      layer.da = buffer(uint64_t(rows) * d.outputs, d.name + " dA");
      for (uint32_t t = 0; t < states; ++t) {
        layer.state_w.push_back(buffer(w.size(), d.name + ".weight optimizer state"));
        layer.state_b.push_back(buffer(b.size(), d.name + ".bias optimizer state"));
      }
      for (uint32_t m = 0; m < mb; ++m) {
        layer.z.push_back(buffer(uint64_t(rows) * d.outputs, d.name + " Z"));
        if (d.activation != kernels::Activation::kIdentity)
          layer.a.push_back(buffer(uint64_t(rows) * d.outputs, d.name + " A"));
      }
      stage->layers.push_back(std::move(layer));
    }
    const uint32_t in = stage->layers.front().spec.inputs, out = stage->layers.back().spec.outputs;
    for (uint32_t m = 0; m < mb; ++m) {
      stage->input.push_back(buffer(uint64_t(rows) * in, "input"));
      stage->out_grad.push_back(buffer(uint64_t(rows) * out, "output gradient"));
      if (stage->last) {
        stage->labels.push_back(buffer(rows, "labels"));
        stage->row_loss.push_back(buffer(rows, "row loss"));
        stage->row_correct.push_back(buffer(rows, "row correct"));
      }
    }
    stage->dx = buffer(uint64_t(rows) * in, "input gradient");
    const std::vector<float> ones(rows, 1.0f);  // db = 1^T dZ, summed by the matmul kernel
    stage->ones = buffer(rows, "ones", &ones);
    stage->step_params = std::make_unique<vk::Buffer>(c, sizeof(gpu::StepParams), "stage step parameters",
                                                      vk::BufferUse::kStaging);

    // The operations, as dispatch lists.
    vk::PipelineCache& p = *stage->pipelines;
    const kernels::MatmulVariant variant = kernels::DefaultMatmulVariant(c.info());
    for (uint32_t m = 0; m < mb; ++m) {
      std::vector<vk::Dispatch> f, b;
      for (size_t l = 0; l < stage->layers.size(); ++l) {
        const Stage::Layer& L = stage->layers[l];
        const vk::Buffer& x = l == 0 ? *stage->input[m] : stage->layers[l - 1].output(m);
        kernels::MatmulArgs mm{Ref(x), Ref(*L.w), Ref(*L.z[m]), rows, L.spec.outputs, L.spec.inputs};
        f.push_back(kernels::MatmulDispatch(p, mm, variant));
        if (L.spec.bias || L.spec.activation != kernels::Activation::kIdentity) {
          kernels::BiasActivationArgs act;
          act.pre = Ref(*L.z[m]);
          if (L.spec.bias) act.bias = Ref(*L.b);
          if (!L.a.empty()) act.out = Ref(*L.a[m]);
          act.rows = rows, act.cols = L.spec.outputs;
          act.activation = L.spec.activation;
          act.leaky_slope = L.spec.leaky_slope;
          f.push_back(kernels::BiasActivationDispatch(p, act));
        }
      }
      if (stage->last) {
        kernels::LossArgs l;
        l.kind = loss;
        l.logits = Ref(stage->layers.back().output(m));
        l.labels = Ref(*stage->labels[m]);
        l.row_loss = Ref(*stage->row_loss[m]);
        l.row_correct = Ref(*stage->row_correct[m]);
        l.grad_logits = Ref(*stage->out_grad[m]);
        l.rows = rows, l.cols = out;
        l.grad_scale = 1.0f / float(config.batch_size);  // gradients add up to the batch mean's
        f.push_back(kernels::LossDispatch(p, l));
      }
      const bool accumulate = m != 0;  // every schedule runs B(0) first on each stage
      for (size_t l = stage->layers.size(); l-- > 0;) {
        const Stage::Layer& L = stage->layers[l];
        const vk::Buffer& grad_out = l + 1 == stage->layers.size() ? *stage->out_grad[m] : *L.da;
        const vk::Buffer* dz = &grad_out;
        if (L.spec.activation != kernels::Activation::kIdentity) {
          kernels::BiasActivationBackwardArgs back;
          back.grad_out = Ref(grad_out);
          back.pre = Ref(*L.z[m]);
          back.out = Ref(L.output(m));
          back.grad_pre = Ref(*L.dz);
          back.rows = rows, back.cols = L.spec.outputs;
          back.activation = L.spec.activation;
          back.leaky_slope = L.spec.leaky_slope;
          b.push_back(kernels::BiasActivationBackwardDispatch(p, back));
          dz = L.dz.get();
        }
        const vk::Buffer& x = l == 0 ? *stage->input[m] : stage->layers[l - 1].output(m);
        kernels::MatmulArgs dw{Ref(x), Ref(*dz), Ref(*L.dw), L.spec.inputs, L.spec.outputs, rows};
        dw.transpose_a = true, dw.accumulate = accumulate;
        b.push_back(kernels::MatmulDispatch(p, dw, variant));
        if (L.spec.bias) {
          kernels::MatmulArgs db{Ref(*stage->ones), Ref(*dz), Ref(*L.db), 1, L.spec.outputs, rows};
          db.accumulate = accumulate;
          b.push_back(kernels::MatmulDispatch(p, db, variant));
        }
        if (l > 0 || s > 0) {
          const vk::Buffer& dx = l > 0 ? *stage->layers[l - 1].da : *stage->dx;
          kernels::MatmulArgs mx{Ref(*dz), Ref(*L.w), Ref(dx), rows, L.spec.inputs, L.spec.outputs};
          mx.transpose_b = true;
          b.push_back(kernels::MatmulDispatch(p, mx, variant));
        }
      }
      stage->forward.emplace_back(c, std::move(f));
      stage->backward.emplace_back(c, std::move(b));
    }
    std::vector<vk::Dispatch> u;
    for (const Stage::Layer& L : stage->layers) {
      for (int which = 0; which < (L.spec.bias ? 2 : 1); ++which) {
        kernels::OptimizerArgs o;
        o.kind = config.optimizer;
        o.params = Ref(which ? *L.b : *L.w);
        o.grads = Ref(which ? *L.db : *L.dw);
        const auto& state = which ? L.state_b : L.state_w;
        if (state.size() > 0) o.state1 = Ref(*state[0]);
        if (state.size() > 1) o.state2 = Ref(*state[1]);
        o.step_params = Ref(*stage->step_params);
        o.count = which ? L.spec.outputs : L.spec.inputs * L.spec.outputs;
        o.hyper = config.hyper;
        u.push_back(kernels::OptimizerDispatch(p, o));
      }
    }
    stage->update = std::make_unique<vk::Sequence>(c, std::move(u));

    stage->pool = vk::MakeCommandPool(c);
    for (uint32_t m = 0; m < mb; ++m) {
      stage->forward_cb.push_back(stage->Record(stage->forward[m]));
      stage->backward_cb.push_back(stage->Record(stage->backward[m]));
    }
    stage->update_cb = stage->Record(*stage->update);
    stage->fence = vk::MakeFence(c);
    stages_.push_back(std::move(stage));
  }
}

PipelineTrainer::~PipelineTrainer() {
  for (auto& stage : stages_) stage->Wait();
}

uint32_t PipelineTrainer::stages() const { return static_cast<uint32_t>(stages_.size()); }

std::vector<std::vector<std::string>> PipelineTrainer::stage_layers() const {
  std::vector<std::vector<std::string>> names;
  for (const auto& stage : stages_) {
    names.emplace_back();
    for (const Stage::Layer& layer : stage->layers) names.back().push_back(layer.spec.name);
  }
  return names;
}

std::vector<float> PipelineTrainer::ReadParameters() const {
  std::vector<float> values;
  for (const auto& stage : stages_)
    for (const Stage::Layer& layer : stage->layers) {
      std::vector<float> w(uint64_t(layer.spec.inputs) * layer.spec.outputs), b(layer.spec.outputs);
      layer.w->DownloadVector(std::span<float>(w));
      values.insert(values.end(), w.begin(), w.end());
      if (layer.spec.bias) {
        layer.b->DownloadVector(std::span<float>(b));
        values.insert(values.end(), b.begin(), b.end());
      }
    }
  return values;
}

PipelineStep PipelineTrainer::Step() {
  const uint32_t k = stages(), mb = micro_batches_, rows = micro_batch_rows_;
  const uint32_t steps_per_epoch = static_cast<uint32_t>(train_->count() / config_.batch_size);
  const uint32_t epoch = static_cast<uint32_t>(global_step_ / steps_per_epoch);
  const uint32_t step_in_epoch = static_cast<uint32_t>(global_step_ % steps_per_epoch);
  const std::vector<uint32_t> order = nn::EpochOrder(static_cast<uint32_t>(train_->count()), config_.seed, epoch,
                                                     config_.shuffle);
  // The batch, micro-batch by micro-batch: features into stage 0, labels into the last.
  const size_t features = train_->feature_size();
  for (uint32_t m = 0; m < mb; ++m) {
    std::vector<float> x(size_t(rows) * features);
    std::vector<uint32_t> labels(rows);
    for (uint32_t r = 0; r < rows; ++r) {
      const uint32_t sample = order[size_t(step_in_epoch) * config_.batch_size + m * rows + r];
      for (size_t j = 0; j < features; ++j) x[size_t(r) * features + j] = train_->normalized(sample, j);
      labels[r] = train_->labels[sample];
    }
    stages_.front()->input[m]->UploadVector(std::span<const float>(x));
    stages_.back()->labels[m]->UploadVector(std::span<const uint32_t>(labels));
  }
  const uint64_t t = global_step_ + 1;
  for (auto& stage : stages_) {
    auto& p = *static_cast<gpu::StepParams*>(stage->step_params->mapped());
    p = {};
    p.valid_rows = rows;
    p.adam_step = static_cast<uint32_t>(t);
    p.learning_rate = static_cast<float>(config_.LearningRateAt(epoch + double(step_in_epoch) / steps_per_epoch));
    p.bias_correction1 = static_cast<float>(1.0 - std::pow(double(config_.hyper.beta1), double(t)));
    p.bias_correction2 = static_cast<float>(1.0 - std::pow(double(config_.hyper.beta2), double(t)));
  }

  // Run every stage's operations in its schedule's order, each as soon as its input has arrived.
  PipelineStep step;
  std::vector<std::vector<std::pair<bool, uint32_t>>> orders;
  for (uint32_t s = 0; s < k; ++s) orders.push_back(StageOrder(schedule_, s, k, mb));
  std::vector<size_t> next(k, 0);
  std::vector<PipelineEvent> running(k);
  std::vector<std::vector<bool>> forward_done(k, std::vector<bool>(mb, false)), backward_done = forward_done;
  size_t remaining = 0;
  for (const auto& o : orders) remaining += o.size();
  step.start_ns = vk::SteadyNowNs();
  try {
    while (remaining > 0) {
      bool progressed = false;
      for (uint32_t s = 0; s < k; ++s) {
        Stage& stage = *stages_[s];
        if (stage.in_flight || next[s] >= orders[s].size()) continue;
        const auto [forward, m] = orders[s][next[s]];
        const bool ready = forward ? (s == 0 || forward_done[s - 1][m])
                                   : (s + 1 == k ? forward_done[s][m] : backward_done[s + 1][m]);
        if (!ready) continue;
        running[s] = {s, m, forward, vk::SteadyNowNs(), 0};
        stage.Submit(forward ? stage.forward_cb[m] : stage.backward_cb[m]);
        ++next[s];
        progressed = true;
      }
      for (uint32_t s = 0; s < k; ++s) {
        Stage& stage = *stages_[s];
        if (!stage.in_flight || !stage.Done()) continue;
        PipelineEvent event = running[s];
        event.end_ns = vk::SteadyNowNs();
        // Send what the neighbour waits for, through the host.
        const uint32_t m = event.micro_batch;
        if (event.forward && s + 1 < k) {
          std::vector<float> y(size_t(rows) * stage.layers.back().spec.outputs);
          stage.layers.back().output(m).DownloadVector(std::span<float>(y));
          stages_[s + 1]->input[m]->UploadVector(std::span<const float>(y));
        } else if (!event.forward && s > 0) {
          std::vector<float> dx(size_t(rows) * stage.layers.front().spec.inputs);
          stage.dx->DownloadVector(std::span<float>(dx));
          stages_[s - 1]->out_grad[m]->UploadVector(std::span<const float>(dx));
        }
        (event.forward ? forward_done : backward_done)[s][m] = true;
        step.events.push_back(event);
        --remaining;
        progressed = true;
      }
      if (!progressed) std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
    step.end_ns = vk::SteadyNowNs();
    for (auto& stage : stages_) stage->Submit(stage->update_cb);
    for (auto& stage : stages_) stage->Wait();
  } catch (...) {
    for (auto& stage : stages_) stage->Wait();
    throw;
  }
  step.update_ns = vk::SteadyNowNs() - step.end_ns;

  double loss = 0, correct = 0;
  for (uint32_t m = 0; m < mb; ++m) {
    std::vector<float> l(rows), c(rows);
    stages_.back()->row_loss[m]->DownloadVector(std::span<float>(l));
    stages_.back()->row_correct[m]->DownloadVector(std::span<float>(c));
    for (uint32_t r = 0; r < rows; ++r) loss += l[r], correct += c[r];
  }
  step.loss = static_cast<float>(loss / config_.batch_size);
  step.accuracy = static_cast<float>(correct / config_.batch_size);
  if (!std::isfinite(step.loss))
    throw nn::DivergenceError("The pipeline's loss became " + std::string(std::isnan(step.loss) ? "NaN" : "infinite") +
                              " at step " + std::to_string(global_step_ + 1) + ".");
  double busy = 0;
  for (const PipelineEvent& e : step.events) busy += e.end_ns - e.start_ns;
  const double span = step.end_ns - step.start_ns;
  step.measured_bubble = span > 0 ? std::max(0.0, 1.0 - busy / (double(k) * span)) : 0;
  step.ideal_bubble = double(k - 1) / double(mb + k - 1);
  ++global_step_;
  return step;
}

}  // namespace ts::parallel
