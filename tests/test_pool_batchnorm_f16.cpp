// The fp16 (mixed precision) pooling and batch-norm kernels against their
// double-precision references (compute/reference/layers.h) fed the
// fp16-rounded inputs: max / average / global average pooling forward and
// backward (fp16 activations and gradients, uint32 argmax), batch-norm
// training (the fused and the split paths, scalar and vec4) and evaluation
// forward and backward (fp16 x, y, grad_y, grad_x; fp32 parameters,
// statistics, parameter gradients and workspace). Gradients are loss-scaled
// (~1e3), and an Inf in one propagates. Shapes divide no workgroup; every
// output starts poisoned (NaN) and every element is compared.
//
// Bounds: an fp16 output is the fp32 result rounded once, off by at most
// 2^-11 of its magnitude (2^-25 absolute among subnormals), plus the fp32
// arithmetic's error, held to 1e-5 of the magnitude of the terms it sums (as
// test_layers.cpp bounds the fp32 kernels).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "compute/common/half.h"
#include "compute/kernels/batchnorm.h"
#include "compute/kernels/mixed_precision.h"
#include "compute/kernels/pool.h"
#include "compute/reference/layers.h"
#include "support/vulkan_test.h"

namespace ts {
namespace {

using kernels::PoolKind;
using kernels::PoolShape;
using kernels::TensorRef;
using kernels::WholeBuffer;

constexpr uint16_t kHalfNaN = 0x7e00;
constexpr double kHalfRounding = 1.0 / 2048;   // fp16 rounds by at most half its 2^-10 relative spacing
constexpr double kHalfSubnormalRounding = 3e-8;  // half the spacing of fp16 subnormals (2^-24)
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kLossScale = 1024;

std::vector<double> ToDouble(const std::vector<float>& values) { return {values.begin(), values.end()}; }

// Random values an fp16 tensor holds exactly.
std::vector<float> RandomHalfValues(std::mt19937_64& rng, size_t count, float low, float high) {
  std::vector<float> values = testing::RandomFloats(rng, count, low, high);
  for (float& v : values) v = RoundToHalf(v);
  return values;
}

// Every element against the reference: a non-finite reference expects the
// same value (any NaN for NaN; with any_non_finite, any Inf or NaN), a finite
// one |gpu - ref| <= bound(i) (a NaN from the GPU, an unwritten element,
// always fails). Reports the first few.
void ExpectAllWithin(const std::vector<float>& gpu, const std::vector<double>& ref, const std::string& what,
                     const std::function<double(size_t)>& bound, bool any_non_finite = false) {
  ASSERT_EQ(gpu.size(), ref.size()) << what;
  size_t failures = 0;
  for (size_t i = 0; i < gpu.size(); ++i) {
    const bool ok = !std::isfinite(ref[i]) && any_non_finite ? !std::isfinite(gpu[i])
                    : std::isnan(ref[i])                     ? std::isnan(gpu[i])
                    : std::isinf(ref[i])                     ? double(gpu[i]) == ref[i]
                                                             : std::abs(double(gpu[i]) - ref[i]) <= bound(i);
    if (!ok && ++failures <= 5)
      ADD_FAILURE() << what << "[" << i << "]: gpu " << gpu[i] << ", reference " << ref[i] << ", bound " << bound(i);
  }
  EXPECT_EQ(failures, 0u) << what << ": " << failures << " of " << gpu.size() << " elements out of bounds";
}

// The bound of an fp16 output whose fp32 value is within `fp32_error` of `ref`.
double HalfOutputBound(double ref, double fp32_error) {
  return kHalfRounding * (std::abs(ref) + fp32_error) + fp32_error + kHalfSubnormalRounding;
}

class PoolBatchNormF16Test : public testing::VulkanTest {
 protected:
  void SetUp() override {
    VulkanTest::SetUp();
    if (!context().info().fp16_storage) GTEST_SKIP() << kernels::Fp16Unavailable(context().info());
  }

