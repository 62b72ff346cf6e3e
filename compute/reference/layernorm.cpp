#include "compute/reference/layernorm.h"

#include <algorithm>
#include <cassert>
#include <cmath>

namespace ts::reference {

LayerNormOutput LayerNormForward(std::span<const double> x, std::span<const double> gamma,
                                 std::span<const double> beta, uint32_t rows, uint32_t cols, double epsilon) {
  assert(x.size() == size_t(rows) * cols && gamma.size() == cols && beta.size() == cols);
  LayerNormOutput out{std::vector<double>(x.size()), std::vector<double>(rows), std::vector<double>(rows)};
  for (uint32_t r = 0; r < rows; ++r) {
    std::span<const double> row = x.subspan(size_t(r) * cols, cols);
    double sum = 0;
    for (double v : row) sum += v;
    const double mean = sum / cols;
    double squares = 0;
    for (double v : row) squares += (v - mean) * (v - mean);
    const double rstd = 1.0 / std::sqrt(squares / cols + epsilon);
    for (uint32_t c = 0; c < cols; ++c) out.y[size_t(r) * cols + c] = (row[c] - mean) * rstd * gamma[c] + beta[c];
    out.mean[r] = mean;
    out.rstd[r] = rstd;
  }
  return out;
}

LayerNormGradients LayerNormBackward(std::span<const double> grad_y, std::span<const double> x,
                                     std::span<const double> gamma, std::span<const double> mean,
                                     std::span<const double> rstd, std::span<const double> add, uint32_t rows,
                                     uint32_t cols) {
  const size_t n = size_t(rows) * cols;
  assert(grad_y.size() == n && x.size() == n && gamma.size() == cols && mean.size() == rows && rstd.size() == rows);
  assert(add.empty() || add.size() == n);
  LayerNormGradients g{std::vector<double>(n), std::vector<double>(cols, 0.0), std::vector<double>(cols, 0.0)};
  std::vector<double> xhat(cols);
  for (uint32_t r = 0; r < rows; ++r) {
    const size_t base = size_t(r) * cols;
    double mean_g = 0, mean_g_xhat = 0;  // means over the row of dy * gamma and dy * gamma * xhat
    for (uint32_t c = 0; c < cols; ++c) {
      xhat[c] = (x[base + c] - mean[r]) * rstd[r];
      const double dy = grad_y[base + c];
      mean_g += dy * gamma[c];
      mean_g_xhat += dy * gamma[c] * xhat[c];
      g.grad_gamma[c] += dy * xhat[c];
      g.grad_beta[c] += dy;
    }
    mean_g /= cols;
    mean_g_xhat /= cols;
    for (uint32_t c = 0; c < cols; ++c) {
      const double dx = rstd[r] * (grad_y[base + c] * gamma[c] - mean_g - xhat[c] * mean_g_xhat);
      g.grad_x[base + c] = dx + (add.empty() ? 0.0 : add[base + c]);
    }
  }
  return g;
}

std::vector<double> Add(std::span<const double> a, std::span<const double> b) {
  assert(a.size() == b.size());
  std::vector<double> out(a.size());
  for (size_t i = 0; i < a.size(); ++i) out[i] = a[i] + b[i];
  return out;
}

GradClipResult ClipGradNorm(std::span<const double> grads, double max_norm) {
  GradClipResult result{{grads.begin(), grads.end()}, 0.0};
  double squares = 0;
  for (double g : grads) squares += g * g;
  result.norm = std::sqrt(squares);
  const double scale = std::min(1.0, max_norm / (result.norm + 1e-6));
  for (double& g : result.grads) g *= scale;
  return result;
}

}  // namespace ts::reference
