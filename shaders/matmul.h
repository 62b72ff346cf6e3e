// Push constants of matmul.comp (shared by GLSL and C++).
#ifndef TENSORSCOPE_SHADERS_MATMUL_H
#define TENSORSCOPE_SHADERS_MATMUL_H
#include "shared_types.h"
TS_SHADER_NAMESPACE_BEGIN

struct MatmulParams {
  uint m;            // rows of op(A) and of C
  uint n;            // columns of op(B) and of C
  uint k;            // columns of op(A) = rows of op(B)
  uint transpose_a;  // 1: A is stored K x M (op(A) = A^T); 0: M x K
  uint transpose_b;  // 1: B is stored N x K (op(B) = B^T); 0: K x N
  // Register-blocked only, 1: A (B) may be read as vec4s along its contiguous
  // dimension (the binding is 16-byte aligned, that dimension is a multiple of
  // 4 and so is RM (RN) when it runs along M (N)). 0: scalar loads.
  uint vec4_a;
  uint vec4_b;
  uint accumulate;  // 1: C += op(A) op(B); 0: C = op(A) op(B) (C is never read)
};
TS_CHECK_PUSH_LAYOUT(MatmulParams, 8)

TS_SHADER_NAMESPACE_END
#endif
