// init.comp: seeded parameter initialisation on the device. Element i of a
// tensor gets a value computed from (seed, i) alone by a counter-based hash, so
// the result does not depend on the device, the workgroup size or the order of
// execution, and the CPU reference reproduces it (see InitValue).
#pragma once

#include <cstdint>

#include "compute/kernels/tensor_ref.h"

namespace ts::kernels {

enum class InitKind : uint32_t {
  kZeros = 0,
  kHeUniform = 1,      // U(-sqrt(6/fan_in), +sqrt(6/fan_in)): for ReLU-family layers
  kHeNormal = 2,       // N(0, 2/fan_in)
  kXavierUniform = 3,  // U(-sqrt(6/(fan_in+fan_out)), +...): for tanh/sigmoid/linear layers
  kXavierNormal = 4,   // N(0, 2/(fan_in+fan_out))
  kOnes = 5,           // 1 everywhere: batch norm's scale (gamma), running variance
  kNormal002 = 6,      // N(0, 0.02^2), whatever the fans: GPT-2's (and nanoGPT's) weights and embeddings
};

const char* InitName(InitKind kind);  // "zeros", "he_uniform", "he_normal", "xavier_uniform", "xavier_normal"

struct InitArgs {
  TensorRef params;  // (count) write
  uint32_t count = 0;
  InitKind kind = InitKind::kZeros;
  uint32_t fan_in = 1, fan_out = 1;
  uint32_t seed = 0;
};
vk::Dispatch InitDispatch(vk::PipelineCache& pipelines, const InitArgs& args);

// The value element `index` gets, computed on the CPU in double precision with
// the same hash (for tests and for initialising on the host).
double InitValue(InitKind kind, uint32_t seed, uint32_t index, uint32_t fan_in, uint32_t fan_out);

}  // namespace ts::kernels
