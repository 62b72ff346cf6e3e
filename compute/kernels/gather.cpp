#include "compute/kernels/gather.h"

#include <algorithm>
#include <bit>
#include <cassert>

#include "compute/kernels/dispatch_helpers.h"
#include "compute/vk/context.h"
#include "shaders/gather.h"
#include "shaders/step_params.h"

namespace ts::kernels {

bool GatherCanUseVec4(const vk::Context& context, const GatherArgs& args) {
  if (args.crop_padding > 0 || args.flip || args.feature_size % 4 != 0 || args.labels_per_sample != 1) return false;
  if (!Aligned(args.batch_x, 16)) return false;
  const uint32_t texel_bytes = args.features_u8 ? 4 : 16;
  auto fits = [&](const TensorRef& features) { return TexelViewFits(context.physical_device(), features, texel_bytes); };
  return fits(args.features) && std::all_of(args.extra_features.begin(), args.extra_features.end(), fits);
}

vk::Dispatch GatherDispatch(vk::PipelineCache& pipelines, const GatherArgs& args) {
  const uint64_t elements = uint64_t(args.rows) * args.feature_size;
  assert(args.permutation_count > 0 && args.permutation.count >= args.permutation_count &&
         "the permutation must hold permutation_count > 0 indices");
  assert(args.batch_x.count >= elements && "batch_x must hold rows x feature_size floats");
  assert(args.labels_per_sample >= 1 && args.batch_labels.count >= uint64_t(args.rows) * args.labels_per_sample &&
         "batch_labels holds labels_per_sample labels per row");
  assert(args.step_params.count * 4 >= sizeof(gpu::StepParams) && "step_params must hold one StepParams");
  assert(args.feature_size > 0 && args.features.count * 4 / args.feature_size < (uint64_t(1) << 32) &&
         "the shader indexes each chunk's features with 32 bits");
  assert(args.extra_features.size() < gpu::GATHER_MAX_CHUNKS && "at most GATHER_MAX_CHUNKS feature buffers");
  assert((args.extra_features.empty() || args.samples_per_chunk > 0) && "chunks need samples_per_chunk");

  const vk::DeviceInfo& info = pipelines.context().info();
  const bool vec4 = args.path == GatherPath::kVec4 ||
                    (args.path == GatherPath::kAuto && GatherCanUseVec4(pipelines.context(), args));
  assert((!vec4 || GatherCanUseVec4(pipelines.context(), args)) && "gather_vec4 cannot assemble this batch");
  // vec4 on a CPU driver: each lane takes up to 32 quads of its row, which
  // shares the row's permutation and label reads (lane-by-lane storage loads on
  // lavapipe) among them (MNIST batch 256: 1.66 ms -> 0.44 ms; 4, 16 and 64
  // quads measured slower). A GPU wants the parallelism: one quad per lane.
  const uint32_t quads_per_lane = vec4 && info.is_software() ? 32 : 1;
  const uint32_t lanes = vec4 ? (args.feature_size / 4 + quads_per_lane - 1) / quads_per_lane : args.feature_size;
  // Lanes along a sample's features (x) and, when a row has fewer than 256
  // lanes' worth, several rows per workgroup (y).
  const uint32_t group_size = LimitedGroupSize(info, std::min<uint32_t>(256, std::bit_ceil(lanes)));
  const uint32_t group_rows = std::min({std::max(1u, 256 / group_size), std::bit_ceil(std::max(args.rows, 1u)),
                                        info.max_workgroup_size[1], LimitedGroupSize(info, 256) / group_size});
  const uint32_t samples_per_chunk = args.extra_features.empty() ? UINT32_MAX : args.samples_per_chunk;
  [[maybe_unused]] const bool augment = args.crop_padding > 0 || args.flip;  // read by the assertion only
  assert((!augment || (args.channels * args.height * args.width == args.feature_size && args.crop_padding <= 64)) &&
         "augmentation needs the image's C x H x W and a crop padding of at most 64");
  gpu::GatherParams params{args.rows, args.feature_size, args.permutation_count, args.scale, args.offset,
                           samples_per_chunk, std::max(args.channels, 1u), std::max(args.height, 1u),
                           std::max(args.width, 1u), args.crop_padding, args.flip ? 1u : 0u, args.augment_seed,
                           args.labels_per_sample};
  std::vector<TensorRef> chunk_refs = {args.features};
  chunk_refs.insert(chunk_refs.end(), args.extra_features.begin(), args.extra_features.end());
  const VkFormat texel_format = args.features_u8 ? VK_FORMAT_R32_UINT : VK_FORMAT_R32G32B32A32_UINT;
  std::vector<vk::Binding> chunks;
  for (const TensorRef& chunk : chunk_refs)
    chunks.push_back(!vec4 ? chunk.Bind(vk::Access::kRead) : TexelRead(chunk, texel_format, args.features_u8 ? 4 : 16));
  while (chunks.size() < gpu::GATHER_MAX_CHUNKS) chunks.push_back(vk::UnusedBinding(texel_format));  // no such chunk

  vk::Dispatch d;
  d.kernel = "gather";
  d.label = args.features_u8 ? "gather batch (uint8)" : "gather batch (float32)";
  d.pipeline = &pipelines.Get(vec4 ? "gather_vec4" : "gather",
                              {{0, group_size}, {1, args.features_u8 ? 1u : 0u}, {2, group_rows}});
  d.bindings = chunks;
  for (vk::Binding binding : {args.labels.Bind(vk::Access::kRead), args.permutation.Bind(vk::Access::kRead),
                              args.step_params.Bind(vk::Access::kRead), args.batch_x.Bind(vk::Access::kWrite),
                              args.batch_labels.Bind(vk::Access::kWrite)})
    d.bindings.push_back(binding);
  d.SetPushConstants(params);
  d.workgroups = {GridStrideGroups(info, lanes, group_size), GridStrideGroups(info, args.rows, group_rows, 1), 1};
  // One FMA (2 FLOPs) per feature: raw * scale + offset. Minimum traffic: each
  // gathered feature once (1 or 4 bytes), a permutation entry and a label per
  // row, the StepParams; writes the batch and its labels.
  double n = double(elements), rows = double(args.rows), labels = rows * args.labels_per_sample;
  d.cost.flops = 2 * n;
  d.cost.bytes_read = n * (args.features_u8 ? 1 : 4) + 4 * rows + 4 * labels + sizeof(gpu::StepParams);
  d.cost.bytes_written = 4 * n + 4 * labels;
  return d;
}

}  // namespace ts::kernels
