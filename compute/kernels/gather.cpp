#include "compute/kernels/gather.h"

#include <cassert>

#include "compute/kernels/dispatch_helpers.h"
#include "compute/vk/context.h"
#include "shaders/gather.h"
#include "shaders/step_params.h"

namespace ts::kernels {

vk::Dispatch GatherDispatch(vk::PipelineCache& pipelines, const GatherArgs& args) {
  const uint64_t elements = uint64_t(args.rows) * args.feature_size;
  assert(args.permutation_count > 0 && args.permutation.count >= args.permutation_count &&
         "the permutation must hold permutation_count > 0 indices");
  assert(args.batch_x.count >= elements && "batch_x must hold rows x feature_size floats");
  assert(args.batch_labels.count >= args.rows && "batch_labels holds one label per row");
  assert(args.step_params.count * 4 >= sizeof(gpu::StepParams) && "step_params must hold one StepParams");
  assert(args.feature_size > 0 && args.features.count * 4 / args.feature_size < (uint64_t(1) << 32) &&
         "the shader indexes the dataset's features with 32 bits");

  const vk::DeviceInfo& info = pipelines.context().info();
  const uint32_t group_size = LimitedGroupSize(info, 256);
  gpu::GatherParams params{args.rows, args.feature_size, args.permutation_count, args.scale, args.offset};

  vk::Dispatch d;
  d.kernel = "gather";
  d.label = args.features_u8 ? "gather batch (uint8)" : "gather batch (float32)";
  d.pipeline = &pipelines.Get("gather", {{0, group_size}, {1, args.features_u8 ? 1u : 0u}});
  d.bindings = {args.features.Bind(vk::Access::kRead),      args.labels.Bind(vk::Access::kRead),
                args.permutation.Bind(vk::Access::kRead),   args.step_params.Bind(vk::Access::kRead),
                args.batch_x.Bind(vk::Access::kWrite),      args.batch_labels.Bind(vk::Access::kWrite)};
  d.SetPushConstants(params);
  d.workgroups = {GridStrideGroups(info, elements, group_size), 1, 1};
  // One FMA (2 FLOPs) per feature: raw * scale + offset. Minimum traffic: each
  // gathered feature once (1 or 4 bytes), a permutation entry and a label per
  // row, the StepParams; writes the batch and its labels.
  double n = double(elements), rows = double(args.rows);
  d.cost.flops = 2 * n;
  d.cost.bytes_read = n * (args.features_u8 ? 1 : 4) + 8 * rows + sizeof(gpu::StepParams);
  d.cost.bytes_written = 4 * n + 4 * rows;
  return d;
}

}  // namespace ts::kernels
