// dropout.comp: inverted dropout for training, as PyTorch's nn.Dropout(p):
//   out[i] = keep(i) ? in[i] / (1 - p) : 0,   P(keep) = 1 - p
// (at evaluation dropout is the identity: the caller skips the dispatch).
//
// keep(i) is a counter-based hash of (seed, step, i) (see shaders/dropout.h),
// so the mask is never stored: the backward pass is the same kernel applied to
// the gradient with the same seed and step, and DropoutKeeps reproduces the
// mask on the CPU. Change `step` (or bind StepParams) every training step, or
// every step drops the same elements.
#pragma once

#include <cstdint>

#include "compute/kernels/tensor_ref.h"

namespace ts::kernels {

struct DropoutArgs {
  TensorRef input;   // (count) read: X forward; dL/dY backward
  TensorRef output;  // (count) write: Y forward; dL/dX backward. Must not overlap input.
  uint32_t count = 0;
  float drop_probability = 0.5f;  // PyTorch's p, in [0, 1]; p = 1 drops everything
  uint32_t seed = 0;
  uint32_t step = 0;      // the step counter; with step_params bound, added to its adam_step
  TensorRef step_params;  // optional, one StepParams read: lets a recorded command buffer
                          // replay with a new mask each step (see shaders/step_params.h)
};
vk::Dispatch DropoutDispatch(vk::PipelineCache& pipelines, const DropoutArgs& args);
// The backward pass: the same mask and scale applied to dL/dY (input) to give
// dL/dX (output). Pass the forward's seed, step and step_params.
vk::Dispatch DropoutBackwardDispatch(vk::PipelineCache& pipelines, const DropoutArgs& args);

// The 24-bit threshold the kernel compares against: round(p * 2^24), so the
// drop probability is p to within 3e-8.
uint32_t DropoutThreshold(float drop_probability);
// The factor kept elements are multiplied by: float(1 / (1 - p)), or 0 for p = 1.
float DropoutScale(float drop_probability);
// Whether the kernel keeps element `index` at (seed, step), where step is the
// effective counter (args.step plus StepParams::adam_step when bound).
bool DropoutKeeps(uint32_t seed, uint32_t step, uint32_t index, float drop_probability);

}  // namespace ts::kernels