  // fp16 buffers hold whole 4-byte words (an odd count gets a NaN pad).
  vk::Buffer MakeHalfBuffer(const std::vector<float>& values) {
    std::vector<uint16_t> halves(values.size() + values.size() % 2, kHalfNaN);
    for (size_t i = 0; i < values.size(); ++i) halves[i] = FloatToHalf(values[i]);
    return MakeBuffer(halves, "fp16 input");
  }
  vk::Buffer MakePoisonedHalfBuffer(size_t count) {
    return MakeBuffer(std::vector<uint16_t>(count + count % 2, kHalfNaN), "fp16 output");
  }
  std::vector<float> ReadHalves(const vk::Buffer& buffer, size_t count) {
    std::vector<uint16_t> halves = Read<uint16_t>(buffer, count + count % 2);
    std::vector<float> values(count);
    for (size_t i = 0; i < count; ++i) values[i] = HalfToFloat(halves[i]);
    return values;
  }
  std::vector<float> ReadFloats(const vk::Buffer& buffer, size_t count) { return Read<float>(buffer, count); }
  static TensorRef Half(const vk::Buffer& buffer) {
    TensorRef t = WholeBuffer(buffer);
    t.count = buffer.size() / 2;
    t.element_bytes = 2;
    return t;
  }

  std::mt19937_64 rng_ = testing::MakeRng();
};

// ---------------------------------------------------------------- pooling

struct PoolCase {
  const char* name;
  uint32_t height, width, window_h, window_w, stride_h, stride_w, pad_top, pad_bottom, pad_left, pad_right;
};
// Non-overlapping windows leaving a row and column over, overlapping windows
// with padding on an odd non-square input, asymmetric windows, strides and
// padding, and (window 0: the whole image) a global pool.
const PoolCase kPoolCases[] = {
    {"2x2 stride 2 on 7x7", 7, 7, 2, 2, 2, 2, 0, 0, 0, 0},
    {"3x3 stride 2 pad 1 on 13x11", 13, 11, 3, 3, 2, 2, 1, 1, 1, 1},
    {"3x2 stride 2x1 pad (0,1,1,0) on 8x5", 8, 5, 3, 2, 2, 1, 0, 1, 1, 0},
    {"global on 5x7", 5, 7, 0, 0, 0, 0, 0, 0, 0, 0},
};

PoolShape ShapeOf(const PoolCase& c, uint32_t batch, uint32_t channels) {
  if (c.window_h == 0) return kernels::GlobalAveragePoolShape(batch, c.height, c.width, channels);
  PoolShape s;
  s.batch = batch, s.height = c.height, s.width = c.width, s.channels = channels;
  s.window_h = c.window_h, s.window_w = c.window_w, s.stride_h = c.stride_h, s.stride_w = c.stride_w;
  s.pad_top = c.pad_top, s.pad_bottom = c.pad_bottom, s.pad_left = c.pad_left, s.pad_right = c.pad_right;
  return s;
}

std::string Describe(const PoolShape& s) {
  return std::to_string(s.batch) + "x" + std::to_string(s.height) + "x" + std::to_string(s.width) + "x" +
         std::to_string(s.channels);
}

class PoolF16Test : public PoolBatchNormF16Test {
 protected:
  // Forward and backward in one submission (backward reads the forward's
  // argmax); checks the fp16 shaders ran, the declared traffic, and every
  // element of out, argmax and grad_in against the reference.
  void ExpectPoolMatchesReference(PoolKind kind, const PoolShape& shape, const std::vector<float>& input,
                                  const std::vector<float>& grad_out) {
    const bool is_max = kind == PoolKind::kMax;
    const size_t inputs = shape.input_count(), outputs = shape.output_count();
    vk::Buffer input_buffer = MakeHalfBuffer(input), output = MakePoisonedHalfBuffer(outputs);
    vk::Buffer argmax = MakePoisonedBuffer(outputs, "argmax");
    vk::Buffer grad_out_buffer = MakeHalfBuffer(grad_out), grad_in = MakePoisonedHalfBuffer(inputs);
    kernels::PoolArgs forward;
    forward.kind = kind, forward.shape = shape;
    forward.input = Half(input_buffer), forward.output = Half(output);
    if (is_max) forward.argmax = WholeBuffer(argmax);
    kernels::PoolBackwardArgs backward;
    backward.kind = kind, backward.shape = shape;
    backward.grad_out = Half(grad_out_buffer), backward.grad_in = Half(grad_in);
    if (is_max) backward.argmax = WholeBuffer(argmax);
    EXPECT_FALSE(kernels::PoolCanUseVec4(context(), forward));
    EXPECT_FALSE(kernels::PoolCanUseVec4(context(), backward));
    vk::Dispatch f = kernels::PoolDispatch(pipelines(), forward);
    vk::Dispatch g = kernels::PoolBackwardDispatch(pipelines(), backward);
    EXPECT_EQ(f.pipeline->shader_name(), "pool_f16");
    EXPECT_EQ(g.pipeline->shader_name(), "pool_back_f16");
    EXPECT_EQ(f.cost.bytes_read, 2.0 * inputs);
    EXPECT_EQ(f.cost.bytes_written, 2.0 * outputs + (is_max ? 4.0 * outputs : 0));
    EXPECT_EQ(g.cost.bytes_read, 2.0 * outputs + (is_max ? 4.0 * outputs : 0));
    EXPECT_EQ(g.cost.bytes_written, 2.0 * inputs);
    Run({f, g});

    reference::PoolOutput ref = reference::PoolForward(kind, shape, ToDouble(input));
    std::vector<double> abs_input(inputs), abs_grad(outputs);
    for (size_t i = 0; i < inputs; ++i) abs_input[i] = std::abs(input[i]);
    for (size_t o = 0; o < outputs; ++o) abs_grad[o] = std::abs(grad_out[o]);
    // Max copies an fp16 input exactly; average is a rounded fp32 mean.
    std::vector<double> input_magnitude = reference::PoolForward(PoolKind::kAverage, shape, abs_input).out;
    ExpectAllWithin(ReadHalves(output, outputs), ref.out, "out", [&](size_t o) {
      return is_max ? 0.0 : HalfOutputBound(ref.out[o], 1e-5 * input_magnitude[o]);
    });
    if (is_max) {
      std::vector<uint32_t> got = Read<uint32_t>(argmax, outputs);
      size_t wrong = 0;
      for (size_t o = 0; o < outputs; ++o) wrong += got[o] != ref.argmax[o];
      EXPECT_EQ(wrong, 0u) << "argmax differs in " << wrong << " of " << outputs << " outputs";
    }
    std::vector<double> ref_grad = reference::PoolBackward(kind, shape, ToDouble(grad_out), ref.argmax);
    std::vector<double> grad_magnitude = reference::PoolBackward(kind, shape, abs_grad, ref.argmax);
    ExpectAllWithin(ReadHalves(grad_in, inputs), ref_grad, "grad_in", [&](size_t i) {
      return HalfOutputBound(ref_grad[i], 1e-5 * grad_magnitude[i]);
    });
  }
};

TEST_F(PoolF16Test, MaxAverageAndGlobalMatchTheReferenceWithLossScaledGradients) {
  for (PoolKind kind : {PoolKind::kMax, PoolKind::kAverage})
    for (const PoolCase& pool_case : kPoolCases)
      for (uint32_t batch : {1u, 3u})
        for (uint32_t channels : {1u, 3u, 5u, 17u, 64u}) {
          const PoolShape shape = ShapeOf(pool_case, batch, channels);
          SCOPED_TRACE(std::string(kernels::PoolName(kind)) + " " + pool_case.name + " " + Describe(shape));
          ASSERT_EQ(kernels::PoolShapeProblem(shape), "");
          ExpectPoolMatchesReference(kind, shape, RandomHalfValues(rng_, shape.input_count(), -2, 3),
                                     RandomHalfValues(rng_, shape.output_count(), -kLossScale, kLossScale));
        }
}

// Ties (max takes the first in window order) are common in fp16: few values.
TEST_F(PoolF16Test, MaxTiesGoToTheFirstInWindowOrder) {
  const PoolShape shape = ShapeOf(kPoolCases[1], 2, 5);
  std::vector<float> input(shape.input_count());
  for (float& v : input) v = float(rng_() % 3);
  ExpectPoolMatchesReference(PoolKind::kMax, shape, input,
                             RandomHalfValues(rng_, shape.output_count(), -kLossScale, kLossScale));
}

// An overflowed (Inf) gradient reaches the inputs it flows to, and a NaN
// input wins max pooling and spreads through an average, as in fp32.
TEST_F(PoolF16Test, InfAndNanPropagate) {
  for (PoolKind kind : {PoolKind::kMax, PoolKind::kAverage})
    for (const PoolCase& pool_case : kPoolCases) {
      const PoolShape shape = ShapeOf(pool_case, 2, 3);
      SCOPED_TRACE(std::string(kernels::PoolName(kind)) + " " + pool_case.name);
      std::vector<float> input = RandomHalfValues(rng_, shape.input_count(), -2, 3);
      std::vector<float> grad_out = RandomHalfValues(rng_, shape.output_count(), -kLossScale, kLossScale);
      input[shape.input_count() / 2] = std::numeric_limits<float>::quiet_NaN();
      grad_out[1] = std::numeric_limits<float>::infinity();
      grad_out[shape.output_count() - 1] = -std::numeric_limits<float>::infinity();
      ExpectPoolMatchesReference(kind, shape, input, grad_out);
    }
}

// ---------------------------------------------------------------- batch normalisation

struct BatchNormShape {
  uint32_t rows, channels;
};
std::string Describe(BatchNormShape s) { return std::to_string(s.rows) + "x" + std::to_string(s.channels); }

// Up to 512 rows training runs fused, more split into row blocks (513: two
// uneven blocks; 4099: nine, the last short); C % 4 == 0 runs the vec4 builds.
const BatchNormShape kBatchNormShapes[] = {{2, 1},   {2, 17},   {5, 3},    {5, 64},    {37, 5},   {512, 17},
                                           {513, 3}, {513, 16}, {1000, 1}, {1000, 64}, {4099, 5}, {700, 12}};

struct BatchNormInputs {
  std::vector<float> x, gamma, beta, running_mean, running_var;  // x fp16-exact
};

class BatchNormF16Test : public PoolBatchNormF16Test {
 protected:
  BatchNormInputs MakeInputs(BatchNormShape s, float offset = 0.0f) {
    BatchNormInputs in{RandomHalfValues(rng_, size_t(s.rows) * s.channels, -2.0f + offset, 3.0f + offset),
                       testing::RandomFloats(rng_, s.channels, -1.5f, 1.5f), testing::RandomFloats(rng_, s.channels),
                       testing::RandomFloats(rng_, s.channels), testing::RandomFloats(rng_, s.channels, 0.5f, 2.0f)};
    return in;
  }

