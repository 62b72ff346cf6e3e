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
// A workgroup is X channel lanes (a channel each; four in the _vec4 builds)
// by Y row lanes (X, Y: specialization constants 0 and 1, Y a power of two);
// lane (x, y) walks rows y, y + Y, ... of channel x, so neighbouring
// invocations read neighbouring addresses. Channel blocks are grid-strided
// along x. Lane sums are compensated, and the Y lane sums of a column are
// added in shared memory. The statistics take two passes over x (mean, then
// centred squares), the output a third.
//
// Phases (BN_PHASE, one BATCHNORM_PHASE_* of batchnorm.h; a build per phase):
//   FUSED:       one workgroup row reduces all rows of its channels, then normalises them.
//   STATISTICS:  workgroup (channels, b) writes row block b's mean and M2 to the workspace;
//   NORMALIZE:   workgroup (channels, b) combines every block's statistics, normalises
//                block b, and block 0 writes the saved and running statistics.
//   EVALUATION:  the rows are split across gl_NumWorkGroups.y.
//
// Each phase is its own build (batchnorm_<phase>[_vec4].comp; BN_VALUE float
// moves one channel per lane, vec4 four), not a specialization constant: the
// compiler then drops the other phases' loads and stores, so the SPIR-V
// reads and writes only what the phase does, which is what Sequence and
// synchronization validation take a dispatch to access. Per-channel arrays
// are read as BN_VALUE too, so "channel" below means a lane's group of
// BN_WIDTH channels. BN_STORED is how x and y are stored: BN_VALUE, or in the
// _f16 builds (mixed precision) float16_t / f16vec4, converted on load and
// store; everything else, the statistics included, stays fp32.
#include "batchnorm.h"

#ifndef BN_STORED
#define BN_STORED BN_VALUE
#endif

layout(local_size_x_id = 0, local_size_y_id = 1) in;
const uint kPhase = BN_PHASE;

layout(std430, binding = 0) readonly buffer X { BN_STORED x_[]; };                       // (rows, C)
layout(std430, binding = 1) readonly buffer Gamma { BN_VALUE gamma[]; };                 // (C)
layout(std430, binding = 2) readonly buffer Beta { BN_VALUE beta[]; };                   // (C)
layout(std430, binding = 3) buffer RunningMean { BN_VALUE running_mean[]; };             // (C)
layout(std430, binding = 4) buffer RunningVar { BN_VALUE running_var[]; };               // (C)
layout(std430, binding = 5) writeonly buffer SavedMean { BN_VALUE saved_mean[]; };       // (C)
layout(std430, binding = 6) writeonly buffer SavedInvStd { BN_VALUE saved_inv_std[]; }; // (C)
layout(std430, binding = 7) writeonly buffer Y { BN_STORED y_[]; };                      // (rows, C)
// Per row block: the block's mean (row_blocks, C), then its sum of squared
// deviations (row_blocks, C).
layout(std430, binding = 8) buffer Workspace { BN_VALUE partials[]; };
layout(push_constant) uniform Push { BatchNormParams p; };

#include "batchnorm_reduce.glsl"

// Mean and sum of squared deviations (M2) of rows [begin, end) of channel c,
// in two passes (a one-pass sum of squares loses the variance to cancellation
// when |mean| >> std); the sum of deviations, zero in exact arithmetic,
// corrects the mean's rounding. Compensated lane sums.
void BlockStatistics(uint c, bool in_range, uint begin, uint end, out BN_VALUE mean, out BN_VALUE m2) {
  const uint C = p.channels / BN_WIDTH, Y = gl_WorkGroupSize.y;
  float count = float(max(end - begin, 1u));
  BN_VALUE sum = BN_VALUE(0.0), sum_c = BN_VALUE(0.0);
  if (in_range)
    for (uint r = begin + gl_LocalInvocationID.y; r < end; r += Y) KahanAdd(sum, sum_c, BN_VALUE(x_[r * C + c]));
  BN_VALUE total = sum - sum_c, unused = BN_VALUE(0.0);
  ColumnTotals(total, unused);
  mean = total / count;

  BN_VALUE dev = BN_VALUE(0.0), dev_c = BN_VALUE(0.0), square = BN_VALUE(0.0), square_c = BN_VALUE(0.0);
  if (in_range) {
    for (uint r = begin + gl_LocalInvocationID.y; r < end; r += Y) {
      BN_VALUE d = BN_VALUE(x_[r * C + c]) - mean;
      KahanAdd(dev, dev_c, d);
      KahanAdd(square, square_c, d * d);
    }
  }
  BN_VALUE deviations = dev - dev_c;
  m2 = square - square_c;
  ColumnTotals(deviations, m2);
  m2 = max(m2 - deviations * deviations / count, 0.0);
}

