#version 450
// Kernel Lab, lesson 4: the sum of N floats, six ways (kVariant):
//   0 atomics:      every invocation adds its float to the total with an
//                   atomic compare-and-swap loop (they all queue on one word);
//   1 interleaved:  each workgroup sums its floats in shared memory as a tree,
//                   level s adding element tid + s into tid where tid % 2s == 0
//                   (active invocations scattered: every subgroup diverges
//                   and none can skip a level);
//   2 sequential:   the same tree with the first s invocations adding element
//                   tid + s (active invocations contiguous, words consecutive);
//   3 first add:    each invocation adds two floats while loading (a
//                   workgroup covers 2 x its size), then the sequential tree;
//   4 subgroupAdd:  first add, then subgroupAdd() in each subgroup and once
//                   more over the subgroups' sums (no tree, two barriers);
//   5 two passes:   pass 1 is variant 4 writing each workgroup's sum;
//                   pass 2 (kSecondPass) is one workgroup summing those.
// Variants 1-4 finish with one atomic add per workgroup into the total and
// also write each workgroup's sum (partials), which the CPU checks too.
// Large N: the workgroups form a 2D grid (linear index x + y * grid width);
// workgroups past the last needed one return at once.
#extension GL_KHR_shader_subgroup_arithmetic : require
#define LAB_RECORD_BINDING 3
#include "lab_record.glsl"
#include "lab.h"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint kGroup = 256;
layout(constant_id = 1) const uint kVariant = 2;
layout(constant_id = 2) const bool kSecondPass = false;  // variant 5's pass 2

layout(std430, binding = 0) readonly buffer Input { float values[]; };
layout(std430, binding = 1) writeonly buffer Partials { float partials[]; };  // per workgroup
layout(std430, binding = 2) buffer Total { uint total_bits[]; };             // [0]: the sum, as float bits
layout(push_constant) uniform Push { LabReductionParams p; };

shared float tree[kGroup];

const uint kBufferInput = 0u, kBufferPartials = 1u, kBufferTotal = 2u;
const uint kTree = 0u;

// total += value, atomically: compare-and-swap until no one else wrote between
// our read and our write (float atomics are an extension; this works anywhere).
void AtomicAddTotal(float value) {
  uint seen = 0u, expected;
  do {
    expected = seen;
    seen = atomicCompSwap(total_bits[0], expected, floatBitsToUint(uintBitsToFloat(expected) + value));
  } while (seen != expected);
}

float Load(uint index, uint step) {
  if (index >= p.count) return 0.0;
  LabRecord(step, kLabGlobalRead, kBufferInput, index);
  return values[index];
}

void StoreTree(uint step, float value) {
  tree[gl_LocalInvocationIndex] = value;
  LabRecord(step, kLabSharedWrite, kTree, gl_LocalInvocationIndex);
}

// tree[to] += tree[from], recorded at tree level `level`.
void AddInTree(uint level, uint to, uint from) {
  LabRecord(level, kLabSharedRead, kTree, to);
  LabRecord(level, kLabSharedRead, kTree, from);
  tree[to] += tree[from];
  LabRecord(level, kLabSharedWrite, kTree, to);
}

// The sum over the workgroup of `value` by subgroup operations: valid in
// invocation 0. Subgroups are gl_NumSubgroups runs of invocations.
shared float subgroup_sums[kGroup];
float WorkgroupSumBySubgroups(float value) {
  float mine = subgroupAdd(value);
  if (subgroupElect()) subgroup_sums[gl_SubgroupID] = mine;
  barrier();
  float total = 0.0;
  if (gl_SubgroupID == 0u) {
    float part = 0.0;
    for (uint s = gl_SubgroupInvocationID; s < gl_NumSubgroups; s += gl_SubgroupSize) part += subgroup_sums[s];
    total = subgroupAdd(part);
  }
  return total;
}

void main() {
  const uint tid = gl_LocalInvocationIndex;
  const uint group = gl_WorkGroupID.x + gl_NumWorkGroups.x * gl_WorkGroupID.y;
  const uint per_group = kVariant >= 3u ? 2u * kGroup : kGroup;  // floats a workgroup sums
  const uint levels = findMSB(kGroup);                          // kGroup is a power of two

  if (kSecondPass) {
    // One workgroup: each invocation sums a strided share of the partials.
    float value = 0.0;
    for (uint i = tid; i < p.count; i += kGroup) value += Load(i, 0u);
    float total = WorkgroupSumBySubgroups(value);
    if (tid == 0u) {
      LabRecord(1u, kLabGlobalWrite, kBufferTotal, 0u);
      total_bits[0] = floatBitsToUint(total);
    }
    return;
  }
  if (group * per_group >= max(p.count, 1u)) return;  // a workgroup of the grid's ragged end: nothing to sum

  if (kVariant == 0u) {
    uint i = group * kGroup + tid;
    if (i < p.count) {
      float value = Load(i, 0u);
      LabRecord(1u, kLabGlobalWrite, kBufferTotal, 0u);
      AtomicAddTotal(value);
    }
    return;
  }

  float sum;
  if (kVariant == 1u || kVariant == 2u) {
    StoreTree(0u, Load(group * kGroup + tid, 0u));
    barrier();
    for (uint level = 1u; level <= levels; ++level) {
      if (kVariant == 1u) {
        uint s = 1u << (level - 1u);  // 1, 2, 4, ...
        if (tid % (2u * s) == 0u) AddInTree(level, tid, tid + s);
      } else {
        uint s = kGroup >> level;  // kGroup / 2, kGroup / 4, ...
        if (tid < s) AddInTree(level, tid, tid + s);
      }
      barrier();
    }
    sum = tree[0];
  } else if (kVariant == 3u) {
    uint first = group * 2u * kGroup + tid;
    StoreTree(0u, Load(first, 0u) + Load(first + kGroup, 0u));
    barrier();
    for (uint level = 1u; level <= levels; ++level) {
      uint s = kGroup >> level;
      if (tid < s) AddInTree(level, tid, tid + s);
      barrier();
    }
    sum = tree[0];
  } else {
    uint first = group * 2u * kGroup + tid;
    sum = WorkgroupSumBySubgroups(Load(first, 0u) + Load(first + kGroup, 0u));
  }
  if (tid == 0u) {
    LabRecord(levels + 1u, kLabGlobalWrite, kBufferPartials, group);
    partials[group] = sum;
    if (kVariant != 5u) {
      LabRecord(levels + 1u, kLabGlobalWrite, kBufferTotal, 0u);
      AtomicAddTotal(sum);
    }
  }
}
