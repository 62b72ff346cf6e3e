#include "compute/nn/plan.h"

#include <cassert>
#include <cstring>

#include "compute/common/error.h"
#include "compute/common/half.h"
#include "compute/kernels/activation.h"
#include "compute/kernels/batchnorm.h"
#include "compute/kernels/conv2d.h"
#include "compute/kernels/dropout.h"
#include "compute/kernels/init.h"
#include "compute/kernels/loss.h"
#include "compute/kernels/pool.h"
#include "compute/nn/tensor_table.h"

namespace ts::nn {
namespace {

using kernels::TensorRef;

uint64_t AlignUp(uint64_t value, uint64_t alignment) { return (value + alignment - 1) / alignment * alignment; }

}  // namespace

const char* ForcedVariantName(ForcedVariant variant) {
  switch (variant) {
    case ForcedVariant::kNone: return "autotuned";
    case ForcedVariant::kRegisterBlocked: return "register-blocked";
    case ForcedVariant::kSharedTiled: return "shared-tiled";
    case ForcedVariant::kDirect: return "direct";
  }
  return "?";
}

std::string Fp16UnsupportedLayers(const ModelDesc& model) {
  for (size_t i = 0; i < model.layers.size(); ++i) {
    const LayerKind kind = model.layers[i].kind;
    if (kind == LayerKind::kConv2D || kind == LayerKind::kPool2D || kind == LayerKind::kGlobalAvgPool ||
        kind == LayerKind::kBatchNorm)
      return "fp16 precision covers dense, activation and dropout layers; layers[" + std::to_string(i) + "] '" +
             model.layers[i].name + "' is a " + model.layers[i].TypeName() + " layer, which has no fp16 kernels.";
  }
  return "";
}

const char* KernelChoiceHowName(KernelChoice::How how) {
  switch (how) {
    case KernelChoice::How::kDefault: return "default";
    case KernelChoice::How::kForced: return "forced";
    case KernelChoice::How::kTuned: return "autotuned";
  }
  return "?";
}

const KernelChoice* Plan::kernel_choice(const std::string& label) const {
  auto found = kernel_choices_.find(label);
  return found == kernel_choices_.end() ? nullptr : &found->second;
}

const kernels::KernelProblem* Plan::problem(const std::string& label) const {
  auto found = problems_.find(label);
  return found == problems_.end() ? nullptr : &found->second;
}

const char* PassName(Pass pass) {
  switch (pass) {
    case Pass::kData: return "data";
    case Pass::kForward: return "forward";
    case Pass::kLoss: return "loss";
    case Pass::kBackward: return "backward";
    case Pass::kUpdate: return "update";
    case Pass::kMetrics: return "metrics";
  }
  return "?";
}

// Walks the model twice: a dry run that only adds up memory (so an impossible
// plan fails before anything is allocated), then the real build.
struct Plan::Builder {
  Plan& plan;
  bool allocate;
  MemoryUse memory;

  enum class Category { kActivation, kActivationGradient, kBatch };

  // A tensor of `count` elements of `element_bytes` (2: fp16) in a buffer of its own.
  TensorRef Tensor(const std::string& name, uint64_t count, Category category, uint32_t element_bytes = 4) {
    uint64_t bytes = AlignUp(count * element_bytes, 4);
    (category == Category::kActivation ? memory.activations
     : category == Category::kActivationGradient ? memory.activation_gradients
                                                 : memory.batch) += bytes;
    if (!allocate) return {nullptr, 0, count, 0, element_bytes};
    plan.tensors_.push_back(std::make_unique<vk::Buffer>(*plan.context_, bytes, name));
    return {plan.tensors_.back().get(), 0, count, 0, element_bytes};
  }

  template <typename MakeDispatch>
  void Add(std::vector<vk::Dispatch>& list, std::vector<DispatchRole>& roles, DispatchRole role, MakeDispatch make) {
    if (!allocate) return;
    list.push_back(make());
    roles.push_back(role);
  }

  // For kernels that take several dispatches (a split reduction).
  template <typename MakeDispatches>
  void AddAll(std::vector<vk::Dispatch>& list, std::vector<DispatchRole>& roles, DispatchRole role, MakeDispatches make) {
    if (!allocate) return;
    for (vk::Dispatch& d : make()) {
      list.push_back(std::move(d));
      roles.push_back(role);
    }
  }

  // A matmul dispatch labelled `label`, its kernel forced, autotuned or the
  // device's default (PlanOptions), and how it was chosen recorded by label.
  vk::Dispatch Matmul(const kernels::MatmulArgs& args, const std::string& label) {
    const PlanOptions& o = plan.options_;
    const vk::DeviceInfo& device = plan.context_->info();
    KernelChoice choice;
    std::optional<kernels::MatmulVariant> forced;
    if (o.forced_variant == ForcedVariant::kRegisterBlocked) forced = kernels::MatmulVariant::kRegisterBlocked;
    if (o.forced_variant == ForcedVariant::kSharedTiled) forced = kernels::MatmulVariant::kSharedTiled;
    if (o.forced_variant == ForcedVariant::kDirect) choice.not_applied = NotApplied(o.forced_variant, "matmul");
    kernels::MatmulVariant variant = forced.value_or(kernels::DefaultMatmulVariant(device));
    kernels::MatmulCandidate candidate{variant, kernels::ChooseMatmulTiling(device, args, variant)};
    if (forced) {
      choice.how = KernelChoice::How::kForced;
    } else if (o.autotune) {
      kernels::MatmulTuneOptions tune;
      tune.cache_file = o.autotune_cache_file;
      kernels::MatmulTuneResult tuned = kernels::TuneMatmul(
          *plan.context_, *plan.pipelines_,
          {args.m, args.n, args.k, args.transpose_a, args.transpose_b, args.a.half(), args.c.half()}, tune);
      if (tuned.measured) {
        candidate = tuned.chosen;
        choice.how = KernelChoice::How::kTuned;
        for (const kernels::MatmulCandidateResult& r : tuned.candidates)
          if (r.correct && r.median_ns > 0) choice.alternatives_ns.emplace_back(r.candidate.name(), r.median_ns);
      }
    }
    vk::Dispatch d = kernels::MatmulDispatch(*plan.pipelines_, args, candidate.variant, candidate.tiling);
    d.label = label;
    choice.variant = candidate.name();
    plan.kernel_choices_[label] = std::move(choice);
    kernels::KernelProblem& problem = plan.problems_[label];
    problem.matmul = kernels::MatmulShape{args.m, args.n, args.k, args.transpose_a, args.transpose_b,
                                          args.a.half(), args.c.half()};
    problem.matmul_kernel = candidate;
    return d;
  }

