// The non-convolution CNN layer kernels against their double-precision
// references (compute/reference/layers.h): max / average / global average
// pooling, dropout and batch normalisation, forward and backward.
//
// Every output buffer starts as NaN, so an element a kernel forgot to write
// fails, and every element is compared. The default bound is
//   |gpu - ref| <= 1e-5 * max(1, |ref|)
// (float kernels are good to a few ulps, ~1e-7 relative; values produced by
// cancellation can only be held to an absolute bound on the scale of their
// terms). Bounds that differ say why where they are used. The references
// themselves are checked against central finite differences in double.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "compute/kernels/batchnorm.h"
#include "compute/kernels/dropout.h"
#include "compute/kernels/pool.h"
#include "compute/reference/elementwise.h"
#include "compute/reference/layers.h"
#include "shaders/step_params.h"
#include "support/kernel_test.h"
#include "support/vulkan_test.h"
#include "compute/kernels/activation.h"
#include "compute/kernels/copy.h"

namespace ts {
namespace {

using kernels::PoolKind;
using kernels::PoolPath;
using kernels::PoolShape;
using kernels::TensorRef;
using kernels::WholeBuffer;
using reference::ToDouble;

// The every-element comparison and bound the elementwise kernel tests use.
using kernel_tests::DefaultBound;
using kernel_tests::ExpectAllNear;
using kernel_tests::kNaN;

class LayerTest : public testing::VulkanTest {
 protected:
  std::vector<float> ReadAll(const vk::Buffer& buffer) { return Read<float>(buffer, buffer.size() / 4); }
  std::vector<uint32_t> ReadIndices(const vk::Buffer& buffer) { return Read<uint32_t>(buffer, buffer.size() / 4); }
};

// ---------------------------------------------------------------- pooling

struct PoolCase {
  const char* name;
  uint32_t height, width, window_h, window_w, stride_h, stride_w, pad_top, pad_bottom, pad_left, pad_right;
};
// Non-overlapping windows that leave a row and column over (7 = 3*2 + 1),
// overlapping windows with padding on a non-square odd input, stride 1, and
// asymmetric padding and strides (TensorFlow's "same" for a 3x2 window).
const PoolCase kPoolCases[] = {
    {"2x2 stride 2 on 7x7", 7, 7, 2, 2, 2, 2, 0, 0, 0, 0},
    {"3x3 stride 2 pad 1 on 13x11", 13, 11, 3, 3, 2, 2, 1, 1, 1, 1},
    {"3x3 stride 1 on 9x8", 9, 8, 3, 3, 1, 1, 0, 0, 0, 0},
    {"3x3 stride 1 pad 1 on 6x5", 6, 5, 3, 3, 1, 1, 1, 1, 1, 1},
    {"3x2 stride 2x1 pad (0,1,1,0) on 8x5", 8, 5, 3, 2, 2, 1, 0, 1, 1, 0},
};

PoolShape ShapeOf(const PoolCase& c, uint32_t batch, uint32_t channels) {
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

TEST(PoolShapeTest, OutputSizesAndProblems) {
  PoolShape s = ShapeOf(kPoolCases[0], 1, 1);
  EXPECT_EQ(s.out_height(), 3u);  // floor((7 - 2) / 2) + 1, as PyTorch's ceil_mode=False
  EXPECT_EQ(s.out_width(), 3u);
  s = ShapeOf(kPoolCases[1], 1, 1);
  EXPECT_EQ(s.out_height(), 7u);  // floor((13 + 2 - 3) / 2) + 1
  EXPECT_EQ(s.out_width(), 6u);   // floor((11 + 2 - 3) / 2) + 1
  EXPECT_TRUE(kernels::PoolShapeProblem(s).empty());
  s.pad_top = 3;
  EXPECT_NE(kernels::PoolShapeProblem(s).find("padding"), std::string::npos);
  s.pad_top = 0, s.height = 1, s.pad_bottom = 0;
  EXPECT_NE(kernels::PoolShapeProblem(s).find("larger than"), std::string::npos);
  PoolShape global = kernels::GlobalAveragePoolShape(2, 5, 4, 3);
  EXPECT_EQ(global.out_height(), 1u);
  EXPECT_EQ(global.out_width(), 1u);
  EXPECT_EQ(global.output_count(), 6u);
}

struct PoolBuffers {
  vk::Buffer input, output, argmax, grad_out, grad_in;
};

const char* PathName(PoolPath path) {
  return path == PoolPath::kScalar ? "scalar" : path == PoolPath::kVec4 ? "vec4" : "auto";
}

class PoolTest : public LayerTest {
 protected:
  // The paths to test for a shape: the scalar shaders always; the vec4 ones
  // where channels % 4 == 0 (and never otherwise: PoolCanUseVec4 must say no).
  std::vector<PoolPath> PathsFor(const PoolShape& shape) {
    kernels::PoolArgs forward;
    kernels::PoolBackwardArgs backward;
    forward.shape = backward.shape = shape;
    std::vector<float> zeros(std::max<uint64_t>(shape.input_count(), shape.output_count()) + 4);
    vk::Buffer buffer = MakeBuffer(zeros);
    forward.input = forward.output = forward.argmax = WholeBuffer(buffer);
    backward.grad_out = backward.argmax = backward.grad_in = WholeBuffer(buffer);
    const bool can = kernels::PoolCanUseVec4(context(), forward);
    EXPECT_EQ(can, kernels::PoolCanUseVec4(context(), backward));
    EXPECT_EQ(can, shape.channels % 4 == 0) << "aligned whole buffers, " << shape.channels << " channels";
    if (!can) return {PoolPath::kScalar};
    return {PoolPath::kScalar, PoolPath::kVec4};
  }

  // Runs forward and backward in one submission (backward reads the forward's argmax).
  PoolBuffers RunPool(PoolKind kind, const PoolShape& shape, const std::vector<float>& input,
                      const std::vector<float>& grad_out, PoolPath path = PoolPath::kAuto) {
    PoolBuffers b{MakeBuffer(input), MakePoisonedBuffer(shape.output_count()),
                  MakePoisonedBuffer(shape.output_count()), MakeBuffer(grad_out),
                  MakePoisonedBuffer(shape.input_count())};
    kernels::PoolArgs forward;
    forward.kind = kind, forward.shape = shape;
    forward.input = WholeBuffer(b.input), forward.output = WholeBuffer(b.output);
    if (kind == PoolKind::kMax) forward.argmax = WholeBuffer(b.argmax);
    kernels::PoolBackwardArgs backward;
    backward.kind = kind, backward.shape = shape;
    backward.grad_out = WholeBuffer(b.grad_out), backward.grad_in = WholeBuffer(b.grad_in);
    if (kind == PoolKind::kMax) backward.argmax = WholeBuffer(b.argmax);
    forward.path = backward.path = path;
    const vk::Dispatch f = kernels::PoolDispatch(pipelines(), forward);
    const vk::Dispatch g = kernels::PoolBackwardDispatch(pipelines(), backward);
    // kAuto takes vec4 wherever it can.
    const bool vec4 = path == PoolPath::kVec4 || (path == PoolPath::kAuto && shape.channels % 4 == 0);
    EXPECT_EQ(f.pipeline->shader_name(), vec4 ? "pool_vec4" : "pool");
    EXPECT_EQ(g.pipeline->shader_name(), vec4 ? "pool_back_vec4" : "pool_back");
    Run({f, g});
    return b;
  }

  // Compares forward (max exactly: it copies an input; argmax exactly) and
  // backward against the reference.
  void ExpectPoolMatchesReference(PoolKind kind, const PoolShape& shape, const std::vector<float>& input,
                                  const std::vector<float>& grad_out, PoolPath path) {
    SCOPED_TRACE(std::string("path ") + PathName(path));
    PoolBuffers b = RunPool(kind, shape, input, grad_out, path);
    reference::PoolOutput ref = reference::PoolForward(kind, shape, ToDouble(input));
    const bool is_max = kind == PoolKind::kMax;
    ExpectAllNear(ReadAll(b.output), ref.out, "out",
                  [&](size_t, double r) { return is_max ? 0.0 : DefaultBound(r); });
    if (is_max) {
      std::vector<uint32_t> argmax = ReadIndices(b.argmax);
      size_t wrong = 0;
      for (size_t o = 0; o < ref.argmax.size(); ++o) wrong += argmax[o] != ref.argmax[o];
      EXPECT_EQ(wrong, 0u) << "argmax differs in " << wrong << " of " << ref.argmax.size() << " outputs";
    }
    ExpectAllNear(ReadAll(b.grad_in), reference::PoolBackward(kind, shape, ToDouble(grad_out), ref.argmax), "grad_in");
  }

  // The above on every path the shape allows (scalar, and vec4 where channels % 4 == 0).
  void ExpectPoolMatchesReferenceOnEveryPath(PoolKind kind, const PoolShape& shape, const std::vector<float>& input,
                                             const std::vector<float>& grad_out) {
    for (PoolPath path : PathsFor(shape)) ExpectPoolMatchesReference(kind, shape, input, grad_out, path);
  }
};

TEST_F(PoolTest, MaxAndAverageMatchReference) {
  auto rng = testing::MakeRng();
  for (PoolKind kind : {PoolKind::kMax, PoolKind::kAverage}) {
    for (const PoolCase& pool_case : kPoolCases) {
      for (uint32_t batch : {1u, 3u}) {
        for (uint32_t channels : {1u, 3u, 4u, 8u, 12u, 17u, 64u}) {
          PoolShape shape = ShapeOf(pool_case, batch, channels);
          SCOPED_TRACE(std::string(kernels::PoolName(kind)) + " " + pool_case.name + " " + Describe(shape));
          ASSERT_TRUE(kernels::PoolShapeProblem(shape).empty()) << kernels::PoolShapeProblem(shape);
          ExpectPoolMatchesReferenceOnEveryPath(kind, shape, testing::RandomFloats(rng, shape.input_count()),
                                     testing::RandomFloats(rng, shape.output_count()));
        }
      }
    }
  }
}

// Past a target count of invocations (pool.cpp: 65536 on a GPU, 8192 on a CPU
// driver) an invocation takes a block of several channels (vec4: quads) of
// its pixel (PoolParams::channels_per_block). Batch 3 (3072 pixels) splits the
// channels into blocks on a CPU driver, batch 24 on a GPU; with 17 channels
// or 12 (3 quads) the blocks of a pixel differ in length.
TEST_F(PoolTest, LargeTensorsMatchReference) {
  auto rng = testing::MakeRng();
  const PoolCase cases[] = {{"3x3 stride 1 pad 1 on 32x32", 32, 32, 3, 3, 1, 1, 1, 1, 1, 1},
                            {"2x2 stride 2 on 31x32", 31, 32, 2, 2, 2, 2, 0, 0, 0, 0}};
  for (PoolKind kind : {PoolKind::kMax, PoolKind::kAverage}) {
    for (const PoolCase& pool_case : cases) {
      for (uint32_t batch : {3u, 24u}) {
        for (uint32_t channels : {12u, 17u, 64u}) {
          PoolShape shape = ShapeOf(pool_case, batch, channels);
          SCOPED_TRACE(std::string(kernels::PoolName(kind)) + " " + pool_case.name + " " + Describe(shape));
          ExpectPoolMatchesReferenceOnEveryPath(kind, shape, testing::RandomFloats(rng, shape.input_count()),
                                                testing::RandomFloats(rng, shape.output_count()));
        }
      }
    }
  }
}

// Ties (inputs from {-1, 0, 1}) go to the first maximum in window order and a
// NaN wins its windows, as PyTorch; overlapping windows (stride 1) share maxima,
// so the backward must add several gradients into one input.
// With 8 channels the vec4 path sees NaNs in some lanes of a texel and
// numbers in the others, and two NaNs in one window (the later one wins).
TEST_F(PoolTest, MaxPoolTiesAndNaNFollowPyTorch) {
  auto rng = testing::MakeRng();
  for (uint32_t channels : {5u, 8u}) {
    PoolShape shape = ShapeOf(kPoolCases[3], 2, channels);  // 3x3 stride 1 pad 1
    SCOPED_TRACE(Describe(shape));
    std::vector<float> input(shape.input_count());
    for (float& v : input) v = float(int(rng() % 3) - 1);
    input[37] = kNaN;
    input[37 + channels] = kNaN;                       // the next pixel, same channel
    input[2 * shape.width * channels + 6] = kNaN;      // a lane of another texel
    ExpectPoolMatchesReferenceOnEveryPath(PoolKind::kMax, shape, input,
                                          testing::RandomFloats(rng, shape.output_count()));
  }
}

// Padding is -inf for max pooling: with all inputs negative, a padded window's
// maximum is still an input, never the 0 a zero padding would give.
TEST_F(PoolTest, MaxPoolPaddingNeverWins) {
  auto rng = testing::MakeRng();
  for (uint32_t channels : {3u, 4u}) {
    PoolShape shape = ShapeOf(kPoolCases[1], 1, channels);  // 3x3 stride 2 pad 1
    std::vector<float> input = testing::RandomFloats(rng, shape.input_count(), -2.0f, -1.0f);
    for (PoolPath path : PathsFor(shape)) {
      SCOPED_TRACE(Describe(shape) + " " + PathName(path));
      PoolBuffers b = RunPool(PoolKind::kMax, shape, input, testing::RandomFloats(rng, shape.output_count()), path);
      std::vector<float> out = ReadAll(b.output);
      EXPECT_TRUE(std::all_of(out.begin(), out.end(), [](float v) { return v <= -1.0f; }));
    }
  }
}

// The vec4 shaders need 16-byte aligned tensors and read through texel views;
// kAuto falls back to the scalar shaders otherwise.
TEST_F(PoolTest, Vec4NeedsFourChannelsAndAlignedTensors) {
  PoolShape shape = ShapeOf(kPoolCases[0], 1, 8);
  vk::Buffer buffer = MakePoisonedBuffer(4 * shape.input_count() + 64);
  const uint64_t in = shape.input_count(), out = shape.output_count();
  kernels::PoolArgs forward;
  forward.shape = shape;
  forward.input = {&buffer, 0, in}, forward.output = {&buffer, 4 * in, out}, forward.argmax = {&buffer, 8 * in, out};
  EXPECT_TRUE(kernels::PoolCanUseVec4(context(), forward));
  EXPECT_EQ(kernels::PoolDispatch(pipelines(), forward).pipeline->shader_name(), "pool_vec4");
  forward.output.offset_bytes += 4;  // no longer 16-byte aligned
  EXPECT_FALSE(kernels::PoolCanUseVec4(context(), forward));
  EXPECT_EQ(kernels::PoolDispatch(pipelines(), forward).pipeline->shader_name(), "pool");
  forward.output.offset_bytes -= 4, forward.output.slot_stride_bytes = 4 * out + 4;
  EXPECT_FALSE(kernels::PoolCanUseVec4(context(), forward));
  forward.output.slot_stride_bytes = 0, forward.kind = PoolKind::kAverage, forward.argmax = {};
  EXPECT_TRUE(kernels::PoolCanUseVec4(context(), forward));  // no argmax to align
  forward.input.offset_bytes = 4;
  EXPECT_FALSE(kernels::PoolCanUseVec4(context(), forward));

  kernels::PoolBackwardArgs backward;
  backward.shape = shape;
  backward.grad_out = {&buffer, 0, out}, backward.argmax = {&buffer, 4 * in, out}, backward.grad_in = {&buffer, 8 * in, in};
  EXPECT_TRUE(kernels::PoolCanUseVec4(context(), backward));
  EXPECT_EQ(kernels::PoolBackwardDispatch(pipelines(), backward).pipeline->shader_name(), "pool_back_vec4");
  backward.argmax.offset_bytes += 4;
  EXPECT_FALSE(kernels::PoolCanUseVec4(context(), backward));
  backward.kind = PoolKind::kAverage, backward.argmax = {};
  EXPECT_TRUE(kernels::PoolCanUseVec4(context(), backward));
  backward.grad_in.offset_bytes += 4;
  EXPECT_FALSE(kernels::PoolCanUseVec4(context(), backward));
  EXPECT_EQ(kernels::PoolBackwardDispatch(pipelines(), backward).pipeline->shader_name(), "pool_back");

  shape.channels = 6;  // whole buffers, aligned, but channels % 4 != 0
  forward = {}, backward = {};
  forward.shape = backward.shape = shape;
  forward.input = forward.output = forward.argmax = WholeBuffer(buffer);
  backward.grad_out = backward.argmax = backward.grad_in = WholeBuffer(buffer);
  EXPECT_FALSE(kernels::PoolCanUseVec4(context(), forward));
  EXPECT_FALSE(kernels::PoolCanUseVec4(context(), backward));
}

TEST_F(PoolTest, GlobalAveragePoolMatchesReference) {
  auto rng = testing::MakeRng();
  struct Case {
    uint32_t batch, height, width, channels;
  };
  for (Case c : {Case{1, 7, 7, 3}, Case{3, 1, 1, 17}, Case{3, 5, 9, 64}, Case{64, 8, 8, 32}, Case{2, 32, 32, 1},
                 Case{2, 1, 1, 4}, Case{3, 6, 5, 12}, Case{2, 32, 32, 8}}) {
    PoolShape shape = kernels::GlobalAveragePoolShape(c.batch, c.height, c.width, c.channels);
    SCOPED_TRACE("global average " + Describe(shape));
    ASSERT_EQ(shape.output_count(), uint64_t(c.batch) * c.channels);  // (N, 1, 1, C) = (N, C)
    ExpectPoolMatchesReferenceOnEveryPath(PoolKind::kAverage, shape, testing::RandomFloats(rng, shape.input_count()),
                               testing::RandomFloats(rng, shape.output_count()));
  }
}

// The reference backward against central differences of the reference
// forward for L = sum(w * out). Average pooling is linear (h = 1e-3, exact up
// to rounding); max pooling is piecewise linear, so the inputs are distinct
// multiples of 1e-2 and h = 1e-6 never changes a window's winner.
TEST(PoolReferenceTest, BackwardMatchesFiniteDifferences) {
  auto rng = testing::MakeRng();
  for (PoolKind kind : {PoolKind::kAverage, PoolKind::kMax}) {
    for (const PoolCase& pool_case : {kPoolCases[1], kPoolCases[3], kPoolCases[4]}) {
      PoolShape shape = ShapeOf(pool_case, 2, 3);
      SCOPED_TRACE(std::string(kernels::PoolName(kind)) + " " + pool_case.name);
      const size_t n = shape.input_count();
      std::vector<double> x(n);
      std::iota(x.begin(), x.end(), 0.0);
      std::shuffle(x.begin(), x.end(), rng);
      for (double& v : x) v = v * 1e-2 - 1.0;
      std::vector<double> w = ToDouble(testing::RandomFloats(rng, shape.output_count()));
      auto loss = [&](const std::vector<double>& input) {
        std::vector<double> out = reference::PoolForward(kind, shape, input).out;
        return std::inner_product(out.begin(), out.end(), w.begin(), 0.0);
      };
      const double h = kind == PoolKind::kAverage ? 1e-3 : 1e-6;
      std::vector<double> numeric(n);
      for (size_t i = 0; i < n; ++i) {
        std::vector<double> plus = x, minus = x;
        plus[i] += h, minus[i] -= h;
        numeric[i] = (loss(plus) - loss(minus)) / (2 * h);
      }
      std::vector<double> analytic =
          reference::PoolBackward(kind, shape, w, reference::PoolForward(kind, shape, x).argmax);
      for (size_t i = 0; i < n; ++i) ASSERT_NEAR(analytic[i], numeric[i], 1e-8) << "input " << i;
    }
  }
}

// ---------------------------------------------------------------- dropout

class DropoutTest : public LayerTest {
 protected:
  // Forward on x and backward on g, in one submission; returns (y, grad_x).
  std::pair<std::vector<float>, std::vector<float>> RunDropout(const std::vector<float>& x,
                                                               const std::vector<float>& g, float p, uint32_t seed,
                                                               uint32_t step, const vk::Buffer* step_params = nullptr) {
    const uint32_t count = uint32_t(x.size());
    vk::Buffer x_buffer = MakeBuffer(x), g_buffer = MakeBuffer(g);
    vk::Buffer y_buffer = MakePoisonedBuffer(count), grad_x_buffer = MakePoisonedBuffer(count);
    kernels::DropoutArgs forward;
    forward.input = WholeBuffer(x_buffer), forward.output = WholeBuffer(y_buffer);
    forward.count = count, forward.drop_probability = p, forward.seed = seed, forward.step = step;
    if (step_params) forward.step_params = WholeBuffer(*step_params);
    kernels::DropoutArgs backward = forward;
    backward.input = WholeBuffer(g_buffer), backward.output = WholeBuffer(grad_x_buffer);
    Run({kernels::DropoutDispatch(pipelines(), forward), kernels::DropoutBackwardDispatch(pipelines(), backward)});
    return {ReadAll(y_buffer), ReadAll(grad_x_buffer)};
  }
};

// Nonzero random values, so a zero output means a dropped element.
std::vector<float> NonzeroFloats(std::mt19937_64& rng, size_t count) {
  std::vector<float> values = testing::RandomFloats(rng, count);
  for (float& v : values)
    if (v == 0.0f) v = 0.5f;
  return values;
}

// The mask matches the CPU's exactly, kept values are scaled by 1/(1-p), the
// backward applies the same mask, and the kept fraction is 1 - p to within
// 6 standard deviations (sqrt(p(1-p)/n) <= 1.6e-3 at n = 100003).
TEST_F(DropoutTest, MaskMatchesCpuAndKeepsOneMinusP) {
  auto rng = testing::MakeRng();
  const uint32_t count = 100003;
  for (float p : {0.0f, 0.25f, 0.5f, 0.9f}) {
    SCOPED_TRACE("p = " + std::to_string(p));
    std::vector<float> x = NonzeroFloats(rng, count), g = NonzeroFloats(rng, count);
    const uint32_t seed = 1234, step = 17;
    auto [y, grad_x] = RunDropout(x, g, p, seed, step);
    std::vector<double> mask = reference::DropoutMask(count, p, seed, step);
    size_t kept = 0, mask_mismatches = 0;
    std::vector<double> ref_y(count), ref_grad_x(count);
    for (uint32_t i = 0; i < count; ++i) {
      const bool keeps = kernels::DropoutKeeps(seed, step, i, p);
      kept += keeps;
      mask_mismatches += (y[i] != 0.0f) != keeps;
      ref_y[i] = x[i] * mask[i];
      ref_grad_x[i] = g[i] * mask[i];
    }
    EXPECT_EQ(mask_mismatches, 0u);
    EXPECT_NEAR(double(kept) / count, 1.0 - p, 0.01);
    if (p == 0.0f) {
      EXPECT_EQ(kept, count);
    }
    ExpectAllNear(y, ref_y, "y");
    ExpectAllNear(grad_x, ref_grad_x, "grad_x");
  }
}

// Another step or another seed draws another mask (agreeing on about
// p^2 + (1-p)^2 = 1/2 of the elements at p = 1/2), and p = 1 drops everything.
TEST_F(DropoutTest, StepAndSeedChangeTheMask) {
  auto rng = testing::MakeRng();
  const uint32_t count = 4099;
  std::vector<float> x = NonzeroFloats(rng, count);
  auto mask_of = [&](uint32_t seed, uint32_t step) {
    std::vector<float> y = RunDropout(x, x, 0.5f, seed, step).first;
    std::vector<bool> kept(count);
    for (uint32_t i = 0; i < count; ++i) kept[i] = y[i] != 0.0f;
    return kept;
  };
  auto agreement = [&](const std::vector<bool>& a, const std::vector<bool>& b) {
    size_t same = 0;
    for (uint32_t i = 0; i < count; ++i) same += a[i] == b[i];
    return double(same) / count;
  };
  std::vector<bool> base = mask_of(5, 0);
  EXPECT_EQ(agreement(base, mask_of(5, 0)), 1.0);
  EXPECT_NEAR(agreement(base, mask_of(5, 1)), 0.5, 0.05);
  EXPECT_NEAR(agreement(base, mask_of(6, 0)), 0.5, 0.05);

  auto [y, grad_x] = RunDropout(x, x, 1.0f, 5, 0);
  EXPECT_TRUE(std::all_of(y.begin(), y.end(), [](float v) { return v == 0.0f; }));
  EXPECT_TRUE(std::all_of(grad_x.begin(), grad_x.end(), [](float v) { return v == 0.0f; }));
}

// With StepParams bound, the counter is step + StepParams::adam_step, so a
// recorded command buffer draws a new mask each step.
TEST_F(DropoutTest, StepComesFromStepParamsWhenBound) {
  auto rng = testing::MakeRng();
  const uint32_t count = 1001, seed = 99;
  gpu::StepParams step{};
  step.adam_step = 40;
  vk::Buffer step_buffer(context(), sizeof(step), "step params");
  step_buffer.Upload(std::as_bytes(std::span(&step, 1)));
  std::vector<float> x = NonzeroFloats(rng, count);
  auto [y, grad_x] = RunDropout(x, x, 0.25f, seed, 2, &step_buffer);
  std::vector<double> mask = reference::DropoutMask(count, 0.25, seed, 42), ref(count);
  for (uint32_t i = 0; i < count; ++i) ref[i] = x[i] * mask[i];
  ExpectAllNear(y, ref, "y");
  ExpectAllNear(grad_x, ref, "grad_x");
}

// ---------------------------------------------------------------- batch normalisation

struct BatchNormInputs {
  std::vector<float> x, gamma, beta, running_mean, running_var;
};
BatchNormInputs MakeBatchNormInputs(std::mt19937_64& rng, uint32_t rows, uint32_t channels, float offset = 0.0f) {
  BatchNormInputs in{testing::RandomFloats(rng, size_t(rows) * channels, -2.0f, 3.0f),
                     testing::RandomFloats(rng, channels, -1.5f, 1.5f), testing::RandomFloats(rng, channels),
                     testing::RandomFloats(rng, channels), testing::RandomFloats(rng, channels, 0.5f, 2.0f)};
  for (float& v : in.x) v += offset;
  return in;
}

struct BatchNormShape {
  uint32_t rows, channels;
};
std::string Describe(BatchNormShape s) { return std::to_string(s.rows) + "x" + std::to_string(s.channels); }

class BatchNormTest : public LayerTest {
 protected:
  struct ForwardResult {
    std::vector<float> y, saved_mean, saved_inv_std, running_mean, running_var;
  };
  // single_dispatch: BatchNormDispatch, else BatchNormDispatches with a workspace.
  ForwardResult RunForward(const BatchNormInputs& in, BatchNormShape shape, bool training,
                           bool single_dispatch = false) {
    const size_t n = size_t(shape.rows) * shape.channels;
    vk::Buffer x = MakeBuffer(in.x), gamma = MakeBuffer(in.gamma), beta = MakeBuffer(in.beta);
    vk::Buffer running_mean = MakeBuffer(in.running_mean), running_var = MakeBuffer(in.running_var);
    vk::Buffer saved_mean = MakePoisonedBuffer(shape.channels), saved_inv_std = MakePoisonedBuffer(shape.channels);
    vk::Buffer y = MakePoisonedBuffer(n);
    vk::Buffer workspace = MakePoisonedBuffer(kernels::BatchNormWorkspaceCount(shape.rows, shape.channels));
    kernels::BatchNormArgs args;
    args.x = WholeBuffer(x), args.gamma = WholeBuffer(gamma), args.beta = WholeBuffer(beta);
    args.running_mean = WholeBuffer(running_mean), args.running_var = WholeBuffer(running_var);
    if (training) args.saved_mean = WholeBuffer(saved_mean), args.saved_inv_std = WholeBuffer(saved_inv_std);
    args.y = WholeBuffer(y);
    args.rows = shape.rows, args.channels = shape.channels, args.training = training;
    if (single_dispatch) {
      Run({kernels::BatchNormDispatch(pipelines(), args)});
    } else {
      args.workspace = WholeBuffer(workspace);
      std::vector<vk::Dispatch> dispatches = kernels::BatchNormDispatches(pipelines(), args);
      EXPECT_EQ(dispatches.size(), training && shape.rows > 512 ? 2u : 1u);
      Run(std::move(dispatches));
    }
    return {ReadAll(y), ReadAll(saved_mean), ReadAll(saved_inv_std), ReadAll(running_mean), ReadAll(running_var)};
  }

  // y = (x - mean) * inv_std * gamma + beta: besides the default bound, the
  // float mean is off by up to half an ulp of |mean|, which moves x - mean by
  // that much (it matters only for data far from zero).
  static std::function<double(size_t, double)> OutputBound(const std::vector<double>& mean,
                                                           const std::vector<double>& inv_std,
                                                           const std::vector<float>& gamma) {
    const size_t channels = gamma.size();
    return [=](size_t i, double ref) {
      size_t c = i % channels;
      return DefaultBound(ref) + std::ldexp(std::abs(mean[c]), -23) * inv_std[c] * std::abs(gamma[c]);
    };
  }

  void ExpectTrainingForwardMatchesReference(const BatchNormInputs& in, BatchNormShape shape,
                                             bool single_dispatch = false) {
    ForwardResult gpu = RunForward(in, shape, /*training=*/true, single_dispatch);
    reference::BatchNormOutput ref =
        reference::BatchNormForward(ToDouble(in.x), ToDouble(in.gamma), ToDouble(in.beta), ToDouble(in.running_mean),
                                    ToDouble(in.running_var), shape.rows, shape.channels, true, 1e-5, 0.1);
    ExpectAllNear(gpu.y, ref.y, "y", OutputBound(ref.mean, ref.inv_std, in.gamma));
    ExpectAllNear(gpu.saved_mean, ref.mean, "saved_mean",
                  [](size_t, double r) { return DefaultBound(r); });
    ExpectAllNear(gpu.saved_inv_std, ref.inv_std, "saved_inv_std");
    ExpectAllNear(gpu.running_mean, ref.running_mean, "running_mean");
    ExpectAllNear(gpu.running_var, ref.running_var, "running_var");
  }
};

// Channel counts that are multiples of 4 run the vec4 shaders (4: a single
// lane; 12: three lanes of a 4-lane workgroup row; 32, 64), the others the
// float ones. Up to 512 rows training runs fused in one dispatch; 513 splits
// into uneven blocks of 257 and 256 rows, 1000 into 2, 4099 into 9 (the last
// one short) and 65536 into 64.
const BatchNormShape kBatchNormShapes[] = {{2, 1},     {2, 17},    {2, 8},     {5, 1},      {5, 3},
                                           {5, 4},     {5, 64},    {512, 12},  {513, 3},    {513, 16},
                                           {1000, 1},  {1000, 12}, {1000, 17}, {1000, 64},  {4099, 5},
                                           {65536, 32}};

// Every shape through BatchNorm{,Backward}Dispatches with a workspace, and
// those of more than 512 rows also through the single-dispatch form.
std::vector<std::pair<BatchNormShape, bool>> BatchNormCases() {
  std::vector<std::pair<BatchNormShape, bool>> cases;
  for (BatchNormShape shape : kBatchNormShapes) {
    cases.push_back({shape, false});
    if (shape.rows > 512) cases.push_back({shape, true});
  }
  return cases;
}

TEST_F(BatchNormTest, TrainingForwardMatchesReference) {
  auto rng = testing::MakeRng();
  for (auto [shape, single_dispatch] : BatchNormCases()) {
    SCOPED_TRACE(Describe(shape) + (single_dispatch ? " in one dispatch" : ""));
    ExpectTrainingForwardMatchesReference(MakeBatchNormInputs(rng, shape.rows, shape.channels), shape,
                                          single_dispatch);
  }
}

// Data with |mean| = 100 std: a one-pass sum of squares would lose the
// variance to cancellation (relative error ~ eps * mean^2 / var = 3e-4); the
// two-pass kernel keeps inv_std within the default bound.
TEST_F(BatchNormTest, TrainingForwardIsAccurateFarFromZero) {
  auto rng = testing::MakeRng();
  for (BatchNormShape shape : {BatchNormShape{1000, 3}, BatchNormShape{4099, 17}, BatchNormShape{4099, 16}}) {
    SCOPED_TRACE(Describe(shape));
    ExpectTrainingForwardMatchesReference(MakeBatchNormInputs(rng, shape.rows, shape.channels, 100.0f), shape);
  }
}

TEST_F(BatchNormTest, EvaluationForwardUsesRunningStatistics) {
  auto rng = testing::MakeRng();
  for (BatchNormShape shape : {BatchNormShape{1, 1}, BatchNormShape{1, 64}, BatchNormShape{5, 3}, BatchNormShape{5, 12},
                               BatchNormShape{1000, 17}, BatchNormShape{65536, 32}}) {
    SCOPED_TRACE(Describe(shape));
    BatchNormInputs in = MakeBatchNormInputs(rng, shape.rows, shape.channels);
    ForwardResult gpu = RunForward(in, shape, /*training=*/false);
    reference::BatchNormOutput ref =
        reference::BatchNormForward(ToDouble(in.x), ToDouble(in.gamma), ToDouble(in.beta), ToDouble(in.running_mean),
                                    ToDouble(in.running_var), shape.rows, shape.channels, false, 1e-5, 0.1);
    ExpectAllNear(gpu.y, ref.y, "y");
    // Evaluation leaves the running statistics and the saved buffers alone.
    ExpectAllNear(gpu.running_mean, ToDouble(in.running_mean), "running_mean", [](size_t, double) { return 0.0; });
    ExpectAllNear(gpu.running_var, ToDouble(in.running_var), "running_var", [](size_t, double) { return 0.0; });
    EXPECT_TRUE(std::all_of(gpu.saved_mean.begin(), gpu.saved_mean.end(), [](float v) { return std::isnan(v); }));
  }
}

// Backward from the reference's saved statistics (rounded to float, as the
// forward kernel would store them), against the reference backward with the
// same float statistics. The sums' error scales with the sum of their terms'
// magnitudes, and grad_x's with gamma * inv_std times its terms' magnitudes
// (it cancels: for rows = 2 it is 0 in exact arithmetic).
TEST_F(BatchNormTest, BackwardMatchesReference) {
  auto rng = testing::MakeRng();
  for (auto [shape, single_dispatch] : BatchNormCases()) {
    SCOPED_TRACE(Describe(shape) + (single_dispatch ? " in one dispatch" : ""));
    const uint32_t rows = shape.rows, channels = shape.channels;
    const size_t n = size_t(rows) * channels;
    BatchNormInputs in = MakeBatchNormInputs(rng, rows, channels);
    reference::BatchNormOutput forward =
        reference::BatchNormForward(ToDouble(in.x), ToDouble(in.gamma), ToDouble(in.beta), ToDouble(in.running_mean),
                                    ToDouble(in.running_var), rows, channels, true, 1e-5, 0.1);
    std::vector<float> mean(forward.mean.begin(), forward.mean.end());
    std::vector<float> inv_std(forward.inv_std.begin(), forward.inv_std.end());
    std::vector<float> grad_y = testing::RandomFloats(rng, n);

    vk::Buffer grad_y_buffer = MakeBuffer(grad_y), x = MakeBuffer(in.x), gamma = MakeBuffer(in.gamma);
    vk::Buffer mean_buffer = MakeBuffer(mean), inv_std_buffer = MakeBuffer(inv_std);
    vk::Buffer grad_x = MakePoisonedBuffer(n), grad_gamma = MakePoisonedBuffer(channels),
               grad_beta = MakePoisonedBuffer(channels);
    vk::Buffer workspace = MakePoisonedBuffer(kernels::BatchNormWorkspaceCount(rows, channels));
    kernels::BatchNormBackwardArgs args;
    args.grad_y = WholeBuffer(grad_y_buffer), args.x = WholeBuffer(x), args.gamma = WholeBuffer(gamma);
    args.saved_mean = WholeBuffer(mean_buffer), args.saved_inv_std = WholeBuffer(inv_std_buffer);
    args.grad_x = WholeBuffer(grad_x), args.grad_gamma = WholeBuffer(grad_gamma), args.grad_beta = WholeBuffer(grad_beta);
    args.rows = rows, args.channels = channels;
    if (single_dispatch) {
      Run({kernels::BatchNormBackwardDispatch(pipelines(), args)});
    } else {
      args.workspace = WholeBuffer(workspace);
      std::vector<vk::Dispatch> dispatches = kernels::BatchNormBackwardDispatches(pipelines(), args);
      EXPECT_EQ(dispatches.size(), rows > 512 ? 2u : 1u);
      Run(std::move(dispatches));
    }

    reference::BatchNormGradients ref = reference::BatchNormBackward(
        ToDouble(grad_y), ToDouble(in.x), ToDouble(in.gamma), ToDouble(mean), ToDouble(inv_std), rows, channels);
    std::vector<double> beta_terms(channels, 0.0), gamma_terms(channels, 0.0), xhat(n);
    for (size_t i = 0; i < n; ++i) {
      size_t c = i % channels;
      xhat[i] = (double(in.x[i]) - mean[c]) * inv_std[c];
      beta_terms[c] += std::abs(grad_y[i]);
      gamma_terms[c] += std::abs(grad_y[i] * xhat[i]);
    }
    ExpectAllNear(ReadAll(grad_beta), ref.grad_beta, "grad_beta",
                  [&](size_t c, double) { return 1e-5 * std::max(1.0, beta_terms[c]); });
    ExpectAllNear(ReadAll(grad_gamma), ref.grad_gamma, "grad_gamma",
                  [&](size_t c, double) { return 1e-5 * std::max(1.0, gamma_terms[c]); });
    ExpectAllNear(ReadAll(grad_x), ref.grad_x, "grad_x", [&](size_t i, double) {
      size_t c = i % channels;
      double terms = std::abs(grad_y[i]) + std::abs(ref.grad_beta[c] / rows) +
                     std::abs(xhat[i] * ref.grad_gamma[c] / rows);
      return 1e-5 * std::max(1.0, std::abs(in.gamma[c]) * inv_std[c] * terms);
    });
  }
}

// The whole training step on the device: forward saves the statistics, the
// backward reads them, in one submission.
TEST_F(BatchNormTest, ForwardThenBackwardOnDevice) {
  auto rng = testing::MakeRng();
  const uint32_t rows = 777, channels = 9;
  const size_t n = size_t(rows) * channels;
  BatchNormInputs in = MakeBatchNormInputs(rng, rows, channels);
  std::vector<float> grad_y = testing::RandomFloats(rng, n);
  vk::Buffer x = MakeBuffer(in.x), gamma = MakeBuffer(in.gamma), beta = MakeBuffer(in.beta);
  vk::Buffer running_mean = MakeBuffer(in.running_mean), running_var = MakeBuffer(in.running_var);
  vk::Buffer saved_mean = MakePoisonedBuffer(channels), saved_inv_std = MakePoisonedBuffer(channels);
  vk::Buffer y = MakePoisonedBuffer(n), grad_y_buffer = MakeBuffer(grad_y), grad_x = MakePoisonedBuffer(n);
  vk::Buffer grad_gamma = MakePoisonedBuffer(channels), grad_beta = MakePoisonedBuffer(channels);
  kernels::BatchNormArgs forward;
  forward.x = WholeBuffer(x), forward.gamma = WholeBuffer(gamma), forward.beta = WholeBuffer(beta);
  forward.running_mean = WholeBuffer(running_mean), forward.running_var = WholeBuffer(running_var);
  forward.saved_mean = WholeBuffer(saved_mean), forward.saved_inv_std = WholeBuffer(saved_inv_std);
  forward.y = WholeBuffer(y), forward.rows = rows, forward.channels = channels;
  kernels::BatchNormBackwardArgs backward;
  backward.grad_y = WholeBuffer(grad_y_buffer), backward.x = WholeBuffer(x), backward.gamma = WholeBuffer(gamma);
  backward.saved_mean = WholeBuffer(saved_mean), backward.saved_inv_std = WholeBuffer(saved_inv_std);
  backward.grad_x = WholeBuffer(grad_x), backward.grad_gamma = WholeBuffer(grad_gamma);
  backward.grad_beta = WholeBuffer(grad_beta), backward.rows = rows, backward.channels = channels;
  // One workspace for both passes: the barriers order its reuse.
  vk::Buffer workspace = MakePoisonedBuffer(kernels::BatchNormWorkspaceCount(rows, channels));
  forward.workspace = WholeBuffer(workspace), backward.workspace = WholeBuffer(workspace);
  std::vector<vk::Dispatch> dispatches = kernels::BatchNormDispatches(pipelines(), forward);
  for (vk::Dispatch& d : kernels::BatchNormBackwardDispatches(pipelines(), backward)) dispatches.push_back(std::move(d));
  ASSERT_EQ(dispatches.size(), 4u);  // split into row blocks both ways
  Run(std::move(dispatches));

  reference::BatchNormOutput ref_forward =
      reference::BatchNormForward(ToDouble(in.x), ToDouble(in.gamma), ToDouble(in.beta), ToDouble(in.running_mean),
                                  ToDouble(in.running_var), rows, channels, true, 1e-5, 0.1);
  reference::BatchNormGradients ref = reference::BatchNormBackward(
      ToDouble(grad_y), ToDouble(in.x), ToDouble(in.gamma), ref_forward.mean, ref_forward.inv_std, rows, channels);
  ExpectAllNear(ReadAll(y), ref_forward.y, "y");
  // Sums of 777 terms of size ~1: bound them on that scale.
  ExpectAllNear(ReadAll(grad_beta), ref.grad_beta, "grad_beta", [](size_t, double) { return 1e-5 * 777; });
  ExpectAllNear(ReadAll(grad_gamma), ref.grad_gamma, "grad_gamma", [](size_t, double) { return 1e-5 * 777; });
  ExpectAllNear(ReadAll(grad_x), ref.grad_x, "grad_x", [](size_t, double r) { return 1e-4 * std::max(1.0, std::abs(r)); });
}

TEST(BatchNormShapeTest, RowBlocksAndWorkspace) {
  EXPECT_EQ(kernels::BatchNormRowBlocks(2), 1u);
  EXPECT_EQ(kernels::BatchNormRowBlocks(512), 1u);
  EXPECT_EQ(kernels::BatchNormRowBlocks(513), 2u);
  EXPECT_EQ(kernels::BatchNormRowBlocks(65536), 64u);
  EXPECT_EQ(kernels::BatchNormRowBlocks(1u << 30), 64u);
  EXPECT_EQ(kernels::BatchNormWorkspaceCount(512, 32), 0u);
  EXPECT_EQ(kernels::BatchNormWorkspaceCount(1000, 32), 2u * 2 * 32);
}

// The reference backward against central differences (h = 1e-6) of the
// reference training forward, for L = sum(w * y) with random w: checks the
// formula itself, including the dependence of mean and variance on every x.
TEST(BatchNormReferenceTest, BackwardMatchesFiniteDifferences) {
  auto rng = testing::MakeRng();
  for (BatchNormShape shape : {BatchNormShape{2, 3}, BatchNormShape{7, 3}, BatchNormShape{33, 2}}) {
    SCOPED_TRACE(Describe(shape));
    const uint32_t rows = shape.rows, channels = shape.channels;
    const size_t n = size_t(rows) * channels;
    BatchNormInputs in = MakeBatchNormInputs(rng, rows, channels);
    std::vector<double> x = ToDouble(in.x), gamma = ToDouble(in.gamma), beta = ToDouble(in.beta);
    std::vector<double> w = ToDouble(testing::RandomFloats(rng, n));
    auto loss = [&](const std::vector<double>& xs, const std::vector<double>& gs, const std::vector<double>& bs) {
      std::vector<double> y = reference::BatchNormForward(xs, gs, bs, ToDouble(in.running_mean),
                                                          ToDouble(in.running_var), rows, channels, true, 1e-5, 0.1)
                                  .y;
      return std::inner_product(y.begin(), y.end(), w.begin(), 0.0);
    };
    const double h = 1e-6;
    auto central = [&](std::vector<double>& v, size_t i) {
      double saved = v[i];
      v[i] = saved + h;
      double plus = loss(x, gamma, beta);
      v[i] = saved - h;
      double minus = loss(x, gamma, beta);
      v[i] = saved;
      return (plus - minus) / (2 * h);
    };
    reference::BatchNormOutput forward = reference::BatchNormForward(
        x, gamma, beta, ToDouble(in.running_mean), ToDouble(in.running_var), rows, channels, true, 1e-5, 0.1);
    reference::BatchNormGradients g =
        reference::BatchNormBackward(w, x, gamma, forward.mean, forward.inv_std, rows, channels);
    for (size_t i = 0; i < n; ++i) ASSERT_NEAR(g.grad_x[i], central(x, i), 1e-6 * std::max(1.0, std::abs(g.grad_x[i])));
    for (uint32_t c = 0; c < channels; ++c) {
      ASSERT_NEAR(g.grad_gamma[c], central(gamma, c), 1e-6 * std::max(1.0, std::abs(g.grad_gamma[c])));
      ASSERT_NEAR(g.grad_beta[c], central(beta, c), 1e-6 * std::max(1.0, std::abs(g.grad_beta[c])));
    }
  }
}

}  // namespace
}  // namespace ts
