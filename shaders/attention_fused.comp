#version 450
// Causal multi-head attention, flash-attention style: P is never stored.
// One invocation per row (a query row, or in GRAD_KV a key row), ROWS rows a
// workgroup; the other side streams past in blocks of BLOCK rows staged in
// shared memory. Every invocation reads the same staged element at the same
// time (the loop counters index it), so shared reads are broadcasts on GPUs
// and scalar loads on SIMD CPUs (lavapipe), and per-row state (q, dy, the
// accumulators: D floats each) lives in registers. Passes, by MODE
// (shaders/attention.h):
//   FORWARD  key blocks j0 = 0, BLOCK, ... up to the workgroup's last row: S for
//            the block, the running max m and sum l rescaled by exp(m_old -
//            m_new) with the y accumulators (online softmax); then y = acc / l,
//            lse = m + log l.
//   GRAD_Q   row_dot = dy . y (written for GRAD_KV); per key block P = exp(S -
//            lse) recomputed, dS = P (dy . v - row_dot), dQ = scale sum_j dS k_j.
//   GRAD_KV  per key row j, query blocks from the workgroup's first row on
//            (i >= j): the same P and dS, dV = sum_i P dy_i, dK = scale sum_i dS q_i.
// Entries above the diagonal are masked by selects, not branches (a branch
// around the staged reads would make lavapipe load lane by lane). Each output
// is written by one invocation, every sum in a fixed order: deterministic.
#include "attention.h"
#include "math.glsl"

layout(local_size_x_id = 0) in;                  // ROWS
layout(constant_id = 1) const uint MODE = 0u;
layout(constant_id = 2) const uint D = 32u;      // head_dim: the length of the register rows
layout(constant_id = 3) const uint BLOCK = 16u;  // rows of the other side staged per step

layout(std430, binding = 0) readonly buffer Qkv { float qkv[]; };            // (B*T, 3C)
layout(std430, binding = 1) readonly buffer YIn { float y_in[]; };           // (B*T, C), GRAD_Q
layout(std430, binding = 2) readonly buffer GradY { float grad_y[]; };       // (B*T, C), GRAD_Q and GRAD_KV
layout(std430, binding = 3) readonly buffer Lse { float lse_in[]; };         // (B, H, T), GRAD_Q and GRAD_KV
layout(std430, binding = 4) readonly buffer RowDot { float row_dot_in[]; };  // (B, H, T), GRAD_KV
layout(std430, binding = 5) writeonly buffer Out { float out_[]; };          // FORWARD: y; GRAD_*: dqkv
layout(std430, binding = 6) writeonly buffer Stats { float stats_out[]; };   // FORWARD: lse; GRAD_Q: row_dot
layout(push_constant) uniform Push { AttentionParams p; };

const uint ROWS = gl_WorkGroupSize.x;
shared float block_a[BLOCK * D];  // K (FORWARD, GRAD_Q) or Q (GRAD_KV), row c at c * D
shared float block_b[BLOCK * D];  // V (FORWARD, GRAD_Q) or dy (GRAD_KV)
shared float block_lse[BLOCK];    // GRAD_KV: lse and row_dot of the staged queries
shared float block_row_dot[BLOCK];

const float kNoScore = -3.0e38;  // a masked score; exp(kNoScore - finite) is 0
const uint PART_Q = 0u, PART_K = 1u, PART_V = 2u, PART_GRAD_Y = 3u;

// Element d of token t's row of Q, K, V (qkv) or dy, head (b, h).
float Load(uint part, uint b, uint h, uint t, uint d) {
  const uint T = p.tokens, C = p.heads * D;
  if (part == PART_GRAD_Y) return grad_y[(b * T + t) * C + h * D + d];
  return qkv[(b * T + t) * 3u * C + part * C + h * D + d];
}

// Stages tokens [first, first + BLOCK) of `part` into `dst` (0 past T).
// Consecutive invocations load consecutive addresses.
#define STAGE(dst, first, part)                                       \
  for (uint l = gl_LocalInvocationIndex; l < BLOCK * D; l += ROWS) {  \
    uint t = (first) + l / D;                                         \
    dst[l] = t < p.tokens ? Load(part, b, h, t, l % D) : 0.0;         \
  }

// This invocation's row of `part` (zeros past T).
#define LOAD_ROW(dst, part, t) \
  for (uint d = 0u; d < D; ++d) dst[d] = (t) < p.tokens ? Load(part, b, h, t, d) : 0.0;

void Forward(uint b, uint h, uint bh) {
  const uint T = p.tokens, C = p.heads * D;
  const uint i0 = gl_WorkGroupID.x * ROWS, i = i0 + gl_LocalInvocationID.x, last_row = min(i0 + ROWS, T) - 1u;
  float q[D], acc[D], s[BLOCK];
  LOAD_ROW(q, PART_Q, i)
  for (uint d = 0u; d < D; ++d) acc[d] = 0.0;
  float m = kNoScore, l = 0.0;
  for (uint j0 = 0u; j0 <= last_row; j0 += BLOCK) {  // key blocks wholly above the diagonal are skipped
    barrier();  // the last block's readers are done
    STAGE(block_a, j0, PART_K)
    STAGE(block_b, j0, PART_V)
    barrier();
    float block_max = kNoScore;
    for (uint c = 0u; c < BLOCK; ++c) {
      float dot_qk = 0.0;
      for (uint d = 0u; d < D; ++d) dot_qk += q[d] * block_a[c * D + d];
      s[c] = j0 + c <= i ? p.scale * dot_qk : kNoScore;
      block_max = max(block_max, s[c]);
    }
    const float next_m = max(m, block_max), rescale = exp(m - next_m);
    l *= rescale;
    for (uint d = 0u; d < D; ++d) acc[d] *= rescale;
    for (uint c = 0u; c < BLOCK; ++c) {
      const float prob = s[c] == kNoScore ? 0.0 : exp(s[c] - next_m);
      l += prob;
      for (uint d = 0u; d < D; ++d) acc[d] += prob * block_b[c * D + d];
    }
    m = next_m;
  }
  if (i >= T) return;
  for (uint d = 0u; d < D; ++d) out_[(b * T + i) * C + h * D + d] = acc[d] / l;
  stats_out[bh * T + i] = m + PreciseLog(l);
}

