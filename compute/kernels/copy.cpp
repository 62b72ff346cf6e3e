#include "compute/kernels/copy.h"

#include <algorithm>
#include <cassert>

#include "shaders/copy.h"

namespace ts::kernels {

vk::Dispatch CopyDispatch(vk::PipelineCache& pipelines, TensorRef src, TensorRef dst, uint32_t workgroup_size) {
  assert(src.count == dst.count && src.count % 4 == 0 && "copy needs equal float4-sized ranges");
  gpu::CopyParams params{static_cast<uint32_t>(src.count / 4)};
  vk::Dispatch d;
  d.kernel = "copy";
  d.label = "copy";
  d.pipeline = &pipelines.Get("copy", {{0, workgroup_size}});
  d.bindings = {src.Bind(vk::Access::kRead), dst.Bind(vk::Access::kWrite)};
  d.SetPushConstants(params);
  // Enough groups to fill any GPU; the grid-stride loop covers the rest.
  d.workgroups = {std::clamp<uint32_t>(vk::DivideRoundUp(params.vec4_count, workgroup_size), 1, 65535), 1, 1};
  d.cost = {0, double(src.size_bytes()), double(dst.size_bytes())};
  return d;
}

}  // namespace ts::kernels
