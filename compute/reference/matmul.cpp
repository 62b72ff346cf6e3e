#include "compute/reference/matmul.h"

#include <cassert>
#include <cmath>

namespace ts::reference {
namespace {

// C[i][j] = c_in[i][j] + sum_k term(op(A)[i][k], op(B)[k][j]).
template <typename T, typename Term>
std::vector<double> Contract(std::span<const T> a, std::span<const T> b, const MatmulShape& s,
                             std::span<const T> c_in, Term term) {
  const size_t m = s.m, n = s.n, k = s.k;
  assert(a.size() >= m * k && b.size() >= k * n && "reference matmul: A or B is smaller than its shape");
  assert((c_in.empty() || c_in.size() >= m * n) && "reference matmul: C is smaller than M*N");
  std::vector<double> c(m * n, 0.0);
  for (size_t i = 0; i < m; ++i)
    for (size_t j = 0; j < n; ++j) {
      double sum = c_in.empty() ? 0.0 : double(c_in[i * n + j]);
      for (size_t p = 0; p < k; ++p) {
        double a_ip = a[s.transpose_a ? p * m + i : i * k + p];
        double b_pj = b[s.transpose_b ? j * k + p : p * n + j];
        sum += term(a_ip, b_pj);
      }
      c[i * n + j] = sum;
    }
  return c;
}

double Product(double x, double y) { return x * y; }
double AbsProduct(double x, double y) { return std::abs(x * y); }

}  // namespace

std::vector<double> Matmul(std::span<const float> a, std::span<const float> b, const MatmulShape& shape,
                           std::span<const float> c_in) {
  return Contract(a, b, shape, c_in, Product);
}

std::vector<double> Matmul(std::span<const double> a, std::span<const double> b, const MatmulShape& shape,
                           std::span<const double> c_in) {
  return Contract(a, b, shape, c_in, Product);
}

std::vector<double> MatmulTermMagnitudes(std::span<const float> a, std::span<const float> b,
                                         const MatmulShape& shape) {
  return Contract(a, b, shape, std::span<const float>{}, AbsProduct);
}

}  // namespace ts::reference