void GradQ(uint b, uint h, uint bh) {
  const uint T = p.tokens, C = p.heads * D;
  const uint i0 = gl_WorkGroupID.x * ROWS, i = i0 + gl_LocalInvocationID.x, last_row = min(i0 + ROWS, T) - 1u;
  float q[D], dy[D], acc[D];
  LOAD_ROW(q, PART_Q, i)
  LOAD_ROW(dy, PART_GRAD_Y, i)
  // row_dot = dy_i . y_i = sum_j P_ij dP_ij.
  float row_dot = 0.0;
  for (uint d = 0u; d < D; ++d) {
    acc[d] = 0.0;
    row_dot += dy[d] * (i < T ? y_in[(b * T + i) * C + h * D + d] : 0.0);
  }
  const float lse = i < T ? lse_in[bh * T + i] : 0.0;
  if (i < T) stats_out[bh * T + i] = row_dot;
  for (uint j0 = 0u; j0 <= last_row; j0 += BLOCK) {
    barrier();  // the last block's readers are done
    STAGE(block_a, j0, PART_K)
    STAGE(block_b, j0, PART_V)
    barrier();
    for (uint c = 0u; c < BLOCK; ++c) {
      float dot_qk = 0.0, dot_dy_v = 0.0;
      for (uint d = 0u; d < D; ++d) {
        dot_qk += q[d] * block_a[c * D + d];
        dot_dy_v += dy[d] * block_b[c * D + d];
      }
      const float ds = j0 + c <= i ? exp(p.scale * dot_qk - lse) * (dot_dy_v - row_dot) : 0.0;
      for (uint d = 0u; d < D; ++d) acc[d] += ds * block_a[c * D + d];
    }
  }
  if (i >= T) return;
  for (uint d = 0u; d < D; ++d) out_[(b * T + i) * 3u * C + h * D + d] = p.scale * acc[d];
}

void GradKV(uint b, uint h, uint bh) {
  const uint T = p.tokens, C = p.heads * D;
  const uint j0 = gl_WorkGroupID.x * ROWS, j = j0 + gl_LocalInvocationID.x;
  float k[D], v[D], acc_k[D], acc_v[D];
  LOAD_ROW(k, PART_K, j)
  LOAD_ROW(v, PART_V, j)
  for (uint d = 0u; d < D; ++d) acc_k[d] = acc_v[d] = 0.0;
  for (uint q0 = j0; q0 < T; q0 += BLOCK) {  // queries i >= j: blocks from the workgroup's first key on
    barrier();  // the last block's readers are done
    STAGE(block_a, q0, PART_Q)
    STAGE(block_b, q0, PART_GRAD_Y)
    for (uint c = gl_LocalInvocationIndex; c < BLOCK; c += ROWS) {
      const uint t = q0 + c;
      block_lse[c] = t < T ? lse_in[bh * T + t] : 0.0;
      block_row_dot[c] = t < T ? row_dot_in[bh * T + t] : 0.0;
    }
    barrier();
    for (uint c = 0u; c < BLOCK; ++c) {
      float dot_qk = 0.0, dot_dy_v = 0.0;
      for (uint d = 0u; d < D; ++d) {
        dot_qk += block_a[c * D + d] * k[d];
        dot_dy_v += block_b[c * D + d] * v[d];
      }
      const uint i = q0 + c;
      const float prob = i >= j && i < T ? exp(p.scale * dot_qk - block_lse[c]) : 0.0;
      const float ds = prob * (dot_dy_v - block_row_dot[c]);
      for (uint d = 0u; d < D; ++d) {
        acc_v[d] += prob * block_b[c * D + d];
        acc_k[d] += ds * block_a[c * D + d];
      }
    }
  }
  if (j >= T) return;
  for (uint d = 0u; d < D; ++d) {
    out_[(b * T + j) * 3u * C + C + h * D + d] = p.scale * acc_k[d];
    out_[(b * T + j) * 3u * C + 2u * C + h * D + d] = acc_v[d];
  }
}

void main() {
  // Heads are grid-strided along y (the host caps the count at the device limit).
  for (uint bh = gl_WorkGroupID.y; bh < p.batch_heads; bh += gl_NumWorkGroups.y) {
    uint b = bh / p.heads, h = bh % p.heads;
    if (MODE == ATTENTION_FUSED_FORWARD) Forward(b, h, bh);
    else if (MODE == ATTENTION_FUSED_GRAD_Q) GradQ(b, h, bh);
    else GradKV(b, h, bh);
  }
}
