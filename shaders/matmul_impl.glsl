// The body of matmul.comp (fp32) and matmul_f16.comp (MATMUL_FP16: fp16
// storage, fp32 accumulation); see matmul.comp.
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_shader_subgroup_shuffle : require
#extension GL_EXT_samplerless_texture_functions : require
#include "matmul.h"

layout(local_size_x_id = 0, local_size_y_id = 1) in;
layout(constant_id = 0) const uint kGroupCols = 8;  // workgroup size along N (x)
layout(constant_id = 1) const uint kGroupRows = 8;  // workgroup size along M (y)
layout(constant_id = 2) const uint kVariant = 0;    // 0: register-blocked, 1: shared-tiled
layout(constant_id = 3) const uint RM = 4;          // rows of C per invocation
layout(constant_id = 4) const uint RN = 4;          // columns of C per invocation
layout(constant_id = 5) const uint TK = 16;         // shared-tiled: steps of K staged per tile
// Register-blocked: how many invocations along x share their loads of op(A)
// through subgroup shuffles (1: none). Divides RM; see RegisterBlocked().
layout(constant_id = 6) const uint kShareA = 1;
layout(constant_id = 7) const bool kTransposeA = false;  // A is stored K x M (op(A) = A^T)
layout(constant_id = 8) const bool kTransposeB = false;  // B is stored N x K (op(B) = B^T)
// Register-blocked: A (B) may be read as vec4s along its contiguous dimension.
// The host sets it only when the binding is 16-byte aligned, that dimension is
// a multiple of 4 and so is RM (RN) if it runs along M (N).
layout(constant_id = 9) const bool kVec4A = false;
layout(constant_id = 10) const bool kVec4B = false;
layout(constant_id = 11) const bool kAccumulate = false;  // C += op(A) op(B); else C = op(A) op(B), C never read
// Register-blocked: the vec4 loads of A (B) go through an RGBA32F texel view
// of the same bytes (binding 3, 4) instead of the storage buffer. lavapipe
// turns a texel fetch into one gather for all lanes, a storage-buffer load into
// a loop over lanes with a bounds check each, whose cost grows with the lane
// count: what decides the 16-lane (512-bit) path. Only with kVec4A (kVec4B).
layout(constant_id = 12) const bool kTexelA = false;
layout(constant_id = 13) const bool kTexelB = false;

const uint kRegisterBlocked = 0;
const uint kSharedTiled = 1;

// Each binding is declared twice, as floats and as vec4s over the same bytes,
// so one shader can use whichever load the layout allows.
#ifdef MATMUL_FP16
// fp16 storage (mixed precision): A and B are float16_t, C float16_t
// (kHalfC: activations and their gradients) or float (parameter gradients);
// every product is accumulated in fp32.
layout(constant_id = 14) const bool kHalfC = false;
layout(std430, binding = 0) readonly buffer MatrixA { float16_t a[]; };
layout(std430, binding = 0) readonly buffer MatrixA4 { f16vec4 a4[]; };
layout(std430, binding = 1) readonly buffer MatrixB { float16_t b[]; };
layout(std430, binding = 1) readonly buffer MatrixB4 { f16vec4 b4[]; };
layout(std430, binding = 2) buffer MatrixC { float c[]; };
layout(std430, binding = 2) buffer MatrixC16 { float16_t c16[]; };
#define A_AT(i) float(a[i])
#define B_AT(i) float(b[i])
#define A4_AT(i) vec4(a4[i])
#define B4_AT(i) vec4(b4[i])
#else
const bool kHalfC = false;
layout(std430, binding = 0) readonly buffer MatrixA { float a[]; };
layout(std430, binding = 0) readonly buffer MatrixA4 { vec4 a4[]; };
layout(std430, binding = 1) readonly buffer MatrixB { float b[]; };
layout(std430, binding = 1) readonly buffer MatrixB4 { vec4 b4[]; };
layout(std430, binding = 2) buffer MatrixC { float c[]; };
#define A_AT(i) a[i]
#define B_AT(i) b[i]
#define A4_AT(i) a4[i]
#define B4_AT(i) b4[i]
#endif
layout(binding = 3) uniform textureBuffer a_texels;  // A as vec4s (kTexelA)
layout(binding = 4) uniform textureBuffer b_texels;  // B as vec4s (kTexelB)
layout(push_constant) uniform Push { MatmulParams p; };

