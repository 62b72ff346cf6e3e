#include "compute/profile/memory_map.h"

#include <algorithm>

#include "compute/common/error.h"
#include "compute/kernels/activation.h"
#include "compute/kernels/batchnorm.h"
#include "compute/kernels/layernorm.h"
#include "compute/nn/tensor_table.h"
#include "shaders/step_params.h"

namespace ts::profile {
namespace {

uint64_t AlignUp(uint64_t value, uint64_t alignment) { return (value + alignment - 1) / alignment * alignment; }

// Parameter and statistics floats as Plan lays them out: each tensor starts at
// an aligned offset; the parameter total is a multiple of 4 floats (the
// optimizer runs on vec4s); neither buffer is empty.
void AddParameterMemory(const nn::ModelDesc& model, const std::vector<nn::LayerShape>& shapes, uint64_t alignment_floats,
                        uint32_t optimizer_states, nn::MemoryUse& memory) {
  uint64_t total = 0, statistics = 0;
  auto add = [&](uint64_t& end, uint64_t count) { end = AlignUp(end + count, alignment_floats); };
  const nn::ModelTensors tensors = nn::ListModelTensors(model, shapes);
  for (const nn::ParameterTensor& t : tensors.parameters) add(total, t.count);
  for (const nn::ParameterTensor& t : tensors.statistics) add(statistics, t.count);
  total = AlignUp(std::max<uint64_t>(total, 1), 4);
  statistics = std::max<uint64_t>(statistics, 1);
  memory.parameters = memory.gradients = total * 4;
  memory.statistics = statistics * 4;
  memory.optimizer_state = total * 4 * optimizer_states;
}

// A sequence model's layer `i` (after the input) on `rows` = batch * T rows,
// in floats, as plan_sequence.cpp and plan_build.cpp allocate them. A block's
// attention is counted on the plain path (its T x T probabilities, the larger).
void AddSequenceLayer(const nn::ModelDesc& model, const std::vector<nn::LayerShape>& shapes, size_t i, uint64_t rows,
                      uint64_t& activations, uint64_t& gradients) {
  const nn::LayerDesc& layer = model.layers[i];
  const uint64_t in = shapes[i - 1].output.back(), out = shapes[i].output.back();
  const uint32_t r32 = static_cast<uint32_t>(rows);
  auto layer_norm = [&](uint64_t c) {  // output, mean, rstd; the backward's workspace and dx
    activations += rows * c + 2 * rows;
    gradients += kernels::LayerNormBackwardWorkspaceCount(r32, static_cast<uint32_t>(c)) + rows * c;
  };
  auto bias_workspace = [&](uint64_t n) {
    gradients += kernels::BiasActivationBackwardWorkspaceCount(r32, static_cast<uint32_t>(n));
  };
  switch (layer.kind) {
    case nn::LayerKind::kEmbedding:
      activations += rows * out;
      break;
    case nn::LayerKind::kLayerNorm:
      layer_norm(out);
      break;
    case nn::LayerKind::kTransformerBlock: {
      const uint64_t c = out, hidden = uint64_t(layer.mlp_ratio) * c, t = shapes[i].output[0];
      const uint64_t scores = rows / t * layer.heads * t * t;
      const bool fused = layer.attention == nn::AttentionChoice::kFused;
      layer_norm(c);                                   // ln_1 (and dx)
      activations += rows * 3 * c;                     // qkv
      bias_workspace(3 * c);
      activations += rows * c + (fused ? rows / t * layer.heads * t : scores);  // y, and P or lse
      activations += 2 * rows * c;                     // proj, x1 = x + proj
      bias_workspace(c);
      layer_norm(c);                                   // ln_2 (and dx1)
      activations += 2 * rows * hidden + 2 * rows * c; // fc, gelu, mlp, y
      bias_workspace(hidden);
      bias_workspace(c);
      gradients += 2 * rows * hidden + 2 * rows * c;   // dh, dfc, dln_2, datt
      gradients += rows * 3 * c + (fused ? rows / t * layer.heads * t : scores) + rows * c;  // dqkv, scratch, dln_1
      break;
    }
    case nn::LayerKind::kDense: {
      const bool fuse = i + 1 < model.layers.size() && model.layers[i + 1].kind == nn::LayerKind::kActivation;
      const bool has_activation = fuse && model.layers[i + 1].activation != kernels::Activation::kIdentity;
      activations += rows * out * (fuse ? 2 : 1);
      if (layer.bias) bias_workspace(out);
      if (has_activation) gradients += rows * out;
      gradients += rows * in;  // dX (the input is never the batch: an embedding comes first)
      break;
    }
    case nn::LayerKind::kActivation:
    case nn::LayerKind::kDropout:
      activations += rows * in;
      gradients += rows * in;
      break;
    default:  // the loss head (counted by the caller)
      break;
  }
}

}  // namespace

MemoryMap BuildMemoryMap(const nn::MemoryUse& plan, uint64_t dataset_bytes, uint64_t staging_bytes,
                         const std::vector<vk::HeapBudget>& heaps) {
  MemoryMap map;
  map.categories = {{"parameters", plan.parameters},
                    {"gradients", plan.gradients},
                    {"optimizer state", plan.optimizer_state},
                    {"statistics", plan.statistics},
                    {"activations", plan.activations},
                    {"activation gradients", plan.activation_gradients},
                    {"batch and step I/O", plan.batch + plan.step_io},
                    {"dataset", dataset_bytes},
                    {"staging", staging_bytes}};
  for (const MemoryCategory& category : map.categories) map.total += category.bytes;
  // The tensors live in the largest device-local heap (any heap when none says so).
  const vk::HeapBudget* chosen = nullptr;
  for (const vk::HeapBudget& heap : heaps) {
    const bool better = !chosen || (heap.device_local && !chosen->device_local) ||
                        (heap.device_local == chosen->device_local && heap.size > chosen->size);
    if (better) chosen = &heap;
  }
  if (chosen) {
    map.heap_size = chosen->size;
    map.budget = chosen->budget;
    map.usage = chosen->usage;
    map.budget_reported = chosen->budget > 0;
  }
  return map;
}

nn::MemoryUse EstimateMemory(const nn::ModelDesc& model, kernels::OptimizerKind optimizer, uint32_t batch,
                             const MemoryEstimateOptions& options) {
  Require(batch > 0, "The batch size must be at least 1.");
  Require(options.slots > 0, "A plan needs at least one step slot.");
  const std::vector<nn::LayerShape> shapes = nn::InferShapes(model);
  nn::MemoryUse memory;
  const uint64_t alignment = std::max<uint64_t>(options.storage_alignment, 4);
  AddParameterMemory(model, shapes, std::max<uint64_t>(1, options.storage_alignment / 4),
                     kernels::OptimizerStateCount(optimizer), memory);

  const uint64_t input_features = nn::ShapeElements(model.layers[0].shape);
  // A sequence model's layers work on every position: batch * T rows.
  const uint32_t tokens = nn::TokensPerSample(model);
  const uint64_t outputs = nn::ShapeElements(shapes[shapes.size() - 2].output) / tokens;
  memory.step_io = uint64_t(options.slots) * (AlignUp(sizeof(gpu::StepParams), alignment) + AlignUp(16, alignment) +
                                              AlignUp(uint64_t(batch) * tokens * outputs * 4, alignment));
  memory.batch = 4 * (uint64_t(batch) * input_features + uint64_t(batch) * tokens);  // gathered input, labels

  // What Plan's builder records per layer, in floats.
  struct Tensor {
    uint64_t count = 0;
    bool network_input = true;  // the batch input itself
  };
  uint64_t activations = 0, gradients = 0;
  Tensor current{uint64_t(batch) * input_features, true};
  for (size_t i = 0; i < model.layers.size(); ++i) {
    const nn::LayerDesc& layer = model.layers[i];
    const std::vector<uint32_t>& in_shape = i ? shapes[i - 1].output : shapes[0].output;
    const Tensor x = current;
    if (tokens > 1 && i >= 1) {  // a sequence model: every layer on (batch * T, C) rows
      AddSequenceLayer(model, shapes, i, uint64_t(batch) * tokens, activations, gradients);
      if (layer.kind != nn::LayerKind::kLoss) current = {uint64_t(batch) * tokens * shapes[i].output.back(), false};
      if (layer.kind == nn::LayerKind::kDense && i + 1 < model.layers.size() &&
          model.layers[i + 1].kind == nn::LayerKind::kActivation)
        ++i;  // fused into the dense layer's bias add
      continue;
    }
    const uint64_t features = nn::ShapeElements(in_shape);
    switch (layer.kind) {
      case nn::LayerKind::kDense:
      case nn::LayerKind::kConv2D: {
        const bool conv = layer.kind == nn::LayerKind::kConv2D;
        const uint32_t rows = conv ? static_cast<uint32_t>(nn::ConvGeometry(layer, in_shape, batch).output_pixels()) : batch;
        const uint32_t out = conv ? layer.filters : layer.units;
        const uint64_t values = uint64_t(rows) * out;
        activations += values;  // Z
        if (layer.bias) gradients += kernels::BiasActivationBackwardWorkspaceCount(rows, out);
        const bool fuse = i + 1 < model.layers.size() && model.layers[i + 1].kind == nn::LayerKind::kActivation;
        const bool has_activation = fuse && model.layers[i + 1].activation != kernels::Activation::kIdentity;
        if (fuse) activations += values;        // Y = act(Z + b)
        if (has_activation) gradients += values;  // dZ
        if (!x.network_input) gradients += x.count;  // dX
        current = {values, false};
        if (fuse) ++i;
        break;
      }
      case nn::LayerKind::kActivation:
        activations += batch * features;
        if (!x.network_input) gradients += batch * features;
        current = {batch * features, false};
        break;
      case nn::LayerKind::kPool2D:
      case nn::LayerKind::kGlobalAvgPool: {
        const kernels::PoolShape pool =
            layer.kind == nn::LayerKind::kPool2D
                ? nn::PoolGeometry(layer, in_shape, batch)
                : kernels::GlobalAveragePoolShape(batch, in_shape[1], in_shape[2], in_shape[0]);
        const bool is_max = layer.kind == nn::LayerKind::kPool2D && layer.pool == kernels::PoolKind::kMax;
        activations += pool.output_count() * (is_max ? 2 : 1);  // output (and argmax)
        if (!x.network_input) gradients += x.count;
        current = {pool.output_count(), false};
        break;
      }
      case nn::LayerKind::kDropout:
        activations += batch * features;
        if (!x.network_input) gradients += x.count;
        current = {batch * features, false};
        break;
      case nn::LayerKind::kBatchNorm: {
        const uint32_t channels = in_shape[0];
        const uint32_t rows = static_cast<uint32_t>(uint64_t(batch) * features / channels);
        activations += uint64_t(rows) * channels + 2 * uint64_t(channels);  // output, batch mean and inverse std
        activations += kernels::BatchNormWorkspaceCount(rows, channels);
        gradients += x.count;  // dX, even of the network input
        current = {uint64_t(rows) * channels, false};
        break;
      }
      default:  // input, flatten (no tensor of its own), the loss head (below)
        break;
    }
  }
  activations += 2 * uint64_t(batch) * tokens;  // row losses, row correct
  gradients += uint64_t(batch) * tokens * outputs;  // loss gradient
  memory.activations = activations * 4;
  memory.activation_gradients = gradients * 4;
  return memory;
}

std::vector<nn::MemoryUse> EstimateMemoryByBatch(const nn::ModelDesc& model, kernels::OptimizerKind optimizer,
                                                 std::span<const uint32_t> batches,
                                                 const MemoryEstimateOptions& options) {
  std::vector<nn::MemoryUse> estimates;
  estimates.reserve(batches.size());
  for (uint32_t batch : batches) estimates.push_back(EstimateMemory(model, optimizer, batch, options));
  return estimates;
}

std::vector<nn::MemoryUse> EstimateMemoryByBatch(const nn::ModelDesc& model, kernels::OptimizerKind optimizer,
                                                 std::span<const uint32_t> batches) {
  return EstimateMemoryByBatch(model, optimizer, batches, MemoryEstimateOptions{});
}

}  // namespace ts::profile
