#version 450
// Inverted dropout (as PyTorch's, in training): out[i] = keep(i) ? in[i] / (1 - p) : 0.
// The same kernel is the backward pass (grad_in = grad_out * mask / (1 - p)):
// the mask is recomputed from (seed, step, i), never stored, so the forward
// and backward of one step agree as long as they see the same seed and step.
// With read_step_params set, the step counter comes from the bound
// StepParams, so a command buffer recorded once draws a new mask every step.
#include "dropout.h"
#include "step_params.h"

layout(local_size_x_id = 0) in;  // workgroup size: specialization constant 0

layout(std430, binding = 0) readonly buffer In { float in_[]; };       // (count)
layout(std430, binding = 1) writeonly buffer Out { float out_[]; };    // (count)
// A runtime array, so a 4-byte placeholder is a valid binding when unused.
layout(std430, binding = 2) readonly buffer Step { StepParams step_params[]; };
layout(push_constant) uniform Push { DropoutParams p; };

void main() {
  uint step = p.step + (p.read_step_params != 0u ? step_params[0].adam_step : 0u);
  uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  for (uint i = gl_GlobalInvocationID.x; i < p.count; i += stride) {
    float value = in_[i];
    out_[i] = DropoutKeeps(p.seed, step, i, p.drop_threshold) ? value * p.scale : 0.0;
  }
}
