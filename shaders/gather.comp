#version 450
// Assembles a training batch from the resident dataset in the order of the
// epoch's permutation: row r is sample s = permutation[step.batch_offset + r],
// or the batch's first sample for rows past the end of the permutation
// (padding, ignored by the metrics). Then
//   batch_x[r][j]   = feature(s, j) * scale + offset
//   batch_labels[r] = labels[s]
// Features are float32, or uint8 packed 4 per uint32 word in little-endian
// order (byte j of sample s is byte s * feature_size + j of the buffer).
#include "gather.h"
#include "step_params.h"

layout(local_size_x_id = 0) in;  // workgroup size: specialization constant 0
layout(constant_id = 1) const uint kFeaturesU8 = 0u;  // 1: packed uint8 features (uint: see optimizer.comp)

layout(std430, binding = 0) readonly buffer Features { uint features[]; };     // f32 bits or packed u8
layout(std430, binding = 1) readonly buffer Labels { uint labels[]; };         // (dataset count)
layout(std430, binding = 2) readonly buffer Permutation { uint permutation[]; };
layout(std430, binding = 3) readonly buffer Step { StepParams step; };
layout(std430, binding = 4) writeonly buffer BatchX { float batch_x[]; };      // (rows, feature_size)
layout(std430, binding = 5) writeonly buffer BatchLabels { uint batch_labels[]; };  // (rows)
layout(push_constant) uniform Push { GatherParams p; };

uint SampleOfRow(uint r) {
  uint first = min(step.batch_offset, p.permutation_count - 1u);
  uint position = step.batch_offset + r;
  return permutation[position < p.permutation_count ? position : first];
}

void main() {
  uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  for (uint r = gl_GlobalInvocationID.x; r < p.rows; r += stride) batch_labels[r] = labels[SampleOfRow(r)];

  uint count = p.rows * p.feature_size;
  for (uint i = gl_GlobalInvocationID.x; i < count; i += stride) {
    uint r = i / p.feature_size, j = i - r * p.feature_size;
    uint element = SampleOfRow(r) * p.feature_size + j;
    float raw;
    if (kFeaturesU8 != 0u) {
      raw = float((features[element >> 2u] >> ((element & 3u) * 8u)) & 0xffu);
    } else {
      raw = uintBitsToFloat(features[element]);
    }
    batch_x[i] = raw * p.scale + p.offset;
  }
}
