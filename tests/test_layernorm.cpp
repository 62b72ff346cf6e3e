// LayerNorm (forward, backward), the residual add and gradient clipping by
// global norm, against the double-precision references
// (compute/reference/layernorm.h). Every output buffer starts as NaN; the
// bounds are those of tests/support/kernel_test.h unless a test says why it
// differs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "compute/kernels/add.h"
#include "compute/kernels/grad_clip.h"
#include "compute/kernels/layernorm.h"
#include "compute/reference/elementwise.h"
#include "compute/reference/layernorm.h"
#include "shaders/mixed_precision.h"
#include "support/kernel_test.h"
#include "support/vulkan_test.h"

namespace ts {
namespace {

using kernels::TensorRef;
using kernels::WholeBuffer;
using reference::ToDouble;
using namespace kernel_tests;

// ------------------------------------------------------------------ LayerNorm

// Shapes that do not divide the lanes per row (up to 128) or the rows per
// workgroup: a single element, odd and prime sizes, a wide row, rows around
// the backward's row-block size (64 rows a block: 65 rows make 2 blocks),
// enough rows for many blocks (3000: 47 blocks, the last one short) and more
// rows than 64 full blocks (5000: 64 blocks of 79).
const Shape kLayerNormShapes[] = {{1, 1},     {3, 7},     {5, 33},  {37, 129}, {300, 128}, {1000, 65},
                                  {2, 1000},  {64, 32},   {65, 64}, {3000, 96}, {5000, 33}};

// Layouts the kernels can be forced into, so that the GPU layouts (several
// lanes per row, shared-memory trees) run on lavapipe too, and the software
// one (one invocation per row) on a GPU.
struct TuningCase {
  const char* name;
  kernels::LayerNormTuning tuning;
};
const TuningCase kTunings[] = {
    {"default", {}},
    {"1 lane per row, 64 invocations", {1, 64}},
    {"4 lanes per row", {4, 0}},
    {"32 lanes per row, 256 invocations", {32, 256}},
    {"128 lanes per row, 128 invocations", {128, 128}},
};

struct LayerNormInputs {
  std::vector<float> x, gamma, beta;
};
// x uniform in offset + scale * [-1, 1]; gamma in [-1.5, 1.5], beta in [-1, 1].
LayerNormInputs MakeLayerNormInputs(std::mt19937_64& rng, Shape shape, float scale = 1.0f, float offset = 0.0f) {
  LayerNormInputs in{testing::RandomFloats(rng, size_t(shape.rows) * shape.cols, offset - scale, offset + scale),
                     testing::RandomFloats(rng, shape.cols, -1.5f, 1.5f), testing::RandomFloats(rng, shape.cols)};
  return in;
}

reference::LayerNormOutput ReferenceForward(const LayerNormInputs& in, Shape shape, double epsilon) {
  return reference::LayerNormForward(ToDouble(in.x), ToDouble(in.gamma), ToDouble(in.beta), shape.rows, shape.cols,
                                     epsilon);
}

class LayerNormTest : public KernelTest {
 protected:
  struct ForwardResult {
    std::vector<float> y, mean, rstd;
  };
  ForwardResult RunForward(const LayerNormInputs& in, Shape shape, float epsilon, bool save,
                           const kernels::LayerNormTuning& tuning = {}) {
    const size_t n = size_t(shape.rows) * shape.cols;
    vk::Buffer x = MakeBuffer(in.x), gamma = MakeBuffer(in.gamma), beta = MakeBuffer(in.beta);
    vk::Buffer y = MakePoisonedBuffer(n), mean = MakePoisonedBuffer(shape.rows), rstd = MakePoisonedBuffer(shape.rows);
    kernels::LayerNormArgs args;
    args.x = WholeBuffer(x), args.gamma = WholeBuffer(gamma), args.beta = WholeBuffer(beta), args.y = WholeBuffer(y);
    if (save) args.mean = WholeBuffer(mean), args.rstd = WholeBuffer(rstd);
    args.rows = shape.rows, args.cols = shape.cols, args.epsilon = epsilon, args.tuning = tuning;
    Run({kernels::LayerNormDispatch(pipelines(), args)});
    return {ReadAll(y), ReadAll(mean), ReadAll(rstd)};
  }

  // y = (x - mean) * rstd * gamma + beta: besides the default bound, the
  // float mean may be off by a couple of ulps of |mean|, which moves x - mean
  // by that much (it matters only for data far from zero, or constant rows).
  static std::function<double(size_t, double)> OutputBound(const reference::LayerNormOutput& ref,
                                                           const std::vector<float>& gamma) {
    const size_t cols = gamma.size();
    return [&ref, &gamma, cols](size_t i, double r) {
      const size_t row = i / cols;
      return DefaultBound(r) + std::ldexp(std::abs(ref.mean[row]), -21) * ref.rstd[row] * std::abs(gamma[i % cols]);
    };
  }

