#version 450
// dst[i] = src[i] over vec4 elements: the kernel that measures the device's
// achievable memory bandwidth (bytes read + written per second).
#include "copy.h"

layout(local_size_x_id = 0) in;  // workgroup size: specialization constant 0

layout(std430, binding = 0) readonly buffer Source { vec4 src[]; };
layout(std430, binding = 1) writeonly buffer Destination { vec4 dst[]; };
layout(push_constant) uniform Push { CopyParams p; };

void main() {
  // Grid-stride loop: any workgroup count covers any size.
  uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  for (uint i = gl_GlobalInvocationID.x; i < p.vec4_count; i += stride) dst[i] = src[i];
}
