#include "compute/reference/attention.h"

#include <algorithm>
#include <cassert>
#include <cmath>

namespace ts::reference {
namespace {

// Offsets into qkv / y of head h's slice of token t (batch b).
struct Layout {
  kernels::AttentionShape shape;
  size_t C() const { return shape.width(); }
  size_t Token(size_t b, size_t t) const { return b * shape.tokens + t; }
  size_t Q(size_t b, size_t t, size_t h) const { return Token(b, t) * 3 * C() + h * shape.head_dim; }
  size_t K(size_t b, size_t t, size_t h) const { return Q(b, t, h) + C(); }
  size_t V(size_t b, size_t t, size_t h) const { return Q(b, t, h) + 2 * C(); }
  size_t Y(size_t b, size_t t, size_t h) const { return Token(b, t) * C() + h * shape.head_dim; }
  size_t Head(size_t b, size_t h) const { return b * shape.heads + h; }
};

double Dot(const double* a, const double* b, size_t n) {
  double sum = 0;
  for (size_t d = 0; d < n; ++d) sum += a[d] * b[d];
  return sum;
}

}  // namespace

AttentionForwardOutput AttentionForward(std::span<const double> qkv, const kernels::AttentionShape& shape,
                                        double scale) {
  const Layout at{shape};
  const size_t T = shape.tokens, D = shape.head_dim;
  assert(qkv.size() == shape.rows() * 3 * at.C());
  AttentionForwardOutput out{std::vector<double>(shape.rows() * at.C(), 0.0),
                             std::vector<double>(shape.score_count(), 0.0),
                             std::vector<double>(shape.row_stat_count(), 0.0)};
  std::vector<double> scores(T);
  for (size_t b = 0; b < shape.batch; ++b)
    for (size_t h = 0; h < shape.heads; ++h)
      for (size_t i = 0; i < T; ++i) {
        double max_score = -INFINITY;
        for (size_t j = 0; j <= i; ++j) {
          scores[j] = scale * Dot(&qkv[at.Q(b, i, h)], &qkv[at.K(b, j, h)], D);
          max_score = std::max(max_score, scores[j]);
        }
        double sum = 0;
        for (size_t j = 0; j <= i; ++j) sum += std::exp(scores[j] - max_score);
        const size_t row = at.Head(b, h) * T + i;
        out.log_sum_exp[row] = max_score + std::log(sum);
        for (size_t j = 0; j <= i; ++j) {
          double p = std::exp(scores[j] - max_score) / sum;
          out.probabilities[row * T + j] = p;
          for (size_t d = 0; d < D; ++d) out.y[at.Y(b, i, h) + d] += p * qkv[at.V(b, j, h) + d];
        }
      }
  return out;
}

std::vector<double> AttentionBackward(std::span<const double> qkv, std::span<const double> grad_y,
                                      const kernels::AttentionShape& shape, double scale) {
  const Layout at{shape};
  const size_t T = shape.tokens, D = shape.head_dim;
  assert(grad_y.size() == shape.rows() * at.C());
  const std::vector<double> P = AttentionForward(qkv, shape, scale).probabilities;
  std::vector<double> grad(qkv.size(), 0.0);
  std::vector<double> grad_p(T);
  for (size_t b = 0; b < shape.batch; ++b)
    for (size_t h = 0; h < shape.heads; ++h)
      for (size_t i = 0; i < T; ++i) {
        const double* p = &P[(at.Head(b, h) * T + i) * T];
        const double* dy = &grad_y[at.Y(b, i, h)];
        double row_dot = 0;  // sum_j P_ij dP_ij
        for (size_t j = 0; j <= i; ++j) {
          grad_p[j] = Dot(dy, &qkv[at.V(b, j, h)], D);
          row_dot += p[j] * grad_p[j];
        }
        for (size_t j = 0; j <= i; ++j) {
          const double grad_s = p[j] * (grad_p[j] - row_dot);
          for (size_t d = 0; d < D; ++d) {
            grad[at.Q(b, i, h) + d] += scale * grad_s * qkv[at.K(b, j, h) + d];
            grad[at.K(b, j, h) + d] += scale * grad_s * qkv[at.Q(b, i, h) + d];
            grad[at.V(b, j, h) + d] += p[j] * dy[d];
          }
        }
      }
  return grad;
}

}  // namespace ts::reference