  static std::string NotApplied(ForcedVariant forced, const std::string& kernel) {
    return std::string(ForcedVariantName(forced)) + " was forced: " + kernel + " has no " +
           ForcedVariantName(forced) + " kernel";
  }

  // The forward convolution labelled `label`: its implicit GEMM (the
  // register-blocked kernel) or direct kernel when forced, else the kernel's
  // own rule (kernels::ChooseConv2DVariant; there is no convolution autotuner).
  vk::Dispatch Conv(const kernels::Conv2DArgs& args, const std::string& label) {
    const ForcedVariant forced = plan.options_.forced_variant;
    KernelChoice choice;
    kernels::Conv2DVariant variant = kernels::ChooseConv2DVariant(plan.context_->info(), args.geometry);
    if (forced == ForcedVariant::kRegisterBlocked || forced == ForcedVariant::kDirect) {
      variant = forced == ForcedVariant::kDirect ? kernels::Conv2DVariant::kDirect : kernels::Conv2DVariant::kImplicitGemm;
      choice.how = KernelChoice::How::kForced;
    } else if (forced == ForcedVariant::kSharedTiled) {
      choice.not_applied = NotApplied(forced, "conv2d");
    }
    vk::Dispatch d = kernels::Conv2DDispatch(*plan.pipelines_, args, variant);
    d.label = label;
    choice.variant = kernels::Conv2DVariantName(variant);
    plan.kernel_choices_[label] = std::move(choice);
    kernels::KernelProblem& problem = plan.problems_[label];
    problem.conv = args.geometry;
    problem.conv_variant = variant;
    return d;
  }

  // A backward convolution's only kernel (a register-blocked implicit GEMM),
  // recorded so that a forced variant it does not have is reported.
  void RecordOnlyConvKernel(const std::string& label, const std::string& kernel, const kernels::Conv2DGeometry& geometry) {
    plan.problems_[label].conv = geometry;
    const ForcedVariant forced = plan.options_.forced_variant;
    KernelChoice choice;
    choice.variant = kernels::Conv2DVariantName(kernels::Conv2DVariant::kImplicitGemm);
    if (forced == ForcedVariant::kRegisterBlocked) choice.how = KernelChoice::How::kForced;
    if (forced == ForcedVariant::kSharedTiled || forced == ForcedVariant::kDirect)
      choice.not_applied = NotApplied(forced, kernel);
    plan.kernel_choices_[label] = std::move(choice);
  }

  // What each layer's forward pass produced, for building its backward pass.
  struct Record {
    size_t layer = 0;
    LayerKind kind = LayerKind::kInput;
    TensorRef x, z, y;               // input, pre-activation (dense, conv), output
    bool x_is_network_input = false;
    kernels::Activation activation = kernels::Activation::kIdentity;
    float leaky_slope = 0.01f;
    int weight = -1, bias = -1;      // indices into plan.parameters_ (batch norm: gamma, beta)
    uint32_t in = 0, out = 0;        // dense: features; conv: channels; batch norm: channels
    uint32_t rows = 0;               // rows of the (rows, out) matrix bias, activation and batch norm see
    kernels::Conv2DGeometry conv;
    kernels::PoolShape pool;
    kernels::PoolKind pool_kind = kernels::PoolKind::kMax;
    TensorRef argmax;                // max pooling
    uint32_t dropout_seed = 0;
    float rate = 0;
    TensorRef saved_mean, saved_inv_std, workspace;  // batch norm; dense, conv: bias-gradient partial sums
  };

  // What a pool layer's dispatch computes (Plan::problem).
  void RecordPool(const std::string& label, const Record& r) {
    kernels::KernelProblem& problem = plan.problems_[label];
    problem.pool = r.pool;
    problem.pool_kind = r.pool_kind;
  }

  // The parameter tensors (trainable, one shared layout) and the batch-norm
  // running statistics (not trained: their own buffer) of every layer.
  void LayOutParameters(const std::vector<LayerShape>& shapes, uint64_t alignment, uint64_t& total,
                        uint64_t& statistics_total) {
    ModelTensors tensors = ListModelTensors(plan.model_, shapes);
    auto lay_out = [&](std::vector<ParameterTensor>& list, uint64_t& end) {
      for (ParameterTensor& tensor : list) {
        tensor.offset = end;
        end = AlignUp(end + tensor.count, alignment);
      }
    };
    lay_out(tensors.parameters, total);
    lay_out(tensors.statistics, statistics_total);
    plan.parameters_ = std::move(tensors.parameters);
    plan.statistics_ = std::move(tensors.statistics);
  }

  // Mixed precision covers dense, activation and dropout layers.
  void RequireFp16Support(const ModelDesc& model) {
    const std::string unavailable = kernels::Fp16Unavailable(plan.context_->info());
    if (!unavailable.empty()) throw Error("fp16 precision is unavailable: " + unavailable);
    if (std::string refusal = Fp16UnsupportedLayers(model); !refusal.empty())
      throw Error(refusal + " Train this model with precision fp32.");
  }

