// Push constants and pass codes of attention.comp (the plain path) and
// attention_fused.comp (the flash-attention path), shared by GLSL and C++.
// See compute/kernels/attention.h for the layouts.
#ifndef TENSORSCOPE_SHADERS_ATTENTION_H
#define TENSORSCOPE_SHADERS_ATTENTION_H
#include "shared_types.h"
TS_SHADER_NAMESPACE_BEGIN

struct AttentionParams {
  uint batch_heads;  // B * H; head bh = b * H + h
  uint tokens;       // T
  uint heads;        // H
  uint head_dim;     // D (attention_fused.comp takes D as a specialization constant too)
  float scale;       // S = scale * q . k (never 0 here: the host resolves the default)
};
TS_CHECK_PUSH_LAYOUT(AttentionParams, 5)

// attention.comp's passes (its mode specialization constant).
const uint ATTENTION_PLAIN_SCORES = 0u;  // S -> causal softmax -> P (out)
const uint ATTENTION_PLAIN_VALUES = 1u;  // y = P V (out)
const uint ATTENTION_PLAIN_GRAD_SCORES = 2u;  // dP = dy V^T -> dS = P (dP - rowsum(P dP)) (out)
const uint ATTENTION_PLAIN_GRAD_QKV = 3u;     // dQ = scale dS K, dK = scale dS^T Q, dV = P^T dy (out)

// attention_fused.comp's passes.
const uint ATTENTION_FUSED_FORWARD = 0u;   // y and log-sum-exp, online softmax over key blocks
const uint ATTENTION_FUSED_GRAD_Q = 1u;    // row_dot = dy . y, then dQ per query row
const uint ATTENTION_FUSED_GRAD_KV = 2u;   // dK, dV per key row over query rows i >= j

TS_SHADER_NAMESPACE_END
#endif
