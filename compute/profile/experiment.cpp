#include "compute/profile/experiment.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <exception>
#include <functional>
#include <memory>
#include <numeric>
#include <random>
#include <span>

#include "compute/common/error.h"
#include "compute/kernels/activation.h"
#include "compute/kernels/conv2d.h"
#include "compute/kernels/copy.h"
#include "compute/kernels/dispatch_helpers.h"
#include "compute/kernels/matmul.h"
#include "compute/kernels/optimizer.h"
#include "compute/kernels/pool.h"
#include "compute/reference/conv.h"
#include "compute/reference/elementwise.h"
#include "compute/reference/layers.h"
#include "compute/reference/matmul.h"
#include "compute/vk/buffer.h"
#include "compute/vk/sequence.h"
#include "shaders/step_params.h"

namespace ts::profile {
namespace {

constexpr uint32_t kMaxRepeats = 100;
constexpr kernels::Activation kActivation = kernels::Activation::kRelu;
constexpr float kLeakySlope = 0.01f;
// Adam as a plan's first step runs it (bias corrections 1 - beta^1).
constexpr float kLearningRate = 1e-3f;

// Scratch buffers of random floats for one experiment, and a way to read
// them back.
class Scratch {
 public:
  Scratch(vk::Context& context, uint64_t seed) : context_(context), rng_(seed) {}

  // A buffer of `count` floats drawn uniformly from [low, high]; the host copy is kept.
  kernels::TensorRef Random(uint64_t count, const std::string& name, float low = -2.0f, float high = 2.0f) {
    std::uniform_real_distribution<float> uniform(low, high);
    std::vector<float> values(count);
    for (float& v : values) v = uniform(rng_);
    return Make(std::move(values), name);
  }
  kernels::TensorRef Make(std::vector<float> values, const std::string& name) {
    auto buffer = std::make_unique<vk::Buffer>(context_, std::max<uint64_t>(values.size(), 1) * 4,
                                               "experiment " + name);
    buffer->UploadVector(std::span<const float>(values));
    buffers_.push_back(std::move(buffer));
    initial_.push_back(std::move(values));
    return kernels::WholeBuffer(*buffers_.back());
  }
  // The values a buffer was made with, as doubles.
  std::vector<double> Initial(const kernels::TensorRef& t) const {
    return reference::ToDouble(initial_.at(Index(t)));
  }
  std::vector<float> Read(const kernels::TensorRef& t) const {
    std::vector<float> values(t.count);
    t.buffer->DownloadVector(std::span<float>(values), t.offset_bytes);
    return values;
  }

