#version 450
// MaxPool2D / AvgPool2D forward over NHWC tensors. An invocation computes a
// block of consecutive channels of one output pixel (grid-stride over
// pixel x block); neighbouring invocations are neighbouring channel blocks,
// so their loads are nearby addresses.
//   max:     out = max over the window's in-bounds elements (padding is -inf,
//            so it never wins); argmax = that element's index in the input.
//            Ties and NaN follow PyTorch: the first maximum in row-major
//            window order wins, and a NaN wins over any number.
//   average: out = (sum over in-bounds elements) / (window_h * window_w):
//            padded zeros count in the divisor (PyTorch's count_include_pad=True).
// The host guarantees every window overlaps the input (padding < window).
#include "pool.h"

layout(local_size_x_id = 0) in;  // workgroup size: specialization constant 0
layout(constant_id = 1) const uint kPool = POOL_MAX;

layout(std430, binding = 0) readonly buffer In { float in_[]; };          // (N, H, W, C)
layout(std430, binding = 1) writeonly buffer Out { float out_[]; };       // (N, OH, OW, C)
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
        float best = in_[best_index];
        for (uint y = y_begin; y < y_end; ++y) {
          for (uint x = x_begin; x < x_end; ++x) {
            uint i = ((image + y) * p.in_width + x) * p.channels + c;
            float v = in_[i];
            if (v > best || IsNan(v)) {
              best = v;
              best_index = i;
            }
          }
        }
        out_[o] = best;
        argmax[o] = best_index;
      } else {
        // Compensated (Kahan) sum: a global pool adds H*W terms. `precise` keeps
        // the compiler from simplifying the compensation away.
        precise float sum = 0.0, compensation = 0.0;
        for (uint y = y_begin; y < y_end; ++y) {
          for (uint x = x_begin; x < x_end; ++x) {
            precise float term = in_[((image + y) * p.in_width + x) * p.channels + c] - compensation;
            precise float next = sum + term;
            compensation = (next - sum) - term;
            sum = next;
          }
        }
        out_[o] = sum / float(p.window_h * p.window_w);
      }
    }
  }
}
