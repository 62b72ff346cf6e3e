#version 450
// Causal multi-head attention, the plain path: P is materialised. Four passes,
// picked by the MODE specialization constant (shaders/attention.h):
//   SCORES       workgroup = TR query rows of one head; S = scale Q K^T tile by
//                tile (key tiles past the block's last row skipped), written to
//                P raw, then the rows' max and sum are combined across the TC
//                lanes and each lane rewrites its own entries as exp(S - M) / L
//                (0 above the diagonal).
//   VALUES       y tile (TR rows x TC dims) = P V, keys j <= the block's last row.
//   GRAD_SCORES  as SCORES for dP = dy V^T, with rowsum(P dP) in place of the
//                max and sum; then dS = P (dP - rowsum) (0 above the diagonal).
//   GRAD_QKV     gl_WorkGroupID.x % 3 picks dQ = scale dS K (keys j <= i),
//                dK = scale dS^T Q or dV = P^T dy (queries i >= j).
// Each output element is one invocation's sum over a reduction staged CHUNK at
// a time through shared memory (a tiled matmul); every sum runs in a fixed
// order, so results are deterministic. A lane only reads back global entries
// it wrote itself (SCORES, GRAD_SCORES), which program order makes visible.
#include "attention.h"

layout(local_size_x_id = 0, local_size_y_id = 1) in;  // TC columns x TR rows
layout(constant_id = 2) const uint MODE = 0u;
layout(constant_id = 3) const uint CHUNK = 16u;  // reduction elements staged per step

layout(std430, binding = 0) readonly buffer Qkv { float qkv[]; };                 // (B*T, 3C)
layout(std430, binding = 1) readonly buffer Probabilities { float probs[]; };     // (B, H, T, T)
layout(std430, binding = 2) readonly buffer GradY { float grad_y[]; };            // (B*T, C)
layout(std430, binding = 3) readonly buffer GradScores { float grad_scores[]; };  // (B, H, T, T)
// SCORES: P; VALUES: y; GRAD_SCORES: dS; GRAD_QKV: dqkv. Read only by the lane that wrote it.
layout(std430, binding = 4) buffer Out { float out_[]; };
layout(push_constant) uniform Push { AttentionParams p; };

const uint TC = gl_WorkGroupSize.x, TR = gl_WorkGroupSize.y;
// Padded by one so transposed stores and column reads avoid bank conflicts.
shared float a_tile[TR * (CHUNK + 1)];  // A(r, k) at r * (CHUNK + 1) + k
shared float b_tile[CHUNK * (TC + 1)];  // B(k, c) at k * (TC + 1) + c
// Per-lane partials of each row: SCORES: max and sum; GRAD_SCORES: sum of P dP (first only).
shared float partial_first[TR * TC];
shared float partial_second[TR * TC];

const float kNoScore = -3.0e38;  // below any score; exp(kNoScore - finite) is 0

// Operands of the tile product.
const uint OP_Q = 0u, OP_K = 1u, OP_V = 2u, OP_GRAD_Y = 3u, OP_P = 4u, OP_GRAD_S = 5u;

// Element (r, c) of an operand of head (b, h): token r, dimension c of Q, K,
// V or dy; query r, key c of P or dS.
float Load(uint op, uint b, uint h, uint bh, uint r, uint c) {
  const uint T = p.tokens, D = p.head_dim, C = p.heads * D;
  switch (op) {
    case OP_Q: return qkv[(b * T + r) * 3u * C + h * D + c];
    case OP_K: return qkv[(b * T + r) * 3u * C + C + h * D + c];
    case OP_V: return qkv[(b * T + r) * 3u * C + 2u * C + h * D + c];
    case OP_GRAD_Y: return grad_y[(b * T + r) * C + h * D + c];
    case OP_P: return probs[(bh * T + r) * T + c];
    default: return grad_scores[(bh * T + r) * T + c];
  }
}

// This lane's element (row0 + ty, col0 + tx) of A B over k in [k_begin, k_end):
//   A(r, k) = a[r][k], or a[k][r] when a_transposed;
//   B(k, c) = b[k][c], or b[c][k] when b_transposed.
// Rows beyond T, columns beyond col_end and k beyond k_end read as 0. Every
// lane of the workgroup must call it (barriers).
float TileProduct(uint op_a, bool a_transposed, uint op_b, bool b_transposed, uint row0, uint col0, uint col_end,
                  uint k_begin, uint k_end, uint b, uint h, uint bh) {
  const uint lanes = TR * TC, lane = gl_LocalInvocationIndex;
  const uint tx = gl_LocalInvocationID.x, ty = gl_LocalInvocationID.y;
  float acc = 0.0;
  for (uint k0 = k_begin; k0 < k_end; k0 += CHUNK) {
    // Consecutive lanes load consecutive addresses of each operand.
    for (uint l = lane; l < TR * CHUNK; l += lanes) {
      uint r = a_transposed ? l % TR : l / CHUNK, k = a_transposed ? l / TR : l % CHUNK;
      uint row = row0 + r, kk = k0 + k;
      float value = 0.0;
      if (row < p.tokens && kk < k_end) value = a_transposed ? Load(op_a, b, h, bh, kk, row) : Load(op_a, b, h, bh, row, kk);
      a_tile[r * (CHUNK + 1u) + k] = value;
    }
    for (uint l = lane; l < CHUNK * TC; l += lanes) {
      uint c = b_transposed ? l / CHUNK : l % TC, k = b_transposed ? l % CHUNK : l / TC;
      uint col = col0 + c, kk = k0 + k;
      float value = 0.0;
      if (col < col_end && kk < k_end) value = b_transposed ? Load(op_b, b, h, bh, col, kk) : Load(op_b, b, h, bh, kk, col);
      b_tile[k * (TC + 1u) + c] = value;
    }
    barrier();
    for (uint k = 0u; k < CHUNK; ++k) acc += a_tile[ty * (CHUNK + 1u) + k] * b_tile[k * (TC + 1u) + tx];
    barrier();
  }
  return acc;
}

