// Plan: a model compiled for one device and one batch size. Tensors placed in
// device buffers, and the ordered dispatches of a training step and of an
// evaluation step, each with its declared cost. The CLI and the GUI run the
// same Plan the same way (see Trainer).
//
// Buffers:
//   parameters, gradients, optimizer state: one buffer each, every parameter
//     tensor at the same (aligned) offset in all of them, so one optimizer
//     dispatch updates the whole model.
//   running statistics (batch norm): one buffer, not touched by the optimizer.
//   activations and their gradients: one buffer per tensor (each stays under
//     maxStorageBufferRange on its own).
//   step parameters and results: host-visible, one slot per step recorded into
//     a submission (see vk::Sequence slots).
// The batch input and labels are written by a dataset's gather dispatch, which
// the Trainer puts in front of a step.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "compute/kernels/autotune.h"
#include "compute/kernels/kernel_problem.h"
#include "compute/kernels/matmul.h"
#include "compute/kernels/mixed_precision.h"
#include "compute/kernels/optimizer.h"
#include "compute/kernels/tensor_ref.h"
#include "compute/nn/model.h"
#include "compute/nn/precision.h"
#include "compute/vk/buffer.h"
#include "compute/vk/context.h"
#include "compute/vk/pipeline.h"
#include "compute/vk/sequence.h"
#include "shaders/step_params.h"

namespace ts::nn {

struct ParameterTensor {
  std::string name;              // e.g. "dense_1.weight"
  std::vector<uint32_t> shape;   // weight: {in, out} (row-major, Y = X W); bias: {out}
  uint64_t offset = 0;           // in floats, in the parameter / gradient / state buffers
  uint64_t count = 0;
  kernels::InitKind init = kernels::InitKind::kZeros;
  uint32_t fan_in = 1, fan_out = 1;
  size_t layer = 0;              // index into ModelDesc::layers
};

// GPU insight's "force variant": one kernel variant imposed on a plan's
// matrix multiplies and convolutions, so a learner can watch the step's dots
// move on the roofline. kNone: each kernel as the autotuner (matmul) or the
// kernel's own rule (conv2d) chooses. A variant a kernel does not have leaves
// that kernel as it was chosen, and says so (KernelChoice::not_applied):
//   matmul:             register-blocked, shared-tiled (no direct kernel)
//   conv2d forward:     register-blocked = its implicit GEMM, direct (no shared-tiled kernel)
//   conv2d backward:    one register-blocked implicit GEMM each
enum class ForcedVariant { kNone, kRegisterBlocked, kSharedTiled, kDirect };
inline constexpr ForcedVariant kForcedVariants[] = {ForcedVariant::kNone, ForcedVariant::kRegisterBlocked,
                                                    ForcedVariant::kSharedTiled, ForcedVariant::kDirect};
// "autotuned" (kNone), "register-blocked", "shared-tiled", "direct".
const char* ForcedVariantName(ForcedVariant variant);

// How a matmul or conv2d dispatch's kernel was chosen, for the UI to show why.
struct KernelChoice {
  // matmul: kernels::MatmulCandidate::name() of the kernel used; conv2d:
  // kernels::Conv2DVariantName() of it.
  std::string variant;
  enum class How { kDefault, kForced, kTuned } how = How::kDefault;
  // Tuned only: every candidate measured, (name, median GPU ns); rejected or
  // unmeasured candidates are left out.
  std::vector<std::pair<std::string, double>> alternatives_ns;
  // A forced variant this kernel does not have, and why it is not used
  // (e.g. "shared-tiled was forced: conv2d has no shared-tiled kernel"); "" otherwise.
  std::string not_applied;
};
const char* KernelChoiceHowName(KernelChoice::How how);  // "default", "forced", "autotuned"

enum class Pass { kData, kForward, kLoss, kBackward, kUpdate, kMetrics };
const char* PassName(Pass pass);  // "data", "forward", "loss", "backward", "update", "metrics"

// Which layer and pass a dispatch belongs to (parallel to a dispatch list).
struct DispatchRole {
  int layer = -1;  // index into ModelDesc::layers, -1 for none
  Pass pass = Pass::kForward;
};

// Device memory by category, in bytes.
struct MemoryUse {
  uint64_t parameters = 0, gradients = 0, optimizer_state = 0, statistics = 0, activations = 0,
           activation_gradients = 0, batch = 0, step_io = 0;
  uint64_t total() const {
    return parameters + gradients + optimizer_state + statistics + activations + activation_gradients + batch +
           step_io;
  }
};

struct PlanOptions {
  uint32_t batch = 64;
  uint32_t slots = 16;  // steps recorded into one submission
  kernels::OptimizerKind optimizer = kernels::OptimizerKind::kAdam;
  kernels::OptimizerHyper hyper;
  // Forces the matmul and conv2d kernels to this variant (matmul at the
  // variant's default tiling) where they have it; wins over autotune.
  ForcedVariant forced_variant = ForcedVariant::kNone;
  // Measure the matmul candidates for each shape the plan needs on the device
  // and use the fastest (kernels::TuneMatmul, cached per device on disk). Off:
  // DefaultMatmulVariant(device) at its default tiling.
  bool autotune = true;
  // Where TuneMatmul caches its results (empty: memory only).
  std::filesystem::path autotune_cache_file = kernels::DefaultAutotuneCacheFile();
  uint32_t seed = 1;    // dropout masks (with the step counter)
  // How activations are stored. kFp16 is mixed precision: activations, their
  // gradients and a copy of the weights in fp16 (half the bytes), every sum in
  // fp32, fp32 master weights, gradients and optimizer state, and dynamic loss
  // scaling (kernels/mixed_precision.h). It covers every layer but the
  // sequence model's (embedding, layer_norm, transformer_block); Compile
  // refuses those, naming them.
  Precision precision = Precision::kFp32;
  kernels::LossScaleOptions loss_scale;  // kFp16 only
  // > 0: clip the gradients to this global norm before each update
  // (torch.nn.utils.clip_grad_norm_); the norm before clipping is kept per
  // step (grad_norm_slot).
  float grad_clip = 0.0f;
  // false: weight decay only on tensors of 2 or more dimensions (weights,
  // embeddings), not on biases and norm scales, as nanoGPT groups AdamW's
  // parameters. true: on every parameter (PyTorch's default).
  bool decay_biases_and_norms = true;
};

class Plan {
 public:
  // Compiles `model` (validated by InferShapes) for `context`'s device. Throws
  // ts::Error if the plan would not fit in device memory, saying how much it
  // needs by category and how much the device has.
  static std::unique_ptr<Plan> Compile(vk::Context& context, vk::PipelineCache& pipelines, const ModelDesc& model,
                                       const PlanOptions& options);

