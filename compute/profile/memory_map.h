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

// The two device facts a plan's memory depends on beyond the shapes.
struct MemoryEstimateOptions {
  // minStorageBufferOffsetAlignment (bytes): every parameter tensor and every
  // step slot starts at a multiple of it. 256 is the largest Vulkan allows, so
  // the default never underestimates.
  uint64_t storage_alignment = 256;
  uint32_t slots = 32;  // step slots (nn::PlanOptions::slots): the trainer keeps 2 banks of 16 steps
};

// The plan's memory at each batch size, from the model's shapes alone (no
// device needed): what the memory chart plots against the batch size. It adds
// up the same tensors nn::Plan::Compile allocates (aligned parameter layout,
// fused activations, pooling argmax, bias-gradient and batch-norm workspaces,
// per-slot step I/O), so with the device's alignment and the plan's slots it
// equals Plan::memory() exactly.
// Throws ts::Error when the model is invalid.
std::vector<nn::MemoryUse> EstimateMemoryByBatch(const nn::ModelDesc& model, kernels::OptimizerKind optimizer,
                                                 std::span<const uint32_t> batches);
std::vector<nn::MemoryUse> EstimateMemoryByBatch(const nn::ModelDesc& model, kernels::OptimizerKind optimizer,
                                                 std::span<const uint32_t> batches,
                                                 const MemoryEstimateOptions& options);
// One batch size.
nn::MemoryUse EstimateMemory(const nn::ModelDesc& model, kernels::OptimizerKind optimizer, uint32_t batch,
                             const MemoryEstimateOptions& options = {});

}  // namespace ts::profile