// SCORES and GRAD_SCORES: the rows of one query block, all T columns of each.
void RowPass(uint b, uint h, uint bh) {
  const uint T = p.tokens, tx = gl_LocalInvocationID.x, ty = gl_LocalInvocationID.y;
  const bool scores = MODE == ATTENTION_PLAIN_SCORES;
  const uint i0 = gl_WorkGroupID.y * TR, i = i0 + ty;
  const uint last_row = min(i0 + TR, T) - 1u;
  const uint row_base = (bh * T + i) * T;
  float partial_max = kNoScore, partial_sum = 0.0;  // SCORES: online max and sum of this lane's entries
  float partial_dot = 0.0;                          // GRAD_SCORES: sum of P dP over this lane's entries
  for (uint j0 = 0u; j0 <= last_row; j0 += TC) {  // key tiles wholly above the diagonal are skipped
    float dot_product = scores ? TileProduct(OP_Q, false, OP_K, true, i0, j0, T, 0u, p.head_dim, b, h, bh)
                               : TileProduct(OP_GRAD_Y, false, OP_V, true, i0, j0, T, 0u, p.head_dim, b, h, bh);
    uint j = j0 + tx;
    if (i < T && j <= i) {
      if (scores) {
        float s = p.scale * dot_product;
        out_[row_base + j] = s;
        float next_max = max(partial_max, s);
        partial_sum = partial_sum * exp(partial_max - next_max) + exp(s - next_max);
        partial_max = next_max;
      } else {
        out_[row_base + j] = dot_product;  // dP, rewritten as dS below
        partial_dot += probs[row_base + j] * dot_product;
      }
    }
  }
  partial_first[ty * TC + tx] = scores ? partial_max : partial_dot;
  partial_second[ty * TC + tx] = partial_sum;
  barrier();
  // Every lane combines its row's partials in the same order, so all agree.
  float row_m = kNoScore, row_total = 0.0;  // SCORES: max M and sum L; GRAD_SCORES: rowsum(P dP)
  if (scores) {
    for (uint x = 0u; x < TC; ++x) row_m = max(row_m, partial_first[ty * TC + x]);
    for (uint x = 0u; x < TC; ++x) row_total += partial_second[ty * TC + x] * exp(partial_first[ty * TC + x] - row_m);
  } else {
    for (uint x = 0u; x < TC; ++x) row_total += partial_first[ty * TC + x];
  }
  barrier();  // the partials are rewritten by the next head
  if (i >= T) return;
  for (uint j = tx; j < T; j += TC) {
    float value = 0.0;
    if (j <= i) value = scores ? exp(out_[row_base + j] - row_m) / row_total : probs[row_base + j] * (out_[row_base + j] - row_total);
    out_[row_base + j] = value;
  }
}

// VALUES and GRAD_QKV: one TR x TC tile of a (T, D) output.
void MatmulPass(uint b, uint h, uint bh) {
  const uint T = p.tokens, D = p.head_dim, C = p.heads * D;
  const uint which = MODE == ATTENTION_PLAIN_VALUES ? 3u : gl_WorkGroupID.x % 3u;  // 0: dQ, 1: dK, 2: dV, 3: y
  const uint d0 = (MODE == ATTENTION_PLAIN_VALUES ? gl_WorkGroupID.x : gl_WorkGroupID.x / 3u) * TC;
  const uint row0 = gl_WorkGroupID.y * TR;
  const uint row = row0 + gl_LocalInvocationID.y, d = d0 + gl_LocalInvocationID.x;
  const uint causal_end = min(row0 + TR, T);  // keys j <= the block's last query row
  float value;
  switch (which) {
    case 0u: value = p.scale * TileProduct(OP_GRAD_S, false, OP_K, false, row0, d0, D, 0u, causal_end, b, h, bh); break;
    case 1u: value = p.scale * TileProduct(OP_GRAD_S, true, OP_Q, false, row0, d0, D, row0, T, b, h, bh); break;
    case 2u: value = TileProduct(OP_P, true, OP_GRAD_Y, false, row0, d0, D, row0, T, b, h, bh); break;
    default: value = TileProduct(OP_P, false, OP_V, false, row0, d0, D, 0u, causal_end, b, h, bh); break;
  }
  if (row >= T || d >= D) return;
  if (which == 3u) out_[(b * T + row) * C + h * D + d] = value;
  else out_[(b * T + row) * 3u * C + which * C + h * D + d] = value;
}

void main() {
  // Heads are grid-strided along z (the host caps the count at the device limit).
  for (uint bh = gl_WorkGroupID.z; bh < p.batch_heads; bh += gl_NumWorkGroups.z) {
    uint b = bh / p.heads, h = bh % p.heads;
    if (MODE == ATTENTION_PLAIN_SCORES || MODE == ATTENTION_PLAIN_GRAD_SCORES) RowPass(b, h, bh);
    else MatmulPass(b, h, bh);
  }
}
