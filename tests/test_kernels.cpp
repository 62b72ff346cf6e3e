// The elementwise kernel families against their double-precision references
// (compute/reference/elementwise.h): bias + activation forward and backward,
// the losses and metrics, the optimizers, seeded init and the batch gather.
//
// Every output buffer starts as NaN, so an element a kernel forgot to write
// fails, and every element is compared. The default bound is
//   |gpu - ref| <= 1e-5 * max(1, |ref|)
// i.e. 1e-5 relative for values above 1 and 1e-5 absolute below: float
// kernels are accurate to a few ulps (~1e-7 relative), and values that are
// results of cancellation (a probability minus its target, tanh near 0) can
// only be held to an absolute bound on the scale of their inputs. Bounds that
// differ say why where they are used.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numbers>
#include <numeric>
#include <string>
#include <vector>

#include "compute/kernels/activation.h"
#include "compute/kernels/gather.h"
#include "compute/kernels/init.h"
#include "compute/kernels/loss.h"
#include "compute/kernels/optimizer.h"
#include "compute/reference/elementwise.h"
#include "shaders/init.h"
#include "shaders/step_params.h"
#include "support/vulkan_test.h"

namespace ts {
namespace {

using kernels::Activation;
using kernels::InitKind;
using kernels::LossKind;
using kernels::OptimizerKind;
using kernels::TensorRef;
using kernels::WholeBuffer;
using reference::ToDouble;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

const Activation kActivations[] = {Activation::kIdentity, Activation::kRelu, Activation::kLeakyRelu,
                                   Activation::kSigmoid,  Activation::kTanh, Activation::kGelu};
const LossKind kLosses[] = {LossKind::kSoftmaxCrossEntropy, LossKind::kMeanSquaredError,
                            LossKind::kBinaryCrossEntropyWithLogits};

struct Shape {
  uint32_t rows, cols;
};
// Shapes that do and do not divide the workgroup sizes (256 invocations; 8
// columns per backward workgroup), with a single row, a single column and wide rows.
const Shape kShapes[] = {{1, 1}, {7, 33}, {33, 7}, {127, 129}, {1000, 10}, {3, 1000}, {129, 1}};

std::string Describe(Shape shape) { return std::to_string(shape.rows) + "x" + std::to_string(shape.cols); }

// The default bound (see the top of the file).
double DefaultBound(double ref) { return 1e-5 * std::max(1.0, std::abs(ref)); }

// Compares every element; a NaN reference expects a NaN, and a NaN from the GPU
// (an unwritten, poisoned element) fails any finite reference. Reports the first
// few mismatches with their index.
void ExpectAllNear(std::span<const float> gpu, std::span<const double> ref, const std::string& what,
                   const std::function<double(size_t index, double ref)>& bound =
                       [](size_t, double ref) { return DefaultBound(ref); }) {
  ASSERT_EQ(gpu.size(), ref.size()) << what;
  size_t failures = 0;
  for (size_t i = 0; i < gpu.size(); ++i) {
    bool ok = std::isnan(ref[i]) ? std::isnan(gpu[i]) : std::abs(double(gpu[i]) - ref[i]) <= bound(i, ref[i]);
    if (!ok && ++failures <= 5)
      ADD_FAILURE() << what << "[" << i << "]: gpu " << gpu[i] << ", reference " << ref[i] << ", bound "
                    << bound(i, ref[i]);
  }
  EXPECT_EQ(failures, 0u) << what << ": " << failures << " of " << gpu.size() << " elements out of bounds";
}

std::vector<uint32_t> RandomLabels(std::mt19937_64& rng, size_t count, uint32_t classes) {
  std::vector<uint32_t> labels(count);
  for (uint32_t& label : labels) label = uint32_t(rng() % classes);
  return labels;
}

class KernelTest : public testing::VulkanTest {
 protected:
  // A small buffer holding one StepParams, bound through a TensorRef of 8 words.
  vk::Buffer MakeStepBuffer(const gpu::StepParams& step) {
    vk::Buffer buffer(context(), sizeof(step), "step params");
    buffer.Upload(std::as_bytes(std::span(&step, 1)));
    return buffer;
  }
  static TensorRef StepRef(const vk::Buffer& buffer) { return {&buffer, 0, 8}; }
  std::vector<float> ReadAll(const vk::Buffer& buffer) { return Read<float>(buffer, buffer.size() / 4); }
};

// ---------------------------------------------------------------- activations

// Shapes for bias + activation, besides kShapes (cols % 4 != 0: one column per
// lane): cols % 4 == 0 (vec4 lanes; texel reads on lavapipe) with one row,
// odd rows, wide rows (several column workgroups) and enough rows for several
// backward row blocks (256 rows a block at least), and a shape whose rows do
// not fill the last block.
const Shape kVec4Shapes[] = {{1, 4}, {1, 128}, {5, 8}, {33, 12}, {127, 1024}, {257, 64}, {513, 36}, {4099, 32}};
// The rows of a batch-64 convolution's output (64 x 32 x 32 pixels), the most
// the backward splits into (64 blocks), at 32 channels: the seed CNN's shape.
constexpr Shape kLargest = {65536, 32};

std::vector<Shape> BiasActivationShapes() {
  std::vector<Shape> shapes(std::begin(kShapes), std::end(kShapes));
  shapes.insert(shapes.end(), std::begin(kVec4Shapes), std::end(kVec4Shapes));
  return shapes;
}

// Layouts the kernels can be forced into (kernels::BiasActivationTuning), so
// that every shader variant and workgroup shape runs on whatever device the
// tests have: storage and texel reads, 1..256 invocations (on lavapipe the
// default backward workgroup is one 8-wide subgroup; 64 and 256 take the
// shared-memory tree), and 1..16 rows per invocation.
struct TuningCase {
  const char* name;
  kernels::BiasActivationTuning tuning;
};
const TuningCase kTunings[] = {
    {"default", {}},
    {"storage reads", {kernels::BiasActivationReads::kStorage, 0, 0}},
    {"texel reads", {kernels::BiasActivationReads::kTexel, 0, 0}},
    {"storage, 256 invocations, 1 row each", {kernels::BiasActivationReads::kStorage, 256, 1}},
    {"texel, 64 invocations, 3 rows each", {kernels::BiasActivationReads::kTexel, 64, 3}},
    {"8 invocations, 16 rows each", {kernels::BiasActivationReads::kAuto, 8, 16}},
    {"1 invocation", {kernels::BiasActivationReads::kAuto, 1, 1}},
};

// The backward pass of `activation` at `pre`, with out = act(pre) rounded to
// float as the forward kernel would store it.
struct BackwardInputs {
  std::vector<float> grad_out, pre, out;
};
BackwardInputs MakeBackwardInputs(std::mt19937_64& rng, Activation activation, size_t n, float slope) {
  BackwardInputs inputs{testing::RandomFloats(rng, n), testing::RandomFloats(rng, n, -4, 4), std::vector<float>(n)};
  for (size_t i = 0; i < n; ++i) inputs.out[i] = float(reference::Activate(activation, inputs.pre[i], slope));
  return inputs;
}

class BiasActivationTest : public KernelTest {
 protected:
  // Forward on random inputs in a fresh pre buffer and a poisoned out buffer;
  // checks pre (biased in place) and out against the double reference.
  void CheckForward(std::mt19937_64& rng, Shape shape, Activation activation, bool with_bias,
                    const kernels::BiasActivationTuning& tuning = {}) {
    const size_t n = size_t(shape.rows) * shape.cols;
    std::vector<float> pre = testing::RandomFloats(rng, n, -4, 4), bias = testing::RandomFloats(rng, shape.cols);
    vk::Buffer pre_buffer = MakeBuffer(pre), bias_buffer = MakeBuffer(bias), out_buffer = MakePoisonedBuffer(n);
    kernels::BiasActivationArgs args;
    args.pre = WholeBuffer(pre_buffer);
    args.bias = with_bias ? WholeBuffer(bias_buffer) : TensorRef{};
    args.out = WholeBuffer(out_buffer);
    args.rows = shape.rows, args.cols = shape.cols, args.activation = activation, args.leaky_slope = 0.07f;
    args.tuning = tuning;
    Run({kernels::BiasActivationDispatch(pipelines(), args)});

    std::vector<double> no_bias;
    reference::BiasActivationOutput ref = reference::BiasActivationForward(
        ToDouble(pre), with_bias ? ToDouble(bias) : no_bias, shape.rows, shape.cols, activation, 0.07f);
    ExpectAllNear(ReadAll(pre_buffer), ref.pre, "pre");
    ExpectAllNear(ReadAll(out_buffer), ref.out, "out");
  }