  const ModelDesc& model() const { return model_; }
  const PlanOptions& options() const { return options_; }
  uint32_t batch() const { return options_.batch; }
  uint32_t input_features() const { return input_features_; }
  uint32_t output_features() const { return output_features_; }  // per row (per position in a sequence)
  // A sequence model's positions per sample T (ModelDesc TokensPerSample);
  // 1 otherwise. The loss, labels and probabilities have batch * T rows.
  uint32_t tokens_per_sample() const { return tokens_per_sample_; }
  kernels::LossKind loss_kind() const { return loss_kind_; }

  // Forward, loss (with gradient), backward, optimizer update, metrics.
  const std::vector<vk::Dispatch>& train_step() const { return train_step_; }
  const std::vector<DispatchRole>& train_roles() const { return train_roles_; }
  // Forward, loss (no gradient; probabilities into the slot), metrics.
  const std::vector<vk::Dispatch>& eval_step() const { return eval_step_; }
  const std::vector<DispatchRole>& eval_roles() const { return eval_roles_; }

  // What a dataset's gather dispatch writes and reads.
  kernels::TensorRef batch_input() const { return kernels::WholeBuffer(*input_); }   // (batch, input_features)
  kernels::TensorRef batch_labels() const { return kernels::WholeBuffer(*labels_); } // (batch) uint32
  kernels::TensorRef step_params() const;  // slot-strided StepParams

  // Host access to the per-slot step parameters and results (host-visible).
  gpu::StepParams& step_params_slot(uint32_t slot);
  // Metrics of `slot` after its step ran: {mean loss, correct, valid rows, non-finite flag}.
  std::array<float, 4> result_slot(uint32_t slot) const;
  // Mixed precision: the loss scale the step in `slot` used and whether it
  // was skipped (its gradients held an Inf or NaN); {1, false} in fp32.
  std::pair<float, bool> loss_scale_slot(uint32_t slot) const;
  // The loss scaler now (between submissions): {scale, steps skipped so far}.
  std::pair<float, uint32_t> loss_scale_state() const;
  // With PlanOptions::grad_clip: the gradients' global norm (before clipping)
  // of the step in `slot`; 0 without clipping.
  float grad_norm_slot(uint32_t slot) const;
  Precision precision() const { return options_.precision; }
  // Probabilities (batch x outputs) of `slot` after an evaluation step ran.
  std::vector<float> probabilities_slot(uint32_t slot) const;

