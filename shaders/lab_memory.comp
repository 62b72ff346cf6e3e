#version 450
// Kernel Lab, lesson 2: memory access patterns. Every kernel moves the same
// floats; only which address each invocation touches changes (kMode):
//   0 copy:        out[i] = in[i], neighbouring invocations on neighbouring
//                  floats (a subgroup's reads form one contiguous block);
//   1 strided:     out[i] = in[(i % R) * stride + i / R], R = count / stride:
//                  every float is read once, but neighbouring invocations
//                  read floats `stride` apart (stride 1 is the copy);
//   2 row walk:    invocation r sums row r of a rows x cols matrix, walking
//                  along it: at each step neighbours are `cols` floats apart;
//   3 column walk: invocation c sums column c, walking down it: at each step
//                  neighbours read neighbouring floats.
// Large counts: a 2D grid of workgroups (linear index x + y * grid width).
#define LAB_RECORD_BINDING 2
#include "lab_record.glsl"
#include "lab.h"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint kGroup = 256;
layout(constant_id = 1) const uint kMode = 0;

layout(std430, binding = 0) readonly buffer Input { float values[]; };
layout(std430, binding = 1) writeonly buffer Output { float result[]; };
layout(push_constant) uniform Push { LabMemoryParams p; };

const uint kBufferIn = 0u, kBufferOut = 1u;

float Read(uint step, uint index) {
  LabRecord(step, kLabGlobalRead, kBufferIn, index);
  return values[index];
}

void Write(uint step, uint index, float value) {
  LabRecord(step, kLabGlobalWrite, kBufferOut, index);
  result[index] = value;
}

void main() {
  uint i = (gl_WorkGroupID.x + gl_NumWorkGroups.x * gl_WorkGroupID.y) * kGroup + gl_LocalInvocationIndex;
  if (kMode == 0u) {
    if (i < p.count) Write(1u, i, Read(0u, i));
  } else if (kMode == 1u) {
    uint rows = p.count / p.stride;  // the host makes count a multiple of stride
    if (i < p.count) Write(1u, i, Read(0u, (i % rows) * p.stride + i / rows));
  } else if (kMode == 2u) {
    if (i >= p.rows) return;
    float sum = 0.0;
    for (uint c = 0u; c < p.cols; ++c) sum += Read(c, i * p.cols + c);
    Write(p.cols, i, sum);
  } else {
    if (i >= p.cols) return;
    float sum = 0.0;
    for (uint r = 0u; r < p.rows; ++r) sum += Read(r, r * p.cols + i);
    Write(p.rows, i, sum);
  }
}
