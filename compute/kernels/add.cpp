#include "compute/kernels/add.h"

#include <cassert>

#include "compute/kernels/dispatch_helpers.h"
#include "compute/vk/context.h"
#include "shaders/add.h"

namespace ts::kernels {

vk::Dispatch AddDispatch(vk::PipelineCache& pipelines, const AddArgs& args) {
  assert(args.a.count >= args.count && args.b.count >= args.count && args.out.count >= args.count &&
         "a, b and out must hold count floats");
  assert(args.count < (uint64_t(1) << 32) && "the shader indexes elements with 32 bits");
  assert(!args.a.half() && !args.b.half() && !args.out.half() && "add is fp32 only");
  const vk::DeviceInfo& info = pipelines.context().info();
  const uint32_t group_size = LimitedGroupSize(info, 256);
  const gpu::AddParams params{static_cast<uint32_t>(args.count)};
  vk::Dispatch d;
  d.kernel = "add";
  d.label = "add";
  d.pipeline = &pipelines.Get("add", {{0, group_size}});
  d.bindings = {args.a.Bind(vk::Access::kRead), args.b.Bind(vk::Access::kRead), args.out.Bind(vk::Access::kWrite)};
  d.SetPushConstants(params);
  d.workgroups = {GridStrideGroups(info, args.count, group_size), 1, 1};
  // One add per element; a and b read once, out written once.
  d.cost.flops = double(args.count);
  d.cost.bytes_read = 8.0 * args.count;
  d.cost.bytes_written = 4.0 * args.count;
  return d;
}

}  // namespace ts::kernels
