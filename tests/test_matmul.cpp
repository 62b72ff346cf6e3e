// matmul.comp against the double-precision CPU reference: both variants, all
// four transpose forms, accumulate on and off, shapes that do and do not divide
// the tiles, explicit tilings, offsets inside shared buffers, and the backward
// forms Dense uses checked against finite differences.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include "compute/kernels/matmul.h"
#include "compute/reference/matmul.h"
#include "support/vulkan_test.h"

namespace ts {
namespace {

using kernels::MatmulArgs;
using kernels::MatmulTiling;
using kernels::MatmulVariant;
using testing::VulkanTest;

const char* VariantName(MatmulVariant variant) {
  return variant == MatmulVariant::kRegisterBlocked ? "RegisterBlocked" : "SharedTiled";
}

struct Shape {
  uint32_t m, n, k;
};

std::string Describe(const Shape& s, bool transpose_a, bool transpose_b, bool accumulate) {
  return "M=" + std::to_string(s.m) + " N=" + std::to_string(s.n) + " K=" + std::to_string(s.k) +
         (transpose_a ? " A^T" : " A") + (transpose_b ? " B^T" : " B") + (accumulate ? " C+=" : " C=");
}

// Counts the elements of `gpu` outside |gpu - ref| <= 1e-5 * (sum_k |a b| + |c_in|) + 1e-30
// and reports the first few. NaN (an element never written) always fails.
int CountMismatches(const std::vector<float>& gpu, const std::vector<double>& ref, const std::vector<double>& magnitude,
                    const std::vector<float>& c_in, uint32_t n) {
  int failures = 0;
  for (size_t e = 0; e < ref.size(); ++e) {
    double bound = 1e-5 * (magnitude[e] + (c_in.empty() ? 0.0 : std::abs(double(c_in[e])))) + 1e-30;
    double error = std::abs(double(gpu[e]) - ref[e]);
    if (!(error <= bound)) {
      if (failures < 5)
        ADD_FAILURE() << "C[" << e / n << "][" << e % n << "] = " << gpu[e] << ", reference " << ref[e]
                      << " (error " << error << " > bound " << bound << ")";
      ++failures;
    }
  }
  return failures;
}

class MatmulTest : public VulkanTest {
 protected:
  // Runs one matmul on fresh random data in separate buffers and checks every
  // element of C and the declared cost.
  void Check(MatmulVariant variant, const Shape& s, bool transpose_a, bool transpose_b, bool accumulate,
             const MatmulTiling& tiling = {}, MatmulArgs::Reads reads = MatmulArgs::Reads::kAuto) {
    SCOPED_TRACE(std::string(VariantName(variant)) + " " + Describe(s, transpose_a, transpose_b, accumulate) +
                 " tiling " + std::to_string(tiling.group_cols) + "x" + std::to_string(tiling.group_rows) + " " +
                 std::to_string(tiling.rows_per_invocation) + "x" + std::to_string(tiling.cols_per_invocation) +
                 " reads " + std::to_string(int(reads)));
    std::vector<float> a = testing::RandomFloats(rng_, size_t(s.m) * s.k);
    std::vector<float> b = testing::RandomFloats(rng_, size_t(s.k) * s.n);
    std::vector<float> c_in = accumulate ? testing::RandomFloats(rng_, size_t(s.m) * s.n) : std::vector<float>{};
    vk::Buffer a_buffer = MakeBuffer(a, "A"), b_buffer = MakeBuffer(b, "B");
    vk::Buffer c_buffer = accumulate ? MakeBuffer(c_in, "C") : MakePoisonedBuffer(size_t(s.m) * s.n, "C");

    MatmulArgs args{kernels::WholeBuffer(a_buffer), kernels::WholeBuffer(b_buffer), kernels::WholeBuffer(c_buffer),
                    s.m, s.n, s.k, transpose_a, transpose_b, accumulate, reads};
    vk::Dispatch dispatch = kernels::MatmulDispatch(pipelines(), args, variant, tiling);
    double mn = double(s.m) * s.n, k = s.k;
    EXPECT_EQ(dispatch.cost.flops, 2 * mn * k + (accumulate ? mn : 0));
    EXPECT_EQ(dispatch.cost.bytes_read, 4 * (s.m * k + k * s.n + (accumulate ? mn : 0)));
    EXPECT_EQ(dispatch.cost.bytes_written, 4 * mn);
    Run({dispatch});

    reference::MatmulShape shape{s.m, s.n, s.k, transpose_a, transpose_b};
    std::vector<double> ref = reference::Matmul(a, b, shape, c_in);
    std::vector<double> magnitude = reference::MatmulTermMagnitudes(a, b, shape);
    EXPECT_EQ(CountMismatches(Read<float>(c_buffer, ref.size()), ref, magnitude, c_in, s.n), 0);
  }

