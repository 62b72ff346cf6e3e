// Push constants of copy.comp (shared by GLSL and C++).
#ifndef TENSORSCOPE_SHADERS_COPY_H
#define TENSORSCOPE_SHADERS_COPY_H
#include "shared_types.h"
TS_SHADER_NAMESPACE_BEGIN

struct CopyParams {
  uint vec4_count;  // number of vec4 elements to copy
};
TS_CHECK_PUSH_LAYOUT(CopyParams, 1)

TS_SHADER_NAMESPACE_END
#endif
