// The body of embedding.comp (EMB_VALUE float: one column per lane) and
// embedding_vec4.comp (EMB_VALUE vec4: four, for C % 4 == 0 and 16-byte
// aligned tensors):
//   y[r][c] = wte[tokens[r]][c] + wpe[t][c]     rows r = b*T + t
// and NaN across row r when tokens[r] >= vocab (bad data, which the metrics
// flag). A 3D grid: column lanes along x (neighbouring lanes, neighbouring
// addresses), positions t along y, samples b along z, so no invocation
// divides (integer division has no vector instruction on CPU drivers).
#include "embedding.h"

#ifndef EMB_VALUE
#define EMB_VALUE float
#define EMB_WIDTH 1u
#endif

layout(local_size_x_id = 0, local_size_y_id = 1) in;  // lanes along columns (0) x positions (1)

layout(std430, binding = 0) readonly buffer Tokens { uint tokens[]; };  // (rows)
layout(std430, binding = 1) readonly buffer Wte { EMB_VALUE wte[]; };   // (vocab, C)
layout(std430, binding = 2) readonly buffer Wpe { EMB_VALUE wpe[]; };   // (T, C)
layout(std430, binding = 3) writeonly buffer Y { EMB_VALUE y[]; };      // (rows, C)
layout(push_constant) uniform Push { EmbeddingParams p; };

void main() {
  const EMB_VALUE nan_value = EMB_VALUE(uintBitsToFloat(0x7fc00000u));
  const uint T = p.tokens_per_sample, lanes = p.width / EMB_WIDTH;
  const uint samples = p.rows / T;
  for (uint b = gl_WorkGroupID.z; b < samples; b += gl_NumWorkGroups.z) {
    for (uint t = gl_GlobalInvocationID.y; t < T; t += gl_NumWorkGroups.y * gl_WorkGroupSize.y) {
      uint r = b * T + t;
      uint token = EmbeddingTokenId(tokens[r], p.float_tokens);
      bool valid = token < p.vocab;
      uint token_base = (valid ? token : 0u) * lanes, position_base = t * lanes, row_base = r * lanes;
      for (uint c = gl_GlobalInvocationID.x; c < lanes; c += gl_NumWorkGroups.x * gl_WorkGroupSize.x)
        y[row_base + c] = valid ? wte[token_base + c] + wpe[position_base + c] : nan_value;
    }
  }
}