// The vec4 at vec4 index `i` of A (B), through whichever view the host chose.
vec4 LoadA4(uint i) { return kTexelA ? texelFetch(a_texels, int(i)) : A4_AT(i); }
vec4 LoadB4(uint i) { return kTexelB ? texelFetch(b_texels, int(i)) : B4_AT(i); }

// Element offsets of op(A)[row][kk] and op(B)[kk][col] in the stored layouts.
uint OffsetA(uint row, uint kk) { return kTransposeA ? kk * p.m + row : row * p.k + kk; }
uint OffsetB(uint kk, uint col) { return kTransposeB ? col * p.k + kk : kk * p.n + col; }

void StoreC(uint row, uint col, float value) {
  uint index = row * p.n + col;
#ifdef MATMUL_FP16
  if (kHalfC) {
    if (kAccumulate) value += float(c16[index]);
    c16[index] = float16_t(value);
    return;
  }
#endif
  if (kAccumulate) value += c[index];
  c[index] = value;
}

// ---------------------------------------------------------------------------
// Register-blocked: invocation (x, y) of workgroup (gx, gy) owns rows
// [row0, row0 + RM) and columns [col0, col0 + RN) of C.
//
// Sharing op(A) (kShareA > 1): the kShareA consecutive invocations along x
// of a subgroup own the same rows of C, so they need the same values of op(A).
// Each loads 1/kShareA of them and subgroup shuffles hand them round. On
// lavapipe a shuffle is cheap next to a load (a per-lane loop with a bounds
// check per component): 1.5-2.5x faster overall, measured. The host enables it
// only where subgroups hold whole share groups.

// sum + x . y as four fused multiply-adds, in order of K.
float Dot4(vec4 x, vec4 y, float sum) {
  return fma(x.w, y.w, fma(x.z, y.z, fma(x.y, y.y, fma(x.x, y.x, sum))));
}

// op(A)[row][kk .. kk + 3]: one vec4 load where rows of A are contiguous and aligned.
vec4 RowChunkA(uint row, uint kk) {
  if (kVec4A && !kTransposeA) return LoadA4((row * p.k + kk) / 4);
  uint first = OffsetA(row, kk), step = kTransposeA ? p.m : 1;
  return vec4(A_AT(first), A_AT(first + step), A_AT(first + 2 * step), A_AT(first + 3 * step));
}

// op(B)[kk .. kk + 3][col]: one vec4 load where rows of B^T are contiguous and aligned.
vec4 ColumnChunkB(uint col, uint kk) {
  if (kVec4B && kTransposeB) return LoadB4((col * p.k + kk) / 4);
  uint first = OffsetB(kk, col), step = kTransposeB ? 1 : p.n;
  return vec4(B_AT(first), B_AT(first + step), B_AT(first + 2 * step), B_AT(first + 3 * step));
}

// `value` as held by the invocation `lane` places into this one's share group.
float FromLane(float value, uint first_lane, uint lane) {
  return kShareA == 1 ? value : subgroupShuffle(value, first_lane + lane);
}
vec4 FromLane(vec4 value, uint first_lane, uint lane) {
  return kShareA == 1 ? value : subgroupShuffle(value, first_lane + lane);
}

