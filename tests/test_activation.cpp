// Bias + activation, forward and backward, against the double-precision
// references (compute/reference/elementwise.h); the bounds are those of
// tests/support/kernel_test.h unless a test says why it differs.
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
#include "compute/reference/elementwise.h"
#include "shaders/step_params.h"
#include "support/kernel_test.h"
#include "support/vulkan_test.h"

namespace ts {
namespace {

using kernels::Activation;
using kernels::TensorRef;
using kernels::WholeBuffer;
using reference::ToDouble;
using namespace kernel_tests;

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
  // Room for the widest shape asked for (33 columns): the dispatch asserts its buffers hold rows x cols.
  vk::Buffer a = MakePoisonedBuffer(4099 * 33), b = MakePoisonedBuffer(4099 * 33), bias = MakePoisonedBuffer(33);
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

}  // namespace
}  // namespace ts
