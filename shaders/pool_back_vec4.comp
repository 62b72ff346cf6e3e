#version 450
// pool_back.comp for channels % 4 == 0: an invocation handles a block of
// consecutive channel quads (channels_per_block quads of 4 channels) of one
// input pixel, as a gather over the output windows that cover it (overlapping
// windows need no atomics; the result does not depend on execution order).
// grad_out and argmax are read through uniform texel buffers (RGBA32F and
// RGBA32UI: vectorised fetches on lavapipe, where storage-buffer loads go
// lane by lane); each quad of grad_in is written as one vec4. Same results
// as pool_back.comp, channel by channel (the same adds in the same order):
//   max:     grad_in[i] = sum of grad_out[o] over covering windows o whose argmax is i
//   average: grad_in[i] = (sum of grad_out[o] over covering windows) / (window_h * window_w)
// PoolParams as for pool_vec4.comp (channels_per_block, channel_blocks in quads).
#extension GL_EXT_samplerless_texture_functions : require
#include "pool.h"

layout(local_size_x_id = 0) in;  // workgroup size: specialization constant 0
layout(constant_id = 1) const uint kPool = POOL_MAX;

layout(binding = 0) uniform textureBuffer grad_out;                          // (N, OH, OW, C / 4) RGBA32F
layout(binding = 1) uniform utextureBuffer argmax;                           // (N, OH, OW, C / 4) RGBA32UI, max only
layout(std430, binding = 2) writeonly buffer GradIn { vec4 grad_in[]; };     // (N, H, W, C / 4)
layout(push_constant) uniform Push { PoolParams p; };

// The output indices along one axis whose windows cover input coordinate
// `position`: [first, last); empty when first >= last.
uvec2 CoveringWindows(uint position, uint pad, uint window, uint stride, uint out_size) {
  int from = int(position + pad) - int(window) + 1;  // may be negative
  uint first = from <= 0 ? 0u : (uint(from) + stride - 1u) / stride;
  uint last = min((position + pad) / stride + 1u, out_size);
  return uvec2(first, last);
}

void main() {
  const uint quads = p.channels / 4u;
  uint items = p.batch * p.in_height * p.in_width * p.channel_blocks;
  uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  for (uint item = gl_GlobalInvocationID.x; item < items; item += stride) {
    uint pixel = item / p.channel_blocks;  // (n, y, x) of the input
    uint q_begin = (item - pixel * p.channel_blocks) * p.channels_per_block;
    uint q_end = min(q_begin + p.channels_per_block, quads);
    uint x = pixel % p.in_width;
    uint y = (pixel / p.in_width) % p.in_height;
    uint n = pixel / (p.in_width * p.in_height);
    uvec2 rows = CoveringWindows(y, p.pad_top, p.window_h, p.stride_h, p.out_height);
    uvec2 cols = CoveringWindows(x, p.pad_left, p.window_w, p.stride_w, p.out_width);
    for (uint q = q_begin; q < q_end; ++q) {
      uint t = pixel * quads + q;  // texel of grad_in
      uvec4 elements = t * 4u + uvec4(0u, 1u, 2u, 3u);
      vec4 sum = vec4(0.0);
      for (uint oy = rows.x; oy < rows.y; ++oy) {
        for (uint ox = cols.x; ox < cols.y; ++ox) {
          int o = int(((n * p.out_height + oy) * p.out_width + ox) * quads + q);
          vec4 g = texelFetch(grad_out, o);
          if (kPool == POOL_MAX) {
            // Adding +0 where the window's maximum is elsewhere leaves the sum
            // exactly as pool_back.comp's skipped add (the sum is never -0).
            sum += mix(vec4(0.0), g, equal(texelFetch(argmax, o), elements));
          } else {
            sum += g;
          }
        }
      }
      grad_in[t] = kPool == POOL_MAX ? sum : sum / float(p.window_h * p.window_w);
    }
  }
}
