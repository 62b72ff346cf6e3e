#include "compute/kernels/conv2d.h"

#include <cassert>
#include <initializer_list>
#include <string>
#include <utility>

#include "compute/common/error.h"
#include "compute/kernels/dispatch_helpers.h"
#include "compute/kernels/matmul.h"  // SoftwareGroupWidth
#include "compute/kernels/mixed_precision.h"  // Fp16Unavailable
#include "compute/vk/context.h"
#include "shaders/conv2d.h"

namespace ts::kernels {
namespace {

// Specialization-constant ids of conv2d.comp.
enum ForwardSpecId : uint32_t {
  kForwardGroupCols = 0, kForwardGroupRows = 1, kForwardVariant = 2, kForwardRows = 3, kForwardCols = 4,
  kForwardShare = 5, kForwardVec4Input = 6, kForwardVec4Filter = 7, kForwardStrideW = 8, kForwardTexelInput = 9,
  kForwardTexelFilter = 10,
};
// Of conv2d_back_data.comp.
enum BackDataSpecId : uint32_t {
  kDataGroupCols = 0, kDataGroupRows = 1, kDataRows = 2, kDataCols = 3, kDataShare = 4, kDataVec4 = 5, kDataTexel = 6,
};
// Of conv2d_back_filter.comp.
enum BackFilterSpecId : uint32_t {
  kFilterGroupCols = 0, kFilterGroupRows = 1, kFilterRows = 2, kFilterCols = 3, kFilterShare = 4,
  kFilterVec4Input = 5, kFilterVec4GradOutput = 6, kFilterTexelInput = 7, kFilterTexelGradOutput = 8,
};

// Invocations along x that share their gathered loads through subgroup
// shuffles, at most (as in matmul.cpp): a whole 16-lane subgroup at 512 bits.
constexpr uint32_t kMaxShareWidth = 16;

// The implicit GEMMs take one tiling whatever the shape (each pipeline costs
// lavapipe about a second of LLVM compilation, so a model should need few):
// matmul's fastest lavapipe tiling, a subgroup of 8 per workgroup, 32 x 4
// outputs per invocation, loads shared 8 ways.
constexpr Conv2DTiling kImplicitGemmTiling{8, 1, 32, 4};

// The direct kernel: 8 invocations along Cout with 4 channels each, and 32
// pixels of an output row per invocation, or 16 where rows are at most 16
// wide (32 would leave half idle). The fastest measured on lavapipe.
Conv2DTiling DirectTiling(const Conv2DGeometry& g) { return {8, 1, g.out_width > 16 ? 32u : 16u, 4}; }

// The filter gradient: the GEMM tiling, with 8 channels per invocation where
// Cout >= 64 (its grid stays wide enough), 25% faster at the seed CNN's 32->64
// and 64->64 layers on lavapipe. Its grid covers only the filter, so a small
// one (an RGB or grey first layer: 27 x 32) would be a single workgroup, which
// runs on one core: there, 16 rows per invocation make two.
Conv2DTiling BackFilterTiling(const Conv2DGeometry& g) {
  Conv2DTiling t{8, 1, 32, g.out_channels >= 64 ? 8u : 4u};
  bool single_workgroup = g.filter_rows() <= t.group_rows * t.rows_per_invocation &&
                          g.out_channels <= t.group_cols * t.cols_per_invocation;
  if (single_workgroup) t.rows_per_invocation = 16;
  return t;
}

// Whether `tensor` can be read as vec4s (f16vec4s for fp16) along rows of
// `row_length` elements: its binding (in every slot) starts on a vec4's size
// (16 bytes, or 8) and rows are whole vec4s.
bool Vec4Aligned(const TensorRef& tensor, uint32_t row_length) {
  const uint64_t vec4_bytes = 4ull * tensor.element_bytes;
  return tensor.offset_bytes % vec4_bytes == 0 && tensor.slot_stride_bytes % vec4_bytes == 0 && row_length % 4 == 0;
}

// Whether a kernel's vec4 loads of `tensor` should go through a texel view
// (see Vec4TexelReadsPay): RGBA32F for fp32, RGBA16F for fp16 where the
// device can read that format as a uniform texel buffer. `storage_reads`
// (Conv2DTiling) forbids it.
bool TexelReads(vk::PipelineCache& pipelines, const TensorRef& tensor, bool vec4, bool storage_reads) {
  if (!vec4 || storage_reads) return false;
  const vk::DeviceInfo& device = pipelines.context().info();
  const VkPhysicalDevice physical = pipelines.context().physical_device();
  if (!tensor.half()) return Vec4TexelReadsPay(device, physical, tensor);
  if (!device.is_software() || !TexelViewFits(physical, tensor, 8)) return false;
  VkFormatProperties properties{};
  vkGetPhysicalDeviceFormatProperties(physical, VK_FORMAT_R16G16B16A16_SFLOAT, &properties);
  return (properties.bufferFeatures & VK_FORMAT_FEATURE_UNIFORM_TEXEL_BUFFER_BIT) != 0;
}

// The texel binding of `tensor` for TexelReads' loads, or an unused one.
vk::Binding TexelBinding(const TensorRef& tensor, bool texel) {
  if (!texel || !tensor.half()) return Vec4TexelBinding(tensor, texel);
  return TexelRead(tensor, VK_FORMAT_R16G16B16A16_SFLOAT, 8);
}

// Mixed precision: whether the dispatch runs the fp16 shader, from its
// tensors' element sizes. `half_tensors` must all be fp16 or all fp32 (the
// activations, their gradients and the fp16 weight copy); `fp32_tensors`
// (the master gradient) fp32 whatever the others are. Throws ts::Error on any
// other mix, and when fp16 is asked of a device without 16-bit storage.
bool HalfPrecision(const vk::DeviceInfo& device, const char* kernel,
                   std::initializer_list<std::pair<const char*, const TensorRef*>> half_tensors,
                   std::initializer_list<std::pair<const char*, const TensorRef*>> fp32_tensors = {}) {
  const bool half = half_tensors.begin()->second->half();
  std::string layout;
  bool mixed = false;
  for (const auto& [name, tensor] : half_tensors) {
    mixed |= tensor->half() != half || (tensor->element_bytes != 2 && tensor->element_bytes != 4);
    layout += std::string(layout.empty() ? "" : ", ") + name + " " + (tensor->half() ? "fp16" : "fp32");
  }
  for (const auto& [name, tensor] : fp32_tensors) {
    mixed |= tensor->element_bytes != 4;
    layout += std::string(", ") + name + " " + (tensor->half() ? "fp16" : "fp32");
  }
  Require(!mixed, std::string(kernel) + " runs in fp32, or with fp16 activations and weights (see conv2d.h); got " +
                      layout + ".");
  if (half) Require(device.fp16_storage, Fp16Unavailable(device));
  return half;
}

// `requested`'s non-zero fields over `defaults`, with the workgroup halved
// (its larger side first) until the device allows it. On a software driver
// whose subgroups are wider than the default 8 lanes (lavapipe at 512 bits:
// 16), the default workgroup fills one subgroup: one subgroup wide where the
// `channels` along x fill it, else with more of its `rows` along y where that
// still leaves two workgroups for lavapipe's two threads. A workgroup smaller
// than its subgroup leaves lanes idle (half of them at 512 bits).
Conv2DTiling Resolve(const vk::DeviceInfo& device, const Conv2DTiling& defaults, const Conv2DTiling& requested,
                     uint32_t channels, uint64_t rows) {
  Conv2DTiling t = defaults;
  const uint32_t width = SoftwareGroupWidth(device);
  if (device.is_software() && width > t.group_cols * t.group_rows) {
    const uint32_t group_rows = width / t.group_cols;
    if (channels >= width * t.cols_per_invocation)
      t.group_cols = width;
    else if (rows >= 2ull * group_rows * t.rows_per_invocation)
      t.group_rows = group_rows;
  }
  if (requested.group_cols) t.group_cols = requested.group_cols;
  if (requested.group_rows) t.group_rows = requested.group_rows;
  if (requested.rows_per_invocation) t.rows_per_invocation = requested.rows_per_invocation;
  if (requested.cols_per_invocation) t.cols_per_invocation = requested.cols_per_invocation;
  while (t.group_cols * t.group_rows > device.max_workgroup_invocations ||
         t.group_cols > device.max_workgroup_size[0] ||
         t.group_rows > device.max_workgroup_size[1]) {
    if (t.group_cols >= t.group_rows && t.group_cols > 1)
      t.group_cols /= 2;
    else
      t.group_rows /= 2;
  }
  return t;
}

// The widest share (a power of two up to kMaxShareWidth) that divides the
// workgroup's width, the subgroup size and the invocation's rows, so that every
// share group lies inside one subgroup (subgroups are runs of consecutive
// invocations on every driver we know) and owns whole rows. `rows_multiple`:
// the rows each member owns must also be a multiple of it (whole vec4 groups).
uint32_t ShareWidth(const vk::DeviceInfo& device, const Conv2DTiling& t, uint32_t rows_multiple = 1) {
  for (uint32_t share = kMaxShareWidth; share > 1; share /= 2)
    if (device.subgroup_size >= share && device.subgroup_size % share == 0 && t.group_cols % share == 0 &&
        t.rows_per_invocation % share == 0 && (t.rows_per_invocation / share) % rows_multiple == 0)
      return share;
  return 1;
}

void RequireShuffles(const vk::DeviceInfo& device) {
  // The conv2d shaders declare the shuffle capability (used to share loads).
  Require(device.subgroup_shuffle, "The convolution kernels need subgroup shuffles in compute shaders, which '" +
                                       device.name + "' does not support. Choose another device with --device.");
}

void AssertValid(const Conv2DGeometry& g) {
  assert(g.batch && g.in_height && g.in_width && g.in_channels && g.out_channels && "conv2d: empty tensor");
  assert(g.kernel_height && g.kernel_width && g.stride_h && g.stride_w && "conv2d: zero kernel size or stride");
  assert(g.out_height && g.out_width && "conv2d: empty output (resolve the padding first)");
  // The shaders compute offsets and padded coordinates in 32-bit ints.
  assert(g.input_elements() < (uint64_t(1) << 31) && g.output_elements() < (uint64_t(1) << 31) &&
         g.filter_elements() < (uint64_t(1) << 31) && "conv2d: tensor too large for 32-bit indexing");
  assert(uint64_t(g.out_height - 1) * g.stride_h + g.kernel_height < (uint64_t(1) << 30) &&
         uint64_t(g.out_width - 1) * g.stride_w + g.kernel_width < (uint64_t(1) << 30) && "conv2d: window too far");
  (void)g;
}

gpu::Conv2DParams ParamsOf(const Conv2DGeometry& g) {
  return {g.batch,    g.in_height, g.in_width, g.in_channels, g.out_channels, g.kernel_height, g.kernel_width,
          g.stride_h, g.stride_w,  g.pad_top,  g.pad_left,    g.out_height,   g.out_width};
}

}  // namespace

std::string Conv2DDescription(const Conv2DGeometry& g) {
  auto nhwc = [](uint32_t n, uint32_t h, uint32_t w, uint32_t c) {
    return std::to_string(n) + "x" + std::to_string(h) + "x" + std::to_string(w) + "x" + std::to_string(c);
  };
  std::string stride = g.stride_h == g.stride_w ? std::to_string(g.stride_h)
                                                : std::to_string(g.stride_h) + "," + std::to_string(g.stride_w);
  return "conv2d " + std::to_string(g.kernel_height) + "x" + std::to_string(g.kernel_width) + "/" + stride + " " +
         nhwc(g.batch, g.in_height, g.in_width, g.in_channels) + " -> " +
         nhwc(g.batch, g.out_height, g.out_width, g.out_channels);
}

Conv2DGeometry ResolveConv2DPadding(Conv2DGeometry g, Conv2DPadding padding, uint32_t pad_h, uint32_t pad_w) {
  Require(g.in_height > 0 && g.in_width > 0 && g.kernel_height > 0 && g.kernel_width > 0,
          "Conv2D needs a non-empty input and kernel; got a " + std::to_string(g.in_height) + "x" +
              std::to_string(g.in_width) + " input and a " + std::to_string(g.kernel_height) + "x" +
              std::to_string(g.kernel_width) + " kernel.");
  Require(g.stride_h > 0 && g.stride_w > 0, "Conv2D strides must be at least 1.");

  // One axis: output size and padding before, from the input size, kernel, stride.
  auto resolve = [&](uint32_t in, uint32_t kernel, uint32_t stride, uint32_t explicit_pad, const char* axis,
                     uint32_t& out, uint32_t& pad_before) {
    uint64_t padded = in;
    switch (padding) {
      case Conv2DPadding::kValid:
        pad_before = 0;
        break;
      case Conv2DPadding::kSame: {
        uint64_t same_out = (uint64_t(in) + stride - 1) / stride;
        uint64_t needed = (same_out - 1) * stride + kernel;
        uint64_t total = needed > in ? needed - in : 0;
        pad_before = uint32_t(total / 2);
        padded = uint64_t(in) + total;
        break;
      }
      case Conv2DPadding::kExplicit:
        pad_before = explicit_pad;
        padded = uint64_t(in) + 2ull * explicit_pad;
        break;
    }
    Require(padded >= kernel, std::string("Conv2D's kernel ") + axis + " " + std::to_string(kernel) +
                                  " does not fit the input " + axis + " " + std::to_string(in) + " (" +
                                  std::to_string(padded) + " with padding).");
    out = uint32_t((padded - kernel) / stride + 1);
  };
  resolve(g.in_height, g.kernel_height, g.stride_h, pad_h, "height", g.out_height, g.pad_top);
  resolve(g.in_width, g.kernel_width, g.stride_w, pad_w, "width", g.out_width, g.pad_left);
  return g;
}

const char* Conv2DVariantName(Conv2DVariant variant) {
  switch (variant) {
    case Conv2DVariant::kAuto: return "automatic";
    case Conv2DVariant::kImplicitGemm: return "implicit GEMM (register-blocked)";
    case Conv2DVariant::kDirect: return "direct";
  }
  return "?";
}

Conv2DVariant ChooseConv2DVariant(const vk::DeviceInfo& /*device*/, const Conv2DGeometry& g) {
  // With 1 to 3 input channels a tap is too little work for the GEMM's
  // gather; the direct kernel's window feeds 4 taps at a time instead.
  // Measured on lavapipe at batch 64: RGB 3x3 15 vs 8.6 GFLOP/s, grey 5x5 14
  // vs 4.3; from 5 channels up the GEMM is as fast or faster (8: 19 vs 15).
  return g.in_channels <= 3 ? Conv2DVariant::kDirect : Conv2DVariant::kImplicitGemm;
}

vk::Dispatch Conv2DDispatch(vk::PipelineCache& pipelines, const Conv2DArgs& args, Conv2DVariant variant,
                            const Conv2DTiling& requested) {
  const Conv2DGeometry& g = args.geometry;
  AssertValid(g);
  assert(args.input.count >= g.input_elements() && "conv2d: input holds fewer than N*H*W*Cin floats");
  assert(args.filter.count >= g.filter_elements() && "conv2d: filter holds fewer than KH*KW*Cin*Cout floats");
  assert(args.output.count >= g.output_elements() && "conv2d: output holds fewer than N*OH*OW*Cout floats");
  const vk::DeviceInfo& device = pipelines.context().info();
  RequireShuffles(device);
  const bool half = HalfPrecision(device, "Conv2D forward",
                                  {{"input", &args.input}, {"filter", &args.filter}, {"output", &args.output}});
  if (variant == Conv2DVariant::kAuto) variant = ChooseConv2DVariant(device, g);
  const bool gemm = variant == Conv2DVariant::kImplicitGemm;

  Conv2DTiling t = Resolve(device, gemm ? kImplicitGemmTiling : DirectTiling(g), requested, g.out_channels,
                           uint64_t(g.batch) * g.out_height * g.out_width);
  assert(t.group_cols && t.group_rows && t.rows_per_invocation && t.cols_per_invocation &&
         "conv2d: tiling fields must be positive");
  // The direct kernel reads X one channel at a time: no vec4 path to specialise.
  bool vec4_input = gemm && Vec4Aligned(args.input, g.in_channels);
  bool vec4_filter = Vec4Aligned(args.filter, g.out_channels) && t.cols_per_invocation % 4 == 0;
  uint32_t share = ShareWidth(device, t);
  const bool texel_input = TexelReads(pipelines, args.input, vec4_input, requested.storage_reads);
  const bool texel_filter = TexelReads(pipelines, args.filter, vec4_filter, requested.storage_reads);
  vk::SpecConstants spec{
      {kForwardGroupCols, t.group_cols},
      {kForwardGroupRows, t.group_rows},
      {kForwardVariant, gemm ? 0u : 1u},
      {kForwardRows, t.rows_per_invocation},
      {kForwardCols, t.cols_per_invocation},
      {kForwardShare, share},
      {kForwardVec4Input, vec4_input},
      {kForwardVec4Filter, vec4_filter},
      // Direct only (its window indices are constants); fixed for the GEMM, so it gets one pipeline.
      {kForwardStrideW, gemm ? 1u : g.stride_w},
      {kForwardTexelInput, texel_input},
      {kForwardTexelFilter, texel_filter},
  };

  vk::Dispatch d;
  d.kernel = "conv2d";
  d.label = Conv2DDescription(g) + (gemm ? " forward (implicit GEMM" : " forward (direct") + (half ? ", fp16)" : ")");
  d.pipeline = &pipelines.Get(half ? "conv2d_f16" : "conv2d", spec);
  d.bindings = {args.input.Bind(vk::Access::kRead), args.filter.Bind(vk::Access::kRead),
                args.output.Bind(vk::Access::kWrite), TexelBinding(args.input, texel_input),
                TexelBinding(args.filter, texel_filter)};
  d.SetPushConstants(ParamsOf(g));
  if (gemm) {
    d.workgroups = {vk::DivideRoundUp(g.out_channels, t.group_cols * t.cols_per_invocation),
                    vk::DivideRoundUp(g.output_pixels(), t.group_rows * t.rows_per_invocation), 1};
  } else {
    // y: blocks of rows_per_invocation pixels along each output row; z: the image.
    uint64_t blocks = uint64_t(g.out_height) * vk::DivideRoundUp(g.out_width, t.rows_per_invocation);
    d.workgroups = {vk::DivideRoundUp(g.out_channels, t.group_cols * t.cols_per_invocation),
                    vk::DivideRoundUp(blocks, t.group_rows), g.batch};
  }
  // The minimum traffic: X and W read once, Y written once. Overlapping
  // windows re-read X from caches, so a bandwidth from these is a lower bound.
  d.cost.flops = g.flops();
  d.cost.bytes_read = double(args.input.element_bytes) * double(g.input_elements()) +
                     double(args.filter.element_bytes) * double(g.filter_elements());
  d.cost.bytes_written = double(args.output.element_bytes) * double(g.output_elements());
  return d;
}

vk::Dispatch Conv2DBackwardDataDispatch(vk::PipelineCache& pipelines, const Conv2DBackwardDataArgs& args,
                                        const Conv2DTiling& requested) {
  const Conv2DGeometry& g = args.geometry;
  AssertValid(g);
  assert(args.grad_output.count >= g.output_elements() && "conv2d: grad_output holds fewer than N*OH*OW*Cout floats");
  assert(args.filter.count >= g.filter_elements() && "conv2d: filter holds fewer than KH*KW*Cin*Cout floats");
  assert(args.grad_input.count >= g.input_elements() && "conv2d: grad_input holds fewer than N*H*W*Cin floats");
  const vk::DeviceInfo& device = pipelines.context().info();
  RequireShuffles(device);
  const bool half = HalfPrecision(device, "Conv2D backward data", {{"grad_output", &args.grad_output},
                                                                   {"filter", &args.filter},
                                                                   {"grad_input", &args.grad_input}});

  Conv2DTiling t = Resolve(device, kImplicitGemmTiling, requested, g.in_channels,
                           uint64_t(g.batch) * g.in_height * g.in_width / (g.stride_h * g.stride_w));
  assert(t.group_cols && t.group_rows && t.rows_per_invocation && t.cols_per_invocation &&
         "conv2d: tiling fields must be positive");
  // dY and W both run along Cout.
  bool vec4 = Vec4Aligned(args.grad_output, g.out_channels) && Vec4Aligned(args.filter, g.out_channels);
  const bool texel = TexelReads(pipelines, args.grad_output, vec4, requested.storage_reads) &&
                     TexelReads(pipelines, args.filter, vec4, requested.storage_reads);
  vk::SpecConstants spec{
      {kDataGroupCols, t.group_cols},
      {kDataGroupRows, t.group_rows},
      {kDataRows, t.rows_per_invocation},
      {kDataCols, t.cols_per_invocation},
      {kDataShare, ShareWidth(device, t)},
      {kDataVec4, vec4},
      {kDataTexel, texel},
  };

  vk::Dispatch d;
  d.kernel = "conv2d_back_data";
  d.label = Conv2DDescription(g) + (half ? " backward data (fp16)" : " backward data");
  d.pipeline = &pipelines.Get(half ? "conv2d_back_data_f16" : "conv2d_back_data", spec);
  d.bindings = {args.grad_output.Bind(vk::Access::kRead), args.filter.Bind(vk::Access::kRead),
                args.grad_input.Bind(vk::Access::kWrite), TexelBinding(args.grad_output, texel),
                TexelBinding(args.filter, texel)};
  d.SetPushConstants(ParamsOf(g));
  // z: one phase class (ih % sh, iw % sw) per slice; y: the largest class, the first.
  uint64_t largest_class = uint64_t(g.batch) * ((g.in_height + g.stride_h - 1) / g.stride_h) *
                           ((g.in_width + g.stride_w - 1) / g.stride_w);
  d.workgroups = {vk::DivideRoundUp(g.in_channels, t.group_cols * t.cols_per_invocation),
                  vk::DivideRoundUp(largest_class, t.group_rows * t.rows_per_invocation), g.stride_h * g.stride_w};
  d.cost.flops = g.flops();
  d.cost.bytes_read = double(args.grad_output.element_bytes) * double(g.output_elements()) +
                     double(args.filter.element_bytes) * double(g.filter_elements());
  d.cost.bytes_written = double(args.grad_input.element_bytes) * double(g.input_elements());
  return d;
}

vk::Dispatch Conv2DBackwardFilterDispatch(vk::PipelineCache& pipelines, const Conv2DBackwardFilterArgs& args,
                                          const Conv2DTiling& requested) {
  const Conv2DGeometry& g = args.geometry;
  AssertValid(g);
  assert(args.input.count >= g.input_elements() && "conv2d: input holds fewer than N*H*W*Cin floats");
  assert(args.grad_output.count >= g.output_elements() && "conv2d: grad_output holds fewer than N*OH*OW*Cout floats");
  assert(args.grad_filter.count >= g.filter_elements() && "conv2d: grad_filter holds fewer than KH*KW*Cin*Cout floats");
  const vk::DeviceInfo& device = pipelines.context().info();
  RequireShuffles(device);
  const bool half = HalfPrecision(device, "Conv2D backward filter",
                                  {{"input", &args.input}, {"grad_output", &args.grad_output}},
                                  {{"grad_filter", &args.grad_filter}});

  Conv2DTiling t = Resolve(device, BackFilterTiling(g), requested, g.out_channels, g.filter_rows());
  assert(t.group_cols && t.group_rows && t.rows_per_invocation && t.cols_per_invocation &&
         "conv2d: tiling fields must be positive");
  // Four filter rows of a group are one tap's four channels: whole vec4s when
  // Cin and every member's rows are multiples of 4.
  bool vec4_input = Vec4Aligned(args.input, g.in_channels) && t.rows_per_invocation % 4 == 0;
  uint32_t share = ShareWidth(device, t, vec4_input ? 4 : 1);
  bool vec4_grad_output = Vec4Aligned(args.grad_output, g.out_channels) && t.cols_per_invocation % 4 == 0;
  const bool texel_input = TexelReads(pipelines, args.input, vec4_input, requested.storage_reads);
  const bool texel_grad_output = TexelReads(pipelines, args.grad_output, vec4_grad_output, requested.storage_reads);
  vk::SpecConstants spec{
      {kFilterGroupCols, t.group_cols},
      {kFilterGroupRows, t.group_rows},
      {kFilterRows, t.rows_per_invocation},
      {kFilterCols, t.cols_per_invocation},
      {kFilterShare, share},
      {kFilterVec4Input, vec4_input},
      {kFilterVec4GradOutput, vec4_grad_output},
      {kFilterTexelInput, texel_input},
      {kFilterTexelGradOutput, texel_grad_output},
  };

  vk::Dispatch d;
  d.kernel = "conv2d_back_filter";
  d.label = Conv2DDescription(g) + (half ? " backward filter (fp16)" : " backward filter");
  d.pipeline = &pipelines.Get(half ? "conv2d_back_filter_f16" : "conv2d_back_filter", spec);
  d.bindings = {args.input.Bind(vk::Access::kRead), args.grad_output.Bind(vk::Access::kRead),
                args.grad_filter.Bind(vk::Access::kWrite), TexelBinding(args.input, texel_input),
                TexelBinding(args.grad_output, texel_grad_output)};
  d.SetPushConstants(ParamsOf(g));
  d.workgroups = {vk::DivideRoundUp(g.out_channels, t.group_cols * t.cols_per_invocation),
                  vk::DivideRoundUp(g.filter_rows(), t.group_rows * t.rows_per_invocation), 1};
  d.cost.flops = g.flops();
  d.cost.bytes_read = double(args.input.element_bytes) * double(g.input_elements()) +
                     double(args.grad_output.element_bytes) * double(g.output_elements());
  d.cost.bytes_written = double(args.grad_filter.element_bytes) * double(g.filter_elements());
  return d;
}

}  // namespace ts::kernels
