// Push constants of add.comp (shared by GLSL and C++).
#ifndef TENSORSCOPE_SHADERS_ADD_H
#define TENSORSCOPE_SHADERS_ADD_H
#include "shared_types.h"
TS_SHADER_NAMESPACE_BEGIN

struct AddParams {
  uint count;  // floats
};
TS_CHECK_PUSH_LAYOUT(AddParams, 1)

TS_SHADER_NAMESPACE_END
#endif
