// The body of embedding_back_position.comp (EMB_VALUE float: one column per
// lane) and embedding_back_position_vec4.comp (vec4: four, for C % 4 == 0 and
// 16-byte aligned tensors): the position-embedding gradient, deterministic:
//   dwpe[t][c] = sum over b of dy[b*T + t][c]
// One invocation per (t, column lane): lanes along x (coalesced), positions
// along y, each summing its B rows in order.
#include "embedding.h"

#ifndef EMB_VALUE
#define EMB_VALUE float
#define EMB_WIDTH 1u
#endif

layout(local_size_x_id = 0, local_size_y_id = 1) in;  // lanes along columns (0) x positions (1)

layout(std430, binding = 0) readonly buffer GradY { EMB_VALUE grad_y[]; };       // (rows, C)
layout(std430, binding = 1) writeonly buffer GradWpe { EMB_VALUE grad_wpe[]; };  // (T, C)
layout(push_constant) uniform Push { EmbeddingParams p; };

// lavapipe ends any loop after 65535 iterations: long sums run in chunks.
const uint kChunk = 16384u;

void main() {
  const uint T = p.tokens_per_sample, lanes = p.width / EMB_WIDTH;
  const uint samples = p.rows / T;  // B
  const uint row_stride = T * lanes;
  for (uint t = gl_GlobalInvocationID.y; t < T; t += gl_NumWorkGroups.y * gl_WorkGroupSize.y) {
    for (uint c = gl_GlobalInvocationID.x; c < lanes; c += gl_NumWorkGroups.x * gl_WorkGroupSize.x) {
      EMB_VALUE sum = EMB_VALUE(0.0);
      uint index = t * lanes + c;
      for (uint start = 0u; start < samples; start += kChunk) {
        uint end = min(samples, start + kChunk);
        for (uint b = start; b < end; ++b, index += row_stride) sum += grad_y[index];
      }
      grad_wpe[t * lanes + c] = sum;
    }
  }
}
