#version 450
// Inference of a small dense network in one dispatch: every invocation runs
// all layers for kRows input rows, their activations in registers, so no
// layer's output goes through memory. Every invocation reads the same weights
// in the same order; one vec4 of weights (four output columns of one input)
// serves 4 x kRows FMAs, which amortises the weight reads (texel fetches:
// costly on lavapipe, where they dominated a one-row kernel; cached on GPUs).
// Which kRows is fastest depends on the device: FusedMlpInference measures.
//
// Layer widths and activations are specialization constants; all loops run to
// them and are unrolled, so the per-row arrays become registers.
//   0: workgroup size         1: dense layers L (1..MLP_INFER_MAX_LAYERS)
//   2..6: widths W0 (inputs) .. W4      7..10: activation after dense layer 1..4
//   11: rows per invocation   12: leaky-ReLU slope (float bits)
//   13: head (MLP_INFER_HEAD_*)
// Weights (RGBA32F texels): for each layer l, its weight as W[l-1] rows of
// ceil(W[l] / 4) vec4s (Y = X W; columns past W[l] are zero), then its bias
// as ceil(W[l] / 4) vec4s.
// FLOPs per row: sum over layers of 2 W[l-1] W[l] (each output starts from its bias).
#extension GL_EXT_control_flow_attributes : require
#extension GL_EXT_samplerless_texture_functions : require
#include "mlp_infer.h"
#include "bias_act.h"
#include "activation.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint kLayers = 3u;
layout(constant_id = 2) const uint kWidth0 = 2u;
layout(constant_id = 3) const uint kWidth1 = 1u;
layout(constant_id = 4) const uint kWidth2 = 1u;
layout(constant_id = 5) const uint kWidth3 = 1u;
layout(constant_id = 6) const uint kWidth4 = 1u;
layout(constant_id = 7) const uint kActivation1 = ACTIVATION_IDENTITY;
layout(constant_id = 8) const uint kActivation2 = ACTIVATION_IDENTITY;
layout(constant_id = 9) const uint kActivation3 = ACTIVATION_IDENTITY;
layout(constant_id = 10) const uint kActivation4 = ACTIVATION_IDENTITY;
layout(constant_id = 11) const uint kRows = 4u;
layout(constant_id = 12) const float kLeakySlope = 0.01;
layout(constant_id = 13) const uint kHead = MLP_INFER_HEAD_SOFTMAX;

layout(binding = 0) uniform textureBuffer inputs;   // (points x W0), R32F
layout(binding = 1) uniform textureBuffer weights;  // RGBA32F, the layout above
layout(std430, binding = 2) writeonly buffer Outputs { float outputs[]; };  // (points x W[L])
layout(push_constant) uniform Push { MlpInferParams p; };

const uint kMaxVec4s = MLP_INFER_MAX_WIDTH / 4u;
// Offsets of each layer's weights in vec4s.
const uint kOffset1 = 0u;
const uint kOffset2 = kOffset1 + (kWidth0 + 1u) * ((kWidth1 + 3u) / 4u);
const uint kOffset3 = kOffset2 + (kWidth1 + 1u) * ((kWidth2 + 3u) / 4u);
const uint kOffset4 = kOffset3 + (kWidth2 + 1u) * ((kWidth3 + 3u) / 4u);

vec4 Weights(uint index) { return texelFetch(weights, int(index)); }

// acc[r] += src[r][i] * w for the rows of one invocation.
#define ACCUMULATE(src, i, w) \
  [[unroll]] for (uint r = 0u; r < kRows; ++r) acc[r] = fma(vec4(src[r][(i) / 4u][(i) % 4u]), w, acc[r]);

// dst = act(src W + b) for kRows rows, four output columns at a time; every
// index is a constant once the loops are unrolled.
#define ACCUMULATE_LAYER(src, IN, OUT4, OFFSET, o4)                                    \
    [[unroll]] for (uint i = 0u; i < IN; ++i) { ACCUMULATE(src, i, Weights(OFFSET + i * OUT4 + o4)) }

#define DENSE(src, dst, IN, OUT, OFFSET, ACT)                                          \
  [[unroll]] for (uint o4 = 0u; o4 < (OUT + 3u) / 4u; ++o4) {                          \
    const vec4 bias = Weights(OFFSET + IN * ((OUT + 3u) / 4u) + o4);                   \
    vec4 acc[kRows];                                                                   \
    [[unroll]] for (uint r = 0u; r < kRows; ++r) acc[r] = bias;                        \
    ACCUMULATE_LAYER(src, IN, ((OUT + 3u) / 4u), OFFSET, o4)                           \
    [[unroll]] for (uint r = 0u; r < kRows; ++r)                                       \
      [[unroll]] for (uint c = 0u; c < 4u; ++c) dst[r][o4][c] = ActivateAs(ACT, acc[r][c], kLeakySlope); \
  }

void main() {
  // Invocations past the end compute the last row again and write nothing.
  const uint first = gl_GlobalInvocationID.x * kRows;
  vec4 a[kRows][kMaxVec4s], b[kRows][kMaxVec4s];
    [[unroll]] for (uint r = 0u; r < kRows; ++r) {
    const uint row = min(first + r, p.points - 1u);
    [[unroll]] for (uint i = 0u; i < kWidth0; ++i) a[r][i / 4u][i % 4u] = texelFetch(inputs, int(row * kWidth0 + i)).x;
  }
  DENSE(a, b, kWidth0, kWidth1, kOffset1, kActivation1)
  if (kLayers >= 2u) { DENSE(b, a, kWidth1, kWidth2, kOffset2, kActivation2) }
  if (kLayers >= 3u) { DENSE(a, b, kWidth2, kWidth3, kOffset3, kActivation3) }
  if (kLayers >= 4u) { DENSE(b, a, kWidth3, kWidth4, kOffset4, kActivation4) }
  const uint width = kLayers == 1u ? kWidth1 : kLayers == 2u ? kWidth2 : kLayers == 3u ? kWidth3 : kWidth4;
  [[unroll]] for (uint r = 0u; r < kRows; ++r) {
    const uint row = first + r;
    if (row >= p.points) break;
    // The last layer's output is in b after an odd number of layers, else in a.
    float y[MLP_INFER_MAX_WIDTH];
    [[unroll]] for (uint o = 0u; o < width; ++o) y[o] = (kLayers % 2u) == 1u ? b[r][o / 4u][o % 4u] : a[r][o / 4u][o % 4u];
    if (kHead == MLP_INFER_HEAD_SOFTMAX) {
      float top = y[0];
      [[unroll]] for (uint o = 1u; o < width; ++o) top = max(top, y[o]);
      float sum = 0.0;
      [[unroll]] for (uint o = 0u; o < width; ++o) {
        y[o] = exp(y[o] - top);
        sum += y[o];
      }
      [[unroll]] for (uint o = 0u; o < width; ++o) y[o] /= sum;
    } else if (kHead == MLP_INFER_HEAD_SIGMOID) {
      [[unroll]] for (uint o = 0u; o < width; ++o) y[o] = Sigmoid(y[o]);
    }
    [[unroll]] for (uint o = 0u; o < width; ++o) outputs[row * width + o] = y[o];
  }
}
