#version 450
// BatchNorm forward over a (rows, C) row-major matrix: an NHWC tensor with
// rows = N*H*W, or a Dense output with H = W = 1.
//
// Training, per channel c over all rows:
//   mean = sum(x) / rows,  var = sum((x - mean)^2) / rows  (biased, as PyTorch normalises)
//   inv_std = 1 / sqrt(var + eps)
//   y = (x - mean) * inv_std * gamma + beta
//   saved_mean = mean, saved_inv_std = inv_std          (for the backward pass)
//   running_mean = (1 - m) running_mean + m mean
//   running_var  = (1 - m) running_var  + m var * rows / (rows - 1)  (unbiased, as PyTorch)
// Evaluation: the same y with running_mean and 1 / sqrt(running_var + eps).
//
// A workgroup is X channel lanes (a channel each; four in batchnorm_vec4.comp)
// by Y row lanes (X, Y: specialization constants 0 and 1, Y a power of two);
// lane (x, y) walks rows y, y + Y, ... of channel x, so neighbouring
// invocations read neighbouring addresses. Channel blocks are grid-strided
// along x. Lane sums are compensated, and the Y lane sums of a column are
// added in shared memory. The statistics take two passes over x (mean, then
// centred squares), the output a third.
//
// Phases (specialization constant 2, BATCHNORM_PHASE_* in batchnorm.h):
//   FUSED:       one workgroup row reduces all rows of its channels, then normalises them.
//   STATISTICS:  workgroup (channels, b) writes row block b's mean and M2 to the workspace;
//   NORMALIZE:   workgroup (channels, b) combines every block's statistics, normalises
//                block b, and block 0 writes the saved and running statistics.
//   EVALUATION:  the rows are split across gl_NumWorkGroups.y.
// The body is shared with batchnorm_vec4.comp.
#define BN_VALUE float
#define BN_WIDTH 1u
#include "batchnorm_impl.glsl"
