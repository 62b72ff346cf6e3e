#version 450
// Kernel Lab, lesson 3: the matrix-multiply ladder. C = A B, all row-major
// fp32: A is M x K, B is K x N, C is M x N. One shader, three kernels chosen
// by the specialization constant kRung (each rung is its own pipeline):
//   0 naive:     one element of C per invocation, gl_GlobalInvocationID.x
//                running down a column of C (neighbouring invocations read
//                rows of A that are K floats apart: uncoalesced);
//   1 coalesced: the same, x running along a row of C (neighbours read
//                neighbouring floats of B and write neighbouring floats of C);
//   2 tiled:     the workgroup stages a BM x BK tile of A and a BK x BN tile
//                of B in shared memory (barrier), then each invocation
//                computes TM x TN elements of C from the tiles, in registers.
//                TM = TN = 1 is the classic 16 x 16 shared tile; kPad adds a
//                column to the staged tiles (bank conflicts); TM > 1 is 1D
//                register blocking, TM, TN > 1 2D; kVec4A/B read vec4s.
// CUDA's words: workgroup = block, invocation = thread, shared = __shared__,
// barrier() = __syncthreads().
#extension GL_EXT_control_flow_attributes : require
#define LAB_RECORD_BINDING 3
#include "lab_record.glsl"
#include "lab.h"

layout(local_size_x_id = 0, local_size_y_id = 1) in;
layout(constant_id = 0) const uint kGroupX = 16;  // invocations along N
layout(constant_id = 1) const uint kGroupY = 16;  // invocations along M
layout(constant_id = 2) const uint kRung = 0;     // 0 naive, 1 coalesced, 2 tiled
layout(constant_id = 3) const uint TM = 1;        // tiled: rows of C per invocation
layout(constant_id = 4) const uint TN = 1;        // tiled: columns of C per invocation
layout(constant_id = 5) const uint BK = 16;       // tiled: steps of K per staged tile
layout(constant_id = 6) const uint kPad = 0;      // tiled: extra words per row of a staged tile
// Tiled: A (B) is read as vec4s along K (N). The host sets it only where K
// (N) and BK (BN) are multiples of 4, so a vec4 never straddles an edge.
layout(constant_id = 7) const bool kVec4A = false;
layout(constant_id = 8) const bool kVec4B = false;

layout(std430, binding = 0) readonly buffer MatrixA { float a[]; };
layout(std430, binding = 0) readonly buffer MatrixA4 { vec4 a4[]; };
layout(std430, binding = 1) readonly buffer MatrixB { float b[]; };
layout(std430, binding = 1) readonly buffer MatrixB4 { vec4 b4[]; };
layout(std430, binding = 2) writeonly buffer MatrixC { float c[]; };
layout(push_constant) uniform Push { LabMatmulParams p; };

// Buffer numbers in the access records.
const uint kBufferA = 0u, kBufferB = 1u, kBufferC = 2u;
const uint kTileA = 0u, kTileB = 1u;

// ---- rungs 0 and 1: one element of C per invocation, straight from memory.
// Records: step kk reads A[row][kk] and B[kk][col]; step K writes C.
void OneElement(uint row, uint col) {
  if (row >= p.m || col >= p.n) return;  // the bounds guard: idle invocations of edge workgroups
  float sum = 0.0;
  for (uint kk = 0u; kk < p.k; ++kk) {
    LabRecord(kk, kLabGlobalRead, kBufferA, row * p.k + kk);
    LabRecord(kk, kLabGlobalRead, kBufferB, kk * p.n + col);
    sum = fma(a[row * p.k + kk], b[kk * p.n + col], sum);
  }
  LabRecord(p.k, kLabGlobalWrite, kBufferC, row * p.n + col);
  c[row * p.n + col] = sum;
}

// ---- rung 2: shared tiles and register blocks.
const uint BM = kGroupY * TM;  // rows of C per workgroup
const uint BN = kGroupX * TN;  // columns of C per workgroup
const uint kStrideA = BM + kPad;
const uint kStrideB = BN + kPad;
// The tile of A is stored transposed, [s * kStrideA + r] = A[row0 + r][k0 + s],
// so the inner loop reads it along a row. Consecutive invocations load
// consecutive floats of A (same r, consecutive s) and so store words
// kStrideA apart: without padding, a power of two, all in a few banks.
shared float tile_a[kRung == 2u ? BK * kStrideA : 1u];
shared float tile_b[kRung == 2u ? BK * kStrideB : 1u];  // [s * kStrideB + col] = B[k0 + s][col0 + col]

const uint kInvocations = kGroupX * kGroupY;
const uint kWidthA = kVec4A ? 4u : 1u, kWidthB = kVec4B ? 4u : 1u;
const uint kLoadsA = (BM * BK / kWidthA + kInvocations - 1u) / kInvocations;  // load rounds per tile
const uint kLoadsB = (BK * BN / kWidthB + kInvocations - 1u) / kInvocations;
// Records: K tile t's steps start at t * kStepsPerTile: kLoadsA rounds staging
// A, kLoadsB staging B, then BK steps of multiply-adds; C is written after.
const uint kStepsPerTile = kLoadsA + kLoadsB + BK;

