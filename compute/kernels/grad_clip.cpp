#include "compute/kernels/grad_clip.h"

#include <algorithm>
#include <cassert>
#include <utility>

#include "compute/kernels/dispatch_helpers.h"
#include "compute/vk/context.h"
#include "shaders/grad_clip.h"
#include "shaders/mixed_precision.h"

namespace ts::kernels {
namespace {

constexpr uint32_t kWorkgroupSize = 256;
// The first pass gives each invocation about this many elements (fewer,
// longer-running workgroups than one element each), up to kMaxPartials
// workgroups: enough to fill a large GPU, while every workgroup of the second
// pass re-reads all the partials (kMaxPartials / 256 = 4 loads a lane, from cache).
constexpr uint64_t kElementsPerInvocation = 4;
constexpr uint64_t kMaxPartials = 1024;

uint32_t GroupSize(const vk::DeviceInfo& info) { return LimitedGroupSize(info, kWorkgroupSize); }

}  // namespace

uint64_t GradClipWorkspaceCount(const vk::DeviceInfo& info, uint64_t count) {
  const uint64_t per_group = uint64_t(GroupSize(info)) * kElementsPerInvocation;
  return std::clamp<uint64_t>((count + per_group - 1) / per_group, 1,
                              std::min<uint64_t>(kMaxPartials, info.max_workgroup_count[0]));
}

std::vector<vk::Dispatch> GradClipDispatches(vk::PipelineCache& pipelines, const GradClipArgs& args) {
  const vk::DeviceInfo& info = pipelines.context().info();
  const uint64_t partials = GradClipWorkspaceCount(info, args.count);
  assert(args.grads.count >= args.count && "grads must hold count floats");
  assert(args.workspace.count >= partials && "workspace must hold GradClipWorkspaceCount(info, count) floats");
  assert(args.norm_out.count >= 1 && "norm_out must hold one float");
  assert(args.count < (uint64_t(1) << 32) && "the shader indexes elements with 32 bits");
  assert(args.max_norm > 0.0f && "max_norm must be positive");
  assert(!args.grads.half() && "gradient clipping is fp32 only");

  const bool loss_scaled = !args.loss_scale.empty();
  assert((!loss_scaled || args.loss_scale.size_bytes() >= sizeof(gpu::LossScaleState)) &&
         "loss_scale must hold the scaler's state");
  const uint32_t group_size = GroupSize(info);
  const gpu::GradClipParams params{static_cast<uint32_t>(args.count), static_cast<uint32_t>(partials),
                                   args.max_norm};
  const TensorRef workspace{args.workspace.buffer, args.workspace.offset_bytes, partials,
                            args.workspace.slot_stride_bytes};
  // Both passes run the same code, which reads and writes grads and the
  // partials (whichever pass a constant selects): both declare read-write.
  auto make = [&](uint32_t pass, const char* label) {
    vk::Dispatch d;
    d.kernel = "grad_clip";
    d.label = label;
    const bool scale_pass = pass == gpu::GRAD_CLIP_PASS_SCALE;
    d.pipeline = &pipelines.Get("grad_clip", {{0, group_size}, {1, pass}, {2, loss_scaled && scale_pass}});
    d.bindings = {args.grads.Bind(vk::Access::kReadWrite), workspace.Bind(vk::Access::kReadWrite),
                  scale_pass ? args.norm_out.Bind(vk::Access::kWrite) : vk::UnusedBinding(),
                  loss_scaled && scale_pass ? args.loss_scale.Bind(vk::Access::kRead) : vk::UnusedBinding()};
    d.SetPushConstants(params);
    d.workgroups = {static_cast<uint32_t>(partials), 1, 1};
    return d;
  };
  const double n = double(args.count), p = double(partials);
  std::vector<vk::Dispatch> dispatches;
  // A square and an add per element; the gradient read once, a partial sum
  // written per workgroup.
  vk::Dispatch sums = make(gpu::GRAD_CLIP_PASS_PARTIAL_SUMS, "gradient norm: partial sums of squares");
  sums.cost = {2 * n, 4 * n, 4 * p};
  dispatches.push_back(std::move(sums));
  // The partials' sum and a multiply per element; the partials and the
  // gradient read once, the gradient and the norm written. (When the norm is
  // within max_norm the stores are skipped: the declared cost is the
  // clipping case.)
  vk::Dispatch scale = make(gpu::GRAD_CLIP_PASS_SCALE, "gradient clip: scale by max_norm / norm");
  scale.cost = {p + n, 4 * (n + p) + (loss_scaled ? sizeof(gpu::LossScaleState) : 0), 4 * (n + 1)};
  dispatches.push_back(std::move(scale));
  return dispatches;
}

}  // namespace ts::kernels