void RegisterBlocked() {
  uint row0 = (gl_WorkGroupID.y * kGroupRows + gl_LocalInvocationID.y) * RM;
  uint col0 = (gl_WorkGroupID.x * kGroupCols + gl_LocalInvocationID.x) * RN;
  // Leaving early is safe: there are no barriers, and all of a share group
  // has the same row0 (invocations past N still load their share of A).
  if (row0 >= p.m || (kShareA == 1 && col0 >= p.n)) return;
  uint lane = gl_SubgroupInvocationID % kShareA, first_lane = gl_SubgroupInvocationID - lane;

  // Rows and columns past the edge of C re-read the last valid one (the min()s
  // below): every load stays in bounds without a branch, and their sums are
  // never stored.
  float acc[RM * RN];
  [[unroll]] for (uint e = 0; e < RM * RN; ++e) acc[e] = 0.0;

  // Four steps of K per iteration: chunk_a[i][s] = op(A)[row0 + i][kk + s] and
  // chunk_b[j][s] = op(B)[kk + s][col0 + j]. Keeping the step in the vec4's
  // components (not in an array index) leaves every array index constant once
  // the loops over i and j are unrolled; an array indexed at run time would
  // live in slow scratch memory.
  vec4 chunk_a[RM], chunk_b[RN];
  vec4 mine[RM / kShareA];  // this invocation's share of the chunk of op(A)
  uint kk = 0;
  for (; kk + 4 <= p.k; kk += 4) {
    if (kVec4A && kTransposeA) {
      // A is stored K x M: vec4 v of the chunk holds rows 4 (v / 4) .. + 3 at step v % 4.
      [[unroll]] for (uint t = 0; t < RM / kShareA; ++t) {
        uint v = t * kShareA + lane;
        mine[t] = LoadA4(((kk + v % 4) * p.m + min(row0 + v / 4 * 4, p.m - 4)) / 4);
      }
      [[unroll]] for (uint i = 0; i < RM; ++i)
        [[unroll]] for (uint s = 0; s < 4; ++s) {
          uint v = i / 4 * 4 + s;
          chunk_a[i][s] = FromLane(mine[v / kShareA][i % 4], first_lane, v % kShareA);
        }
    } else {
      [[unroll]] for (uint t = 0; t < RM / kShareA; ++t)
        mine[t] = RowChunkA(min(row0 + t * kShareA + lane, p.m - 1), kk);
      [[unroll]] for (uint i = 0; i < RM; ++i) chunk_a[i] = FromLane(mine[i / kShareA], first_lane, i % kShareA);
    }
    if (kVec4B && !kTransposeB) {
      // B is stored K x N: load 4 x 4 blocks along N and transpose them.
      [[unroll]] for (uint q = 0; q < RN / 4; ++q) {
        uint first = (kk * p.n + min(col0 + 4 * q, p.n - 4)) / 4, stride = p.n / 4;
        mat4 block = transpose(mat4(LoadB4(first), LoadB4(first + stride), LoadB4(first + 2 * stride), LoadB4(first + 3 * stride)));
        [[unroll]] for (uint r = 0; r < 4; ++r) chunk_b[4 * q + r] = block[r];
      }
    } else {
      [[unroll]] for (uint j = 0; j < RN; ++j) chunk_b[j] = ColumnChunkB(min(col0 + j, p.n - 1), kk);
    }
    [[unroll]] for (uint i = 0; i < RM; ++i)
      [[unroll]] for (uint j = 0; j < RN; ++j) acc[i * RN + j] = Dot4(chunk_a[i], chunk_b[j], acc[i * RN + j]);
  }
  // The last K % 4 steps, one at a time: a quarter of the code of a padded
  // chunk, and lavapipe skips a loop that runs zero times (the body of an `if`
  // it would run regardless, masked off).
  for (; kk < p.k; ++kk) {
    float col_a[RM], row_b[RN];
    [[unroll]] for (uint i = 0; i < RM; ++i) col_a[i] = A_AT(OffsetA(min(row0 + i, p.m - 1), kk));
    [[unroll]] for (uint j = 0; j < RN; ++j) row_b[j] = B_AT(OffsetB(kk, min(col0 + j, p.n - 1)));
    [[unroll]] for (uint i = 0; i < RM; ++i)
      [[unroll]] for (uint j = 0; j < RN; ++j) acc[i * RN + j] = fma(col_a[i], row_b[j], acc[i * RN + j]);
  }

  [[unroll]] for (uint i = 0; i < RM; ++i)
    [[unroll]] for (uint j = 0; j < RN; ++j)
      if (row0 + i < p.m && col0 + j < p.n) StoreC(row0 + i, col0 + j, acc[i * RN + j]);
}

