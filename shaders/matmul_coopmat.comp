#version 450
// C = op(A) op(B) (or C += op(A) op(B)) on cooperative matrices: the tensor
// cores of NVIDIA GPUs through VK_NV_cooperative_matrix. Mixed precision only:
// A and B are fp16, every product is accumulated in fp32, C is fp32 or fp16
// (kHalfC). Same contract as matmul.comp (see compute/kernels/matmul.h); the
// host offers it only where the device lists 16 x 16 x 16 fp16 x fp16 + fp32
// subgroup matrices (vk::DeviceInfo::cooperative_matrix_fp16).
//
// A workgroup has kSubgroupsM x kSubgroupsN subgroups and computes a
// BM x BN tile of C, BM = kSubgroupsM * kTilesM * 16 (BN likewise): each
// subgroup owns kTilesM x kTilesN 16 x 16 accumulators. Each step of K stages
// a BM x kDepth slice of op(A) and a kDepth x BN slice of op(B) in shared
// memory, zero-filled past the matrices' edges, so any M, N and K work and the
// matrix loads never leave the tile; the transposes are handled by the staging
// loop, which reads each stored row contiguously. The accumulators go out
// through shared memory too, where the edge, accumulate and fp16 cases are
// plain per-element code.
#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_control_flow_attributes : require
#include "matmul.h"

layout(local_size_x_id = 0) in;
// kSubgroupsM * kSubgroupsN * the subgroup size (NVIDIA's is always 32).
layout(constant_id = 0) const uint kGroupSize = 128;
layout(constant_id = 1) const uint kSubgroupsM = 2;
layout(constant_id = 2) const uint kSubgroupsN = 2;
layout(constant_id = 3) const uint kTilesM = 2;  // 16 x 16 tiles of C per subgroup along M
layout(constant_id = 4) const uint kTilesN = 2;  // and along N
layout(constant_id = 5) const uint kDepth = 32;  // K per staged slice, a multiple of 16
layout(constant_id = 6) const bool kTransposeA = false;  // A is stored K x M
layout(constant_id = 7) const bool kTransposeB = false;  // B is stored N x K
layout(constant_id = 8) const bool kAccumulate = false;
layout(constant_id = 9) const bool kHalfC = false;

const uint kTile = 16;
const uint BM = kSubgroupsM * kTilesM * kTile;
const uint BN = kSubgroupsN * kTilesN * kTile;
// Row strides in shared memory, padded by 16 bytes (matrix loads and stores
// need 16-byte aligned rows; the padding also spreads rows over banks).
const uint kStrideA = kDepth + 8;  // halves
const uint kStrideB = BN + 8;      // halves
const uint kStrideC = BN + 4;      // floats

layout(std430, binding = 0) readonly buffer MatrixA { float16_t a[]; };
layout(std430, binding = 1) readonly buffer MatrixB { float16_t b[]; };
layout(std430, binding = 2) buffer MatrixC { float c[]; };
layout(std430, binding = 2) buffer MatrixC16 { float16_t c16[]; };
layout(push_constant) uniform Push { MatmulParams p; };

shared float16_t tile_a[BM * kStrideA];      // op(A) rows m0.., columns k0..: BM x kDepth
shared float16_t tile_b[kDepth * kStrideB];  // op(B) rows k0.., columns n0..: kDepth x BN
shared float tile_c[BM * kStrideC];          // the accumulators on their way out

// op(A)[row][col] and op(B)[row][col], zero outside the matrices.
float16_t OpA(uint row, uint col) {
  if (row >= p.m || col >= p.k) return float16_t(0);
  return kTransposeA ? a[col * p.m + row] : a[row * p.k + col];
}
float16_t OpB(uint row, uint col) {
  if (row >= p.k || col >= p.n) return float16_t(0);
  return kTransposeB ? b[col * p.k + row] : b[row * p.n + col];
}

void StageSlice(uint m0, uint n0, uint k0) {
  const uint lane = gl_LocalInvocationID.x;
  // Consecutive invocations take consecutive stored elements: along K for A,
  // along M for A^T; along N for B, along K for B^T.
  for (uint i = lane; i < BM * kDepth; i += kGroupSize) {
    uint row = kTransposeA ? i % BM : i / kDepth;
    uint col = kTransposeA ? i / BM : i % kDepth;
    tile_a[row * kStrideA + col] = OpA(m0 + row, k0 + col);
  }
  for (uint i = lane; i < kDepth * BN; i += kGroupSize) {
    uint row = kTransposeB ? i % kDepth : i / BN;
    uint col = kTransposeB ? i / kDepth : i % BN;
    tile_b[row * kStrideB + col] = OpB(k0 + row, n0 + col);
  }
}

void main() {
  const uint m0 = gl_WorkGroupID.y * BM, n0 = gl_WorkGroupID.x * BN;
  // This subgroup's block of the workgroup tile.
  const uint sub_m = (gl_SubgroupID / kSubgroupsN) * kTilesM * kTile;
  const uint sub_n = (gl_SubgroupID % kSubgroupsN) * kTilesN * kTile;

  fcoopmatNV<32, gl_ScopeSubgroup, kTile, kTile> sums[kTilesM * kTilesN];
  [[unroll]] for (uint t = 0; t < kTilesM * kTilesN; ++t) sums[t] = fcoopmatNV<32, gl_ScopeSubgroup, kTile, kTile>(0.0);

  for (uint k0 = 0; k0 < p.k; k0 += kDepth) {
    StageSlice(m0, n0, k0);
    barrier();
    [[unroll]] for (uint kk = 0; kk < kDepth; kk += kTile) {
      fcoopmatNV<16, gl_ScopeSubgroup, kTile, kTile> left[kTilesM];
      [[unroll]] for (uint i = 0; i < kTilesM; ++i)
        coopMatLoadNV(left[i], tile_a, (sub_m + i * kTile) * kStrideA + kk, kStrideA, false);
      [[unroll]] for (uint j = 0; j < kTilesN; ++j) {
        fcoopmatNV<16, gl_ScopeSubgroup, kTile, kTile> right;
        coopMatLoadNV(right, tile_b, kk * kStrideB + sub_n + j * kTile, kStrideB, false);
        [[unroll]] for (uint i = 0; i < kTilesM; ++i)
          sums[i * kTilesN + j] = coopMatMulAddNV(left[i], right, sums[i * kTilesN + j]);
      }
    }
    barrier();  // the slice is read by every subgroup before the next overwrites it
  }

  [[unroll]] for (uint i = 0; i < kTilesM; ++i)
    [[unroll]] for (uint j = 0; j < kTilesN; ++j)
      coopMatStoreNV(sums[i * kTilesN + j], tile_c, (sub_m + i * kTile) * kStrideC + sub_n + j * kTile, kStrideC, false);
  barrier();
  for (uint i = gl_LocalInvocationID.x; i < BM * BN; i += kGroupSize) {
    uint row = m0 + i / BN, col = n0 + i % BN;
    if (row >= p.m || col >= p.n) continue;
    uint at = row * p.n + col;
    float value = tile_c[(i / BN) * kStrideC + i % BN];
    if (kHalfC) {
      if (kAccumulate) value += float(c16[at]);
      c16[at] = float16_t(value);
    } else {
      if (kAccumulate) value += c[at];
      c[at] = value;
    }
  }
}
