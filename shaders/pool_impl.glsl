// The body of pool.comp (fp32) and pool_f16.comp (POOL_STORED float16_t:
// fp16 input and output, fp32 arithmetic; argmax stays uint32). See pool.comp.
#include "pool.h"

#ifndef POOL_STORED
#define POOL_STORED float
#endif

layout(local_size_x_id = 0) in;  // workgroup size: specialization constant 0
layout(constant_id = 1) const uint kPool = POOL_MAX;

layout(std430, binding = 0) readonly buffer In { POOL_STORED in_[]; };    // (N, H, W, C)
layout(std430, binding = 1) writeonly buffer Out { POOL_STORED out_[]; }; // (N, OH, OW, C)
layout(std430, binding = 2) writeonly buffer Argmax { uint argmax[]; };   // (N, OH, OW, C), max only
layout(push_constant) uniform Push { PoolParams p; };

// NaN test on the bits, which fast-math assumptions cannot fold away.
bool IsNan(float x) { return (floatBitsToUint(x) & 0x7fffffffu) > 0x7f800000u; }

void main() {
  uint items = p.batch * p.out_height * p.out_width * p.channel_blocks;
  uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  for (uint item = gl_GlobalInvocationID.x; item < items; item += stride) {
    uint pixel = item / p.channel_blocks;  // (n, oy, ox) of the output
    uint c_begin = (item - pixel * p.channel_blocks) * p.channels_per_block;
    uint c_end = min(c_begin + p.channels_per_block, p.channels);
    uint ox = pixel % p.out_width;
    uint oy = (pixel / p.out_width) % p.out_height;
    uint n = pixel / (p.out_width * p.out_height);
    // The window clipped to the input: rows [y_begin, y_end), columns [x_begin, x_end).
    int y0 = int(oy * p.stride_h) - int(p.pad_top);
    int x0 = int(ox * p.stride_w) - int(p.pad_left);
    uint y_begin = uint(max(y0, 0)), y_end = uint(min(y0 + int(p.window_h), int(p.in_height)));
    uint x_begin = uint(max(x0, 0)), x_end = uint(min(x0 + int(p.window_w), int(p.in_width)));
    uint image = n * p.in_height;
    for (uint c = c_begin; c < c_end; ++c) {
      uint o = pixel * p.channels + c;
      if (kPool == POOL_MAX) {
        uint best_index = ((image + y_begin) * p.in_width + x_begin) * p.channels + c;
        float best = float(in_[best_index]);
        for (uint y = y_begin; y < y_end; ++y) {
          for (uint x = x_begin; x < x_end; ++x) {
            uint i = ((image + y) * p.in_width + x) * p.channels + c;
            float v = float(in_[i]);
            if (v > best || IsNan(v)) {
              best = v;
              best_index = i;
            }
          }
        }
        out_[o] = POOL_STORED(best);
        argmax[o] = best_index;
      } else {
        // Compensated (Kahan) sum: a global pool adds H*W terms. `precise` keeps
        // the compiler from simplifying the compensation away.
        precise float sum = 0.0, compensation = 0.0;
        for (uint y = y_begin; y < y_end; ++y) {
          for (uint x = x_begin; x < x_end; ++x) {
            precise float term = float(in_[((image + y) * p.in_width + x) * p.channels + c]) - compensation;
            precise float next = sum + term;
            compensation = (next - sum) - term;
            sum = next;
          }
        }
        out_[o] = POOL_STORED(sum / float(p.window_h * p.window_w));
      }
    }
  }
}
