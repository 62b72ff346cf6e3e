#include "compute/kernels/activation.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <initializer_list>
#include <string>
#include <utility>

#include "compute/kernels/dispatch_helpers.h"
#include "compute/vk/context.h"
#include "shaders/bias_act.h"

namespace ts::kernels {
namespace {

static_assert(uint32_t(Activation::kIdentity) == gpu::ACTIVATION_IDENTITY &&
              uint32_t(Activation::kRelu) == gpu::ACTIVATION_RELU &&
              uint32_t(Activation::kLeakyRelu) == gpu::ACTIVATION_LEAKY_RELU &&
              uint32_t(Activation::kSigmoid) == gpu::ACTIVATION_SIGMOID &&
              uint32_t(Activation::kTanh) == gpu::ACTIVATION_TANH &&
              uint32_t(Activation::kGelu) == gpu::ACTIVATION_GELU,
              "shaders/bias_act.h and Activation must agree");

constexpr uint32_t kActivationSpecId = 2;  // see shaders/activation.glsl

// Layout defaults, measured on lavapipe (2 cores, 2026-11-22; `tensorscope
// bench --serve`, op bias_act, relu, warm buffers; see tests/bench/RESULTS.md).
// There a workgroup runs on one thread as a loop over 8-wide SIMD chunks,
// storage-buffer loads and stores go one lane at a time, texel fetches are
// vectorised, and a shader with a barrier runs its chunks as coroutines:
// - vec4 lanes and a 2D grid: 5.5-9x faster than the old one-float-per-
//   invocation kernels with an index division per element;
// - texel reads: forward 1.39 -> 1.25 ms, backward 1.46 -> 0.91 ms (43264 x 32;
//   the forward's two stores dominate it);
// - forward rows per invocation 16 / 4 / 1: 1.25 / 1.6 / 2.75 ms (fewer, longer
//   workgroups);
// - backward workgroups of one SIMD chunk (8 invocations: with 8 column lanes
//   one row lane, so no shared-memory tree and no barrier) vs 256: 0.91 vs
//   1.71 ms at 43264 x 32, 0.019 vs 0.047 ms at 32 x 128;
// - the split reduction (64 row blocks + combine) vs one workgroup row:
//   0.91 vs 2.0 ms at 43264 x 32 (only one column group: one thread).
// Other devices get the usual GPU shape: storage reads, 256-invocation
// workgroups, a shared-memory tree, fewer rows per invocation for more
// parallelism.
constexpr uint32_t kDefaultWorkgroupSize = 256;
constexpr uint32_t kSoftwareRowsPerInvocation = 16;
constexpr uint32_t kHardwareRowsPerInvocation = 4;
// Backward row blocks with a bias gradient: at least this many rows per block,
// at most this many blocks (the combine reads blocks x cols partial sums).
// Without a bias, blocks of max(this, rows per invocation x Y) rows.
constexpr uint32_t kMinRowsPerBlock = 256;
constexpr uint32_t kMaxRowBlocks = 64;
// Column lanes per workgroup at most: 8 lanes of a row are 32 or 128
// contiguous bytes, a subgroup's worth on lavapipe (8 wide); row lanes fill
// the rest of the workgroup.
constexpr uint32_t kMaxColumnLanes = 8;
// lavapipe (Mesa's gallivm) ends every shader loop after 65535 iterations,
// whatever its condition says: no lane may walk more rows than this.
constexpr uint32_t kMaxLoopIterations = 32768;
// The backward on GPUs narrows its workgroups until the grid has at least
// this many (see BackwardDispatches).
constexpr uint32_t kMinBackwardWorkgroups = 8;

// Which shader variant and workgroup shape a dispatch uses. The _vec4 variants
// move four columns per load and store; they need cols % 4 == 0 and every
// tensor they bind (offset and per-slot stride) 16-byte aligned. The _texel
// variants also need every (rows, cols) input to be a valid RGBA32F texel view.
struct Layout {
  bool vec4 = false, texel = false;
  uint32_t lanes = 0;  // column lanes per row: cols or cols / 4
  uint32_t x = 1, y = 1;
};

// X: up to kMaxColumnLanes column lanes of a `group_size` workgroup.
// allow_vec4 false: one column per lane (the fp16 shaders).
Layout ChooseLayout(const vk::DeviceInfo& info, uint32_t cols, uint32_t group_size,
                    std::initializer_list<TensorRef> tensors, bool allow_vec4 = true) {
  Layout layout;
  layout.vec4 = allow_vec4 && cols > 0 && cols % 4 == 0;
  for (const TensorRef& t : tensors) layout.vec4 = layout.vec4 && (t.empty() || Aligned(t, 16));
  layout.lanes = layout.vec4 ? cols / 4 : cols;
  layout.x = std::min({std::bit_ceil(std::max(layout.lanes, 1u)), kMaxColumnLanes, LimitedGroupSize(info, group_size)});
  return layout;
}

// Whether the vec4 shaders should read `inputs` (each `elements` floats)
// through texel buffers, as `reads` asks and the device allows.
bool UseTexelReads(vk::Context& context, BiasActivationReads reads, const Layout& layout, uint64_t elements,
                   std::initializer_list<TensorRef> inputs) {
  if (!layout.vec4 || reads == BiasActivationReads::kStorage) return false;
  if (reads == BiasActivationReads::kAuto && !context.info().is_software()) return false;
  VkPhysicalDeviceProperties properties{};
  vkGetPhysicalDeviceProperties(context.physical_device(), &properties);
  const uint64_t alignment = std::max<uint64_t>(properties.limits.minTexelBufferOffsetAlignment, 16);
  if (elements == 0 || elements / 4 > properties.limits.maxTexelBufferElements) return false;
  for (const TensorRef& t : inputs)
    if (t.empty() || !Aligned(t, alignment)) return false;
  return true;
}

// The first `elements` floats of `t` as an RGBA32F texel view.
vk::Binding TexelBinding(const TensorRef& t, uint64_t elements) {
  return TensorRef{t.buffer, t.offset_bytes, elements, t.slot_stride_bytes}.Bind(vk::Access::kRead);
}

// Y: the rest of a `group_size` workgroup, a power of two within the device's
// limits (and, for the backward's tree, its shared memory).
uint32_t RowLanes(const vk::DeviceInfo& info, const Layout& layout, uint32_t group_size, bool shared_tree) {
  group_size = LimitedGroupSize(info, group_size);
  uint32_t y = std::bit_floor(std::max(1u, std::min(group_size / layout.x, info.max_workgroup_size[1])));
  const uint32_t value_bytes = layout.vec4 ? 16 : 4;
  while (shared_tree && y > 1 && uint64_t(layout.x) * y * value_bytes > info.max_shared_memory_bytes) y /= 2;
  return y;
}

uint32_t RowsPerInvocation(const vk::DeviceInfo& info, const BiasActivationTuning& tuning) {
  if (tuning.rows_per_invocation > 0) return std::min(tuning.rows_per_invocation, kMaxLoopIterations);
  return info.is_software() ? kSoftwareRowsPerInvocation : kHardwareRowsPerInvocation;
}

uint32_t RowBlocks(uint32_t rows) {
  return static_cast<uint32_t>(
      std::clamp<uint64_t>((uint64_t(rows) + kMinRowsPerBlock - 1) / kMinRowsPerBlock, 1, kMaxRowBlocks));
}

// FLOPs per element, counting each add, multiply, divide, compare/select, abs
// and transcendental (exp) as 1 and an FMA as 2: approximate instruction counts
// of shaders/activation.glsl and shaders/math.glsl.
double ForwardFlops(Activation activation) {
  switch (activation) {
    case Activation::kIdentity: return 0;
    case Activation::kRelu: return 1;       // max
    case Activation::kLeakyRelu: return 2;  // compare/select, multiply
    case Activation::kSigmoid: return 5;    // abs, exp, add, divide, select (with a multiply)
    case Activation::kTanh: return 7;       // abs, multiply, exp, subtract, add, divide, sign
    case Activation::kGelu: return 30;      // scale, erfc (divide, 10 FMAs, square, exp, multiply), 2 multiplies
  }
  return 0;
}
double BackwardFlops(Activation activation) {
  switch (activation) {
    case Activation::kIdentity: return 0;
    case Activation::kRelu: return 1;       // select
    case Activation::kLeakyRelu: return 2;  // select, multiply
    case Activation::kSigmoid: return 3;    // 1 - y, y * (1 - y), * grad
    case Activation::kTanh: return 3;       // y * y, 1 - y^2, * grad
    case Activation::kGelu: return 36;      // erfc as forward, density (square, exp, 2 multiplies), FMA, * grad
  }
  return 0;
}

}  // namespace

const char* ActivationName(Activation activation) {
  switch (activation) {
    case Activation::kIdentity: return "identity";
    case Activation::kRelu: return "relu";
    case Activation::kLeakyRelu: return "leaky_relu";
    case Activation::kSigmoid: return "sigmoid";
    case Activation::kTanh: return "tanh";
    case Activation::kGelu: return "gelu";
  }
  return "unknown";
}

vk::Dispatch BiasActivationDispatch(vk::PipelineCache& pipelines, const BiasActivationArgs& args) {
  const uint64_t elements = uint64_t(args.rows) * args.cols;
  const bool has_bias = !args.bias.empty();
  const bool write_out = !args.out.empty();
  assert(args.pre.count >= elements && "pre must hold rows x cols floats");
  assert((!has_bias || args.bias.count >= args.cols) && "bias must hold cols floats");
  assert((!write_out || args.out.count >= elements) && "out must hold rows x cols floats");
  assert((write_out || args.activation == Activation::kIdentity) && "only identity may work in place");
  assert(elements < (uint64_t(1) << 32) && "the shader indexes elements with 32 bits");

  // fp16 storage (mixed precision): pre and out are float16_t, the bias fp32;
  // one column per lane (the fp16 shader has no vec4 form).
  const bool half = args.pre.half();
  assert((!write_out || args.out.half() == half) && "pre and out must have the same precision");
  assert((!has_bias || !args.bias.half()) && "the bias is fp32 (the master weights)");
  const double element_bytes = half ? 2 : 4;

  vk::Context& context = pipelines.context();
  const vk::DeviceInfo& info = context.info();
  const uint32_t group_size = args.tuning.workgroup_size ? args.tuning.workgroup_size : kDefaultWorkgroupSize;
  Layout layout = ChooseLayout(info, args.cols, group_size, {args.pre, args.bias, args.out}, !half);
  layout.texel = UseTexelReads(context, args.tuning.reads, layout, elements, {args.pre});
  const uint32_t rows_per_invocation = RowsPerInvocation(info, args.tuning);
  const uint64_t row_groups = (uint64_t(args.rows) + rows_per_invocation - 1) / rows_per_invocation;
  // No more row lanes than there are row groups.
  layout.y = RowLanes(info, layout, group_size, false);
  layout.y = static_cast<uint32_t>(std::min<uint64_t>(layout.y, std::bit_ceil(std::max<uint64_t>(row_groups, 1))));
  const gpu::BiasActParams params{args.rows, args.cols, has_bias ? 1u : 0u, write_out ? 1u : 0u, args.leaky_slope};

  vk::Dispatch d;
  d.kernel = "bias_act";
  d.label = std::string(has_bias ? "bias + " : "") + ActivationName(args.activation) + " forward";
  d.pipeline = &pipelines.Get(half ? "bias_act_f16" : layout.texel ? "bias_act_vec4_texel" : layout.vec4 ? "bias_act_vec4" : "bias_act",
                              {{0, layout.x}, {1, layout.y}, {kActivationSpecId, uint32_t(args.activation)}});
  const vk::Binding bias = has_bias ? args.bias.Bind(vk::Access::kRead) : vk::UnusedBinding();
  const vk::Binding out = write_out ? args.out.Bind(vk::Access::kWrite) : vk::UnusedBinding();
  if (layout.texel)  // pre read as texels at 0, written back (when biased) through storage at 3
    d.bindings = {TexelBinding(args.pre, elements), bias, out,
                  has_bias ? args.pre.Bind(vk::Access::kWrite) : vk::UnusedBinding()};
  else  // the code can write pre (the bias, added in place), so without a bias too
    d.bindings = {args.pre.Bind(vk::Access::kReadWrite), bias, out};
  d.SetPushConstants(params);
  d.workgroups = {GridStrideGroups(info, layout.lanes, layout.x, 0), GridStrideGroups(info, row_groups, layout.y, 1), 1};
  // One add per element for the bias, then the activation's count (see ForwardFlops).
  // Minimum traffic: pre and bias read once; pre written back when biased; out written.
  double n = double(elements);
  d.cost.flops = (has_bias ? n : 0) + (write_out ? n * ForwardFlops(args.activation) : 0);
  d.cost.bytes_read = element_bytes * n + (has_bias ? 4.0 * args.cols : 0);
  d.cost.bytes_written = element_bytes * ((has_bias ? n : 0) + (write_out ? n : 0));
  return d;
}

uint64_t BiasActivationBackwardWorkspaceCount(uint32_t rows, uint32_t cols) {
  const uint32_t blocks = RowBlocks(rows);
  return blocks == 1 ? 0 : uint64_t(blocks) * cols;
}

namespace {

std::vector<vk::Dispatch> BackwardDispatches(vk::PipelineCache& pipelines, const BiasActivationBackwardArgs& args,
                                             bool allow_split) {
  const uint64_t elements = uint64_t(args.rows) * args.cols;
  const bool write_grad_pre = !args.grad_pre.empty();
  const bool write_grad_bias = !args.grad_bias.empty();
  const bool reads_pre = args.activation == Activation::kRelu || args.activation == Activation::kLeakyRelu ||
                         args.activation == Activation::kGelu;
  const bool reads_out = args.activation == Activation::kSigmoid || args.activation == Activation::kTanh;
  // (the same split as kBackwardReadsPre / kBackwardReadsOut in shaders/activation.glsl)
  assert(args.grad_out.count >= elements && "grad_out must hold rows x cols floats");
  assert((!reads_pre || args.pre.count >= elements) && "this activation's backward reads pre");
  assert((!reads_out || args.out.count >= elements) && "this activation's backward reads out");
  assert((!write_grad_pre || args.grad_pre.count >= elements) && "grad_pre must hold rows x cols floats");
  assert((write_grad_pre || args.activation == Activation::kIdentity) && "only identity may skip grad_pre");
  assert((!write_grad_bias || args.grad_bias.count >= args.cols) && "grad_bias must hold cols floats");
  assert(elements < (uint64_t(1) << 32) && "the shader indexes elements with 32 bits");

  // fp16 storage (mixed precision): grad_out, pre, out and grad_pre are
  // float16_t, the bias-gradient sums fp32; one column per lane.
  const bool half = args.grad_out.half();
  assert((!write_grad_pre || args.grad_pre.half() == half) && "grad_out and grad_pre must have the same precision");
  assert((!write_grad_bias || !args.grad_bias.half()) && "the bias gradient is fp32");
  const double element_bytes = half ? 2 : 4;

  vk::Context& context = pipelines.context();
  const vk::DeviceInfo& info = context.info();
  // With a bias gradient, several row blocks only into a big enough
  // workspace (binding 4 then holds the (blocks, cols) partial sums, else
  // grad_bias itself).
  const uint32_t split_blocks = RowBlocks(args.rows);
  const bool split = write_grad_bias && allow_split && split_blocks > 1 &&
                     args.workspace.count >= uint64_t(split_blocks) * args.cols;
  const TensorRef sums = split ? args.workspace : args.grad_bias;
  const TensorRef pre = reads_pre ? args.pre : TensorRef{}, out = reads_out ? args.out : TensorRef{};
  // One SIMD chunk (a subgroup) per workgroup on software devices by default:
  // with 8 column lanes, a single row lane and no tree (see the top of the file).
  const uint32_t group_size = args.tuning.workgroup_size ? args.tuning.workgroup_size
                              : info.is_software()       ? std::max(info.subgroup_size, 1u)
                                                         : kDefaultWorkgroupSize;
  Layout layout = ChooseLayout(info, args.cols, group_size,
                               {args.grad_out, pre, out, write_grad_pre ? args.grad_pre : TensorRef{},
                                write_grad_bias ? sums : TensorRef{}},
                               !half);
  layout.texel = UseTexelReads(context, args.tuning.reads, layout, elements, {args.grad_out});
  for (const TensorRef& t : {pre, out})
    layout.texel = layout.texel && (t.empty() || UseTexelReads(context, args.tuning.reads, layout, elements, {t}));
  const uint32_t rows_per_invocation = RowsPerInvocation(info, args.tuning);

  uint32_t blocks = 1;
  if (split) {
    blocks = split_blocks;
  } else if (!write_grad_bias) {  // no sums to combine: blocks only spread the rows
    const uint32_t y = RowLanes(info, layout, group_size, false);
    const uint64_t rows_per_block = std::max<uint64_t>(uint64_t(rows_per_invocation) * y, kMinRowsPerBlock);
    blocks = GridStrideGroups(info, (args.rows + rows_per_block - 1) / rows_per_block, 1, 1);
  }
  // On GPUs, narrow the workgroups (down to one column lane) until the grid
  // has kMinBackwardWorkgroups, so a reduction over few, long columns still
  // spreads over the device. Not on software devices, where lanes of one
  // SIMD chunk on different rows ran 2-5x slower than one full-width
  // workgroup (43264 x 32: 1x8 36 ms, 4x2 4.8 ms, 8x1 alone 2.0 ms).
  while (!info.is_software() && layout.x > 1 &&
         uint64_t(vk::DivideRoundUp(layout.lanes, layout.x)) * blocks < kMinBackwardWorkgroups)
    layout.x /= 2;
  const uint32_t rows_per_block = static_cast<uint32_t>((uint64_t(args.rows) + blocks - 1) / blocks);
  // No more row lanes than a block has rows, and enough that no lane walks
  // more than kMaxLoopIterations rows.
  layout.y = std::min(RowLanes(info, layout, group_size, write_grad_bias), std::bit_ceil(std::max(rows_per_block, 1u)));
  layout.y = std::max(layout.y, std::bit_ceil((rows_per_block + kMaxLoopIterations - 1) / kMaxLoopIterations));
  assert(uint64_t(layout.x) * layout.y <= info.max_workgroup_invocations && layout.y <= info.max_workgroup_size[1] &&
         "too many rows for one workgroup row to reduce");
  const gpu::BiasActBackParams params{args.rows, args.cols, write_grad_pre ? 1u : 0u, write_grad_bias ? 1u : 0u,
                                      args.leaky_slope, std::max(rows_per_block, 1u)};

  vk::Dispatch d;
  d.kernel = "bias_act_back";
  d.label = std::string(write_grad_bias ? "bias + " : "") + ActivationName(args.activation) + " backward";
  d.pipeline = &pipelines.Get(half           ? "bias_act_back_f16"
                              : layout.texel ? "bias_act_back_vec4_texel"
                              : layout.vec4  ? "bias_act_back_vec4"
                                             : "bias_act_back",
                              {{0, layout.x}, {1, layout.y}, {kActivationSpecId, uint32_t(args.activation)}});
  auto input = [&](const TensorRef& t) {  // unused where the activation does not read it
    return t.empty() ? vk::UnusedBinding() : layout.texel ? TexelBinding(t, elements) : t.Bind(vk::Access::kRead);
  };
  d.bindings = {input(args.grad_out), input(pre), input(out),
                write_grad_pre ? args.grad_pre.Bind(vk::Access::kWrite) : vk::UnusedBinding(),
                write_grad_bias ? TensorRef{sums.buffer, sums.offset_bytes, uint64_t(blocks) * args.cols,
                                            sums.slot_stride_bytes}.Bind(vk::Access::kWrite)
                                : vk::UnusedBinding()};
  d.SetPushConstants(params);
  d.workgroups = {GridStrideGroups(info, layout.lanes, layout.x, 0), blocks, 1};
  // The derivative's count per element (see BackwardFlops), plus one add per
  // element into the bias sums (the compensation and the tree are
  // bookkeeping). Minimum traffic: grad_out and whichever of pre/out the
  // derivative needs are read once; grad_pre written once; the column sums
  // (one row of cols per block) written.
  const double n = double(elements), partials = double(blocks) * args.cols;
  d.cost.flops = n * BackwardFlops(args.activation) + (write_grad_bias ? n : 0);
  d.cost.bytes_read = element_bytes * n * (1 + (reads_pre ? 1 : 0) + (reads_out ? 1 : 0));
  d.cost.bytes_written = (write_grad_pre ? element_bytes * n : 0) + (write_grad_bias ? 4 * partials : 0);
  std::vector<vk::Dispatch> dispatches;
  dispatches.push_back(std::move(d));

  if (split) {
    const uint32_t combine_group = LimitedGroupSize(info, 64);
    const gpu::BiasActCombineParams combine_params{args.cols, blocks};
    vk::Dispatch c;
    c.kernel = "bias_act_back_combine";
    c.label = "bias gradient: sum of " + std::to_string(blocks) + " row blocks";
    c.pipeline = &pipelines.Get("bias_act_back_combine", {{0, combine_group}});
    c.bindings = {TensorRef{args.workspace.buffer, args.workspace.offset_bytes, uint64_t(blocks) * args.cols,
                            args.workspace.slot_stride_bytes}.Bind(vk::Access::kRead),
                  args.grad_bias.Bind(vk::Access::kWrite)};
    c.SetPushConstants(combine_params);
    c.workgroups = {GridStrideGroups(info, args.cols, combine_group, 0), 1, 1};
    // One add per partial sum; the partial sums read once, grad_bias written.
    c.cost.flops = partials;
    c.cost.bytes_read = 4 * partials;
    c.cost.bytes_written = 4.0 * args.cols;
    dispatches.push_back(std::move(c));
  }
  return dispatches;
}

}  // namespace

std::vector<vk::Dispatch> BiasActivationBackwardDispatches(vk::PipelineCache& pipelines,
                                                           const BiasActivationBackwardArgs& args) {
  return BackwardDispatches(pipelines, args, true);
}

vk::Dispatch BiasActivationBackwardDispatch(vk::PipelineCache& pipelines, const BiasActivationBackwardArgs& args) {
  return std::move(BackwardDispatches(pipelines, args, false).front());
}

}  // namespace ts::kernels
