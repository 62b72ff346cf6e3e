// Per-step values the host writes before each submission, one StepParams per
// step slot (see vk::Sequence slots). Kernels that need them bind the slot's
// StepParams as a storage buffer, so a command buffer recorded once can replay
// any step: only this small buffer changes between steps.
#ifndef TENSORSCOPE_SHADERS_STEP_PARAMS_H
#define TENSORSCOPE_SHADERS_STEP_PARAMS_H
#include "shared_types.h"
TS_SHADER_NAMESPACE_BEGIN

struct StepParams {
  uint batch_offset;        // index into the epoch's permutation of this batch's first sample
  uint valid_rows;          // rows of the batch that are real samples (the rest are padding)
  uint adam_step;           // optimizer step t, counted from 1
  float learning_rate;      // after the schedule
  float bias_correction1;   // Adam: 1 - beta1^t
  float bias_correction2;   // Adam: 1 - beta2^t
  uint reserved0;           // keeps the struct 32 bytes
  uint reserved1;
};
TS_CHECK_PUSH_LAYOUT(StepParams, 8)

TS_SHADER_NAMESPACE_END
#endif
