// Plain double-precision CPU versions of the transformer kernels that are not
// matrix products: LayerNorm (layernorm.comp, layernorm_back*.comp), the
// residual add (add.comp) and gradient clipping by global norm
// (grad_clip.comp). What the tests compare the GPU against; written for
// reading, not speed. Definitions are those of the kernel headers
// (compute/kernels/{layernorm,add,grad_clip}.h).
//
// Tensors are row-major; each function's comment gives the shapes once.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace ts::reference {

// ---- LayerNorm over the last dimension of a (rows, cols) matrix ----

struct LayerNormOutput {
  std::vector<double> y;     // (rows, cols)
  std::vector<double> mean;  // (rows)
  std::vector<double> rstd;  // (rows): 1 / sqrt(biased variance + epsilon)
};
// x: (rows, cols); gamma, beta: (cols). Two-pass mean and variance.
LayerNormOutput LayerNormForward(std::span<const double> x, std::span<const double> gamma,
                                 std::span<const double> beta, uint32_t rows, uint32_t cols, double epsilon);

struct LayerNormGradients {
  std::vector<double> grad_x;      // (rows, cols), with `add` added
  std::vector<double> grad_gamma;  // (cols)
  std::vector<double> grad_beta;   // (cols)
};
// grad_y, x: (rows, cols); gamma: (cols); mean, rstd: (rows) as the forward
// saved them; add: (rows, cols), or empty for none.
LayerNormGradients LayerNormBackward(std::span<const double> grad_y, std::span<const double> x,
                                     std::span<const double> gamma, std::span<const double> mean,
                                     std::span<const double> rstd, std::span<const double> add, uint32_t rows,
                                     uint32_t cols);

// ---- Residual add ----

// a, b: (count). Returns a + b.
std::vector<double> Add(std::span<const double> a, std::span<const double> b);

// ---- Gradient clipping by global norm (torch.nn.utils.clip_grad_norm_) ----

struct GradClipResult {
  std::vector<double> grads;  // (count): g * min(1, max_norm / (norm + 1e-6))
  double norm = 0;            // sqrt(sum g^2), before clipping
};
// grads: (count).
GradClipResult ClipGradNorm(std::span<const double> grads, double max_norm);

}  // namespace ts::reference
