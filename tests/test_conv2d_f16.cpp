// The fp16 (mixed precision) conv2d kernels against the double-precision
// reference (compute/reference/conv.h) fed the fp16-rounded inputs: the
// forward pass in both variants (fp16 X, W, Y), the input gradient (fp16 dY,
// W, dX) and the filter gradient (fp16 X, dY; fp32 dW). Cin 1, 3, 5, 8, 16;
// Cout 1, 5, 7, 12, 13, 16, 20; 1x1, 3x3, 5x5 kernels; strides 1 and 2;
// padding 'valid', 'same' and explicit; batches 1 and 3; images that divide no
// tile; the default tiling and explicit ones; vec4 loads through texel views
// and through storage buffers. Output gradients are loss-scaled (~1e3), and
// an Inf in one propagates. Every output starts poisoned (NaN) and every
// element is compared. Mixes of precisions other than the three forms are
// refused. (The reference's own gradients are checked against finite
// differences in test_conv.cpp.)
//
// Bounds: the kernels sum in fp32 exactly as the fp32 kernels do, so their
// fp32 result is within 1e-5 of the magnitude of the terms it sums (the
// reference on |inputs|, as test_conv.cpp bounds the fp32 kernels); an fp16
// output then rounds once more, by at most 2^-11 of its value (3e-8 absolute
// among subnormals).
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "compute/common/error.h"
#include "compute/common/half.h"
#include "compute/kernels/conv2d.h"
#include "compute/kernels/mixed_precision.h"
#include "compute/reference/conv.h"
#include "support/conv_cases.h"
#include "support/vulkan_test.h"

namespace ts {
namespace {

using kernels::Conv2DGeometry;
using kernels::Conv2DPadding;
using kernels::Conv2DTiling;
using kernels::Conv2DVariant;
using kernels::TensorRef;
using kernels::WholeBuffer;

constexpr uint16_t kHalfNaN = 0x7e00;
constexpr double kHalfRounding = 1.0 / 2048;       // half fp16's 2^-10 relative spacing
constexpr double kHalfSubnormalRounding = 3e-8;    // half the spacing of fp16 subnormals (2^-24)
constexpr double kFp32Relative = 1e-5;             // of the magnitude of the summed terms
constexpr float kLossScale = 1024;                 // output gradients are loss-scaled values

using Case = testing::ConvCase;
using testing::Describe;
using testing::GeometryOf;
using testing::ReferenceShape;

std::vector<float> Abs(std::vector<float> values) {
  for (float& v : values) v = std::abs(v);
  return values;
}

// Random values an fp16 tensor holds exactly.
std::vector<float> RandomHalfValues(std::mt19937_64& rng, size_t count, float low, float high) {
  std::vector<float> values = testing::RandomFloats(rng, count, low, high);
  for (float& v : values) v = RoundToHalf(v);
  return values;
}

// How each element of an output is judged.
enum class Output { kHalf, kFloat };

// Counts the elements of `gpu` outside their bound (see the top of the file),
// reporting the first few. A NaN (an unwritten element) fails, except that
// where `non_finite_allowed` says so any Inf or NaN passes, and where the
// reference is not finite the GPU must not be finite either.
int CountMismatches(const std::vector<float>& gpu, const std::vector<double>& ref, const std::vector<double>& magnitude,
                    Output output, const std::string& what,
                    const std::function<bool(size_t)>& non_finite_allowed = nullptr) {
  int failures = 0;
  for (size_t e = 0; e < ref.size(); ++e) {
    const double fp32_error = kFp32Relative * magnitude[e];
    const double bound = output == Output::kFloat
                             ? fp32_error + 1e-30
                             : kHalfRounding * (std::abs(ref[e]) + fp32_error) + fp32_error + kHalfSubnormalRounding;
    bool ok;
    if (!std::isfinite(ref[e]))
      ok = !std::isfinite(gpu[e]);
    else if (!std::isfinite(gpu[e]))
      ok = non_finite_allowed && non_finite_allowed(e);
    else
      ok = std::abs(double(gpu[e]) - ref[e]) <= bound;
    if (!ok && ++failures <= 5)
      ADD_FAILURE() << what << "[" << e << "] = " << gpu[e] << ", reference " << ref[e] << " (bound " << bound << ")";
  }
  return failures;
}

class Conv2DF16Test : public testing::VulkanTest {
 protected:
  void SetUp() override {
    VulkanTest::SetUp();
    if (!context().info().fp16_storage) GTEST_SKIP() << kernels::Fp16Unavailable(context().info());
  }

