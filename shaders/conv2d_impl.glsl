// The body of conv2d.comp (fp32) and conv2d_f16.comp (CONV2D_FP16: X, W and Y
// stored as fp16, sums in fp32); see conv2d.comp.
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_shader_subgroup_shuffle : require
#extension GL_EXT_samplerless_texture_functions : require
#include "conv2d.h"

#include "conv2d_storage.glsl"  // the stored type of the tensors named above

layout(local_size_x_id = 0, local_size_y_id = 1) in;
layout(constant_id = 0) const uint kGroupCols = 8;  // workgroup size along Cout (x)
layout(constant_id = 1) const uint kGroupRows = 1;  // workgroup size along output pixels (y)
layout(constant_id = 2) const uint kVariant = 0;    // 0: implicit GEMM, 1: direct
layout(constant_id = 3) const uint RM = 32;         // output pixels per invocation
layout(constant_id = 4) const uint RN = 4;          // output channels per invocation
// How many invocations along x share their loads of X through subgroup
// shuffles (1: none). Implicit GEMM: divides RM.
layout(constant_id = 5) const uint kShareA = 1;
// X may be read as vec4s along channels: the binding is vec4-aligned and Cin % 4 == 0.
layout(constant_id = 6) const bool kVec4X = false;
// W may be read as vec4s along Cout: the binding is vec4-aligned, Cout % 4 == 0 and RN % 4 == 0.
layout(constant_id = 7) const bool kVec4W = false;
// Direct: the horizontal stride (= p.stride_w), fixed so that window indices are constants.
layout(constant_id = 8) const uint kStrideW = 1;
// The vec4 loads through RGBA32F (fp16: RGBA16F) texel views of the same bytes (bindings 3
// and 4) instead of storage buffers: lavapipe gathers a texel fetch for all
// lanes at once but loops over lanes for a storage load (see matmul.comp).
layout(constant_id = 9) const bool kTexelX = false;  // only with kVec4X
layout(constant_id = 10) const bool kTexelW = false;  // only with kVec4W

const uint kImplicitGemm = 0;
const uint kDirect = 1;

layout(std430, binding = 0) readonly buffer Input { CONV2D_STORED x[]; };      // (N, H, W, Cin)
layout(std430, binding = 0) readonly buffer Input4 { CONV2D_STORED4 x4[]; };
layout(std430, binding = 1) readonly buffer Filter { CONV2D_STORED w[]; };     // (KH, KW, Cin, Cout)
layout(std430, binding = 1) readonly buffer Filter4 { CONV2D_STORED4 w4[]; };
layout(std430, binding = 2) writeonly buffer Output { CONV2D_STORED y[]; };    // (N, OH, OW, Cout)
layout(binding = 3) uniform textureBuffer x_texels;  // the input as vec4s (kTexelX)
layout(binding = 4) uniform textureBuffer w_texels;  // the filter as vec4s (kTexelW)
layout(push_constant) uniform Push { Conv2DParams p; };

// The vec4 at index i of a vec4 view, through whichever binding the host chose.
vec4 LoadX4(uint i) { return kTexelX ? texelFetch(x_texels, int(i)) : vec4(x4[i]); }
vec4 LoadW4(uint i) { return kTexelW ? texelFetch(w_texels, int(i)) : vec4(w4[i]); }

// Where output pixel m's window starts: n * H (the image's first input row
// overall) and the input row and column of its top-left tap, which may lie in
// the padding (negative or past the edge).
struct Window {
  int image_row;
  int top;
  int left;
};

Window WindowOf(uint m) {
  uint pixels_per_image = p.out_height * p.out_width;
  uint n = m / pixels_per_image, rest = m % pixels_per_image;
  uint oh = rest / p.out_width, ow = rest % p.out_width;
  return Window(int(n * p.in_height), int(oh * p.stride_h) - int(p.pad_top), int(ow * p.stride_w) - int(p.pad_left));
}

// Offset of X[n][ih][iw][0] for tap (kh, kw) of `window`, and whether that
// position is inside the image. Outside, the offset is 0 so that a load from it
// stays in bounds; the caller replaces the value with zero.
uint TapOffset(Window window, uint kh, uint kw, out bool inside) {
  int ih = window.top + int(kh), iw = window.left + int(kw);
  // A negative coordinate wraps to a huge uint: one compare per axis.
  inside = uint(ih) < p.in_height && uint(iw) < p.in_width;
  return inside ? (uint(window.image_row + ih) * p.in_width + uint(iw)) * p.in_channels : 0u;
}

