#version 450
// The compute-ceiling micro-benchmark: every invocation runs FMA_CHAINS
// independent vec4 multiply-add chains for kIterations steps (independent so
// the hardware's pipelines stay full), then writes their sum, so nothing is
// optimised away. FLOPs = invocations x kIterations x FMA_CHAINS x 4 lanes x 2.
// kIterations stays far below 65 535: lavapipe ends longer shader loops.
#extension GL_EXT_control_flow_attributes : require
#include "fma_chain.h"

layout(local_size_x_id = 0) in;  // workgroup size: specialization constant 0
layout(constant_id = 1) const uint kIterations = 1024u;

layout(std430, binding = 0) writeonly buffer Result { vec4 result[]; };  // (invocations)
layout(push_constant) uniform Push { FmaChainParams p; };

void main() {
  uint id = gl_GlobalInvocationID.x;
  if (id >= p.invocations) return;
  vec4 x[FMA_CHAINS];
  for (uint k = 0u; k < FMA_CHAINS; ++k) x[k] = vec4(float(k), float(k) + 0.25, float(k) + 0.5, float(k) + 0.75);
  for (uint i = 0u; i < kIterations; ++i) {
    [[unroll]] for (uint k = 0u; k < FMA_CHAINS; ++k) x[k] = fma(x[k], vec4(p.multiplier), vec4(p.addend));
  }
  vec4 sum = vec4(0.0);
  for (uint k = 0u; k < FMA_CHAINS; ++k) sum += x[k];
  result[id] = sum;
}