  const std::vector<ParameterTensor>& parameters() const { return parameters_; }
  // State that is not trained but belongs to the model: batch norm's running
  // mean and variance ("bn_1.running_mean"), in their own buffer.
  const std::vector<ParameterTensor>& statistics() const { return statistics_; }
  std::vector<float> ReadStatistics() const;  // concatenated in statistics() order
  void WriteStatistics(const std::vector<float>& values);
  uint64_t parameter_count() const;  // without alignment padding
  // All parameter values, concatenated in parameters() order without padding.
  std::vector<float> ReadParameters() const;
  void WriteParameters(const std::vector<float>& values);  // (and their fp16 copy)
  // Optimizer state tensors (0, 1 or 2), each in the same order and form.
  std::vector<std::vector<float>> ReadOptimizerState() const;
  void WriteOptimizerState(const std::vector<std::vector<float>>& state);
  // Parameter gradients of the last step, in the same order and form.
  std::vector<float> ReadGradients() const;
  // The buffer the backward pass writes each parameter's gradient into (at the
  // tensor's offset) and the update reads: data parallelism all-reduces it.
  const vk::Buffer& gradient_buffer() const { return *gradient_buffer_; }
  // Runs the seeded initialisation kernels, resets the running statistics
  // and zeroes the optimizer state.
  void InitializeParameters(uint32_t seed);
  // What layer `layer` (index into ModelDesc::layers) output in the last
  // forward pass that ran: (batch, units) row-major. A dense layer gives its
  // output before a following activation, the activation layer after it.
  // Empty for layers without an output tensor of their own (input, flatten, loss).
  std::vector<float> ReadLayerOutput(size_t layer) const;
  // A transformer block's attention probabilities in the last forward pass:
  // (batch, heads, T, T) row-major. Only the plain path keeps them: empty for
  // a block on the fused path and for other layers.
  std::vector<float> ReadAttentionProbabilities(size_t layer) const;

  const MemoryUse& memory() const { return memory_; }

  // How the kernel of the matmul or conv2d dispatch labelled `label`
  // (vk::Dispatch::label, in train_step() or eval_step()) was chosen; nullptr
  // for other dispatches.
  const KernelChoice* kernel_choice(const std::string& label) const;
  // What the matmul, conv2d or pool dispatch labelled `label` computes, for
  // "try it" to run its kernel again on the same shapes; nullptr for others.
  const kernels::KernelProblem* problem(const std::string& label) const;

  struct PrivateTag {};  // construction goes through Compile()
  explicit Plan(PrivateTag) {}

 private:
  struct Builder;
  kernels::TensorRef ParameterRef(const vk::Buffer& buffer, const ParameterTensor& tensor) const;
  // fp16: refreshes the fp16 copy of the weights from the master weights.
  void CastParametersToHalf();

  vk::Context* context_ = nullptr;
  vk::PipelineCache* pipelines_ = nullptr;
  ModelDesc model_;
  PlanOptions options_;
  uint32_t input_features_ = 0, output_features_ = 0;
  kernels::LossKind loss_kind_ = kernels::LossKind::kSoftmaxCrossEntropy;
  uint64_t step_stride_bytes_ = 0, result_stride_bytes_ = 0, probabilities_stride_bytes_ = 0;

  std::vector<ParameterTensor> parameters_, statistics_;
  std::unique_ptr<vk::Buffer> parameter_buffer_, gradient_buffer_, statistics_buffer_;
  // fp16 only: the weights' fp16 copy (same element offsets) and the loss
  // scaler's state (host-visible: the host resets it and reads it).
  std::unique_ptr<vk::Buffer> half_parameter_buffer_, loss_scale_buffer_;
  uint64_t parameter_total_ = 0;  // elements of the parameter buffers, padding included
  uint64_t decay_end_ = 0;        // parameters [0, decay_end_) get weight decay (see PlanOptions)
  uint32_t tokens_per_sample_ = 1;
  std::unique_ptr<vk::Buffer> grad_norm_buffer_;  // grad_clip > 0: one float per slot
  uint64_t grad_norm_stride_bytes_ = 0;
  std::vector<std::unique_ptr<vk::Buffer>> state_buffers_;
  std::vector<std::unique_ptr<vk::Buffer>> tensors_;  // activations, their gradients, loss rows
  std::unique_ptr<vk::Buffer> input_, labels_;
  std::unique_ptr<vk::Buffer> step_buffer_, result_buffer_, probabilities_buffer_;

  std::vector<kernels::TensorRef> layer_outputs_;  // per ModelDesc layer; empty where it has none
  std::vector<kernels::TensorRef> attention_probabilities_;  // per ModelDesc layer; plain-path blocks only
  std::vector<vk::Dispatch> train_step_, eval_step_;
  std::vector<DispatchRole> train_roles_, eval_roles_;
  std::map<std::string, KernelChoice> kernel_choices_;  // by dispatch label
  std::map<std::string, kernels::KernelProblem> problems_;  // by dispatch label
  MemoryUse memory_;
};

}  // namespace ts::nn
