// The mixed-precision kernels against double-precision CPU references: the
// fp16 cast (every fp16 value, rounding at the edges), the fp16 matmul in all
// four transpose forms and both variants with fp16 and fp32 outputs (and the
// tensor-core variant where the device has one: a GPU check), the fp16
// bias + activation forward and backward, dropout and loss head, the loss
// scaler's check and update (GradScaler's rule) and the loss-scaled update.
// Inputs are fresh random values rounded to fp16 (what an fp16 tensor can
// hold); shapes divide no workgroup or tile; every output starts poisoned.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "compute/common/half.h"
#include "compute/common/error.h"
#include "compute/kernels/activation.h"
#include "compute/kernels/autotune.h"
#include "compute/kernels/dropout.h"
#include "compute/kernels/loss.h"
#include "compute/kernels/matmul.h"
#include "compute/kernels/mixed_precision.h"
#include "compute/kernels/optimizer.h"
#include "compute/reference/elementwise.h"
#include "compute/reference/layers.h"
#include "compute/reference/matmul.h"
#include "shaders/step_params.h"
#include "support/vulkan_test.h"

namespace ts {
namespace {

using kernels::TensorRef;
using testing::VulkanTest;

constexpr uint16_t kHalfNaN = 0x7e00;
// Relative spacing of fp16 values: storing rounds by at most half of it.
constexpr double kHalfEpsilon = 1.0 / 1024;

std::vector<uint16_t> ToHalves(const std::vector<float>& values) {
  std::vector<uint16_t> halves(values.size());
  for (size_t i = 0; i < values.size(); ++i) halves[i] = FloatToHalf(values[i]);
  return halves;
}

std::vector<float> FromHalves(const std::vector<uint16_t>& halves) {
  std::vector<float> values(halves.size());
  for (size_t i = 0; i < halves.size(); ++i) values[i] = HalfToFloat(halves[i]);
  return values;
}

// Random values that an fp16 tensor holds exactly.
std::vector<float> RandomHalfValues(std::mt19937_64& rng, size_t count, float low = -1.0f, float high = 1.0f) {
  std::vector<float> values = testing::RandomFloats(rng, count, low, high);
  for (float& v : values) v = RoundToHalf(v);
  return values;
}

struct Shape {
  uint32_t m, n, k;
};

class MixedPrecisionTest : public VulkanTest {
 protected:
  void ExpectFp16MatmulMatches(kernels::MatmulVariant variant, const Shape& s);

  void SetUp() override {
    VulkanTest::SetUp();
    if (!context().info().fp16_storage) GTEST_SKIP() << kernels::Fp16Unavailable(context().info());
  }

  // A device buffer of fp16 values (padded to whole 4-byte words).
  vk::Buffer MakeHalfBuffer(const std::vector<float>& values, const std::string& name) {
    std::vector<uint16_t> halves = ToHalves(values);
    if (halves.size() % 2) halves.push_back(kHalfNaN);
    return MakeBuffer(halves, name);
  }
  vk::Buffer MakePoisonedHalfBuffer(size_t count, const std::string& name) {
    return MakeBuffer(std::vector<uint16_t>(count + count % 2, kHalfNaN), name);
  }
  std::vector<float> ReadHalves(const vk::Buffer& buffer, size_t count) {
    std::vector<uint16_t> halves = Read<uint16_t>(buffer, count + count % 2);
    halves.resize(count);
    return FromHalves(halves);
  }
  static TensorRef Half(const vk::Buffer& buffer) {
    TensorRef t = kernels::WholeBuffer(buffer);
    t.count = buffer.size() / 2;
    t.element_bytes = 2;
    return t;
  }

