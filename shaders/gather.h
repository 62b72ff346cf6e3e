// Push constants of gather.comp (shared by GLSL and C++).
#ifndef TENSORSCOPE_SHADERS_GATHER_H
#define TENSORSCOPE_SHADERS_GATHER_H
#include "shared_types.h"
TS_SHADER_NAMESPACE_BEGIN

struct GatherParams {
  uint rows;               // batch rows
  uint feature_size;       // features per sample
  uint permutation_count;  // entries in the epoch's permutation
  float scale;             // normalised = raw * scale + offset
  float offset;
};
TS_CHECK_PUSH_LAYOUT(GatherParams, 5)

TS_SHADER_NAMESPACE_END
#endif