// sum + a . b as four fused multiply-adds, in order of k.
float Dot4(vec4 a, vec4 b, float sum) { return fma(a.w, b.w, fma(a.z, b.z, fma(a.y, b.y, fma(a.x, b.x, sum)))); }

// X[offset .. offset + 3]: one vec4 load where channels are aligned whole vec4s.
vec4 InputChunk(uint offset) {
  if (kVec4X) return LoadX4(offset / 4);
  return vec4(float(x[offset]), float(x[offset + 1]), float(x[offset + 2]), float(x[offset + 3]));
}

// chunk[j][s] = W[rows[s]][col0 + j] (W as a (KH*KW*Cin, Cout) matrix), or
// zero where live[s] is false. Columns past Cout re-read the last (never stored).
void LoadFilterRows(uint rows[4], bvec4 live, uint col0, out vec4 chunk[RN]) {
  if (kVec4W) {
    // 4 x 4 blocks (four rows, four channels), transposed.
    [[unroll]] for (uint q = 0; q < RN / 4; ++q) {
      uint channel = min(col0 + 4 * q, p.out_channels - 4);
      mat4 block = transpose(mat4(LoadW4((rows[0] * p.out_channels + channel) / 4),
                                  LoadW4((rows[1] * p.out_channels + channel) / 4),
                                  LoadW4((rows[2] * p.out_channels + channel) / 4),
                                  LoadW4((rows[3] * p.out_channels + channel) / 4)));
      [[unroll]] for (uint r = 0; r < 4; ++r) chunk[4 * q + r] = mix(vec4(0.0), block[r], live);
    }
  } else {
    [[unroll]] for (uint j = 0; j < RN; ++j) {
      uint channel = min(col0 + j, p.out_channels - 1);
      vec4 column = vec4(float(w[rows[0] * p.out_channels + channel]), float(w[rows[1] * p.out_channels + channel]),
                         float(w[rows[2] * p.out_channels + channel]), float(w[rows[3] * p.out_channels + channel]));
      chunk[j] = mix(vec4(0.0), column, live);
    }
  }
}

// W's filter rows k .. k + 3 (past the last row, the last again: such rows
// meet zeros in X), all live.
void LoadFilterChunk(uint k, uint col0, out vec4 chunk[RN]) {
  uint last_row = p.kernel_height * p.kernel_width * p.in_channels - 1;
  uint rows[4] = uint[4](k, min(k + 1, last_row), min(k + 2, last_row), min(k + 3, last_row));
  LoadFilterRows(rows, bvec4(true), col0, chunk);
}

// `value` as held by the invocation `lane` places into this one's share group.
float FromLane(float value, uint first_lane, uint lane) {
  return kShareA == 1 ? value : subgroupShuffle(value, first_lane + lane);
}
vec4 FromLane(vec4 value, uint first_lane, uint lane) {
  return kShareA == 1 ? value : subgroupShuffle(value, first_lane + lane);
}

// Y[row][col] = value, for rows and columns inside Y (blocks overhang the edges).
void StoreOutput(uint row, uint col, float value) {
  if (row < p.batch * p.out_height * p.out_width && col < p.out_channels)
    y[row * p.out_channels + col] = CONV2D_STORED(value);
}

// ---------------------------------------------------------------------------
// Implicit GEMM. Invocation (x, y) of workgroup (gx, gy) owns output pixels
// [row0, row0 + RM) and channels [col0, col0 + RN). The kShareA consecutive
// invocations along x of a share group own the same pixels: each gathers the
// input of RM / kShareA of them and shuffles hand the values round (as in
// matmul.comp, 1.5-2.5x faster on lavapipe than every invocation loading all).
const uint kOwnRows = RM / kShareA;

