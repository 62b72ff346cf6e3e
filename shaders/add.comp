#version 450
// out[i] = a[i] + b[i]: a residual connection's forward (see compute/kernels/add.h).
#include "add.h"

layout(local_size_x_id = 0) in;  // workgroup size: specialization constant 0

layout(std430, binding = 0) readonly buffer A { float a[]; };        // (count)
layout(std430, binding = 1) readonly buffer B { float b[]; };        // (count)
layout(std430, binding = 2) writeonly buffer Out { float out_[]; };  // (count)
layout(push_constant) uniform Push { AddParams p; };

void main() {
  // Grid-stride loop: any workgroup count covers any size.
  const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  for (uint i = gl_GlobalInvocationID.x; i < p.count; i += stride) out_[i] = a[i] + b[i];
}
