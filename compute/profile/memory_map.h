// Device memory by category (parameters, gradients, optimiser state,
// activations, dataset, staging, ...) against the heap and the driver's budget,
// and how the plan's memory grows with the batch size.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "compute/kernels/optimizer.h"
#include "compute/nn/model.h"
#include "compute/nn/plan.h"
#include "compute/vk/context.h"

namespace ts::profile {

struct MemoryCategory {
  std::string name;   // "parameters", "gradients", "optimizer state", "statistics", "activations",
                      // "activation gradients", "batch and step I/O", "dataset", "staging"
  uint64_t bytes = 0;
};

struct MemoryMap {
  std::vector<MemoryCategory> categories;  // in the order above; zero-sized ones kept
  uint64_t total = 0;
  uint64_t heap_size = 0;                  // the device-local heap the tensors live in
  uint64_t budget = 0, usage = 0;          // VK_EXT_memory_budget; 0 when not reported
  bool budget_reported = false;
};

MemoryMap BuildMemoryMap(const nn::MemoryUse& plan, uint64_t dataset_bytes, uint64_t staging_bytes,
                         const std::vector<vk::HeapBudget>& heaps);

// The plan's memory at each batch size, from the model's shapes alone (no
// device needed): what the memory chart plots against the batch size.
// Throws ts::Error when the model is invalid.
std::vector<nn::MemoryUse> EstimateMemoryByBatch(const nn::ModelDesc& model, kernels::OptimizerKind optimizer,
                                                 std::span<const uint32_t> batches);

}  // namespace ts::profile