  // fp16 tensors in whole 4-byte words: an odd count gets a NaN pad.
  vk::Buffer HalfBuffer(const std::vector<float>& values, const std::string& name) {
    std::vector<uint16_t> halves(values.size() + values.size() % 2, kHalfNaN);
    for (size_t i = 0; i < values.size(); ++i) halves[i] = FloatToHalf(values[i]);
    return MakeBuffer(halves, name);
  }
  vk::Buffer PoisonedHalfBuffer(size_t count, const std::string& name) {
    return MakeBuffer(std::vector<uint16_t>(count + count % 2, kHalfNaN), name);
  }
  std::vector<float> ReadHalf(const vk::Buffer& buffer, size_t count) {
    std::vector<uint16_t> halves = Read<uint16_t>(buffer, count + count % 2);
    std::vector<float> values(count);
    std::transform(halves.begin(), halves.begin() + count, values.begin(), HalfToFloat);
    return values;
  }
  static TensorRef HalfView(const vk::Buffer& buffer) {
    TensorRef t = WholeBuffer(buffer);
    t.count = buffer.size() / 2;
    t.element_bytes = 2;
    return t;
  }

  // Every kernel on fresh random X, W (fp16-rounded, in [-1, 1] and
  // [-1/2, 1/2]) and dY (loss-scaled: up to ~1e3), each output in its own
  // poisoned buffer: both forward variants, dX and dW, every element, and
  // each dispatch's declared cost.
  void CheckAllKernels(const Conv2DGeometry& g, const Conv2DTiling& tiling = {}) {
    SCOPED_TRACE(Describe(g));
    const std::vector<float> x = RandomHalfValues(rng_, g.input_elements(), -1, 1);
    const std::vector<float> w = RandomHalfValues(rng_, g.filter_elements(), -0.5f, 0.5f);
    const std::vector<float> dy = RandomHalfValues(rng_, g.output_elements(), -kLossScale, kLossScale);
    vk::Buffer x_buffer = HalfBuffer(x, "X"), w_buffer = HalfBuffer(w, "W"), dy_buffer = HalfBuffer(dy, "dY");
    vk::Buffer y_gemm = PoisonedHalfBuffer(g.output_elements(), "Y (implicit GEMM)");
    vk::Buffer y_direct = PoisonedHalfBuffer(g.output_elements(), "Y (direct)");
    vk::Buffer dx = PoisonedHalfBuffer(g.input_elements(), "dX");
    vk::Buffer dw = MakePoisonedBuffer(g.filter_elements(), "dW (fp32)");

    const TensorRef xv = HalfView(x_buffer), wv = HalfView(w_buffer), dyv = HalfView(dy_buffer);
    std::vector<vk::Dispatch> dispatches = {
        kernels::Conv2DDispatch(pipelines(), {xv, wv, HalfView(y_gemm), g}, Conv2DVariant::kImplicitGemm, tiling),
        kernels::Conv2DDispatch(pipelines(), {xv, wv, HalfView(y_direct), g}, Conv2DVariant::kDirect, tiling),
        kernels::Conv2DBackwardDataDispatch(pipelines(), {dyv, wv, HalfView(dx), g}, tiling),
        kernels::Conv2DBackwardFilterDispatch(pipelines(), {xv, dyv, WholeBuffer(dw), g}, tiling)};
    const double x_bytes = 2.0 * x.size(), w_bytes = 2.0 * w.size(), y_bytes = 2.0 * dy.size();
    for (const vk::Dispatch& d : dispatches) EXPECT_EQ(d.cost.flops, g.flops()) << d.label;
    for (int i : {0, 1}) {
      EXPECT_EQ(dispatches[i].cost.bytes_read, x_bytes + w_bytes);
      EXPECT_EQ(dispatches[i].cost.bytes_written, y_bytes);
    }
    EXPECT_EQ(dispatches[2].cost.bytes_read, y_bytes + w_bytes);
    EXPECT_EQ(dispatches[2].cost.bytes_written, x_bytes);
    EXPECT_EQ(dispatches[3].cost.bytes_read, x_bytes + y_bytes);
    EXPECT_EQ(dispatches[3].cost.bytes_written, 4.0 * w.size());  // the fp32 master gradient
    Run(std::move(dispatches));

    const reference::Conv2DShape shape = ReferenceShape(g);
    const std::vector<float> abs_x = Abs(x), abs_w = Abs(w), abs_dy = Abs(dy);
    const std::vector<double> y_ref = reference::Conv2DForward(x, w, shape);
    const std::vector<double> y_magnitude = reference::Conv2DForward(abs_x, abs_w, shape);
    EXPECT_EQ(CountMismatches(ReadHalf(y_gemm, y_ref.size()), y_ref, y_magnitude, Output::kHalf, "Y (implicit GEMM)"),
              0);
    EXPECT_EQ(CountMismatches(ReadHalf(y_direct, y_ref.size()), y_ref, y_magnitude, Output::kHalf, "Y (direct)"), 0);
    const std::vector<double> dx_ref = reference::Conv2DBackwardData(dy, w, shape);
    EXPECT_EQ(CountMismatches(ReadHalf(dx, dx_ref.size()), dx_ref, reference::Conv2DBackwardData(abs_dy, abs_w, shape),
                              Output::kHalf, "dX"),
              0);
    const std::vector<double> dw_ref = reference::Conv2DBackwardFilter(x, dy, shape);
    EXPECT_EQ(CountMismatches(Read<float>(dw, dw_ref.size()), dw_ref,
                              reference::Conv2DBackwardFilter(abs_x, abs_dy, shape), Output::kFloat, "dW"),
              0);
  }

