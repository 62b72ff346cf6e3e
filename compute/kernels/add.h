// add.comp: out = a + b elementwise, a residual connection's forward.
#pragma once

#include <cstdint>

#include "compute/kernels/tensor_ref.h"

namespace ts::kernels {

// Over `count` floats; out may not overlap a or b.
struct AddArgs {
  TensorRef a, b, out;
  uint64_t count = 0;
};
vk::Dispatch AddDispatch(vk::PipelineCache& pipelines, const AddArgs& args);

}  // namespace ts::kernels