  static std::string ExpectedShader(const char* kernel, const char* phase, uint32_t channels) {
    return std::string(kernel) + "_" + phase + (channels % 4 == 0 ? "_vec4" : "") + "_f16";
  }

  // Training (split through the workspace past 512 rows unless
  // single_dispatch) or evaluation, against the reference on the fp16 x.
  void ExpectForwardMatchesReference(const BatchNormInputs& in, BatchNormShape s, bool training,
                                     bool single_dispatch) {
    const size_t n = size_t(s.rows) * s.channels;
    vk::Buffer x = MakeHalfBuffer(in.x), y = MakePoisonedHalfBuffer(n);
    vk::Buffer gamma = MakeBuffer(in.gamma), beta = MakeBuffer(in.beta);
    vk::Buffer running_mean = MakeBuffer(in.running_mean), running_var = MakeBuffer(in.running_var);
    vk::Buffer saved_mean = MakePoisonedBuffer(s.channels), saved_inv_std = MakePoisonedBuffer(s.channels);
    vk::Buffer workspace = MakePoisonedBuffer(kernels::BatchNormWorkspaceCount(s.rows, s.channels));
    kernels::BatchNormArgs args;
    args.x = Half(x), args.y = Half(y), args.gamma = WholeBuffer(gamma), args.beta = WholeBuffer(beta);
    args.running_mean = WholeBuffer(running_mean), args.running_var = WholeBuffer(running_var);
    if (training) args.saved_mean = WholeBuffer(saved_mean), args.saved_inv_std = WholeBuffer(saved_inv_std);
    args.rows = s.rows, args.channels = s.channels, args.training = training;
    if (!single_dispatch) args.workspace = WholeBuffer(workspace);
    std::vector<vk::Dispatch> dispatches = single_dispatch ? std::vector<vk::Dispatch>{kernels::BatchNormDispatch(pipelines(), args)}
                                                           : kernels::BatchNormDispatches(pipelines(), args);
    const bool split = training && !single_dispatch && s.rows > 512;
    EXPECT_EQ(dispatches.size(), split ? 2u : 1u);
    const char* phase = !training ? "evaluation" : split ? "normalize" : "fused";
    EXPECT_EQ(dispatches.back().pipeline->shader_name(), ExpectedShader("batchnorm", phase, s.channels));
    if (split) {
      EXPECT_EQ(dispatches[0].pipeline->shader_name(), ExpectedShader("batchnorm", "statistics", s.channels));
      EXPECT_EQ(dispatches[0].cost.bytes_read, 2.0 * n);
    }
    const double c = s.channels, partials = split ? 2.0 * kernels::BatchNormRowBlocks(s.rows) * c : 0;
    EXPECT_EQ(dispatches.back().cost.bytes_read, 2.0 * n + 16 * c + 4 * partials * (split ? kernels::BatchNormRowBlocks(s.rows) : 0));
    EXPECT_EQ(dispatches.back().cost.bytes_written, 2.0 * n + (training ? 16 * c : 0));
    Run(std::move(dispatches));

    reference::BatchNormOutput ref =
        reference::BatchNormForward(ToDouble(in.x), ToDouble(in.gamma), ToDouble(in.beta), ToDouble(in.running_mean),
                                    ToDouble(in.running_var), s.rows, s.channels, training, 1e-5, 0.1);
    auto default_bound = [](double r) { return 1e-5 * std::max(1.0, std::abs(r)); };
    // y: the fp32 statistics' error (as test_layers.cpp: the default bound
    // plus the fp32 mean's half ulp moving x - mean), then fp16 rounding.
    ExpectAllWithin(ReadHalves(y, n), ref.y, "y", [&](size_t i) {
      const size_t ch = i % s.channels;
      const double inv_std = training ? ref.inv_std[ch] : 1 / std::sqrt(double(in.running_var[ch]) + 1e-5);
      const double mean = training ? ref.mean[ch] : in.running_mean[ch];
      return HalfOutputBound(ref.y[i], default_bound(ref.y[i]) + std::ldexp(std::abs(mean), -23) * inv_std *
                                                                     std::abs(in.gamma[ch]));
    });
    std::vector<float> got_running_mean = ReadFloats(running_mean, s.channels);
    std::vector<float> got_running_var = ReadFloats(running_var, s.channels);
    if (training) {
      auto bound = [&](const std::vector<double>& r) { return [&](size_t ch) { return default_bound(r[ch]); }; };
      ExpectAllWithin(ReadFloats(saved_mean, s.channels), ref.mean, "saved_mean", bound(ref.mean));
      ExpectAllWithin(ReadFloats(saved_inv_std, s.channels), ref.inv_std, "saved_inv_std", bound(ref.inv_std));
      ExpectAllWithin(got_running_mean, ref.running_mean, "running_mean", bound(ref.running_mean));
      ExpectAllWithin(got_running_var, ref.running_var, "running_var", bound(ref.running_var));
    } else {
      // Evaluation leaves the running statistics alone.
      ExpectAllWithin(got_running_mean, ToDouble(in.running_mean), "running_mean", [](size_t) { return 0.0; });
      ExpectAllWithin(got_running_var, ToDouble(in.running_var), "running_var", [](size_t) { return 0.0; });
    }
  }

