// Shared by GLSL and C++: the fp16 cast's push constants and the dynamic loss
// scaler's state and push constants (mixed precision; see
// compute/kernels/mixed_precision.h).
#ifndef TENSORSCOPE_SHADERS_MIXED_PRECISION_H
#define TENSORSCOPE_SHADERS_MIXED_PRECISION_H
#include "shared_types.h"
TS_SHADER_NAMESPACE_BEGIN

struct CastParams {
  uint count;  // elements to convert
};
TS_CHECK_PUSH_LAYOUT(CastParams, 1)

// The loss scaler's state, in a small device buffer that the loss head (scale),
// the optimizer (found_inf, scale, skipped_steps) and the update read, so that
// no step waits for the host (as torch.cuda.amp.GradScaler keeps its scale on
// the device).
struct LossScaleState {
  float scale;           // the loss is multiplied by this before the backward pass
  uint growth_tracker;   // good steps in a row since the scale last changed
  uint found_inf;        // nonzero: this step's gradients hold an Inf or NaN
  uint skipped_steps;    // steps skipped since the state was reset
};
TS_CHECK_PUSH_LAYOUT(LossScaleState, 4)

struct LossScaleParams {
  uint count;             // check: gradient elements to scan
  float growth_factor;    // update: scale *= this after growth_interval good steps (2)
  float backoff_factor;   // update: scale *= this after a step with Inf or NaN (0.5)
  uint growth_interval;   // update: good steps before the scale grows (2000)
};
TS_CHECK_PUSH_LAYOUT(LossScaleParams, 4)

TS_SHADER_NAMESPACE_END
#endif
