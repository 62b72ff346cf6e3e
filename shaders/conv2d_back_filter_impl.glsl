// The body of conv2d_back_filter.comp (fp32) and conv2d_back_filter_f16.comp
// (CONV2D_FP16: X and dY stored as fp16; dW, the master gradient, stays fp32,
// as do the sums); see conv2d_back_filter.comp.
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_shader_subgroup_shuffle : require
#extension GL_EXT_samplerless_texture_functions : require
#include "conv2d.h"

#include "conv2d_storage.glsl"  // the stored type of the tensors named above

layout(local_size_x_id = 0, local_size_y_id = 1) in;
layout(constant_id = 0) const uint kGroupCols = 8;  // workgroup size along Cout (x)
layout(constant_id = 1) const uint kGroupRows = 1;  // workgroup size along filter rows (y)
layout(constant_id = 2) const uint RM = 32;         // filter rows per invocation
layout(constant_id = 3) const uint RN = 4;          // output channels per invocation
// How many invocations along x share their loads of X through subgroup
// shuffles (1: none). Divides RM; with kVec4X, RM / kShareA is a multiple of 4.
layout(constant_id = 4) const uint kShareA = 1;
// X may be read as vec4s along channels: aligned binding, Cin % 4 == 0, RM % 4 == 0.
layout(constant_id = 5) const bool kVec4X = false;
// dY may be read as vec4s along Cout: aligned binding, Cout % 4 == 0, RN % 4 == 0.
layout(constant_id = 6) const bool kVec4Dy = false;
// The vec4 loads through RGBA32F (fp16: RGBA16F) texel views of the same bytes (bindings 3
// and 4) instead of storage buffers: lavapipe gathers a texel fetch for all
// lanes at once but loops over lanes for a storage load (see matmul.comp).
layout(constant_id = 7) const bool kTexelX = false;  // only with kVec4X
layout(constant_id = 8) const bool kTexelDy = false;  // only with kVec4Dy

layout(std430, binding = 0) readonly buffer Input { CONV2D_STORED x[]; };           // (N, H, W, Cin)
layout(std430, binding = 0) readonly buffer Input4 { CONV2D_STORED4 x4[]; };
layout(std430, binding = 1) readonly buffer GradOutput { CONV2D_STORED dy[]; };     // (N, OH, OW, Cout)
layout(std430, binding = 1) readonly buffer GradOutput4 { CONV2D_STORED4 dy4[]; };
layout(std430, binding = 2) writeonly buffer GradFilter { float dw[]; };            // (KH, KW, Cin, Cout)
layout(binding = 3) uniform textureBuffer x_texels;  // the input as vec4s (kTexelX)
layout(binding = 4) uniform textureBuffer dy_texels;  // the output gradient as vec4s (kTexelDy)
layout(push_constant) uniform Push { Conv2DParams p; };

// The vec4 at index i of a vec4 view, through whichever binding the host chose.
vec4 LoadX4(uint i) { return kTexelX ? texelFetch(x_texels, int(i)) : vec4(x4[i]); }
vec4 LoadDy4(uint i) { return kTexelDy ? texelFetch(dy_texels, int(i)) : vec4(dy4[i]); }

// Output pixel (n, oh, ow) as the cursor walks them in order: n * H, and the
// input row and column of its window's top-left tap (possibly in the padding).
struct Cursor {
  uint oh, ow;
  int image_row, top, left;
};

Cursor Advance(Cursor c) {
  c.ow += 1;
  c.left += int(p.stride_w);
  if (c.ow == p.out_width) {
    c.ow = 0;
    c.left = -int(p.pad_left);
    c.oh += 1;
    c.top += int(p.stride_h);
    if (c.oh == p.out_height) {
      c.oh = 0;
      c.top = -int(p.pad_top);
      c.image_row += int(p.in_height);
    }
  }
  return c;
}

// A filter row's tap and first channel.
struct Tap {
  uint kh, kw, ci;
};

Tap TapOf(uint k) {
  uint ci = k % p.in_channels, kk = k / p.in_channels;
  return Tap(kk / p.kernel_width, kk % p.kernel_width, ci);
}

// Offset of X[n][ih][iw][tap.ci] under the cursor's window, and whether it is
// an input position inside the image for a live pixel (one before P). Outside,
// the offset is 0, a safe load whose value the caller replaces with zero.
uint InputOffset(Cursor c, Tap tap, bool live, out bool inside) {
  int ih = c.top + int(tap.kh), iw = c.left + int(tap.kw);
  inside = live && uint(ih) < p.in_height && uint(iw) < p.in_width;  // negative wraps to huge
  return inside ? (uint(c.image_row + ih) * p.in_width + uint(iw)) * p.in_channels + tap.ci : 0u;
}

float Dot4(vec4 a, vec4 b, float sum) { return fma(a.w, b.w, fma(a.z, b.z, fma(a.y, b.y, fma(a.x, b.x, sum)))); }

float FromLane(float value, uint first_lane, uint lane) {
  return kShareA == 1 ? value : subgroupShuffle(value, first_lane + lane);
}
vec4 FromLane(vec4 value, uint first_lane, uint lane) {
  return kShareA == 1 ? value : subgroupShuffle(value, first_lane + lane);
}

// Each invocation of a share group gathers kOwnRows filter rows of A, at all
// four pixels of a step: rows row0 + lane * kOwnRows + t. With kVec4X they are
// kOwnGroups groups of four consecutive rows (one tap, four channels).
const uint kOwnRows = RM / kShareA;
const uint kOwnGroups = kOwnRows >= 4 ? kOwnRows / 4 : 1;  // (never 0, even where unused)