  // Backward from the reference's statistics rounded to fp32 (as the forward
  // stores them), with loss-scaled grad_y, against the reference backward.
  void ExpectBackwardMatchesReference(BatchNormShape s, bool single_dispatch, std::vector<float> grad_y = {}) {
    const uint32_t rows = s.rows, channels = s.channels;
    const size_t n = size_t(rows) * channels;
    BatchNormInputs in = MakeInputs(s);
    reference::BatchNormOutput forward =
        reference::BatchNormForward(ToDouble(in.x), ToDouble(in.gamma), ToDouble(in.beta), ToDouble(in.running_mean),
                                    ToDouble(in.running_var), rows, channels, true, 1e-5, 0.1);
    std::vector<float> mean(forward.mean.begin(), forward.mean.end());
    std::vector<float> inv_std(forward.inv_std.begin(), forward.inv_std.end());
    if (grad_y.empty()) grad_y = RandomHalfValues(rng_, n, -kLossScale, kLossScale);

    vk::Buffer grad_y_buffer = MakeHalfBuffer(grad_y), x = MakeHalfBuffer(in.x), gamma = MakeBuffer(in.gamma);
    vk::Buffer mean_buffer = MakeBuffer(mean), inv_std_buffer = MakeBuffer(inv_std);
    vk::Buffer grad_x = MakePoisonedHalfBuffer(n), grad_gamma = MakePoisonedBuffer(channels),
               grad_beta = MakePoisonedBuffer(channels);
    vk::Buffer workspace = MakePoisonedBuffer(kernels::BatchNormWorkspaceCount(rows, channels));
    kernels::BatchNormBackwardArgs args;
    args.grad_y = Half(grad_y_buffer), args.x = Half(x), args.gamma = WholeBuffer(gamma);
    args.saved_mean = WholeBuffer(mean_buffer), args.saved_inv_std = WholeBuffer(inv_std_buffer);
    args.grad_x = Half(grad_x), args.grad_gamma = WholeBuffer(grad_gamma), args.grad_beta = WholeBuffer(grad_beta);
    args.rows = rows, args.channels = channels;
    if (!single_dispatch) args.workspace = WholeBuffer(workspace);
    std::vector<vk::Dispatch> dispatches =
        single_dispatch ? std::vector<vk::Dispatch>{kernels::BatchNormBackwardDispatch(pipelines(), args)}
                        : kernels::BatchNormBackwardDispatches(pipelines(), args);
    const bool split = !single_dispatch && rows > 512;
    EXPECT_EQ(dispatches.size(), split ? 2u : 1u);
    EXPECT_EQ(dispatches.back().pipeline->shader_name(),
              ExpectedShader("batchnorm_back", split ? "apply" : "fused", channels));
    if (split) {
      EXPECT_EQ(dispatches[0].pipeline->shader_name(), ExpectedShader("batchnorm_back", "sums", channels));
      EXPECT_EQ(dispatches[0].cost.bytes_read, 4.0 * n + 8.0 * channels);
    }
    EXPECT_EQ(dispatches.back().cost.bytes_written, 2.0 * n + 8.0 * channels);
    Run(std::move(dispatches));

    reference::BatchNormGradients ref = reference::BatchNormBackward(
        ToDouble(grad_y), ToDouble(in.x), ToDouble(in.gamma), ToDouble(mean), ToDouble(inv_std), rows, channels);
    std::vector<double> beta_terms(channels, 0.0), gamma_terms(channels, 0.0), xhat(n);
    for (size_t i = 0; i < n; ++i) {
      const size_t c = i % channels;
      xhat[i] = (double(in.x[i]) - mean[c]) * inv_std[c];
      beta_terms[c] += std::abs(grad_y[i]);
      gamma_terms[c] += std::abs(grad_y[i] * xhat[i]);
    }
    // The parameter gradients are fp32 sums; grad_x cancels, so its fp32
    // error scales with gamma * inv_std times its terms, then rounds to fp16.
    // An Inf in grad_y may come out as NaN (the compensated sums' correction
    // is Inf - Inf): any non-finite value propagates it.
    ExpectAllWithin(ReadFloats(grad_beta, channels), ref.grad_beta, "grad_beta",
                    [&](size_t c) { return 1e-5 * std::max(1.0, beta_terms[c]); }, true);
    ExpectAllWithin(ReadFloats(grad_gamma, channels), ref.grad_gamma, "grad_gamma",
                    [&](size_t c) { return 1e-5 * std::max(1.0, gamma_terms[c]); }, true);
    ExpectAllWithin(ReadHalves(grad_x, n), ref.grad_x, "grad_x", [&](size_t i) {
      const size_t c = i % channels;
      const double terms = std::abs(grad_y[i]) + std::abs(ref.grad_beta[c] / rows) +
                           std::abs(xhat[i] * ref.grad_gamma[c] / rows);
      return HalfOutputBound(ref.grad_x[i], 1e-5 * std::max(1.0, std::abs(in.gamma[c]) * inv_std[c] * terms));
    }, true);
  }
};

TEST_F(BatchNormF16Test, TrainingForwardMatchesTheReferenceFusedAndSplit) {
  for (BatchNormShape shape : kBatchNormShapes)
    for (bool single_dispatch : {false, true}) {
      if (single_dispatch && shape.rows <= 512) continue;  // the same fused dispatch
      SCOPED_TRACE(Describe(shape) + (single_dispatch ? " in one dispatch" : ""));
      ExpectForwardMatchesReference(MakeInputs(shape), shape, /*training=*/true, single_dispatch);
    }
}

// fp16 data far from zero (|mean| ~ 100 std): the two-pass fp32 statistics
// of the fp16 values stay accurate.
TEST_F(BatchNormF16Test, TrainingForwardIsAccurateFarFromZero) {
  for (BatchNormShape shape : {BatchNormShape{1000, 3}, BatchNormShape{4099, 16}, BatchNormShape{300, 5}}) {
    SCOPED_TRACE(Describe(shape));
    ExpectForwardMatchesReference(MakeInputs(shape, 100.0f), shape, /*training=*/true, false);
  }
}

TEST_F(BatchNormF16Test, EvaluationForwardUsesRunningStatistics) {
  for (BatchNormShape shape : {BatchNormShape{1, 1}, BatchNormShape{1, 64}, BatchNormShape{5, 3}, BatchNormShape{5, 12},
                               BatchNormShape{1000, 17}, BatchNormShape{333, 64}}) {
    SCOPED_TRACE(Describe(shape));
    ExpectForwardMatchesReference(MakeInputs(shape), shape, /*training=*/false, false);
  }
}

TEST_F(BatchNormF16Test, BackwardMatchesTheReferenceWithLossScaledGradients) {
  for (BatchNormShape shape : kBatchNormShapes)
    for (bool single_dispatch : {false, true}) {
      if (single_dispatch && shape.rows <= 512) continue;
      SCOPED_TRACE(Describe(shape) + (single_dispatch ? " in one dispatch" : ""));
      ExpectBackwardMatchesReference(shape, single_dispatch);
    }
}

// An Inf in grad_y (an overflowed loss-scaled gradient) makes its channel's
// grad_beta, grad_gamma and grad_x non-finite, as in the reference, and leaves
// the other channels as without it: the step is skipped later.
TEST_F(BatchNormF16Test, InfInGradYPropagatesToItsChannel) {
  for (BatchNormShape shape : {BatchNormShape{37, 5}, BatchNormShape{1000, 3}, BatchNormShape{700, 12},
                               BatchNormShape{5, 64}})
    for (bool single_dispatch : {false, true}) {
      SCOPED_TRACE(Describe(shape) + (single_dispatch ? " in one dispatch" : ""));
      std::vector<float> grad_y = RandomHalfValues(rng_, size_t(shape.rows) * shape.channels, -kLossScale, kLossScale);
      grad_y[size_t(shape.rows / 2) * shape.channels + 1] = std::numeric_limits<float>::infinity();
      ExpectBackwardMatchesReference(shape, single_dispatch, grad_y);
    }
}

}  // namespace
}  // namespace ts
