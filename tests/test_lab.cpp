// The Kernel Lab's engine (compute/lab/): every lesson's kernels against the
// double-precision CPU reference at sizes that divide neither workgroups nor
// tiles (outputs poisoned first, every element checked by the lesson, which
// these tests require to pass), the instrumented runs' records against the
// accesses the CPU computes each invocation must make, overflow, bad
// settings and device limits. Runs at every lavapipe vector width (subgroups
// of 4, 8 and 16 lanes; see tests/CMakeLists.txt).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <fstream>
#include <iterator>
#include <tuple>

#include "compute/common/error.h"
#include "compute/lab/lab.h"
#include "support/vulkan_test.h"

namespace ts {
namespace {

using lab::Access;
using lab::AccessRecord;

class LabTest : public testing::VulkanTest {
 protected:
  lab::LessonResult Run(const std::string& lesson, const lab::Settings& settings, lab::RunOptions options = {}) {
    profile::Ceilings planted;  // made-up ceilings: nothing is measured here
    planted.fp32_gflops = 100, planted.bandwidth_gbs = 10, planted.upload_gbs = planted.download_gbs = 1;
    planted.single_dispatch_us = planted.batched_dispatch_us = 50;
    options.ceilings = planted;
    options.repeats = 1;
    return lab::RunLesson(context(), pipelines(), lesson, settings, options);
  }
  static void ExpectAllChecksPass(const lab::LessonResult& result) {
    ASSERT_FALSE(result.variants.empty());
    for (const lab::Variant& v : result.variants) {
      EXPECT_TRUE(v.check_passed) << result.lesson << " / " << v.name << ": " << v.check_message;
      EXPECT_GT(v.ms, 0) << v.name;
    }
    EXPECT_FALSE(result.notes.empty());
  }
};

// What an access record says apart from who-ran-where: sorted for comparison.
using Access5 = std::tuple<uint32_t, uint32_t, uint32_t, uint32_t, uint32_t, uint32_t>;  // wg, inv, step, access, buffer, index
std::vector<Access5> Accesses(const std::vector<AccessRecord>& records) {
  std::vector<Access5> out;
  for (const AccessRecord& r : records)
    out.emplace_back(r.workgroup, r.invocation, r.step, static_cast<uint32_t>(r.access), r.buffer, r.index);
  std::sort(out.begin(), out.end());
  return out;
}
Access5 Make(uint32_t wg, uint32_t inv, uint32_t step, Access access, uint32_t buffer, uint32_t index) {
  return {wg, inv, step, static_cast<uint32_t>(access), buffer, index};
}

void ExpectLanesConsistent(const lab::AccessTrace& trace, uint32_t subgroup_size, uint32_t invocations) {
  for (const AccessRecord& r : trace.records) {
    ASSERT_LT(r.lane, subgroup_size);
    ASSERT_LT(r.subgroup, (invocations + subgroup_size - 1) / subgroup_size);
  }
}

TEST_F(LabTest, ListsSixLessonsAndFindsThemByName) {
  std::vector<std::string> names;
  for (const lab::LessonInfo& lesson : lab::Lessons()) names.push_back(lesson.name);
  EXPECT_EQ(names, (std::vector<std::string>{"grid", "memory", "matmul", "reduction", "divergence", "cpu-vs-gpu"}));
  EXPECT_EQ(lab::FindLesson("matmul").title, "3. Matrix multiply, rung by rung");
  try {
    lab::FindLesson("matmull");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'matmull'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("cpu-vs-gpu"), std::string::npos) << e.what();
  }
}

TEST_F(LabTest, ShaderSourcesAreEmbeddedWithTheirIncludes) {
  const std::string& source = lab::ShaderSource("lab_matmul");
  EXPECT_EQ(source.rfind("#version 450", 0), 0u);
  EXPECT_NE(source.find("void main()"), std::string::npos);
  EXPECT_NE(source.find("void LabRecord("), std::string::npos);  // lab_record.glsl, appended
  for (const char* shader : {"lab_grid", "lab_memory", "lab_reduction", "lab_divergence", "lab_cpu_gpu"})
    EXPECT_FALSE(lab::ShaderSource(shader).empty()) << shader;
  EXPECT_THROW(lab::ShaderSource("matmul_nope"), Error);
}

TEST_F(LabTest, EmbeddedSourceIsTheFileAsWritten) {
  std::ifstream file(std::string(TENSORSCOPE_SOURCE_DIR) + "/shaders/lab_reduction.comp", std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(lab::ShaderSource("lab_reduction").substr(0, text.size()), text);
}

TEST_F(LabTest, ACancelledRunStopsWithAnError) {
  std::atomic<bool> cancel{true};
  lab::RunOptions options;
  options.cancel = &cancel;
  try {
    Run("reduction", {{"size", 1000}}, options);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "cancelled");
  }
}

TEST_F(LabTest, BadSettingsNameTheKnobTheRangeAndTheValue) {
  auto message = [&](const std::string& lesson, const lab::Settings& settings) {
    try {
      Run(lesson, settings);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  std::string m = message("matmul", {{"tile", 12}});
  EXPECT_NE(m.find("tile"), std::string::npos) << m;
  EXPECT_NE(m.find("8, 16, 32"), std::string::npos) << m;
  EXPECT_NE(m.find("12"), std::string::npos) << m;
  m = message("reduction", {{"size", 0}});
  EXPECT_NE(m.find("from 1 to"), std::string::npos) << m;
  m = message("reduction", {{"stride", 2}});
  EXPECT_NE(m.find("no setting 'stride'"), std::string::npos) << m;
  EXPECT_NE(m.find("size, workgroup"), std::string::npos) << m;
  // Beyond the device's limits: the limit is named.
  const vk::DeviceInfo& device = context().info();
  if (device.max_shared_memory_bytes < 64 * 1024) {
    m = message("divergence", {{"shared_kb", 64}, {"size", 1024}});
    EXPECT_NE(m.find("maxComputeSharedMemorySize"), std::string::npos) << m;
  }
  if (device.max_workgroup_invocations < 1024 * 1024) {
    m = message("grid", {{"workgroup", 1024}, {"workgroup_y", 1024}});
    EXPECT_NE(m.find("maxComputeWorkGroupInvocations"), std::string::npos) << m;
  }
}

TEST_F(LabTest, MatmulLadderMatchesTheReferenceAndRecordsItsTiles) {
  // 21 divides neither the 8x8 tile nor the 32x32 register-blocked tiles.
  const uint32_t n = 21, tile = 8;
  lab::LessonResult result = Run("matmul", {{"size", n}, {"tile", tile}, {"workgroup", 4}});
  ExpectAllChecksPass(result);
  ASSERT_GE(result.variants.size(), 7u);
  EXPECT_EQ(result.variants[0].name, "naive");
  EXPECT_EQ(result.shape, (std::vector<uint64_t>{n, n, n}));
  for (const lab::Variant& v : result.variants) {
    EXPECT_GT(v.figures.at("cpu_ms_one_thread"), 0);
    EXPECT_GT(v.figures.at("cpu_ms_all_cores"), 0);
    EXPECT_DOUBLE_EQ(v.flops, 2.0 * n * n * n);
  }
  EXPECT_GT(result.variants[1].speedup_over_previous, 0);
  ASSERT_TRUE(result.variants[2].bank_conflicts && result.variants[3].bank_conflicts);

  // The shared 8x8 rung's workgroup 0, access by access.
  ASSERT_TRUE(result.trace);
  const lab::AccessTrace& trace = *result.trace;
  EXPECT_EQ(result.traced_variant, result.variants[2].name);
  EXPECT_FALSE(trace.overflowed());
  EXPECT_EQ(trace.workgroups_recorded, 1u);
  ExpectLanesConsistent(trace, context().info().subgroup_size, tile * tile);
  std::vector<Access5> want;
  const uint32_t tiles = (n + tile - 1) / tile, steps = 2 + tile, stride = tile;  // unpadded
  for (uint32_t me = 0; me < tile * tile; ++me) {
    const uint32_t x = me % tile, y = me / tile;
    for (uint32_t t = 0; t < tiles; ++t) {
      const uint32_t step = t * steps, k0 = t * tile;
      const uint32_t r = me / tile, s = me % tile;  // staging A: element me of the tile in A's order
      if (r < n && k0 + s < n) want.push_back(Make(0, me, step, Access::kGlobalRead, 0, r * n + k0 + s));
      want.push_back(Make(0, me, step, Access::kSharedWrite, 0, s * stride + r));
      const uint32_t sb = me / tile, col = me % tile;  // staging B
      if (col < n && k0 + sb < n) want.push_back(Make(0, me, step + 1, Access::kGlobalRead, 1, (k0 + sb) * n + col));
      want.push_back(Make(0, me, step + 1, Access::kSharedWrite, 1, sb * stride + col));
      for (uint32_t k = 0; k < tile; ++k) {
        want.push_back(Make(0, me, step + 2 + k, Access::kSharedRead, 0, k * stride + y));
        want.push_back(Make(0, me, step + 2 + k, Access::kSharedRead, 1, k * stride + x));
      }
    }
    if (y < n && x < n) want.push_back(Make(0, me, tiles * steps, Access::kGlobalWrite, 2, y * n + x));
  }
  std::sort(want.begin(), want.end());
  EXPECT_EQ(trace.wanted, want.size());
  EXPECT_TRUE(Accesses(trace.records) == want) << "records differ from the expected accesses";
}

TEST_F(LabTest, MatmulVec4RungReadsVec4sWhereTheSizeAllows) {
  // 44: a multiple of 4 (vec4 loads) that divides no tile.
  lab::LessonResult result = Run("matmul", {{"size", 44}, {"tile", 16}, {"workgroup", 8}}, {.instrument = false});
  ExpectAllChecksPass(result);
  const lab::Variant& vec4 = result.variants[6];
  EXPECT_EQ(vec4.name, "vec4 reads");
  EXPECT_EQ(vec4.specialization.at("vec4 reads of A"), 1u);
  EXPECT_EQ(vec4.specialization.at("vec4 reads of B"), 1u);
  EXPECT_EQ(result.variants[4].shared_memory_bytes, 4u * 8 * (64 + 1 + 16 + 1));
}

TEST_F(LabTest, ReductionsSumExactlyAndRecordTheirTrees) {
  const uint32_t n = 300, group = 64;  // 300 = 4 x 64 + 44: a ragged last workgroup
  lab::LessonResult result = Run("reduction", {{"size", n}, {"workgroup", group}});
  ExpectAllChecksPass(result);
  ASSERT_EQ(result.variants.size(), 6u);
  EXPECT_EQ(result.variants[4].name, "subgroupAdd");
  ASSERT_TRUE(result.trace);
  const lab::AccessTrace& trace = *result.trace;
  EXPECT_EQ(result.traced_variant, "interleaved tree");
  EXPECT_EQ(trace.workgroups_recorded, 2u);
  ExpectLanesConsistent(trace, context().info().subgroup_size, group);
  std::vector<Access5> want;
  const uint32_t levels = std::bit_width(group) - 1;
  for (uint32_t wg = 0; wg < 2; ++wg)
    for (uint32_t tid = 0; tid < group; ++tid) {
      want.push_back(Make(wg, tid, 0, Access::kGlobalRead, 0, wg * group + tid));
      want.push_back(Make(wg, tid, 0, Access::kSharedWrite, 0, tid));
      for (uint32_t level = 1; level <= levels; ++level) {
        const uint32_t s = 1u << (level - 1);
        if (tid % (2 * s) != 0) continue;
        want.push_back(Make(wg, tid, level, Access::kSharedRead, 0, tid));
        want.push_back(Make(wg, tid, level, Access::kSharedRead, 0, tid + s));
        want.push_back(Make(wg, tid, level, Access::kSharedWrite, 0, tid));
      }
      if (tid == 0) {
        want.push_back(Make(wg, 0, levels + 1, Access::kGlobalWrite, 1, wg));
        want.push_back(Make(wg, 0, levels + 1, Access::kGlobalWrite, 2, 0));
      }
    }
  std::sort(want.begin(), want.end());
  EXPECT_TRUE(Accesses(trace.records) == want) << "records differ from the expected accesses";
  // Neither tree makes bank conflicts in subgroups of up to 32 lanes: the
  // interleaved tree's active lanes read words 2s apart, but only 32 / 2s of
  // them share a subgroup; the sequential tree's read consecutive words.
  ASSERT_TRUE(result.variants[1].bank_conflicts && result.variants[2].bank_conflicts);
  if (context().info().subgroup_size <= 32) {
    EXPECT_EQ(*result.variants[1].bank_conflicts, 0u);
    EXPECT_EQ(*result.variants[2].bank_conflicts, 0u);
  }
}

TEST_F(LabTest, AFullRecordBufferIsReportedNotSilent) {
  lab::RunOptions options;
  options.record_capacity = 10;
  lab::LessonResult result = Run("reduction", {{"size", 100}, {"workgroup", 32}}, options);
  ASSERT_TRUE(result.trace);
  EXPECT_TRUE(result.trace->overflowed());
  EXPECT_EQ(result.trace->capacity, 10u);
  EXPECT_EQ(result.trace->records.size(), 10u);
  // Two workgroups of 32: 64 loads, 64 tree stores, 3 x 31 tree steps, 2 x 2 writes.
  EXPECT_EQ(result.trace->wanted, 64u + 64u + 3u * 31u * 2u + 4u);
  EXPECT_NE(lab::FormatResult(result).find("OVERFLOWED"), std::string::npos);
}

TEST_F(LabTest, MemoryPatternsMoveTheSameFloatsAndTheTraceShowsTheStride) {
  const uint32_t group = 64, stride = 4;
  lab::LessonResult result = Run("memory", {{"size", 5000}, {"workgroup", group}, {"stride", stride}});
  ExpectAllChecksPass(result);
  ASSERT_EQ(result.variants.size(), 10u);  // copy, strides 1 .. 64, row and column walks
  const uint32_t count = 5000 / 64 * 64, rows = count / stride;
  ASSERT_TRUE(result.trace);
  EXPECT_EQ(result.traced_variant, "stride 4");
  std::vector<Access5> want;
  for (uint32_t i = 0; i < group; ++i) {
    want.push_back(Make(0, i, 0, Access::kGlobalRead, 0, (i % rows) * stride + i / rows));
    want.push_back(Make(0, i, 1, Access::kGlobalWrite, 1, i));
  }
  std::sort(want.begin(), want.end());
  EXPECT_TRUE(Accesses(result.trace->records) == want);
}

TEST_F(LabTest, GridPictureIsWhatTheKernelWrote) {
  const uint32_t width = 37, height = 23, gx = 8, gy = 4;
  lab::LessonResult result = Run("grid", {{"size", width}, {"height", height}, {"workgroup", gx}, {"workgroup_y", gy}});
  ExpectAllChecksPass(result);
  ASSERT_TRUE(result.grid);
  const lab::GridPicture& p = *result.grid;
  EXPECT_EQ(p.grid_x, 5u);
  EXPECT_EQ(p.grid_y, 6u);
  EXPECT_EQ(p.idle_invocations, 5u * 8 * 6 * 4 - width * height);
  ASSERT_EQ(p.workgroup_of.size(), size_t(width) * height);
  for (uint32_t y = 0; y < height; ++y)
    for (uint32_t x = 0; x < width; ++x) {
      const size_t e = size_t(y) * width + x;
      ASSERT_EQ(p.workgroup_of[e], x / gx + p.grid_x * (y / gy)) << x << ", " << y;
      ASSERT_EQ(p.invocation_of[e], x % gx + gx * (y % gy)) << x << ", " << y;
      ASSERT_LT(p.subgroup_of[e], (gx * gy + p.subgroup_size - 1) / p.subgroup_size);
    }
  ASSERT_FALSE(result.charts.empty());
  EXPECT_GE(result.charts[0].series[0].x.size(), 5u);
}

TEST_F(LabTest, DivergenceRunsBothPatternsAndModelsReferenceGpus) {
  lab::LessonResult result =
      Run("divergence", {{"size", 5000}, {"workgroup", 64}, {"branch_percent", 50}, {"shared_kb", 8}});
  ExpectAllChecksPass(result);
  ASSERT_EQ(result.variants.size(), 3u);
  EXPECT_DOUBLE_EQ(result.variants[0].figures.at("fraction_loop_a"), 0.0);
  EXPECT_NEAR(result.variants[1].figures.at("fraction_loop_a"), 0.5, 0.05);
  EXPECT_NEAR(result.variants[2].figures.at("fraction_loop_a"), 0.5, 0.05);
  EXPECT_EQ(result.variants[1].shared_memory_bytes, 8u * 1024);
  ASSERT_EQ(result.occupancy.size(), 5u);  // this device and four reference GPUs
  for (size_t i = 1; i < result.occupancy.size(); ++i) {
    EXPECT_TRUE(result.occupancy[i].modelled);
    EXPECT_NE(result.occupancy[i].device.find("modelled"), std::string::npos);
    EXPECT_GT(result.occupancy[i].occupancy, 0);
  }
  // Many registers per invocation limit a modelled NVIDIA SM.
  lab::LessonResult heavy = Run("divergence", {{"size", 1024}, {"workgroup", 256}, {"registers", 255}});
  EXPECT_EQ(heavy.occupancy[1].limiter, "registers");
}

TEST_F(LabTest, CpuVsGpuChecksEverySize) {
  lab::LessonResult result = Run("cpu-vs-gpu", {{"size", 4096}});
  ExpectAllChecksPass(result);
  EXPECT_EQ(result.charts.size(), 2u);  // element-wise (64 .. 4096) and matmul (16 .. 64)
  for (const lab::Variant& v : result.variants) {
    EXPECT_GT(v.figures.at("device_ms_with_transfers"), 0) << v.name;
    EXPECT_GT(v.figures.at("cpu_ms_all_cores"), 0) << v.name;
  }
}

TEST(LabBankModel, CountsDistinctWordsPerBankPerInstruction) {
  lab::AccessTrace trace;
  // One subgroup, one step: lanes 0..3 write words 0, 32, 64, 1 (three in bank 0), then words 5, 5, 5, 5 (broadcast).
  const uint32_t first[] = {0, 32, 64, 1}, second[] = {5, 5, 5, 5};
  for (uint32_t lane = 0; lane < 4; ++lane)
    trace.records.push_back({0, lane, 0, lane, 7, Access::kSharedWrite, 0, first[lane]});
  for (uint32_t lane = 0; lane < 4; ++lane)
    trace.records.push_back({0, lane, 0, lane, 7, Access::kSharedWrite, 0, second[lane]});
  trace.records.push_back({0, 0, 0, 0, 7, Access::kGlobalRead, 0, 32});  // global: not counted
  EXPECT_EQ(lab::CountBankConflicts(trace), 2u);
  EXPECT_EQ(lab::CountBankConflicts(trace, 64), 1u);  // 64 banks: 0 and 64 still share one
}

}  // namespace
}  // namespace ts
