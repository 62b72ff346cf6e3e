#include "compute/reference/layers.h"

#include <cassert>
#include <cmath>
#include <limits>

#include "compute/kernels/dropout.h"

namespace ts::reference {

using kernels::PoolKind;
using kernels::PoolShape;

namespace {

// Calls visit(output index, input index or -1 for padding) for every
// position of every output window, in row-major window order.
template <typename Visit>
void ForEachWindowPosition(const PoolShape& s, Visit visit) {
  const int64_t out_h = s.out_height(), out_w = s.out_width();
  for (int64_t n = 0; n < s.batch; ++n)
    for (int64_t oy = 0; oy < out_h; ++oy)
      for (int64_t ox = 0; ox < out_w; ++ox)
        for (int64_t c = 0; c < s.channels; ++c) {
          const size_t o = size_t(((n * out_h + oy) * out_w + ox) * s.channels + c);
          for (int64_t ky = 0; ky < s.window_h; ++ky)
            for (int64_t kx = 0; kx < s.window_w; ++kx) {
              const int64_t y = oy * s.stride_h - s.pad_top + ky, x = ox * s.stride_w - s.pad_left + kx;
              const bool inside = y >= 0 && y < s.height && x >= 0 && x < s.width;
              visit(o, inside ? ((n * s.height + y) * s.width + x) * s.channels + c : int64_t(-1));
            }
        }
}

}  // namespace

// ---- Pooling ----

PoolOutput PoolForward(PoolKind kind, const PoolShape& shape, std::span<const double> input) {
  assert(input.size() >= shape.input_count());
  const size_t outputs = shape.output_count();
  PoolOutput result;
  if (kind == PoolKind::kMax) {
    result.out.assign(outputs, -std::numeric_limits<double>::infinity());
    result.argmax.assign(outputs, 0);
    std::vector<bool> seen(outputs, false);
    ForEachWindowPosition(shape, [&](size_t o, int64_t i) {
      if (i < 0) return;  // padding is -inf: never the maximum
      const double v = input[size_t(i)];
      if (!seen[o] || v > result.out[o] || std::isnan(v)) {
        result.out[o] = v;
        result.argmax[o] = uint32_t(i);
        seen[o] = true;
      }
    });
  } else {
    result.out.assign(outputs, 0.0);
    ForEachWindowPosition(shape, [&](size_t o, int64_t i) {
      if (i >= 0) result.out[o] += input[size_t(i)];
    });
    const double window = double(shape.window_h) * shape.window_w;
    for (double& v : result.out) v /= window;
  }
  return result;
}

std::vector<double> PoolBackward(PoolKind kind, const PoolShape& shape, std::span<const double> grad_out,
                                 std::span<const uint32_t> argmax) {
  assert(grad_out.size() >= shape.output_count());
  std::vector<double> grad_in(shape.input_count(), 0.0);
  if (kind == PoolKind::kMax) {
    assert(argmax.size() >= shape.output_count());
    for (size_t o = 0; o < shape.output_count(); ++o) grad_in[argmax[o]] += grad_out[o];
  } else {
    const double window = double(shape.window_h) * shape.window_w;
    ForEachWindowPosition(shape, [&](size_t o, int64_t i) {
      if (i >= 0) grad_in[size_t(i)] += grad_out[o] / window;
    });
  }
  return grad_in;
}

// ---- Dropout ----

std::vector<double> DropoutMask(uint32_t count, double drop_probability, uint32_t seed, uint32_t step) {
  std::vector<double> mask(count, 0.0);
  if (drop_probability >= 1.0) return mask;
  const double scale = 1.0 / (1.0 - drop_probability);
  for (uint32_t i = 0; i < count; ++i)
    if (kernels::DropoutKeeps(seed, step, i, float(drop_probability))) mask[i] = scale;
  return mask;
}

// ---- Batch normalisation ----

BatchNormOutput BatchNormForward(std::span<const double> x, std::span<const double> gamma,
                                 std::span<const double> beta, std::span<const double> running_mean,
                                 std::span<const double> running_var, uint32_t rows, uint32_t channels, bool training,
                                 double epsilon, double momentum) {
  assert(x.size() >= size_t(rows) * channels && (!training || rows >= 2));
  BatchNormOutput result;
  result.y.resize(size_t(rows) * channels);
  result.running_mean.assign(running_mean.begin(), running_mean.begin() + channels);
  result.running_var.assign(running_var.begin(), running_var.begin() + channels);
  if (training) result.mean.resize(channels), result.inv_std.resize(channels);
  for (uint32_t c = 0; c < channels; ++c) {
    double mean = running_mean[c], var = running_var[c];
    if (training) {
      double sum = 0;
      for (uint32_t r = 0; r < rows; ++r) sum += x[size_t(r) * channels + c];
      mean = sum / rows;
      double squares = 0;
      for (uint32_t r = 0; r < rows; ++r) {
        double d = x[size_t(r) * channels + c] - mean;
        squares += d * d;
      }
      var = squares / rows;
      result.mean[c] = mean;
      result.inv_std[c] = 1.0 / std::sqrt(var + epsilon);
      result.running_mean[c] = (1 - momentum) * running_mean[c] + momentum * mean;
      result.running_var[c] = (1 - momentum) * running_var[c] + momentum * squares / (rows - 1);
    }
    const double inv_std = 1.0 / std::sqrt(var + epsilon);
    for (uint32_t r = 0; r < rows; ++r) {
      const size_t i = size_t(r) * channels + c;
      result.y[i] = (x[i] - mean) * inv_std * gamma[c] + beta[c];
    }
  }
  return result;
}

BatchNormGradients BatchNormBackward(std::span<const double> grad_y, std::span<const double> x,
                                     std::span<const double> gamma, std::span<const double> mean,
                                     std::span<const double> inv_std, uint32_t rows, uint32_t channels) {
  BatchNormGradients g;
  g.grad_x.resize(size_t(rows) * channels);
  g.grad_gamma.assign(channels, 0.0);
  g.grad_beta.assign(channels, 0.0);
  auto xhat = [&](size_t i, uint32_t c) { return (x[i] - mean[c]) * inv_std[c]; };
  for (uint32_t r = 0; r < rows; ++r)
    for (uint32_t c = 0; c < channels; ++c) {
      const size_t i = size_t(r) * channels + c;
      g.grad_beta[c] += grad_y[i];
      g.grad_gamma[c] += grad_y[i] * xhat(i, c);
    }
  for (uint32_t r = 0; r < rows; ++r)
    for (uint32_t c = 0; c < channels; ++c) {
      const size_t i = size_t(r) * channels + c;
      g.grad_x[i] = gamma[c] * inv_std[c] *
                    (grad_y[i] - g.grad_beta[c] / rows - xhat(i, c) * g.grad_gamma[c] / rows);
    }
  return g;
}

}  // namespace ts::reference
