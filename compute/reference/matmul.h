// CPU reference for matmul.comp, in double precision: C = op(A) op(B) (+ C).
// Same conventions as ts::kernels::MatmulArgs: row-major, op(A) is M x K
// (A stored K x M when transpose_a), op(B) is K x N (B stored N x K when
// transpose_b), C is M x N.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace ts::reference {

struct MatmulShape {
  uint32_t m = 0, n = 0, k = 0;
  bool transpose_a = false;
  bool transpose_b = false;
};

// op(A) op(B), plus c_in when it is non-empty (the accumulate form). (M, N)
std::vector<double> Matmul(std::span<const float> a, std::span<const float> b, const MatmulShape& shape,
                           std::span<const float> c_in = {});
std::vector<double> Matmul(std::span<const double> a, std::span<const double> b, const MatmulShape& shape,
                           std::span<const double> c_in = {});

// sum over k of |op(A)[i][k] * op(B)[k][j]|: the scale of the rounding error a
// float matmul may make in C[i][j], for tolerances. (M, N)
std::vector<double> MatmulTermMagnitudes(std::span<const float> a, std::span<const float> b,
                                         const MatmulShape& shape);

}  // namespace ts::reference
