#version 450
// One optimizer step over every parameter (one contiguous buffer), with
// PyTorch's update rules (torch.optim.SGD, Adam, AdamW; see
// compute/kernels/optimizer.h). The learning rate and Adam's bias corrections
// come from the step's StepParams, so a recorded step replays with any schedule.
#include "optimizer.h"
#include "step_params.h"

layout(local_size_x_id = 0) in;  // workgroup size: specialization constant 0
layout(constant_id = 1) const uint kOptimizer = OPTIMIZER_SGD;
// A uint, not a bool: bool specialization constants are OpSpecConstantTrue/False, which
// the pipeline reflection does not list, so their values would be dropped.
layout(constant_id = 2) const uint kNesterov = 0u;

layout(std430, binding = 0) buffer Params { float params[]; };            // (count)
layout(std430, binding = 1) readonly buffer Grads { float grads[]; };     // (count)
layout(std430, binding = 2) buffer State1 { float state1[]; };            // (count): momentum buffer or Adam m
layout(std430, binding = 3) buffer State2 { float state2[]; };            // (count): Adam v
layout(std430, binding = 4) readonly buffer Step { StepParams step; };
layout(push_constant) uniform Push { OptimizerParams p; };

void main() {
  float lr = step.learning_rate;
  uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  for (uint i = gl_GlobalInvocationID.x; i < p.count; i += stride) {
    float param = params[i];
    float g = grads[i];
    if (kOptimizer == OPTIMIZER_ADAMW) {
      param *= 1.0 - lr * p.weight_decay;  // decoupled weight decay, before the Adam update
    } else if (p.weight_decay != 0.0) {
      g += p.weight_decay * param;         // L2 penalty folded into the gradient
    }

    if (kOptimizer == OPTIMIZER_SGD) {
      param -= lr * g;
    } else if (kOptimizer == OPTIMIZER_MOMENTUM) {
      // buf starts at 0, so the first step gives buf = g, as PyTorch's clone.
      float buf = p.momentum * state1[i] + g;
      state1[i] = buf;
      param -= lr * (kNesterov != 0u ? g + p.momentum * buf : buf);
    } else {  // Adam, AdamW
      float m = p.beta1 * state1[i] + (1.0 - p.beta1) * g;
      float v = p.beta2 * state2[i] + (1.0 - p.beta2) * g * g;
      state1[i] = m;
      state2[i] = v;
      float denominator = sqrt(v) / sqrt(step.bias_correction2) + p.epsilon;
      param -= (lr / step.bias_correction1) * (m / denominator);
    }
    params[i] = param;
  }
}
