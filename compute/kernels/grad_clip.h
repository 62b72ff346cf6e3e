// grad_clip.comp: clipping by global norm, as torch.nn.utils.clip_grad_norm_:
//   norm = sqrt(sum_i g[i]^2);  g *= min(1, max_norm / (norm + 1e-6))
// Two dispatches over the gradient buffer, no host wait: per-workgroup partial
// sums of squares into `workspace`, then every workgroup sums the partials
// (in the same order, so all agree), scales its elements, and the first
// invocation writes the norm (before clipping) to `norm_out`.
#pragma once

#include <cstdint>
#include <vector>

#include "compute/kernels/tensor_ref.h"
#include "compute/vk/device_info.h"

namespace ts::kernels {

struct GradClipArgs {
  TensorRef grads;      // (count) read-write
  TensorRef workspace;  // (GradClipWorkspaceCount(info, count)) scratch
  TensorRef norm_out;   // (1) write: the total norm before clipping; may be in a step's result slot
  uint64_t count = 0;
  float max_norm = 1.0f;  // > 0
  // Mixed precision: the loss scaler's state (gpu::LossScaleState, read), and
  // `grads` are the loss-scaled gradients. The norm (and norm_out) is then of
  // the unscaled gradients, the clip factor scales the scaled ones, and a step
  // whose gradients overflowed (found_inf, set by LossScaleCheckDispatch,
  // which must run first) is left unclipped: the update skips it. Empty: fp32.
  TensorRef loss_scale;
};
uint64_t GradClipWorkspaceCount(const vk::DeviceInfo& info, uint64_t count);
std::vector<vk::Dispatch> GradClipDispatches(vk::PipelineCache& pipelines, const GradClipArgs& args);

}  // namespace ts::kernels
