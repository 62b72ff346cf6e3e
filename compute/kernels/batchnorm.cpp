#include "compute/kernels/batchnorm.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <initializer_list>

#include "compute/kernels/dispatch_helpers.h"
#include "compute/vk/context.h"
#include "shaders/batchnorm.h"

namespace ts::kernels {
namespace {

// Rows per block at least (a block's workgroup also combines every block's
// partial results, so blocks must be long enough to amortise that), and at
// most this many blocks.
constexpr uint32_t kMinRowsPerBlock = 512;
constexpr uint32_t kMaxRowBlocks = 64;

// Which shader variant and workgroup a dispatch uses. The _vec4 variants move
// four channels per load (about 2.5x faster on lavapipe, and fewer, wider
// loads on any GPU); they need C % 4 == 0 and every tensor 16-byte aligned.
// Workgroup: X channel lanes (up to 8, so neighbouring lanes read neighbouring
// addresses) by Y row lanes, X * Y = 256 or the device's limit. Y is a power
// of two for the shared-memory tree.
struct Layout {
  bool vec4;
  uint32_t lanes;  // channel lanes per row: C or C / 4
  uint32_t x, y;
};
Layout ChooseLayout(const vk::DeviceInfo& info, uint32_t channels, std::initializer_list<TensorRef> tensors) {
  bool vec4 = channels % 4 == 0;
  for (const TensorRef& t : tensors) vec4 = vec4 && t.offset_bytes % 16 == 0 && t.slot_stride_bytes % 16 == 0;
  const uint32_t lanes = vec4 ? channels / 4 : channels;
  const uint32_t group_size = LimitedGroupSize(info, 256);
  const uint32_t x = std::min({std::bit_ceil(std::max(lanes, 1u)), 8u, group_size});
  const uint32_t y = std::bit_floor(std::min(group_size / x, info.max_workgroup_size[1]));
  return {vec4, lanes, x, y};
}

// A dispatch of `kernel` (batchnorm or batchnorm_back) in `phase` - the
// shader batchnorm{,_back}_<phase>{,_vec4}{,_f16}, a build per phase (see
// shaders/batchnorm_impl.glsl; _f16: fp16 activations) - with everything but
// its bindings and cost.
vk::Dispatch MakeDispatch(vk::PipelineCache& pipelines, const char* kernel, const char* phase, const Layout& layout,
                          bool half, uint32_t workgroups_y, std::string label) {
  const vk::DeviceInfo& info = pipelines.context().info();
  vk::Dispatch d;
  d.kernel = kernel;
  d.label = std::move(label);
  d.pipeline = &pipelines.Get(std::string(kernel) + "_" + phase + (layout.vec4 ? "_vec4" : "") + (half ? "_f16" : ""),
                              {{0, layout.x}, {1, layout.y}});
  d.workgroups = {GridStrideGroups(info, layout.lanes, layout.x, 0), workgroups_y, 1};
  return d;
}

}  // namespace

uint32_t BatchNormRowBlocks(uint32_t rows) {
  return std::clamp((rows + kMinRowsPerBlock - 1) / kMinRowsPerBlock, 1u, kMaxRowBlocks);
}

uint64_t BatchNormWorkspaceCount(uint32_t rows, uint32_t channels) {
  const uint32_t blocks = BatchNormRowBlocks(rows);
  return blocks == 1 ? 0 : 2 * uint64_t(blocks) * channels;
}

namespace {

// Forward dispatches: split into row blocks when allowed, training and there
// is more than one block; else a single dispatch.
std::vector<vk::Dispatch> ForwardDispatches(vk::PipelineCache& pipelines, const BatchNormArgs& args, bool allow_split) {
  const uint64_t elements = uint64_t(args.rows) * args.channels;
  const uint32_t blocks = args.training && allow_split ? BatchNormRowBlocks(args.rows) : 1;
  const bool split = blocks > 1;
  assert(args.x.count >= elements && args.y.count >= elements && "x and y must hold rows x C floats");
  assert(args.gamma.count >= args.channels && args.beta.count >= args.channels && "gamma and beta hold C floats");
  assert(args.running_mean.count >= args.channels && args.running_var.count >= args.channels &&
         "running_mean and running_var hold C floats");
  assert((!args.training || (args.saved_mean.count >= args.channels && args.saved_inv_std.count >= args.channels)) &&
         "training saves mean and inv_std (C floats each)");
  assert((!split || args.workspace.count >= BatchNormWorkspaceCount(args.rows, args.channels)) &&
         "the workspace must hold BatchNormWorkspaceCount floats");
  assert((!args.training || args.rows >= 2) && "training needs at least 2 rows per channel");
  assert(elements < (uint64_t(1) << 32) && "the shader indexes elements with 32 bits");
  // fp16 storage (mixed precision): x and y float16_t; the parameters, the
  // running and saved statistics and the workspace stay fp32.
  const bool half = args.x.half();
  assert(args.y.half() == half && "x and y must have the same precision");
  assert(!args.gamma.half() && !args.beta.half() && !args.running_mean.half() && !args.running_var.half() &&
         !args.saved_mean.half() && !args.saved_inv_std.half() && !args.workspace.half() &&
         "batch norm's parameters, statistics and workspace are fp32");
  const double element_bytes = half ? 2 : 4;

  const vk::DeviceInfo& info = pipelines.context().info();
  const Layout layout = ChooseLayout(info, args.channels,
                                     {args.x, args.gamma, args.beta, args.running_mean, args.running_var,
                                      args.saved_mean, args.saved_inv_std, args.y,
                                      split ? args.workspace : TensorRef{}});
  const gpu::BatchNormParams params{args.rows, args.channels, args.epsilon, args.momentum, blocks};
  const vk::Binding unused = vk::UnusedBinding();
  const double n = double(elements), c = double(args.channels), partials = 2.0 * blocks * c;
  std::vector<vk::Dispatch> dispatches;

  if (split) {
    vk::Dispatch stats = MakeDispatch(pipelines, "batchnorm", "statistics", layout, half, blocks,
                                      "batchnorm statistics (training)");
    stats.bindings = {args.x.Bind(vk::Access::kRead), unused, unused, unused, unused,
                      unused, unused, unused, args.workspace.Bind(vk::Access::kWrite)};
    stats.SetPushConstants(params);
    // Per element: 1 add (mean), subtract + 2 adds + multiply (centred sums),
    // counting the compensated sums' extra work as bookkeeping. Minimum
    // traffic: x read once (its second pass over a block hits the cache), the
    // partial statistics written.
    stats.cost.flops = 5 * n;
    stats.cost.bytes_read = element_bytes * n;
    stats.cost.bytes_written = 4 * partials;
    dispatches.push_back(std::move(stats));
  }

  const char* phase = !args.training ? "evaluation" : split ? "normalize" : "fused";
  // Evaluation spreads the rows over the grid's y axis; training has a row of
  // workgroups per row block.
  const uint32_t workgroups_y = args.training ? blocks : GridStrideGroups(info, args.rows, layout.y, 1);
  vk::Dispatch d = MakeDispatch(pipelines, "batchnorm", phase, layout, half, workgroups_y,
                                args.training ? "batchnorm forward (training)" : "batchnorm forward (evaluation)");
  const vk::Access running_access = args.training ? vk::Access::kReadWrite : vk::Access::kRead;
  d.bindings = {args.x.Bind(vk::Access::kRead),
                args.gamma.Bind(vk::Access::kRead),
                args.beta.Bind(vk::Access::kRead),
                args.running_mean.Bind(running_access),
                args.running_var.Bind(running_access),
                args.training ? args.saved_mean.Bind(vk::Access::kWrite) : unused,
                args.training ? args.saved_inv_std.Bind(vk::Access::kWrite) : unused,
                args.y.Bind(vk::Access::kWrite),
                split ? args.workspace.Bind(vk::Access::kRead) : unused};
  d.SetPushConstants(params);
  // Per element: subtract + FMA (3), plus the statistics' 5 when fused.
  // Minimum traffic: x read once, y written; the per-channel parameters and
  // running statistics read (and, training, them and the saved statistics
  // written); the partial statistics read by every row block.
  d.cost.flops = (args.training && !split ? 8 : 3) * n + 12 * c + (split ? 3 * partials : 0);
  d.cost.bytes_read = element_bytes * n + 4 * 4 * c + (split ? 4 * partials * blocks : 0);
  d.cost.bytes_written = element_bytes * n + (args.training ? 4 * 4 * c : 0);
  dispatches.push_back(std::move(d));
  return dispatches;
}

std::vector<vk::Dispatch> BackwardDispatches(vk::PipelineCache& pipelines, const BatchNormBackwardArgs& args,
                                             bool allow_split) {
  const uint64_t elements = uint64_t(args.rows) * args.channels;
  const uint32_t blocks = allow_split ? BatchNormRowBlocks(args.rows) : 1;
  const bool split = blocks > 1;
  assert(args.grad_y.count >= elements && args.x.count >= elements && args.grad_x.count >= elements &&
         "grad_y, x and grad_x must hold rows x C floats");
  assert(args.gamma.count >= args.channels && args.saved_mean.count >= args.channels &&
         args.saved_inv_std.count >= args.channels && "gamma, saved_mean and saved_inv_std hold C floats");
  assert(args.grad_gamma.count >= args.channels && args.grad_beta.count >= args.channels &&
         "grad_gamma and grad_beta hold C floats");
  assert((!split || args.workspace.count >= BatchNormWorkspaceCount(args.rows, args.channels)) &&
         "the workspace must hold BatchNormWorkspaceCount floats");
  assert(elements < (uint64_t(1) << 32) && "the shader indexes elements with 32 bits");
  // fp16 storage (mixed precision): grad_y, x and grad_x float16_t; gamma,
  // the saved statistics, the parameter gradients and the workspace stay fp32.
  const bool half = args.grad_y.half();
  assert(args.x.half() == half && args.grad_x.half() == half && "grad_y, x and grad_x must have the same precision");
  assert(!args.gamma.half() && !args.saved_mean.half() && !args.saved_inv_std.half() && !args.grad_gamma.half() &&
         !args.grad_beta.half() && !args.workspace.half() &&
         "batch norm's parameters, statistics, gradients and workspace are fp32");
  const double element_bytes = half ? 2 : 4;

  const vk::DeviceInfo& info = pipelines.context().info();
  const Layout layout = ChooseLayout(info, args.channels,
                                     {args.grad_y, args.x, args.gamma, args.saved_mean, args.saved_inv_std,
                                      args.grad_x, args.grad_gamma, args.grad_beta,
                                      split ? args.workspace : TensorRef{}});
  const gpu::BatchNormBackParams params{args.rows, args.channels, blocks};
  const vk::Binding unused = vk::UnusedBinding();
  const double n = double(elements), c = double(args.channels), partials = 2.0 * blocks * c;
  std::vector<vk::Dispatch> dispatches;

  if (split) {
    vk::Dispatch sums =
        MakeDispatch(pipelines, "batchnorm_back", "sums", layout, half, blocks, "batchnorm backward sums");
    sums.bindings = {args.grad_y.Bind(vk::Access::kRead),     args.x.Bind(vk::Access::kRead),
                     unused,
                     args.saved_mean.Bind(vk::Access::kRead), args.saved_inv_std.Bind(vk::Access::kRead),
                     unused, unused, unused, args.workspace.Bind(vk::Access::kWrite)};
    sums.SetPushConstants(params);
    // Per element: xhat (subtract, multiply) and the two sums (add, multiply-add).
    sums.cost.flops = 5 * n;
    sums.cost.bytes_read = 2 * element_bytes * n + 2 * 4 * c;
    sums.cost.bytes_written = 4 * partials;
    dispatches.push_back(std::move(sums));
  }

  vk::Dispatch d = MakeDispatch(pipelines, "batchnorm_back", split ? "apply" : "fused", layout, half, blocks,
                                "batchnorm backward");
  d.bindings = {args.grad_y.Bind(vk::Access::kRead),
                args.x.Bind(vk::Access::kRead),
                args.gamma.Bind(vk::Access::kRead),
                args.saved_mean.Bind(vk::Access::kRead),
                args.saved_inv_std.Bind(vk::Access::kRead),
                args.grad_x.Bind(vk::Access::kWrite),
                args.grad_gamma.Bind(vk::Access::kWrite),
                args.grad_beta.Bind(vk::Access::kWrite),
                split ? args.workspace.Bind(vk::Access::kRead) : unused};
  d.SetPushConstants(params);
  // Per element: xhat again (2) and scale * (dy - a - xhat * b) (4), plus the
  // sums' 5 when fused. Minimum traffic: grad_y and x read once, grad_x
  // written; per channel three parameters read and two gradients written; the
  // partial sums read by every row block.
  d.cost.flops = (split ? 6 : 11) * n + 4 * c + (split ? partials : 0);
  d.cost.bytes_read = 2 * element_bytes * n + 3 * 4 * c + (split ? 4 * partials * blocks : 0);
  d.cost.bytes_written = element_bytes * n + 2 * 4 * c;
  dispatches.push_back(std::move(d));
  return dispatches;
}

}  // namespace

vk::Dispatch BatchNormDispatch(vk::PipelineCache& pipelines, const BatchNormArgs& args) {
  return std::move(ForwardDispatches(pipelines, args, false).front());
}

std::vector<vk::Dispatch> BatchNormDispatches(vk::PipelineCache& pipelines, const BatchNormArgs& args) {
  return ForwardDispatches(pipelines, args, !args.workspace.empty());
}

vk::Dispatch BatchNormBackwardDispatch(vk::PipelineCache& pipelines, const BatchNormBackwardArgs& args) {
  return std::move(BackwardDispatches(pipelines, args, false).front());
}

std::vector<vk::Dispatch> BatchNormBackwardDispatches(vk::PipelineCache& pipelines, const BatchNormBackwardArgs& args) {
  return BackwardDispatches(pipelines, args, !args.workspace.empty());
}

}  // namespace ts::kernels
