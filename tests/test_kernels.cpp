// The elementwise kernel families against their double-precision references
// (compute/reference/elementwise.h): the losses and metrics, the optimizers,
// seeded init and the batch gather (bias + activation: test_activation.cpp).
// The bounds are those of tests/support/kernel_test.h unless a test says why.
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
#include "support/kernel_test.h"
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
using namespace kernel_tests;

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
    case InitKind::kNormal002: return 0.02;
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
        if (flip) {
          EXPECT_GT(mirrored, 0u) << "no row of the batch was mirrored";
        }
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
