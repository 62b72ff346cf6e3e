#include "compute/profile/memory_map.h"

#include <algorithm>

#include "compute/common/error.h"
#include "compute/kernels/activation.h"
#include "compute/kernels/batchnorm.h"
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
  for (size_t i = 0; i < model.layers.size(); ++i) {
    const nn::LayerDesc& layer = model.layers[i];
    if (layer.kind == nn::LayerKind::kDense) {
      add(total, nn::ShapeElements(shapes[i - 1].output) * layer.units);
      if (layer.bias) add(total, layer.units);
    } else if (layer.kind == nn::LayerKind::kConv2D) {
      add(total, uint64_t(layer.kernel[0]) * layer.kernel[1] * shapes[i - 1].output[0] * layer.filters);
      if (layer.bias) add(total, layer.filters);
    } else if (layer.kind == nn::LayerKind::kBatchNorm) {
      const uint64_t channels = shapes[i - 1].output[0];
      add(total, channels);      // gamma
      add(total, channels);      // beta
      add(statistics, channels); // running mean
      add(statistics, channels); // running variance
    }
  }
  total = AlignUp(std::max<uint64_t>(total, 1), 4);
  statistics = std::max<uint64_t>(statistics, 1);
  memory.parameters = memory.gradients = total * 4;
  memory.statistics = statistics * 4;
  memory.optimizer_state = total * 4 * optimizer_states;
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
  const uint64_t outputs = nn::ShapeElements(shapes[shapes.size() - 2].output);
  memory.step_io = uint64_t(options.slots) * (AlignUp(sizeof(gpu::StepParams), alignment) + AlignUp(16, alignment) +
                                              AlignUp(uint64_t(batch) * outputs * 4, alignment));
  memory.batch = 4 * (uint64_t(batch) * input_features + batch);  // gathered input, labels

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
    const uint64_t features = nn::ShapeElements(in_shape);
    const Tensor x = current;
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
  activations += 2 * uint64_t(batch);  // row losses, row correct
  gradients += uint64_t(batch) * outputs;  // loss gradient
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
