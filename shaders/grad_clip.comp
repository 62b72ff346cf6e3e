#version 450
// Clipping by global norm, as torch.nn.utils.clip_grad_norm_ (see
// compute/kernels/grad_clip.h), in two dispatches of this shader (the pass is
// specialization constant 1; the workgroup size, constant 0, is the same in
// both):
//   GRAD_CLIP_PASS_PARTIAL_SUMS: workgroup w sums g^2 over its grid-stride
//     share of the elements into partials[w];
//   GRAD_CLIP_PASS_SCALE: every workgroup sums all the partials, the same way
//     (so all agree on the norm to the bit), scales its share of g by
//     min(1, max_norm / (norm + 1e-6)), and invocation 0 of workgroup 0 writes
//     the norm.
// Every sum is taken in a fixed order in shared memory (never subgroup
// operations), so the norm is the same at any subgroup size and on every run.
// Mixed precision (kLossScaled): the gradients are the loss-scaled ones, so
// the norm is divided by the scaler's scale (torch's unscale_ before
// clip_grad_norm_), and a step whose gradients overflowed is left alone: the
// update skips it.
#include "grad_clip.h"
#include "mixed_precision.h"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint kPass = GRAD_CLIP_PASS_PARTIAL_SUMS;
layout(constant_id = 2) const bool kLossScaled = false;

layout(std430, binding = 0) buffer Grads { float grads[]; };          // (count)
layout(std430, binding = 1) buffer Partials { float partials[]; };    // (partials)
layout(std430, binding = 2) writeonly buffer NormOut { float norm_out[]; };  // (1)
layout(std430, binding = 3) readonly buffer Scaler { LossScaleState scaler; };  // kLossScaled only
layout(push_constant) uniform Push { GradClipParams p; };

shared float lane_sums[gl_WorkGroupSize.x];

// The sum of `value` over the workgroup, returned to every invocation: a fixed
// tree. Call from uniform control flow.
float WorkgroupSum(float value) {
  const uint lane = gl_LocalInvocationID.x;
  lane_sums[lane] = value;
  barrier();
  for (uint half_ = gl_WorkGroupSize.x / 2u; half_ > 0u; half_ /= 2u) {
    if (lane < half_) lane_sums[lane] += lane_sums[lane + half_];
    barrier();
  }
  return lane_sums[0];
}

void main() {
  const uint lane = gl_LocalInvocationID.x;
  const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  if (kPass == GRAD_CLIP_PASS_PARTIAL_SUMS) {
    // Squares are never negative, so nothing cancels; the compensation keeps
    // long grid-stride loops (huge counts) accurate.
    precise float sum = 0.0, compensation = 0.0;
    for (uint i = gl_GlobalInvocationID.x; i < p.count; i += stride) {
      float g = grads[i];
      precise float term = g * g - compensation;
      precise float next = sum + term;
      compensation = (next - sum) - term;
      sum = next;
    }
    float total = WorkgroupSum(sum - compensation);
    if (lane == 0u) partials[gl_WorkGroupID.x] = total;
  } else {
    float sum = 0.0;
    for (uint i = lane; i < p.partials; i += gl_WorkGroupSize.x) sum += partials[i];
    float norm = sqrt(WorkgroupSum(sum));
    if (kLossScaled) norm /= scaler.scale;
    if (gl_GlobalInvocationID.x == 0u) norm_out[0] = norm;
    if (kLossScaled && scaler.found_inf != 0u) return;  // skipped by the update; keep its Infs for all to see
    const float scale = min(1.0, p.max_norm / (norm + 1e-6));
    // Multiplying by 1 changes nothing: skip the stores when not clipping.
    if (scale < 1.0)
      for (uint i = gl_GlobalInvocationID.x; i < p.count; i += stride) grads[i] *= scale;
  }
}