  void Build() {
    const ModelDesc& model = plan.model_;
    std::vector<LayerShape> shapes = InferShapes(model);
    const PlanOptions& o = plan.options_;
    const uint32_t batch = o.batch;
    vk::PipelineCache& pipelines = *plan.pipelines_;
    const bool fp16 = o.precision == Precision::kFp16;
    if (fp16) RequireFp16Support(model);
    // Activations and their gradients: 2 bytes each in fp16.
    const uint32_t act_bytes = fp16 ? 2 : 4;

    // Parameter layout: every tensor starts at an offset a shader may bind,
    // in the fp32 buffers and (at half the byte offset) in the fp16 copy.
    const uint64_t offset_alignment = plan.context_->info().min_storage_buffer_offset_alignment;
    uint64_t alignment = std::max<uint64_t>(1, offset_alignment / (fp16 ? 2 : 4));
    uint64_t total = 0, statistics_total = 0;
    LayOutParameters(shapes, alignment, total, statistics_total);
    // A multiple of 4 floats, so the optimizer runs on vec4s.
    total = AlignUp(std::max<uint64_t>(total, 1), 4);
    statistics_total = std::max<uint64_t>(statistics_total, 1);
    uint32_t state_count = kernels::OptimizerStateCount(o.optimizer);
    plan.parameter_total_ = total;
    memory.parameters = memory.gradients = total * 4;
    if (fp16) memory.parameters += total * 2;  // the weights' fp16 copy
    memory.statistics = statistics_total * 4;
    memory.optimizer_state = total * 4 * state_count;

    plan.input_features_ = static_cast<uint32_t>(ShapeElements(model.layers[0].shape));
    plan.output_features_ = static_cast<uint32_t>(ShapeElements(shapes[shapes.size() - 2].output));
    plan.loss_kind_ = model.layers.back().loss;
    const vk::DeviceInfo& info = plan.context_->info();
    plan.step_stride_bytes_ = AlignUp(sizeof(gpu::StepParams), std::max<uint64_t>(info.min_storage_buffer_offset_alignment, 4));
    // {loss, correct, valid rows, non-finite}, and in fp16 {loss scale, skipped, -, -}.
    plan.result_stride_bytes_ = AlignUp(fp16 ? 32 : 16, std::max<uint64_t>(info.min_storage_buffer_offset_alignment, 4));
    plan.probabilities_stride_bytes_ =
        AlignUp(uint64_t(batch) * plan.output_features_ * 4, std::max<uint64_t>(info.min_storage_buffer_offset_alignment, 4));
    memory.step_io = o.slots * (plan.step_stride_bytes_ + plan.result_stride_bytes_ + plan.probabilities_stride_bytes_);

    if (allocate) {
      vk::Context& c = *plan.context_;
      plan.parameter_buffer_ = std::make_unique<vk::Buffer>(c, total * 4, "parameters");
      plan.gradient_buffer_ = std::make_unique<vk::Buffer>(c, total * 4, "gradients");
      plan.statistics_buffer_ = std::make_unique<vk::Buffer>(c, statistics_total * 4, "batch-norm running statistics");
      plan.state_buffers_.clear();
      for (uint32_t s = 0; s < state_count; ++s)
        plan.state_buffers_.push_back(std::make_unique<vk::Buffer>(c, total * 4, "optimizer state " + std::to_string(s + 1)));
      plan.step_buffer_ = std::make_unique<vk::Buffer>(c, o.slots * plan.step_stride_bytes_, "step parameters", vk::BufferUse::kStaging);
      plan.result_buffer_ = std::make_unique<vk::Buffer>(c, o.slots * plan.result_stride_bytes_, "step results", vk::BufferUse::kStaging);
      plan.probabilities_buffer_ = std::make_unique<vk::Buffer>(c, o.slots * plan.probabilities_stride_bytes_, "probabilities", vk::BufferUse::kStaging);
      std::memset(plan.step_buffer_->mapped(), 0, plan.step_buffer_->size());
      if (fp16) {
        plan.half_parameter_buffer_ = std::make_unique<vk::Buffer>(c, total * 2, "parameters (fp16 copy)");
        plan.loss_scale_buffer_ = std::make_unique<vk::Buffer>(c, sizeof(gpu::LossScaleState), "loss scaler",
                                                               vk::BufferUse::kStaging);
      }
    }
    TensorRef input = Tensor("batch input", uint64_t(batch) * plan.input_features_, Category::kBatch);
    TensorRef labels = Tensor("batch labels", batch, Category::kBatch);
    if (allocate) {
      plan.input_ = std::move(plan.tensors_[plan.tensors_.size() - 2]);
      plan.labels_ = std::move(plan.tensors_.back());
      plan.tensors_.resize(plan.tensors_.size() - 2);
      input = kernels::WholeBuffer(*plan.input_);
      labels = kernels::WholeBuffer(*plan.labels_);
    }
    TensorRef step_params{plan.step_buffer_.get(), 0, sizeof(gpu::StepParams) / 4, plan.step_stride_bytes_};
    auto parameter = [&](int index) {
      return index >= 0 ? plan.ParameterRef(*plan.parameter_buffer_, plan.parameters_[index]) : TensorRef{};
    };
    // fp16: the weights as the fp16 kernels read them (the copy the update writes).
    auto weight = [&](int index) {
      if (!fp16) return parameter(index);
      if (index < 0) return TensorRef{};
      const ParameterTensor& t = plan.parameters_[index];
      return TensorRef{plan.half_parameter_buffer_.get(), t.offset * 2, t.count, 0, 2};
    };
    const TensorRef loss_scale = fp16 ? TensorRef{plan.loss_scale_buffer_.get(), 0, sizeof(gpu::LossScaleState) / 4}
                                      : TensorRef{};
    auto gradient = [&](int index) {
      return index >= 0 ? plan.ParameterRef(*plan.gradient_buffer_, plan.parameters_[index]) : TensorRef{};
    };
    auto statistic = [&](const std::string& name) {
      for (const ParameterTensor& t : plan.statistics_)
        // The dry run asks too, before the buffer exists: no reference to it.
        if (t.name == name) return TensorRef{plan.statistics_buffer_.get(), t.offset * 4, t.count};
      return TensorRef{};
    };

    // Forward passes: training and evaluation differ only where a layer
    // behaves differently (dropout, batch norm); both write the same tensors.
    plan.layer_outputs_.assign(model.layers.size(), TensorRef{});
    std::vector<vk::Dispatch> forward, eval_forward;
    std::vector<DispatchRole> forward_roles, eval_forward_roles;
    auto add_forward = [&](DispatchRole role, auto make) {
      Add(forward, forward_roles, role, make);
      Add(eval_forward, eval_forward_roles, role, make);
    };
    std::vector<Record> records;
    TensorRef current = input;
    bool current_is_input = true;
    if (fp16) {  // the batch as fp16, which the first layer reads (its dW too)
      current = Tensor("batch input (fp16)", uint64_t(batch) * plan.input_features_, Category::kBatch, 2);
      add_forward({-1, Pass::kData}, [&] {
        vk::Dispatch d = kernels::CastDispatch(pipelines, input, current, current.count);
        d.label = "batch input to fp16";
        return d;
      });
    }
    int next_parameter = 0;
    // Every layer with a tensor of its own reads `current` and hands on its output.
    auto begin_record = [&](size_t layer, LayerKind kind) {
      Record r;
      r.layer = layer;
      r.kind = kind;
      r.x = current;
      r.x_is_network_input = current_is_input;
      return r;
    };
    auto finish_record = [&](const Record& r, TensorRef layer_output) {
      current = r.y;
      current_is_input = false;
      records.push_back(r);
      plan.layer_outputs_[r.layer] = layer_output;
    };
    for (size_t i = 0; i < model.layers.size(); ++i) {
      const LayerDesc& layer = model.layers[i];
      const std::vector<uint32_t>& in_shape = i ? shapes[i - 1].output : shapes[0].output;
      uint32_t features = static_cast<uint32_t>(ShapeElements(in_shape));
      DispatchRole role{static_cast<int>(i), Pass::kForward};
      if (layer.kind == LayerKind::kDense || layer.kind == LayerKind::kConv2D) {
        const bool conv = layer.kind == LayerKind::kConv2D;
        Record r = begin_record(i, layer.kind);
        r.weight = next_parameter++;
        r.bias = layer.bias ? next_parameter++ : -1;
        if (conv) {
          r.conv = ConvGeometry(layer, in_shape, batch);
          r.in = r.conv.in_channels;
          r.out = layer.filters;
          r.rows = static_cast<uint32_t>(r.conv.output_pixels());
        } else {
          r.in = features;
          r.out = layer.units;
          r.rows = batch;
        }
        r.z = Tensor(layer.name + " output", uint64_t(r.rows) * r.out, Category::kActivation, act_bytes);
        // Many rows (a convolution's N*OH*OW): the bias gradient is summed per row block, then combined.
        if (uint64_t count = kernels::BiasActivationBackwardWorkspaceCount(r.rows, r.out); r.bias >= 0 && count > 0)
          r.workspace = Tensor(layer.name + " bias-gradient workspace", count, Category::kActivationGradient);
        add_forward(role, [&] {
          vk::Dispatch d;
          if (conv) {
            d = Conv({r.x, parameter(r.weight), r.z, r.conv}, layer.name + " forward: Z = conv(X, W)");
          } else {
            d = Matmul({r.x, weight(r.weight), r.z, batch, r.out, r.in}, layer.name + " forward: Z = X W");
          }
          return d;
        });
        // Fuse a following activation into the bias add.
        bool fuse = i + 1 < model.layers.size() && model.layers[i + 1].kind == LayerKind::kActivation;
        if (fuse) {
          r.activation = model.layers[i + 1].activation;
          r.leaky_slope = model.layers[i + 1].leaky_slope;
          r.y = Tensor(model.layers[i + 1].name + " output", uint64_t(r.rows) * r.out, Category::kActivation, act_bytes);
        } else {
          r.y = r.z;
        }
        if (fuse || r.bias >= 0)
          add_forward(role, [&] {
            kernels::BiasActivationArgs a{r.z, parameter(r.bias), fuse ? r.y : TensorRef{}, r.rows, r.out,
                                          r.activation, r.leaky_slope};
            vk::Dispatch d = kernels::BiasActivationDispatch(pipelines, a);
            d.label = layer.name + (fuse ? " forward: bias + " + model.layers[i + 1].name : std::string(" forward: bias"));
            return d;
          });
        finish_record(r, r.z);
        if (fuse) plan.layer_outputs_[i + 1] = r.y;
        if (fuse) ++i;  // the activation layer is done
      } else if (layer.kind == LayerKind::kActivation) {
        Record r = begin_record(i, LayerKind::kActivation);
        r.z = current;
        r.activation = layer.activation;
        r.leaky_slope = layer.leaky_slope;
        r.in = r.out = features;
        r.rows = batch;
        r.y = Tensor(layer.name + " output", uint64_t(batch) * features, Category::kActivation, act_bytes);
        add_forward(role, [&] {
          kernels::BiasActivationArgs a{r.z, TensorRef{}, r.y, batch, features, r.activation, r.leaky_slope};
          vk::Dispatch d = kernels::BiasActivationDispatch(pipelines, a);
          d.label = layer.name + " forward";
          return d;
        });
        finish_record(r, r.y);
      } else if (layer.kind == LayerKind::kPool2D || layer.kind == LayerKind::kGlobalAvgPool) {
        Record r = begin_record(i, layer.kind);
        if (layer.kind == LayerKind::kPool2D) {
          r.pool = PoolGeometry(layer, in_shape, batch);
          r.pool_kind = layer.pool;
        } else {
          r.pool = kernels::GlobalAveragePoolShape(batch, in_shape[1], in_shape[2], in_shape[0]);
          r.pool_kind = kernels::PoolKind::kAverage;
        }
        r.y = Tensor(layer.name + " output", r.pool.output_count(), Category::kActivation);
        if (r.pool_kind == kernels::PoolKind::kMax)
          r.argmax = Tensor(layer.name + " argmax", r.pool.output_count(), Category::kActivation);
        add_forward(role, [&] {
          vk::Dispatch d = kernels::PoolDispatch(pipelines, {r.pool_kind, r.pool, r.x, r.y, r.argmax});
          d.label = layer.name + " forward";
          RecordPool(d.label, r);
          return d;
        });
        finish_record(r, r.y);
      } else if (layer.kind == LayerKind::kDropout) {
        Record r = begin_record(i, LayerKind::kDropout);
        r.rows = batch;
        r.out = features;
        r.rate = layer.rate;
        r.dropout_seed = o.seed * 2654435761u + static_cast<uint32_t>(i);
        r.y = Tensor(layer.name + " output", uint64_t(batch) * features, Category::kActivation, act_bytes);
        // Training drops; evaluation keeps everything (p = 0 is a copy into the same output).
        Add(forward, forward_roles, role, [&] {
          kernels::DropoutArgs a{r.x, r.y, batch * features, r.rate, r.dropout_seed, 0, step_params};
          vk::Dispatch d = kernels::DropoutDispatch(pipelines, a);
          d.label = layer.name + " forward";
          return d;
        });
        Add(eval_forward, eval_forward_roles, role, [&] {
          kernels::DropoutArgs a{r.x, r.y, batch * features, 0.0f, r.dropout_seed, 0, TensorRef{}};
          vk::Dispatch d = kernels::DropoutDispatch(pipelines, a);
          d.label = layer.name + " forward (evaluation: identity)";
          return d;
        });
        finish_record(r, r.y);
      } else if (layer.kind == LayerKind::kBatchNorm) {
        Record r = begin_record(i, LayerKind::kBatchNorm);
        r.in = r.out = in_shape[0];
        r.rows = static_cast<uint32_t>(uint64_t(batch) * features / r.out);
        r.weight = next_parameter++;
        r.bias = next_parameter++;
        r.y = Tensor(layer.name + " output", uint64_t(r.rows) * r.out, Category::kActivation);
        r.saved_mean = Tensor(layer.name + " batch mean", r.out, Category::kActivation);
        r.saved_inv_std = Tensor(layer.name + " batch inverse std", r.out, Category::kActivation);
        // Large batches reduce each channel in blocks (partial sums here, shared by forward and backward).
        if (uint64_t workspace = kernels::BatchNormWorkspaceCount(r.rows, r.out); workspace > 0)
          r.workspace = Tensor(layer.name + " reduction workspace", workspace, Category::kActivation);
        const TensorRef running_mean = statistic(layer.name + ".running_mean");
        const TensorRef running_var = statistic(layer.name + ".running_var");
        for (bool training : {true, false})
          AddAll(training ? forward : eval_forward, training ? forward_roles : eval_forward_roles, role, [&] {
            kernels::BatchNormArgs a{r.x, parameter(r.weight), parameter(r.bias), running_mean, running_var,
                                     training ? r.saved_mean : TensorRef{}, training ? r.saved_inv_std : TensorRef{},
                                     r.y, r.rows, r.out, training, layer.epsilon, layer.momentum,
                                     training ? r.workspace : TensorRef{}};
            std::vector<vk::Dispatch> dispatches = kernels::BatchNormDispatches(pipelines, a);
            for (vk::Dispatch& d : dispatches)
              d.label = layer.name + (training ? " forward (batch statistics)" : " forward (running statistics)");
            return dispatches;
          });
        finish_record(r, r.y);
      }
      // kInput and kFlatten make no tensor: NHWC data flattened is already a vector.
    }
    const size_t loss_layer = model.layers.size() - 1;
    const uint32_t outputs = plan.output_features_;
    TensorRef row_loss = Tensor("row losses", batch, Category::kActivation);
    TensorRef row_correct = Tensor("row correct", batch, Category::kActivation);
    TensorRef grad_logits = Tensor("loss gradient", uint64_t(batch) * outputs, Category::kActivationGradient, act_bytes);
    TensorRef result{plan.result_buffer_.get(), 0, 4, plan.result_stride_bytes_};
    TensorRef probabilities{plan.probabilities_buffer_.get(), 0, uint64_t(batch) * outputs, plan.probabilities_stride_bytes_};
    const std::string& loss_name = model.layers[loss_layer].name;

    auto add_metrics = [&](std::vector<vk::Dispatch>& list, std::vector<DispatchRole>& roles) {
      Add(list, roles, {-1, Pass::kMetrics}, [&] {
        vk::Dispatch d = kernels::MetricsDispatch(pipelines, {row_loss, row_correct, step_params, result, batch});
        d.label = "metrics";
        return d;
      });
    };
    auto add_loss_and_metrics = [&](std::vector<vk::Dispatch>& list, std::vector<DispatchRole>& roles, bool training) {
      Add(list, roles, {static_cast<int>(loss_layer), Pass::kLoss}, [&] {
        kernels::LossArgs a{plan.loss_kind_, current, labels, row_loss, row_correct,
                            training ? grad_logits : TensorRef{}, training ? TensorRef{} : probabilities,
                            batch, outputs, 1.0f / float(batch), loss_scale};
        vk::Dispatch d = kernels::LossDispatch(pipelines, a);
        d.label = loss_name + (training ? ": loss and gradient" : ": loss and probabilities");
        return d;
      });
      if (!training) add_metrics(list, roles);
    };

    plan.train_step_ = forward;
    plan.train_roles_ = forward_roles;
    add_loss_and_metrics(plan.train_step_, plan.train_roles_, true);

    // Backward pass, last layer first.
    TensorRef grad = grad_logits;
    auto add_backward = [&](const Record& r, auto make) {
      Add(plan.train_step_, plan.train_roles_, {static_cast<int>(r.layer), Pass::kBackward}, make);
    };
    for (auto it = records.rbegin(); it != records.rend(); ++it) {
      const Record& r = *it;
      const std::string& name = model.layers[r.layer].name;
      TensorRef grad_z = grad;
      const bool has_activation = r.activation != kernels::Activation::kIdentity;
      switch (r.kind) {
        case LayerKind::kActivation: {
          if (r.x_is_network_input) continue;  // nothing upstream needs the gradient
          grad_z = Tensor(name + " input gradient", uint64_t(batch) * r.in, Category::kActivationGradient, act_bytes);
          add_backward(r, [&] {
            kernels::BiasActivationBackwardArgs a{grad, r.z, r.y, grad_z, TensorRef{}, batch, r.in, r.activation, r.leaky_slope};
            vk::Dispatch d = kernels::BiasActivationBackwardDispatch(pipelines, a);
            d.label = name + " backward";
            return d;
          });
          grad = grad_z;
          break;
        }
        case LayerKind::kDense:
        case LayerKind::kConv2D: {
          const bool conv = r.kind == LayerKind::kConv2D;
          if (has_activation)
            grad_z = Tensor(name + " pre-activation gradient", uint64_t(r.rows) * r.out, Category::kActivationGradient, act_bytes);
          if (has_activation || r.bias >= 0)
            AddAll(plan.train_step_, plan.train_roles_, {static_cast<int>(r.layer), Pass::kBackward}, [&] {
              kernels::BiasActivationBackwardArgs a{grad, r.z, r.y, has_activation ? grad_z : TensorRef{},
                                                    gradient(r.bias), r.rows, r.out, r.activation, r.leaky_slope,
                                                    r.workspace};
              std::vector<vk::Dispatch> dispatches = kernels::BiasActivationBackwardDispatches(pipelines, a);
              dispatches[0].label =
                  name + (has_activation ? " backward: activation and bias gradient" : " backward: bias gradient");
              if (dispatches.size() > 1) dispatches[1].label = name + " backward: bias gradient (sum of row blocks)";
              return dispatches;
            });
          add_backward(r, [&] {
            vk::Dispatch d;
            if (conv) {
              d = kernels::Conv2DBackwardFilterDispatch(pipelines, {r.x, grad_z, gradient(r.weight), r.conv});
              d.label = name + " backward: dW = im2col(X)^T dZ";
              RecordOnlyConvKernel(d.label, d.kernel, r.conv);
            } else {
              d = Matmul({r.x, grad_z, gradient(r.weight), r.in, r.out, batch, /*transpose_a=*/true, false},
                         name + " backward: dW = X^T dZ");
            }
            return d;
          });
          if (!r.x_is_network_input) {
            TensorRef grad_x = Tensor(name + " input gradient", r.x.count, Category::kActivationGradient, act_bytes);
            add_backward(r, [&] {
              vk::Dispatch d;
              if (conv) {
                d = kernels::Conv2DBackwardDataDispatch(pipelines, {grad_z, parameter(r.weight), grad_x, r.conv});
                d.label = name + " backward: dX = conv^T(dZ, W)";
                RecordOnlyConvKernel(d.label, d.kernel, r.conv);
              } else {
                d = Matmul({grad_z, weight(r.weight), grad_x, batch, r.in, r.out, false, /*transpose_b=*/true},
                           name + " backward: dX = dZ W^T");
              }
              return d;
            });
            grad = grad_x;
          }
          break;
        }
        case LayerKind::kPool2D:
        case LayerKind::kGlobalAvgPool: {
          if (r.x_is_network_input) continue;
          TensorRef grad_x = Tensor(name + " input gradient", r.x.count, Category::kActivationGradient, act_bytes);
          add_backward(r, [&] {
            vk::Dispatch d = kernels::PoolBackwardDispatch(pipelines, {r.pool_kind, r.pool, grad, r.argmax, grad_x});
            d.label = name + " backward";
            RecordPool(d.label, r);
            return d;
          });
          grad = grad_x;
          break;
        }
        case LayerKind::kDropout: {
          if (r.x_is_network_input) continue;
          TensorRef grad_x = Tensor(name + " input gradient", r.x.count, Category::kActivationGradient, act_bytes);
          add_backward(r, [&] {
            kernels::DropoutArgs a{grad, grad_x, r.rows * r.out, r.rate, r.dropout_seed, 0, step_params};
            vk::Dispatch d = kernels::DropoutBackwardDispatch(pipelines, a);
            d.label = name + " backward";
            return d;
          });
          grad = grad_x;
          break;
        }
        case LayerKind::kBatchNorm: {
          TensorRef grad_x = Tensor(name + " input gradient", r.x.count, Category::kActivationGradient, act_bytes);
          AddAll(plan.train_step_, plan.train_roles_, {static_cast<int>(r.layer), Pass::kBackward}, [&] {
            kernels::BatchNormBackwardArgs a{grad, r.x, parameter(r.weight), r.saved_mean, r.saved_inv_std,
                                             grad_x, gradient(r.weight), gradient(r.bias), r.rows, r.out, r.workspace};
            std::vector<vk::Dispatch> dispatches = kernels::BatchNormBackwardDispatches(pipelines, a);
            for (vk::Dispatch& d : dispatches) d.label = name + " backward: dX, d(gamma), d(beta)";
            return dispatches;
          });
          grad = grad_x;
          break;
        }
        default:
          break;
      }
    }

    if (fp16)
      Add(plan.train_step_, plan.train_roles_, {-1, Pass::kUpdate}, [&] {
        return kernels::LossScaleCheckDispatch(pipelines, kernels::WholeBuffer(*plan.gradient_buffer_), loss_scale, total);
      });
    Add(plan.train_step_, plan.train_roles_, {-1, Pass::kUpdate}, [&] {
      kernels::OptimizerArgs a{o.optimizer, kernels::WholeBuffer(*plan.parameter_buffer_),
                               kernels::WholeBuffer(*plan.gradient_buffer_),
                               state_count > 0 ? kernels::WholeBuffer(*plan.state_buffers_[0]) : TensorRef{},
                               state_count > 1 ? kernels::WholeBuffer(*plan.state_buffers_[1]) : TensorRef{},
                               step_params, static_cast<uint32_t>(total), o.hyper};
      a.loss_scale = loss_scale;
      if (fp16) a.params_half = {plan.half_parameter_buffer_.get(), 0, total, 0, 2};
      vk::Dispatch d = kernels::OptimizerDispatch(pipelines, a);
      d.label = std::string("update: ") + kernels::OptimizerName(o.optimizer) + " over all parameters" +
                (fp16 ? " (unscaled, and their fp16 copy; skipped if a gradient overflowed)" : "");
      return d;
    });
    if (fp16) {
      Add(plan.train_step_, plan.train_roles_, {-1, Pass::kUpdate}, [&] {
        TensorRef slot{plan.result_buffer_.get(), 0, 8, plan.result_stride_bytes_};
        vk::Dispatch d = kernels::LossScaleUpdateDispatch(pipelines, loss_scale, slot, o.loss_scale);
        d.label = "update: loss scale (halve after an overflow, double after " +
                  std::to_string(o.loss_scale.growth_interval) + " good steps)";
        return d;
      });
    }
    add_metrics(plan.train_step_, plan.train_roles_);

    plan.eval_step_ = eval_forward;
    plan.eval_roles_ = eval_forward_roles;
    add_loss_and_metrics(plan.eval_step_, plan.eval_roles_, false);
  }
};

std::unique_ptr<Plan> Plan::Compile(vk::Context& context, vk::PipelineCache& pipelines, const ModelDesc& model,
                                    const PlanOptions& options) {
  Require(options.batch > 0, "The batch size must be at least 1.");
  Require(options.slots > 0, "A plan needs at least one step slot.");
  auto plan = std::make_unique<Plan>(PrivateTag{});
  plan->context_ = &context;
  plan->pipelines_ = &pipelines;
  plan->model_ = model;
  plan->options_ = options;

  Builder dry{*plan, false, {}};
  dry.Build();
  uint64_t available = context.info().device_local_bytes();
  if (dry.memory.total() > available) {
    const MemoryUse& m = dry.memory;
    throw Error("Out of device memory: at batch size " + std::to_string(options.batch) + " the model needs " +
                vk::FormatBytes(m.total()) + " (parameters " + vk::FormatBytes(m.parameters) + ", gradients " +
                vk::FormatBytes(m.gradients) + ", optimizer state " + vk::FormatBytes(m.optimizer_state) +
                ", activations " + vk::FormatBytes(m.activations + m.activation_gradients + m.batch) + "), but '" +
                context.info().name + "' has " + vk::FormatBytes(available) +
                " of device memory. Use a smaller batch or a smaller model.");
  }
  Builder real{*plan, true, {}};
  real.Build();
  assert(real.memory.total() == dry.memory.total() && "dry run and build disagree on memory");
  plan->memory_ = real.memory;
  plan->InitializeParameters(1);
  return plan;
}

TensorRef Plan::ParameterRef(const vk::Buffer& buffer, const ParameterTensor& tensor) const {
  return {&buffer, tensor.offset * 4, tensor.count};
}

TensorRef Plan::step_params() const {
  return {step_buffer_.get(), 0, sizeof(gpu::StepParams) / 4, step_stride_bytes_};
}

gpu::StepParams& Plan::step_params_slot(uint32_t slot) {
  assert(slot < options_.slots);
  return *reinterpret_cast<gpu::StepParams*>(static_cast<std::byte*>(step_buffer_->mapped()) + slot * step_stride_bytes_);
}

std::array<float, 4> Plan::result_slot(uint32_t slot) const {
  std::array<float, 4> values;
  std::memcpy(values.data(), static_cast<const std::byte*>(result_buffer_->mapped()) + slot * result_stride_bytes_, 16);
  return values;
}

std::pair<float, bool> Plan::loss_scale_slot(uint32_t slot) const {
  if (options_.precision != Precision::kFp16) return {1.0f, false};
  float values[2];
  std::memcpy(values, static_cast<const std::byte*>(result_buffer_->mapped()) + slot * result_stride_bytes_ + 16, 8);
  return {values[0], values[1] != 0.0f};
}

std::pair<float, uint32_t> Plan::loss_scale_state() const {
  if (options_.precision != Precision::kFp16) return {1.0f, 0};
  gpu::LossScaleState state;
  std::memcpy(&state, loss_scale_buffer_->mapped(), sizeof state);
  return {state.scale, state.skipped_steps};
}

std::vector<float> Plan::probabilities_slot(uint32_t slot) const {
  std::vector<float> values(size_t(batch()) * output_features_);
  std::memcpy(values.data(), static_cast<const std::byte*>(probabilities_buffer_->mapped()) + slot * probabilities_stride_bytes_,
              values.size() * 4);
  return values;
}

uint64_t Plan::parameter_count() const {
  uint64_t n = 0;
  for (const ParameterTensor& p : parameters_) n += p.count;
  return n;
}

namespace {

std::vector<float> Gather(const vk::Buffer& buffer, const std::vector<ParameterTensor>& tensors) {
  std::vector<float> padded(buffer.size() / 4), packed;
  buffer.DownloadVector(std::span<float>(padded));
  for (const ParameterTensor& p : tensors)
    packed.insert(packed.end(), padded.begin() + p.offset, padded.begin() + p.offset + p.count);
  return packed;
}

void Scatter(vk::Buffer& buffer, const std::vector<ParameterTensor>& tensors, const std::vector<float>& packed,
             uint64_t expected) {
  if (packed.size() != expected)
    throw Error("Expected " + std::to_string(expected) + " parameter values, found " + std::to_string(packed.size()) + ".");
  std::vector<float> padded(buffer.size() / 4, 0.0f);
  size_t at = 0;
  for (const ParameterTensor& p : tensors) {
    std::copy(packed.begin() + at, packed.begin() + at + p.count, padded.begin() + p.offset);
    at += p.count;
  }
  buffer.UploadVector(std::span<const float>(padded));
}

}  // namespace

std::vector<float> Plan::ReadParameters() const { return Gather(*parameter_buffer_, parameters_); }
std::vector<float> Plan::ReadStatistics() const { return Gather(*statistics_buffer_, statistics_); }

void Plan::WriteStatistics(const std::vector<float>& values) {
  uint64_t count = 0;
  for (const ParameterTensor& t : statistics_) count += t.count;
  Scatter(*statistics_buffer_, statistics_, values, count);
}
std::vector<float> Plan::ReadGradients() const { return Gather(*gradient_buffer_, parameters_); }

void Plan::WriteParameters(const std::vector<float>& values) {
  Scatter(*parameter_buffer_, parameters_, values, parameter_count());
  CastParametersToHalf();
}

void Plan::CastParametersToHalf() {
  if (options_.precision != Precision::kFp16) return;
  vk::Sequence sequence(*context_, {kernels::CastDispatch(*pipelines_, kernels::WholeBuffer(*parameter_buffer_),
                                                          {half_parameter_buffer_.get(), 0, parameter_total_, 0, 2},
                                                          parameter_total_)});
  context_->RunOnce([&](VkCommandBuffer cb) { sequence.Record(cb); });
}

std::vector<std::vector<float>> Plan::ReadOptimizerState() const {
  std::vector<std::vector<float>> state;
  for (const auto& buffer : state_buffers_) state.push_back(Gather(*buffer, parameters_));
  return state;
}

void Plan::WriteOptimizerState(const std::vector<std::vector<float>>& state) {
  if (state.size() != state_buffers_.size())
    throw Error("The optimizer keeps " + std::to_string(state_buffers_.size()) + " state tensor(s); found " +
                std::to_string(state.size()) + ".");
  for (size_t s = 0; s < state.size(); ++s) Scatter(*state_buffers_[s], parameters_, state[s], parameter_count());
}

std::vector<float> Plan::ReadLayerOutput(size_t layer) const {
  Require(layer < layer_outputs_.size(), "Layer index " + std::to_string(layer) + " is out of range.");
  const TensorRef& output = layer_outputs_[layer];
  std::vector<float> values(output.count);
  if (output.empty()) return values;
  if (output.half()) {  // fp16 activations, widened on the host
    std::vector<uint16_t> halves(output.count + output.count % 2);
    output.buffer->DownloadVector(std::span<uint16_t>(halves), output.offset_bytes);
    for (size_t i = 0; i < values.size(); ++i) values[i] = HalfToFloat(halves[i]);
    return values;
  }
  output.buffer->DownloadVector(std::span<float>(values), output.offset_bytes);
  return values;
}

void Plan::InitializeParameters(uint32_t seed) {
  std::vector<vk::Dispatch> dispatches;
  for (size_t i = 0; i < parameters_.size(); ++i) {
    const ParameterTensor& p = parameters_[i];
    kernels::InitArgs a{ParameterRef(*parameter_buffer_, p), static_cast<uint32_t>(p.count), p.init, p.fan_in,
                        p.fan_out, seed * 1000003u + static_cast<uint32_t>(i)};
    dispatches.push_back(kernels::InitDispatch(*pipelines_, a));
  }
  for (const ParameterTensor& t : statistics_)  // running mean 0, running variance 1, as PyTorch starts
    dispatches.push_back(kernels::InitDispatch(
        *pipelines_, {ParameterRef(*statistics_buffer_, t), static_cast<uint32_t>(t.count), t.init, 1, 1, 0}));
  vk::Sequence sequence(*context_, std::move(dispatches));
  context_->RunOnce([&](VkCommandBuffer cb) {
    // Padding between tensors and all optimizer state start at zero.
    vkCmdFillBuffer(cb, parameter_buffer_->handle(), 0, VK_WHOLE_SIZE, 0);
    vkCmdFillBuffer(cb, gradient_buffer_->handle(), 0, VK_WHOLE_SIZE, 0);
    vkCmdFillBuffer(cb, statistics_buffer_->handle(), 0, VK_WHOLE_SIZE, 0);
    for (const auto& buffer : state_buffers_) vkCmdFillBuffer(cb, buffer->handle(), 0, VK_WHOLE_SIZE, 0);
    vk::RecordTransferToComputeBarrier(cb);  // the init dispatches overwrite what the fills zeroed
    sequence.Record(cb);
    vk::RecordComputeToHostBarrier(cb);  // the host may read the parameters next (a checkpoint)
  });
  CastParametersToHalf();
  if (loss_scale_buffer_) {  // a fresh model starts a fresh scaler
    const gpu::LossScaleState state = kernels::InitialLossScaleState(options_.loss_scale);
    std::memcpy(loss_scale_buffer_->mapped(), &state, sizeof state);
  }
}

}  // namespace ts::nn
