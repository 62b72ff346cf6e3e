// Plan::Builder::Build: the layers' dispatches, forward, loss, backward,
// update and metrics, in order (see plan_builder.h).
#include <algorithm>
#include <cstdio>
#include <cstring>

#include "compute/common/error.h"
#include "compute/kernels/activation.h"
#include "compute/kernels/batchnorm.h"
#include "compute/kernels/conv2d.h"
#include "compute/kernels/dropout.h"
#include "compute/kernels/grad_clip.h"
#include "compute/kernels/loss.h"
#include "compute/kernels/pool.h"
#include "compute/nn/plan_builder.h"

namespace ts::nn {

using kernels::TensorRef;

namespace {

std::string NumberText(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", value);
  return text;
}

}  // namespace

void Plan::Builder::Build() {
  const ModelDesc& model = plan.model_;
  std::vector<LayerShape> shapes = InferShapes(model);
  const PlanOptions& o = plan.options_;
  const uint32_t batch = o.batch;
  // A sequence model's layers work on every position: (batch * T, C) matrices.
  const uint32_t tokens = TokensPerSample(model);
  const uint32_t rows = batch * tokens;
  plan.tokens_per_sample_ = tokens;
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
  // Without weight decay on biases and norm scales (nanoGPT's AdamW groups),
  // the decayed tensors come first and end at a vec4- and offset-aligned decay_end_.
  const bool split_decay = !o.decay_biases_and_norms && o.hyper.weight_decay != 0.0f;
  LayOutParameters(shapes, alignment, total, statistics_total, split_decay);
  // A multiple of 4 floats, so the optimizer runs on vec4s.
  total = AlignUp(std::max<uint64_t>(total, 1), 4);
  if (!split_decay) plan.decay_end_ = total;
  statistics_total = std::max<uint64_t>(statistics_total, 1);
  uint32_t state_count = kernels::OptimizerStateCount(o.optimizer);
  plan.parameter_total_ = total;
  memory.parameters = memory.gradients = total * 4;
  if (fp16) memory.parameters += total * 2;  // the weights' fp16 copy
  memory.statistics = statistics_total * 4;
  memory.optimizer_state = total * 4 * state_count;

  plan.input_features_ = static_cast<uint32_t>(ShapeElements(model.layers[0].shape));
  plan.output_features_ = static_cast<uint32_t>(ShapeElements(shapes[shapes.size() - 2].output) / tokens);
  plan.loss_kind_ = model.layers.back().loss;
  const vk::DeviceInfo& info = plan.context_->info();
  plan.step_stride_bytes_ = AlignUp(sizeof(gpu::StepParams), std::max<uint64_t>(info.min_storage_buffer_offset_alignment, 4));
  // {loss, correct, valid rows, non-finite}, and in fp16 {loss scale, skipped, -, -}.
  plan.result_stride_bytes_ = AlignUp(fp16 ? 32 : 16, std::max<uint64_t>(info.min_storage_buffer_offset_alignment, 4));
  plan.probabilities_stride_bytes_ =
      AlignUp(uint64_t(rows) * plan.output_features_ * 4, std::max<uint64_t>(info.min_storage_buffer_offset_alignment, 4));
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
    if (o.grad_clip > 0) {
      plan.grad_norm_stride_bytes_ = AlignUp(4, std::max<uint64_t>(info.min_storage_buffer_offset_alignment, 4));
      plan.grad_norm_buffer_ = std::make_unique<vk::Buffer>(c, o.slots * plan.grad_norm_stride_bytes_,
                                                            "gradient norms", vk::BufferUse::kStaging);
    }
  }
  TensorRef input = Tensor("batch input", uint64_t(batch) * plan.input_features_, Category::kBatch);
  TensorRef labels = Tensor("batch labels", rows, Category::kBatch);
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
  plan.attention_probabilities_.assign(model.layers.size(), TensorRef{});
  std::vector<vk::Dispatch> forward, eval_forward;
  std::vector<DispatchRole> forward_roles, eval_forward_roles;
  auto add_forward = [&](DispatchRole role, auto make) {
    Add(forward, forward_roles, role, make);
    Add(eval_forward, eval_forward_roles, role, make);
  };
  std::vector<Record> records;
  Lists lists{&forward, &eval_forward, &plan.train_step_, &forward_roles, &eval_forward_roles, &plan.train_roles_};
  parameter_view = parameter;
  gradient_view = gradient;
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
    // Features per row (per position in a sequence model).
    uint32_t features = static_cast<uint32_t>(ShapeElements(in_shape) / (i >= 2 ? tokens : 1));
    DispatchRole role{static_cast<int>(i), Pass::kForward};
    if (layer.kind == LayerKind::kEmbedding || layer.kind == LayerKind::kLayerNorm ||
        layer.kind == LayerKind::kTransformerBlock) {
      Record r = begin_record(i, layer.kind);
      r.rows = rows;
      r.y = SequenceForward(lists, i, current, rows, next_parameter);
      finish_record(r, r.y);
      continue;
    }
    if (layer.kind == LayerKind::kDense || layer.kind == LayerKind::kConv2D) {
      const bool conv = layer.kind == LayerKind::kConv2D;
      Record r = begin_record(i, layer.kind);
      r.weight = layer.tied ? token_table : next_parameter++;
      r.bias = layer.bias ? next_parameter++ : -1;
      if (layer.tied) token_table_tied = true;
      if (conv) {
        r.conv = ConvGeometry(layer, in_shape, batch);
        r.in = r.conv.in_channels;
        r.out = layer.filters;
        r.rows = static_cast<uint32_t>(r.conv.output_pixels());
      } else {
        r.in = features;
        r.out = layer.units;
        r.rows = rows;
      }
      r.z = Tensor(layer.name + " output", uint64_t(r.rows) * r.out, Category::kActivation, act_bytes);
      // Many rows (a convolution's N*OH*OW): the bias gradient is summed per row block, then combined.
      if (uint64_t count = kernels::BiasActivationBackwardWorkspaceCount(r.rows, r.out); r.bias >= 0 && count > 0)
        r.workspace = Tensor(layer.name + " bias-gradient workspace", count, Category::kActivationGradient);
      add_forward(role, [&] {
        vk::Dispatch d;
        if (conv) {
          d = Conv({r.x, weight(r.weight), r.z, r.conv}, layer.name + " forward: Z = conv(X, W)");
        } else {
          if (layer.tied)  // W is the token table (vocab, C), transposed
            d = Matmul({r.x, weight(r.weight), r.z, rows, r.out, r.in, false, /*transpose_b=*/true},
                       layer.name + " forward: Z = X E^T (tied to the embedding)");
          else
            d = Matmul({r.x, weight(r.weight), r.z, rows, r.out, r.in}, layer.name + " forward: Z = X W");
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
      r.rows = rows;
      r.y = Tensor(layer.name + " output", uint64_t(rows) * features, Category::kActivation, act_bytes);
      add_forward(role, [&] {
        kernels::BiasActivationArgs a{r.z, TensorRef{}, r.y, rows, features, r.activation, r.leaky_slope};
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
      r.y = Tensor(layer.name + " output", r.pool.output_count(), Category::kActivation, act_bytes);
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
      r.rows = rows;
      r.out = features;
      r.rate = layer.rate;
      r.dropout_seed = o.seed * 2654435761u + static_cast<uint32_t>(i);
      r.y = Tensor(layer.name + " output", uint64_t(rows) * features, Category::kActivation, act_bytes);
      // Training drops; evaluation keeps everything (p = 0 is a copy into the same output).
      Add(forward, forward_roles, role, [&] {
        kernels::DropoutArgs a{r.x, r.y, rows * features, r.rate, r.dropout_seed, 0, step_params};
        vk::Dispatch d = kernels::DropoutDispatch(pipelines, a);
        d.label = layer.name + " forward";
        return d;
      });
      Add(eval_forward, eval_forward_roles, role, [&] {
        kernels::DropoutArgs a{r.x, r.y, rows * features, 0.0f, r.dropout_seed, 0, TensorRef{}};
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
      r.y = Tensor(layer.name + " output", uint64_t(r.rows) * r.out, Category::kActivation, act_bytes);
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
  TensorRef row_loss = Tensor("row losses", rows, Category::kActivation);
  TensorRef row_correct = Tensor("row correct", rows, Category::kActivation);
  TensorRef grad_logits = Tensor("loss gradient", uint64_t(rows) * outputs, Category::kActivationGradient, act_bytes);
  TensorRef result{plan.result_buffer_.get(), 0, 4, plan.result_stride_bytes_};
  TensorRef probabilities{plan.probabilities_buffer_.get(), 0, uint64_t(rows) * outputs, plan.probabilities_stride_bytes_};
  const std::string& loss_name = model.layers[loss_layer].name;

  auto add_metrics = [&](std::vector<vk::Dispatch>& list, std::vector<DispatchRole>& roles) {
    Add(list, roles, {-1, Pass::kMetrics}, [&] {
      vk::Dispatch d = kernels::MetricsDispatch(pipelines, {row_loss, row_correct, step_params, result, rows});
      d.label = "metrics";
      return d;
    });
  };
  auto add_loss_and_metrics = [&](std::vector<vk::Dispatch>& list, std::vector<DispatchRole>& roles, bool training) {
    Add(list, roles, {static_cast<int>(loss_layer), Pass::kLoss}, [&] {
      kernels::LossArgs a{plan.loss_kind_, current, labels, row_loss, row_correct,
                          training ? grad_logits : TensorRef{}, training ? TensorRef{} : probabilities,
                          rows, outputs, 1.0f / float(rows), loss_scale};
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
        grad_z = Tensor(name + " input gradient", uint64_t(rows) * r.in, Category::kActivationGradient, act_bytes);
        add_backward(r, [&] {
          kernels::BiasActivationBackwardArgs a{grad, r.z, r.y, grad_z, TensorRef{}, rows, r.in, r.activation, r.leaky_slope};
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
          } else if (model.layers[r.layer].tied) {  // dE = dZ^T X, (vocab, C): the embedding adds its part after
            d = Matmul({grad_z, r.x, gradient(r.weight), r.out, r.in, rows, /*transpose_a=*/true, false},
                       name + " backward: dE = dZ^T X (the tied token table)");
          } else {
            d = Matmul({r.x, grad_z, gradient(r.weight), r.in, r.out, rows, /*transpose_a=*/true, false},
                       name + " backward: dW = X^T dZ");
          }
          return d;
        });
        if (!r.x_is_network_input) {
          TensorRef grad_x = Tensor(name + " input gradient", r.x.count, Category::kActivationGradient, act_bytes);
          add_backward(r, [&] {
            vk::Dispatch d;
            if (conv) {
              d = kernels::Conv2DBackwardDataDispatch(pipelines, {grad_z, weight(r.weight), grad_x, r.conv});
              d.label = name + " backward: dX = conv^T(dZ, W)";
              RecordOnlyConvKernel(d.label, d.kernel, r.conv);
            } else {
              d = Matmul({grad_z, weight(r.weight), grad_x, rows, r.in, r.out, false,
                          /*transpose_b=*/!model.layers[r.layer].tied},
                         name + (model.layers[r.layer].tied ? " backward: dX = dZ E" : " backward: dX = dZ W^T"));
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
      case LayerKind::kEmbedding:
      case LayerKind::kLayerNorm:
      case LayerKind::kTransformerBlock:
        grad = SequenceBackward(lists, r.layer, grad);
        break;
      default:
        break;
    }
  }

  // fp16: did a gradient overflow? (The clip and the update read the answer.)
  if (fp16)
    Add(plan.train_step_, plan.train_roles_, {-1, Pass::kUpdate}, [&] {
      return kernels::LossScaleCheckDispatch(pipelines, kernels::WholeBuffer(*plan.gradient_buffer_), loss_scale, total);
    });
  // Clipping by global norm: the norm lands in the step's slot of the norm buffer.
  // In fp16 after the overflow check, as torch clips after GradScaler.unscale_.
  if (o.grad_clip > 0) {
    TensorRef workspace = Tensor("gradient-norm partial sums", kernels::GradClipWorkspaceCount(info, total),
                                 Category::kActivationGradient);
    AddAll(plan.train_step_, plan.train_roles_, {-1, Pass::kUpdate}, [&] {
      kernels::GradClipArgs a{kernels::WholeBuffer(*plan.gradient_buffer_), workspace,
                              TensorRef{plan.grad_norm_buffer_.get(), 0, 1, plan.grad_norm_stride_bytes_}, total,
                              o.grad_clip, loss_scale};
      std::vector<vk::Dispatch> dispatches = kernels::GradClipDispatches(pipelines, a);
      for (vk::Dispatch& d : dispatches) d.label = "update: clip gradients to norm " + NumberText(o.grad_clip);
      return dispatches;
    });
  }

  // The update, over [first, end) of the parameter buffers. Without weight
  // decay on biases and norm scales, the plan laid out the decayed tensors
  // first (decay_end_), and two dispatches cover the two ranges.
  auto add_update = [&](uint64_t first, uint64_t end, float weight_decay, const std::string& what) {
    Add(plan.train_step_, plan.train_roles_, {-1, Pass::kUpdate}, [&] {
      auto range = [&](const vk::Buffer& buffer) { return TensorRef{&buffer, first * 4, end - first}; };
      kernels::OptimizerHyper hyper = o.hyper;
      hyper.weight_decay = weight_decay;
      kernels::OptimizerArgs a{o.optimizer, range(*plan.parameter_buffer_), range(*plan.gradient_buffer_),
                               state_count > 0 ? range(*plan.state_buffers_[0]) : TensorRef{},
                               state_count > 1 ? range(*plan.state_buffers_[1]) : TensorRef{},
                               step_params, static_cast<uint32_t>(end - first), hyper};
      a.loss_scale = loss_scale;
      if (fp16) a.params_half = {plan.half_parameter_buffer_.get(), first * 2, end - first, 0, 2};
      vk::Dispatch d = kernels::OptimizerDispatch(pipelines, a);
      d.label = std::string("update: ") + kernels::OptimizerName(o.optimizer) + " over " + what +
                (fp16 ? " (unscaled, and their fp16 copy; skipped if a gradient overflowed)" : "");
      return d;
    });
  };
  if (plan.decay_end_ < total) {
    add_update(0, plan.decay_end_, o.hyper.weight_decay, "weights and embeddings (with weight decay)");
    add_update(plan.decay_end_, total, 0.0f, "biases and norm scales (no weight decay)");
  } else {
    add_update(0, total, o.hyper.weight_decay, "all parameters");
  }
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

}  // namespace ts::nn