  // Backward into poisoned grad_pre, grad_bias and workspace buffers, through
  // BiasActivationBackwardDispatches with a workspace (use_workspace) or
  // BiasActivationBackwardDispatch (which must leave the workspace alone).
  // Checks every element against the double reference: grad_pre with the
  // default bound; grad_bias, a float sum, whose error scales with the sum of
  // the magnitudes of its terms, not the (possibly cancelled) sum itself, to
  // 1e-5 of that (the kernels' compensated sums stay far inside it). Returns
  // grad_bias as computed.
  std::vector<float> CheckBackward(Shape shape, Activation activation, bool with_bias, bool use_workspace,
                                   const BackwardInputs& in, const reference::BiasActivationGradients& ref,
                                   const kernels::BiasActivationTuning& tuning = {}) {
    const size_t n = size_t(shape.rows) * shape.cols;
    const uint64_t workspace_count = kernels::BiasActivationBackwardWorkspaceCount(shape.rows, shape.cols);
    vk::Buffer grad_out = MakeBuffer(in.grad_out), pre = MakeBuffer(in.pre), out = MakeBuffer(in.out);
    vk::Buffer grad_pre = MakePoisonedBuffer(n), grad_bias = MakePoisonedBuffer(shape.cols);
    vk::Buffer workspace = MakePoisonedBuffer(std::max<uint64_t>(workspace_count, 1));
    kernels::BiasActivationBackwardArgs args;
    args.grad_out = WholeBuffer(grad_out), args.pre = WholeBuffer(pre), args.out = WholeBuffer(out);
    args.grad_pre = WholeBuffer(grad_pre);
    args.grad_bias = with_bias ? WholeBuffer(grad_bias) : TensorRef{};
    args.rows = shape.rows, args.cols = shape.cols, args.activation = activation, args.leaky_slope = 0.07f;
    args.workspace = workspace_count > 0 ? WholeBuffer(workspace) : TensorRef{};
    args.tuning = tuning;
    std::vector<vk::Dispatch> dispatches;
    if (use_workspace) {
      dispatches = kernels::BiasActivationBackwardDispatches(pipelines(), args);
      EXPECT_EQ(dispatches.size(), with_bias && workspace_count > 0 ? 2u : 1u) << "split only a bias reduction";
    } else {
      dispatches.push_back(kernels::BiasActivationBackwardDispatch(pipelines(), args));
    }
    Run(std::move(dispatches));

    ExpectAllNear(ReadAll(grad_pre), ref.grad_pre, "grad_pre");
    std::vector<float> gpu_bias = ReadAll(grad_bias);
    if (!use_workspace || !with_bias) {
      std::vector<float> untouched = ReadAll(workspace);
      EXPECT_TRUE(std::all_of(untouched.begin(), untouched.end(), [](float v) { return std::isnan(v); }))
          << "the workspace was written";
    }
    if (!with_bias) {
      EXPECT_TRUE(std::all_of(gpu_bias.begin(), gpu_bias.end(), [](float v) { return std::isnan(v); }))
          << "grad_bias was written without a bias";
      return gpu_bias;
    }
    std::vector<double> magnitude(shape.cols, 0.0);
    for (size_t i = 0; i < n; ++i) magnitude[i % shape.cols] += std::abs(ref.grad_pre[i]);
    ExpectAllNear(gpu_bias, ref.grad_bias, "grad_bias",
                  [&](size_t c, double) { return 1e-5 * std::max(1.0, magnitude[c]); });
    return gpu_bias;
  }
};

TEST_F(BiasActivationTest, ForwardMatchesReference) {
  auto rng = testing::MakeRng();
  for (Activation activation : kActivations) {
    for (Shape shape : BiasActivationShapes()) {
      for (bool with_bias : {true, false}) {
        SCOPED_TRACE(std::string(kernels::ActivationName(activation)) + " " + Describe(shape) +
                     (with_bias ? " with bias" : " without bias"));
        CheckForward(rng, shape, activation, with_bias);
      }
    }
  }
}

TEST_F(BiasActivationTest, ForwardMatchesReferenceInEveryLayout) {
  auto rng = testing::MakeRng();
  const Shape shapes[] = {{1, 1}, {7, 33}, {129, 1}, {1, 4}, {5, 8}, {127, 1024}, {513, 36}, {4099, 32}};
  for (const TuningCase& tuning : kTunings) {
    for (Activation activation : {Activation::kIdentity, Activation::kLeakyRelu, Activation::kGelu}) {
      for (Shape shape : shapes) {
        for (bool with_bias : {true, false}) {
          SCOPED_TRACE(std::string(tuning.name) + ": " + kernels::ActivationName(activation) + " " + Describe(shape) +
                       (with_bias ? " with bias" : " without bias"));
          CheckForward(rng, shape, activation, with_bias, tuning.tuning);
        }
      }
    }
  }
}

TEST_F(BiasActivationTest, ForwardOfTheLargestShapeMatchesReference) {
  auto rng = testing::MakeRng();
  for (Activation activation : kActivations) {
    SCOPED_TRACE(kernels::ActivationName(activation));
    CheckForward(rng, kLargest, activation, true);
  }
}

TEST_F(BiasActivationTest, IdentityAddsBiasInPlace) {
  auto rng = testing::MakeRng();
  for (Shape shape : BiasActivationShapes()) {
    for (const TuningCase& tuning : kTunings) {
      SCOPED_TRACE(Describe(shape) + " " + tuning.name);
      const size_t n = size_t(shape.rows) * shape.cols;
      std::vector<float> pre = testing::RandomFloats(rng, n), bias = testing::RandomFloats(rng, shape.cols);
      vk::Buffer pre_buffer = MakeBuffer(pre), bias_buffer = MakeBuffer(bias);
      kernels::BiasActivationArgs args;
      args.pre = WholeBuffer(pre_buffer), args.bias = WholeBuffer(bias_buffer);
      args.rows = shape.rows, args.cols = shape.cols, args.tuning = tuning.tuning;
      Run({kernels::BiasActivationDispatch(pipelines(), args)});
      auto ref = reference::BiasActivationForward(ToDouble(pre), ToDouble(bias), shape.rows, shape.cols,
                                                  Activation::kIdentity, 0);
      ExpectAllNear(ReadAll(pre_buffer), ref.pre, "pre");
    }
  }
}

// Views that start inside larger buffers (16-byte aligned, as the plan lays
// tensors out) and end before their ends: the kernels touch their own
// elements only, in both the scalar and the vec4 shaders.
TEST_F(BiasActivationTest, ViewsInsideLargerBuffersLeaveTheRestAlone) {
  auto rng = testing::MakeRng();
  const uint32_t margin = 12;  // floats before and after each view (48 bytes)
  for (Shape shape : {Shape{9, 7}, Shape{9, 8}, Shape{300, 32}}) {
    for (const TuningCase& tuning : kTunings) {
      SCOPED_TRACE(Describe(shape) + " " + tuning.name);
      const size_t n = size_t(shape.rows) * shape.cols;
      auto view = [&](const vk::Buffer& buffer, uint64_t count) { return TensorRef{&buffer, 4 * margin, count}; };
      // Forward, relu with a bias: pre in place, out beside it.
      std::vector<float> pre = testing::RandomFloats(rng, n + 2 * margin, -4, 4);
      std::vector<float> bias = testing::RandomFloats(rng, shape.cols + 2 * margin);
      vk::Buffer pre_buffer = MakeBuffer(pre), bias_buffer = MakeBuffer(bias), out = MakePoisonedBuffer(n + 2 * margin);
      kernels::BiasActivationArgs forward{view(pre_buffer, n), view(bias_buffer, shape.cols), view(out, n),
                                          shape.rows, shape.cols, Activation::kRelu, 0.01f, tuning.tuning};
      // Backward, sigmoid (reads out) with a bias gradient and a workspace.
      BackwardInputs in = MakeBackwardInputs(rng, Activation::kSigmoid, n + 2 * margin, 0.01f);
      const uint64_t workspace_count = kernels::BiasActivationBackwardWorkspaceCount(shape.rows, shape.cols);
      vk::Buffer grad_out = MakeBuffer(in.grad_out), back_out = MakeBuffer(in.out);
      vk::Buffer grad_pre = MakePoisonedBuffer(n + 2 * margin), grad_bias = MakePoisonedBuffer(shape.cols + 2 * margin);
      vk::Buffer workspace = MakePoisonedBuffer(workspace_count + 2 * margin);
      kernels::BiasActivationBackwardArgs backward{view(grad_out, n), TensorRef{}, view(back_out, n),
                                                   view(grad_pre, n), view(grad_bias, shape.cols), shape.rows,
                                                   shape.cols, Activation::kSigmoid, 0.01f,
                                                   workspace_count ? view(workspace, workspace_count) : TensorRef{},
                                                   tuning.tuning};
      std::vector<vk::Dispatch> dispatches = kernels::BiasActivationBackwardDispatches(pipelines(), backward);
      dispatches.insert(dispatches.begin(), kernels::BiasActivationDispatch(pipelines(), forward));
      Run(std::move(dispatches));

      std::vector<float> pre_after = ReadAll(pre_buffer), out_after = ReadAll(out);
      std::vector<float> grad_pre_after = ReadAll(grad_pre), grad_bias_after = ReadAll(grad_bias);
      std::vector<float> workspace_after = ReadAll(workspace);
      for (uint32_t i = 0; i < margin; ++i) {
        for (size_t outside : {size_t(i), n + margin + i}) {
          EXPECT_EQ(pre_after[outside], pre[outside]) << "pre[" << outside << "]";
          EXPECT_TRUE(std::isnan(out_after[outside])) << "out[" << outside << "]";
          EXPECT_TRUE(std::isnan(grad_pre_after[outside])) << "grad_pre[" << outside << "]";
        }
        EXPECT_TRUE(std::isnan(grad_bias_after[i]) && std::isnan(grad_bias_after[shape.cols + margin + i]));
        EXPECT_TRUE(std::isnan(workspace_after[i]) && std::isnan(workspace_after[workspace_count + margin + i]));
      }
      std::vector<double> inside_pre(pre.begin() + margin, pre.begin() + margin + n);
      std::vector<double> inside_bias(bias.begin() + margin, bias.begin() + margin + shape.cols);
      auto ref = reference::BiasActivationForward(inside_pre, inside_bias, shape.rows, shape.cols, Activation::kRelu, 0.01);
      ExpectAllNear(std::span(pre_after).subspan(margin, n), ref.pre, "pre");
      ExpectAllNear(std::span(out_after).subspan(margin, n), ref.out, "out");
      std::vector<double> g(in.grad_out.begin() + margin, in.grad_out.begin() + margin + n);
      std::vector<double> y(in.out.begin() + margin, in.out.begin() + margin + n);
      auto grads = reference::BiasActivationBackward(g, std::vector<double>(n), y, shape.rows, shape.cols,
                                                     Activation::kSigmoid, 0.01);
      ExpectAllNear(std::span(grad_pre_after).subspan(margin, n), grads.grad_pre, "grad_pre");
      ExpectAllNear(std::span(grad_bias_after).subspan(margin, shape.cols), grads.grad_bias, "grad_bias",
                    [&](size_t, double) { return 1e-5 * shape.rows; });
    }
  }
}

TEST_F(BiasActivationTest, BackwardMatchesReference) {
  auto rng = testing::MakeRng();
  std::vector<Shape> shapes = BiasActivationShapes();
  shapes.push_back({60000, 3});   // long columns, one column per lane
  shapes.push_back({65, 1024});   // the widest layer: many column blocks
  for (Activation activation : kActivations) {
    for (Shape shape : shapes) {
      const size_t n = size_t(shape.rows) * shape.cols;
      BackwardInputs in = MakeBackwardInputs(rng, activation, n, 0.07f);
      reference::BiasActivationGradients ref = reference::BiasActivationBackward(
          ToDouble(in.grad_out), ToDouble(in.pre), ToDouble(in.out), shape.rows, shape.cols, activation, 0.07f);
      for (bool with_bias : {true, false}) {
        for (bool use_workspace : {true, false}) {
          SCOPED_TRACE(std::string(kernels::ActivationName(activation)) + " " + Describe(shape) +
                       (with_bias ? " with bias" : " without bias") +
                       (use_workspace ? ", workspace" : ", single dispatch"));
          CheckBackward(shape, activation, with_bias, use_workspace, in, ref);
        }
      }
    }
  }
}

TEST_F(BiasActivationTest, BackwardMatchesReferenceInEveryLayout) {
  auto rng = testing::MakeRng();
  const Shape shapes[] = {{1, 1}, {7, 33}, {129, 1}, {1, 4}, {5, 8}, {127, 1024}, {513, 36}, {4099, 32}};
  for (Activation activation : {Activation::kIdentity, Activation::kRelu, Activation::kTanh}) {
    for (Shape shape : shapes) {
      const size_t n = size_t(shape.rows) * shape.cols;
      BackwardInputs in = MakeBackwardInputs(rng, activation, n, 0.07f);
      reference::BiasActivationGradients ref = reference::BiasActivationBackward(
          ToDouble(in.grad_out), ToDouble(in.pre), ToDouble(in.out), shape.rows, shape.cols, activation, 0.07f);
      for (const TuningCase& tuning : kTunings) {
        for (bool with_bias : {true, false}) {
          for (bool use_workspace : {true, false}) {
            SCOPED_TRACE(std::string(tuning.name) + ": " + kernels::ActivationName(activation) + " " +
                         Describe(shape) + (with_bias ? " with bias" : " without bias") +
                         (use_workspace ? ", workspace" : ", single dispatch"));
            CheckBackward(shape, activation, with_bias, use_workspace, in, ref, tuning.tuning);
          }
        }
      }
    }
  }
}

// Identity without a grad_pre tensor (a layer with a bias and no
// activation): only the column sums of grad_out, in every layout, through the
// workspace and without it.
TEST_F(BiasActivationTest, IdentityBackwardReducesBiasGradientWithoutGradPre) {
  auto rng = testing::MakeRng();
  std::vector<Shape> shapes = BiasActivationShapes();
  shapes.push_back(kLargest);
  for (Shape shape : shapes) {
    const size_t n = size_t(shape.rows) * shape.cols;
    std::vector<float> grad_out = testing::RandomFloats(rng, n);
    std::vector<double> sums(shape.cols, 0.0), magnitude(shape.cols, 0.0);
    for (size_t i = 0; i < n; ++i) sums[i % shape.cols] += grad_out[i], magnitude[i % shape.cols] += std::abs(grad_out[i]);
    vk::Buffer grad_out_buffer = MakeBuffer(grad_out);
    const uint64_t workspace_count = kernels::BiasActivationBackwardWorkspaceCount(shape.rows, shape.cols);
    for (const TuningCase& tuning : kTunings) {
      for (bool use_workspace : {true, false}) {
        SCOPED_TRACE(Describe(shape) + " " + tuning.name + (use_workspace ? ", workspace" : ", single dispatch"));
        vk::Buffer grad_bias = MakePoisonedBuffer(shape.cols), workspace = MakePoisonedBuffer(workspace_count + 1);
        kernels::BiasActivationBackwardArgs args;
        args.grad_out = WholeBuffer(grad_out_buffer), args.grad_bias = WholeBuffer(grad_bias);
        args.rows = shape.rows, args.cols = shape.cols, args.tuning = tuning.tuning;
        args.workspace = use_workspace && workspace_count > 0 ? WholeBuffer(workspace) : TensorRef{};
        Run(kernels::BiasActivationBackwardDispatches(pipelines(), args));
        ExpectAllNear(ReadAll(grad_bias), sums, "grad_bias",
                      [&](size_t c, double) { return 1e-5 * std::max(1.0, magnitude[c]); });
      }
    }
  }
}

// 65536 x 32 in every activation: the most row blocks (64 of 1024 rows), and
// the single-dispatch reduction of 65536 rows a column.
TEST_F(BiasActivationTest, BackwardOfTheLargestShapeMatchesReference) {
  auto rng = testing::MakeRng();
  const size_t n = size_t(kLargest.rows) * kLargest.cols;
  ASSERT_EQ(kernels::BiasActivationBackwardWorkspaceCount(kLargest.rows, kLargest.cols), 64u * kLargest.cols);
  for (Activation activation : kActivations) {
    BackwardInputs in = MakeBackwardInputs(rng, activation, n, 0.07f);
    reference::BiasActivationGradients ref = reference::BiasActivationBackward(
        ToDouble(in.grad_out), ToDouble(in.pre), ToDouble(in.out), kLargest.rows, kLargest.cols, activation, 0.07f);
    for (bool use_workspace : {true, false}) {
      SCOPED_TRACE(std::string(kernels::ActivationName(activation)) + (use_workspace ? ", workspace" : ", single dispatch"));
      CheckBackward(kLargest, activation, true, use_workspace, in, ref);
    }
  }
}

// The bias gradient is a fixed-order sum: the same inputs give the same bits,
// run after run, in each layout.
TEST_F(BiasActivationTest, BiasGradientIsDeterministic) {
  auto rng = testing::MakeRng();
  const size_t n = size_t(kLargest.rows) * kLargest.cols;
  BackwardInputs in = MakeBackwardInputs(rng, Activation::kRelu, n, 0.07f);
  reference::BiasActivationGradients ref = reference::BiasActivationBackward(
      ToDouble(in.grad_out), ToDouble(in.pre), ToDouble(in.out), kLargest.rows, kLargest.cols, Activation::kRelu, 0.07f);
  for (const TuningCase& tuning : {kTunings[0], kTunings[3]}) {
    SCOPED_TRACE(tuning.name);
    std::vector<float> first = CheckBackward(kLargest, Activation::kRelu, true, true, in, ref, tuning.tuning);
    for (int run = 0; run < 2; ++run) {
      std::vector<float> again = CheckBackward(kLargest, Activation::kRelu, true, true, in, ref, tuning.tuning);
      EXPECT_EQ(first, again) << "run " << run + 2;
    }
  }
}

// The layouts the tests force are the ones they mean to test: each shader
// variant, and the backward's shared-memory tree (more than one row lane).
TEST_F(BiasActivationTest, TuningReachesEveryShaderVariant) {
  vk::Buffer a = MakePoisonedBuffer(4099 * 32), b = MakePoisonedBuffer(4099 * 32), bias = MakePoisonedBuffer(33);
  auto forward_shader = [&](uint32_t cols, const kernels::BiasActivationTuning& tuning) {
    kernels::BiasActivationArgs args{WholeBuffer(a), WholeBuffer(bias), WholeBuffer(b), 4099, cols,
                                     Activation::kRelu, 0.01f, tuning};
    return kernels::BiasActivationDispatch(pipelines(), args).pipeline->shader_name();
  };
  auto backward = [&](uint32_t cols, const kernels::BiasActivationTuning& tuning) {
    kernels::BiasActivationBackwardArgs args{WholeBuffer(a), WholeBuffer(b), WholeBuffer(b), WholeBuffer(a),
                                             WholeBuffer(bias), 4099, cols, Activation::kRelu, 0.01f, {}, tuning};
    return kernels::BiasActivationBackwardDispatch(pipelines(), args);
  };
  EXPECT_EQ(forward_shader(33, kTunings[2].tuning), "bias_act");
  EXPECT_EQ(forward_shader(32, kTunings[1].tuning), "bias_act_vec4");
  EXPECT_EQ(forward_shader(32, kTunings[2].tuning), "bias_act_vec4_texel");
  EXPECT_EQ(backward(33, kTunings[2].tuning).pipeline->shader_name(), "bias_act_back");
  EXPECT_EQ(backward(32, kTunings[1].tuning).pipeline->shader_name(), "bias_act_back_vec4");
  EXPECT_EQ(backward(32, kTunings[2].tuning).pipeline->shader_name(), "bias_act_back_vec4_texel");
  EXPECT_GT(backward(32, kTunings[3].tuning).pipeline->local_size()[1], 1u) << "256 invocations: a tree";
  EXPECT_GT(backward(32, kTunings[4].tuning).pipeline->local_size()[1], 1u) << "64 invocations: a tree";
}

TEST_F(BiasActivationTest, WorkspaceGrowsWithTheRowsUpTo64Blocks) {
  EXPECT_EQ(kernels::BiasActivationBackwardWorkspaceCount(1, 32), 0u);
  EXPECT_EQ(kernels::BiasActivationBackwardWorkspaceCount(256, 32), 0u);   // one block
  EXPECT_EQ(kernels::BiasActivationBackwardWorkspaceCount(257, 32), 2u * 32);
  EXPECT_EQ(kernels::BiasActivationBackwardWorkspaceCount(43264, 32), 64u * 32);
  EXPECT_EQ(kernels::BiasActivationBackwardWorkspaceCount(65536, 7), 64u * 7);
  EXPECT_EQ(kernels::BiasActivationBackwardWorkspaceCount(1000000, 1), 64u);
}

// The declared costs are the minimum traffic and the arithmetic per element,
// whichever layout runs; the split backward adds its partial sums once
// written and once read.
TEST_F(BiasActivationTest, DeclaredCostsAreTheMinimumTraffic) {
  const uint32_t rows = 43264, cols = 32;
  const double n = double(rows) * cols;
  vk::Buffer a(context(), uint64_t(n) * 4, "a"), b(context(), uint64_t(n) * 4, "b"), c(context(), uint64_t(n) * 4, "c");
  vk::Buffer bias(context(), cols * 4, "bias"), workspace(context(), 64 * cols * 4, "workspace");
  for (const TuningCase& tuning : kTunings) {
    SCOPED_TRACE(tuning.name);
    kernels::BiasActivationArgs forward{WholeBuffer(a), WholeBuffer(bias), WholeBuffer(b), rows, cols,
                                        Activation::kRelu, 0.01f, tuning.tuning};
    vk::Cost f = kernels::BiasActivationDispatch(pipelines(), forward).cost;
    EXPECT_EQ(f.flops, 2 * n);                      // add, max
    EXPECT_EQ(f.bytes_read, 4 * n + 4 * cols);      // pre, bias
    EXPECT_EQ(f.bytes_written, 8 * n);              // pre, out
    kernels::BiasActivationBackwardArgs backward{WholeBuffer(a), WholeBuffer(b), WholeBuffer(c), WholeBuffer(c),
                                                 WholeBuffer(bias), rows, cols, Activation::kRelu, 0.01f,
                                                 WholeBuffer(workspace), tuning.tuning};
    std::vector<vk::Dispatch> split = kernels::BiasActivationBackwardDispatches(pipelines(), backward);
    ASSERT_EQ(split.size(), 2u);
    const double partials = 64.0 * cols;
    EXPECT_EQ(split[0].cost.flops, 2 * n);          // select, add into the sums
    EXPECT_EQ(split[0].cost.bytes_read, 8 * n);     // grad_out, pre
    EXPECT_EQ(split[0].cost.bytes_written, 4 * n + 4 * partials);
    EXPECT_EQ(split[1].cost.flops, partials);
    EXPECT_EQ(split[1].cost.bytes_read, 4 * partials);
    EXPECT_EQ(split[1].cost.bytes_written, 4.0 * cols);
    vk::Cost single = kernels::BiasActivationBackwardDispatch(pipelines(), backward).cost;
    EXPECT_EQ(single.flops, 2 * n);
    EXPECT_EQ(single.bytes_read, 8 * n);
    EXPECT_EQ(single.bytes_written, 4 * n + 4.0 * cols);
  }
}

// The transcendental activations on a dense grid of exact float inputs, where

// the only error left is the kernel's own: this is the test of the shader's
// erf (through GELU's normal CDF), tanh and sigmoid. The bound is relative,
// 2e-6 (a few ulps) plus 1.5e-7 per unit of |x| in the exp(x) each one
// evaluates (z^2/2 for GELU, |z| for sigmoid, 2|z| for tanh): a float exp is
// computed as exp2(x log2 e), and rounding that product costs |x| ulps.
// The default bound would hide an erf good to only 1e-5.
TEST_F(BiasActivationTest, TranscendentalActivationsAreFloatAccurateOnADenseGrid) {
  const uint32_t count = 200001;
  std::vector<float> z(count);
  for (uint32_t i = 0; i < count; ++i) z[i] = -12.0f + 24.0f * float(i) / float(count - 1);
  vk::Buffer pre = MakeBuffer(z), ones = MakeBuffer(std::vector<float>(count, 1.0f));
  for (Activation activation : {Activation::kSigmoid, Activation::kTanh, Activation::kGelu}) {
    SCOPED_TRACE(kernels::ActivationName(activation));
    vk::Buffer out = MakePoisonedBuffer(count), grad_pre = MakePoisonedBuffer(count);
    kernels::BiasActivationArgs forward;
    forward.pre = WholeBuffer(pre), forward.out = WholeBuffer(out);
    forward.rows = count, forward.cols = 1, forward.activation = activation;
    kernels::BiasActivationBackwardArgs backward;
    backward.grad_out = WholeBuffer(ones), backward.pre = WholeBuffer(pre), backward.out = WholeBuffer(out);
    backward.grad_pre = WholeBuffer(grad_pre);
    backward.rows = count, backward.cols = 1, backward.activation = activation;
    Run({kernels::BiasActivationDispatch(pipelines(), forward),
         kernels::BiasActivationBackwardDispatch(pipelines(), backward)});

    auto exp_argument = [&](size_t i) {
      double a = std::abs(double(z[i]));
      return activation == Activation::kGelu ? a * a / 2 : activation == Activation::kTanh ? 2 * a : a;
    };
    auto relative = [&](size_t i) { return 2e-6 + 1.5e-7 * exp_argument(i); };
    std::vector<double> value(count);
    for (uint32_t i = 0; i < count; ++i) value[i] = reference::Activate(activation, z[i], 0);
    ExpectAllNear(ReadAll(out), value, "act", [&](size_t i, double ref) { return relative(i) * std::abs(ref) + 1e-37; });
    if (activation != Activation::kGelu) continue;  // sigmoid' and tanh' come from act(z), tested elsewhere
    // GELU' = Phi(z) + z phi(z) cancels for z < 0: bound it by the size of its terms.
    std::vector<double> derivative(count), terms(count);
    for (uint32_t i = 0; i < count; ++i) {
      derivative[i] = reference::ActivationDerivative(activation, z[i], value[i], 0);
      double density_term = z[i] * std::exp(-0.5 * double(z[i]) * z[i]) / std::sqrt(2 * std::numbers::pi);
      terms[i] = std::abs(derivative[i] - density_term) + std::abs(density_term);
    }
    ExpectAllNear(ReadAll(grad_pre), derivative, "act'", [&](size_t i, double) { return relative(i) * terms[i] + 1e-37; });
  }
}

// Huge inputs must not overflow (sigmoid, tanh and GELU use exp of -|z| or
// -z^2/2 only), and at z = 0 the derivatives follow PyTorch: ReLU' = 0,
// LeakyReLU' = slope.
TEST_F(BiasActivationTest, ActivationsAtExtremeInputsAndAtZero) {
  std::vector<float> z = {-1e30f, -1e4f, -100.0f, -80.0f, -20.0f, -1e-30f, 0.0f, 1e-30f, 20.0f, 80.0f, 100.0f, 1e4f, 1e30f};
  const uint32_t n = uint32_t(z.size());
  auto rng = testing::MakeRng();
  std::vector<float> grad_out = testing::RandomFloats(rng, n);
  for (Activation activation : kActivations) {
    SCOPED_TRACE(kernels::ActivationName(activation));
    vk::Buffer pre = MakeBuffer(z), out = MakePoisonedBuffer(n);
    vk::Buffer grad_out_buffer = MakeBuffer(grad_out), grad_pre = MakePoisonedBuffer(n);
    kernels::BiasActivationArgs forward;
    forward.pre = WholeBuffer(pre), forward.out = WholeBuffer(out), forward.rows = n, forward.cols = 1;
    forward.activation = activation, forward.leaky_slope = 0.07f;
    kernels::BiasActivationBackwardArgs backward;
    backward.grad_out = WholeBuffer(grad_out_buffer), backward.pre = WholeBuffer(pre), backward.out = WholeBuffer(out);
    backward.grad_pre = WholeBuffer(grad_pre), backward.rows = n, backward.cols = 1;
    backward.activation = activation, backward.leaky_slope = 0.07f;
    Run({kernels::BiasActivationDispatch(pipelines(), forward),
         kernels::BiasActivationBackwardDispatch(pipelines(), backward)});
    std::vector<float> y = ReadAll(out);
    std::vector<double> ref(n), ref_grad(n);
    for (uint32_t i = 0; i < n; ++i) {
      ref[i] = reference::Activate(activation, z[i], 0.07f);
      ref_grad[i] = grad_out[i] * reference::ActivationDerivative(activation, z[i], y[i], 0.07f);
    }
    ExpectAllNear(y, ref, "out");
    ExpectAllNear(ReadAll(grad_pre), ref_grad, "grad_pre");
  }
}

// Backward against central differences of the double reference forward,
// d act/dz ~ (act(z + h) - act(z - h)) / 2h with h = 1e-6: truncation
// (h^2/6 |act'''| < 1e-12) and rounding (1e-16 / h) errors are far below the
// default bound. Inputs stay 1e-3 away from the ReLU kinks.
TEST_F(BiasActivationTest, BackwardMatchesFiniteDifferencesOfTheReference) {
  auto rng = testing::MakeRng();
  const uint32_t rows = 33, cols = 7, n = rows * cols;
  const double h = 1e-6;
  for (Activation activation : kActivations) {
    SCOPED_TRACE(kernels::ActivationName(activation));
    BackwardInputs in = MakeBackwardInputs(rng, activation, n, 0.07f);
    for (float& z : in.pre)
      if (std::abs(z) < 1e-3f) z = 0.5f;
    for (size_t i = 0; i < n; ++i) in.out[i] = float(reference::Activate(activation, in.pre[i], 0.07f));
    vk::Buffer grad_out = MakeBuffer(in.grad_out), pre = MakeBuffer(in.pre), out = MakeBuffer(in.out);
    vk::Buffer grad_pre = MakePoisonedBuffer(n);
    kernels::BiasActivationBackwardArgs args;
    args.grad_out = WholeBuffer(grad_out), args.pre = WholeBuffer(pre), args.out = WholeBuffer(out);
    args.grad_pre = WholeBuffer(grad_pre);
    args.rows = rows, args.cols = cols, args.activation = activation, args.leaky_slope = 0.07f;
    Run({kernels::BiasActivationBackwardDispatch(pipelines(), args)});

    std::vector<double> numeric(n);
    for (size_t i = 0; i < n; ++i) {
      double z = in.pre[i];
      double slope = (reference::Activate(activation, z + h, 0.07f) - reference::Activate(activation, z - h, 0.07f)) / (2 * h);
      numeric[i] = in.grad_out[i] * slope;
    }
    ExpectAllNear(ReadAll(grad_pre), numeric, "grad_pre vs finite differences");
  }
}

// Backward against central differences of the GPU forward itself, at
// h = 1/64 so float rounding of the outputs (|act| < 5: 5 * 6e-8 / (2h) = 1e-5)
// stays small next to the bound 2e-4, which also covers the truncation error
// h^2/6 |act'''| <= 1e-4 (|act'''| <= 2 for these activations). Inputs stay
// 2h away from the ReLU kinks.
TEST_F(BiasActivationTest, BackwardMatchesFiniteDifferencesOfTheGpuForward) {
  auto rng = testing::MakeRng();
  const uint32_t n = 1000;
  const float h = 1.0f / 64.0f;
  for (Activation activation : kActivations) {
    SCOPED_TRACE(kernels::ActivationName(activation));
    std::vector<float> z = testing::RandomFloats(rng, n, -4, 4);
    for (float& v : z)
      if (std::abs(v) < 2 * h) v = 0.5f;
    std::vector<float> z_plus(n), z_minus(n);
    for (uint32_t i = 0; i < n; ++i) z_plus[i] = z[i] + h, z_minus[i] = z[i] - h;
    vk::Buffer pre = MakeBuffer(z), pre_plus = MakeBuffer(z_plus), pre_minus = MakeBuffer(z_minus);
    vk::Buffer out = MakePoisonedBuffer(n), out_plus = MakePoisonedBuffer(n), out_minus = MakePoisonedBuffer(n);
    vk::Buffer ones = MakeBuffer(std::vector<float>(n, 1.0f)), grad_pre = MakePoisonedBuffer(n);
    auto forward = [&](vk::Buffer& input, vk::Buffer& output) {
      kernels::BiasActivationArgs args;
      args.pre = WholeBuffer(input), args.out = WholeBuffer(output), args.rows = n, args.cols = 1;
      args.activation = activation, args.leaky_slope = 0.07f;
      return kernels::BiasActivationDispatch(pipelines(), args);
    };
    kernels::BiasActivationBackwardArgs backward;
    backward.grad_out = WholeBuffer(ones), backward.pre = WholeBuffer(pre), backward.out = WholeBuffer(out);
    backward.grad_pre = WholeBuffer(grad_pre);
    backward.rows = n, backward.cols = 1, backward.activation = activation, backward.leaky_slope = 0.07f;
    Run({forward(pre, out), forward(pre_plus, out_plus), forward(pre_minus, out_minus),
         kernels::BiasActivationBackwardDispatch(pipelines(), backward)});

    std::vector<float> y_plus = ReadAll(out_plus), y_minus = ReadAll(out_minus);
    std::vector<double> numeric(n);
    for (uint32_t i = 0; i < n; ++i)
      numeric[i] = (double(y_plus[i]) - y_minus[i]) / (double(z_plus[i]) - z_minus[i]);
    ExpectAllNear(ReadAll(grad_pre), numeric, "grad_pre vs GPU finite differences", [](size_t, double) { return 2e-4; });
  }
}

// ---------------------------------------------------------------- losses

struct LossBuffers {
  vk::Buffer logits, labels, row_loss, row_correct, grad, probabilities;
};

class LossTest : public KernelTest {
 protected:
  LossBuffers RunLoss(LossKind kind, const std::vector<float>& logits, const std::vector<uint32_t>& labels,
                      uint32_t rows, uint32_t cols, float grad_scale, bool training = true) {
    const size_t n = size_t(rows) * cols;
    LossBuffers b{MakeBuffer(logits), MakeBuffer(labels), MakePoisonedBuffer(rows), MakePoisonedBuffer(rows),
                  MakePoisonedBuffer(n), MakePoisonedBuffer(n)};
    kernels::LossArgs args;
    args.kind = kind;
    args.logits = WholeBuffer(b.logits), args.labels = WholeBuffer(b.labels);
    args.row_loss = WholeBuffer(b.row_loss), args.row_correct = WholeBuffer(b.row_correct);
    if (training) args.grad_logits = WholeBuffer(b.grad), args.probabilities = WholeBuffer(b.probabilities);
    args.rows = rows, args.cols = cols, args.grad_scale = grad_scale;
    Run({kernels::LossDispatch(pipelines(), args)});
    return b;
  }
};

// Labels a loss of `kind` expects for `cols` columns: class indices, or for a
// single column the target as a number (0/1 for BCE, 0..3 for MSE regression).
std::vector<uint32_t> LossLabels(std::mt19937_64& rng, LossKind kind, uint32_t rows, uint32_t cols) {
  if (cols > 1) return RandomLabels(rng, rows, cols);
  return RandomLabels(rng, rows, kind == LossKind::kSoftmaxCrossEntropy ? 1 : kind == LossKind::kMeanSquaredError ? 4 : 2);
}

TEST_F(LossTest, MatchesReferenceForEveryKindAndShape) {
  auto rng = testing::MakeRng();
  for (LossKind kind : kLosses) {
    for (Shape shape : kShapes) {
      SCOPED_TRACE(std::string(kernels::LossName(kind)) + " " + Describe(shape));
      std::vector<float> logits = testing::RandomFloats(rng, size_t(shape.rows) * shape.cols, -5, 5);
      std::vector<uint32_t> labels = LossLabels(rng, kind, shape.rows, shape.cols);
      float grad_scale = 1.0f / float(shape.rows);
      LossBuffers b = RunLoss(kind, logits, labels, shape.rows, shape.cols, grad_scale);
      reference::LossOutput ref = reference::Loss(kind, ToDouble(logits), labels, shape.rows, shape.cols, grad_scale);
      ExpectAllNear(ReadAll(b.row_loss), ref.row_loss, "row_loss");
      ExpectAllNear(ReadAll(b.row_correct), ref.row_correct, "row_correct", [](size_t, double) { return 0.0; });
      ExpectAllNear(ReadAll(b.grad), ref.grad_logits, "grad_logits");
      ExpectAllNear(ReadAll(b.probabilities), ref.probabilities, "probabilities");
    }
  }
}

TEST_F(LossTest, EvaluationWritesNoGradient) {
  auto rng = testing::MakeRng();
  for (LossKind kind : kLosses) {
    SCOPED_TRACE(kernels::LossName(kind));
    const uint32_t rows = 129, cols = 10;
    std::vector<float> logits = testing::RandomFloats(rng, rows * cols, -5, 5);
    std::vector<uint32_t> labels = RandomLabels(rng, rows, cols);
    LossBuffers b = RunLoss(kind, logits, labels, rows, cols, 1.0f, /*training=*/false);
    reference::LossOutput ref = reference::Loss(kind, ToDouble(logits), labels, rows, cols, 1.0);
    ExpectAllNear(ReadAll(b.row_loss), ref.row_loss, "row_loss");
    ExpectAllNear(ReadAll(b.row_correct), ref.row_correct, "row_correct");
    std::vector<float> grad = ReadAll(b.grad);
    EXPECT_TRUE(std::all_of(grad.begin(), grad.end(), [](float v) { return std::isnan(v); })) << "gradient written";
  }
}

// grad_logits (with grad_scale = 1/rows) against central differences of the
// double reference's mean loss, h = 1e-6 (truncation and rounding < 1e-9).
// Both sides are multiplied by rows, so the bound applies to the per-row
// gradient, whose entries are O(1).
TEST_F(LossTest, GradientMatchesFiniteDifferencesOfTheMeanLoss) {
  auto rng = testing::MakeRng();
  const double h = 1e-6;
  for (LossKind kind : kLosses) {
    for (Shape shape : {Shape{5, 7}, Shape{6, 1}, Shape{3, 33}}) {
      if (kind == LossKind::kSoftmaxCrossEntropy && shape.cols == 1) continue;  // constant loss
      SCOPED_TRACE(std::string(kernels::LossName(kind)) + " " + Describe(shape));
      const size_t n = size_t(shape.rows) * shape.cols;
      std::vector<float> logits = testing::RandomFloats(rng, n, -3, 3);
      std::vector<uint32_t> labels = LossLabels(rng, kind, shape.rows, shape.cols);
      LossBuffers b = RunLoss(kind, logits, labels, shape.rows, shape.cols, 1.0f / float(shape.rows));

      auto mean_loss = [&](const std::vector<double>& x) {
        std::vector<double> row_loss = reference::Loss(kind, x, labels, shape.rows, shape.cols, 1.0).row_loss;
        return std::accumulate(row_loss.begin(), row_loss.end(), 0.0) / shape.rows;
      };
      std::vector<double> x = ToDouble(logits), numeric(n);
      for (size_t i = 0; i < n; ++i) {
        std::vector<double> plus = x, minus = x;
        plus[i] += h, minus[i] -= h;
        numeric[i] = (mean_loss(plus) - mean_loss(minus)) / (2 * h) * shape.rows;
      }
      std::vector<float> grad = ReadAll(b.grad);
      for (float& g : grad) g *= float(shape.rows);
      ExpectAllNear(grad, numeric, "rows * grad_logits vs finite differences");
    }
  }
}

// Logits of +-80 (exp(160) overflows float) and +-1000 must still give the
// exact finite losses: the log-sum-exp is shifted by the row's max, and BCE
// uses max(x, 0) - x t + log(1 + exp(-|x|)).
TEST_F(LossTest, ExtremeLogitsGiveFiniteCorrectLosses) {
  const uint32_t cols = 4;
  std::vector<float> logits = {
      80, -80, -80, -80,     // label 0: loss ~ 0
      80, -80, -80, -80,     // label 1: loss 160
      -80, -80, -80, -80,    // all equal: log 4
      80, 80, -80, 80,       // label 2: 160 + log 3
      1000, -1000, 0, 0,     // label 1: 2000
      -1000, -1000, -1000, -1000};
  std::vector<uint32_t> labels = {0, 1, 2, 2, 1, 3};
  const uint32_t rows = uint32_t(labels.size());
  for (LossKind kind : kLosses) {
    SCOPED_TRACE(kernels::LossName(kind));
    LossBuffers b = RunLoss(kind, logits, labels, rows, cols, 1.0f / rows);
    reference::LossOutput ref = reference::Loss(kind, ToDouble(logits), labels, rows, cols, 1.0 / rows);
    std::vector<float> row_loss = ReadAll(b.row_loss), grad = ReadAll(b.grad);
    EXPECT_TRUE(std::all_of(row_loss.begin(), row_loss.end(), [](float v) { return std::isfinite(v); }));
    EXPECT_TRUE(std::all_of(grad.begin(), grad.end(), [](float v) { return std::isfinite(v); }));
    ExpectAllNear(row_loss, ref.row_loss, "row_loss");
    ExpectAllNear(grad, ref.grad_logits, "grad_logits");
    ExpectAllNear(ReadAll(b.probabilities), ref.probabilities, "probabilities");
    ExpectAllNear(ReadAll(b.row_correct), ref.row_correct, "row_correct");
  }
  // Single-column BCE at the extremes: each wrong side costs exactly |x|.
  std::vector<float> single = {80, -80, 80, -80, 1000, -1000};
  std::vector<uint32_t> targets = {0, 1, 1, 0, 0, 1};
  LossBuffers b = RunLoss(LossKind::kBinaryCrossEntropyWithLogits, single, targets, 6, 1, 1.0f / 6);
  ExpectAllNear(ReadAll(b.row_loss), std::vector<double>{80, 80, 0, 0, 1000, 1000}, "single-column BCE");
}

TEST_F(LossTest, LabelOutOfRangeGivesNaNLoss) {
  std::vector<float> logits = {1, 2, 3, 4, 5, 6};
  std::vector<uint32_t> labels = {1, 3};  // 3 >= cols
  for (LossKind kind : kLosses) {
    SCOPED_TRACE(kernels::LossName(kind));
    LossBuffers b = RunLoss(kind, logits, labels, 2, 3, 0.5f);
    std::vector<float> row_loss = ReadAll(b.row_loss);
    EXPECT_TRUE(std::isfinite(row_loss[0]));
    EXPECT_TRUE(std::isnan(row_loss[1]));
    reference::LossOutput ref = reference::Loss(kind, ToDouble(logits), labels, 2, 3, 0.5);
    ExpectAllNear(row_loss, ref.row_loss, "row_loss");
    ExpectAllNear(ReadAll(b.grad), ref.grad_logits, "grad_logits");
  }
}

// ---------------------------------------------------------------- metrics

class MetricsTest : public KernelTest {
 protected:
  std::vector<float> RunMetrics(const std::vector<float>& row_loss, const std::vector<float>& row_correct,
                                uint32_t valid_rows) {
    vk::Buffer loss = MakeBuffer(row_loss), correct = MakeBuffer(row_correct), result = MakePoisonedBuffer(4);
    gpu::StepParams step{};
    step.valid_rows = valid_rows;
    vk::Buffer step_buffer = MakeStepBuffer(step);
    kernels::MetricsArgs args;
    args.row_loss = WholeBuffer(loss), args.row_correct = WholeBuffer(correct);
    args.step_params = StepRef(step_buffer), args.result = WholeBuffer(result);
    args.rows = uint32_t(row_loss.size());
    Run({kernels::MetricsDispatch(pipelines(), args)});
    return ReadAll(result);
  }
  void ExpectMetrics(const std::vector<float>& gpu, const reference::Metrics& ref) {
    ASSERT_EQ(gpu.size(), 4u);
    // Sums of up to 60000 losses: 1e-5 relative to the sum of magnitudes,
    // which for these non-negative losses is the sum itself.
    EXPECT_NEAR(gpu[0], ref.mean_loss, 1e-5 * std::max(1.0, std::abs(ref.mean_loss))) << "mean loss";
    EXPECT_EQ(gpu[1], ref.correct) << "correct count";
    EXPECT_EQ(gpu[2], ref.valid_rows) << "valid rows";
    EXPECT_EQ(gpu[3], ref.non_finite ? 1.0f : 0.0f) << "non-finite flag";
  }
};

TEST_F(MetricsTest, SumsOnlyTheValidRows) {
  auto rng = testing::MakeRng();
  for (uint32_t rows : {1u, 7u, 256u, 1000u, 60000u}) {
    for (uint32_t valid : {rows, rows / 2, (rows * 3) / 4 + 1}) {
      valid = std::min(valid, rows);
      SCOPED_TRACE(std::to_string(valid) + " of " + std::to_string(rows) + " rows");
      std::vector<float> loss = testing::RandomFloats(rng, rows, 0, 3), correct(rows);
      for (float& c : correct) c = float(rng() % 2);
      // Padding rows hold garbage that would show if they were counted.
      for (uint32_t r = valid; r < rows; ++r) loss[r] = kNaN, correct[r] = 1;
      ExpectMetrics(RunMetrics(loss, correct, valid),
                    reference::ComputeMetrics(ToDouble(loss), ToDouble(correct), valid));
    }
  }
}

TEST_F(MetricsTest, FlagsNaNAndInfinity) {
  std::vector<float> correct(33, 1.0f);
  for (float bad : {kNaN, std::numeric_limits<float>::infinity()}) {
    std::vector<float> loss(33, 0.5f);
    loss[20] = bad;
    std::vector<float> result = RunMetrics(loss, correct, 33);
    EXPECT_EQ(result[3], 1.0f) << "a " << bad << " loss was not flagged";
    ExpectMetrics(RunMetrics(loss, correct, 20), reference::ComputeMetrics(ToDouble(loss), ToDouble(correct), 20));
  }
  // A sum of finite losses can overflow too.
  std::vector<float> huge(4, 3e38f);
  EXPECT_EQ(RunMetrics(huge, std::vector<float>(4, 0.0f), 4)[3], 1.0f);
}

TEST_F(MetricsTest, ClampsValidRowsAndHandlesNone) {
  std::vector<float> loss = {1, 2, 3}, correct = {1, 0, 1};
  ExpectMetrics(RunMetrics(loss, correct, 100), reference::ComputeMetrics(ToDouble(loss), ToDouble(correct), 100));
  ExpectMetrics(RunMetrics(loss, correct, 0), reference::ComputeMetrics(ToDouble(loss), ToDouble(correct), 0));
}

// ---------------------------------------------------------------- optimizers

struct OptimizerCase {
  OptimizerKind kind;
  bool nesterov;
  float learning_rate;
};

TEST_F(KernelTest, OptimizersTrackTheReferenceOverSeveralSteps) {
  auto rng = testing::MakeRng();
  const OptimizerCase cases[] = {{OptimizerKind::kSgd, false, 0.1f},      {OptimizerKind::kMomentum, false, 0.05f},
                                 {OptimizerKind::kMomentum, true, 0.05f}, {OptimizerKind::kAdam, false, 0.01f},
                                 {OptimizerKind::kAdamW, false, 0.01f}};
  const int steps = 5;
  for (const OptimizerCase& c : cases) {
    for (float weight_decay : {0.0f, 0.05f}) {
      for (uint32_t count : {1u, 4u, 33u, 1000u, 4099u})  // multiples of 4 take a vec4 kernel
      for (auto reads : {kernels::OptimizerArgs::Reads::kStorage, kernels::OptimizerArgs::Reads::kTexel}) {
        if (reads == kernels::OptimizerArgs::Reads::kTexel && count % 4 != 0) continue;
        SCOPED_TRACE(std::string(kernels::OptimizerName(c.kind)) + (c.nesterov ? " nesterov" : "") +
                     " wd " + std::to_string(weight_decay) + " count " + std::to_string(count) +
                     (reads == kernels::OptimizerArgs::Reads::kTexel ? " texel reads" : ""));
        kernels::OptimizerHyper hyper;
        hyper.nesterov = c.nesterov, hyper.weight_decay = weight_decay;
        const uint32_t states = kernels::OptimizerStateCount(c.kind);
        std::vector<float> params = testing::RandomFloats(rng, count);
        vk::Buffer params_buffer = MakeBuffer(params), grads_buffer = MakeBuffer(std::vector<float>(count));
        vk::Buffer state1 = MakeBuffer(std::vector<float>(count, 0.0f)), state2 = MakeBuffer(std::vector<float>(count, 0.0f));
        vk::Buffer step_buffer = MakeStepBuffer({});
        kernels::OptimizerArgs args;
        args.kind = c.kind, args.count = count, args.hyper = hyper;
        args.params = WholeBuffer(params_buffer), args.grads = WholeBuffer(grads_buffer);
        args.state1 = states >= 1 ? WholeBuffer(state1) : TensorRef{};
        args.state2 = states >= 2 ? WholeBuffer(state2) : TensorRef{};
        args.step_params = StepRef(step_buffer);
        args.reads = reads;
        vk::Dispatch dispatch = kernels::OptimizerDispatch(pipelines(), args);
        EXPECT_EQ(dispatch.pipeline->shader_name(), count % 4 != 0 ? "optimizer"
                                                    : reads == kernels::OptimizerArgs::Reads::kTexel ? "optimizer_vec4_texel"
                                                                                                     : "optimizer_vec4");

        reference::OptimizerState ref{ToDouble(params), std::vector<double>(states >= 1 ? count : 0, 0.0),
                                      std::vector<double>(states >= 2 ? count : 0, 0.0)};
        for (int t = 1; t <= steps; ++t) {
          // A schedule that changes every step, as StepParams allows.
          gpu::StepParams step{};
          step.adam_step = t;
          step.learning_rate = c.learning_rate / float(t);
          step.bias_correction1 = float(1.0 - std::pow(double(hyper.beta1), t));
          step.bias_correction2 = float(1.0 - std::pow(double(hyper.beta2), t));
          step_buffer.Upload(std::as_bytes(std::span(&step, 1)));
          std::vector<float> grads = testing::RandomFloats(rng, count);
          grads_buffer.UploadVector(std::span<const float>(grads));
          Run({dispatch});
          reference::OptimizerStep(c.kind, hyper, step.learning_rate, step.bias_correction1, step.bias_correction2,
                                   ToDouble(grads), ref);
          SCOPED_TRACE("step " + std::to_string(t));
          ExpectAllNear(ReadAll(params_buffer), ref.params, "params");
          if (states >= 1) ExpectAllNear(ReadAll(state1), ref.state1, "state1");
          // Adam's v is a sum of squares (no cancellation) and small (~1e-3 g^2):
          // hold it to 1e-5 relative, not the absolute default.
          if (states >= 2)
            ExpectAllNear(ReadAll(state2), ref.state2, "state2",
                          [](size_t, double ref) { return 1e-5 * std::abs(ref) + 1e-12; });
        }
      }
    }
  }
}

// ---------------------------------------------------------------- init

const InitKind kInitKinds[] = {InitKind::kZeros, InitKind::kHeUniform, InitKind::kHeNormal, InitKind::kXavierUniform,
                               InitKind::kXavierNormal, InitKind::kOnes};

class InitTest : public KernelTest {
 protected:
  std::vector<float> RunInit(InitKind kind, uint32_t count, uint32_t seed, uint32_t fan_in, uint32_t fan_out) {
    vk::Buffer buffer = MakePoisonedBuffer(count);
    kernels::InitArgs args;
    args.params = WholeBuffer(buffer), args.count = count, args.kind = kind;
    args.fan_in = fan_in, args.fan_out = fan_out, args.seed = seed;
    Run({kernels::InitDispatch(pipelines(), args)});
    return ReadAll(buffer);
  }
};

// The scale of a kind's distribution (uniform limit or standard deviation).
double InitScale(InitKind kind, uint32_t fan_in, uint32_t fan_out) {
  switch (kind) {
    case InitKind::kZeros: return 0;
    case InitKind::kHeUniform: return std::sqrt(6.0 / fan_in);
    case InitKind::kHeNormal: return std::sqrt(2.0 / fan_in);
    case InitKind::kXavierUniform: return std::sqrt(6.0 / (fan_in + fan_out));
    case InitKind::kXavierNormal: return std::sqrt(2.0 / (fan_in + fan_out));
    case InitKind::kOnes: return 1;
  }
  return 0;
}

// GPU value == InitValue within float rounding: the hash integers are the same,
// and the float uniform/log/sqrt/cos chain is good to a few ulps, so the bound
// is 1e-6 of the larger of the value and the distribution's scale (values near
// 0 come from cos near 0, whose error is absolute).
TEST_F(InitTest, EveryElementEqualsInitValue) {
  for (InitKind kind : kInitKinds) {
    for (uint32_t count : {1u, 7u, 129u, 100003u}) {
      for (uint32_t seed : {0u, 12345u}) {
        SCOPED_TRACE(std::string(kernels::InitName(kind)) + " count " + std::to_string(count) + " seed " +
                     std::to_string(seed));
        const uint32_t fan_in = 784, fan_out = 128;
        std::vector<float> gpu = RunInit(kind, count, seed, fan_in, fan_out);
        std::vector<double> ref(count);
        for (uint32_t i = 0; i < count; ++i) ref[i] = kernels::InitValue(kind, seed, i, fan_in, fan_out);
        const double scale = InitScale(kind, fan_in, fan_out);
        ExpectAllNear(gpu, ref, "init", [&](size_t, double r) { return 1e-6 * std::max(std::abs(r), scale); });
      }
    }
  }
}

TEST_F(InitTest, DistributionsHaveTheTargetStatistics) {
  const uint32_t count = 100000, fan_in = 300, fan_out = 100;
  for (InitKind kind : kInitKinds) {
    if (kind == InitKind::kZeros || kind == InitKind::kOnes) {
      const float constant = kind == InitKind::kOnes ? 1.0f : 0.0f;
      std::vector<float> values = RunInit(kind, count, 7, fan_in, fan_out);
      EXPECT_TRUE(std::all_of(values.begin(), values.end(), [&](float v) { return v == constant; }));
      continue;
    }
    SCOPED_TRACE(kernels::InitName(kind));
    const bool uniform = kind == InitKind::kHeUniform || kind == InitKind::kXavierUniform;
    const double scale = InitScale(kind, fan_in, fan_out);
    const double variance = uniform ? scale * scale / 3 : scale * scale;
    std::vector<float> values = RunInit(kind, count, 42, fan_in, fan_out);
    double sum = 0, sum_squares = 0, within_one_sigma = 0;
    for (float v : values) {
      sum += v, sum_squares += double(v) * v;
      within_one_sigma += std::abs(v) <= std::sqrt(variance) ? 1 : 0;
    }
    double mean = sum / count, sample_variance = sum_squares / count - mean * mean;
    // Mean: 5 standard errors (sqrt(variance / count)). Variance: 3% (its
    // relative standard error is sqrt(2 / count) = 0.45% for a normal, 0.28% for a uniform).
    EXPECT_NEAR(mean, 0.0, 5 * std::sqrt(variance / count));
    EXPECT_NEAR(sample_variance / variance, 1.0, 0.03);
    // P(|x| <= sigma) is 1/sqrt(3) = 0.5774 for the uniform and 0.6827 for the normal (+-0.0075 is 5 standard errors).
    EXPECT_NEAR(within_one_sigma / count, uniform ? 1 / std::sqrt(3.0) : 0.6827, 0.0075);
    if (uniform) {
      auto [low, high] = std::minmax_element(values.begin(), values.end());
      EXPECT_GE(*low, -scale * (1 + 1e-6));
      EXPECT_LT(*high, scale * (1 + 1e-6));
    }
    // Another seed gives a different tensor (equal values would be a hash that ignores the seed).
    std::vector<float> other = RunInit(kind, count, 43, fan_in, fan_out);
    size_t equal = 0;
    for (uint32_t i = 0; i < count; ++i) equal += values[i] == other[i];
    EXPECT_LT(equal, count / 1000) << "seeds 42 and 43 agree on " << equal << " elements";
  }
}

// Beyond 65535 workgroups of 256 (16.8M elements) the grid-stride loop must
// cover the rest without exceeding the workgroup-count limit.
TEST_F(InitTest, MoreElementsThanOneInvocationEachCoversThemAll) {
  const uint32_t count = 65535u * 256u + 4099u;
  std::vector<float> gpu = RunInit(InitKind::kHeUniform, count, 99, 64, 64);
  std::vector<double> ref(count);
  for (uint32_t i = 0; i < count; ++i) ref[i] = kernels::InitValue(InitKind::kHeUniform, 99, i, 64, 64);
  const double scale = InitScale(InitKind::kHeUniform, 64, 64);
  ExpectAllNear(gpu, ref, "init", [&](size_t, double r) { return 1e-6 * std::max(std::abs(r), scale); });
}

// ---------------------------------------------------------------- gather

// Packs bytes 4 per little-endian uint32 word, the dataset's device layout.
std::vector<uint32_t> PackBytes(const std::vector<uint8_t>& bytes) {
  std::vector<uint32_t> words((bytes.size() + 3) / 4, 0);
  for (size_t i = 0; i < bytes.size(); ++i) words[i / 4] |= uint32_t(bytes[i]) << (8 * (i % 4));
  return words;
}

TEST_F(KernelTest, GatherAssemblesBatchesIncludingAPartialLastOne) {
  auto rng = testing::MakeRng();
  const uint32_t dataset_count = 37, rows = 16, classes = 10;
  for (bool features_u8 : {true, false}) {
    for (uint32_t feature_size : {1u, 3u, 4u, 7u, 12u, 784u}) {
      SCOPED_TRACE(std::string(features_u8 ? "uint8" : "float32") + " features of size " + std::to_string(feature_size));
      const size_t feature_count = size_t(dataset_count) * feature_size;
      std::vector<uint8_t> bytes(feature_count);
      for (uint8_t& b : bytes) b = uint8_t(rng() & 0xff);
      std::vector<float> floats = testing::RandomFloats(rng, feature_count, -2, 2);
      std::vector<uint32_t> labels = RandomLabels(rng, dataset_count, classes);
      std::vector<uint32_t> permutation(dataset_count);
      std::iota(permutation.begin(), permutation.end(), 0u);
      std::shuffle(permutation.begin(), permutation.end(), rng);
      const float scale = features_u8 ? 1.0f / 255.0f : 0.5f, offset = features_u8 ? -0.5f : 0.25f;
      vk::Buffer features = features_u8 ? MakeBuffer(PackBytes(bytes)) : MakeBuffer(floats);
      vk::Buffer labels_buffer = MakeBuffer(labels), permutation_buffer = MakeBuffer(permutation);
      // The same features in chunks of 12 samples (4 buffers), as a dataset
      // larger than maxStorageBufferRange is uploaded.
      const uint32_t samples_per_chunk = 12;
      std::vector<vk::Buffer> chunks;
      for (uint32_t first = 0; first < dataset_count; first += samples_per_chunk) {
        const size_t begin = size_t(first) * feature_size;
        const size_t end = std::min<size_t>(dataset_count, first + samples_per_chunk) * feature_size;
        chunks.push_back(features_u8 ? MakeBuffer(PackBytes(std::vector<uint8_t>(bytes.begin() + begin, bytes.begin() + end)))
                                     : MakeBuffer(std::vector<float>(floats.begin() + begin, floats.begin() + end)));
      }

      // Batches at the start, in the middle and at the end (5 samples + 11 padding rows).
      for (uint32_t batch_offset : {0u, rows, 2 * rows})
      for (bool chunked : {false, true})
      for (kernels::GatherPath path : {kernels::GatherPath::kScalar, kernels::GatherPath::kVec4}) {
        SCOPED_TRACE("batch offset " + std::to_string(batch_offset) + (chunked ? ", 4 feature buffers" : "") +
                     (path == kernels::GatherPath::kVec4 ? ", vec4 path" : ", scalar path"));
        gpu::StepParams step{};
        step.batch_offset = batch_offset;
        vk::Buffer step_buffer = MakeStepBuffer(step);
        vk::Buffer batch_x = MakePoisonedBuffer(size_t(rows) * feature_size), batch_labels = MakePoisonedBuffer(rows);
        kernels::GatherArgs args;
        args.features = WholeBuffer(chunked ? chunks[0] : features), args.features_u8 = features_u8;
        if (chunked) {
          for (size_t c = 1; c < chunks.size(); ++c) args.extra_features.push_back(WholeBuffer(chunks[c]));
          args.samples_per_chunk = samples_per_chunk;
        }
        args.labels = WholeBuffer(labels_buffer), args.permutation = WholeBuffer(permutation_buffer);
        args.step_params = StepRef(step_buffer);
        args.batch_x = WholeBuffer(batch_x), args.batch_labels = WholeBuffer(batch_labels);
        args.rows = rows, args.feature_size = feature_size, args.permutation_count = dataset_count;
        args.scale = scale, args.offset = offset;
        args.path = path;
        const bool vec4_possible = kernels::GatherCanUseVec4(context(), args);
        EXPECT_EQ(vec4_possible, feature_size % 4 == 0);  // whole buffers: aligned
        if (path == kernels::GatherPath::kVec4 && !vec4_possible) continue;
        const vk::Dispatch dispatch = kernels::GatherDispatch(pipelines(), args);
        EXPECT_EQ(dispatch.pipeline->shader_name(), path == kernels::GatherPath::kVec4 ? "gather_vec4" : "gather");
        Run({dispatch});

        reference::GatherInput in;
        in.features_u8 = features_u8, in.features_u8_data = bytes, in.features_f32_data = floats;
        in.labels = labels, in.permutation = permutation, in.batch_offset = batch_offset;
        in.rows = rows, in.feature_size = feature_size, in.scale = scale, in.offset = offset;
        reference::GatherOutput ref = reference::Gather(in);
        ExpectAllNear(ReadAll(batch_x), ref.batch_x, "batch_x");
        EXPECT_EQ(Read<uint32_t>(batch_labels, rows), ref.batch_labels);
        if (batch_offset + rows > dataset_count) {  // padding rows repeat the batch's first sample
          EXPECT_EQ(ref.batch_labels.back(), labels[permutation[batch_offset]]);
        }
      }
    }
  }
}

TEST_F(KernelTest, GatherAugmentsImagesWithRandomCropsAndFlips) {
  auto rng = testing::MakeRng();
  const uint32_t channels = 3, height = 5, width = 4, count = 9, rows = 6, feature_size = channels * height * width;
  std::vector<uint8_t> bytes(size_t(count) * feature_size);
  for (uint8_t& b : bytes) b = uint8_t(1 + rng() % 255);  // never 0, so a padded pixel is recognisable
  std::vector<uint32_t> labels = RandomLabels(rng, count, 4), permutation(count);
  std::iota(permutation.begin(), permutation.end(), 0u);
  std::shuffle(permutation.begin(), permutation.end(), rng);
  vk::Buffer features = MakeBuffer(PackBytes(bytes)), labels_buffer = MakeBuffer(labels);
  vk::Buffer permutation_buffer = MakeBuffer(permutation);
  const float scale = 1.0f / 255.0f, offset = -0.5f;
  for (uint32_t crop_padding : {0u, 2u})
    for (bool flip : {false, true})
      for (uint32_t adam_step : {1u, 2u}) {
        if (crop_padding == 0 && !flip) continue;
        SCOPED_TRACE("crop padding " + std::to_string(crop_padding) + (flip ? ", flip" : "") + ", step " +
                     std::to_string(adam_step));
        gpu::StepParams step{};
        step.batch_offset = 2, step.adam_step = adam_step;
        vk::Buffer step_buffer = MakeStepBuffer(step);
        vk::Buffer batch_x = MakePoisonedBuffer(size_t(rows) * feature_size), batch_labels = MakePoisonedBuffer(rows);
        kernels::GatherArgs args;
        args.features = WholeBuffer(features), args.features_u8 = true;
        args.labels = WholeBuffer(labels_buffer), args.permutation = WholeBuffer(permutation_buffer);
        args.step_params = StepRef(step_buffer);
        args.batch_x = WholeBuffer(batch_x), args.batch_labels = WholeBuffer(batch_labels);
        args.rows = rows, args.feature_size = feature_size, args.permutation_count = count;
        args.scale = scale, args.offset = offset;
        args.channels = channels, args.height = height, args.width = width;
        args.crop_padding = crop_padding, args.flip = flip, args.augment_seed = 77;
        Run({kernels::GatherDispatch(pipelines(), args)});
        std::vector<float> got = ReadAll(batch_x);
        // The documented draw, on the CPU.
        std::vector<double> expected(got.size());
        size_t mirrored = 0;
        for (uint32_t r = 0; r < rows; ++r) {
          const uint32_t sample = permutation[step.batch_offset + r];
          const uint32_t bits = gpu::InitRandomBits(77, adam_step, r);
          const int dy = int((bits & 0xffu) % (2 * crop_padding + 1)) - int(crop_padding);
          const int dx = int(((bits >> 8) & 0xffu) % (2 * crop_padding + 1)) - int(crop_padding);
          const bool mirror = flip && ((bits >> 16) & 1u);
          mirrored += mirror;
          for (uint32_t y = 0; y < height; ++y)
            for (uint32_t x = 0; x < width; ++x)
              for (uint32_t c = 0; c < channels; ++c) {
                const int sy = int(y) + dy, sx = int(mirror ? width - 1 - x : x) + dx;
                const bool inside = sy >= 0 && sx >= 0 && sy < int(height) && sx < int(width);
                const double raw = inside ? bytes[size_t(sample) * feature_size + (size_t(sy) * width + sx) * channels + c] : 0;
                expected[size_t(r) * feature_size + (size_t(y) * width + x) * channels + c] = raw * scale + offset;
              }
        }
        ExpectAllNear(got, expected, "augmented batch");
        if (flip) EXPECT_GT(mirrored, 0u) << "no row of the batch was mirrored";
      }
}

// ---------------------------------------------------------------- costs and limits

TEST_F(KernelTest, DispatchesDeclareMinimumTrafficAndStayInsideDeviceLimits) {
  vk::Buffer small = MakePoisonedBuffer(4);
  TensorRef huge{&small, 0, 40'000'000};  // never run: only the dispatch description is inspected
  kernels::BiasActivationArgs forward;
  forward.pre = huge, forward.bias = huge, forward.out = huge;
  forward.rows = 10'000'000, forward.cols = 4, forward.activation = Activation::kRelu;
  vk::Dispatch d = kernels::BiasActivationDispatch(pipelines(), forward);
  EXPECT_LE(d.workgroups[0], context().info().max_workgroup_count[0]);
  EXPECT_EQ(d.cost.bytes_read, 4.0 * 40'000'000 + 16);     // pre + bias
  EXPECT_EQ(d.cost.bytes_written, 8.0 * 40'000'000);       // pre (biased) + out
  EXPECT_EQ(d.cost.flops, 2.0 * 40'000'000);               // bias add + max

  kernels::OptimizerArgs adam;
  adam.kind = OptimizerKind::kAdam, adam.params = huge, adam.grads = huge, adam.state1 = huge, adam.state2 = huge;
  adam.count = 40'000'000;
  vk::Buffer step = MakeStepBuffer({});
  adam.step_params = StepRef(step);
  d = kernels::OptimizerDispatch(pipelines(), adam);
  EXPECT_LE(d.workgroups[0], context().info().max_workgroup_count[0]);
  EXPECT_EQ(d.cost.bytes_read, 16.0 * 40'000'000 + sizeof(gpu::StepParams));
  EXPECT_EQ(d.cost.bytes_written, 12.0 * 40'000'000);

  kernels::BiasActivationBackwardArgs backward;
  backward.grad_out = huge, backward.pre = huge, backward.out = huge, backward.grad_pre = huge, backward.grad_bias = huge;
  backward.rows = 40'000, backward.cols = 1000, backward.activation = Activation::kSigmoid;
  d = kernels::BiasActivationBackwardDispatch(pipelines(), backward);
  EXPECT_EQ(d.workgroups[1], 1u) << "the bias sums need every row of a column in one workgroup";
  EXPECT_EQ(d.cost.bytes_read, 8.0 * 40'000'000);  // grad_out + out (sigmoid's derivative uses out)
  EXPECT_EQ(d.cost.bytes_written, 4.0 * 40'000'000 + 4000);
  EXPECT_LE(d.pipeline->invocations_per_workgroup(), context().info().max_workgroup_invocations);
}

}  // namespace
}  // namespace ts
