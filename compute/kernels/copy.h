// copy.comp: dst = src over float4 elements, the bandwidth-ceiling kernel.
#pragma once

#include "compute/kernels/tensor_ref.h"

namespace ts::kernels {

// Copies src.count floats (a multiple of 4) into dst. Cost: reads and writes
// 4 * count bytes each, no FLOPs.
vk::Dispatch CopyDispatch(vk::PipelineCache& pipelines, TensorRef src, TensorRef dst, uint32_t workgroup_size = 256);

}  // namespace ts::kernels
