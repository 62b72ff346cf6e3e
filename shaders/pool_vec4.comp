#version 450
// pool.comp for channels % 4 == 0: an invocation computes a block of
// consecutive channel quads (4 channels each, channels_per_block quads) of
// one output pixel. The input is read through a uniform texel buffer
// (RGBA32F: a vectorised fetch on lavapipe, where storage-buffer loads go
// lane by lane), and each quad's result is written as one vec4 (and one
// uvec4 of argmax). Same results as pool.comp, channel by channel:
//   max:     out = max over the window's in-bounds elements; argmax = that
//            element's index in the input (not the texel's). Ties and NaN
//            follow PyTorch: the first maximum in row-major window order wins,
//            and a NaN wins over any number (a later NaN over an earlier one).
//   average: out = (compensated sum of the in-bounds elements) / (window_h * window_w)
//            (count_include_pad=True).
// PoolParams are as for pool.comp except that channels_per_block and
// channel_blocks count quads; channels is still the channel count.
// The host guarantees every window overlaps the input (padding < window).
#extension GL_EXT_samplerless_texture_functions : require
#include "pool.h"

layout(local_size_x_id = 0) in;  // workgroup size: specialization constant 0
layout(constant_id = 1) const uint kPool = POOL_MAX;

layout(binding = 0) uniform textureBuffer in_;                              // (N, H, W, C / 4) RGBA32F
layout(std430, binding = 1) writeonly buffer Out { vec4 out_[]; };          // (N, OH, OW, C / 4)
layout(std430, binding = 2) writeonly buffer Argmax { uvec4 argmax[]; };    // (N, OH, OW, C / 4), max only
layout(push_constant) uniform Push { PoolParams p; };

// NaN test on the bits, which fast-math assumptions cannot fold away.
bvec4 IsNan(vec4 x) { return greaterThan(floatBitsToUint(x) & 0x7fffffffu, uvec4(0x7f800000u)); }

void main() {
  const uint quads = p.channels / 4u;
  uint items = p.batch * p.out_height * p.out_width * p.channel_blocks;
  uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  for (uint item = gl_GlobalInvocationID.x; item < items; item += stride) {
    uint pixel = item / p.channel_blocks;  // (n, oy, ox) of the output
    uint q_begin = (item - pixel * p.channel_blocks) * p.channels_per_block;
    uint q_end = min(q_begin + p.channels_per_block, quads);
    uint ox = pixel % p.out_width;
    uint oy = (pixel / p.out_width) % p.out_height;
    uint n = pixel / (p.out_width * p.out_height);
    // The window clipped to the input: rows [y_begin, y_end), columns [x_begin, x_end).
    int y0 = int(oy * p.stride_h) - int(p.pad_top);
    int x0 = int(ox * p.stride_w) - int(p.pad_left);
    uint y_begin = uint(max(y0, 0)), y_end = uint(min(y0 + int(p.window_h), int(p.in_height)));
    uint x_begin = uint(max(x0, 0)), x_end = uint(min(x0 + int(p.window_w), int(p.in_width)));
    uint image = n * p.in_height;
    for (uint q = q_begin; q < q_end; ++q) {
      uint o = pixel * quads + q;
      if (kPool == POOL_MAX) {
        // Texel indices of each channel's best so far; element index = texel * 4 + lane.
        uint first = ((image + y_begin) * p.in_width + x_begin) * quads + q;
        uvec4 best_texel = uvec4(first);
        vec4 best = texelFetch(in_, int(first));
        for (uint y = y_begin; y < y_end; ++y) {
          for (uint x = x_begin; x < x_end; ++x) {
            uint t = ((image + y) * p.in_width + x) * quads + q;
            vec4 v = texelFetch(in_, int(t));
            bvec4 wins = bvec4(uvec4(greaterThan(v, best)) | uvec4(IsNan(v)));
            best = mix(best, v, wins);
            best_texel = mix(best_texel, uvec4(t), wins);
          }
        }
        out_[o] = best;
        argmax[o] = best_texel * 4u + uvec4(0u, 1u, 2u, 3u);
      } else {
        // Compensated (Kahan) sum: a global pool adds H*W terms. `precise` keeps
        // the compiler from simplifying the compensation away.
        precise vec4 sum = vec4(0.0), compensation = vec4(0.0);
        for (uint y = y_begin; y < y_end; ++y) {
          for (uint x = x_begin; x < x_end; ++x) {
            precise vec4 term = texelFetch(in_, int(((image + y) * p.in_width + x) * quads + q)) - compensation;
            precise vec4 next = sum + term;
            compensation = (next - sum) - term;
            sum = next;
          }
        }
        out_[o] = sum / float(p.window_h * p.window_w);
      }
    }
  }
}