 private:
  size_t Index(const kernels::TensorRef& t) const {
    for (size_t i = 0; i < buffers_.size(); ++i)
      if (buffers_[i].get() == t.buffer) return i;
    throw Error("experiment: a tensor that is not one of its scratch buffers.");
  }
  vk::Context& context_;
  std::mt19937_64 rng_;
  std::vector<std::unique_ptr<vk::Buffer>> buffers_;
  std::vector<std::vector<float>> initial_;
};

// Largest |gpu - cpu| / (1 + |cpu|) over a whole tensor.
double MaxError(std::span<const float> gpu, std::span<const double> cpu) {
  if (gpu.size() < cpu.size()) return INFINITY;
  double worst = 0;
  for (size_t i = 0; i < cpu.size(); ++i) {
    const double error = std::abs(double(gpu[i]) - cpu[i]) / (1 + std::abs(cpu[i]));
    if (!(error <= worst)) worst = error;  // NaN counts as the worst
  }
  return worst;
}

// What one experiment records and how it checks its result.
struct Setup {
  std::vector<vk::Dispatch> dispatches;
  size_t timed = 0;  // index of the re-specialised dispatch
  std::string note;
  std::function<double()> check;  // after the warm-up run: the largest error
};

uint64_t Elements(const ExperimentRequest& request) { return uint64_t(request.shape[0]) * request.shape[1]; }

void RequireFits(const vk::DeviceInfo& info, uint64_t floats, const std::string& what) {
  Require(floats * 4 <= info.max_storage_buffer_range,
          "the shape needs " + vk::FormatBytes(floats * 4) + " for " + what + ", more than one buffer may hold (" +
              vk::FormatBytes(info.max_storage_buffer_range) + ", maxStorageBufferRange).");
}

// The bias_act kernels take power-of-two workgroups (2D: column lanes x row lanes).
std::string PowerOfTwoNote(const ExperimentRequest& request, const vk::Dispatch& d) {
  const uint32_t used = d.pipeline->invocations_per_workgroup();
  if (used == request.workgroup_size) return "";
  return "The kernel shapes its workgroup as column lanes x row lanes in powers of two, within the problem: " +
         std::to_string(request.workgroup_size) + " invocations asked for, " + std::to_string(used) + " used.";
}

Setup BiasActivationForward(vk::PipelineCache& pipelines, Scratch& scratch, const ExperimentRequest& request) {
  const uint32_t rows = request.shape[0], cols = request.shape[1];
  kernels::BiasActivationArgs args;
  args.pre = scratch.Random(Elements(request), "pre");
  args.bias = scratch.Random(cols, "bias");
  args.out = scratch.Random(Elements(request), "out");
  args.rows = rows, args.cols = cols;
  args.activation = kActivation, args.leaky_slope = kLeakySlope;
  args.tuning.workgroup_size = request.workgroup_size;
  Setup setup;
  setup.dispatches.push_back(kernels::BiasActivationDispatch(pipelines, args));
  setup.note = PowerOfTwoNote(request, setup.dispatches.front());
  setup.check = [&scratch, args] {
    const reference::BiasActivationOutput expected = reference::BiasActivationForward(
        scratch.Initial(args.pre), scratch.Initial(args.bias), args.rows, args.cols, args.activation, args.leaky_slope);
    return std::max(MaxError(scratch.Read(args.pre), expected.pre), MaxError(scratch.Read(args.out), expected.out));
  };
  return setup;
}

Setup BiasActivationBackward(vk::PipelineCache& pipelines, Scratch& scratch, const ExperimentRequest& request) {
  const uint32_t rows = request.shape[0], cols = request.shape[1];
  kernels::BiasActivationBackwardArgs args;
  args.grad_out = scratch.Random(Elements(request), "grad_out");
  args.pre = scratch.Random(Elements(request), "pre");
  // out = act(pre), as the forward pass left it.
  std::vector<float> out(Elements(request));
  const std::vector<double> pre = scratch.Initial(args.pre);
  for (size_t i = 0; i < out.size(); ++i) out[i] = float(reference::Activate(kActivation, pre[i], kLeakySlope));
  args.out = scratch.Make(std::move(out), "out");
  args.grad_pre = scratch.Random(Elements(request), "grad_pre");
  args.grad_bias = scratch.Random(cols, "grad_bias");
  const uint64_t workspace = kernels::BiasActivationBackwardWorkspaceCount(rows, cols);
  if (workspace > 0) args.workspace = scratch.Random(workspace, "bias-gradient workspace");
  args.rows = rows, args.cols = cols;
  args.activation = kActivation, args.leaky_slope = kLeakySlope;
  args.tuning.workgroup_size = request.workgroup_size;
  Setup setup;
  setup.dispatches = kernels::BiasActivationBackwardDispatches(pipelines, args);
  setup.note = PowerOfTwoNote(request, setup.dispatches.front());
  if (setup.dispatches.size() > 1)
    setup.note += std::string(setup.note.empty() ? "" : " ") + "The bias gradient's " +
                  std::to_string(setup.dispatches[0].workgroups[1]) +
                  " row blocks are summed by a second dispatch (bias_act_back_combine), not timed here.";
  setup.check = [&scratch, args] {
    const reference::BiasActivationGradients expected =
        reference::BiasActivationBackward(scratch.Initial(args.grad_out), scratch.Initial(args.pre),
                                          scratch.Initial(args.out), args.rows, args.cols, args.activation,
                                          args.leaky_slope);
    return std::max(MaxError(scratch.Read(args.grad_pre), expected.grad_pre),
                    MaxError(scratch.Read(args.grad_bias), expected.grad_bias));
  };
  return setup;
}

Setup Optimizer(vk::PipelineCache& pipelines, Scratch& scratch, const ExperimentRequest& request) {
  const vk::DeviceInfo& info = pipelines.context().info();
  const uint32_t count = request.shape[0];
  kernels::OptimizerArgs args;
  args.kind = kernels::OptimizerKind::kAdam;
  args.params = scratch.Random(count, "parameters");
  args.grads = scratch.Random(count, "gradients");
  args.state1 = scratch.Random(count, "Adam m", -0.1f, 0.1f);
  args.state2 = scratch.Random(count, "Adam v", 0.0f, 0.01f);
  const kernels::OptimizerHyper hyper;
  gpu::StepParams step{};
  step.adam_step = 1;
  step.learning_rate = kLearningRate;
  step.bias_correction1 = 1.0f - hyper.beta1;
  step.bias_correction2 = 1.0f - hyper.beta2;
  std::vector<float> step_floats(sizeof(step) / 4);
  std::memcpy(step_floats.data(), &step, sizeof(step));
  args.step_params = scratch.Make(std::move(step_floats), "step parameters");
  args.count = count;
  args.hyper = hyper;
  vk::Dispatch d = kernels::OptimizerDispatch(pipelines, args);
  // OptimizerDispatch picks its own workgroup size: re-specialise it, and
  // cover the same grid-stride range with the new size.
  const int spec_id = d.pipeline->interface().local_size_spec_id[0];
  Require(spec_id >= 0, "optimizer: its shader's workgroup size is not a specialization constant.");
  vk::SpecConstants spec = d.pipeline->spec();
  spec[uint32_t(spec_id)] = request.workgroup_size;
  const bool vec4 = d.pipeline->shader_name() == "optimizer_vec4";
  d.pipeline = &pipelines.Get(d.pipeline->shader_name(), spec);
  d.workgroups = {kernels::GridStrideGroups(info, vec4 ? count / 4 : count, request.workgroup_size), 1, 1};
  Setup setup;
  setup.dispatches.push_back(std::move(d));
  setup.check = [&scratch, args, step] {
    reference::OptimizerState state{scratch.Initial(args.params), scratch.Initial(args.state1),
                                    scratch.Initial(args.state2)};
    reference::OptimizerStep(args.kind, args.hyper, step.learning_rate, step.bias_correction1,
                             step.bias_correction2, scratch.Initial(args.grads), state);
    return std::max({MaxError(scratch.Read(args.params), state.params), MaxError(scratch.Read(args.state1), state.state1),
                     MaxError(scratch.Read(args.state2), state.state2)});
  };
  return setup;
}

Setup Copy(vk::PipelineCache& pipelines, Scratch& scratch, const ExperimentRequest& request) {
  const uint64_t count = (uint64_t(request.shape[0]) + 3) / 4 * 4;  // the kernel moves vec4s
  kernels::TensorRef src = scratch.Random(count, "source"), dst = scratch.Random(count, "destination");
  Setup setup;
  setup.dispatches.push_back(kernels::CopyDispatch(pipelines, src, dst, request.workgroup_size));
  if (count != request.shape[0])
    setup.note = "copy moves vec4s: " + std::to_string(request.shape[0]) + " floats rounded up to " +
                 std::to_string(count) + ".";
  setup.check = [&scratch, src, dst] { return MaxError(scratch.Read(dst), scratch.Initial(src)); };
  return setup;
}

// ---- The layer kernels: the problem of a step's dispatch, not a shape ----

// The scratch tensors of a layer kernel, in floats: each within one buffer,
// all together within half the device's memory.
void RequireScratchFits(const vk::DeviceInfo& info, const std::string& kernel,
                        std::initializer_list<std::pair<uint64_t, const char*>> tensors) {
  uint64_t total = 0;
  for (const auto& [floats, name] : tensors) {
    RequireFits(info, floats, kernel + "'s " + name);
    total += floats * 4;
  }
  Require(info.device_local_bytes() == 0 || total <= info.device_local_bytes() / 2,
          kernel + ": the scratch tensors would take " + vk::FormatBytes(total) +
              ", more than half the device's memory (" + vk::FormatBytes(info.device_local_bytes()) + ").");
}

// A 2D workgroup of `size` invocations for a tiled kernel that the plan runs
// `width` invocations wide: as wide as both allow (their greatest common
// divisor), the rest along y. Throws when a side exceeds the device's limits.
std::array<uint32_t, 2> SplitWorkgroup(const vk::DeviceInfo& info, const std::string& kernel, uint32_t size,
                                       uint32_t width) {
  const uint32_t cols = std::gcd(size, std::max(width, 1u)), rows = size / cols;
  Require(cols <= info.max_workgroup_size[0] && rows <= info.max_workgroup_size[1],
          kernel + ": a workgroup of " + std::to_string(size) + " invocations, " + std::to_string(cols) + " x " +
              std::to_string(rows) + ", is more than the device allows along " +
              (cols > info.max_workgroup_size[0] ? "x (" + std::to_string(info.max_workgroup_size[0]) +
                                                       ", maxComputeWorkGroupSize[0])."
                                                 : "y (" + std::to_string(info.max_workgroup_size[1]) +
                                                       ", maxComputeWorkGroupSize[1])."));
  return {cols, rows};
}

std::string SplitNote(const ExperimentRequest& request, uint32_t width, const vk::Dispatch& d, const char* x_axis,
                      const char* y_axis) {
  const std::array<uint32_t, 3> local = d.pipeline->local_size();
  return std::to_string(request.workgroup_size) + " invocations as " + std::to_string(local[0]) + " along " + x_axis +
         " x " + std::to_string(local[1]) + " along " + y_axis + " (the plan's kernel is " + std::to_string(width) +
         " wide; the width kept divides both).";
}

// "try it" reruns fp32 kernels only: an fp16 plan's kernel would be timed as
// something it is not.
[[noreturn]] void RefuseFp16(const std::string& kernel) {
  throw Error("This " + kernel + " is the fp16 kernel of a mixed-precision plan; \"try it\" reruns fp32 kernels " +
              "only. Switch the run's precision to fp32 to experiment with it.");
}

Setup Matmul(vk::PipelineCache& pipelines, Scratch& scratch, const ExperimentRequest& request) {
  const vk::DeviceInfo& info = pipelines.context().info();
  const kernels::MatmulShape& s = *request.problem.matmul;
  if (s.half) RefuseFp16("matmul");
  const uint64_t m = s.m, n = s.n, k = s.k;
  RequireScratchFits(info, request.kernel, {{m * k, "A"}, {k * n, "B"}, {m * n, "C"}});
  kernels::MatmulArgs args;
  args.a = scratch.Random(m * k, "A");
  args.b = scratch.Random(k * n, "B");
  args.c = scratch.Random(m * n, "C");
  args.m = s.m, args.n = s.n, args.k = s.k;
  args.transpose_a = s.transpose_a, args.transpose_b = s.transpose_b;
  // The plan's kernel: its variant at its tiling, with the workgroup asked for.
  const kernels::MatmulCandidate& plan_kernel = request.problem.matmul_kernel;
  kernels::MatmulTiling tiling = kernels::ChooseMatmulTiling(info, args, plan_kernel.variant, plan_kernel.tiling);
  const uint32_t width = tiling.group_cols;
  const std::array<uint32_t, 2> group = SplitWorkgroup(info, request.kernel, request.workgroup_size, width);
  tiling.group_cols = group[0], tiling.group_rows = group[1];
  Setup setup;
  setup.dispatches.push_back(kernels::MatmulDispatch(pipelines, args, plan_kernel.variant, tiling));
  setup.note = std::string(kernels::MatmulVariantName(plan_kernel.variant)) + ", " +
               std::to_string(tiling.rows_per_invocation) + " x " + std::to_string(tiling.cols_per_invocation) +
               " outputs per invocation; " + SplitNote(request, width, setup.dispatches[0], "N", "M");
  setup.check = [&scratch, args] {
    const reference::MatmulShape shape{args.m, args.n, args.k, args.transpose_a, args.transpose_b};
    return MaxError(scratch.Read(args.c), reference::Matmul(std::span<const double>(scratch.Initial(args.a)),
                                                            std::span<const double>(scratch.Initial(args.b)), shape));
  };
  return setup;
}

reference::Conv2DShape ReferenceShape(const kernels::Conv2DGeometry& g) {
  return {g.batch,    g.in_height, g.in_width, g.in_channels, g.out_channels, g.kernel_height, g.kernel_width,
          g.stride_h, g.stride_w,  g.pad_top,  g.pad_left,    g.out_height,   g.out_width};
}

// conv2d (the plan's forward variant), conv2d_back_data or conv2d_back_filter.
Setup Convolution(vk::PipelineCache& pipelines, Scratch& scratch, const ExperimentRequest& request) {
  const vk::DeviceInfo& info = pipelines.context().info();
  const kernels::Conv2DGeometry& g = *request.problem.conv;
  if (request.problem.half) RefuseFp16("convolution");
  Require(g.batch && g.in_height && g.in_width && g.in_channels && g.out_channels && g.kernel_height &&
              g.kernel_width && g.stride_h && g.stride_w && g.out_height && g.out_width,
          request.kernel + ": expected a convolution with every size and stride at least 1, found " +
              kernels::Conv2DDescription(g) + ".");
  Require(g.input_elements() < (1ull << 31) && g.output_elements() < (1ull << 31) && g.filter_elements() < (1ull << 31),
          request.kernel + ": the kernels index tensors with 31 bits; " + kernels::Conv2DDescription(g) +
              " has a larger one.");
  RequireScratchFits(info, request.kernel,
                     {{g.input_elements(), "X"}, {g.filter_elements(), "W"}, {g.output_elements(), "Y"}});
  const kernels::TensorRef x = scratch.Random(g.input_elements(), "X"), w = scratch.Random(g.filter_elements(), "W");
  const kernels::TensorRef y = scratch.Random(g.output_elements(), "Y or dY");
  const kernels::TensorRef out = request.kernel == "conv2d"             ? y
                                 : request.kernel == "conv2d_back_data" ? scratch.Random(g.input_elements(), "dX")
                                                                        : scratch.Random(g.filter_elements(), "dW");
  // The plan's kernel at its own tiling gives the width to keep.
  auto dispatch = [&](const kernels::Conv2DTiling& tiling) {
    if (request.kernel == "conv2d") return kernels::Conv2DDispatch(pipelines, {x, w, y, g}, request.problem.conv_variant, tiling);
    if (request.kernel == "conv2d_back_data") return kernels::Conv2DBackwardDataDispatch(pipelines, {y, w, out, g}, tiling);
    return kernels::Conv2DBackwardFilterDispatch(pipelines, {x, y, out, g}, tiling);
  };
  const uint32_t width = dispatch({}).pipeline->local_size()[0];
  const std::array<uint32_t, 2> group = SplitWorkgroup(info, request.kernel, request.workgroup_size, width);
  Setup setup;
  setup.dispatches.push_back(dispatch({group[0], group[1], 0, 0}));
  setup.note = SplitNote(request, width, setup.dispatches[0], request.kernel == "conv2d_back_data" ? "Cin" : "Cout",
                         request.kernel == "conv2d_back_filter" ? "filter rows" : "pixels");
  const std::string kernel = request.kernel;
  setup.check = [&scratch, kernel, x, w, y, out, g] {
    const reference::Conv2DShape shape = ReferenceShape(g);
    const std::vector<double> xs = scratch.Initial(x), ws = scratch.Initial(w), ys = scratch.Initial(y);
    const std::vector<double> expected = kernel == "conv2d"             ? reference::Conv2DForward(std::span<const double>(xs), ws, shape)
                                         : kernel == "conv2d_back_data" ? reference::Conv2DBackwardData(std::span<const double>(ys), ws, shape)
                                                                        : reference::Conv2DBackwardFilter(std::span<const double>(xs), ys, shape);
    return MaxError(scratch.Read(out), expected);
  };
  return setup;
}

// pool (forward, with argmax for max pooling) or pool_back (from the argmax
// of a CPU forward pass over random inputs).
Setup Pooling(vk::PipelineCache& pipelines, Scratch& scratch, const ExperimentRequest& request) {
  const vk::DeviceInfo& info = pipelines.context().info();
  const kernels::PoolShape& s = *request.problem.pool;
  const kernels::PoolKind kind = request.problem.pool_kind;
  if (request.problem.half) RefuseFp16("pooling");
  if (const std::string problem = kernels::PoolShapeProblem(s); !problem.empty()) throw Error(request.kernel + ": " + problem);
  RequireScratchFits(info, request.kernel, {{s.input_count(), "input"}, {s.output_count(), "output"},
                                            {s.output_count(), "argmax"}, {s.input_count(), "input gradient"}});
  const bool is_max = kind == kernels::PoolKind::kMax;
  const bool backward = request.kernel == "pool_back";
  const kernels::TensorRef input = scratch.Random(s.input_count(), "input");
  const reference::PoolOutput forward = reference::PoolForward(kind, s, scratch.Initial(input));
  // The argmax as uint32 bits in a float buffer: the backward reads the CPU's.
  std::vector<float> argmax_bits(s.output_count(), 0.0f);
  if (backward && is_max) std::memcpy(argmax_bits.data(), forward.argmax.data(), forward.argmax.size() * 4);
  const kernels::TensorRef argmax = is_max ? scratch.Make(std::move(argmax_bits), "argmax") : kernels::TensorRef{};
  const kernels::TensorRef output = scratch.Random(s.output_count(), backward ? "output gradient" : "output");
  const kernels::TensorRef grad_in = backward ? scratch.Random(s.input_count(), "input gradient") : kernels::TensorRef{};
  Setup setup;
  if (backward)
    setup.dispatches.push_back(kernels::PoolBackwardDispatch(
        pipelines, {kind, s, output, argmax, grad_in, kernels::PoolPath::kAuto, request.workgroup_size}));
  else
    setup.dispatches.push_back(
        kernels::PoolDispatch(pipelines, {kind, s, input, output, argmax, kernels::PoolPath::kAuto, request.workgroup_size}));
  setup.check = [&scratch, kind, s, backward, is_max, output, argmax, grad_in, forward] {
    if (backward)
      return MaxError(scratch.Read(grad_in), reference::PoolBackward(kind, s, scratch.Initial(output), forward.argmax));
    double error = MaxError(scratch.Read(output), forward.out);
    if (is_max) {  // the index of each maximum, exactly: a wrong one counts as the worst error
      const std::vector<float> bits = scratch.Read(argmax);
      std::vector<uint32_t> indices(bits.size());
      std::memcpy(indices.data(), bits.data(), bits.size() * 4);
      if (indices != forward.argmax) error = INFINITY;
    }
    return error;
  };
  return setup;
}

struct Family {
  const char* name;
  const char* shape_help;
  bool two_dimensional;  // both shape entries used; for the layer kernels, a 2D workgroup
  Setup (*setup)(vk::PipelineCache&, Scratch&, const ExperimentRequest&);
  uint64_t buffers_of_shape;  // how many scratch tensors of the full shape it allocates (memory check)
  // The layer kernels: whether the request carries their problem (else they use `shape`).
  bool (*has_problem)(const kernels::KernelProblem&) = nullptr;
};

bool HasMatmul(const kernels::KernelProblem& p) { return p.matmul.has_value(); }
bool HasConv(const kernels::KernelProblem& p) { return p.conv.has_value(); }
bool HasPool(const kernels::KernelProblem& p) { return p.pool.has_value(); }

const std::vector<Family>& Families() {
  static const std::vector<Family> families = {
      {"bias_act", "rows, columns (batch x features; for a convolution, N*H*W x channels)", true,
       BiasActivationForward, 2},
      {"bias_act_back", "rows, columns (batch x features; for a convolution, N*H*W x channels)", true,
       BiasActivationBackward, 4},
      {"optimizer", "parameters (Adam over that many floats; the second number is unused)", false, Optimizer, 4},
      {"copy", "floats (rounded up to a multiple of 4; the second number is unused)", false, Copy, 2},
      {"matmul", "the layer's matrix multiply (M x N x K); the workgroup as wide along N as the plan's allows, "
                 "the rest along M", true, Matmul, 0, HasMatmul},
      {"conv2d", "the layer's convolution; the workgroup as wide along Cout as the plan's allows, the rest along "
                 "output pixels", true, Convolution, 0, HasConv},
      {"conv2d_back_data", "the layer's convolution; the workgroup as wide along Cin as the plan's allows, the rest "
                           "along input pixels", true, Convolution, 0, HasConv},
      {"conv2d_back_filter", "the layer's convolution; the workgroup as wide along Cout as the plan's allows, the "
                             "rest along filter rows", true, Convolution, 0, HasConv},
      {"pool", "the layer's pooling window over its input (N x H x W x C)", false, Pooling, 0, HasPool},
      {"pool_back", "the layer's pooling window over its input (N x H x W x C)", false, Pooling, 0, HasPool},
  };
  return families;
}

const Family* FindFamily(const std::string& kernel) {
  for (const Family& family : Families())
    if (kernel == family.name) return &family;
  return nullptr;
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n == 0 ? 0 : n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

// Throws ts::Error when the request cannot run on this device.
void Validate(const vk::DeviceInfo& info, const Family& family, const ExperimentRequest& request) {
  const uint32_t size = request.workgroup_size;
  Require(size > 0, request.kernel + ": expected a workgroup size of at least 1 invocation, found 0.");
  Require(size <= info.max_workgroup_invocations,
          request.kernel + ": a workgroup of " + std::to_string(size) + " invocations is more than the device allows (" +
              std::to_string(info.max_workgroup_invocations) + ", maxComputeWorkGroupInvocations).");
  Require(family.two_dimensional || size <= info.max_workgroup_size[0],
          request.kernel + ": a workgroup of " + std::to_string(size) + " invocations in x is more than the device allows (" +
              std::to_string(info.max_workgroup_size[0]) + ", maxComputeWorkGroupSize[0]).");
  Require(info.timestamp_valid_bits > 0, "the device's compute queue has no timestamps, so kernels cannot be timed.");
  if (family.has_problem) {  // the layer kernels check their own problem's sizes
    Require(family.has_problem(request.problem),
            request.kernel + ": expected the shape of the layer's " + request.kernel +
                " dispatch (the request's problem, from the step's dispatch), found none.");
    return;
  }
  Require(request.shape[0] > 0 && (!family.two_dimensional || request.shape[1] > 0),
          request.kernel + ": expected a shape of " + family.shape_help + ", found " + std::to_string(request.shape[0]) +
              " x " + std::to_string(request.shape[1]) + ".");
  const uint64_t floats = family.two_dimensional ? Elements(request) : (uint64_t(request.shape[0]) + 3) / 4 * 4;
  Require(floats < (uint64_t(1) << 32), request.kernel + ": the kernel indexes elements with 32 bits; " +
                                            std::to_string(floats) + " elements are too many.");
  RequireFits(info, floats, "each tensor");
  const uint64_t total = floats * 4 * family.buffers_of_shape;
  Require(info.device_local_bytes() == 0 || total <= info.device_local_bytes() / 2,
          request.kernel + ": the scratch tensors would take " + vk::FormatBytes(total) +
              ", more than half the device's memory (" + vk::FormatBytes(info.device_local_bytes()) + ").");
}

}  // namespace

std::vector<std::string> ExperimentKernels() {
  std::vector<std::string> names;
  for (const Family& family : Families()) names.push_back(family.name);
  return names;
}

std::string ExperimentShapeHelp(const std::string& kernel) {
  const Family* family = FindFamily(kernel);
  return family ? family->shape_help : "";
}

std::string ExperimentKernelFor(const std::string& dispatch_kernel) {
  // The step's dispatches carry their kernel family (vk::Dispatch::kernel);
  // bias_act_back_combine has a fixed workgroup and is not an experiment.
  return FindFamily(dispatch_kernel) ? dispatch_kernel : "";
}

std::string ExperimentProblemText(const ExperimentRequest& request) {
  const kernels::KernelProblem& p = request.problem;
  const Family* family = FindFamily(request.kernel);
  if (family && family->has_problem == HasMatmul && p.matmul) return "matmul " + p.matmul->key();
  if (family && family->has_problem == HasConv && p.conv) return kernels::Conv2DDescription(*p.conv);
  if (family && family->has_problem == HasPool && p.pool) {
    const kernels::PoolShape& s = *p.pool;
    return std::string(kernels::PoolName(p.pool_kind)) + " " + std::to_string(s.window_h) + "x" +
           std::to_string(s.window_w) + "/" + std::to_string(s.stride_h) + " over " + std::to_string(s.batch) + "x" +
           std::to_string(s.height) + "x" + std::to_string(s.width) + "x" + std::to_string(s.channels);
  }
  if (family && family->has_problem) return "(no shape)";
  return family && family->two_dimensional
             ? std::to_string(request.shape[0]) + " x " + std::to_string(request.shape[1])
             : std::to_string(request.shape[0]);
}

ExperimentResult RunWorkgroupExperiment(vk::Context& context, vk::PipelineCache& pipelines,
                                        const ExperimentRequest& request) {
  ExperimentResult result;
  result.request = request;
  const Family* family = FindFamily(request.kernel);
  if (!family) {
    std::string known;
    for (const std::string& name : ExperimentKernels()) known += (known.empty() ? "" : ", ") + name;
    result.error = "unknown kernel \"" + request.kernel + "\": \"try it\" can re-specialise " + known + ".";
    return result;
  }
  try {
    const vk::DeviceInfo& info = context.info();
    Validate(info, *family, request);
    Scratch scratch(context, uint64_t(request.shape[0]) * 1000003 + request.shape[1]);
    Setup setup = family->setup(pipelines, scratch, request);
    vk::Sequence sequence(context, setup.dispatches);
    const vk::Dispatch& timed = sequence.dispatches()[setup.timed];
    result.local_size = timed.pipeline->local_size();
    result.workgroups = timed.workgroups;
    result.shared_memory_bytes = timed.pipeline->shared_memory_bytes();
    result.shader = timed.pipeline->shader_name();
    result.note = setup.note;

    // Warm-up: the pipeline's first run, and the run that is checked.
    context.RunOnce([&](VkCommandBuffer cb) {
      vk::RecordTransferToComputeBarrier(cb);
      sequence.Record(cb);
      vk::RecordComputeToHostBarrier(cb);
    });
    if (request.check) result.max_error = setup.check();

    std::vector<double> times;
    const uint32_t repeats = std::clamp(request.repeats, 1u, kMaxRepeats);
    for (uint32_t i = 0; i < repeats; ++i) {
      context.RunOnce([&](VkCommandBuffer cb) { sequence.Record(cb); });
      times.push_back(sequence.ReadDispatchTimesNs()[setup.timed]);
    }
    result.median_ns = Median(times);
    result.best_ns = *std::min_element(times.begin(), times.end());
    if (result.median_ns > 0) {
      result.gbs = (timed.cost.bytes_read + timed.cost.bytes_written) / result.median_ns;
      result.gflops = timed.cost.flops / result.median_ns;
    }
  } catch (const std::exception& e) {
    result.error = e.what();
  }
  return result;
}

}  // namespace ts::profile
