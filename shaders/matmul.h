// Push constants of matmul.comp (shared by GLSL and C++).
#ifndef TENSORSCOPE_SHADERS_MATMUL_H
#define TENSORSCOPE_SHADERS_MATMUL_H
#include "shared_types.h"
TS_SHADER_NAMESPACE_BEGIN

struct MatmulParams {
  uint m;            // rows of op(A) and of C
  uint n;            // columns of op(B) and of C
  uint k;            // columns of op(A) = rows of op(B)
};
TS_CHECK_PUSH_LAYOUT(MatmulParams, 3)

TS_SHADER_NAMESPACE_END
#endif
