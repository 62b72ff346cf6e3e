// The body of conv2d_back_data.comp (fp32) and conv2d_back_data_f16.comp
// (CONV2D_FP16: dY, W and dX stored as fp16, sums in fp32); see
// conv2d_back_data.comp.
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_shader_subgroup_shuffle : require
#extension GL_EXT_samplerless_texture_functions : require
#include "conv2d.h"

#include "conv2d_storage.glsl"  // the stored type of the tensors named above

layout(local_size_x_id = 0, local_size_y_id = 1) in;
layout(constant_id = 0) const uint kGroupCols = 8;  // workgroup size along Cin (x)
layout(constant_id = 1) const uint kGroupRows = 1;  // workgroup size along input pixels (y)
layout(constant_id = 2) const uint RM = 32;         // input pixels per invocation
layout(constant_id = 3) const uint RN = 4;          // input channels per invocation
// How many invocations along x share their loads of dY through subgroup shuffles (1: none). Divides RM.
layout(constant_id = 4) const uint kShareA = 1;
// dY and W may be read as vec4s along co: both bindings are vec4-aligned and Cout % 4 == 0.
layout(constant_id = 5) const bool kVec4 = false;
// The vec4 loads through RGBA32F (fp16: RGBA16F) texel views of the same bytes (bindings 3
// and 4) instead of storage buffers: lavapipe gathers a texel fetch for all
// lanes at once but loops over lanes for a storage load (see matmul.comp).
layout(constant_id = 6) const bool kTexel = false;  // only with kVec4

layout(std430, binding = 0) readonly buffer GradOutput { CONV2D_STORED dy[]; };     // (N, OH, OW, Cout)
layout(std430, binding = 0) readonly buffer GradOutput4 { CONV2D_STORED4 dy4[]; };
layout(std430, binding = 1) readonly buffer Filter { CONV2D_STORED w[]; };          // (KH, KW, Cin, Cout)
layout(std430, binding = 1) readonly buffer Filter4 { CONV2D_STORED4 w4[]; };
layout(std430, binding = 2) writeonly buffer GradInput { CONV2D_STORED dx[]; };     // (N, H, W, Cin)
layout(binding = 3) uniform textureBuffer dy_texels;  // the output gradient as vec4s (kTexel)
layout(binding = 4) uniform textureBuffer w_texels;  // the filter as vec4s (kTexel)
layout(push_constant) uniform Push { Conv2DParams p; };

// The vec4 at index i of a vec4 view, through whichever binding the host chose.
vec4 LoadDy4(uint i) { return kTexel ? texelFetch(dy_texels, int(i)) : vec4(dy4[i]); }
vec4 LoadW4(uint i) { return kTexel ? texelFetch(w_texels, int(i)) : vec4(w4[i]); }

// The phase class of this workgroup and its size: input rows ih = phase_h,
// phase_h + sh, ... below H, likewise columns.
struct PhaseClass {
  uint phase_h, phase_w;
  uint rows, cols;  // input rows and columns in the class
};

PhaseClass ThisClass() {
  PhaseClass c;
  c.phase_h = gl_WorkGroupID.z / p.stride_w;
  c.phase_w = gl_WorkGroupID.z % p.stride_w;
  c.rows = c.phase_h < p.in_height ? (p.in_height - c.phase_h + p.stride_h - 1) / p.stride_h : 0u;
  c.cols = c.phase_w < p.in_width ? (p.in_width - c.phase_w + p.stride_w - 1) / p.stride_w : 0u;
  return c;
}

// Input pixel m of class c: its image n and its row and column.
uvec3 PixelOf(PhaseClass c, uint m) {
  uint per_image = c.rows * c.cols;
  uint n = m / per_image, rest = m % per_image;
  return uvec3(n, (rest / c.cols) * p.stride_h + c.phase_h, (rest % c.cols) * p.stride_w + c.phase_w);
}

// What a pixel needs to find its output positions: n * OH, and the output row
// and column that its first tap (kh0, kw0) reaches (possibly outside the
// output). Tap kh0 + i * sh reaches output row first_oh - i.
struct Reach {
  int image_row;
  int first_oh;
  int first_ow;
};

float Dot4(vec4 a, vec4 b, float sum) { return fma(a.w, b.w, fma(a.z, b.z, fma(a.y, b.y, fma(a.x, b.x, sum)))); }

vec4 GradOutputChunk(uint offset) {
  if (kVec4) return LoadDy4(offset / 4);
  return vec4(float(dy[offset]), float(dy[offset + 1]), float(dy[offset + 2]), float(dy[offset + 3]));
}

vec4 FilterChunk(uint offset) {
  if (kVec4) return LoadW4(offset / 4);
  return vec4(float(w[offset]), float(w[offset + 1]), float(w[offset + 2]), float(w[offset + 3]));
}

float FromLane(float value, uint first_lane, uint lane) {
  return kShareA == 1 ? value : subgroupShuffle(value, first_lane + lane);
}
vec4 FromLane(vec4 value, uint first_lane, uint lane) {
  return kShareA == 1 ? value : subgroupShuffle(value, first_lane + lane);
}

const uint kOwnRows = RM / kShareA;