void ImplicitGemm() {
  uint pixels = p.batch * p.out_height * p.out_width;
  uint row0 = (gl_WorkGroupID.y * kGroupRows + gl_LocalInvocationID.y) * RM;
  uint col0 = (gl_WorkGroupID.x * kGroupCols + gl_LocalInvocationID.x) * RN;
  // Leaving early is safe: no barriers, and a whole share group has the same
  // row0 (invocations past Cout still gather their share of X).
  if (row0 >= pixels || (kShareA == 1 && col0 >= p.out_channels)) return;
  uint lane = gl_SubgroupInvocationID % kShareA, first_lane = gl_SubgroupInvocationID - lane;

  // The windows of the pixels this invocation gathers: row0 + t * kShareA + lane.
  // Pixels past the last re-read the last one (never stored).
  Window own[kOwnRows];
  [[unroll]] for (uint t = 0; t < kOwnRows; ++t) own[t] = WindowOf(min(row0 + t * kShareA + lane, pixels - 1));

  float acc[RM * RN];
  [[unroll]] for (uint e = 0; e < RM * RN; ++e) acc[e] = 0.0;

  // Per tap, four input channels per iteration: chunk_a[i][s] = X at pixel
  // row0 + i, channel ci + s; chunk_b[j][s] = W[tap][ci + s][col0 + j]. The
  // step sits in the vec4 components so that every array index is constant
  // once the loops over i and j unroll (as in matmul.comp).
  vec4 chunk_a[RM], chunk_b[RN], mine[kOwnRows];
  for (uint kh = 0; kh < p.kernel_height; ++kh) {
    for (uint kw = 0; kw < p.kernel_width; ++kw) {
      uint offset[kOwnRows];
      bool inside[kOwnRows];
      [[unroll]] for (uint t = 0; t < kOwnRows; ++t) offset[t] = TapOffset(own[t], kh, kw, inside[t]);
      uint filter_row = (kh * p.kernel_width + kw) * p.in_channels;  // W's row for (kh, kw, ci = 0)

      uint ci = 0;
      for (; ci + 4 <= p.in_channels; ci += 4) {
        [[unroll]] for (uint t = 0; t < kOwnRows; ++t) mine[t] = inside[t] ? InputChunk(offset[t] + ci) : vec4(0.0);
        [[unroll]] for (uint i = 0; i < RM; ++i) chunk_a[i] = FromLane(mine[i / kShareA], first_lane, i % kShareA);
        LoadFilterChunk(filter_row + ci, col0, chunk_b);
        [[unroll]] for (uint i = 0; i < RM; ++i)
          [[unroll]] for (uint j = 0; j < RN; ++j) acc[i * RN + j] = Dot4(chunk_a[i], chunk_b[j], acc[i * RN + j]);
      }
      // Two or three channels left (Cin = 3, for RGB): one chunk with its last
      // components zero, so W's rows past the tap (clamped in bounds) add
      // nothing. A loop that runs at most once: lavapipe skips a loop that
      // runs zero times, but runs an `if` body masked.
      for (; ci + 2 <= p.in_channels; ci += 4) {
        uint last = p.in_channels - 1 - ci;  // 1 or 2: the chunk's last live component
        [[unroll]] for (uint t = 0; t < kOwnRows; ++t) {
          uint first = offset[t] + ci;
          float third = float(x[first + last]);  // in bounds either way; used only when live
          mine[t] = inside[t] ? vec4(float(x[first]), float(x[first + 1]), last == 2 ? third : 0.0, 0.0) : vec4(0.0);
        }
        [[unroll]] for (uint i = 0; i < RM; ++i) chunk_a[i] = FromLane(mine[i / kShareA], first_lane, i % kShareA);
        LoadFilterChunk(filter_row + ci, col0, chunk_b);
        [[unroll]] for (uint i = 0; i < RM; ++i)
          [[unroll]] for (uint j = 0; j < RN; ++j) acc[i * RN + j] = Dot4(chunk_a[i], chunk_b[j], acc[i * RN + j]);
      }
      // One channel left (Cin = 1, 5, ...).
      for (; ci < p.in_channels; ++ci) {
        float own_value[kOwnRows], col_a[RM], row_b[RN];
        [[unroll]] for (uint t = 0; t < kOwnRows; ++t) own_value[t] = inside[t] ? float(x[offset[t] + ci]) : 0.0;
        [[unroll]] for (uint i = 0; i < RM; ++i) col_a[i] = FromLane(own_value[i / kShareA], first_lane, i % kShareA);
        uint first = (filter_row + ci) * p.out_channels;
        [[unroll]] for (uint j = 0; j < RN; ++j) row_b[j] = float(w[first + min(col0 + j, p.out_channels - 1)]);
        [[unroll]] for (uint i = 0; i < RM; ++i)
          [[unroll]] for (uint j = 0; j < RN; ++j) acc[i * RN + j] = fma(col_a[i], row_b[j], acc[i * RN + j]);
      }
    }
  }
  [[unroll]] for (uint i = 0; i < RM; ++i)
    [[unroll]] for (uint j = 0; j < RN; ++j) StoreOutput(row0 + i, col0 + j, acc[i * RN + j]);
}

