#version 450
// Inverted dropout (as PyTorch's, in training): out[i] = keep(i) ? in[i] / (1 - p) : 0.
// The same kernel is the backward pass (grad_in = grad_out * mask / (1 - p)):
// the mask is recomputed from (seed, step, i), never stored, so the forward
// and backward of one step agree as long as they see the same seed and step.
// With read_step_params set, the step counter comes from the bound
// StepParams, so a command buffer recorded once draws a new mask every step.
#include "dropout_impl.glsl"
