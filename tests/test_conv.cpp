// The conv2d kernels against the double-precision CPU reference
// (compute/reference/conv.h): both forward variants, the input gradient and
// the filter gradient, at kernels 1x1 to 5x5, strides 1 to 3, padding 0 to 2
// ('valid', 'same' and explicit), image sizes that divide no tile, odd batches
// and channel counts from 1 to 64. The reference's own gradients are checked
// against finite differences.
//
// Every output buffer starts as NaN, so an element a kernel forgot to write
// fails, and every element is compared. The bound is
//   |gpu - ref| <= 1e-5 * (sum of |terms|) + 1e-30
// where the sum of |terms| is the same reference run on |inputs|: the scale of
// the rounding error a float sum of those terms may make (as in test_matmul.cpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "compute/common/error.h"
#include "compute/kernels/conv2d.h"
#include "compute/reference/conv.h"
#include "support/conv_cases.h"
#include "support/vulkan_test.h"

namespace ts {
namespace {

using kernels::Conv2DGeometry;
using kernels::Conv2DPadding;
using kernels::Conv2DTiling;
using kernels::Conv2DVariant;
using kernels::WholeBuffer;
using testing::VulkanTest;

using Case = testing::ConvCase;
using testing::Describe;
using testing::GeometryOf;
using testing::ReferenceShape;

std::vector<float> Abs(const std::vector<float>& values) {
  std::vector<float> result(values.size());
  std::transform(values.begin(), values.end(), result.begin(), [](float v) { return std::abs(v); });
  return result;
}

// Counts the elements of `gpu` outside the bound (see the top of the file),
// reporting the first few with their 4D index in `dims`. NaN always fails.
int CountMismatches(const std::vector<float>& gpu, const std::vector<double>& ref, const std::vector<double>& magnitude,
                    const std::string& what, std::array<uint32_t, 4> dims) {
  int failures = 0;
  for (size_t e = 0; e < ref.size(); ++e) {
    double bound = 1e-5 * magnitude[e] + 1e-30;
    double error = std::abs(double(gpu[e]) - ref[e]);
    if (!(error <= bound)) {
      if (failures < 5) {
        size_t rest = e;
        std::array<size_t, 4> index{};
        for (int d = 3; d >= 0; --d) index[d] = rest % dims[d], rest /= dims[d];
        ADD_FAILURE() << what << "[" << index[0] << "][" << index[1] << "][" << index[2] << "][" << index[3]
                      << "] = " << gpu[e] << ", reference " << ref[e] << " (error " << error << " > bound " << bound
                      << ")";
      }
      ++failures;
    }
  }
  return failures;
}

class ConvTest : public VulkanTest {
 protected:
  // Runs every kernel on fresh random X, W and dY at one shape, each output
  // in its own poisoned buffer, and checks every element of Y (both forward
  // variants), dX and dW, and each dispatch's declared cost.
  void CheckAllKernels(const Conv2DGeometry& g, const Conv2DTiling& tiling = {}) {
    SCOPED_TRACE(Describe(g));
    std::vector<float> x = testing::RandomFloats(rng_, g.input_elements());
    std::vector<float> w = testing::RandomFloats(rng_, g.filter_elements());
    std::vector<float> dy = testing::RandomFloats(rng_, g.output_elements());
    vk::Buffer x_buffer = MakeBuffer(x, "X"), w_buffer = MakeBuffer(w, "W"), dy_buffer = MakeBuffer(dy, "dY");
    vk::Buffer y_gemm = MakePoisonedBuffer(g.output_elements(), "Y (implicit GEMM)");
    vk::Buffer y_direct = MakePoisonedBuffer(g.output_elements(), "Y (direct)");
    vk::Buffer dx = MakePoisonedBuffer(g.input_elements(), "dX"), dw = MakePoisonedBuffer(g.filter_elements(), "dW");

    kernels::Conv2DArgs forward_gemm{WholeBuffer(x_buffer), WholeBuffer(w_buffer), WholeBuffer(y_gemm), g};
    kernels::Conv2DArgs forward_direct{WholeBuffer(x_buffer), WholeBuffer(w_buffer), WholeBuffer(y_direct), g};
    kernels::Conv2DBackwardDataArgs backward_data{WholeBuffer(dy_buffer), WholeBuffer(w_buffer), WholeBuffer(dx), g};
    kernels::Conv2DBackwardFilterArgs backward_filter{WholeBuffer(x_buffer), WholeBuffer(dy_buffer), WholeBuffer(dw),
                                                      g};
    std::vector<vk::Dispatch> dispatches = {
        kernels::Conv2DDispatch(pipelines(), forward_gemm, Conv2DVariant::kImplicitGemm, tiling),
        kernels::Conv2DDispatch(pipelines(), forward_direct, Conv2DVariant::kDirect, tiling),
        kernels::Conv2DBackwardDataDispatch(pipelines(), backward_data, tiling),
        kernels::Conv2DBackwardFilterDispatch(pipelines(), backward_filter, tiling)};
    double flops = 2.0 * g.batch * g.out_height * g.out_width * g.out_channels * g.kernel_height * g.kernel_width *
                   g.in_channels;
    double x_bytes = 4.0 * x.size(), w_bytes = 4.0 * w.size(), y_bytes = 4.0 * dy.size();
    for (const vk::Dispatch& d : dispatches) EXPECT_EQ(d.cost.flops, flops) << d.label;
    EXPECT_EQ(dispatches[0].cost.bytes_read, x_bytes + w_bytes);
    EXPECT_EQ(dispatches[0].cost.bytes_written, y_bytes);
    EXPECT_EQ(dispatches[2].cost.bytes_read, y_bytes + w_bytes);
    EXPECT_EQ(dispatches[2].cost.bytes_written, x_bytes);
    EXPECT_EQ(dispatches[3].cost.bytes_read, x_bytes + y_bytes);
    EXPECT_EQ(dispatches[3].cost.bytes_written, w_bytes);
    Run(std::move(dispatches));

    reference::Conv2DShape shape = ReferenceShape(g);
    std::vector<float> abs_x = Abs(x), abs_w = Abs(w), abs_dy = Abs(dy);
    std::vector<double> y_ref = reference::Conv2DForward(x, w, shape);
    std::vector<double> y_magnitude = reference::Conv2DForward(abs_x, abs_w, shape);
    std::array<uint32_t, 4> y_dims{g.batch, g.out_height, g.out_width, g.out_channels};
    EXPECT_EQ(CountMismatches(Read<float>(y_gemm, y_ref.size()), y_ref, y_magnitude, "Y (implicit GEMM)", y_dims), 0);
    EXPECT_EQ(CountMismatches(Read<float>(y_direct, y_ref.size()), y_ref, y_magnitude, "Y (direct)", y_dims), 0);

    std::vector<double> dx_ref = reference::Conv2DBackwardData(dy, w, shape);
    std::vector<double> dx_magnitude = reference::Conv2DBackwardData(abs_dy, abs_w, shape);
    EXPECT_EQ(CountMismatches(Read<float>(dx, dx_ref.size()), dx_ref, dx_magnitude, "dX",
                              {g.batch, g.in_height, g.in_width, g.in_channels}),
              0);

    std::vector<double> dw_ref = reference::Conv2DBackwardFilter(x, dy, shape);
    std::vector<double> dw_magnitude = reference::Conv2DBackwardFilter(abs_x, abs_dy, shape);
    EXPECT_EQ(CountMismatches(Read<float>(dw, dw_ref.size()), dw_ref, dw_magnitude, "dW",
                              {g.kernel_height, g.kernel_width, g.in_channels, g.out_channels}),
              0);
  }

