// Push constants of dropout.comp and the keep/drop decision it makes, shared
// by GLSL and C++ so the host reproduces the device's mask bit for bit.
#ifndef TENSORSCOPE_SHADERS_DROPOUT_H
#define TENSORSCOPE_SHADERS_DROPOUT_H
#include "init.h"
#include "shared_types.h"
#ifdef __cplusplus
#define TS_DROPOUT_FUNCTION inline
#else
#define TS_DROPOUT_FUNCTION
#endif
TS_SHADER_NAMESPACE_BEGIN

struct DropoutParams {
  uint count;
  uint drop_threshold;   // an element is dropped when its 24 random bits are < this (p * 2^24)
  float scale;           // 1 / (1 - p), or 0 when p = 1
  uint seed;
  uint step;             // the step counter (plus StepParams::adam_step when read_step_params is 1)
  uint read_step_params; // 1: add the bound StepParams' adam_step to step
};
TS_CHECK_PUSH_LAYOUT(DropoutParams, 6)

// Mixed into the seed so a dropout mask and a parameter init drawn with the
// same seed are unrelated.
const uint DROPOUT_SEED_SALT = 0x9b05688cu;

// Whether element `index` is kept at (seed, step): the top 24 of 32 hashed
// bits (init.h's counter-based hash, with the step as its stream) against the
// threshold. A pure function of its arguments, so the backward pass and the
// CPU recompute the forward's mask instead of storing it.
TS_DROPOUT_FUNCTION bool DropoutKeeps(uint seed, uint step, uint index, uint drop_threshold) {
  return (InitRandomBits(seed ^ DROPOUT_SEED_SALT, step, index) >> 8u) >= drop_threshold;
}

TS_SHADER_NAMESPACE_END
#undef TS_DROPOUT_FUNCTION
#endif
