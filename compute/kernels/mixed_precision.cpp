#include "compute/kernels/mixed_precision.h"

#include <cassert>

#include "compute/kernels/dispatch_helpers.h"
#include "compute/vk/context.h"

namespace ts::kernels {

vk::Dispatch CastDispatch(vk::PipelineCache& pipelines, TensorRef src, TensorRef dst, uint64_t count) {
  assert(src.half() != dst.half() && "a cast converts fp32 to fp16 or back");
  assert(src.count >= count && dst.count >= count && count < (uint64_t(1) << 32) && "cast: views too small");
  const bool to_half = dst.half();
  const vk::DeviceInfo& info = pipelines.context().info();
  const uint32_t group_size = LimitedGroupSize(info, 256);
  gpu::CastParams params{static_cast<uint32_t>(count)};
  vk::Dispatch d;
  d.kernel = "cast";
  d.label = to_half ? "cast fp32 -> fp16" : "cast fp16 -> fp32";
  d.pipeline = &pipelines.Get("cast", {{0, group_size}, {1, to_half ? 1u : 0u}});
  src.count = dst.count = count;
  d.bindings = {src.Bind(vk::Access::kRead), dst.Bind(vk::Access::kWrite)};
  d.SetPushConstants(params);
  d.workgroups = {GridStrideGroups(info, count, group_size), 1, 1};
  d.cost = {0, double(src.size_bytes()), double(dst.size_bytes())};
  return d;
}

gpu::LossScaleState InitialLossScaleState(const LossScaleOptions& options) {
  return {options.init_scale, 0, 0, 0};
}

vk::Dispatch LossScaleCheckDispatch(vk::PipelineCache& pipelines, TensorRef gradients, TensorRef state, uint64_t count) {
  assert(!gradients.half() && gradients.count >= count && count < (uint64_t(1) << 32) && "check: fp32 gradients");
  assert(state.size_bytes() >= sizeof(gpu::LossScaleState) && "check: one LossScaleState");
  const vk::DeviceInfo& info = pipelines.context().info();
  const uint32_t group_size = LimitedGroupSize(info, 256);
  gpu::LossScaleParams params{static_cast<uint32_t>(count), 0, 0, 0};
  vk::Dispatch d;
  d.kernel = "loss_scale";
  d.label = "loss scale: any gradient Inf or NaN?";
  d.pipeline = &pipelines.Get("loss_scale", {{0, group_size}, {1, 0u}});
  d.bindings = {gradients.Bind(vk::Access::kRead), state.Bind(vk::Access::kReadWrite), vk::UnusedBinding()};
  d.SetPushConstants(params);
  d.workgroups = {GridStrideGroups(info, count, group_size), 1, 1};
  d.cost = {double(count), 4.0 * double(count), 0};  // one test per gradient
  return d;
}

vk::Dispatch LossScaleUpdateDispatch(vk::PipelineCache& pipelines, TensorRef state, TensorRef result,
                                     const LossScaleOptions& options) {
  assert(state.size_bytes() >= sizeof(gpu::LossScaleState) && "update: one LossScaleState");
  assert(result.count >= 6 && "update: a result slot of at least 6 floats");
  const vk::DeviceInfo& info = pipelines.context().info();
  gpu::LossScaleParams params{0, options.growth_factor, options.backoff_factor, options.growth_interval};
  vk::Dispatch d;
  d.kernel = "loss_scale";
  d.label = "loss scale: update";
  // One invocation does the work; the group size only matches the check's pipeline.
  d.pipeline = &pipelines.Get("loss_scale", {{0, LimitedGroupSize(info, 256)}, {1, 1u}});
  d.bindings = {vk::UnusedBinding(), state.Bind(vk::Access::kReadWrite), result.Bind(vk::Access::kWrite)};
  d.SetPushConstants(params);
  d.workgroups = {1, 1, 1};
  d.cost = {2, double(sizeof(gpu::LossScaleState)), double(sizeof(gpu::LossScaleState)) + 8};
  return d;
}

std::string Fp16Unavailable(const vk::DeviceInfo& device) {
  if (device.fp16_storage) return "";
  return "'" + device.name + "' cannot store fp16 values in storage buffers (no storageBuffer16BitAccess, "
         "VK_KHR_16bit_storage), which the fp16 kernels need: train in fp32 or choose another device with --device.";
}

}  // namespace ts::kernels