  std::mt19937_64 rng_ = testing::MakeRng();
};

// Kernels 1x1, 3x3, 5x5 (and 3x5, 2x2); strides 1, 2, 3 (and 2x1, 1x2);
// padding 0, 1, 2 explicit, 'same' and 'valid'; images 7x9, 9x7, 13x13,
// 28x28 and others that divide no tile; batches 1, 2, 3, 5; Cin 1 to 6, 8,
// 16, 32, 64; Cout 1, 7, 8, 12, 16, 32, 64; the seed CNN's layers at small
// batches.
const Case kCases[] = {
    {1, 7, 9, 1, 1, 1, 1, 1, 1},                                // 1x1, the smallest
    {3, 7, 9, 3, 7, 3, 3, 1, 1, Conv2DPadding::kExplicit, 1, 1},
    {5, 13, 13, 5, 32, 3, 3, 2, 2, Conv2DPadding::kExplicit, 1, 1},
    {1, 13, 13, 32, 64, 5, 5, 1, 1, Conv2DPadding::kExplicit, 2, 2},
    {3, 28, 28, 1, 32, 5, 5, 2, 2, Conv2DPadding::kExplicit, 2, 2},
    {1, 28, 28, 32, 7, 3, 3, 2, 2},
    {5, 7, 9, 32, 1, 1, 1, 2, 2},
    {3, 13, 13, 3, 64, 5, 5, 1, 1},
    {1, 7, 9, 5, 7, 5, 5, 2, 2, Conv2DPadding::kExplicit, 2, 2},
    {5, 9, 7, 32, 32, 3, 3, 1, 1, Conv2DPadding::kSame},
    {3, 12, 12, 8, 12, 3, 3, 2, 2, Conv2DPadding::kSame},     // 'same' with stride: padding only below and right
    {2, 11, 10, 4, 16, 3, 5, 2, 1, Conv2DPadding::kExplicit, 1, 2},  // rectangular kernel and stride
    {1, 5, 5, 16, 8, 5, 5, 1, 1},                               // a single output pixel
    {1, 7, 7, 4, 8, 1, 1, 1, 1, Conv2DPadding::kExplicit, 1, 1},     // a border of outputs that see only padding
    {2, 8, 8, 16, 16, 2, 2, 3, 3},                              // stride > kernel: inputs no tap reaches
    {1, 4, 4, 32, 32, 3, 3, 2, 2, Conv2DPadding::kExplicit, 2, 2},   // more padding than image at the corners
    {2, 9, 9, 3, 32, 3, 3, 1, 1},                               // the seed CNN's layers, small batches
    {2, 15, 15, 32, 64, 3, 3, 1, 1},
    {3, 6, 6, 64, 64, 3, 3, 1, 1},
    {2, 21, 28, 3, 16, 5, 5, 1, 1, Conv2DPadding::kSame},       // rows over 16 wide: the direct kernel's longer blocks
    {1, 9, 40, 1, 8, 3, 3, 1, 2, Conv2DPadding::kExplicit, 1, 1},
    {2, 9, 8, 2, 8, 3, 3, 1, 1, Conv2DPadding::kExplicit, 1, 1},  // Cin % 4 = 2 and 6 + 2: the GEMM's part-filled chunk
    {1, 8, 7, 6, 12, 3, 3, 2, 2, Conv2DPadding::kSame},
};

TEST_F(ConvTest, EveryKernelMatchesTheReferenceAtEveryShape) {
  for (const Case& c : kCases) CheckAllKernels(GeometryOf(c));
}

// Tilings other than the defaults: one output per invocation (no sharing, no
// vec4 loads), odd blocks, and a wide workgroup of several share groups and
// rows (shared loads of 2 to 8 lanes, depending on the kernel).
TEST_F(ConvTest, ExplicitTilingsMatchTheReference) {
  CheckAllKernels(GeometryOf({3, 7, 9, 3, 7, 3, 3, 2, 1, Conv2DPadding::kExplicit, 1, 1}), {1, 1, 1, 1});
  CheckAllKernels(GeometryOf({2, 9, 11, 8, 12, 3, 3, 1, 2, Conv2DPadding::kExplicit, 2, 1}), {4, 2, 3, 5});
  CheckAllKernels(GeometryOf({2, 9, 11, 8, 12, 3, 3, 1, 2, Conv2DPadding::kExplicit, 2, 1}), {16, 2, 8, 8});
}

// The vec4 loads through texel views (the default on software drivers) and
// through storage buffers, at the default tiling and at a workgroup of 16
// lanes along x sharing loads 16 ways (lavapipe's subgroup at 512 bits), at
// shapes whose channels allow vec4 loads but whose pixels divide no tile.
TEST_F(ConvTest, TexelAndStorageReadsMatchTheReference) {
  const Conv2DGeometry g = GeometryOf({2, 11, 9, 8, 64, 3, 3, 1, 1, Conv2DPadding::kExplicit, 1, 1});
  for (bool storage : {false, true}) {
    SCOPED_TRACE(storage ? "storage reads" : "texel reads where they pay");
    CheckAllKernels(g, {0, 0, 0, 0, storage});
    CheckAllKernels(g, {16, 1, 16, 4, storage});
  }
}

// X, W, dY and the outputs as aligned, non-zero offsets inside one buffer:
// each output is right and nothing outside its range changes.
TEST_F(ConvTest, OffsetViewsInsideOneBufferTouchOnlyTheirOutput) {
  const uint64_t alignment = std::max<uint64_t>(context().info().min_storage_buffer_offset_alignment, 4);
  auto round_up = [&](uint64_t bytes) { return (bytes + alignment - 1) / alignment * alignment; };
  // Shapes whose channels are and are not whole vec4s.
  for (const Case& c : {Case{2, 7, 6, 8, 12, 3, 3, 1, 1, Conv2DPadding::kSame}, Case{2, 7, 6, 3, 5, 3, 3, 2, 2}}) {
    Conv2DGeometry g = GeometryOf(c);
    SCOPED_TRACE(Describe(g));
    // Layout: gap | X | gap | W | gap | dY | gap | Y | gap | dX | gap | dW | gap.
    const uint64_t sizes[] = {g.input_elements(), g.filter_elements(), g.output_elements(),
                              g.output_elements(), g.input_elements(), g.filter_elements()};
    std::array<uint64_t, 6> offsets{};
    uint64_t end = alignment;
    for (size_t t = 0; t < 6; ++t) {
      offsets[t] = end;
      end = round_up(end + 4 * sizes[t]) + alignment * (t + 1);  // gaps of different sizes
    }
    const uint64_t total_floats = end / 4;
    std::vector<float> contents = testing::RandomFloats(rng_, total_floats);
    for (size_t t = 3; t < 6; ++t)  // outputs start as NaN
      std::fill_n(contents.begin() + offsets[t] / 4, sizes[t], std::numeric_limits<float>::quiet_NaN());
    vk::Buffer buffer = MakeBuffer(contents, "all tensors");
    auto view = [&](size_t t) { return kernels::TensorRef{&buffer, offsets[t], sizes[t]}; };
    Run({kernels::Conv2DDispatch(pipelines(), {view(0), view(1), view(3), g}),
         kernels::Conv2DBackwardDataDispatch(pipelines(), {view(2), view(1), view(4), g}),
         kernels::Conv2DBackwardFilterDispatch(pipelines(), {view(0), view(2), view(5), g})});
    std::vector<float> after = Read<float>(buffer, total_floats);

    auto host = [&](size_t t) {
      return std::vector<float>(contents.begin() + offsets[t] / 4, contents.begin() + offsets[t] / 4 + sizes[t]);
    };
    auto gpu = [&](size_t t) {
      return std::vector<float>(after.begin() + offsets[t] / 4, after.begin() + offsets[t] / 4 + sizes[t]);
    };
    std::vector<float> x = host(0), w = host(1), dy = host(2);
    reference::Conv2DShape shape = ReferenceShape(g);
    std::array<uint32_t, 4> y_dims{g.batch, g.out_height, g.out_width, g.out_channels};
    std::array<uint32_t, 4> x_dims{g.batch, g.in_height, g.in_width, g.in_channels};
    std::array<uint32_t, 4> w_dims{g.kernel_height, g.kernel_width, g.in_channels, g.out_channels};
    EXPECT_EQ(CountMismatches(gpu(3), reference::Conv2DForward(x, w, shape),
                              reference::Conv2DForward(Abs(x), Abs(w), shape), "Y", y_dims),
              0);
    EXPECT_EQ(CountMismatches(gpu(4), reference::Conv2DBackwardData(dy, w, shape),
                              reference::Conv2DBackwardData(Abs(dy), Abs(w), shape), "dX", x_dims),
              0);
    EXPECT_EQ(CountMismatches(gpu(5), reference::Conv2DBackwardFilter(x, dy, shape),
                              reference::Conv2DBackwardFilter(Abs(x), Abs(dy), shape), "dW", w_dims),
              0);
    for (size_t e = 0; e < total_floats; ++e) {
      bool inside_output = false;
      for (size_t t = 3; t < 6; ++t) inside_output |= e >= offsets[t] / 4 && e < offsets[t] / 4 + sizes[t];
      if (!inside_output && std::memcmp(&after[e], &contents[e], 4) != 0) {
        ADD_FAILURE() << "float " << e << " outside the outputs changed from " << contents[e] << " to " << after[e];
        break;
      }
    }
  }
}

// For L = sum(G .* conv(X, W)) in double: dL/dX = Conv2DBackwardData(G, W) and
// dL/dW = Conv2DBackwardFilter(X, G), checked element by element against
// central differences. L is linear in each of X and W, so the differences are
// exact up to rounding.
TEST(ConvReferenceTest, GradientsMatchFiniteDifferences) {
  auto rng = testing::MakeRng();
  for (const Case& c : {Case{2, 5, 6, 3, 4, 3, 3, 2, 2, Conv2DPadding::kExplicit, 1, 1},
                        Case{1, 6, 5, 2, 3, 5, 3, 1, 2, Conv2DPadding::kSame},
                        Case{2, 4, 4, 3, 2, 1, 1, 1, 1}}) {
    Conv2DGeometry g = GeometryOf(c);
    SCOPED_TRACE(Describe(g));
    reference::Conv2DShape shape = ReferenceShape(g);
    auto to_double = [](const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); };
    const std::vector<double> x = to_double(testing::RandomFloats(rng, g.input_elements()));
    const std::vector<double> w = to_double(testing::RandomFloats(rng, g.filter_elements()));
    const std::vector<double> grad = to_double(testing::RandomFloats(rng, g.output_elements()));
    auto loss = [&](const std::vector<double>& x_, const std::vector<double>& w_) {
      std::vector<double> y = reference::Conv2DForward(x_, w_, shape);
      double sum = 0;
      for (size_t e = 0; e < y.size(); ++e) sum += grad[e] * y[e];
      return sum;
    };
    const double h = 1e-3;
    std::vector<double> dx = reference::Conv2DBackwardData(grad, w, shape);
    for (size_t e = 0; e < x.size(); ++e) {
      std::vector<double> plus = x, minus = x;
      plus[e] += h, minus[e] -= h;
      EXPECT_NEAR(dx[e], (loss(plus, w) - loss(minus, w)) / (2 * h), 1e-8) << "dX element " << e;
    }
    std::vector<double> dw = reference::Conv2DBackwardFilter(x, grad, shape);
    for (size_t e = 0; e < w.size(); ++e) {
      std::vector<double> plus = w, minus = w;
      plus[e] += h, minus[e] -= h;
      EXPECT_NEAR(dw[e], (loss(x, plus) - loss(x, minus)) / (2 * h), 1e-8) << "dW element " << e;
    }
  }
}

// PyTorch's output sizes for explicit padding, Keras' for 'valid' and 'same'.
TEST(ConvGeometryTest, PaddingResolvesLikePyTorchAndKeras) {
  struct Expected {
    Case c;
    uint32_t out_height, out_width, pad_top, pad_left;
  };
  const Expected expected[] = {
      {{1, 32, 32, 3, 32, 3, 3, 1, 1}, 30, 30, 0, 0},                                // valid
      {{1, 15, 15, 3, 32, 3, 3, 2, 2}, 7, 7, 0, 0},                                  // valid, stride drops a column
      {{1, 28, 28, 1, 8, 5, 5, 1, 1, Conv2DPadding::kSame}, 28, 28, 2, 2},          // same: (K-1)/2
      {{1, 28, 28, 1, 8, 4, 4, 1, 1, Conv2DPadding::kSame}, 28, 28, 1, 1},          // even kernel: 1 above, 2 below
      {{1, 13, 12, 1, 8, 3, 3, 2, 2, Conv2DPadding::kSame}, 7, 6, 1, 0},            // same, strided: ceil(H/s)
      {{1, 7, 9, 1, 8, 3, 5, 2, 3, Conv2DPadding::kExplicit, 1, 2}, 4, 3, 1, 2},    // floor((H + 2p - K)/s) + 1
      {{1, 4, 4, 1, 8, 1, 1, 1, 1, Conv2DPadding::kExplicit, 2, 0}, 8, 4, 2, 0},
  };
  for (const Expected& e : expected) {
    Conv2DGeometry g = GeometryOf(e.c);
    EXPECT_EQ(g.out_height, e.out_height) << Describe(g);
    EXPECT_EQ(g.out_width, e.out_width) << Describe(g);
    EXPECT_EQ(g.pad_top, e.pad_top) << Describe(g);
    EXPECT_EQ(g.pad_left, e.pad_left) << Describe(g);
  }
  EXPECT_THROW(GeometryOf({1, 2, 8, 1, 1, 3, 3, 1, 1}), Error);  // kernel taller than the image
  EXPECT_NO_THROW(GeometryOf({1, 2, 8, 1, 1, 3, 3, 1, 1, Conv2DPadding::kExplicit, 1, 0}));
  EXPECT_THROW(GeometryOf({1, 8, 8, 1, 1, 3, 3, 0, 1}), Error);  // zero stride
}

TEST_F(ConvTest, VariantChoiceFollowsTheChannels) {
  const vk::DeviceInfo& info = context().info();
  // The seed CNN: its RGB first layer direct, the others implicit GEMM.
  EXPECT_EQ(kernels::ChooseConv2DVariant(info, GeometryOf({64, 32, 32, 3, 32, 3, 3, 1, 1})), Conv2DVariant::kDirect);
  EXPECT_EQ(kernels::ChooseConv2DVariant(info, GeometryOf({64, 15, 15, 32, 64, 3, 3, 1, 1})),
            Conv2DVariant::kImplicitGemm);
  EXPECT_EQ(kernels::ChooseConv2DVariant(info, GeometryOf({64, 6, 6, 64, 64, 3, 3, 1, 1})),
            Conv2DVariant::kImplicitGemm);
  EXPECT_EQ(kernels::ChooseConv2DVariant(info, GeometryOf({64, 28, 28, 1, 32, 5, 5, 1, 1})), Conv2DVariant::kDirect);
}

// Not a test of speed (nothing is asserted): prints each kernel's GFLOP/s at
// the seed CNN's layers (batch 64, 'valid'), the median of a few runs.
TEST_F(ConvTest, TimingAtTheSeedCnnShapes) {
  constexpr int kRuns = 3;
  auto median_ms = [](std::vector<double> ns) {
    std::sort(ns.begin(), ns.end());
    return ns[ns.size() / 2] * 1e-6;
  };
  std::printf("%-40s %12s %12s %12s %12s\n", "layer", "GEMM fwd", "direct fwd", "bwd data", "bwd filter");
  for (const Case& c : {Case{64, 32, 32, 3, 32, 3, 3, 1, 1}, Case{64, 15, 15, 32, 64, 3, 3, 1, 1},
                        Case{64, 6, 6, 64, 64, 3, 3, 1, 1}}) {
    Conv2DGeometry g = GeometryOf(c);
    vk::Buffer x = MakeBuffer(testing::RandomFloats(rng_, g.input_elements()), "X");
    vk::Buffer w = MakeBuffer(testing::RandomFloats(rng_, g.filter_elements()), "W");
    vk::Buffer dy = MakeBuffer(testing::RandomFloats(rng_, g.output_elements()), "dY");
    vk::Buffer y = MakePoisonedBuffer(g.output_elements(), "Y"), dx = MakePoisonedBuffer(g.input_elements(), "dX");
    vk::Buffer dw = MakePoisonedBuffer(g.filter_elements(), "dW");
    std::vector<vk::Dispatch> kinds = {
        kernels::Conv2DDispatch(pipelines(), {WholeBuffer(x), WholeBuffer(w), WholeBuffer(y), g},
                                Conv2DVariant::kImplicitGemm),
        kernels::Conv2DDispatch(pipelines(), {WholeBuffer(x), WholeBuffer(w), WholeBuffer(y), g},
                                Conv2DVariant::kDirect),
        kernels::Conv2DBackwardDataDispatch(pipelines(), {WholeBuffer(dy), WholeBuffer(w), WholeBuffer(dx), g}),
        kernels::Conv2DBackwardFilterDispatch(pipelines(), {WholeBuffer(x), WholeBuffer(dy), WholeBuffer(dw), g})};
    // Runs of each kind interleaved (the host is noisy), one submission.
    std::vector<vk::Dispatch> dispatches;
    for (int run = 0; run < kRuns; ++run) dispatches.insert(dispatches.end(), kinds.begin(), kinds.end());
    std::vector<double> times = Run(dispatches);
    std::printf("%-40s", kernels::Conv2DDescription(g).c_str());
    for (size_t k = 0; k < kinds.size(); ++k) {
      std::vector<double> ns;
      for (int run = 0; run < kRuns; ++run) ns.push_back(times[run * kinds.size() + k]);
      double ms = median_ms(ns);
      std::printf(" %5.1f GF/s%s", g.flops() / (ms * 1e6), k + 1 < kinds.size() ? " " : "");
    }
    std::printf("   (%.0f MFLOP each)\n", g.flops() * 1e-6);
  }
  std::fflush(stdout);
}

}  // namespace
}  // namespace ts