void main() {
  PhaseClass c = ThisClass();
  uint pixels = p.batch * c.rows * c.cols;
  uint row0 = (gl_WorkGroupID.y * kGroupRows + gl_LocalInvocationID.y) * RM;
  uint col0 = (gl_WorkGroupID.x * kGroupCols + gl_LocalInvocationID.x) * RN;
  // Safe to leave: no barriers, and a whole share group has the same row0.
  if (row0 >= pixels || (kShareA == 1 && col0 >= p.in_channels)) return;
  uint lane = gl_SubgroupInvocationID % kShareA, first_lane = gl_SubgroupInvocationID - lane;

  // The first taps of the class: kh = kh0 (mod sh) reaches a whole output row.
  uint kh0 = (c.phase_h + p.pad_top) % p.stride_h, kw0 = (c.phase_w + p.pad_left) % p.stride_w;

  // The pixels whose dY this invocation gathers: row0 + t * kShareA + lane
  // (past the last, the last again; never stored).
  Reach own[kOwnRows];
  [[unroll]] for (uint t = 0; t < kOwnRows; ++t) {
    uvec3 pixel = PixelOf(c, min(row0 + t * kShareA + lane, pixels - 1));
    // Exact divisions: ih + pad_top - kh0 is a multiple of sh by the choice of kh0.
    own[t] = Reach(int(pixel.x * p.out_height), (int(pixel.y + p.pad_top) - int(kh0)) / int(p.stride_h),
                   (int(pixel.z + p.pad_left) - int(kw0)) / int(p.stride_w));
  }

  float acc[RM * RN];
  [[unroll]] for (uint e = 0; e < RM * RN; ++e) acc[e] = 0.0;

  vec4 chunk_a[RM], chunk_b[RN], mine[kOwnRows];
  int steps_h = 0;  // taps of this class visited along kh: the output row moves up one per tap
  for (uint kh = kh0; kh < p.kernel_height; kh += p.stride_h, ++steps_h) {
    int steps_w = 0;
    for (uint kw = kw0; kw < p.kernel_width; kw += p.stride_w, ++steps_w) {
      uint offset[kOwnRows];  // of dY[n][oh][ow][0]
      bool inside[kOwnRows];
      [[unroll]] for (uint t = 0; t < kOwnRows; ++t) {
        int oh = own[t].first_oh - steps_h, ow = own[t].first_ow - steps_w;
        inside[t] = uint(oh) < p.out_height && uint(ow) < p.out_width;  // negative wraps to huge
        offset[t] = inside[t] ? (uint(own[t].image_row + oh) * p.out_width + uint(ow)) * p.out_channels : 0u;
      }
      uint tap = (kh * p.kernel_width + kw) * p.in_channels;  // W's row for (kh, kw, ci = 0)
      uint filter_first[RN];  // W[kh][kw][col0 + j][0] (columns past Cin re-read the last)
      [[unroll]] for (uint j = 0; j < RN; ++j)
        filter_first[j] = (tap + min(col0 + j, p.in_channels - 1)) * p.out_channels;

      uint co = 0;
      for (; co + 4 <= p.out_channels; co += 4) {
        [[unroll]] for (uint t = 0; t < kOwnRows; ++t)
          mine[t] = inside[t] ? GradOutputChunk(offset[t] + co) : vec4(0.0);
        [[unroll]] for (uint i = 0; i < RM; ++i) chunk_a[i] = FromLane(mine[i / kShareA], first_lane, i % kShareA);
        [[unroll]] for (uint j = 0; j < RN; ++j) chunk_b[j] = FilterChunk(filter_first[j] + co);
        [[unroll]] for (uint i = 0; i < RM; ++i)
          [[unroll]] for (uint j = 0; j < RN; ++j) acc[i * RN + j] = Dot4(chunk_a[i], chunk_b[j], acc[i * RN + j]);
      }
      // The last Cout % 4 channels one at a time.
      for (; co < p.out_channels; ++co) {
        float own_value[kOwnRows], col_a[RM], row_b[RN];
        [[unroll]] for (uint t = 0; t < kOwnRows; ++t) own_value[t] = inside[t] ? float(dy[offset[t] + co]) : 0.0;
        [[unroll]] for (uint i = 0; i < RM; ++i) col_a[i] = FromLane(own_value[i / kShareA], first_lane, i % kShareA);
        [[unroll]] for (uint j = 0; j < RN; ++j) row_b[j] = float(w[filter_first[j] + co]);
        [[unroll]] for (uint i = 0; i < RM; ++i)
          [[unroll]] for (uint j = 0; j < RN; ++j) acc[i * RN + j] = fma(col_a[i], row_b[j], acc[i * RN + j]);
      }
    }
  }

  // Rows of one invocation are not contiguous in dX when strided: each finds its own place.
  [[unroll]] for (uint i = 0; i < RM; ++i) {
    uvec3 pixel = PixelOf(c, min(row0 + i, pixels - 1));
    uint first = ((pixel.x * p.in_height + pixel.y) * p.in_width + pixel.z) * p.in_channels;
    [[unroll]] for (uint j = 0; j < RN; ++j)
      if (row0 + i < pixels && col0 + j < p.in_channels) dx[first + col0 + j] = CONV2D_STORED(acc[i * RN + j]);
  }
}
