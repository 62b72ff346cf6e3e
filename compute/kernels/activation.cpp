#include "compute/kernels/activation.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <string>

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

  const vk::DeviceInfo& info = pipelines.context().info();
  const uint32_t group_size = LimitedGroupSize(info, 256);
  gpu::BiasActParams params{args.rows, args.cols, has_bias ? 1u : 0u, write_out ? 1u : 0u, args.leaky_slope};

  vk::Dispatch d;
  d.kernel = "bias_act";
  d.label = std::string(has_bias ? "bias + " : "") + ActivationName(args.activation) + " forward";
  d.pipeline = &pipelines.Get("bias_act", {{0, group_size}, {kActivationSpecId, uint32_t(args.activation)}});
  d.bindings = {args.pre.Bind(has_bias ? vk::Access::kReadWrite : vk::Access::kRead),
                has_bias ? args.bias.Bind(vk::Access::kRead) : PlaceholderBinding(args.pre),
                write_out ? args.out.Bind(vk::Access::kWrite) : PlaceholderBinding(args.pre)};
  d.SetPushConstants(params);
  d.workgroups = {GridStrideGroups(info, elements, group_size), 1, 1};
  // One add per element for the bias, then the activation's count (see ForwardFlops).
  // Minimum traffic: pre and bias read once; pre written back when biased; out written.
  double n = double(elements);
  d.cost.flops = (has_bias ? n : 0) + (write_out ? n * ForwardFlops(args.activation) : 0);
  d.cost.bytes_read = 4 * n + (has_bias ? 4.0 * args.cols : 0);
  d.cost.bytes_written = (has_bias ? 4 * n : 0) + (write_out ? 4 * n : 0);
  return d;
}

vk::Dispatch BiasActivationBackwardDispatch(vk::PipelineCache& pipelines, const BiasActivationBackwardArgs& args) {
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

  // Workgroup: X columns (up to 8, so neighbouring lanes read neighbouring
  // floats) by Y row lanes, X * Y = 256 or the device's limit. Y is a power of
  // two for the shared-memory tree.
  const vk::DeviceInfo& info = pipelines.context().info();
  const uint32_t group_size = LimitedGroupSize(info, 256);
  const uint32_t x = std::min({std::bit_ceil(std::max(args.cols, 1u)), 8u, group_size});
  const uint32_t y = std::bit_floor(std::min(group_size / x, info.max_workgroup_size[1]));
  gpu::BiasActBackParams params{args.rows, args.cols, write_grad_pre ? 1u : 0u, write_grad_bias ? 1u : 0u,
                                args.leaky_slope};

  vk::Dispatch d;
  d.kernel = "bias_act_back";
  d.label = std::string(write_grad_bias ? "bias + " : "") + ActivationName(args.activation) + " backward";
  d.pipeline = &pipelines.Get("bias_act_back", {{0, x}, {1, y}, {kActivationSpecId, uint32_t(args.activation)}});
  d.bindings = {args.grad_out.Bind(vk::Access::kRead),
                reads_pre ? args.pre.Bind(vk::Access::kRead) : PlaceholderBinding(args.grad_out),
                reads_out ? args.out.Bind(vk::Access::kRead) : PlaceholderBinding(args.grad_out),
                write_grad_pre ? args.grad_pre.Bind(vk::Access::kWrite) : PlaceholderBinding(args.grad_out),
                write_grad_bias ? args.grad_bias.Bind(vk::Access::kWrite) : PlaceholderBinding(args.grad_out)};
  d.SetPushConstants(params);
  // Column sums need all rows of a column in one workgroup; without a bias the
  // rows are spread over the grid's y axis too.
  d.workgroups = {GridStrideGroups(info, args.cols, x, 0),
                  write_grad_bias ? 1u : GridStrideGroups(info, args.rows, y, 1), 1};
  // The derivative's count per element (see BackwardFlops), plus one add per
  // element into the bias sums. Minimum traffic: grad_out and whichever of
  // pre/out the derivative needs are read once; grad_pre and grad_bias written once.
  double n = double(elements);
  d.cost.flops = n * BackwardFlops(args.activation) + (write_grad_bias ? n : 0);
  d.cost.bytes_read = 4 * n * (1 + (reads_pre ? 1 : 0) + (reads_out ? 1 : 0));
  d.cost.bytes_written = (write_grad_pre ? 4 * n : 0) + (write_grad_bias ? 4.0 * args.cols : 0);
  return d;
}

}  // namespace ts::kernels