void main() {
  uint rows = p.kernel_height * p.kernel_width * p.in_channels;
  uint pixels = p.batch * p.out_height * p.out_width;
  uint row0 = (gl_WorkGroupID.y * kGroupRows + gl_LocalInvocationID.y) * RM;
  uint col0 = (gl_WorkGroupID.x * kGroupCols + gl_LocalInvocationID.x) * RN;
  // Safe to leave: no barriers, and a whole share group has the same row0.
  if (row0 >= rows || (kShareA == 1 && col0 >= p.out_channels)) return;
  uint lane = gl_SubgroupInvocationID % kShareA, first_lane = gl_SubgroupInvocationID - lane;
  uint own_row0 = row0 + lane * kOwnRows;

  // Taps of the rows (or groups of four rows) this invocation gathers; rows
  // past the last re-read the last ones (never stored).
  Tap own[kVec4X ? kOwnGroups : kOwnRows];
  [[unroll]] for (uint t = 0; t < (kVec4X ? kOwnGroups : kOwnRows); ++t)
    own[t] = TapOf(kVec4X ? min(own_row0 + 4 * t, rows - 4) : min(own_row0 + t, rows - 1));
  // Columns past Cout re-read the last (never stored).
  uint col[RN];
  [[unroll]] for (uint j = 0; j < RN; ++j) col[j] = min(col0 + j, p.out_channels - 1);

  float acc[RM * RN];
  [[unroll]] for (uint e = 0; e < RM * RN; ++e) acc[e] = 0.0;

  // Four pixels per iteration; pixels past P (in the last iteration only) read
  // as zero in A and as the last pixel in dY. chunk_a[i][s] = im2col(X)[q + s]
  // [row0 + i]; chunk_b[j][s] = dY[q + s][col0 + j]. Invocation-owned values,
  // mine[4 * t + s] (vec4: four rows of group t at step s) or mine[t] (vec4:
  // row t at the four steps), are indexed by constants once unrolled.
  Cursor cursor = Cursor(0u, 0u, 0, -int(p.pad_top), -int(p.pad_left));
  vec4 chunk_a[RM], chunk_b[RN];
  vec4 mine[kVec4X ? 4 * kOwnGroups : kOwnRows];
  for (uint q = 0; q < pixels; q += 4) {
    Cursor step[4];
    step[0] = cursor;
    [[unroll]] for (uint s = 1; s < 4; ++s) step[s] = Advance(step[s - 1]);
    cursor = Advance(step[3]);

    if (kVec4X) {
      [[unroll]] for (uint t = 0; t < kOwnGroups; ++t)
        [[unroll]] for (uint s = 0; s < 4; ++s) {
          bool inside;
          uint offset = InputOffset(step[s], own[t], q + s < pixels, inside);
          mine[4 * t + s] = inside ? LoadX4(offset / 4) : vec4(0.0);
        }
      // Row i is component i % 4 of group i / 4, held by lane (i / 4) / kOwnGroups.
      [[unroll]] for (uint i = 0; i < RM; ++i)
        [[unroll]] for (uint s = 0; s < 4; ++s)
          chunk_a[i][s] = FromLane(mine[4 * ((i / 4) % kOwnGroups) + s][i % 4], first_lane, (i / 4) / kOwnGroups);
    } else {
      [[unroll]] for (uint t = 0; t < kOwnRows; ++t)
        [[unroll]] for (uint s = 0; s < 4; ++s) {
          bool inside;
          uint offset = InputOffset(step[s], own[t], q + s < pixels, inside);
          mine[t][s] = inside ? float(x[offset]) : 0.0;
        }
      [[unroll]] for (uint i = 0; i < RM; ++i) chunk_a[i] = FromLane(mine[i % kOwnRows], first_lane, i / kOwnRows);
    }

    uint pixel[4];
    [[unroll]] for (uint s = 0; s < 4; ++s) pixel[s] = min(q + s, pixels - 1);
    if (kVec4Dy) {
      // 4 x 4 blocks of dY (four pixels, four channels), transposed.
      [[unroll]] for (uint b = 0; b < RN / 4; ++b) {
        uint channel = min(col0 + 4 * b, p.out_channels - 4);
        mat4 block = transpose(mat4(LoadDy4((pixel[0] * p.out_channels + channel) / 4),
                                    LoadDy4((pixel[1] * p.out_channels + channel) / 4),
                                    LoadDy4((pixel[2] * p.out_channels + channel) / 4),
                                    LoadDy4((pixel[3] * p.out_channels + channel) / 4)));
        [[unroll]] for (uint r = 0; r < 4; ++r) chunk_b[4 * b + r] = block[r];
      }
    } else {
      [[unroll]] for (uint j = 0; j < RN; ++j)
        chunk_b[j] = vec4(float(dy[pixel[0] * p.out_channels + col[j]]), float(dy[pixel[1] * p.out_channels + col[j]]),
                          float(dy[pixel[2] * p.out_channels + col[j]]), float(dy[pixel[3] * p.out_channels + col[j]]));
    }
    [[unroll]] for (uint i = 0; i < RM; ++i)
      [[unroll]] for (uint j = 0; j < RN; ++j) acc[i * RN + j] = Dot4(chunk_a[i], chunk_b[j], acc[i * RN + j]);
  }

  [[unroll]] for (uint i = 0; i < RM; ++i)
    [[unroll]] for (uint j = 0; j < RN; ++j)
      if (row0 + i < rows && col0 + j < p.out_channels) dw[(row0 + i) * p.out_channels + col0 + j] = acc[i * RN + j];
}