// ---------------------------------------------------------------------------
// Direct, with a window of inputs along the output row. Invocation (x, y) of
// workgroup (gx, gy, n) owns RM consecutive output pixels of one output row
// (n, oh), columns [ow0, ow0 + RM), and channels [col0, col0 + RN). For each
// input row and channel it takes the taps four at a time: pixel i at tap
// kw0 + s reads input column left + kw0 + i*sw + s, so one window of
// (RM - 1) * sw + 4 inputs holds every pixel's four taps, at constant indices
// once unrolled (the stride is a specialization constant). The window is
// loaded 1/kShareA per invocation and handed round by shuffles; W's four taps
// are one 4 x 4 block per four channels. Loads per 4 * RM * RN fused
// multiply-adds: about a window / kShareA + RN; the implicit GEMM gathers each
// pixel's taps separately, which costs more where there are few channels
// (grey or RGB input) and so few fused multiply-adds per gathered tap.
const uint kWindow = (RM - 1) * kStrideW + 4;
const uint kOwnWindow = (kWindow + kShareA - 1) / kShareA;

void Direct() {
  uint blocks_per_row = (p.out_width + RM - 1) / RM;
  uint block = gl_WorkGroupID.y * kGroupRows + gl_LocalInvocationID.y;  // over (oh, ow block)
  uint col0 = (gl_WorkGroupID.x * kGroupCols + gl_LocalInvocationID.x) * RN;
  // Safe to leave: no barriers, and a whole share group has the same block.
  if (block >= p.out_height * blocks_per_row || (kShareA == 1 && col0 >= p.out_channels)) return;
  uint lane = gl_SubgroupInvocationID % kShareA, first_lane = gl_SubgroupInvocationID - lane;
  uint n = gl_WorkGroupID.z, oh = block / blocks_per_row, ow0 = (block % blocks_per_row) * RM;
  int top = int(oh * p.stride_h) - int(p.pad_top);     // input row of tap kh = 0
  int left = int(ow0 * kStrideW) - int(p.pad_left);   // input column of pixel ow0 at tap kw = 0
  // Only the taps whose input row is inside the image: rows of padding add nothing.
  uint kh_begin = uint(max(-top, 0));
  uint kh_end = uint(clamp(int(p.in_height) - top, 0, int(p.kernel_height)));

  float acc[RM * RN];
  [[unroll]] for (uint e = 0; e < RM * RN; ++e) acc[e] = 0.0;

  float mine[kOwnWindow], window[kWindow];
  vec4 chunk_b[RN];
  for (uint kh = kh_begin; kh < kh_end; ++kh) {
    uint row_pixel = (n * p.in_height + uint(top + int(kh))) * p.in_width;  // pixel (n, ih, 0)
    for (uint ci = 0; ci < p.in_channels; ++ci) {
      for (uint kw0 = 0; kw0 < p.kernel_width; kw0 += 4) {
        // window[e] = X[n][ih][left + kw0 + e][ci], zero outside the image.
        [[unroll]] for (uint t = 0; t < kOwnWindow; ++t) {
          int iw = left + int(kw0 + t * kShareA + lane);
          bool inside = uint(iw) < p.in_width;  // a negative column wraps to a huge uint
          float value = float(x[(row_pixel + (inside ? uint(iw) : 0u)) * p.in_channels + ci]);  // in bounds either way
          mine[t] = inside ? value : 0.0;
        }
        [[unroll]] for (uint e = 0; e < kWindow; ++e) window[e] = FromLane(mine[e / kShareA], first_lane, e % kShareA);
        // W[kh][kw0 + s][ci][col0 + j]; taps past the kernel are zero.
        uint first = (kh * p.kernel_width + kw0) * p.in_channels + ci;
        uint last_row = p.kernel_height * p.kernel_width * p.in_channels - 1;
        uint rows[4] = uint[4](first, min(first + p.in_channels, last_row), min(first + 2 * p.in_channels, last_row),
                               min(first + 3 * p.in_channels, last_row));
        LoadFilterRows(rows, lessThan(uvec4(kw0) + uvec4(0, 1, 2, 3), uvec4(p.kernel_width)), col0, chunk_b);
        [[unroll]] for (uint i = 0; i < RM; ++i) {
          uint e = i * kStrideW;  // pixel i's first tap in the window
          vec4 taps = vec4(window[e], window[e + 1], window[e + 2], window[e + 3]);
          [[unroll]] for (uint j = 0; j < RN; ++j) acc[i * RN + j] = Dot4(taps, chunk_b[j], acc[i * RN + j]);
        }
      }
    }
  }

  uint first_pixel = (n * p.out_height + oh) * p.out_width + ow0;
  [[unroll]] for (uint i = 0; i < RM; ++i)
    [[unroll]] for (uint j = 0; j < RN; ++j)
      if (ow0 + i < p.out_width && col0 + j < p.out_channels)
        y[(first_pixel + i) * p.out_channels + col0 + j] = CONV2D_STORED(acc[i * RN + j]);
}

void main() {
  if (kVariant == kDirect)
    Direct();
  else
    ImplicitGemm();
}
