#version 450
// Kernel Lab, lesson 1: the grid. A dispatch of gl_NumWorkGroups workgroups,
// each of gl_WorkGroupSize invocations; every invocation finds its element
// from its IDs,
//   gl_GlobalInvocationID = gl_WorkGroupID * gl_WorkGroupSize + gl_LocalInvocationID,
// and writes there who computed it: its workgroup (linear index), its index
// in the workgroup (gl_LocalInvocationIndex) and its subgroup (gl_SubgroupID).
// Invocations past the edge of the array return at the bounds guard; each
// counts itself, so the idle invocations are the kernel's own count.
// CUDA's words: blockIdx * blockDim + threadIdx; a subgroup is a warp.
#extension GL_KHR_shader_subgroup_basic : require
#include "lab.h"

layout(local_size_x_id = 0, local_size_y_id = 1) in;
layout(constant_id = 0) const uint kGroupX = 32;
layout(constant_id = 1) const uint kGroupY = 1;

layout(std430, binding = 0) writeonly buffer Who { uint who[]; };  // 3 per element: workgroup, invocation, subgroup
layout(std430, binding = 1) buffer Idle { uint idle_invocations; };
layout(push_constant) uniform Push { LabGridParams p; };

void main() {
  uvec3 id = gl_WorkGroupID * gl_WorkGroupSize + gl_LocalInvocationID;  // = gl_GlobalInvocationID
  if (id.x >= p.width || id.y >= p.height) {  // the bounds guard
    atomicAdd(idle_invocations, 1u);
    return;
  }
  uint element = id.y * p.width + id.x;
  who[3u * element + 0u] = gl_WorkGroupID.x + gl_NumWorkGroups.x * gl_WorkGroupID.y;
  who[3u * element + 1u] = gl_LocalInvocationIndex;
  who[3u * element + 2u] = gl_SubgroupID;
}
