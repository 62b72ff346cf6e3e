#include "compute/kernels/pool.h"

#include <algorithm>
#include <cassert>

#include "compute/kernels/dispatch_helpers.h"
#include "compute/vk/context.h"
#include "shaders/pool.h"

namespace ts::kernels {
namespace {

static_assert(uint32_t(PoolKind::kMax) == gpu::POOL_MAX && uint32_t(PoolKind::kAverage) == gpu::POOL_AVERAGE,
              "shaders/pool.h and PoolKind must agree");

constexpr uint32_t kPoolKindSpecId = 1;  // see shaders/pool.comp

uint32_t PooledSize(uint32_t size, uint32_t pad_before, uint32_t pad_after, uint32_t window, uint32_t stride) {
  uint64_t padded = uint64_t(size) + pad_before + pad_after;
  if (stride == 0 || window == 0 || padded < window) return 0;
  return uint32_t((padded - window) / stride + 1);
}

// Invocations a dispatch aims for. On a GPU: enough to fill a large one (256
// workgroups of 256). On a CPU driver (lavapipe), which runs a few workgroups
// at a time, a subgroup at a time: 32 workgroups of 256 keep any thread count
// busy. Past that, each invocation takes more channels of its pixel, which
// shares the pixel's integer divisions among them (the main cost on lavapipe,
// where x86 has no vector divide) at the price of less neighbouring-address
// access across invocations. Measured on lavapipe (seed CNN, batch 64), 8192
// instead of 65536 took the vec4 kernels from 2.2 to 1.7 ms (max_pool2d_1
// forward) and 2.3 to 1.3 ms (max_pool2d_2 backward), and the scalar ones
// from 14.5 to 9.1 ms (max_pool2d_1 backward).
constexpr uint64_t kTargetInvocations = 65536;
constexpr uint64_t kSoftwareTargetInvocations = 8192;

// Push constants for a dispatch over `pixels` pixels (output pixels forward,
// input pixels backward), each with shape.channels channels, taken
// `channels_per_lane` at a time (1: pool.comp; 4: the vec4 shaders, whose
// channels_per_block and channel_blocks then count quads). The blocks of a
// pixel are balanced: they differ by at most one lane's channels.
gpu::PoolParams ParamsOf(const vk::DeviceInfo& info, const PoolShape& s, uint64_t pixels, uint32_t channels_per_lane) {
  const uint64_t target = info.is_software() ? kSoftwareTargetInvocations : kTargetInvocations;
  const uint32_t lanes_per_pixel = s.channels / channels_per_lane;
  const uint64_t lanes = pixels * lanes_per_pixel;
  const uint32_t longest = uint32_t(std::clamp<uint64_t>((lanes + target - 1) / target, 1, lanes_per_pixel));
  const uint32_t blocks = (lanes_per_pixel + longest - 1) / longest;
  const uint32_t per_block = (lanes_per_pixel + blocks - 1) / blocks;
  return {s.batch,    s.height,   s.width,    s.channels, s.out_height(), s.out_width(), s.window_h,
          s.window_w, s.stride_h, s.stride_w, s.pad_top,  s.pad_left,     per_block,     blocks};
}


}  // namespace

const char* PoolName(PoolKind kind) {
  switch (kind) {
    case PoolKind::kMax: return "max_pool";
    case PoolKind::kAverage: return "avg_pool";
  }
  return "unknown";
}

uint32_t PoolShape::out_height() const { return PooledSize(height, pad_top, pad_bottom, window_h, stride_h); }
uint32_t PoolShape::out_width() const { return PooledSize(width, pad_left, pad_right, window_w, stride_w); }

PoolShape GlobalAveragePoolShape(uint32_t batch, uint32_t height, uint32_t width, uint32_t channels) {
  PoolShape shape;
  shape.batch = batch, shape.height = height, shape.width = width, shape.channels = channels;
  shape.window_h = height, shape.window_w = width;
  return shape;
}

std::string PoolShapeProblem(const PoolShape& s) {
  if (s.batch == 0 || s.height == 0 || s.width == 0 || s.channels == 0)
    return "Pooling needs a non-empty input; got " + std::to_string(s.batch) + " x " + std::to_string(s.height) +
           " x " + std::to_string(s.width) + " x " + std::to_string(s.channels) + " (N x H x W x C).";
  if (s.window_h == 0 || s.window_w == 0 || s.stride_h == 0 || s.stride_w == 0)
    return "Pooling needs a window and a stride of at least 1 x 1.";
  if (s.pad_top >= s.window_h || s.pad_bottom >= s.window_h || s.pad_left >= s.window_w || s.pad_right >= s.window_w)
    return "Pooling padding must be smaller than the window (" + std::to_string(s.window_h) + " x " +
           std::to_string(s.window_w) + ") on every side, so that every window overlaps the input.";
  if (s.out_height() == 0 || s.out_width() == 0)
    return "The pooling window (" + std::to_string(s.window_h) + " x " + std::to_string(s.window_w) +
           ") is larger than the padded input (" + std::to_string(s.height + s.pad_top + s.pad_bottom) + " x " +
           std::to_string(s.width + s.pad_left + s.pad_right) + ").";
  if (s.input_count() >= (uint64_t(1) << 32) || s.output_count() >= (uint64_t(1) << 32))
    return "Pooling indexes elements with 32 bits; this tensor has " + std::to_string(s.input_count()) + ".";
  return "";
}

bool PoolCanUseVec4(const vk::Context& context, const PoolArgs& args) {
  if (args.input.half()) return false;  // fp16: the scalar shaders only
  if (args.shape.channels % 4 != 0 || !Aligned(args.output, 16)) return false;
  if (args.kind == PoolKind::kMax && !Aligned(args.argmax, 16)) return false;
  return TexelViewFits(context.physical_device(), args.input, 16);
}

bool PoolCanUseVec4(const vk::Context& context, const PoolBackwardArgs& args) {
  if (args.grad_out.half()) return false;  // fp16: the scalar shaders only
  if (args.shape.channels % 4 != 0 || !Aligned(args.grad_in, 16)) return false;
  if (args.kind == PoolKind::kMax && !TexelViewFits(context.physical_device(), args.argmax, 16)) return false;
  return TexelViewFits(context.physical_device(), args.grad_out, 16);
}

vk::Dispatch PoolDispatch(vk::PipelineCache& pipelines, const PoolArgs& args) {
  const PoolShape& s = args.shape;
  const bool is_max = args.kind == PoolKind::kMax;
  assert(PoolShapeProblem(s).empty() && "invalid pool shape (see PoolShapeProblem)");
  assert(args.input.count >= s.input_count() && "input must hold N x H x W x C floats");
  assert(args.output.count >= s.output_count() && "output must hold N x OH x OW x C floats");
  assert((!is_max || args.argmax.count >= s.output_count()) && "max pooling writes argmax");
  // fp16 storage (mixed precision): input and output float16_t; argmax stays uint32.
  const bool half = args.input.half();
  assert(args.output.half() == half && "input and output must have the same precision");
  assert((!is_max || args.argmax.element_bytes == 4) && "argmax is uint32");
  const double element_bytes = half ? 2 : 4;

  const bool vec4 = args.path == PoolPath::kVec4 ||
                    (args.path == PoolPath::kAuto && PoolCanUseVec4(pipelines.context(), args));
  assert((!vec4 || PoolCanUseVec4(pipelines.context(), args)) && "pool_vec4 cannot run this pass");

  const vk::DeviceInfo& info = pipelines.context().info();
  const uint32_t group_size = args.workgroup_size ? args.workgroup_size : LimitedGroupSize(info, 256);
  vk::Dispatch d;
  d.kernel = "pool";
  d.label = std::string(PoolName(args.kind)) + " forward";
  d.pipeline = &pipelines.Get(half ? "pool_f16" : vec4 ? "pool_vec4" : "pool",
                              {{0, group_size}, {kPoolKindSpecId, uint32_t(args.kind)}});
  d.bindings = {vec4 ? TexelRead(args.input, VK_FORMAT_R32G32B32A32_SFLOAT, 16) : args.input.Bind(vk::Access::kRead),
                args.output.Bind(vk::Access::kWrite),
                is_max ? args.argmax.Bind(vk::Access::kWrite) : vk::UnusedBinding()};
  const gpu::PoolParams params = ParamsOf(info, s, uint64_t(s.batch) * s.out_height() * s.out_width(), vec4 ? 4 : 1);
  d.SetPushConstants(params);
  d.workgroups = {GridStrideGroups(info, uint64_t(s.batch) * s.out_height() * s.out_width() * params.channel_blocks,
                                   group_size),
                  1, 1};
  // One compare (max) or add (average) per window element, plus the average's
  // divide; padded positions are skipped, so this slightly overcounts at the
  // borders. Minimum traffic: each input read once (overlapping windows hit
  // the cache), output (and argmax) written once.
  const double outputs = double(s.output_count()), window = double(s.window_h) * s.window_w;
  d.cost.flops = outputs * window + (is_max ? 0 : outputs);
  d.cost.bytes_read = element_bytes * double(s.input_count());
  d.cost.bytes_written = element_bytes * outputs + (is_max ? 4 * outputs : 0);
  return d;
}

vk::Dispatch PoolBackwardDispatch(vk::PipelineCache& pipelines, const PoolBackwardArgs& args) {
  const PoolShape& s = args.shape;
  const bool is_max = args.kind == PoolKind::kMax;
  assert(PoolShapeProblem(s).empty() && "invalid pool shape (see PoolShapeProblem)");
  assert(args.grad_out.count >= s.output_count() && "grad_out must hold N x OH x OW x C floats");
  assert((!is_max || args.argmax.count >= s.output_count()) && "max pooling's backward reads argmax");
  assert(args.grad_in.count >= s.input_count() && "grad_in must hold N x H x W x C floats");
  // fp16 storage (mixed precision): grad_out and grad_in float16_t; argmax stays uint32.
  const bool half = args.grad_out.half();
  assert(args.grad_in.half() == half && "grad_out and grad_in must have the same precision");
  assert((!is_max || args.argmax.element_bytes == 4) && "argmax is uint32");
  const double element_bytes = half ? 2 : 4;

  const bool vec4 = args.path == PoolPath::kVec4 ||
                    (args.path == PoolPath::kAuto && PoolCanUseVec4(pipelines.context(), args));
  assert((!vec4 || PoolCanUseVec4(pipelines.context(), args)) && "pool_back_vec4 cannot run this pass");

  const vk::DeviceInfo& info = pipelines.context().info();
  const uint32_t group_size = args.workgroup_size ? args.workgroup_size : LimitedGroupSize(info, 256);
  vk::Dispatch d;
  d.kernel = "pool_back";
  d.label = std::string(PoolName(args.kind)) + " backward";
  d.pipeline = &pipelines.Get(half ? "pool_back_f16" : vec4 ? "pool_back_vec4" : "pool_back",
                              {{0, group_size}, {kPoolKindSpecId, uint32_t(args.kind)}});
  if (vec4) {
    // Average pooling reads no argmax.
    d.bindings = {TexelRead(args.grad_out, VK_FORMAT_R32G32B32A32_SFLOAT, 16),
                  is_max ? TexelRead(args.argmax, VK_FORMAT_R32G32B32A32_UINT, 16)
                         : vk::UnusedBinding(VK_FORMAT_R32G32B32A32_UINT),
                  args.grad_in.Bind(vk::Access::kWrite)};
  } else {
    d.bindings = {args.grad_out.Bind(vk::Access::kRead),
                  is_max ? args.argmax.Bind(vk::Access::kRead) : vk::UnusedBinding(),
                  args.grad_in.Bind(vk::Access::kWrite)};
  }
  const gpu::PoolParams params = ParamsOf(info, s, uint64_t(s.batch) * s.height * s.width, vec4 ? 4 : 1);
  d.SetPushConstants(params);
  d.workgroups = {GridStrideGroups(info, uint64_t(s.batch) * s.height * s.width * params.channel_blocks, group_size),
                  1, 1};
  // Max: each output's gradient is added once, where its argmax points.
  // Average: each (window, covered input) pair is one add, and each input one
  // divide. Minimum traffic: grad_out (and argmax) read once, grad_in written once.
  const double outputs = double(s.output_count()), inputs = double(s.input_count());
  d.cost.flops = is_max ? outputs : outputs * s.window_h * s.window_w + inputs;
  d.cost.bytes_read = element_bytes * outputs + (is_max ? 4 * outputs : 0);
  d.cost.bytes_written = element_bytes * inputs;
  return d;
}

}  // namespace ts::kernels
