#include "compute/kernels/layernorm.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <initializer_list>
#include <string>
#include <utility>

#include "compute/kernels/dispatch_helpers.h"
#include "compute/vk/context.h"
#include "shaders/layernorm.h"

namespace ts::kernels {
namespace {

// Layout defaults. Row kernels (forward, grad_x): on GPUs about four columns
// per lane and up to 128 lanes per row, so a row of 128..1024 floats is read
// in coalesced segments and its sums take a short shared-memory tree, with
// 256-invocation workgroups holding 256 / lanes rows. On software devices one
// subgroup's worth of lanes per row (lavapipe: 8 at 256 bits) and 64-invocation
// workgroups. Measured on lavapipe (2 cores), forward / grad_x at 4096 x 768,
// scalar loads: 1 lane a row 69 / 124 ms, 8 lanes 40 / 43 ms, 32 lanes 46 /
// 60 ms. Where cols % 4 == 0 and the views are 16-byte aligned, the _vec4
// shaders load four floats at a time (lavapipe loads storage buffers lane by
// lane: 4x fewer loads).
constexpr uint32_t kSoftwareRowWorkgroupSize = 64;
constexpr uint32_t kHardwareWorkgroupSize = 256;
constexpr uint32_t kColumnsPerLane = 4;
constexpr uint32_t kMaxLanesPerRow = 128;
// Parameter gradients: GPUs read 32 adjacent columns (128 bytes) per row lane;
// software devices one subgroup's worth, with a single row lane (no tree).
constexpr uint32_t kHardwareColumnLanes = 32;
// Row blocks of the parameter-gradient reduction: at least this many rows a
// block, at most this many blocks (the combine reads 2 x blocks x cols sums).
constexpr uint32_t kMinRowsPerBlock = 64;
constexpr uint32_t kMaxRowBlocks = 64;
// lavapipe (Mesa's gallivm) ends every shader loop after 65535 iterations,
// whatever its condition says: no lane may walk more columns or rows than this.
constexpr uint32_t kMaxLoopIterations = 32768;

uint32_t RowBlocks(uint32_t rows) {
  return static_cast<uint32_t>(
      std::clamp<uint64_t>((uint64_t(rows) + kMinRowsPerBlock - 1) / kMinRowsPerBlock, 1, kMaxRowBlocks));
}

uint32_t DefaultGroupSize(const vk::DeviceInfo& info, const LayerNormTuning& tuning) {
  if (tuning.workgroup_size > 0) return LimitedGroupSize(info, tuning.workgroup_size);
  return LimitedGroupSize(info, info.is_software() ? std::max(info.subgroup_size, 1u) : kHardwareWorkgroupSize);
}

// A workgroup of x lanes (along a row or across columns) by y (rows or row lanes).
struct Layout {
  uint32_t x = 1, y = 1;
};

// Halves y until x * y vec2 partial sums fit the device's shared memory.
void FitSharedMemory(const vk::DeviceInfo& info, Layout& layout) {
  while (layout.y > 1 && uint64_t(layout.x) * layout.y * 8 > info.max_shared_memory_bytes) layout.y /= 2;
  assert(uint64_t(layout.x) * layout.y * 8 <= info.max_shared_memory_bytes && "too many lanes for shared memory");
}

// Forward and grad_x: lanes per row by rows per workgroup (layernorm_rows.glsl),
// for rows of `lanes` values (floats, or vec4s for the _vec4 shaders).
Layout RowLayout(const vk::DeviceInfo& info, uint32_t rows, uint32_t cols, uint32_t lanes,
                 const LayerNormTuning& tuning) {
  Layout layout;
  const uint32_t wanted = tuning.lanes_per_row > 0 ? tuning.lanes_per_row
                          : info.is_software()
                              ? std::min(std::max(info.subgroup_size, 1u), std::bit_ceil(std::max(lanes, 1u)))
                              : std::min(std::bit_ceil((cols + kColumnsPerLane - 1) / kColumnsPerLane), kMaxLanesPerRow);
  layout.x = LimitedGroupSize(info, wanted);
  // Enough lanes that none walks more than kMaxLoopIterations values.
  while ((lanes + layout.x - 1) / layout.x > kMaxLoopIterations) layout.x *= 2;
  assert(layout.x <= info.max_workgroup_size[0] && layout.x <= info.max_workgroup_invocations && "rows too long");
  const uint32_t group_size =
      std::max(tuning.workgroup_size > 0  ? LimitedGroupSize(info, tuning.workgroup_size)
               : info.is_software()       ? LimitedGroupSize(info, kSoftwareRowWorkgroupSize)
                                          : LimitedGroupSize(info, kHardwareWorkgroupSize),
               layout.x);
  layout.y = std::min({group_size / layout.x, std::bit_ceil(std::max(rows, 1u)), info.max_workgroup_size[1]});
  layout.y = std::bit_floor(std::max(layout.y, 1u));
  FitSharedMemory(info, layout);
  return layout;
}

// Whether the _vec4 shaders can run: four columns per load need cols % 4 == 0
// and every (rows, cols) or (cols) view 16-byte aligned in every slot.
bool Vec4Fits(uint32_t cols, std::initializer_list<TensorRef> views) {
  if (cols % 4 != 0) return false;
  for (const TensorRef& t : views)
    if (!t.empty() && !Aligned(t, 16)) return false;
  return true;
}

vk::Dispatch GradXDispatch(vk::PipelineCache& pipelines, const LayerNormBackwardArgs& args) {
  const vk::DeviceInfo& info = pipelines.context().info();
  const bool has_add = !args.add.empty();
  const bool vec4 = Vec4Fits(args.cols, {args.grad_y, args.x, args.gamma, args.add, args.grad_x});
  const Layout layout = RowLayout(info, args.rows, args.cols, vec4 ? args.cols / 4 : args.cols, args.tuning);
  const gpu::LayerNormBackParams params{args.rows, args.cols, has_add ? 1u : 0u};
  vk::Dispatch d;
  d.kernel = "layernorm_back";
  d.label = has_add ? "layernorm backward: grad_x + add" : "layernorm backward: grad_x";
  d.pipeline = &pipelines.Get(vec4 ? "layernorm_back_vec4" : "layernorm_back", {{0, layout.x}, {1, layout.y}});
  d.bindings = {args.grad_y.Bind(vk::Access::kRead),
                args.x.Bind(vk::Access::kRead),
                args.gamma.Bind(vk::Access::kRead),
                args.mean.Bind(vk::Access::kRead),
                args.rstd.Bind(vk::Access::kRead),
                has_add ? args.add.Bind(vk::Access::kRead) : vk::UnusedBinding(),
                args.grad_x.Bind(vk::Access::kWrite)};
  d.SetPushConstants(params);
  d.workgroups = {GridStrideGroups(info, args.rows, layout.y), 1, 1};
  // Per element: g and xhat (3), the two sums (3), then g and xhat again (3)
  // and dx (4), plus the add. Minimum traffic: dy, x (and add) read once,
  // gamma once, mean and rstd once per row; grad_x written once.
  const double n = double(args.rows) * args.cols;
  d.cost.flops = n * (13 + (has_add ? 1 : 0));
  d.cost.bytes_read = 4 * (n * (has_add ? 3 : 2) + args.cols + 2.0 * args.rows);
  d.cost.bytes_written = 4 * n;
  return d;
}

}  // namespace

vk::Dispatch LayerNormDispatch(vk::PipelineCache& pipelines, const LayerNormArgs& args) {
  const uint64_t elements = uint64_t(args.rows) * args.cols;
  const bool save = !args.mean.empty();
  assert(elements < (uint64_t(1) << 32) && "the shader indexes elements with 32 bits");
  assert(args.x.count >= elements && args.y.count >= elements && "x and y must hold rows x cols floats");
  assert(args.gamma.count >= args.cols && args.beta.count >= args.cols && "gamma and beta must hold cols floats");
  assert(save == !args.rstd.empty() && "save both mean and rstd, or neither");
  assert((!save || (args.mean.count >= args.rows && args.rstd.count >= args.rows)) && "mean, rstd: rows floats");
  assert(args.epsilon >= 0.0f && "epsilon must not be negative");
  assert(!args.x.half() && !args.y.half() && "LayerNorm is fp32 only");

  const vk::DeviceInfo& info = pipelines.context().info();
  const bool vec4 = Vec4Fits(args.cols, {args.x, args.gamma, args.beta, args.y});
  const Layout layout = RowLayout(info, args.rows, args.cols, vec4 ? args.cols / 4 : args.cols, args.tuning);
  const gpu::LayerNormParams params{args.rows, args.cols, args.epsilon, save ? 1u : 0u};
  vk::Dispatch d;
  d.kernel = "layernorm";
  d.label = save ? "layernorm forward" : "layernorm forward (evaluation)";
  d.pipeline = &pipelines.Get(vec4 ? "layernorm_vec4" : "layernorm", {{0, layout.x}, {1, layout.y}});
  d.bindings = {args.x.Bind(vk::Access::kRead),
                args.gamma.Bind(vk::Access::kRead),
                args.beta.Bind(vk::Access::kRead),
                args.y.Bind(vk::Access::kWrite),
                save ? args.mean.Bind(vk::Access::kWrite) : vk::UnusedBinding(),
                save ? args.rstd.Bind(vk::Access::kWrite) : vk::UnusedBinding()};
  d.SetPushConstants(params);
  d.workgroups = {GridStrideGroups(info, args.rows, layout.y), 1, 1};
  // Per element: the mean's add (1), the variance's subtract, square and add
  // (3), y's subtract, multiply and FMA (4); the compensation and the trees
  // are bookkeeping. Minimum traffic: x read once (the later passes re-read
  // a row from cache), gamma and beta once; y written once, and the statistics.
  const double n = double(elements);
  d.cost.flops = 8 * n;
  d.cost.bytes_read = 4 * (n + 2.0 * args.cols);
  d.cost.bytes_written = 4 * (n + (save ? 2.0 * args.rows : 0));
  return d;
}

uint64_t LayerNormBackwardWorkspaceCount(uint32_t rows, uint32_t cols) {
  const uint32_t blocks = RowBlocks(rows);
  return blocks > 1 ? 2 * uint64_t(blocks) * cols : 0;
}

std::vector<vk::Dispatch> LayerNormBackwardDispatches(vk::PipelineCache& pipelines,
                                                      const LayerNormBackwardArgs& args) {
  const uint64_t elements = uint64_t(args.rows) * args.cols;
  assert(elements < (uint64_t(1) << 32) && "the shader indexes elements with 32 bits");
  assert(args.grad_y.count >= elements && args.x.count >= elements && args.grad_x.count >= elements &&
         "grad_y, x and grad_x must hold rows x cols floats");
  assert((args.add.empty() || args.add.count >= elements) && "add must hold rows x cols floats");
  assert(args.gamma.count >= args.cols && args.grad_gamma.count >= args.cols && args.grad_beta.count >= args.cols &&
         "gamma, grad_gamma and grad_beta must hold cols floats");
  assert(args.mean.count >= args.rows && args.rstd.count >= args.rows && "mean and rstd must hold rows floats");
  const uint64_t workspace_count = LayerNormBackwardWorkspaceCount(args.rows, args.cols);
  assert((args.workspace.empty() || args.workspace.count >= workspace_count) &&
         "workspace must hold LayerNormBackwardWorkspaceCount(rows, cols) floats");

  std::vector<vk::Dispatch> dispatches;
  dispatches.push_back(GradXDispatch(pipelines, args));

  // dgamma and dbeta: column lanes by row lanes over `blocks` row blocks.
  const vk::DeviceInfo& info = pipelines.context().info();
  const bool split = workspace_count > 0 && !args.workspace.empty();
  const uint32_t blocks = split ? RowBlocks(args.rows) : 1;
  const uint32_t rows_per_block = std::max(1u, uint32_t((uint64_t(args.rows) + blocks - 1) / blocks));
  const uint32_t group_size = DefaultGroupSize(info, args.tuning);
  Layout layout;
  layout.x = std::min({std::bit_ceil(std::max(args.cols, 1u)), group_size,
                       info.is_software() ? group_size : kHardwareColumnLanes});
  layout.y = std::min({group_size / layout.x, std::bit_ceil(rows_per_block), info.max_workgroup_size[1]});
  layout.y = std::bit_floor(std::max(layout.y, 1u));
  // Enough row lanes that none walks more than kMaxLoopIterations rows.
  layout.y = std::max(layout.y, std::bit_ceil((rows_per_block + kMaxLoopIterations - 1) / kMaxLoopIterations));
  FitSharedMemory(info, layout);
  assert(uint64_t(layout.x) * layout.y <= info.max_workgroup_invocations && layout.y <= info.max_workgroup_size[1] &&
         "too many rows for one workgroup row to reduce: pass a workspace");
  assert(uint64_t(rows_per_block) * blocks < (uint64_t(1) << 32) && "row block ends must fit 32 bits");

  const gpu::LayerNormParamGradParams params{args.rows, args.cols, rows_per_block, split ? 1u : 0u};
  const double partials = 2.0 * blocks * args.cols;
  vk::Dispatch d;
  d.kernel = "layernorm_back_params";
  d.label = split ? "layernorm backward: grad_gamma, grad_beta per " + std::to_string(blocks) + " row blocks"
                  : "layernorm backward: grad_gamma, grad_beta";
  d.pipeline = &pipelines.Get("layernorm_back_params", {{0, layout.x}, {1, layout.y}});
  d.bindings = {args.grad_y.Bind(vk::Access::kRead),
                args.x.Bind(vk::Access::kRead),
                args.mean.Bind(vk::Access::kRead),
                args.rstd.Bind(vk::Access::kRead),
                split ? vk::UnusedBinding() : args.grad_gamma.Bind(vk::Access::kWrite),
                split ? vk::UnusedBinding() : args.grad_beta.Bind(vk::Access::kWrite),
                split ? TensorRef{args.workspace.buffer, args.workspace.offset_bytes, uint64_t(partials),
                                  args.workspace.slot_stride_bytes}
                            .Bind(vk::Access::kWrite)
                      : vk::UnusedBinding()};
  d.SetPushConstants(params);
  d.workgroups = {GridStrideGroups(info, args.cols, layout.x, 0), blocks, 1};
  // Per element: xhat (2), dy * xhat and its add (2), dy's add (1). Minimum
  // traffic: dy and x read once, mean and rstd once per row; two sums per
  // column per block written.
  const double n = double(elements);
  d.cost.flops = 5 * n;
  d.cost.bytes_read = 4 * (2 * n + 2.0 * args.rows);
  d.cost.bytes_written = 4 * partials;
  dispatches.push_back(std::move(d));

  if (split) {
    const uint32_t combine_group = LimitedGroupSize(info, 64);
    const gpu::LayerNormCombineParams combine_params{args.cols, blocks};
    vk::Dispatch c;
    c.kernel = "layernorm_back_combine";
    c.label = "layernorm backward: grad_gamma, grad_beta, sum of " + std::to_string(blocks) + " row blocks";
    c.pipeline = &pipelines.Get("layernorm_back_combine", {{0, combine_group}});
    c.bindings = {TensorRef{args.workspace.buffer, args.workspace.offset_bytes, uint64_t(partials),
                            args.workspace.slot_stride_bytes}
                      .Bind(vk::Access::kRead),
                  args.grad_gamma.Bind(vk::Access::kWrite), args.grad_beta.Bind(vk::Access::kWrite)};
    c.SetPushConstants(combine_params);
    c.workgroups = {GridStrideGroups(info, args.cols, combine_group, 0), 1, 1};
    // One add per partial sum; the partials read once, two gradients written.
    c.cost.flops = partials;
    c.cost.bytes_read = 4 * partials;
    c.cost.bytes_written = 4 * 2.0 * args.cols;
    dispatches.push_back(std::move(c));
  }
  return dispatches;
}

}  // namespace ts::kernels
