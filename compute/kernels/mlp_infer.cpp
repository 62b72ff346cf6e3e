#include "compute/kernels/mlp_infer.h"

#include <algorithm>
#include <cassert>

#include "compute/kernels/dispatch_helpers.h"
#include "shaders/mlp_infer.h"

namespace ts::kernels {

uint32_t MlpInferMaxLayers() { return gpu::MLP_INFER_MAX_LAYERS; }
uint32_t MlpInferMaxWidth() { return gpu::MLP_INFER_MAX_WIDTH; }

namespace {
uint32_t Vec4s(uint32_t floats) { return (floats + 3) / 4; }
}  // namespace

uint64_t MlpInferWeightCount(const std::vector<uint32_t>& widths) {
  uint64_t vec4s = 0;
  for (size_t l = 1; l < widths.size(); ++l) vec4s += uint64_t(widths[l - 1] + 1) * Vec4s(widths[l]);
  return 4 * vec4s;
}

std::vector<float> MlpInferPackWeights(const std::vector<uint32_t>& widths,
                                       const std::vector<std::span<const float>>& layer_weights,
                                       const std::vector<std::span<const float>>& layer_biases) {
  assert(layer_weights.size() + 1 == widths.size() && layer_biases.size() + 1 == widths.size());
  std::vector<float> packed(MlpInferWeightCount(widths), 0.0f);
  uint64_t at = 0;
  for (size_t l = 1; l < widths.size(); ++l) {
    const uint32_t in = widths[l - 1], out = widths[l], stride = 4 * Vec4s(out);
    assert(layer_weights[l - 1].size() == uint64_t(in) * out);
    for (uint32_t i = 0; i < in; ++i)
      std::copy_n(layer_weights[l - 1].begin() + uint64_t(i) * out, out, packed.begin() + at + uint64_t(i) * stride);
    at += uint64_t(in) * stride;
    if (!layer_biases[l - 1].empty()) {
      assert(layer_biases[l - 1].size() == out);
      std::copy_n(layer_biases[l - 1].begin(), out, packed.begin() + at);
    }
    at += stride;
  }
  return packed;
}

vk::Dispatch MlpInferDispatch(vk::PipelineCache& pipelines, const MlpInferArgs& args, uint32_t workgroup_size) {
  const size_t layers = args.widths.size() - 1;
  assert(layers >= 1 && layers <= gpu::MLP_INFER_MAX_LAYERS && args.activations.size() == layers &&
         "mlp_infer runs 1 to MLP_INFER_MAX_LAYERS dense layers, each with its activation");
  [[maybe_unused]] const uint64_t weight_floats = MlpInferWeightCount(args.widths);
  assert(args.weights.count >= weight_floats && "weights are packed by MlpInferPackWeights");
  assert(args.rows_per_invocation >= 1);
  assert(args.inputs.count >= uint64_t(args.rows) * args.widths.front() &&
         args.outputs.count >= uint64_t(args.rows) * args.widths.back());

  vk::SpecConstants spec{{0, workgroup_size},
                         {1, static_cast<uint32_t>(layers)},
                         {12, vk::FloatBits(args.leaky_slope)},
                         {11, args.rows_per_invocation},
                         {13, static_cast<uint32_t>(args.head)}};
  for (size_t l = 0; l <= layers; ++l) {
    assert(args.widths[l] >= 1 && args.widths[l] <= gpu::MLP_INFER_MAX_WIDTH);
    spec[2 + static_cast<uint32_t>(l)] = args.widths[l];
  }
  for (size_t l = 0; l < layers; ++l) spec[7 + static_cast<uint32_t>(l)] = static_cast<uint32_t>(args.activations[l]);

  vk::Dispatch d;
  const char* shader = "mlp_infer";
  d.kernel = shader;
  d.label = "fused inference of " + std::to_string(layers) + " dense layers";
  d.pipeline = &pipelines.Get(shader, spec);
  d.bindings = {TexelRead(args.inputs, VK_FORMAT_R32_SFLOAT, 4),
                TexelRead(args.weights, VK_FORMAT_R32G32B32A32_SFLOAT, 16), args.outputs.Bind(vk::Access::kWrite)};
  d.SetPushConstants(gpu::MlpInferParams{args.rows, 0, 0, 0});
  d.workgroups = {vk::DivideRoundUp(vk::DivideRoundUp(args.rows, args.rows_per_invocation), workgroup_size), 1, 1};
  double macs = 0, parameters = 0;
  for (size_t l = 1; l <= layers; ++l) {
    macs += double(args.widths[l - 1]) * args.widths[l];
    parameters += double(args.widths[l - 1] + 1) * args.widths[l];
  }
  // Each output starts from its bias: in x out FMAs per layer, nothing more.
  d.cost = {double(args.rows) * 2 * macs,
            4.0 * (double(args.rows) * args.widths.front() + parameters),
            4.0 * double(args.rows) * args.widths.back()};
  return d;
}

}  // namespace ts::kernels
