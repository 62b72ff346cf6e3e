#version 450
// Assembles a training batch from the resident dataset in the order of the
// epoch's permutation: row r is sample s = permutation[step.batch_offset + r],
// or the batch's first sample for rows past the end of the permutation
// (padding, ignored by the metrics). Then
//   batch_x[r][j]   = feature(s, j) * scale + offset
//   batch_labels[r] = labels[s]   (L = labels_per_sample > 1: batch_labels[r*L + j] = labels[s*L + j])
// Features are float32, or uint8 packed 4 per uint32 word in little-endian
// order. Sample s lives in chunk s / samples_per_chunk (one buffer each, so a
// dataset may exceed one buffer's range), at local sample s % samples_per_chunk.
// The grid is 2D (features along x, rows along y), so no invocation divides
// per element: integer division has no vector instruction on CPU drivers. A
// workgroup holds several rows when a row has few features (one workgroup per
// row would cost a workgroup's start-up per handful of values).
#include "gather.h"
#include "init.h"
#include "step_params.h"

layout(local_size_x_id = 0, local_size_y_id = 2) in;  // lanes along features (0) x rows (2)
layout(constant_id = 1) const uint kFeaturesU8 = 0u;  // 1: packed uint8 features (uint: see optimizer.comp)

// Features: f32 bits or packed u8, in up to GATHER_MAX_CHUNKS buffers (unused ones bind a placeholder).
layout(std430, binding = 0) readonly buffer Features0 { uint features0[]; };
layout(std430, binding = 1) readonly buffer Features1 { uint features1[]; };
layout(std430, binding = 2) readonly buffer Features2 { uint features2[]; };
layout(std430, binding = 3) readonly buffer Features3 { uint features3[]; };
layout(std430, binding = 4) readonly buffer Labels { uint labels[]; };         // (dataset count * labels_per_sample)
layout(std430, binding = 5) readonly buffer Permutation { uint permutation[]; };
layout(std430, binding = 6) readonly buffer Step { StepParams step; };
layout(std430, binding = 7) writeonly buffer BatchX { float batch_x[]; };      // (rows, feature_size)
layout(std430, binding = 8) writeonly buffer BatchLabels { uint batch_labels[]; };  // (rows * labels_per_sample)
layout(push_constant) uniform Push { GatherParams p; };

uint SampleOfRow(uint r) {
  uint first = min(step.batch_offset, p.permutation_count - 1u);
  uint position = step.batch_offset + r;
  return permutation[position < p.permutation_count ? position : first];
}

uint Word(uint chunk, uint index) {
  if (chunk == 0u) return features0[index];
  if (chunk == 1u) return features1[index];
  if (chunk == 2u) return features2[index];
  return features3[index];
}

void main() {
  const bool augment = p.crop_padding != 0u || p.flip != 0u;
  for (uint r = gl_GlobalInvocationID.y; r < p.rows; r += gl_NumWorkGroups.y * gl_WorkGroupSize.y) {
    uint s = SampleOfRow(r);
    for (uint j = gl_GlobalInvocationID.x; j < p.labels_per_sample; j += gl_NumWorkGroups.x * gl_WorkGroupSize.x)
      batch_labels[r * p.labels_per_sample + j] = labels[s * p.labels_per_sample + j];
    uint chunk = s / p.samples_per_chunk;
    uint base = (s - chunk * p.samples_per_chunk) * p.feature_size;
    uint row = r * p.feature_size;
    // This row's draw: crop offsets in [0, 2 * crop_padding] and the flip bit.
    uint bits = augment ? InitRandomBits(p.augment_seed, step.adam_step, r) : 0u;
    int offset_y = int((bits & 0xffu) % (2u * p.crop_padding + 1u)) - int(p.crop_padding);
    int offset_x = int(((bits >> 8u) & 0xffu) % (2u * p.crop_padding + 1u)) - int(p.crop_padding);
    bool mirror = p.flip != 0u && ((bits >> 16u) & 1u) != 0u;
    for (uint j = gl_GlobalInvocationID.x; j < p.feature_size; j += gl_NumWorkGroups.x * gl_WorkGroupSize.x) {
      uint element = base + j;
      if (augment) {  // output pixel (y, x) reads input pixel (y + offset_y, x' + offset_x), zero outside
        uint c = j % p.channels, pixel = j / p.channels;
        int y = int(pixel / p.width), x = int(pixel % p.width);
        if (mirror) x = int(p.width) - 1 - x;
        int source_y = y + offset_y, source_x = x + offset_x;
        if (source_y < 0 || source_x < 0 || source_y >= int(p.height) || source_x >= int(p.width)) {
          batch_x[row + j] = p.offset;  // a padded zero, normalised
          continue;
        }
        element = base + (uint(source_y) * p.width + uint(source_x)) * p.channels + c;
      }
      float raw;
      if (kFeaturesU8 != 0u) {
        raw = float((Word(chunk, element >> 2u) >> ((element & 3u) * 8u)) & 0xffu);
      } else {
        raw = uintBitsToFloat(Word(chunk, element));
      }
      batch_x[row + j] = raw * p.scale + p.offset;
    }
  }
}
