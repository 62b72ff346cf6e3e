// The body of pool_back.comp (fp32) and pool_back_f16.comp (POOL_STORED
// float16_t: fp16 grad_out and grad_in, fp32 sums; argmax stays uint32). See pool_back.comp.
#include "pool.h"

#ifndef POOL_STORED
#define POOL_STORED float
#endif

layout(local_size_x_id = 0) in;  // workgroup size: specialization constant 0
layout(constant_id = 1) const uint kPool = POOL_MAX;

layout(std430, binding = 0) readonly buffer GradOut { POOL_STORED grad_out[]; };  // (N, OH, OW, C)
layout(std430, binding = 1) readonly buffer Argmax { uint argmax[]; };      // (N, OH, OW, C), max only
layout(std430, binding = 2) writeonly buffer GradIn { POOL_STORED grad_in[]; }; // (N, H, W, C)
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
  uint items = p.batch * p.in_height * p.in_width * p.channel_blocks;
  uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  for (uint item = gl_GlobalInvocationID.x; item < items; item += stride) {
    uint pixel = item / p.channel_blocks;  // (n, y, x) of the input
    uint c_begin = (item - pixel * p.channel_blocks) * p.channels_per_block;
    uint c_end = min(c_begin + p.channels_per_block, p.channels);
    uint x = pixel % p.in_width;
    uint y = (pixel / p.in_width) % p.in_height;
    uint n = pixel / (p.in_width * p.in_height);
    uvec2 rows = CoveringWindows(y, p.pad_top, p.window_h, p.stride_h, p.out_height);
    uvec2 cols = CoveringWindows(x, p.pad_left, p.window_w, p.stride_w, p.out_width);
    for (uint c = c_begin; c < c_end; ++c) {
      uint i = pixel * p.channels + c;
      float sum = 0.0;
      for (uint oy = rows.x; oy < rows.y; ++oy) {
        for (uint ox = cols.x; ox < cols.y; ++ox) {
          uint o = ((n * p.out_height + oy) * p.out_width + ox) * p.channels + c;
          if (kPool == POOL_MAX) {
            if (argmax[o] == i) sum += float(grad_out[o]);
          } else {
            sum += float(grad_out[o]);
          }
        }
      }
      grad_in[i] = POOL_STORED(kPool == POOL_MAX ? sum : sum / float(p.window_h * p.window_w));
    }
  }
}
