// Tensor parallelism for one dense layer (Megatron-LM's column-parallel
// linear): Y = act(X W + b) with W's output columns split over K devices.
// Device d holds X whole and columns [first_column[d], first_column[d + 1])
// of W and b, and computes those columns of Y with the trainer's own matmul
// and bias + activation kernels; an all-gather (through host-visible staging)
// then gives every device the whole Y. Each device stores and multiplies 1/K
// of the weights and receives the other devices' (K - 1)/K of Y.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "compute/kernels/activation.h"
#include "compute/vk/context.h"

namespace ts::parallel {

struct TensorParallelEvent {
  enum class Kind { kCompute, kAllGather } kind = Kind::kCompute;
  uint32_t device = 0;
  double start_ns = 0, end_ns = 0;  // host steady clock
};

struct TensorParallelResult {
  uint32_t devices = 0, batch = 0, inputs = 0, outputs = 0;
  std::vector<uint32_t> first_column;  // per device, then `outputs`
  bool simulated = false;              // the devices share one physical device
  // Largest |split and gathered - unsplit| over every element of Y on every
  // device, and largest |unsplit - double-precision reference| / (1 + |reference|).
  double max_split_difference = 0, max_reference_error = 0;
  uint64_t bytes_received_per_device = 0;  // the all-gather: the other devices' columns
  uint64_t weight_bytes_per_device = 0;    // the largest share of W and b
  std::vector<TensorParallelEvent> events;  // one split run: each device's compute, then the all-gather
  double split_ms = 0, unsplit_ms = 0;      // wall time: split (compute + all-gather) and one device
};

// Runs the layer (batch x inputs) -> (batch x outputs) with `activation` on
// random data from `seed`, split over `contexts` (2 or more, see
// CreateReplicaContexts) and unsplit on contexts[0]; every output buffer is
// poisoned with NaN first, so an element nobody wrote cannot pass. Throws
// ts::Error when there are more devices than output columns.
TensorParallelResult RunTensorParallelDense(const std::vector<vk::Context*>& contexts, uint32_t batch,
                                            uint32_t inputs, uint32_t outputs, kernels::Activation activation,
                                            uint64_t seed);

}  // namespace ts::parallel
