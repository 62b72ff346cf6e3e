#version 450
// Kernel Lab, lesson 6: the element-wise op the CPU and the device race on,
// z = a * x + y (SAXPY into a third array), one element per invocation.
// (The lesson's matrix multiply is the trainer's own, shaders/matmul.comp.)
// Large counts: a 2D grid of workgroups (linear index x + y * grid width).
#include "lab.h"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint kGroup = 256;

layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer Y { float y[]; };
layout(std430, binding = 2) writeonly buffer Z { float z[]; };
layout(push_constant) uniform Push { LabSaxpyParams p; };

void main() {
  uint i = (gl_WorkGroupID.x + gl_NumWorkGroups.x * gl_WorkGroupID.y) * kGroup + gl_LocalInvocationIndex;
  if (i < p.count) z[i] = fma(p.a, x[i], y[i]);
}