  std::mt19937_64 rng_ = testing::MakeRng();
};

// |value - reference| within `relative` of max(|reference|, scale) plus
// `absolute`; NaN (an unwritten element) always fails. Reports the first few.
int CountMismatches(const std::vector<float>& values, const std::vector<double>& reference, double relative,
                    const std::vector<double>& scale, double absolute, const std::string& what) {
  int failures = 0;
  for (size_t i = 0; i < reference.size(); ++i) {
    const double bound = relative * std::max(std::abs(reference[i]), scale.empty() ? 0.0 : scale[i]) + absolute;
    const double error = std::abs(double(values[i]) - reference[i]);
    if (!(error <= bound)) {
      if (failures < 5)
        ADD_FAILURE() << what << "[" << i << "] = " << values[i] << ", reference " << reference[i] << " (error "
                      << error << " > " << bound << ")";
      ++failures;
    }
  }
  return failures;
}

TEST_F(MixedPrecisionTest, CastRoundsEveryValueAsTheHostDoesAndWidensEveryHalfExactly) {
  // fp32 -> fp16: random values over the whole fp16 range and the edges.
  std::vector<float> values = testing::RandomFloats(rng_, 4099, -70000.0f, 70000.0f);
  std::vector<float> small = testing::RandomFloats(rng_, 2001, -1e-4f, 1e-4f);  // subnormal fp16s
  values.insert(values.end(), small.begin(), small.end());
  for (float edge : {0.0f, -0.0f, 65504.0f, 65519.0f, 65520.0f, -65520.0f, 5.96e-8f, 2.98e-8f, 2.99e-8f, 6.1e-5f,
                     std::numeric_limits<float>::infinity(), 1.0f + 1.0f / 2048, 1.0f + 3.0f / 2048})
    values.push_back(edge);
  vk::Buffer source = MakeBuffer(values, "fp32 values");
  vk::Buffer halves = MakePoisonedHalfBuffer(values.size(), "fp16 values");
  vk::Dispatch to_half = kernels::CastDispatch(pipelines(), kernels::WholeBuffer(source), Half(halves), values.size());
  EXPECT_EQ(to_half.cost.bytes_read, 4.0 * values.size());
  EXPECT_EQ(to_half.cost.bytes_written, 2.0 * values.size());
  Run({to_half});
  std::vector<uint16_t> got = Read<uint16_t>(halves, values.size());
  int failures = 0;
  for (size_t i = 0; i < values.size(); ++i)
    if (got[i] != FloatToHalf(values[i]) && failures++ < 5)
      ADD_FAILURE() << values[i] << " became fp16 bits " << std::hex << got[i] << ", expected " << FloatToHalf(values[i]);
  EXPECT_EQ(failures, 0);

  // fp16 -> fp32: every one of the 65536 bit patterns.
  std::vector<uint16_t> every(65536);
  for (uint32_t h = 0; h < every.size(); ++h) every[h] = static_cast<uint16_t>(h);
  vk::Buffer every_buffer = MakeBuffer(every, "every fp16");
  vk::Buffer widened = MakePoisonedBuffer(every.size(), "widened");
  Run({kernels::CastDispatch(pipelines(), Half(every_buffer), kernels::WholeBuffer(widened), every.size())});
  std::vector<float> wide = Read<float>(widened, every.size());
  failures = 0;
  for (uint32_t h = 0; h < every.size(); ++h) {
    const float expected = HalfToFloat(static_cast<uint16_t>(h));
    const bool same = std::isnan(expected) ? std::isnan(wide[h]) : std::memcmp(&expected, &wide[h], 4) == 0;
    if (!same && failures++ < 5) ADD_FAILURE() << "fp16 " << std::hex << h << " widened to " << wide[h];
  }
  EXPECT_EQ(failures, 0);
}

// The relative error of a tensor core's fp32 sum of k products: at most k
// ulps, since its additions may truncate instead of rounding.
double CooperativeSumBound(uint32_t k) { return std::max(1e-5, k * 0x1p-23); }

// One fp16 matmul of `variant` against the double reference: the four
// transpose forms, fp16 and fp32 C, and dW += X^T dZ with an fp32 C.
void MixedPrecisionTest::ExpectFp16MatmulMatches(kernels::MatmulVariant variant, const Shape& s) {
  for (int form = 0; form < 4; ++form)
    for (bool half_c : {true, false}) {
      const bool ta = form & 1, tb = form & 2;
      const bool accumulate = !half_c && form == 1;  // dW += X^T dZ: fp32 C accumulated
      SCOPED_TRACE(std::string(kernels::MatmulVariantName(variant)) + " M=" + std::to_string(s.m) +
                   " N=" + std::to_string(s.n) + " K=" + std::to_string(s.k) + (ta ? " A^T" : " A") +
                   (tb ? " B^T" : " B") + (half_c ? " C fp16" : " C fp32") + (accumulate ? " +=" : ""));
      std::vector<float> a = RandomHalfValues(rng_, size_t(s.m) * s.k), b = RandomHalfValues(rng_, size_t(s.k) * s.n);
      std::vector<float> c_in = accumulate ? testing::RandomFloats(rng_, size_t(s.m) * s.n) : std::vector<float>{};
      vk::Buffer a_buffer = MakeHalfBuffer(a, "A"), b_buffer = MakeHalfBuffer(b, "B");
      vk::Buffer c_buffer = half_c       ? MakePoisonedHalfBuffer(size_t(s.m) * s.n, "C")
                            : accumulate ? MakeBuffer(c_in, "C")
                                         : MakePoisonedBuffer(size_t(s.m) * s.n, "C");
      TensorRef c = half_c ? Half(c_buffer) : kernels::WholeBuffer(c_buffer);
      kernels::MatmulArgs args{Half(a_buffer), Half(b_buffer), c, s.m, s.n, s.k, ta, tb, accumulate};
      vk::Dispatch d = kernels::MatmulDispatch(pipelines(), args, variant);
      const double mn = double(s.m) * s.n;
      EXPECT_EQ(d.cost.bytes_read, 2.0 * (double(s.m) * s.k + double(s.k) * s.n) + (accumulate ? 4 * mn : 0));
      EXPECT_EQ(d.cost.bytes_written, (half_c ? 2 : 4) * mn);
      Run({d});
      reference::MatmulShape shape{s.m, s.n, s.k, ta, tb};
      std::vector<double> ref = reference::Matmul(a, b, shape, c_in);
      std::vector<double> magnitude = reference::MatmulTermMagnitudes(a, b, shape);
      for (size_t e = 0; e < c_in.size(); ++e) magnitude[e] += std::abs(c_in[e]);
      std::vector<float> got = half_c ? ReadHalves(c_buffer, ref.size()) : Read<float>(c_buffer, ref.size());
      // fp32 sums (1e-5 of the terms' magnitude), then fp16 rounding of C.
      // Tensor cores may truncate their fp32 sums: K ulps of them.
      const double sums = variant == kernels::MatmulVariant::kCooperativeMatrix ? CooperativeSumBound(s.k) : 1e-5;
      int failures = 0;
      for (size_t e = 0; e < ref.size(); ++e) {
        const double allowed =
            sums * magnitude[e] * (1 + kHalfEpsilon) + (half_c ? kHalfEpsilon / 2 * std::abs(ref[e]) + 6e-8 : 1e-30);
        if (!(std::abs(double(got[e]) - ref[e]) <= allowed) && failures++ < 5)
          ADD_FAILURE() << "C[" << e / s.n << "][" << e % s.n << "] = " << got[e] << ", reference " << ref[e];
      }
      EXPECT_EQ(failures, 0);
    }
}

TEST_F(MixedPrecisionTest, Fp16MatmulMatchesTheReferenceInEveryFormWithFp16AndFp32Outputs) {
  const Shape shapes[] = {{7, 33, 129}, {33, 7, 1}, {64, 128, 20}, {37, 53, 71}, {8, 12, 16}, {1, 300, 9}};
  for (kernels::MatmulVariant variant : {kernels::MatmulVariant::kRegisterBlocked, kernels::MatmulVariant::kSharedTiled})
    for (const Shape& s : shapes) ExpectFp16MatmulMatches(variant, s);
}

// Tensor cores: only where the device lists the cooperative matrices the
// kernel uses (a GPU check; lavapipe has none, so here the test is skipped).
// Shapes span several 64 x 64 tiles and 32-deep slices, divide none of them,
// and include one smaller than a single 16 x 16 matrix.
TEST_F(MixedPrecisionTest, CooperativeMatrixMatmulMatchesTheReferenceInEveryForm) {
  if (!context().info().cooperative_matrix_fp16)
    GTEST_SKIP() << "'" << context().info().name << "' has no usable cooperative matrices (tensor cores)";
  const Shape shapes[] = {{7, 33, 129}, {33, 7, 1}, {64, 128, 20}, {130, 67, 200}, {8, 12, 16}, {1, 300, 9},
                          {257, 129, 65}, {64, 64, 64}};
  for (const Shape& s : shapes) ExpectFp16MatmulMatches(kernels::MatmulVariant::kCooperativeMatrix, s);
  // The autotuner's second tiling (4 x 2 subgroups) too, at an odd shape.
  std::vector<float> a = RandomHalfValues(rng_, 150 * 70), b = RandomHalfValues(rng_, 70 * 90);
  vk::Buffer a_buffer = MakeHalfBuffer(a, "A"), b_buffer = MakeHalfBuffer(b, "B");
  vk::Buffer c_buffer = MakePoisonedBuffer(150 * 90, "C");
  kernels::MatmulArgs args{Half(a_buffer), Half(b_buffer), kernels::WholeBuffer(c_buffer), 150, 90, 70};
  Run({kernels::MatmulDispatch(pipelines(), args, kernels::MatmulVariant::kCooperativeMatrix, {2, 4, 32, 32, 32})});
  std::vector<double> ref = reference::Matmul(a, b, {150, 90, 70, false, false}, {});
  std::vector<double> magnitude = reference::MatmulTermMagnitudes(a, b, {150, 90, 70, false, false});
  std::vector<float> got = Read<float>(c_buffer, ref.size());
  for (size_t e = 0; e < ref.size(); ++e)
    ASSERT_NEAR(got[e], ref[e], CooperativeSumBound(70) * magnitude[e] + 1e-30) << "C element " << e;
}

// Everywhere: the tensor-core kernel is offered (to the autotuner) exactly
// where the device has it, only for fp16 products, and asking for it anywhere
// else is refused with a reason instead of failing in the driver.
TEST_F(MixedPrecisionTest, CooperativeMatrixMatmulIsOfferedOnlyWhereTheDeviceHasIt) {
  const vk::DeviceInfo& device = context().info();
  auto offers = [&](bool half) {
    kernels::MatmulShape shape{100, 120, 140, false, false, half, true};
    for (const kernels::MatmulCandidate& c : kernels::MatmulCandidates(device, shape))
      if (c.variant == kernels::MatmulVariant::kCooperativeMatrix) return true;
    return false;
  };
  EXPECT_FALSE(offers(false));
  EXPECT_EQ(offers(true), device.cooperative_matrix_fp16);
  vk::Buffer a = MakeHalfBuffer(RandomHalfValues(rng_, 16 * 16), "A"), c = MakePoisonedBuffer(16 * 16, "C");
  vk::Buffer a32 = MakeBuffer(testing::RandomFloats(rng_, 16 * 16), "A fp32");
  const kernels::MatmulArgs fp32{kernels::WholeBuffer(a32), kernels::WholeBuffer(a32), kernels::WholeBuffer(c), 16, 16, 16};
  EXPECT_NE(kernels::MatmulVariantUnavailable(device, fp32, kernels::MatmulVariant::kCooperativeMatrix).find("fp16"),
            std::string::npos);
  EXPECT_THROW(kernels::MatmulDispatch(pipelines(), fp32, kernels::MatmulVariant::kCooperativeMatrix), Error);
  const kernels::MatmulArgs fp16{Half(a), Half(a), kernels::WholeBuffer(c), 16, 16, 16};
  const std::string why = kernels::MatmulVariantUnavailable(device, fp16, kernels::MatmulVariant::kCooperativeMatrix);
  EXPECT_EQ(why.empty(), device.cooperative_matrix_fp16) << why;
  if (!device.cooperative_matrix_fp16) {
    EXPECT_NE(why.find(device.name), std::string::npos) << why;
    EXPECT_NE(why.find("VK_NV_cooperative_matrix"), std::string::npos) << why;
    EXPECT_THROW(kernels::MatmulDispatch(pipelines(), fp16, kernels::MatmulVariant::kCooperativeMatrix), Error);
  }
  for (kernels::MatmulVariant other : {kernels::MatmulVariant::kRegisterBlocked, kernels::MatmulVariant::kSharedTiled})
    EXPECT_EQ(kernels::MatmulVariantUnavailable(device, fp16, other), "");
}

TEST_F(MixedPrecisionTest, Fp16BiasActivationForwardAndBackwardMatchTheReference) {
  const kernels::Activation activations[] = {kernels::Activation::kIdentity, kernels::Activation::kRelu,
                                             kernels::Activation::kLeakyRelu, kernels::Activation::kSigmoid,
                                             kernels::Activation::kTanh, kernels::Activation::kGelu};
  const std::pair<uint32_t, uint32_t> shapes[] = {{37, 13}, {5, 130}, {300, 3}, {1, 1}};
  for (kernels::Activation activation : activations)
    for (auto [rows, cols] : shapes) {
      SCOPED_TRACE(std::string(kernels::ActivationName(activation)) + " " + std::to_string(rows) + "x" + std::to_string(cols));
      const size_t n = size_t(rows) * cols;
      const float slope = 0.05f;
      std::vector<float> pre = RandomHalfValues(rng_, n, -3, 3), bias = testing::RandomFloats(rng_, cols);
      vk::Buffer pre_buffer = MakeHalfBuffer(pre, "pre"), bias_buffer = MakeBuffer(bias, "bias");
      vk::Buffer out_buffer = MakePoisonedHalfBuffer(n, "out");
      const bool identity = activation == kernels::Activation::kIdentity;
      kernels::BiasActivationArgs forward{Half(pre_buffer), kernels::WholeBuffer(bias_buffer),
                                          identity ? TensorRef{} : Half(out_buffer), rows, cols, activation, slope};
      vk::Dispatch d = kernels::BiasActivationDispatch(pipelines(), forward);
      EXPECT_EQ(d.cost.bytes_read, 2.0 * n + 4.0 * cols);
      Run({d});
      reference::BiasActivationOutput ref = reference::BiasActivationForward(
          reference::ToDouble(pre), reference::ToDouble(bias), rows, cols, activation, slope);
      std::vector<float> z = ReadHalves(pre_buffer, n);
      EXPECT_EQ(CountMismatches(z, ref.pre, kHalfEpsilon / 2, {}, 1e-7, "Z"), 0);
      if (!identity) {
        EXPECT_EQ(CountMismatches(ReadHalves(out_buffer, n), ref.out, kHalfEpsilon / 2 + 1e-6, {}, 1e-7, "Y"), 0);
      }

      // Backward from the stored (fp16) Z and Y.
      std::vector<float> y = identity ? z : ReadHalves(out_buffer, n);
      std::vector<float> grad_out = RandomHalfValues(rng_, n);
      vk::Buffer grad_out_buffer = MakeHalfBuffer(grad_out, "dY"), grad_pre_buffer = MakePoisonedHalfBuffer(n, "dZ");
      vk::Buffer grad_bias_buffer = MakePoisonedBuffer(cols, "db");
      const uint64_t workspace_count = kernels::BiasActivationBackwardWorkspaceCount(rows, cols);
      vk::Buffer workspace = MakePoisonedBuffer(std::max<uint64_t>(workspace_count, 1), "workspace");
      kernels::BiasActivationBackwardArgs backward{Half(grad_out_buffer), Half(pre_buffer),
                                                   identity ? Half(pre_buffer) : Half(out_buffer),
                                                   identity ? TensorRef{} : Half(grad_pre_buffer),
                                                   kernels::WholeBuffer(grad_bias_buffer), rows, cols, activation, slope,
                                                   workspace_count ? kernels::WholeBuffer(workspace) : TensorRef{}};
      Run(kernels::BiasActivationBackwardDispatches(pipelines(), backward));
      reference::BiasActivationGradients grads = reference::BiasActivationBackward(
          reference::ToDouble(grad_out), reference::ToDouble(z), reference::ToDouble(y), rows, cols, activation, slope);
      if (!identity) {
        EXPECT_EQ(CountMismatches(ReadHalves(grad_pre_buffer, n), grads.grad_pre, kHalfEpsilon / 2 + 1e-5, {}, 1e-7, "dZ"), 0);
      }
      std::vector<double> column_magnitude(cols, 0.0);
      for (size_t i = 0; i < n; ++i) column_magnitude[i % cols] += std::abs(grads.grad_pre[i]);
      EXPECT_EQ(CountMismatches(Read<float>(grad_bias_buffer, cols), grads.grad_bias, 1e-5, column_magnitude, 1e-7, "db"), 0);
    }
}

TEST_F(MixedPrecisionTest, Fp16DropoutKeepsTheFp32MaskAndRoundsTheKeptValues) {
  const uint32_t count = 4099;
  std::vector<float> x = RandomHalfValues(rng_, count, -2, 2);
  vk::Buffer in = MakeHalfBuffer(x, "x"), out = MakePoisonedHalfBuffer(count, "y");
  kernels::DropoutArgs args{Half(in), Half(out), count, 0.3f, 1234u, 7u, TensorRef{}};
  vk::Dispatch d = kernels::DropoutDispatch(pipelines(), args);
  EXPECT_EQ(d.cost.bytes_read, 2.0 * count);
  Run({d});
  std::vector<double> mask = reference::DropoutMask(count, 0.3, 1234u, 7u);
  std::vector<double> expected(count);
  for (uint32_t i = 0; i < count; ++i) expected[i] = double(RoundToHalf(float(x[i] * kernels::DropoutScale(0.3f)))) * (mask[i] != 0 ? 1 : 0);
  EXPECT_EQ(CountMismatches(ReadHalves(out, count), expected, 0, {}, 0, "y"), 0);
}

TEST_F(MixedPrecisionTest, Fp16LossHeadScalesItsGradientByTheLossScale) {
  const uint32_t rows = 67, cols = 10;
  const float scale = 1024.0f;
  std::vector<float> logits = RandomHalfValues(rng_, size_t(rows) * cols, -4, 4);
  std::vector<uint32_t> labels(rows);
  for (uint32_t r = 0; r < rows; ++r) labels[r] = static_cast<uint32_t>(rng_() % cols);
  gpu::LossScaleState state{scale, 0, 0, 0};
  vk::Buffer logits_buffer = MakeHalfBuffer(logits, "logits"), labels_buffer = MakeBuffer(labels, "labels");
  vk::Buffer state_buffer = MakeBuffer(std::vector<gpu::LossScaleState>{state}, "loss scale");
  vk::Buffer row_loss = MakePoisonedBuffer(rows, "row loss"), row_correct = MakePoisonedBuffer(rows, "row correct");
  vk::Buffer grad = MakePoisonedHalfBuffer(size_t(rows) * cols, "grad"), probabilities = MakePoisonedBuffer(size_t(rows) * cols, "p");
  kernels::LossArgs args{kernels::LossKind::kSoftmaxCrossEntropy, Half(logits_buffer), kernels::WholeBuffer(labels_buffer),
                         kernels::WholeBuffer(row_loss), kernels::WholeBuffer(row_correct), Half(grad),
                         kernels::WholeBuffer(probabilities), rows, cols, 1.0f / rows, kernels::WholeBuffer(state_buffer)};
  Run({kernels::LossDispatch(pipelines(), args)});
  reference::LossOutput ref = reference::Loss(kernels::LossKind::kSoftmaxCrossEntropy, reference::ToDouble(logits),
                                              labels, rows, cols, double(scale) / rows);
  EXPECT_EQ(CountMismatches(Read<float>(row_loss, rows), ref.row_loss, 1e-5, {}, 1e-6, "loss"), 0);
  EXPECT_EQ(CountMismatches(Read<float>(row_correct, rows), ref.row_correct, 0, {}, 0, "correct"), 0);
  EXPECT_EQ(CountMismatches(Read<float>(probabilities, size_t(rows) * cols), ref.probabilities, 1e-5, {}, 1e-7, "p"), 0);
  EXPECT_EQ(CountMismatches(ReadHalves(grad, size_t(rows) * cols), ref.grad_logits, kHalfEpsilon / 2 + 1e-5, {}, 1e-6, "grad"), 0);
}

// GradScaler's rule, step by step: an Inf or a NaN anywhere is found (at any
// subgroup width), a skipped step halves the scale, growth_interval good steps
// in a row double it; each step's slot records the scale it used.
TEST_F(MixedPrecisionTest, LossScalerFindsOverflowsHalvesAndGrowsAsGradScaler) {
  const uint32_t count = 100003;
  kernels::LossScaleOptions options;
  options.init_scale = 256;
  options.growth_interval = 3;
  vk::Buffer state_buffer = MakeBuffer(std::vector<gpu::LossScaleState>{kernels::InitialLossScaleState(options)}, "state");
  TensorRef state = kernels::WholeBuffer(state_buffer);
  vk::Buffer result = MakePoisonedBuffer(8, "result slot");

  // Per step: where to put a bad value (-1: none) and which.
  struct Step {
    int64_t bad_index;
    float bad_value;
  };
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const Step steps[] = {{-1, 0}, {count - 1, inf}, {0, nan}, {-1, 0}, {-1, 0}, {-1, 0}, {50001, -inf}, {-1, 0}};
  double scale = options.init_scale;
  uint32_t tracker = 0, skipped = 0;
  for (size_t i = 0; i < std::size(steps); ++i) {
    SCOPED_TRACE("step " + std::to_string(i));
    std::vector<float> gradients = testing::RandomFloats(rng_, count, -1e4f, 1e4f);
    if (steps[i].bad_index >= 0) gradients[steps[i].bad_index] = steps[i].bad_value;
    vk::Buffer gradient_buffer = MakeBuffer(gradients, "gradients");
    Run({kernels::LossScaleCheckDispatch(pipelines(), kernels::WholeBuffer(gradient_buffer), state, count),
         kernels::LossScaleUpdateDispatch(pipelines(), state, kernels::WholeBuffer(result), options)});
    const bool bad = steps[i].bad_index >= 0;
    std::vector<float> slot = Read<float>(result, 8);
    EXPECT_EQ(slot[4], float(scale));
    EXPECT_EQ(slot[5], bad ? 1.0f : 0.0f);
    if (bad) {
      scale *= options.backoff_factor, tracker = 0, ++skipped;
    } else if (++tracker == options.growth_interval) {
      scale *= options.growth_factor, tracker = 0;
    }
    gpu::LossScaleState now = Read<gpu::LossScaleState>(state_buffer, 1)[0];
    EXPECT_EQ(now.scale, float(scale));
    EXPECT_EQ(now.growth_tracker, tracker);
    EXPECT_EQ(now.skipped_steps, skipped);
    EXPECT_EQ(now.found_inf, 0u);
  }
  EXPECT_EQ(scale, 256.0 / 2 / 2 * 2 / 2);
}

// The loss-scaled update: with found_inf it changes nothing; otherwise it is
// the fp32 update of gradient / scale, with Adam's t counting only steps taken.
TEST_F(MixedPrecisionTest, LossScaledUpdateSkipsOverflowedStepsAndUnscalesTheRest) {
  const uint32_t count = 1004;  // a multiple of 4: the update runs on vec4s
  const float scale = 4096, lr = 0.01f;
  kernels::OptimizerHyper hyper;
  for (bool found_inf : {false, true}) {
    SCOPED_TRACE(found_inf ? "overflowed" : "finite");
    std::vector<float> params = testing::RandomFloats(rng_, count), grads = testing::RandomFloats(rng_, count, -scale, scale);
    std::vector<float> m = testing::RandomFloats(rng_, count, -0.1f, 0.1f), v = testing::RandomFloats(rng_, count, 0, 0.01f);
    const uint32_t adam_step = 7, skipped = 3;  // t = 4 steps taken
    gpu::StepParams step{};
    step.adam_step = adam_step;
    step.learning_rate = lr;
    step.bias_correction1 = step.bias_correction2 = 0.5f;  // the host's (wrong for skipped steps): not used
    gpu::LossScaleState state{scale, 0, found_inf ? 1u : 0u, skipped};
    vk::Buffer p = MakeBuffer(params, "params"), g = MakeBuffer(grads, "grads"), s1 = MakeBuffer(m, "m"),
               s2 = MakeBuffer(v, "v"), sp = MakeBuffer(std::vector<gpu::StepParams>{step}, "step"),
               st = MakeBuffer(std::vector<gpu::LossScaleState>{state}, "state");
    vk::Buffer half_copy = MakePoisonedHalfBuffer(count, "fp16 copy");
    kernels::OptimizerArgs args{kernels::OptimizerKind::kAdam, kernels::WholeBuffer(p), kernels::WholeBuffer(g),
                                kernels::WholeBuffer(s1), kernels::WholeBuffer(s2), kernels::WholeBuffer(sp), count, hyper};
    args.loss_scale = kernels::WholeBuffer(st);
    args.params_half = Half(half_copy);
    Run({kernels::OptimizerDispatch(pipelines(), args)});
    std::vector<float> new_params = Read<float>(p, count), new_m = Read<float>(s1, count);
    if (found_inf) {
      EXPECT_EQ(new_params, params);
      EXPECT_EQ(new_m, m);
      for (float h : ReadHalves(half_copy, count)) EXPECT_TRUE(std::isnan(h)) << "a skipped step wrote the fp16 copy";
      continue;
    }
    std::vector<float> copy = ReadHalves(half_copy, count);
    for (uint32_t i = 0; i < count; ++i) EXPECT_EQ(copy[i], RoundToHalf(new_params[i])) << "fp16 copy [" << i << "]";
    std::vector<double> ref_p = reference::ToDouble(params), ref_g = reference::ToDouble(grads);
    std::vector<double> ref_m = reference::ToDouble(m), ref_v = reference::ToDouble(v);
    for (double& x : ref_g) x /= scale;
    const double t = adam_step - skipped;
    const double bc1 = 1 - std::pow(double(hyper.beta1), t), bc2 = 1 - std::pow(double(hyper.beta2), t);
    for (uint32_t i = 0; i < count; ++i) {
      ref_m[i] = hyper.beta1 * ref_m[i] + (1 - hyper.beta1) * ref_g[i];
      ref_v[i] = hyper.beta2 * ref_v[i] + (1 - hyper.beta2) * ref_g[i] * ref_g[i];
      ref_p[i] -= lr / bc1 * ref_m[i] / (std::sqrt(ref_v[i]) / std::sqrt(bc2) + hyper.epsilon);
    }
    EXPECT_EQ(CountMismatches(new_params, ref_p, 1e-5, {}, 1e-6, "param"), 0);
    EXPECT_EQ(CountMismatches(new_m, ref_m, 1e-5, {}, 1e-7, "m"), 0);
  }
}

}  // namespace
}  // namespace ts
