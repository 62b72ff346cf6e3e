// optimizer.comp: one fused update over every parameter of the model (they
// share one contiguous buffer), with exactly PyTorch's update rules:
//   kSgd:      g = grad + wd*p;  p -= lr*g
//   kMomentum: g = grad + wd*p;  buf = mu*buf + g;  p -= lr*(nesterov ? g + mu*buf : buf)
//   kAdam:     g = grad + wd*p;  m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g^2;
//              p -= (lr/bc1) * m / (sqrt(v)/sqrt(bc2) + eps)
//   kAdamW:    p *= 1 - lr*wd;   then Adam with wd = 0
// lr, bc1 = 1-b1^t and bc2 = 1-b2^t come from the step's StepParams, so a
// recorded step replays with any schedule.
#pragma once

#include <cstdint>

#include "compute/kernels/tensor_ref.h"

namespace ts::kernels {

enum class OptimizerKind : uint32_t { kSgd = 0, kMomentum = 1, kAdam = 2, kAdamW = 3 };

const char* OptimizerName(OptimizerKind kind);  // "sgd", "momentum", "adam", "adamw"
// Number of per-parameter state tensors: 0 (sgd), 1 (momentum), 2 (adam, adamw).
uint32_t OptimizerStateCount(OptimizerKind kind);

struct OptimizerHyper {
  float momentum = 0.9f;
  bool nesterov = false;
  float beta1 = 0.9f, beta2 = 0.999f, epsilon = 1e-8f;
  float weight_decay = 0.0f;
};

struct OptimizerArgs {
  OptimizerKind kind = OptimizerKind::kSgd;
  TensorRef params;       // (count) read-write
  TensorRef grads;        // (count) read
  TensorRef state1;       // (count) read-write: momentum buffer or Adam m; empty for sgd
  TensorRef state2;       // (count) read-write: Adam v; empty otherwise
  TensorRef step_params;  // one StepParams read
  uint32_t count = 0;
  OptimizerHyper hyper;
  // How the vec4 shader reads params, grads and state: kAuto reads through
  // texel buffers on software devices (measured faster on lavapipe) and storage
  // buffers elsewhere; kTexel needs every view to pass TexelViewFits.
  enum class Reads { kAuto, kStorage, kTexel } reads = Reads::kAuto;
  // Mixed precision: the loss scaler's LossScaleState (shaders/mixed_precision.h).
  // Set, the update (optimizer_amp.comp) skips the step when the scaler found
  // an Inf or NaN, unscales the gradients otherwise, and counts only the steps
  // taken in Adam's bias corrections. Needs count % 4 == 0 and 16-byte aligned views.
  TensorRef loss_scale;
  // With loss_scale: the fp16 copy of params (count fp16 values, 8-byte
  // aligned) that each updated parameter is also written to.
  TensorRef params_half;
};
// Shader: optimizer.comp, optimizer_vec4.comp (count % 4 == 0, 16-byte
// aligned views) or optimizer_vec4_texel.comp (also texel reads).
vk::Dispatch OptimizerDispatch(vk::PipelineCache& pipelines, const OptimizerArgs& args);

}  // namespace ts::kernels
