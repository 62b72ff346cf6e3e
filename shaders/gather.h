// Push constants of gather.comp (shared by GLSL and C++).
#ifndef TENSORSCOPE_SHADERS_GATHER_H
#define TENSORSCOPE_SHADERS_GATHER_H
#include "shared_types.h"
TS_SHADER_NAMESPACE_BEGIN

struct GatherParams {
  uint rows;               // batch rows
  uint feature_size;       // features per sample
  uint permutation_count;  // entries in the epoch's permutation
  float scale;             // normalised = raw * scale + offset
  float offset;
  uint samples_per_chunk;  // samples in each feature buffer (the last may hold fewer)
  // Augmentation of C x H x W samples (stored H x W x C); crop_padding 0 and flip 0: none.
  uint channels, height, width;
  uint crop_padding;       // pad with zeros, then crop at a random offset in [0, 2 * crop_padding]
  uint flip;               // 1: mirror left-right half the time
  uint augment_seed;       // with StepParams::adam_step and the row: the draw (GatherAugmentBits)
  uint labels_per_sample;  // 1, or a sequence's labels per sample (gather.comp only)
};
TS_CHECK_PUSH_LAYOUT(GatherParams, 13)

// A dataset's features may span up to GATHER_MAX_CHUNKS buffers, each within
// maxStorageBufferRange (128 MiB on lavapipe; CIFAR-10's training set is 154 MB).
const uint GATHER_MAX_CHUNKS = 4u;

TS_SHADER_NAMESPACE_END
#endif
