#version 450
// gather.comp for the common case, four features per invocation: no
// augmentation, feature_size a multiple of 4 and a 16-byte aligned batch_x.
// The dataset is read through texel buffers (a vectorised fetch on lavapipe,
// where storage-buffer loads go lane by lane) and each invocation writes one
// vec4. Same result as gather.comp:
//   batch_x[r][j]   = feature(s, j) * scale + offset,  s = the row's sample
//   batch_labels[r] = labels[s]
#extension GL_EXT_samplerless_texture_functions : require
#include "gather.h"
#include "step_params.h"

layout(local_size_x_id = 0, local_size_y_id = 2) in;  // lanes along features (0) x rows (2)
layout(constant_id = 1) const uint kFeaturesU8 = 0u;  // 1: packed uint8 features

// Features of up to GATHER_MAX_CHUNKS buffers: R32UI texels of 4 packed uint8
// features, or RGBA32UI texels of 4 float32 bit patterns.
layout(binding = 0) uniform utextureBuffer features0;
layout(binding = 1) uniform utextureBuffer features1;
layout(binding = 2) uniform utextureBuffer features2;
layout(binding = 3) uniform utextureBuffer features3;
layout(std430, binding = 4) readonly buffer Labels { uint labels[]; };         // (dataset count)
layout(std430, binding = 5) readonly buffer Permutation { uint permutation[]; };
layout(std430, binding = 6) readonly buffer Step { StepParams step; };
layout(std430, binding = 7) writeonly buffer BatchX { vec4 batch_x[]; };       // (rows, feature_size / 4)
layout(std430, binding = 8) writeonly buffer BatchLabels { uint batch_labels[]; };  // (rows)
layout(push_constant) uniform Push { GatherParams p; };

uint SampleOfRow(uint r) {
  uint first = min(step.batch_offset, p.permutation_count - 1u);
  uint position = step.batch_offset + r;
  return permutation[position < p.permutation_count ? position : first];
}

uvec4 Texel(uint chunk, uint index) {
  if (chunk == 0u) return texelFetch(features0, int(index));
  if (chunk == 1u) return texelFetch(features1, int(index));
  if (chunk == 2u) return texelFetch(features2, int(index));
  return texelFetch(features3, int(index));
}

void main() {
  const uint quads = p.feature_size / 4u;
  for (uint r = gl_GlobalInvocationID.y; r < p.rows; r += gl_NumWorkGroups.y * gl_WorkGroupSize.y) {
    uint s = SampleOfRow(r);
    if (gl_GlobalInvocationID.x == 0u) batch_labels[r] = labels[s];
    uint chunk = s / p.samples_per_chunk;
    uint base = (s - chunk * p.samples_per_chunk) * quads;
    for (uint q = gl_GlobalInvocationID.x; q < quads; q += gl_NumWorkGroups.x * gl_WorkGroupSize.x) {
      vec4 raw;
      if (kFeaturesU8 != 0u) {
        uint word = Texel(chunk, base + q).x;
        raw = vec4(uvec4(word, word >> 8u, word >> 16u, word >> 24u) & 0xffu);
      } else {
        raw = uintBitsToFloat(Texel(chunk, base + q));
      }
      batch_x[r * quads + q] = raw * p.scale + p.offset;
    }
  }
}
