// Double-precision causal multi-head self-attention (kernels/attention.h's
// layouts and definitions): what the attention tests compare both GPU paths
// against. Written for reading, not speed.
#pragma once

#include <span>
#include <vector>

#include "compute/kernels/attention.h"

namespace ts::reference {

struct AttentionForwardOutput {
  std::vector<double> y;              // (B*T, C)
  std::vector<double> probabilities;  // (B, H, T, T), 0 above the diagonal
  std::vector<double> log_sum_exp;    // (B, H, T): log sum_{j <= i} exp(S_ij)
};
// qkv: (B*T, 3C); scale: S = scale * q . k (the caller resolves the kernels' 0 default).
AttentionForwardOutput AttentionForward(std::span<const double> qkv, const kernels::AttentionShape& shape,
                                        double scale);

// grad_y: (B*T, C) -> grad_qkv: (B*T, 3C), every element. P is recomputed from qkv.
std::vector<double> AttentionBackward(std::span<const double> qkv, std::span<const double> grad_y,
                                      const kernels::AttentionShape& shape, double scale);

}  // namespace ts::reference