  std::mt19937_64 rng_ = testing::MakeRng();
};

// Cin 1, 3, 5, 8, 16 (scalar tails, the GEMM's part-filled chunk, vec4
// channels); Cout 1, 5, 7, 13 (no vec4) and 8, 12, 16, 20; kernels 1x1, 3x3,
// 5x5 (and 3x5); strides 1, 2 (and 1x2); padding; batches 1 and 3.
const Case kCases[] = {
    {1, 7, 9, 1, 1, 1, 1, 1, 1},                                     // the smallest
    {3, 7, 9, 3, 7, 3, 3, 1, 1, Conv2DPadding::kExplicit, 1, 1},     // RGB
    {3, 13, 11, 5, 13, 3, 3, 2, 2, Conv2DPadding::kExplicit, 1, 1},
    {1, 13, 13, 8, 12, 5, 5, 1, 1, Conv2DPadding::kExplicit, 2, 2},  // vec4 X and W
    {3, 9, 10, 8, 8, 1, 1, 2, 2},                                    // 1x1, strided: inputs no tap reaches
    {1, 11, 9, 3, 16, 5, 5, 2, 2, Conv2DPadding::kSame},
    {3, 12, 12, 5, 7, 5, 5, 1, 1},
    {1, 9, 21, 1, 8, 3, 3, 1, 1, Conv2DPadding::kSame},              // rows over 16: the direct kernel's long blocks
    {3, 6, 7, 16, 20, 3, 5, 1, 2, Conv2DPadding::kExplicit, 1, 2},
    {1, 5, 5, 8, 5, 5, 5, 1, 1},                                     // a single output pixel
};

TEST_F(Conv2DF16Test, EveryKernelMatchesTheReferenceAtEveryShape) {
  for (const Case& c : kCases) CheckAllKernels(GeometryOf(c));
}

// One output per invocation (no sharing, no vec4 loads), odd blocks, and a
// wide workgroup of several share groups (lavapipe's 16-lane subgroup at 512
// bits); vec4 loads through RGBA16F texel views (the default on software
// drivers) and through f16vec4 storage loads.
TEST_F(Conv2DF16Test, TilingsAndReadPathsMatchTheReference) {
  CheckAllKernels(GeometryOf({3, 7, 9, 3, 7, 3, 3, 2, 1, Conv2DPadding::kExplicit, 1, 1}), {1, 1, 1, 1});
  CheckAllKernels(GeometryOf({2, 9, 11, 8, 12, 3, 3, 1, 2, Conv2DPadding::kExplicit, 2, 1}), {4, 2, 3, 5});
  const Conv2DGeometry vec4 = GeometryOf({2, 11, 9, 8, 16, 3, 3, 1, 1, Conv2DPadding::kExplicit, 1, 1});
  for (bool storage : {false, true}) {
    SCOPED_TRACE(storage ? "storage reads" : "texel reads where they pay");
    CheckAllKernels(vec4, {0, 0, 0, 0, storage});
    CheckAllKernels(vec4, {16, 1, 16, 4, storage});
  }
}

// An Inf in dY (a loss scale too large) reaches the gradients it feeds as Inf
// or NaN; everything else stays finite and right. dX is exact about which
// elements: each sums only the taps that reach it. dW's column of the Inf's
// channel may be NaN beyond the reference's non-finite elements (its kernel
// multiplies the zeros of the padding by dY), which is as good for skipping
// the step; its other columns must be finite and right.
TEST_F(Conv2DF16Test, AnInfInTheOutputGradientPropagates) {
  for (const Case& c : {Case{3, 9, 8, 5, 7, 3, 3, 2, 2, Conv2DPadding::kExplicit, 1, 1},
                        Case{2, 7, 7, 8, 12, 3, 3, 1, 1, Conv2DPadding::kSame}}) {
    const Conv2DGeometry g = GeometryOf(c);
    SCOPED_TRACE(Describe(g));
    const std::vector<float> x = RandomHalfValues(rng_, g.input_elements(), -1, 1);
    const std::vector<float> w = RandomHalfValues(rng_, g.filter_elements(), -0.5f, 0.5f);
    std::vector<float> dy = RandomHalfValues(rng_, g.output_elements(), -kLossScale, kLossScale);
    const uint32_t inf_channel = g.out_channels / 2;
    const uint64_t inf_pixel = g.output_pixels() / 3;
    dy[inf_pixel * g.out_channels + inf_channel] = std::numeric_limits<float>::infinity();
    vk::Buffer x_buffer = HalfBuffer(x, "X"), w_buffer = HalfBuffer(w, "W"), dy_buffer = HalfBuffer(dy, "dY");
    vk::Buffer dx = PoisonedHalfBuffer(g.input_elements(), "dX");
    vk::Buffer dw = MakePoisonedBuffer(g.filter_elements(), "dW (fp32)");
    Run({kernels::Conv2DBackwardDataDispatch(pipelines(), {HalfView(dy_buffer), HalfView(w_buffer), HalfView(dx), g}),
         kernels::Conv2DBackwardFilterDispatch(pipelines(),
                                               {HalfView(x_buffer), HalfView(dy_buffer), WholeBuffer(dw), g})});

    const reference::Conv2DShape shape = ReferenceShape(g);
    const std::vector<double> dx_ref = reference::Conv2DBackwardData(dy, w, shape);
    const std::vector<double> dw_ref = reference::Conv2DBackwardFilter(x, dy, shape);
    ASSERT_TRUE(std::any_of(dx_ref.begin(), dx_ref.end(), [](double v) { return !std::isfinite(v); }));
    ASSERT_TRUE(std::any_of(dw_ref.begin(), dw_ref.end(), [](double v) { return !std::isfinite(v); }));
    EXPECT_EQ(CountMismatches(ReadHalf(dx, dx_ref.size()), dx_ref,
                              reference::Conv2DBackwardData(Abs(dy), Abs(w), shape), Output::kHalf, "dX"),
              0);
    EXPECT_EQ(CountMismatches(Read<float>(dw, dw_ref.size()), dw_ref,
                              reference::Conv2DBackwardFilter(Abs(x), Abs(dy), shape), Output::kFloat, "dW",
                              [&](size_t e) { return e % g.out_channels == inf_channel; }),
              0);
  }
}

// fp16 tensors at offsets inside one buffer, with odd element counts, so that
// outputs end mid-word next to other data: each output is right and no other
// half changes (fp16 stores touch only their own two bytes).
TEST_F(Conv2DF16Test, OffsetViewsInsideOneBufferTouchOnlyTheirOutput) {
  const uint64_t alignment = std::max<uint64_t>(context().info().min_storage_buffer_offset_alignment, 8);
  const Conv2DGeometry g = GeometryOf({1, 7, 5, 3, 5, 3, 3, 1, 1, Conv2DPadding::kSame});
  SCOPED_TRACE(Describe(g));
  // X, W, dY, then the outputs Y, dX (fp16) and dW (fp32), each after a gap.
  const uint64_t counts[] = {g.input_elements(),  g.filter_elements(), g.output_elements(),
                             g.output_elements(), g.input_elements(),  g.filter_elements()};
  const uint64_t element_bytes[] = {2, 2, 2, 2, 2, 4};
  std::array<uint64_t, 6> offsets{};
  uint64_t end = alignment;
  for (size_t t = 0; t < 6; ++t) {
    offsets[t] = end;
    end = (end + element_bytes[t] * counts[t] + alignment - 1) / alignment * alignment + alignment;
  }
  std::vector<std::vector<float>> values(3);
  values[0] = RandomHalfValues(rng_, counts[0], -1, 1);
  values[1] = RandomHalfValues(rng_, counts[1], -0.5f, 0.5f);
  values[2] = RandomHalfValues(rng_, counts[2], -kLossScale, kLossScale);
  std::vector<uint16_t> contents(end / 2);
  for (uint16_t& h : contents) h = FloatToHalf(float(rng_() % 1000) / 1000.0f);  // the gaps: arbitrary data
  for (size_t t = 0; t < 3; ++t)
    for (uint64_t e = 0; e < counts[t]; ++e) contents[offsets[t] / 2 + e] = FloatToHalf(values[t][e]);
  for (size_t t = 3; t < 6; ++t)  // outputs start as NaN (for dW, fp32 0x7e007e00, also a NaN)
    std::fill_n(contents.begin() + offsets[t] / 2, counts[t] * element_bytes[t] / 2, kHalfNaN);
  vk::Buffer buffer = MakeBuffer(contents, "all tensors");
  auto view = [&](size_t t) {
    return TensorRef{&buffer, offsets[t], counts[t], 0, static_cast<uint32_t>(element_bytes[t])};
  };
  Run({kernels::Conv2DDispatch(pipelines(), {view(0), view(1), view(3), g}),
       kernels::Conv2DBackwardDataDispatch(pipelines(), {view(2), view(1), view(4), g}),
       kernels::Conv2DBackwardFilterDispatch(pipelines(), {view(0), view(2), view(5), g})});
  const std::vector<uint16_t> after = Read<uint16_t>(buffer, contents.size());

  auto halves = [&](size_t t) {
    std::vector<float> v(counts[t]);
    for (uint64_t e = 0; e < counts[t]; ++e) v[e] = HalfToFloat(after[offsets[t] / 2 + e]);
    return v;
  };
  std::vector<float> dw(counts[5]);
  std::memcpy(dw.data(), after.data() + offsets[5] / 2, 4 * counts[5]);
  const std::vector<float>&x = values[0], &w = values[1], &dy = values[2];
  const reference::Conv2DShape shape = ReferenceShape(g);
  EXPECT_EQ(CountMismatches(halves(3), reference::Conv2DForward(x, w, shape),
                            reference::Conv2DForward(Abs(x), Abs(w), shape), Output::kHalf, "Y"),
            0);
  EXPECT_EQ(CountMismatches(halves(4), reference::Conv2DBackwardData(dy, w, shape),
                            reference::Conv2DBackwardData(Abs(dy), Abs(w), shape), Output::kHalf, "dX"),
            0);
  EXPECT_EQ(CountMismatches(dw, reference::Conv2DBackwardFilter(x, dy, shape),
                            reference::Conv2DBackwardFilter(Abs(x), Abs(dy), shape), Output::kFloat, "dW"),
            0);
  for (size_t e = 0; e < contents.size(); ++e) {
    bool inside_output = false;
    for (size_t t = 3; t < 6; ++t)
      inside_output |= e >= offsets[t] / 2 && e < offsets[t] / 2 + counts[t] * element_bytes[t] / 2;
    if (!inside_output && after[e] != contents[e]) {
      ADD_FAILURE() << "half " << e << " outside the outputs changed from " << contents[e] << " to " << after[e];
      break;
    }
  }
}

// Mixes other than the three forms of conv2d.h are refused with ts::Error,
// before anything is recorded.
TEST_F(Conv2DF16Test, OtherPrecisionMixesAreRefused) {
  const Conv2DGeometry g = GeometryOf({1, 5, 5, 4, 4, 3, 3, 1, 1});
  vk::Buffer half = PoisonedHalfBuffer(std::max(g.input_elements(), g.filter_elements()) * 2, "fp16");
  vk::Buffer single = MakePoisonedBuffer(std::max(g.input_elements(), g.filter_elements()), "fp32");
  const TensorRef h = HalfView(half), f = WholeBuffer(single);
  EXPECT_THROW(kernels::Conv2DDispatch(pipelines(), {h, f, h, g}), Error);  // fp32 filter
  EXPECT_THROW(kernels::Conv2DDispatch(pipelines(), {h, h, f, g}), Error);  // fp32 output
  EXPECT_THROW(kernels::Conv2DDispatch(pipelines(), {f, f, h, g}), Error);  // fp16 output of fp32 inputs
  EXPECT_THROW(kernels::Conv2DBackwardDataDispatch(pipelines(), {h, f, h, g}), Error);
  EXPECT_THROW(kernels::Conv2DBackwardDataDispatch(pipelines(), {h, h, f, g}), Error);
  EXPECT_THROW(kernels::Conv2DBackwardFilterDispatch(pipelines(), {h, h, h, g}), Error);  // fp16 master gradient
  EXPECT_THROW(kernels::Conv2DBackwardFilterDispatch(pipelines(), {h, f, f, g}), Error);
  EXPECT_NO_THROW(kernels::Conv2DBackwardFilterDispatch(pipelines(), {h, h, f, g}));
}

// Not a test of speed (nothing is asserted): each kernel's GFLOP/s in fp32
// and fp16 at two of the seed CNN's layers (batch 16), the median of 3 runs.
TEST_F(Conv2DF16Test, TimingAgainstFp32) {
  std::printf("%-36s %-5s %12s %12s %12s %12s\n", "layer", "", "GEMM fwd", "direct fwd", "bwd data", "bwd filter");
  for (const Case& c : {Case{16, 32, 32, 3, 32, 3, 3, 1, 1}, Case{16, 15, 15, 32, 64, 3, 3, 1, 1}}) {
    const Conv2DGeometry g = GeometryOf(c);
    for (bool fp16 : {false, true}) {
      auto input = [&](uint64_t count, float range, const char* name) {
        std::vector<float> v = RandomHalfValues(rng_, count, -range, range);
        return fp16 ? HalfBuffer(v, name) : MakeBuffer(v, name);
      };
      auto output = [&](uint64_t count, bool half, const char* name) {
        return half ? PoisonedHalfBuffer(count, name) : MakePoisonedBuffer(count, name);
      };
      vk::Buffer x = input(g.input_elements(), 1, "X"), w = input(g.filter_elements(), 0.5f, "W");
      vk::Buffer dy = input(g.output_elements(), 1, "dY");
      vk::Buffer y = output(g.output_elements(), fp16, "Y"), dx = output(g.input_elements(), fp16, "dX");
      vk::Buffer dw = output(g.filter_elements(), false, "dW");
      auto ref = [&](const vk::Buffer& b, bool half) { return half ? HalfView(b) : WholeBuffer(b); };
      const std::vector<vk::Dispatch> kinds = {
          kernels::Conv2DDispatch(pipelines(), {ref(x, fp16), ref(w, fp16), ref(y, fp16), g},
                                  Conv2DVariant::kImplicitGemm),
          kernels::Conv2DDispatch(pipelines(), {ref(x, fp16), ref(w, fp16), ref(y, fp16), g}, Conv2DVariant::kDirect),
          kernels::Conv2DBackwardDataDispatch(pipelines(), {ref(dy, fp16), ref(w, fp16), ref(dx, fp16), g}),
          kernels::Conv2DBackwardFilterDispatch(pipelines(), {ref(x, fp16), ref(dy, fp16), ref(dw, false), g})};
      constexpr int kRuns = 3;
      std::vector<vk::Dispatch> dispatches;
      for (int run = 0; run < kRuns; ++run) dispatches.insert(dispatches.end(), kinds.begin(), kinds.end());
      const std::vector<double> times = Run(dispatches);
      std::printf("%-36s %-5s", kernels::Conv2DDescription(g).c_str(), fp16 ? "fp16" : "fp32");
      for (size_t k = 0; k < kinds.size(); ++k) {
        std::vector<double> ns;
        for (int run = 0; run < kRuns; ++run) ns.push_back(times[run * kinds.size() + k]);
        std::sort(ns.begin(), ns.end());
        std::printf(" %7.1f GF/s", g.flops() / ns[kRuns / 2]);
      }
      std::printf("\n");
    }
  }
  std::fflush(stdout);
}

}  // namespace
}  // namespace ts
