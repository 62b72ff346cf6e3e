#version 450
// Kernel Lab, lesson 5: divergence and occupancy. Every invocation runs one
// of two loops of equal length, A or B (different arithmetic, so no compiler
// can merge them). A fraction of invocations takes A, spread by `pattern`:
//   0 alternating lanes:     within every subgroup, that fraction of its lanes
//                            (so every subgroup holds both kinds and, running
//                            in lockstep, pays for both loops);
//   1 alternating subgroups: that fraction of whole subgroups (each subgroup
//                            runs one loop only).
// Bresenham spreading: rank r takes A when floor((r+1)p/100) > floor(rp/100).
// kSharedWords re-specialises the shared memory the workgroup claims (and
// uses: it seeds the loops), the occupancy lesson's other knob.
// The invocation writes its result and which loop it ran (the CPU checks both).
#extension GL_KHR_shader_subgroup_basic : require
#include "lab.h"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint kGroup = 256;
layout(constant_id = 1) const uint kSharedWords = 1;

layout(std430, binding = 0) writeonly buffer Result { float result[]; };
layout(std430, binding = 1) writeonly buffer Branch { uint branch[]; };
layout(push_constant) uniform Push { LabDivergenceParams p; };

shared float seeds[kSharedWords];

bool TakesA(uint rank) { return (rank + 1u) * p.branch_percent / 100u > rank * p.branch_percent / 100u; }

void main() {
  uint tid = gl_LocalInvocationIndex;
  uint i = gl_WorkGroupID.x * kGroup + tid;
  for (uint w = tid; w < kSharedWords; w += kGroup) seeds[w] = float(w % 7u) * 0.1;
  barrier();
  if (i >= p.count) return;
  float x = seeds[(tid * 7u) % kSharedWords];
  uint subgroup = gl_WorkGroupID.x * gl_NumSubgroups + gl_SubgroupID;
  bool a = p.pattern == 0u ? TakesA(gl_SubgroupInvocationID) : TakesA(subgroup);
  if (a) {
    for (uint n = 0u; n < p.iterations; ++n) x = fma(x, 0.5, 1.0);  // converges to 2
  } else {
    for (uint n = 0u; n < p.iterations; ++n) x = x * x * 0.1 + 0.5;  // converges to 0.528
  }
  result[i] = x;
  branch[i] = a ? 1u : 0u;
}