void main() {
  const uint X = gl_WorkGroupSize.x, Y = gl_WorkGroupSize.y;
  uint x = gl_LocalInvocationID.x, y = gl_LocalInvocationID.y;
  uint C = p.channels / BN_WIDTH;  // lanes' channel groups per row
  float rows = float(p.rows);
  uint b = gl_WorkGroupID.y;       // the row block (not in evaluation)
  uvec2 block = BlockRows(b);
  for (uint first_channel = gl_WorkGroupID.x * X; first_channel < C; first_channel += gl_NumWorkGroups.x * X) {
    uint c = first_channel + x;
    bool in_range = c < C;  // lanes past the last channel still join the barriers

    if (kPhase == BATCHNORM_PHASE_STATISTICS) {
      BN_VALUE mean, m2;
      BlockStatistics(c, in_range, block.x, block.y, mean, m2);
      if (in_range && y == 0u) {
        partials[b * C + c] = mean;
        partials[(p.row_blocks + b) * C + c] = m2;
      }
      continue;
    }

    BN_VALUE mean = BN_VALUE(0.0), inv_std = BN_VALUE(0.0);
    if (kPhase == BATCHNORM_PHASE_EVALUATION) {
      if (in_range) {
        mean = running_mean[c];
        inv_std = inversesqrt(running_var[c] + p.epsilon);
      }
    } else {
      BN_VALUE m2;
      if (kPhase == BATCHNORM_PHASE_FUSED) {
        BlockStatistics(c, in_range, 0u, p.rows, mean, m2);
      } else {
        // Combine the row blocks' statistics (Chan et al.): the mean of the
        // block means weighted by their row counts, then
        // M2 = sum over blocks of M2_b + n_b (mean_b - mean)^2.
        BN_VALUE weighted = BN_VALUE(0.0), unused = BN_VALUE(0.0);
        if (in_range)
          for (uint k = y; k < p.row_blocks; k += Y) {
            uvec2 rows_k = BlockRows(k);
            weighted += float(rows_k.y - rows_k.x) * partials[k * C + c];
          }
        ColumnTotals(weighted, unused);
        mean = weighted / rows;
        m2 = BN_VALUE(0.0);
        if (in_range)
          for (uint k = y; k < p.row_blocks; k += Y) {
            uvec2 rows_k = BlockRows(k);
            BN_VALUE d = partials[k * C + c] - mean;
            m2 += partials[(p.row_blocks + k) * C + c] + float(rows_k.y - rows_k.x) * d * d;
          }
        ColumnTotals(m2, unused);
      }
      BN_VALUE variance = m2 / rows;
      inv_std = inversesqrt(variance + p.epsilon);
      if (in_range && y == 0u && b == 0u) {
        saved_mean[c] = mean;
        saved_inv_std[c] = inv_std;
        BN_VALUE unbiased = m2 / (rows - 1.0);
        running_mean[c] = (1.0 - p.momentum) * running_mean[c] + p.momentum * mean;
        running_var[c] = (1.0 - p.momentum) * running_var[c] + p.momentum * unbiased;
      }
    }

    if (in_range) {
      BN_VALUE scale = inv_std * gamma[c], shift = beta[c];
      // Evaluation spreads rows over the grid's y axis; training normalises its block.
      uint r = kPhase == BATCHNORM_PHASE_EVALUATION ? gl_WorkGroupID.y * Y + y : block.x + y;
      uint end = kPhase == BATCHNORM_PHASE_EVALUATION ? p.rows : block.y;
      uint step = kPhase == BATCHNORM_PHASE_EVALUATION ? Y * gl_NumWorkGroups.y : Y;
      for (; r < end; r += step) {
        uint i = r * C + c;
        y_[i] = BN_STORED((BN_VALUE(x_[i]) - mean) * scale + shift);
      }
    }
  }
}
