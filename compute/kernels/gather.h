// gather.comp: assembles a training batch on the device from the resident
// dataset, in the order of the epoch's shuffled permutation. No per-step upload.
//
// Row r of the batch is sample s = permutation[step.batch_offset + r] (rows
// past the end of the permutation repeat the batch's first sample; they are
// padding and the metrics kernel ignores them):
//   batch_x[r][j]    = feature(s, j) * scale + offset
//   batch_labels[r]  = labels[s]
// (or, with labels_per_sample L > 1, a sequence's labels:
//   batch_labels[r*L + j] = labels[s*L + j])
#pragma once

#include <cstdint>
#include <vector>

#include "compute/kernels/tensor_ref.h"

namespace ts::kernels {

// How the batch is assembled: gather.comp reads and writes one feature per
// invocation (any shape, augmentation); gather_vec4.comp four, reading the
// dataset through texel buffers (GatherCanUseVec4 must hold). kAuto: vec4
// wherever it can.
enum class GatherPath { kAuto, kScalar, kVec4 };

struct GatherArgs {
  TensorRef features;      // dataset features: float32 (count x feature_size), or
                           // uint8 packed 4 per uint32 when features_u8
  // More features when one buffer cannot hold them all (maxStorageBufferRange):
  // features holds samples [0, samples_per_chunk), extra_features[k] the next
  // samples_per_chunk each. Up to 3; empty: features holds every sample.
  std::vector<TensorRef> extra_features;
  uint32_t samples_per_chunk = 0;  // with extra_features; each chunk's bytes a multiple of 4
  bool features_u8 = false;
  TensorRef labels;        // (dataset count * labels_per_sample) uint32
  TensorRef permutation;   // (permutation_count) uint32 sample indices
  TensorRef step_params;   // one StepParams read (batch_offset)
  TensorRef batch_x;       // (rows, feature_size) write
  TensorRef batch_labels;  // (rows * labels_per_sample) uint32 write
  uint32_t rows = 0, feature_size = 0, permutation_count = 0;
  uint32_t labels_per_sample = 1;  // > 1: the scalar shader (GatherCanUseVec4 is false)
  float scale = 1.0f, offset = 0.0f;
  // Training augmentation of C x H x W samples stored H x W x C (all zero: none).
  // Row r of a step draws bits = InitRandomBits(augment_seed, StepParams::adam_step, r):
  // crop offsets (bits & 255) % (2p + 1) - p down and ((bits >> 8) & 255) % (2p + 1) - p
  // across, mirrored when flip and bit 16 is set; output (y, x) reads input
  // (y + dy, x' + dx) with x' = W - 1 - x when mirrored, zero outside the image.
  uint32_t channels = 0, height = 0, width = 0, crop_padding = 0;
  bool flip = false;
  uint32_t augment_seed = 0;
  GatherPath path = GatherPath::kAuto;
};

// Whether gather_vec4.comp can assemble this batch on `context`'s device: no
// augmentation, feature_size % 4 == 0, batch_x 16-byte aligned (offset and
// slot stride), each feature buffer within maxTexelBufferElements and at a
// multiple of minTexelBufferOffsetAlignment.
bool GatherCanUseVec4(const vk::Context& context, const GatherArgs& args);

vk::Dispatch GatherDispatch(vk::PipelineCache& pipelines, const GatherArgs& args);

}  // namespace ts::kernels
