// layernorm.comp: LayerNorm over the last dimension of a (rows, cols) tensor,
// as PyTorch's nn.LayerNorm(cols, eps) with elementwise affine:
//   mean[r] = sum_c x[r][c] / cols
//   rstd[r] = 1 / sqrt(sum_c (x[r][c] - mean[r])^2 / cols + epsilon)   (biased variance)
//   y[r][c] = (x[r][c] - mean[r]) * rstd[r] * gamma[c] + beta[c]
// The forward saves mean and rstd per row for the backward:
//   xhat = (x - mean) * rstd,  g = dy * gamma
//   dx[r][c]  = rstd[r] * (g[r][c] - mean_c(g[r]) - xhat[r][c] * mean_c(g[r] * xhat[r]))  (+ add[r][c])
//   dgamma[c] = sum_r dy[r][c] * xhat[r][c],   dbeta[c] = sum_r dy[r][c]
// A transformer's pre-norm block adds the residual path's gradient to dx, so
// the backward takes an optional `add` tensor and writes dx + add in one pass.
#pragma once

#include <cstdint>
#include <vector>

#include "compute/kernels/tensor_ref.h"

namespace ts::kernels {

// Layout choices, for tests and benchmarks (so every layout runs on whatever
// device the tests have); the defaults (0) pick what suits the device (see
// layernorm.cpp). Both are rounded down to powers of two within its limits.
struct LayerNormTuning {
  uint32_t lanes_per_row = 0;   // forward and grad_x: invocations sharing one row (a shared-memory
                                // tree adds their sums); 0 = a subgroup's width on software
                                // devices, else about cols / 4, at most 128
  uint32_t workgroup_size = 0;  // invocations per workgroup, every LayerNorm kernel; 0 = 64 (row
                                // kernels) or one subgroup (dgamma, dbeta) on software devices,
                                // else 256
};

struct LayerNormArgs {
  TensorRef x;      // (rows, cols) read
  TensorRef gamma;  // (cols) read
  TensorRef beta;   // (cols) read
  TensorRef y;      // (rows, cols) write; must not overlap x
  TensorRef mean;   // (rows) write; empty = not saved (evaluation)
  TensorRef rstd;   // (rows) write; empty = not saved
  uint32_t rows = 0, cols = 0;
  float epsilon = 1e-5f;
  LayerNormTuning tuning;
};
vk::Dispatch LayerNormDispatch(vk::PipelineCache& pipelines, const LayerNormArgs& args);

struct LayerNormBackwardArgs {
  TensorRef grad_y;      // (rows, cols) read
  TensorRef x;           // (rows, cols) read: the forward's input
  TensorRef gamma;       // (cols) read
  TensorRef mean, rstd;  // (rows) read: saved by the forward
  TensorRef add;         // (rows, cols) read, optional: added to dx (a residual's gradient)
  TensorRef grad_x;      // (rows, cols) write; must not overlap the inputs
  TensorRef grad_gamma;  // (cols) write (not accumulated)
  TensorRef grad_beta;   // (cols) write (not accumulated)
  uint32_t rows = 0, cols = 0;
  // Scratch for the column sums of dgamma and dbeta split over row blocks:
  // LayerNormBackwardWorkspaceCount(rows, cols) floats; empty when that is 0.
  TensorRef workspace;
  LayerNormTuning tuning;
};
// Floats of workspace the backward needs for (rows, cols): 0 where one
// workgroup per column block reduces every row (rows <= 64); else 2 x blocks x
// cols, blocks = ceil(rows / 64) up to 64. Depends on the shape only.
uint64_t LayerNormBackwardWorkspaceCount(uint32_t rows, uint32_t cols);
// dx, then dgamma and dbeta (one or more dispatches): grad_x (layernorm_back),
// the parameter gradients (layernorm_back_params), and, with a workspace and
// more than one row block, layernorm_back_combine adding the blocks' partial
// sums. Without a workspace one workgroup row reduces all rows of its columns.
std::vector<vk::Dispatch> LayerNormBackwardDispatches(vk::PipelineCache& pipelines, const LayerNormBackwardArgs& args);

}  // namespace ts::kernels
