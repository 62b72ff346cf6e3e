// Plain double-precision CPU versions of the CNN layer kernels that are not
// convolutions: pooling (pool.comp, pool_back.comp), dropout (dropout.comp)
// and batch normalisation (batchnorm.comp, batchnorm_back.comp). What the
// tests compare the GPU against; written for reading, not speed. Definitions
// are those of the kernel headers (compute/kernels/{pool,dropout,batchnorm}.h).
//
// Tensors are NHWC, row-major; each function's comment gives the shapes once.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "compute/kernels/pool.h"

namespace ts::reference {

// ---- Pooling ----

struct PoolOutput {
  std::vector<double> out;        // (N, OH, OW, C)
  std::vector<uint32_t> argmax;   // (N, OH, OW, C): flat input index of each maximum; empty for average
};
// input: (N, H, W, C), shape.input_count() values. Windows are walked in
// row-major order over the full (padded) window: padding is -inf for max
// (first maximum wins, NaN wins) and 0 for average, whose divisor is
// window_h * window_w.
PoolOutput PoolForward(kernels::PoolKind kind, const kernels::PoolShape& shape, std::span<const double> input);

// grad_out: (N, OH, OW, C); argmax: the forward's (max only). Returns
// grad_in (N, H, W, C), computed as a scatter from each output window.
std::vector<double> PoolBackward(kernels::PoolKind kind, const kernels::PoolShape& shape,
                                 std::span<const double> grad_out, std::span<const uint32_t> argmax);

// ---- Dropout ----

// The factor each element is multiplied by: 1 / (1 - p) where kept, 0 where
// dropped (kernels::DropoutKeeps decides), for elements [0, count). The
// forward is x * mask and the backward grad_out * mask.
std::vector<double> DropoutMask(uint32_t count, double drop_probability, uint32_t seed, uint32_t step);

// ---- Batch normalisation over a (rows, C) matrix ----

struct BatchNormOutput {
  std::vector<double> y;             // (rows, C)
  std::vector<double> mean;          // (C): batch mean (training only)
  std::vector<double> inv_std;       // (C): 1 / sqrt(biased var + eps) (training only)
  std::vector<double> running_mean;  // (C): after the update (training) or as given
  std::vector<double> running_var;   // (C)
};
// x: (rows, C); gamma, beta, running_mean, running_var: (C). Training uses
// and updates the batch statistics (running_var with the unbiased variance,
// rows >= 2); evaluation normalises with the running statistics.
BatchNormOutput BatchNormForward(std::span<const double> x, std::span<const double> gamma,
                                 std::span<const double> beta, std::span<const double> running_mean,
                                 std::span<const double> running_var, uint32_t rows, uint32_t channels, bool training,
                                 double epsilon, double momentum);

struct BatchNormGradients {
  std::vector<double> grad_x;      // (rows, C)
  std::vector<double> grad_gamma;  // (C)
  std::vector<double> grad_beta;   // (C)
};
// grad_y, x: (rows, C); gamma, mean, inv_std: (C), mean and inv_std as the
// training forward saved them.
BatchNormGradients BatchNormBackward(std::span<const double> grad_y, std::span<const double> x,
                                     std::span<const double> gamma, std::span<const double> mean,
                                     std::span<const double> inv_std, uint32_t rows, uint32_t channels);

}  // namespace ts::reference
