// Push constants of batchnorm_<phase>{,_vec4}.comp and
// batchnorm_back_<phase>{,_vec4}.comp (shared by GLSL and C++), and the
// compensated sum the kernels reduce with (GLSL only). The _vec4 variants,
// for C % 4 == 0, move four channels per load: on lavapipe, neighbouring vec4
// loads are about 2.5x faster than floats.
#ifndef TENSORSCOPE_SHADERS_BATCHNORM_H
#define TENSORSCOPE_SHADERS_BATCHNORM_H
#include "shared_types.h"
TS_SHADER_NAMESPACE_BEGIN

// The phases, one shader build each (BN_PHASE). Training reduces each channel
// over all rows: in one workgroup per channel block (FUSED), or, for many
// rows, split into row blocks whose partial results go through a workspace
// (STATISTICS then NORMALIZE forward; SUMS then APPLY backward), so that
// channels x row blocks workgroups share the work.
const uint BATCHNORM_PHASE_FUSED = 0u;       // forward or backward in one dispatch
const uint BATCHNORM_PHASE_STATISTICS = 1u;  // forward: each row block's mean and M2 -> workspace
const uint BATCHNORM_PHASE_NORMALIZE = 2u;   // forward: combine the blocks, normalise a row block
const uint BATCHNORM_PHASE_EVALUATION = 3u;  // forward with the running statistics
const uint BATCHNORM_PHASE_SUMS = 1u;        // backward: each row block's sums -> workspace
const uint BATCHNORM_PHASE_APPLY = 2u;       // backward: combine the sums, grad_x of a row block

struct BatchNormParams {
  uint rows;        // N*H*W: the values each channel's statistics are taken over
  uint channels;    // C
  float epsilon;    // added to the variance before the square root
  float momentum;   // running = (1 - momentum) * running + momentum * batch statistic
  uint row_blocks;  // training: row blocks (1 for FUSED); a block is ceil(rows / row_blocks) rows
};
TS_CHECK_PUSH_LAYOUT(BatchNormParams, 5)

struct BatchNormBackParams {
  uint rows;
  uint channels;
  uint row_blocks;  // as BatchNormParams::row_blocks
};
TS_CHECK_PUSH_LAYOUT(BatchNormBackParams, 3)

TS_SHADER_NAMESPACE_END

#ifndef __cplusplus
// Kahan summation: sum - compensation carries the running total to about
// twice float precision. `precise` keeps the compiler from simplifying the
// compensation term to 0. For one channel (float) or four (vec4).
void KahanAdd(inout float sum, inout float compensation, float value) {
  precise float term = value - compensation;
  precise float next = sum + term;
  precise float lost = (next - sum) - term;
  compensation = lost;
  sum = next;
}
void KahanAdd(inout vec4 sum, inout vec4 compensation, vec4 value) {
  precise vec4 term = value - compensation;
  precise vec4 next = sum + term;
  precise vec4 lost = (next - sum) - term;
  compensation = lost;
  sum = next;
}
#endif

#endif