  std::mt19937_64 rng_ = testing::MakeRng();
};

// Shapes that divide no tile, a single element, vectors, the MLP's layers and
// matrices many workgroups wide and tall.
const Shape kShapes[] = {
    {1, 1, 1},     {7, 33, 129},  {33, 7, 1},     {127, 129, 65},  {64, 128, 784}, {784, 128, 64},
    {64, 784, 128}, {256, 10, 128}, {64, 10, 128}, {64, 128, 10}, {4, 4, 4},       {8, 12, 16},
    {1, 300, 9},   {300, 1, 9},   {5, 3, 1000},  {129, 127, 2},  {260, 520, 12},  {1000, 36, 8},
};

using FormParam = std::tuple<MatmulVariant, bool, bool>;  // variant, transpose_a, transpose_b

class MatmulFormTest : public MatmulTest, public ::testing::WithParamInterface<FormParam> {};

// Whether M, N and K are all multiples of 4 or none is: then the
// register-blocked variant reads A and B both as vec4s or both as scalars.
bool AllOrNoDimensionMultipleOf4(const Shape& s) {
  int multiples = (s.m % 4 == 0) + (s.n % 4 == 0) + (s.k % 4 == 0);
  return multiples == 0 || multiples == 3;
}

// C = op(A) op(B) at every shape; C += op(A) op(B) at the shapes whose loads
// are all vec4 or all scalar. The accumulating store does not depend on how A
// and B are loaded, and each extra combination is another pipeline that takes
// lavapipe over a second to compile.
TEST_P(MatmulFormTest, EveryElementMatchesTheReferenceAtEveryShape) {
  auto [variant, transpose_a, transpose_b] = GetParam();
  for (const Shape& shape : kShapes) {
    Check(variant, shape, transpose_a, transpose_b, /*accumulate=*/false);
    if (AllOrNoDimensionMultipleOf4(shape)) Check(variant, shape, transpose_a, transpose_b, /*accumulate=*/true);
  }
}

std::string FormName(const ::testing::TestParamInfo<FormParam>& info) {
  auto [variant, transpose_a, transpose_b] = info.param;
  return std::string(VariantName(variant)) + (transpose_a ? "_At" : "_A") + (transpose_b ? "_Bt" : "_B");
}

INSTANTIATE_TEST_SUITE_P(AllForms, MatmulFormTest,
                         ::testing::Combine(::testing::Values(MatmulVariant::kRegisterBlocked,
                                                              MatmulVariant::kSharedTiled),
                                            ::testing::Bool(), ::testing::Bool()),
                         FormName);

// Tilings other than the defaults: one output per invocation, odd blocks (no
// vec4 loads, no sharing), several share groups per workgroup, tiles shallower
// than K or not dividing it. Accumulate alternates with the form.
TEST_F(MatmulTest, ExplicitTilingsMatchTheReference) {
  const MatmulTiling register_tilings[] = {{1, 1, 1, 1, 0}, {4, 4, 3, 5, 0}, {16, 2, 8, 4, 0}};
  const MatmulTiling shared_tilings[] = {{1, 1, 1, 1, 1}, {8, 4, 3, 5, 7}, {8, 8, 8, 8, 32}};
  const Shape shapes[] = {{37, 45, 23}, {64, 64, 64}};
  for (bool transpose_a : {false, true})
    for (bool transpose_b : {false, true})
      for (const Shape& shape : shapes) {
        for (const MatmulTiling& t : register_tilings)
          Check(MatmulVariant::kRegisterBlocked, shape, transpose_a, transpose_b, transpose_a != transpose_b, t);
        for (const MatmulTiling& t : shared_tilings)
          Check(MatmulVariant::kSharedTiled, shape, transpose_a, transpose_b, transpose_a == transpose_b, t);
      }
}

// The vec4 loads through texel views and through storage buffers, each with
// the wide blocks the autotuner offers (32 x 8, 64 x 4) at workgroups one and
// two subgroups wide (share groups of up to 16 lanes), at shapes whose M, N
// and K are multiples of 4 (vec4 loads) but divide no tile, and C poisoned.
TEST_F(MatmulTest, TexelAndStorageReadsAtWideBlocksMatchTheReference) {
  const uint32_t width = kernels::SoftwareGroupWidth(context().info());
  const MatmulTiling tilings[] = {{width, 1, 32, 8, 0}, {width, 1, 64, 4, 0}, {2 * width, 1, 32, 4, 0}};
  const Shape shapes[] = {{36, 76, 44}, {132, 20, 8}};
  // A and B both plain, then both transposed: each of the four vec4 load
  // paths once (each combination is another pipeline, a second of lavapipe).
  for (MatmulArgs::Reads reads : {MatmulArgs::Reads::kStorage, MatmulArgs::Reads::kTexel})
    for (bool transposed : {false, true})
      for (const Shape& shape : shapes)
        for (const MatmulTiling& t : tilings)
          Check(MatmulVariant::kRegisterBlocked, shape, transposed, transposed, /*accumulate=*/false, t, reads);
}

// Defaults, and requests too big for any device, come back within its limits.
TEST_F(MatmulTest, ChosenTilingsFitTheDevice) {
  const vk::DeviceInfo& info = context().info();
  for (MatmulVariant variant : {MatmulVariant::kRegisterBlocked, MatmulVariant::kSharedTiled})
    for (const MatmulTiling& requested : {MatmulTiling{}, MatmulTiling{4096, 4096, 4, 4, 4096}}) {
      MatmulTiling t = kernels::ChooseMatmulTiling(info, MatmulArgs{{}, {}, {}, 64, 64, 64}, variant, requested);
      EXPECT_GE(t.group_cols * t.group_rows, 1u);
      EXPECT_LE(t.group_cols * t.group_rows, info.max_workgroup_invocations);
      EXPECT_LE(t.group_cols, info.max_workgroup_size[0]);
      EXPECT_LE(t.group_rows, info.max_workgroup_size[1]);
      if (variant == MatmulVariant::kSharedTiled) {
        EXPECT_GE(t.tile_depth, 1u);
        EXPECT_LE(4 * t.tile_depth * (t.group_rows * t.rows_per_invocation + t.group_cols * t.cols_per_invocation + 2),
                  info.max_shared_memory_bytes);
      }
    }
}

// A, B and C as aligned, non-zero offsets inside one buffer: C is right and
// nothing outside C's range changes.
TEST_F(MatmulTest, OffsetViewsInsideOneBufferTouchOnlyC) {
  const uint64_t alignment = std::max<uint64_t>(context().info().min_storage_buffer_offset_alignment, 4);
  auto round_up = [&](uint64_t bytes) { return (bytes + alignment - 1) / alignment * alignment; };
  auto rng = testing::MakeRng();
  for (MatmulVariant variant : {MatmulVariant::kRegisterBlocked, MatmulVariant::kSharedTiled})
    for (const Shape& s : {Shape{8, 12, 16}, Shape{7, 9, 5}, Shape{64, 36, 20}})
      for (bool transpose_a : {false, true})
        for (bool accumulate : {false, true}) {
          SCOPED_TRACE(std::string(VariantName(variant)) + " " + Describe(s, transpose_a, !transpose_a, accumulate));
          // Layout: gap | A | gap | B | gap | C | gap, each gap one alignment unit or more.
          uint64_t a_offset = alignment, b_offset = round_up(a_offset + 4ull * s.m * s.k) + alignment;
          uint64_t c_offset = round_up(b_offset + 4ull * s.k * s.n) + 3 * alignment;
          uint64_t total_floats = (round_up(c_offset + 4ull * s.m * s.n) + alignment) / 4;
          // Random everywhere (the gaps are sentinels); C poisoned with NaN unless accumulating.
          std::vector<float> contents = testing::RandomFloats(rng, total_floats, -1.0f, 1.0f);
          if (!accumulate)
            std::fill_n(contents.begin() + c_offset / 4, size_t(s.m) * s.n, std::numeric_limits<float>::quiet_NaN());
          vk::Buffer buffer = MakeBuffer(contents, "A, B and C");

          kernels::TensorRef a{&buffer, a_offset, uint64_t(s.m) * s.k}, b{&buffer, b_offset, uint64_t(s.k) * s.n},
              c{&buffer, c_offset, uint64_t(s.m) * s.n};
          MatmulArgs args{a, b, c, s.m, s.n, s.k, transpose_a, !transpose_a, accumulate};
          Run({kernels::MatmulDispatch(pipelines(), args, variant)});
          std::vector<float> after = Read<float>(buffer, total_floats);

          auto view = [&](uint64_t offset, uint64_t count) {
            return std::span<const float>(contents).subspan(offset / 4, count);
          };
          reference::MatmulShape shape{s.m, s.n, s.k, transpose_a, !transpose_a};
          std::vector<float> c_in;
          if (accumulate) c_in.assign(view(c_offset, c.count).begin(), view(c_offset, c.count).end());
          std::vector<double> ref = reference::Matmul(view(a_offset, a.count), view(b_offset, b.count), shape, c_in);
          std::vector<double> magnitude =
              reference::MatmulTermMagnitudes(view(a_offset, a.count), view(b_offset, b.count), shape);
          std::vector<float> gpu_c(after.begin() + c_offset / 4, after.begin() + c_offset / 4 + c.count);
          EXPECT_EQ(CountMismatches(gpu_c, ref, magnitude, c_in, s.n), 0);
          for (size_t e = 0; e < total_floats; ++e) {
            bool inside_c = e >= c_offset / 4 && e < c_offset / 4 + c.count;
            if (!inside_c && std::memcmp(&after[e], &contents[e], 4) != 0) {
              ADD_FAILURE() << "float " << e << " outside C changed from " << contents[e] << " to " << after[e];
              break;
            }
          }
        }
}

// The backward forms of Dense. For L = sum(G .* (A B)):
//   dL/dA = G B^T   (matmul with transpose_b)
//   dL/dB = A^T G   (matmul with transpose_a)
// each compared with central differences of L computed in double. One shape
// takes the scalar loads, the other the vec4 and shared ones.
TEST_F(MatmulTest, BackwardFormsMatchFiniteDifferences) {
  auto rng = testing::MakeRng();
  for (const Shape& s : {Shape{6, 7, 5}, Shape{8, 16, 12}}) {
    const uint32_t m = s.m, n = s.n, k = s.k;
    std::vector<float> a = testing::RandomFloats(rng, m * k), b = testing::RandomFloats(rng, k * n);
    std::vector<float> g = testing::RandomFloats(rng, m * n);
    vk::Buffer a_buffer = MakeBuffer(a, "A"), b_buffer = MakeBuffer(b, "B"), g_buffer = MakeBuffer(g, "G");

    auto loss = [&](const std::vector<double>& a64, const std::vector<double>& b64) {
      std::vector<double> product = reference::Matmul(a64, b64, {m, n, k});
      double sum = 0;
      for (size_t e = 0; e < product.size(); ++e) sum += g[e] * product[e];
      return sum;
    };
    const std::vector<double> a64(a.begin(), a.end()), b64(b.begin(), b.end());
    const double h = 1e-3;
    auto central_difference = [&](bool wrt_a, size_t e) {
      std::vector<double> plus = wrt_a ? a64 : b64, minus = plus;
      plus[e] += h, minus[e] -= h;
      return wrt_a ? (loss(plus, b64) - loss(minus, b64)) / (2 * h) : (loss(a64, plus) - loss(a64, minus)) / (2 * h);
    };

    for (MatmulVariant variant : {MatmulVariant::kRegisterBlocked, MatmulVariant::kSharedTiled}) {
      SCOPED_TRACE(std::string(VariantName(variant)) + " " + Describe(s, false, false, false));
      vk::Buffer grad_a = MakePoisonedBuffer(m * k, "dL/dA"), grad_b = MakePoisonedBuffer(k * n, "dL/dB");
      // dL/dA (M x K) = G (M x N) B^T, with B stored K x N = (N x K)^T.
      MatmulArgs da{kernels::WholeBuffer(g_buffer), kernels::WholeBuffer(b_buffer), kernels::WholeBuffer(grad_a),
                    m, k, n, false, /*transpose_b=*/true};
      // dL/dB (K x N) = A^T G, with A stored M x K.
      MatmulArgs db{kernels::WholeBuffer(a_buffer), kernels::WholeBuffer(g_buffer), kernels::WholeBuffer(grad_b),
                    k, n, m, /*transpose_a=*/true, false};
      Run({kernels::MatmulDispatch(pipelines(), da, variant), kernels::MatmulDispatch(pipelines(), db, variant)});
      std::vector<float> gpu_a = Read<float>(grad_a, m * k), gpu_b = Read<float>(grad_b, k * n);
      // |dL/dA[i][p]| <= sum_j |g b| <= N (inputs in [-1, 1]); float rounding is far below 1e-5 of that.
      for (size_t e = 0; e < gpu_a.size(); ++e)
        EXPECT_NEAR(gpu_a[e], central_difference(true, e), 1e-5 * n) << "dL/dA[" << e / k << "][" << e % k << "]";
      for (size_t e = 0; e < gpu_b.size(); ++e)
        EXPECT_NEAR(gpu_b[e], central_difference(false, e), 1e-5 * m) << "dL/dB[" << e / n << "][" << e % n << "]";
    }
  }
}

}  // namespace
}  // namespace ts
