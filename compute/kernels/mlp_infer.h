// mlp_infer.comp: inference of a small dense network in one dispatch, a few
// input rows per invocation, activations in registers, weights read as vec4
// texels (see the shader for the layout). Used where many rows go through a
// small network at once: the decision boundary's grid.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "compute/kernels/activation.h"
#include "compute/kernels/tensor_ref.h"

namespace ts::kernels {

enum class MlpInferHead : uint32_t { kIdentity = 0, kSoftmax = 1, kSigmoid = 2 };

struct MlpInferArgs {
  TensorRef inputs;   // (rows x widths[0]), bound as an R32F uniform texel buffer
  TensorRef weights;  // every layer's weight then bias (MlpInferPackWeights), bound as an RGBA32F texel buffer
  TensorRef outputs;  // (rows x widths.back())
  uint32_t rows = 0;
  std::vector<uint32_t> widths;            // inputs, then each dense layer's units
  std::vector<Activation> activations;     // after each dense layer
  float leaky_slope = 0.01f;               // for every leaky-ReLU layer
  MlpInferHead head = MlpInferHead::kSoftmax;
  uint32_t rows_per_invocation = 4;  // register blocking: each weight read serves this many rows
};



// The kernel's limits: layers and width of any layer.
uint32_t MlpInferMaxLayers();
uint32_t MlpInferMaxWidth();
// Floats of the weights buffer for these widths: per layer, its weight as
// `in` rows of ceil(out / 4) vec4s (columns past `out` zero), then its bias as
// ceil(out / 4) vec4s.
uint64_t MlpInferWeightCount(const std::vector<uint32_t>& widths);
// Packs per-layer weights ({in, out} row-major, Y = X W) and biases (empty:
// none) into that layout.
std::vector<float> MlpInferPackWeights(const std::vector<uint32_t>& widths,
                                       const std::vector<std::span<const float>>& layer_weights,
                                       const std::vector<std::span<const float>>& layer_biases);

// Cost: 2 in out FLOPs per row and layer (each output starts from its bias;
// activations and head not counted); reads the inputs
// and, once, the weights; writes the outputs.
vk::Dispatch MlpInferDispatch(vk::PipelineCache& pipelines, const MlpInferArgs& args, uint32_t workgroup_size = 64);

}  // namespace ts::kernels
