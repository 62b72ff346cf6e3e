// Push constants of the Kernel Lab's kernels (shaders/lab_*.comp), shared by
// GLSL and C++ (compute/lab/).
#ifndef TENSORSCOPE_SHADERS_LAB_H
#define TENSORSCOPE_SHADERS_LAB_H
#include "shared_types.h"
TS_SHADER_NAMESPACE_BEGIN

// lab_matmul.comp: C (m x n) = A (m x k) B (k x n), row-major.
struct LabMatmulParams {
  uint m;
  uint n;
  uint k;
};
TS_CHECK_PUSH_LAYOUT(LabMatmulParams, 3)

// lab_reduction.comp: sums `count` floats of the input into partial sums or one total.
struct LabReductionParams {
  uint count;  // elements to sum
};
TS_CHECK_PUSH_LAYOUT(LabReductionParams, 1)

// lab_grid.comp: one element per invocation of a width x height grid.
struct LabGridParams {
  uint width;
  uint height;
};
TS_CHECK_PUSH_LAYOUT(LabGridParams, 2)

// lab_memory.comp: copy / strided read / matrix traversal of `count` floats.
struct LabMemoryParams {
  uint count;   // elements written (one per invocation)
  uint stride;  // strided read: element i reads in[(i * stride) % count]
  uint rows;    // traversal: the matrix's rows and columns (rows * cols = count)
  uint cols;
};
TS_CHECK_PUSH_LAYOUT(LabMemoryParams, 4)

// lab_divergence.comp: `count` invocations, each taking one of two branches.
struct LabDivergenceParams {
  uint count;
  uint branch_percent;  // of invocations (or subgroups) that take the long branch
  uint iterations;      // work in each branch
  uint pattern;         // 0: alternating lanes, 1: alternating subgroups, 2: contiguous blocks
};
TS_CHECK_PUSH_LAYOUT(LabDivergenceParams, 4)

// lab_cpu_gpu.comp: z = a * x + y over `count` floats.
struct LabSaxpyParams {
  uint count;
  float a;
};
TS_CHECK_PUSH_LAYOUT(LabSaxpyParams, 2)

TS_SHADER_NAMESPACE_END
#endif