void StageA(uint row0, uint k0, uint step) {
  for (uint round = 0u; round < kLoadsA; ++round) {
    uint e = (round * kInvocations + gl_LocalInvocationIndex) * kWidthA;  // element of the tile, A's order
    if (e >= BM * BK) break;
    uint r = e / BK, s = e % BK, row = row0 + r, kk = k0 + s;
    vec4 v = vec4(0.0);  // zero outside A: the sums stay right at the edges
    if (row < p.m && kk < p.k) {
      uint index = row * p.k + kk;
      if (kVec4A) {
        v = a4[index / 4u];
      } else {
        v.x = a[index];
      }
      [[unroll]] for (uint q = 0u; q < kWidthA; ++q) LabRecord(step + round, kLabGlobalRead, kBufferA, index + q);
    }
    [[unroll]] for (uint q = 0u; q < kWidthA; ++q) {
      tile_a[(s + q) * kStrideA + r] = v[q];
      LabRecord(step + round, kLabSharedWrite, kTileA, (s + q) * kStrideA + r);
    }
  }
}

void StageB(uint col0, uint k0, uint step) {
  for (uint round = 0u; round < kLoadsB; ++round) {
    uint e = (round * kInvocations + gl_LocalInvocationIndex) * kWidthB;  // element of the tile, B's order
    if (e >= BK * BN) break;
    uint s = e / BN, col = e % BN, column = col0 + col, kk = k0 + s;
    vec4 v = vec4(0.0);
    if (column < p.n && kk < p.k) {
      uint index = kk * p.n + column;
      if (kVec4B) {
        v = b4[index / 4u];
      } else {
        v.x = b[index];
      }
      [[unroll]] for (uint q = 0u; q < kWidthB; ++q) LabRecord(step + kLoadsA + round, kLabGlobalRead, kBufferB, index + q);
    }
    [[unroll]] for (uint q = 0u; q < kWidthB; ++q) {
      tile_b[s * kStrideB + col + q] = v[q];
      LabRecord(step + kLoadsA + round, kLabSharedWrite, kTileB, s * kStrideB + col + q);
    }
  }
}

// Invocation (x, y) owns rows y + i * kGroupY and columns x + j * kGroupX of
// the workgroup's tile: interleaved, so a subgroup reads neighbouring words
// of tile_b (no bank conflicts) and one word of tile_a (a broadcast).
void Tiled() {
  uint row0 = gl_WorkGroupID.y * BM, col0 = gl_WorkGroupID.x * BN;
  uint x = gl_LocalInvocationID.x, y = gl_LocalInvocationID.y;
  float acc[TM * TN];
  [[unroll]] for (uint e = 0u; e < TM * TN; ++e) acc[e] = 0.0;

  uint tile = 0u;
  for (uint k0 = 0u; k0 < p.k; k0 += BK, ++tile) {
    uint step = tile * kStepsPerTile;
    StageA(row0, k0, step);
    StageB(col0, k0, step);
    barrier();  // the tiles are complete before anyone reads them
    for (uint s = 0u; s < BK; ++s) {
      float col_a[TM], row_b[TN];
      uint at = step + kLoadsA + kLoadsB + s;
      [[unroll]] for (uint i = 0u; i < TM; ++i) {
        col_a[i] = tile_a[s * kStrideA + y + i * kGroupY];
        LabRecord(at, kLabSharedRead, kTileA, s * kStrideA + y + i * kGroupY);
      }
      [[unroll]] for (uint j = 0u; j < TN; ++j) {
        row_b[j] = tile_b[s * kStrideB + x + j * kGroupX];
        LabRecord(at, kLabSharedRead, kTileB, s * kStrideB + x + j * kGroupX);
      }
      [[unroll]] for (uint i = 0u; i < TM; ++i)
        [[unroll]] for (uint j = 0u; j < TN; ++j) acc[i * TN + j] = fma(col_a[i], row_b[j], acc[i * TN + j]);
    }
    barrier();  // everyone has read the tiles before the next ones overwrite them
  }

  [[unroll]] for (uint i = 0u; i < TM; ++i)
    [[unroll]] for (uint j = 0u; j < TN; ++j) {
      uint row = row0 + y + i * kGroupY, col = col0 + x + j * kGroupX;
      if (row < p.m && col < p.n) {
        LabRecord(tile * kStepsPerTile, kLabGlobalWrite, kBufferC, row * p.n + col);
        c[row * p.n + col] = acc[i * TN + j];
      }
    }
}

void main() {
  if (kRung == 0u)
    OneElement(gl_GlobalInvocationID.x, gl_GlobalInvocationID.y);
  else if (kRung == 1u)
    OneElement(gl_GlobalInvocationID.y, gl_GlobalInvocationID.x);
  else
    Tiled();
}
