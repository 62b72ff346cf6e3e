// Causal multi-head self-attention, forward and backward, on the output of a
// fused QKV projection, as nanoGPT's CausalSelfAttention between c_attn and c_proj:
//   qkv (B*T, 3C) row-major, row b*T + t; head h of Q is columns [h*D, (h+1)*D),
//   of K columns C + h*D.., of V columns 2C + h*D..  (C = H * D)
//   S[b,h,i,j] = scale * q_i . k_j  for j <= i (causal; j > i masked out)
//   P = softmax_j(S),  y_i = sum_j P_ij v_j   ->  y (B*T, C), head h at columns h*D..
//
// Two paths compute the same thing:
//   kPlain (attention.comp): materialises P (B, H, T, T) (entries j > i are 0),
//     which the backward reads and attention maps show.
//   kFused (attention_fused.comp): flash-attention style, never stores P:
//     the forward streams over key blocks with an online softmax and saves
//     only each row's log-sum-exp (B, H, T); the backward recomputes P from it.
// The backward writes dqkv (B*T, 3C) in the same layout:
//   dV_j = sum_i P_ij dy_i;  dP_ij = dy_i . v_j;  dS_ij = P_ij (dP_ij - sum_k P_ik dP_ik)
//   dQ_i = scale * sum_j dS_ij k_j;  dK_j = scale * sum_i dS_ij q_i
// (sum_k P_ik dP_ik = dy_i . y_i, which the fused backward computes first into
// `row_dot`).
#pragma once

#include <cstdint>
#include <vector>

#include "compute/kernels/tensor_ref.h"

namespace ts::kernels {

enum class AttentionPath : uint32_t { kPlain = 0, kFused = 1 };
const char* AttentionPathName(AttentionPath path);  // "plain", "fused"

struct AttentionShape {
  uint32_t batch = 0, tokens = 0, heads = 0, head_dim = 0;
  uint32_t width() const { return heads * head_dim; }  // C
  uint64_t rows() const { return uint64_t(batch) * tokens; }
  uint64_t score_count() const { return uint64_t(batch) * heads * tokens * tokens; }  // P's elements
  uint64_t row_stat_count() const { return uint64_t(batch) * heads * tokens; }        // lse / row_dot
};

struct AttentionArgs {
  AttentionPath path = AttentionPath::kPlain;
  AttentionShape shape;
  float scale = 0.0f;     // 0: 1 / sqrt(head_dim)
  TensorRef qkv;          // (B*T, 3C) read
  TensorRef y;            // (B*T, C) write
  TensorRef probabilities;  // kPlain: (B, H, T, T) write, P (0 above the diagonal)
  TensorRef log_sum_exp;    // kFused: (B, H, T) write (natural log of sum_j exp(S_ij), S scaled)
};
// One or more dispatches.
std::vector<vk::Dispatch> AttentionDispatches(vk::PipelineCache& pipelines, const AttentionArgs& args);

struct AttentionBackwardArgs {
  AttentionPath path = AttentionPath::kPlain;
  AttentionShape shape;
  float scale = 0.0f;       // as the forward
  TensorRef qkv;            // (B*T, 3C) read
  TensorRef y;              // (B*T, C) read (kFused: for row_dot)
  TensorRef grad_y;         // (B*T, C) read
  TensorRef probabilities;  // kPlain: (B, H, T, T) read
  TensorRef log_sum_exp;    // kFused: (B, H, T) read
  TensorRef row_dot;        // kFused: (B, H, T) scratch
  TensorRef grad_scores;    // kPlain: (B, H, T, T) scratch for dS (may be empty if the kernel needs none)
  TensorRef grad_qkv;       // (B*T, 3C) write, every element
};
std::vector<vk::Dispatch> AttentionBackwardDispatches(vk::PipelineCache& pipelines, const AttentionBackwardArgs& args);

// FLOPs of one forward (both paths count the same useful work: QK^T and PV
// over the causal half, 2 * 2 * B*H*D * T(T+1)/2, plus the softmax's ~5 per score).
double AttentionForwardFlops(const AttentionShape& shape);

}  // namespace ts::kernels