  void ExpectForwardMatchesReference(const LayerNormInputs& in, Shape shape, float epsilon,
                                     const kernels::LayerNormTuning& tuning = {}) {
    ForwardResult gpu = RunForward(in, shape, epsilon, /*save=*/true, tuning);
    reference::LayerNormOutput ref = ReferenceForward(in, shape, epsilon);
    ExpectAllNear(gpu.y, ref.y, "y", OutputBound(ref, in.gamma));
    ExpectAllNear(gpu.mean, ref.mean, "mean");
    ExpectAllNear(gpu.rstd, ref.rstd, "rstd");
  }

  // The backward from the reference forward's statistics rounded to float
  // (as the forward kernel stores them), against the reference backward from
  // the same float statistics. Sums are bounded by the sums of their terms'
  // magnitudes; grad_x by rstd times its terms' magnitudes (it cancels), plus
  // the added gradient.
  void ExpectBackwardMatchesReference(std::mt19937_64& rng, Shape shape, bool with_add, bool with_workspace,
                                      const kernels::LayerNormTuning& tuning = {}) {
    const uint32_t rows = shape.rows, cols = shape.cols;
    const size_t n = size_t(rows) * cols;
    LayerNormInputs in = MakeLayerNormInputs(rng, shape);
    reference::LayerNormOutput forward = ReferenceForward(in, shape, 1e-5);
    std::vector<float> mean(forward.mean.begin(), forward.mean.end()), rstd(forward.rstd.begin(), forward.rstd.end());
    std::vector<float> grad_y = testing::RandomFloats(rng, n), add = testing::RandomFloats(rng, n);

    vk::Buffer grad_y_buffer = MakeBuffer(grad_y), x = MakeBuffer(in.x), gamma = MakeBuffer(in.gamma);
    vk::Buffer mean_buffer = MakeBuffer(mean), rstd_buffer = MakeBuffer(rstd), add_buffer = MakeBuffer(add);
    vk::Buffer grad_x = MakePoisonedBuffer(n), grad_gamma = MakePoisonedBuffer(cols),
               grad_beta = MakePoisonedBuffer(cols);
    const uint64_t workspace_count = kernels::LayerNormBackwardWorkspaceCount(rows, cols);
    vk::Buffer workspace = MakePoisonedBuffer(std::max<uint64_t>(workspace_count, 1));
    kernels::LayerNormBackwardArgs args;
    args.grad_y = WholeBuffer(grad_y_buffer), args.x = WholeBuffer(x), args.gamma = WholeBuffer(gamma);
    args.mean = WholeBuffer(mean_buffer), args.rstd = WholeBuffer(rstd_buffer);
    if (with_add) args.add = WholeBuffer(add_buffer);
    args.grad_x = WholeBuffer(grad_x), args.grad_gamma = WholeBuffer(grad_gamma), args.grad_beta = WholeBuffer(grad_beta);
    args.rows = rows, args.cols = cols, args.tuning = tuning;
    if (with_workspace && workspace_count > 0) args.workspace = WholeBuffer(workspace);
    std::vector<vk::Dispatch> dispatches = kernels::LayerNormBackwardDispatches(pipelines(), args);
    EXPECT_EQ(dispatches.size(), with_workspace && rows > 64 ? 3u : 2u) << "split into row blocks iff many rows";
    Run(std::move(dispatches));

    std::vector<double> no_add;
    reference::LayerNormGradients ref =
        reference::LayerNormBackward(ToDouble(grad_y), ToDouble(in.x), ToDouble(in.gamma), ToDouble(mean),
                                     ToDouble(rstd), with_add ? ToDouble(add) : no_add, rows, cols);
    std::vector<double> beta_terms(cols, 0.0), gamma_terms(cols, 0.0), xhat(n), g_terms(rows, 0.0),
        g_xhat_terms(rows, 0.0);
    for (size_t i = 0; i < n; ++i) {
      const size_t r = i / cols, c = i % cols;
      xhat[i] = (double(in.x[i]) - mean[r]) * rstd[r];
      beta_terms[c] += std::abs(grad_y[i]);
      gamma_terms[c] += std::abs(grad_y[i] * xhat[i]);
      g_terms[r] += std::abs(grad_y[i] * in.gamma[c]) / cols;
      g_xhat_terms[r] += std::abs(grad_y[i] * in.gamma[c] * xhat[i]) / cols;
    }
    ExpectAllNear(ReadAll(grad_beta), ref.grad_beta, "grad_beta",
                  [&](size_t c, double) { return 1e-5 * std::max(1.0, beta_terms[c]); });
    ExpectAllNear(ReadAll(grad_gamma), ref.grad_gamma, "grad_gamma",
                  [&](size_t c, double) { return 1e-5 * std::max(1.0, gamma_terms[c]); });
    ExpectAllNear(ReadAll(grad_x), ref.grad_x, "grad_x", [&](size_t i, double) {
      const size_t r = i / cols, c = i % cols;
      const double terms = std::abs(grad_y[i] * in.gamma[c]) + g_terms[r] + std::abs(xhat[i]) * g_xhat_terms[r];
      return 1e-5 * std::max(1.0, rstd[r] * terms + (with_add ? std::abs(add[i]) : 0.0));
    });
  }
};

TEST_F(LayerNormTest, ForwardMatchesReference) {
  auto rng = testing::MakeRng();
  for (const TuningCase& tuning : kTunings) {
    for (Shape shape : kLayerNormShapes) {
      SCOPED_TRACE(std::string(tuning.name) + ": " + Describe(shape));
      ExpectForwardMatchesReference(MakeLayerNormInputs(rng, shape), shape, 1e-5f, tuning.tuning);
    }
  }
}

// Rows with |mean| = 100 std: E[x^2] - E[x]^2 in float would lose the variance
// to cancellation (relative error ~ eps * mean^2 / var = 4e-3); the two-pass
// kernel keeps rstd within the default bound.
TEST_F(LayerNormTest, ForwardIsAccurateFarFromZero) {
  auto rng = testing::MakeRng();
  for (const TuningCase& tuning : kTunings) {
    for (Shape shape : {Shape{7, 129}, Shape{300, 128}, Shape{37, 1000}}) {
      SCOPED_TRACE(std::string(tuning.name) + ": " + Describe(shape));
      ExpectForwardMatchesReference(MakeLayerNormInputs(rng, shape, 1.0f, 100.0f), shape, 1e-5f, tuning.tuning);
    }
  }
}

// Evaluation: no statistics saved, the same y.
TEST_F(LayerNormTest, ForwardWithoutStatistics) {
  auto rng = testing::MakeRng();
  for (Shape shape : {Shape{1, 1}, Shape{37, 129}, Shape{1000, 65}}) {
    SCOPED_TRACE(Describe(shape));
    LayerNormInputs in = MakeLayerNormInputs(rng, shape);
    ForwardResult gpu = RunForward(in, shape, 1e-5f, /*save=*/false);
    reference::LayerNormOutput ref = ReferenceForward(in, shape, 1e-5);
    ExpectAllNear(gpu.y, ref.y, "y", OutputBound(ref, in.gamma));
    EXPECT_TRUE(std::all_of(gpu.mean.begin(), gpu.mean.end(), [](float v) { return std::isnan(v); }));
    EXPECT_TRUE(std::all_of(gpu.rstd.begin(), gpu.rstd.end(), [](float v) { return std::isnan(v); }));
  }
}

// Rows of small variance (x in [-1e-3, 1e-3]: variance ~3e-7) where epsilon
// dominates: the kernel must use the epsilon it is given.
TEST_F(LayerNormTest, ForwardRespectsEpsilon) {
  auto rng = testing::MakeRng();
  const Shape shape{33, 65};
  LayerNormInputs in = MakeLayerNormInputs(rng, shape, 1e-3f);
  for (float epsilon : {0.0f, 1e-5f, 1e-2f, 1.0f}) {
    SCOPED_TRACE("epsilon " + std::to_string(epsilon));
    ExpectForwardMatchesReference(in, shape, epsilon);
  }
  // The two largest epsilons give visibly different statistics.
  ForwardResult small = RunForward(in, shape, 1e-2f, true), large = RunForward(in, shape, 1.0f, true);
  EXPECT_NEAR(large.rstd[0], 1.0, 1e-5);
  EXPECT_GT(small.rstd[0], 9.9f);
}

// Constant rows (variance 0, including a row of zeros and rows far from zero):
// rstd = 1 / sqrt(epsilon), y = beta, all finite, in every layout. The float
// mean of a constant row may be off by an ulp or two (the division); the
// kernel's corrected second pass removes that, so the default bound holds.
TEST_F(LayerNormTest, ConstantRowsGiveFiniteOutput) {
  auto rng = testing::MakeRng();
  const float constants[] = {0.0f, 1.0f, -0.37f, 1000.0f, 3.0e4f};
  for (const TuningCase& tuning : kTunings) {
    for (uint32_t cols : {1u, 7u, 128u, 1000u}) {
      const Shape shape{uint32_t(std::size(constants)), cols};
      SCOPED_TRACE(std::string(tuning.name) + ": " + Describe(shape));
      LayerNormInputs in = MakeLayerNormInputs(rng, shape);
      for (uint32_t r = 0; r < shape.rows; ++r)
        std::fill_n(in.x.begin() + size_t(r) * cols, cols, constants[r]);
      ForwardResult gpu = RunForward(in, shape, 1e-5f, true, tuning.tuning);
      EXPECT_TRUE(std::all_of(gpu.y.begin(), gpu.y.end(), [](float v) { return std::isfinite(v); }));
      reference::LayerNormOutput ref = ReferenceForward(in, shape, 1e-5);
      ExpectAllNear(gpu.y, ref.y, "y");
      ExpectAllNear(gpu.mean, ref.mean, "mean");
      ExpectAllNear(gpu.rstd, ref.rstd, "rstd");
    }
  }
}

TEST_F(LayerNormTest, BackwardMatchesReference) {
  auto rng = testing::MakeRng();
  for (Shape shape : kLayerNormShapes) {
    for (bool with_add : {false, true}) {
      for (bool with_workspace : {true, false}) {
        SCOPED_TRACE(Describe(shape) + (with_add ? " with add" : " without add") +
                     (with_workspace ? ", workspace" : ", no workspace"));
        ExpectBackwardMatchesReference(rng, shape, with_add, with_workspace);
      }
    }
  }
}

TEST_F(LayerNormTest, BackwardMatchesReferenceInEveryLayout) {
  auto rng = testing::MakeRng();
  for (const TuningCase& tuning : kTunings) {
    for (Shape shape : {Shape{1, 1}, Shape{5, 33}, Shape{37, 129}, Shape{2, 1000}, Shape{3000, 96}}) {
      for (bool with_workspace : {true, false}) {
        SCOPED_TRACE(std::string(tuning.name) + ": " + Describe(shape) +
                     (with_workspace ? ", workspace" : ", no workspace"));
        ExpectBackwardMatchesReference(rng, shape, /*with_add=*/true, with_workspace, tuning.tuning);
      }
    }
  }
}

// The training step's order on the device: the forward saves the statistics,
// the backward reads them, in one submission (barriers between them derived
// from the bindings).
TEST_F(LayerNormTest, ForwardThenBackwardOnDevice) {
  auto rng = testing::MakeRng();
  const Shape shape{777, 96};
  const size_t n = size_t(shape.rows) * shape.cols;
  LayerNormInputs in = MakeLayerNormInputs(rng, shape);
  std::vector<float> grad_y = testing::RandomFloats(rng, n), add = testing::RandomFloats(rng, n);
  vk::Buffer x = MakeBuffer(in.x), gamma = MakeBuffer(in.gamma), beta = MakeBuffer(in.beta);
  vk::Buffer y = MakePoisonedBuffer(n), mean = MakePoisonedBuffer(shape.rows), rstd = MakePoisonedBuffer(shape.rows);
  vk::Buffer grad_y_buffer = MakeBuffer(grad_y), add_buffer = MakeBuffer(add), grad_x = MakePoisonedBuffer(n);
  vk::Buffer grad_gamma = MakePoisonedBuffer(shape.cols), grad_beta = MakePoisonedBuffer(shape.cols);
  vk::Buffer workspace = MakePoisonedBuffer(kernels::LayerNormBackwardWorkspaceCount(shape.rows, shape.cols));
  kernels::LayerNormArgs forward;
  forward.x = WholeBuffer(x), forward.gamma = WholeBuffer(gamma), forward.beta = WholeBuffer(beta);
  forward.y = WholeBuffer(y), forward.mean = WholeBuffer(mean), forward.rstd = WholeBuffer(rstd);
  forward.rows = shape.rows, forward.cols = shape.cols;
  kernels::LayerNormBackwardArgs backward;
  backward.grad_y = WholeBuffer(grad_y_buffer), backward.x = WholeBuffer(x), backward.gamma = WholeBuffer(gamma);
  backward.mean = WholeBuffer(mean), backward.rstd = WholeBuffer(rstd), backward.add = WholeBuffer(add_buffer);
  backward.grad_x = WholeBuffer(grad_x), backward.grad_gamma = WholeBuffer(grad_gamma);
  backward.grad_beta = WholeBuffer(grad_beta), backward.workspace = WholeBuffer(workspace);
  backward.rows = shape.rows, backward.cols = shape.cols;
  std::vector<vk::Dispatch> dispatches{kernels::LayerNormDispatch(pipelines(), forward)};
  for (vk::Dispatch& d : kernels::LayerNormBackwardDispatches(pipelines(), backward)) dispatches.push_back(std::move(d));
  ASSERT_EQ(dispatches.size(), 4u);
  Run(std::move(dispatches));

  reference::LayerNormOutput ref_forward = ReferenceForward(in, shape, 1e-5);
  reference::LayerNormGradients ref =
      reference::LayerNormBackward(ToDouble(grad_y), ToDouble(in.x), ToDouble(in.gamma), ref_forward.mean,
                                   ref_forward.rstd, ToDouble(add), shape.rows, shape.cols);
  ExpectAllNear(ReadAll(y), ref_forward.y, "y", OutputBound(ref_forward, in.gamma));
  // Sums of 777 terms of size ~1 (and the statistics' float rounding): bound
  // them on that scale.
  ExpectAllNear(ReadAll(grad_beta), ref.grad_beta, "grad_beta", [](size_t, double) { return 1e-5 * 777; });
  ExpectAllNear(ReadAll(grad_gamma), ref.grad_gamma, "grad_gamma", [](size_t, double) { return 1e-5 * 777; });
  ExpectAllNear(ReadAll(grad_x), ref.grad_x, "grad_x", [](size_t, double r) { return 1e-4 * std::max(1.0, std::abs(r)); });
}

// Declared costs: FLOPs, and bytes equal to each dispatch's minimum traffic.
TEST_F(LayerNormTest, DeclaredCosts) {
  vk::Buffer big(context(), 4 * 4096 * 256, "costs");  // never run: only the views' sizes matter
  const uint32_t rows = 3000, cols = 96;
  const double n = double(rows) * cols;
  auto view = [&](uint64_t count) { return TensorRef{&big, 0, count}; };
  kernels::LayerNormArgs forward;
  forward.x = view(rows * cols), forward.y = view(rows * cols), forward.gamma = view(cols), forward.beta = view(cols);
  forward.mean = view(rows), forward.rstd = view(rows), forward.rows = rows, forward.cols = cols;
  vk::Dispatch f = kernels::LayerNormDispatch(pipelines(), forward);
  EXPECT_EQ(f.pipeline->shader_name(), "layernorm_vec4");  // cols % 4 == 0, aligned views
  EXPECT_GT(f.cost.flops, 0);
  EXPECT_EQ(f.cost.bytes_read, 4 * (n + 2 * cols));
  EXPECT_EQ(f.cost.bytes_written, 4 * (n + 2 * rows));

  kernels::LayerNormBackwardArgs backward;
  backward.grad_y = view(rows * cols), backward.x = view(rows * cols), backward.gamma = view(cols);
  backward.mean = view(rows), backward.rstd = view(rows), backward.add = view(rows * cols);
  backward.grad_x = view(rows * cols), backward.grad_gamma = view(cols), backward.grad_beta = view(cols);
  backward.rows = rows, backward.cols = cols;
  const uint64_t workspace_count = kernels::LayerNormBackwardWorkspaceCount(rows, cols);
  EXPECT_EQ(workspace_count, 2u * 47 * cols);  // ceil(3000 / 64) = 47 blocks
  backward.workspace = view(workspace_count);
  std::vector<vk::Dispatch> b = kernels::LayerNormBackwardDispatches(pipelines(), backward);
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b[0].pipeline->shader_name(), "layernorm_back_vec4");
  for (const vk::Dispatch& d : b) EXPECT_GT(d.cost.flops, 0) << d.label;
  EXPECT_EQ(b[0].cost.bytes_read, 4 * (3 * n + cols + 2 * rows));  // grad_y, x, add; gamma; mean, rstd
  EXPECT_EQ(b[0].cost.bytes_written, 4 * n);
  EXPECT_EQ(b[1].cost.bytes_read, 4 * (2 * n + 2 * rows));  // grad_y, x; mean, rstd
  EXPECT_EQ(b[1].cost.bytes_written, 4.0 * workspace_count);
  EXPECT_EQ(b[2].cost.bytes_read, 4.0 * workspace_count);
  EXPECT_EQ(b[2].cost.bytes_written, 4.0 * 2 * cols);
}

// Columns not a multiple of 4 take the one-float shaders (the shapes with
// odd cols above test them; those with cols % 4 == 0 the _vec4 ones).
TEST_F(LayerNormTest, OddColumnsUseScalarShaders) {
  vk::Buffer big(context(), 4 * 1000 * 65, "shaders");  // never run
  auto view = [&](uint64_t count) { return TensorRef{&big, 0, count}; };
  kernels::LayerNormArgs forward;
  forward.x = view(1000 * 65), forward.y = view(1000 * 65), forward.gamma = view(65), forward.beta = view(65);
  forward.rows = 1000, forward.cols = 65;
  EXPECT_EQ(kernels::LayerNormDispatch(pipelines(), forward).pipeline->shader_name(), "layernorm");
  kernels::LayerNormBackwardArgs backward;
  backward.grad_y = view(1000 * 65), backward.x = view(1000 * 65), backward.gamma = view(65);
  backward.mean = view(1000), backward.rstd = view(1000), backward.grad_x = view(1000 * 65);
  backward.grad_gamma = view(65), backward.grad_beta = view(65), backward.rows = 1000, backward.cols = 65;
  EXPECT_EQ(kernels::LayerNormBackwardDispatches(pipelines(), backward)[0].pipeline->shader_name(), "layernorm_back");
}

TEST(LayerNormShapeTest, WorkspaceCount) {
  EXPECT_EQ(kernels::LayerNormBackwardWorkspaceCount(1, 1), 0u);
  EXPECT_EQ(kernels::LayerNormBackwardWorkspaceCount(64, 1000), 0u);
  EXPECT_EQ(kernels::LayerNormBackwardWorkspaceCount(65, 10), 2u * 2 * 10);
  EXPECT_EQ(kernels::LayerNormBackwardWorkspaceCount(4096, 128), 2u * 64 * 128);
  EXPECT_EQ(kernels::LayerNormBackwardWorkspaceCount(1u << 30, 128), 2u * 64 * 128);
}

// The reference backward against central differences (h = 1e-6) of the
// reference forward, for L = sum(w * y) with random w: checks the formula
// itself, including the dependence of mean and rstd on every x, and that
// `add` is added to grad_x.
TEST(LayerNormReferenceTest, BackwardMatchesFiniteDifferences) {
  auto rng = testing::MakeRng();
  for (Shape shape : {Shape{1, 2}, Shape{3, 7}, Shape{4, 33}}) {
    SCOPED_TRACE(Describe(shape));
    const uint32_t rows = shape.rows, cols = shape.cols;
    const size_t n = size_t(rows) * cols;
    LayerNormInputs in = MakeLayerNormInputs(rng, shape);
    std::vector<double> x = ToDouble(in.x), gamma = ToDouble(in.gamma), beta = ToDouble(in.beta);
    std::vector<double> w = ToDouble(testing::RandomFloats(rng, n)), add = ToDouble(testing::RandomFloats(rng, n));
    auto loss = [&] {
      std::vector<double> y = reference::LayerNormForward(x, gamma, beta, rows, cols, 1e-5).y;
      return std::inner_product(y.begin(), y.end(), w.begin(), 0.0);
    };
    const double h = 1e-6;
    auto central = [&](std::vector<double>& v, size_t i) {
      const double saved = v[i];
      v[i] = saved + h;
      const double plus = loss();
      v[i] = saved - h;
      const double minus = loss();
      v[i] = saved;
      return (plus - minus) / (2 * h);
    };
    reference::LayerNormOutput forward = reference::LayerNormForward(x, gamma, beta, rows, cols, 1e-5);
    std::vector<double> no_add;
    reference::LayerNormGradients g =
        reference::LayerNormBackward(w, x, gamma, forward.mean, forward.rstd, no_add, rows, cols);
    reference::LayerNormGradients g_add =
        reference::LayerNormBackward(w, x, gamma, forward.mean, forward.rstd, add, rows, cols);
    for (size_t i = 0; i < n; ++i) {
      const double fd = central(x, i);
      ASSERT_NEAR(g.grad_x[i], fd, 1e-6 * std::max(1.0, std::abs(fd))) << "x[" << i << "]";
      ASSERT_NEAR(g_add.grad_x[i], fd + add[i], 1e-6 * std::max(1.0, std::abs(fd))) << "x[" << i << "] + add";
    }
    for (uint32_t c = 0; c < cols; ++c) {
      ASSERT_NEAR(g.grad_gamma[c], central(gamma, c), 1e-6 * std::max(1.0, std::abs(g.grad_gamma[c])));
      ASSERT_NEAR(g.grad_beta[c], central(beta, c), 1e-6 * std::max(1.0, std::abs(g.grad_beta[c])));
    }
  }
}

// ------------------------------------------------------------------------ Add

class AddTest : public KernelTest {};

TEST_F(AddTest, MatchesReferenceAtOddCounts) {
  auto rng = testing::MakeRng();
  for (uint32_t count : {1u, 3u, 7u, 255u, 256u, 257u, 1000u, 65537u, 1000003u}) {
    SCOPED_TRACE(std::to_string(count));
    std::vector<float> a = testing::RandomFloats(rng, count, -10, 10), b = testing::RandomFloats(rng, count);
    vk::Buffer a_buffer = MakeBuffer(a), b_buffer = MakeBuffer(b), out = MakePoisonedBuffer(count);
    kernels::AddArgs args{WholeBuffer(a_buffer), WholeBuffer(b_buffer), WholeBuffer(out), count};
    vk::Dispatch d = kernels::AddDispatch(pipelines(), args);
    EXPECT_EQ(d.cost.flops, double(count));
    EXPECT_EQ(d.cost.bytes_read, 8.0 * count);
    EXPECT_EQ(d.cost.bytes_written, 4.0 * count);
    Run({std::move(d)});
    ExpectAllNear(ReadAll(out), reference::Add(ToDouble(a), ToDouble(b)), "out");
  }
}

// Views into one buffer (a residual stream's slices): offsets are honoured
// and nothing outside `out` is written.
TEST_F(AddTest, ViewsAtOffsets) {
  auto rng = testing::MakeRng();
  const uint32_t count = 1001, stride = 1024;  // 4096-byte aligned views, any device's storage alignment
  std::vector<float> values = testing::RandomFloats(rng, 4 * stride);
  vk::Buffer buffer = MakeBuffer(values);
  auto view = [&](uint32_t slot) { return TensorRef{&buffer, uint64_t(slot) * stride * 4, count}; };
  Run({kernels::AddDispatch(pipelines(), {view(2), view(0), view(3), count})});
  std::vector<float> after = ReadAll(buffer);
  for (uint32_t i = 0; i < 4 * stride; ++i) {
    const bool in_out = i >= 3 * stride && i < 3 * stride + count;
    const double expected = in_out ? double(values[2 * stride + i - 3 * stride]) + values[i - 3 * stride] : values[i];
    ASSERT_NEAR(after[i], expected, DefaultBound(expected)) << i;
  }
}

// ------------------------------------------------------------------ Grad clip

class GradClipTest : public KernelTest {
 protected:
  struct Result {
    std::vector<float> grads;
    float norm = 0;
  };
  // With `scaler` (mixed precision), `grads` are loss-scaled by its scale.
  Result RunClip(const std::vector<float>& grads, float max_norm, const gpu::LossScaleState* scaler = nullptr) {
    const uint64_t count = grads.size();
    const uint64_t partials = kernels::GradClipWorkspaceCount(context().info(), count);
    vk::Buffer grads_buffer = MakeBuffer(grads), workspace = MakePoisonedBuffer(partials);
    vk::Buffer norm = MakePoisonedBuffer(1);
    vk::Buffer scaler_buffer = MakeBuffer(std::vector<gpu::LossScaleState>{scaler ? *scaler : gpu::LossScaleState{}});
    kernels::GradClipArgs args{WholeBuffer(grads_buffer), WholeBuffer(workspace), WholeBuffer(norm), count, max_norm,
                               scaler ? WholeBuffer(scaler_buffer) : TensorRef{}};
    Run(kernels::GradClipDispatches(pipelines(), args));
    return {ReadAll(grads_buffer), ReadAll(norm)[0]};
  }
  // The norm of the gradient as the GPU left it, in double.
  static double NormOf(const std::vector<float>& grads) {
    double squares = 0;
    for (float g : grads) squares += double(g) * g;
    return std::sqrt(squares);
  }
};

// Counts that do not divide the 256-invocation workgroups, and one whose
// partial sums fill many workspace entries (1000003: 977 partials).
const uint32_t kClipCounts[] = {1u, 7u, 255u, 257u, 1000u, 4097u, 1000003u};

TEST_F(GradClipTest, NormBelowMaxLeavesGradientsUnchanged) {
  auto rng = testing::MakeRng();
  for (uint32_t count : kClipCounts) {
    SCOPED_TRACE(std::to_string(count));
    std::vector<float> grads = testing::RandomFloats(rng, count);
    const reference::GradClipResult ref = reference::ClipGradNorm(ToDouble(grads), 1e4);
    ASSERT_LT(ref.norm, 1e4);
    Result gpu = RunClip(grads, 1e4f);
    EXPECT_NEAR(gpu.norm, ref.norm, 1e-5 * ref.norm);
    EXPECT_EQ(std::memcmp(gpu.grads.data(), grads.data(), grads.size() * sizeof(float)), 0) << "grads changed";
  }
}

TEST_F(GradClipTest, NormAboveMaxScalesToMaxNorm) {
  auto rng = testing::MakeRng();
  for (uint32_t count : kClipCounts) {
    for (float max_norm : {0.5f, 0.01f}) {
      SCOPED_TRACE(std::to_string(count) + " to " + std::to_string(max_norm));
      std::vector<float> grads = testing::RandomFloats(rng, count, -2, 2);
      const reference::GradClipResult ref = reference::ClipGradNorm(ToDouble(grads), max_norm);
      ASSERT_GT(ref.norm, max_norm);
      Result gpu = RunClip(grads, max_norm);
      EXPECT_NEAR(gpu.norm, ref.norm, 1e-5 * ref.norm);
      EXPECT_NEAR(NormOf(gpu.grads), max_norm, 1e-5 * max_norm);
      ExpectAllNear(gpu.grads, ref.grads, "grads", [](size_t, double r) { return 1e-5 * std::abs(r) + 1e-30; });
    }
  }
}

// Mixed precision: the gradients arrive multiplied by the loss scale. The
// norm reported and compared with max_norm is the unscaled one, so the clipped
// gradients, unscaled, are torch's clip_grad_norm_ of the true gradients; a
// step whose gradients overflowed is left alone (the update skips it).
TEST_F(GradClipTest, LossScaledGradientsAreClippedByTheirUnscaledNorm) {
  auto rng = testing::MakeRng();
  for (uint32_t count : {7u, 257u, 4097u, 1000003u})
    for (float max_norm : {0.5f, 1e4f}) {
      SCOPED_TRACE(std::to_string(count) + " to " + std::to_string(max_norm));
      const float loss_scale = 65536;
      std::vector<float> grads = testing::RandomFloats(rng, count, -2, 2), scaled(count);
      for (uint32_t i = 0; i < count; ++i) scaled[i] = grads[i] * loss_scale;  // exact: a power of two
      const reference::GradClipResult ref = reference::ClipGradNorm(ToDouble(grads), max_norm);
      const gpu::LossScaleState scaler{loss_scale, 0, 0, 0};
      Result gpu = RunClip(scaled, max_norm, &scaler);
      EXPECT_NEAR(gpu.norm, ref.norm, 1e-5 * ref.norm);
      for (float& g : gpu.grads) g /= loss_scale;
      ExpectAllNear(gpu.grads, ref.grads, "grads / scale", [](size_t, double r) { return 1e-5 * std::abs(r) + 1e-30; });
    }
  std::vector<float> overflowed = testing::RandomFloats(rng, 1000, -2, 2);
  overflowed[17] = std::numeric_limits<float>::infinity();
  const gpu::LossScaleState found_inf{1024, 0, 1, 0};
  Result gpu = RunClip(overflowed, 0.5f, &found_inf);
  EXPECT_FALSE(std::isfinite(gpu.norm));
  EXPECT_EQ(std::memcmp(gpu.grads.data(), overflowed.data(), overflowed.size() * sizeof(float)), 0) << "grads changed";
}

TEST_F(GradClipTest, ZeroGradientStaysZero) {
  Result gpu = RunClip(std::vector<float>(1000, 0.0f), 1.0f);
  EXPECT_EQ(gpu.norm, 0.0f);
  EXPECT_TRUE(std::all_of(gpu.grads.begin(), gpu.grads.end(), [](float g) { return g == 0.0f; }));
}

// Every sum is taken in a fixed order: the same gradient gives the same bits.
TEST_F(GradClipTest, Deterministic) {
  auto rng = testing::MakeRng();
  std::vector<float> grads = testing::RandomFloats(rng, 1000003, -3, 3);
  Result first = RunClip(grads, 1.0f), second = RunClip(grads, 1.0f);
  EXPECT_EQ(std::memcmp(&first.norm, &second.norm, sizeof(float)), 0);
  EXPECT_EQ(std::memcmp(first.grads.data(), second.grads.data(), grads.size() * sizeof(float)), 0);
}

TEST_F(GradClipTest, WorkspaceAndDeclaredCosts) {
  const vk::DeviceInfo& info = context().info();
  EXPECT_EQ(kernels::GradClipWorkspaceCount(info, 0), 1u);
  EXPECT_EQ(kernels::GradClipWorkspaceCount(info, 1), 1u);
  EXPECT_GT(kernels::GradClipWorkspaceCount(info, 1000003), 1u);
  EXPECT_LE(kernels::GradClipWorkspaceCount(info, uint64_t(1) << 31), 1024u);

  const uint64_t count = 1000003, partials = kernels::GradClipWorkspaceCount(info, count);
  vk::Buffer big(context(), 4 * (count + partials + 1), "costs");  // never run
  kernels::GradClipArgs args{TensorRef{&big, 0, count}, TensorRef{&big, 0, partials}, TensorRef{&big, 0, 1}, count,
                             1.0f};
  std::vector<vk::Dispatch> dispatches = kernels::GradClipDispatches(pipelines(), args);
  ASSERT_EQ(dispatches.size(), 2u);
  EXPECT_GT(dispatches[0].cost.flops, 0);
  EXPECT_EQ(dispatches[0].cost.bytes_read, 4.0 * count);
  EXPECT_EQ(dispatches[0].cost.bytes_written, 4.0 * partials);
  EXPECT_GT(dispatches[1].cost.flops, 0);
  EXPECT_EQ(dispatches[1].cost.bytes_read, 4.0 * (count + partials));
  EXPECT_EQ(dispatches[1].cost.bytes_written, 4.0 * (count + 1));
}

}  // namespace
}  // namespace ts