// ---------------------------------------------------------------------------
// Shared-tiled: workgroup (gx, gy) owns a kTileRows x kTileCols tile of C.
// Invocation (x, y) owns rows y + i * kGroupRows and columns x + j * kGroupCols
// of the tile: interleaved, so neighbouring invocations read neighbouring
// shared-memory words (no bank conflicts) and store neighbouring elements of C.
const uint kTileRows = kGroupRows * RM;
const uint kTileCols = kGroupCols * RN;
// One word of padding per row of a staged tile keeps the transposing stores
// into it free of bank conflicts.
const uint kStrideA = kTileRows + 1;
const uint kStrideB = kTileCols + 1;
// Sized 1 in the register-blocked variant so that it claims no shared memory.
shared float tile_a[kVariant == kSharedTiled ? TK * kStrideA : 1];  // [s * kStrideA + r] = op(A)[tile row r][k0 + s]
shared float tile_b[kVariant == kSharedTiled ? TK * kStrideB : 1];  // [s * kStrideB + c] = op(B)[k0 + s][tile col c]

void SharedTiled() {
  const uint kInvocations = kGroupRows * kGroupCols;
  uint tile_row = gl_WorkGroupID.y * kTileRows, tile_col = gl_WorkGroupID.x * kTileCols;
  uint x = gl_LocalInvocationID.x, y = gl_LocalInvocationID.y;

  float acc[RM * RN];
  [[unroll]] for (uint e = 0; e < RM * RN; ++e) acc[e] = 0.0;

  for (uint k0 = 0; k0 < p.k; k0 += TK) {
    // Stage the tiles, zero outside the matrices. Consecutive invocations walk
    // the stored layout's contiguous dimension, so global reads coalesce.
    for (uint e = gl_LocalInvocationIndex; e < TK * kTileRows; e += kInvocations) {
      uint r = kTransposeA ? e % kTileRows : e / TK;
      uint s = kTransposeA ? e / kTileRows : e % TK;
      uint row = tile_row + r, kk = k0 + s;
      float value = 0.0;
      if (row < p.m && kk < p.k) value = A_AT(OffsetA(row, kk));
      tile_a[s * kStrideA + r] = value;
    }
    for (uint e = gl_LocalInvocationIndex; e < TK * kTileCols; e += kInvocations) {
      uint col = kTransposeB ? e / TK : e % kTileCols;
      uint s = kTransposeB ? e % TK : e / kTileCols;
      uint column = tile_col + col, kk = k0 + s;
      float value = 0.0;
      if (column < p.n && kk < p.k) value = B_AT(OffsetB(kk, column));
      tile_b[s * kStrideB + col] = value;
    }
    barrier();  // the tiles are complete before anyone reads them

    for (uint s = 0; s < TK; ++s) {
      float col_a[RM], row_b[RN];
      [[unroll]] for (uint i = 0; i < RM; ++i) col_a[i] = tile_a[s * kStrideA + y + i * kGroupRows];
      [[unroll]] for (uint j = 0; j < RN; ++j) row_b[j] = tile_b[s * kStrideB + x + j * kGroupCols];
      [[unroll]] for (uint i = 0; i < RM; ++i)
        [[unroll]] for (uint j = 0; j < RN; ++j) acc[i * RN + j] = fma(col_a[i], row_b[j], acc[i * RN + j]);
    }
    barrier();  // everyone is done reading before the next tiles overwrite them
  }

  [[unroll]] for (uint i = 0; i < RM; ++i)
    [[unroll]] for (uint j = 0; j < RN; ++j) {
      uint row = tile_row + y + i * kGroupRows, col = tile_col + x + j * kGroupCols;
      if (row < p.m && col < p.n) StoreC(row, col, acc[i * RN + j]);
    }
}

void main() {
  if (kVariant == kSharedTiled)
    SharedTiled();
  else
    RegisterBlocked();
}
