// BatchNorm backward (training statistics) over a (rows, C) row-major matrix,
// with xhat = (x - mean) * inv_std from the forward's saved mean and inv_std:
//   grad_beta[c]  = sum over rows of grad_out
//   grad_gamma[c] = sum over rows of grad_out * xhat
//   grad_x        = gamma * inv_std * (grad_out - grad_beta / rows - xhat * grad_gamma / rows)
// (the mean and variance depend on every x, hence the two correction terms).
//
// Workgroup layout as batchnorm_impl.glsl. Phases (BN_PHASE, a build per phase):
//   FUSED:  one workgroup row sums all rows of its channels, then writes grad_x.
//   SUMS:   workgroup (channels, b) writes row block b's two sums to the workspace;
//   APPLY:  workgroup (channels, b) adds every block's sums, writes grad_x of
//           block b, and block 0 writes grad_gamma and grad_beta.
//
// Each phase is its own build (batchnorm_back_<phase>[_vec4].comp; BN_VALUE float
// moves one channel per lane, vec4 four), not a specialization constant: the
// compiler then drops the other phases' loads and stores, so the SPIR-V
// reads and writes only what the phase does, which is what Sequence and
// synchronization validation take a dispatch to access. Per-channel arrays
// are read as BN_VALUE too, so "channel" below means a lane's group of
// BN_WIDTH channels. BN_STORED is how grad_out, x and grad_x are stored:
// BN_VALUE, or in the _f16 builds (mixed precision) float16_t / f16vec4,
// converted on load and store; the sums, gamma, the saved statistics and the
// parameter gradients stay fp32.
#include "batchnorm.h"

#ifndef BN_STORED
#define BN_STORED BN_VALUE
#endif

layout(local_size_x_id = 0, local_size_y_id = 1) in;
const uint kPhase = BN_PHASE;  // FUSED, SUMS or APPLY

layout(std430, binding = 0) readonly buffer GradOut { BN_STORED grad_out[]; };         // (rows, C)
layout(std430, binding = 1) readonly buffer X { BN_STORED x_[]; };                     // (rows, C)
layout(std430, binding = 2) readonly buffer Gamma { BN_VALUE gamma[]; };               // (C)
layout(std430, binding = 3) readonly buffer SavedMean { BN_VALUE saved_mean[]; };      // (C)
layout(std430, binding = 4) readonly buffer SavedInvStd { BN_VALUE saved_inv_std[]; }; // (C)
layout(std430, binding = 5) writeonly buffer GradX { BN_STORED grad_x[]; };            // (rows, C)
layout(std430, binding = 6) writeonly buffer GradGamma { BN_VALUE grad_gamma[]; };     // (C)
layout(std430, binding = 7) writeonly buffer GradBeta { BN_VALUE grad_beta[]; };       // (C)
// Per row block: its sum of grad_out (row_blocks, C), then of grad_out * xhat (row_blocks, C).
layout(std430, binding = 8) buffer Workspace { BN_VALUE partials[]; };
layout(push_constant) uniform Push { BatchNormBackParams p; };

#include "batchnorm_reduce.glsl"

void main() {
  const uint X = gl_WorkGroupSize.x, Y = gl_WorkGroupSize.y;
  uint x = gl_LocalInvocationID.x, y = gl_LocalInvocationID.y;
  uint C = p.channels / BN_WIDTH;  // lanes' channel groups per row
  float rows = float(p.rows);
  uint b = gl_WorkGroupID.y;       // the row block
  uvec2 block = BlockRows(b);
  for (uint first_channel = gl_WorkGroupID.x * X; first_channel < C; first_channel += gl_NumWorkGroups.x * X) {
    uint c = first_channel + x;
    bool in_range = c < C;  // lanes past the last channel still join the barriers
    BN_VALUE mean = in_range ? saved_mean[c] : BN_VALUE(0.0), inv_std = in_range ? saved_inv_std[c] : BN_VALUE(0.0);

    // grad_beta and grad_gamma: this block's compensated sums (FUSED: the
    // block is every row), or the sum of the blocks' partial sums (APPLY).
    BN_VALUE beta_total = BN_VALUE(0.0), gamma_total = BN_VALUE(0.0);
    if (kPhase == BATCHNORM_PHASE_APPLY) {
      if (in_range)
        for (uint k = y; k < p.row_blocks; k += Y) {
          beta_total += partials[k * C + c];
          gamma_total += partials[(p.row_blocks + k) * C + c];
        }
    } else {
      BN_VALUE g_sum = BN_VALUE(0.0), g_sum_c = BN_VALUE(0.0), gx_sum = BN_VALUE(0.0), gx_sum_c = BN_VALUE(0.0);
      if (in_range) {
        for (uint r = block.x + y; r < block.y; r += Y) {
          uint i = r * C + c;
          BN_VALUE g = BN_VALUE(grad_out[i]);
          KahanAdd(g_sum, g_sum_c, g);
          KahanAdd(gx_sum, gx_sum_c, g * ((BN_VALUE(x_[i]) - mean) * inv_std));
        }
      }
      beta_total = g_sum - g_sum_c;
      gamma_total = gx_sum - gx_sum_c;
    }
    ColumnTotals(beta_total, gamma_total);
    if (kPhase == BATCHNORM_PHASE_SUMS) {
      if (in_range && y == 0u) {
        partials[b * C + c] = beta_total;
        partials[(p.row_blocks + b) * C + c] = gamma_total;
      }
      continue;
    }

    if (in_range) {
      if (y == 0u && b == 0u) {
        grad_beta[c] = beta_total;
        grad_gamma[c] = gamma_total;
      }
      BN_VALUE scale = gamma[c] * inv_std;
      BN_VALUE mean_g = beta_total / rows, mean_gx = gamma_total / rows;
      for (uint r = block.x + y; r < block.y; r += Y) {
        uint i = r * C + c;
        BN_VALUE xhat = (BN_VALUE(x_[i]) - mean) * inv_std;
        grad_x[i] = BN_STORED(scale * (BN_VALUE(grad_out[i]) - mean_g - xhat * mean_gx));
      }
    }
  }
}
