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
#include "compute/nn/plan_builder.h"
#include "compute/nn/tensor_table.h"

namespace ts::nn {
namespace {

using kernels::TensorRef;

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
    if (kind == LayerKind::kEmbedding || kind == LayerKind::kLayerNorm || kind == LayerKind::kTransformerBlock)
      return "fp16 precision covers dense, convolution, pooling, batch-norm, activation and dropout layers; layers[" +
             std::to_string(i) + "] '" + model.layers[i].name + "' (" + model.layers[i].TypeName() +
             ") has no fp16 kernels.";
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

float Plan::grad_norm_slot(uint32_t slot) const {
  if (!grad_norm_buffer_) return 0.0f;
  float norm = 0;
  std::memcpy(&norm, static_cast<const std::byte*>(grad_norm_buffer_->mapped()) + slot * grad_norm_stride_bytes_, 4);
  return norm;
}

std::vector<float> Plan::probabilities_slot(uint32_t slot) const {
  std::vector<float> values(size_t(batch()) * tokens_per_sample_ * output_features_);
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

std::vector<float> Plan::ReadAttentionProbabilities(size_t layer) const {
  Require(layer < attention_probabilities_.size(), "Layer index " + std::to_string(layer) + " is out of range.");
  const TensorRef& p = attention_probabilities_[layer];
  std::vector<float> values(p.count);
  if (!p.empty()) p.buffer->DownloadVector(std::span<float>(values), p.offset_bytes);
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
