// The Vulkan-level instruments: device facts, shared-memory reflection, traced
// shader builds, and the Sequence's optional instruments (dispatch intervals,
// pipeline-statistics invocation counts, per-workgroup trace), plus the heap
// budget and clock calibration of the Context. Validation layer on. Nothing
// here assumes lavapipe: a feature the device lacks skips its test.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "compute/common/error.h"
#include "compute/kernels/copy.h"
#include "compute/vk/shader_registry.h"
#include "support/vulkan_test.h"

namespace ts {
namespace {

using testing::VulkanTest;

const vk::EmbeddedShader& Shader(const char* name) { return vk::FindEmbeddedShader(name); }

vk::ShaderInterface Reflect(const char* name, const vk::SpecConstants& spec) {
  const vk::EmbeddedShader& shader = Shader(name);
  return vk::ReflectShader(shader.words, shader.word_count, &spec);
}

// ---------------------------------------------------------------------------
// Device facts.

void ExpectConsistent(const vk::DeviceInfo& info) {
  EXPECT_TRUE(std::is_sorted(info.extensions.begin(), info.extensions.end()));
  EXPECT_FALSE(info.extensions.empty()) << "a Vulkan 1.1+ driver offers device extensions";
  for (const std::string& name : info.extensions) {
    EXPECT_TRUE(info.has_extension(name)) << name;
  }
  EXPECT_FALSE(info.has_extension("VK_TS_not_an_extension"));
  // The clock flags follow the extension, never the other way round.
  if (info.shader_clock) {
    EXPECT_TRUE(info.has_extension("VK_KHR_shader_clock"));
  }
  if (info.shader_device_clock) {
    EXPECT_TRUE(info.shader_clock);
  }
  // Subgroups: Vulkan 1.1 requires basic operations in compute shaders.
  EXPECT_GT(info.subgroup_size, 0u);
  EXPECT_TRUE(info.subgroup_operations & VK_SUBGROUP_FEATURE_BASIC_BIT);
  EXPECT_TRUE(info.subgroup_stages & VK_SHADER_STAGE_COMPUTE_BIT);
  std::vector<std::string> operations = vk::SubgroupOperationNames(info.subgroup_operations);
  EXPECT_NE(std::find(operations.begin(), operations.end(), "basic"), operations.end());
  EXPECT_EQ(info.subgroup_shuffle, std::find(operations.begin(), operations.end(), "shuffle") != operations.end());
  if (info.max_subgroup_size > 0) {  // size control present
    EXPECT_LE(info.min_subgroup_size, info.subgroup_size);
    EXPECT_GE(info.max_subgroup_size, info.subgroup_size);
  } else {
    EXPECT_EQ(info.min_subgroup_size, 0u);
  }
  // Memory types point at real heaps; some type is device-local.
  ASSERT_FALSE(info.memory_types.empty());
  bool any_device_local = false;
  for (const vk::MemoryTypeInfo& type : info.memory_types) {
    EXPECT_LT(type.heap, info.heaps.size());
    any_device_local |= (type.flags & VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT) != 0;
  }
  EXPECT_TRUE(any_device_local);
  // Vendor core counts only where their extension is.
  if (!info.has_extension("VK_NV_shader_sm_builtins")) {
    EXPECT_EQ(info.cores.nv_sm_count, 0u);
  }
  if (!info.has_extension("VK_AMD_shader_core_properties")) {
    EXPECT_EQ(info.cores.amd_wavefront_size, 0u);
  }
}

TEST_F(VulkanTest, DeviceFactsAreFilledAndConsistent) {
  ExpectConsistent(context().info());
  for (const vk::DeviceInfo& info : vk::ListDevices()) ExpectConsistent(info);
}

TEST(DeviceInfoNames, NamesFollowTheBits) {
  EXPECT_EQ(vk::MemoryPropertyNames(VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT | VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
                                    VK_MEMORY_PROPERTY_HOST_COHERENT_BIT),
            (std::vector<std::string>{"device-local", "host-visible", "host-coherent"}));
  EXPECT_TRUE(vk::MemoryPropertyNames(0).empty());
  EXPECT_EQ(vk::SubgroupOperationNames(VK_SUBGROUP_FEATURE_BASIC_BIT | VK_SUBGROUP_FEATURE_SHUFFLE_RELATIVE_BIT |
                                       VK_SUBGROUP_FEATURE_QUAD_BIT),
            (std::vector<std::string>{"basic", "shuffle_relative", "quad"}));
  std::vector<std::string> relevant = vk::ComputeRelevantExtensions();
  for (const char* name : {"VK_KHR_shader_clock", "VK_EXT_memory_budget", "VK_KHR_pipeline_executable_properties",
                           "VK_NV_shader_sm_builtins", "VK_AMD_shader_core_properties2",
                           "VK_EXT_calibrated_timestamps", "VK_KHR_cooperative_matrix"})
    EXPECT_NE(std::find(relevant.begin(), relevant.end(), name), relevant.end()) << name;
}

// ---------------------------------------------------------------------------
// Shared-memory reflection, against sizes worked out by hand from the sources.

TEST(SharedMemoryReflection, MetricsArraysFollowTheWorkgroupSize) {
  // metrics.comp: float loss_sums[x], uint correct_counts[x], uint non_finite_flags[x].
  EXPECT_EQ(Reflect("metrics", {{0, 64}}).shared_memory_bytes, 3u * 64 * 4);
  EXPECT_EQ(Reflect("metrics", {{0, 256}}).shared_memory_bytes, 3u * 256 * 4);
}

TEST(SharedMemoryReflection, MatmulTilesFollowTheirSpecConstantExpressions) {
  // matmul.comp: tile_a[kVariant == 1 ? TK * (kGroupRows * RM + 1) : 1] and
  // tile_b[kVariant == 1 ? TK * (kGroupCols * RN + 1) : 1], floats.
  // Spec ids: 0 kGroupCols, 1 kGroupRows, 2 kVariant, 3 RM, 4 RN, 5 TK.
  EXPECT_EQ(Reflect("matmul", {{2, 0}}).shared_memory_bytes, 2u * 4);  // register-blocked: 1 + 1
  vk::SpecConstants tiled{{0, 8}, {1, 8}, {2, 1}, {3, 4}, {4, 4}, {5, 16}};
  EXPECT_EQ(Reflect("matmul", tiled).shared_memory_bytes, 4u * (16 * 33 + 16 * 33));
  vk::SpecConstants other{{0, 16}, {1, 4}, {2, 1}, {3, 2}, {4, 2}, {5, 8}};
  EXPECT_EQ(Reflect("matmul", other).shared_memory_bytes, 4u * (8 * (4 * 2 + 1) + 8 * (16 * 2 + 1)));
}

TEST(SharedMemoryReflection, VectorElementsAndTwoDimensionalGroups) {
  // bias_act_back_impl.glsl: BA_VALUE partial_sums[x * y]; float, and vec4 in the vec4 build.
  EXPECT_EQ(Reflect("bias_act_back", {{0, 32}, {1, 8}}).shared_memory_bytes, 32u * 8 * 4);
  EXPECT_EQ(Reflect("bias_act_back", {{0, 16}, {1, 2}}).shared_memory_bytes, 16u * 2 * 4);
  EXPECT_EQ(Reflect("bias_act_back_vec4", {{0, 16}, {1, 4}}).shared_memory_bytes, 16u * 4 * 16);
}

TEST_F(VulkanTest, PipelineReportsSharedMemoryForItsOwnSpecConstants) {
  EXPECT_EQ(pipelines().Get("metrics", {{0, 128}}).shared_memory_bytes(), 3u * 128 * 4);
  EXPECT_EQ(pipelines().Get("copy", {{0, 64}}).shared_memory_bytes(), 0u);
  EXPECT_FALSE(pipelines().Get("copy", {{0, 64}}).interface().has_trace_binding);
}

TEST_F(VulkanTest, ExecutableStatisticsOnlyWhereTheDriverReportsThem) {
  const vk::Pipeline& pipeline = pipelines().Get("copy", {{0, 128}});
  if (!context().has_executable_properties()) {
    EXPECT_TRUE(pipeline.executable_statistics().empty());
    GTEST_SKIP() << "the driver lacks VK_KHR_pipeline_executable_properties";
  }
  EXPECT_FALSE(pipeline.executable_statistics().empty());
  for (const vk::ExecutableStatistic& s : pipeline.executable_statistics()) {
    EXPECT_FALSE(s.name.empty());
    EXPECT_TRUE(std::isfinite(s.value)) << s.name;
  }
}

// ---------------------------------------------------------------------------
// Traced builds: every shader has one, with the same interface plus the trace binding.

TEST(TracedBuilds, EveryShaderHasATracedBuildWithTheSameInterface) {
  size_t traced = 0;
  for (const vk::EmbeddedShader& shader : vk::EmbeddedShaders()) {
    std::string name = shader.name;
    if (name.ends_with("__trace")) continue;
    const vk::EmbeddedShader& trace = vk::FindEmbeddedShader(name + "__trace");
    vk::ShaderInterface plain = vk::ReflectShader(shader.words, shader.word_count);
    vk::ShaderInterface with_trace = vk::ReflectShader(trace.words, trace.word_count);
    EXPECT_FALSE(plain.has_trace_binding) << name;
    EXPECT_TRUE(with_trace.has_trace_binding) << name;
    EXPECT_EQ(plain.bindings, with_trace.bindings) << name;
    EXPECT_EQ(plain.push_constant_bytes, with_trace.push_constant_bytes) << name;
    EXPECT_EQ(plain.local_size, with_trace.local_size) << name;
    EXPECT_EQ(plain.local_size_spec_id, with_trace.local_size_spec_id) << name;
    EXPECT_EQ(plain.shared_memory_bytes, with_trace.shared_memory_bytes) << name;
    ++traced;
  }
  EXPECT_GT(traced, 10u);
}

// ---------------------------------------------------------------------------
// Sequence instruments, on the copy kernel at sizes that divide nothing.

struct CopyJob {
  vk::Buffer src, dst;
  std::vector<float> values;
};

class InstrumentTest : public VulkanTest {
 protected:
  // A copy of `vec4_count` vec4s with `group` invocations per workgroup, and
  // `groups` workgroups (the grid-stride loop covers the rest).
  vk::Dispatch Copy(CopyJob& job, uint32_t vec4_count, uint32_t group, uint32_t groups, uint64_t salt) {
    auto rng = testing::MakeRng(salt);
    job.values = testing::RandomFloats(rng, size_t(vec4_count) * 4);
    job.src = MakeBuffer(job.values, "copy source");
    job.dst = MakePoisonedBuffer(job.values.size(), "copy destination");
    vk::Dispatch d = kernels::CopyDispatch(pipelines(), kernels::WholeBuffer(job.src), kernels::WholeBuffer(job.dst), group);
    d.workgroups = {groups, 1, 1};
    return d;
  }
  void RunSequence(const vk::Sequence& sequence) {
    context().RunOnce([&](VkCommandBuffer cb) {
      for (uint32_t slot = 0; slot < sequence.slots(); ++slot) sequence.Record(cb, slot);
      vk::RecordComputeToHostBarrier(cb);
    });
  }
};

TEST_F(InstrumentTest, InvocationCountsAreWorkgroupsTimesLocalSize) {
  if (!context().info().pipeline_statistics) GTEST_SKIP() << "no pipeline-statistics queries on this device";
  CopyJob a, b, c;
  std::vector<vk::Dispatch> dispatches = {Copy(a, 1001, 64, 16, 1), Copy(b, 333, 96, 3, 2), Copy(c, 77, 32, 7, 3)};
  vk::SequenceOptions options;
  options.invocation_counts = true;
  vk::Sequence sequence(context(), dispatches, 2, options);
  RunSequence(sequence);
  for (uint32_t slot = 0; slot < 2; ++slot) {
    std::vector<uint64_t> counts = sequence.ReadInvocationCounts(slot);
    ASSERT_EQ(counts.size(), dispatches.size());
    EXPECT_EQ(counts[0], 16u * 64);
    EXPECT_EQ(counts[1], 3u * 96);
    EXPECT_EQ(counts[2], 7u * 32);
    for (size_t i = 0; i < dispatches.size(); ++i) EXPECT_EQ(counts[i], dispatches[i].invocations());
  }
  EXPECT_EQ(Read<float>(a.dst, a.values.size()), a.values);
}

TEST_F(InstrumentTest, IntervalsAreOrderedAndAgreeWithDispatchTimes) {
  if (context().info().timestamp_valid_bits == 0) GTEST_SKIP() << "the compute queue has no timestamps";
  CopyJob a, b, c, d;
  // b reads what a wrote (a barrier between them); c and d are independent of b.
  std::vector<vk::Dispatch> dispatches = {Copy(a, 4099, 64, 33, 4), Copy(b, 2049, 128, 9, 5), Copy(c, 513, 32, 5, 6),
                                          Copy(d, 1025, 256, 2, 7)};
  dispatches[1].bindings[0] = kernels::TensorRef{&a.dst, 0, 2049 * 4}.Bind(vk::Access::kRead);
  vk::SequenceOptions options;
  options.dispatch_intervals = true;
  vk::Sequence sequence(context(), dispatches, 1, options);
  RunSequence(sequence);
  std::vector<vk::DispatchInterval> intervals = sequence.ReadDispatchIntervals();
  std::vector<double> times = sequence.ReadDispatchTimesNs();
  ASSERT_EQ(intervals.size(), dispatches.size());
  for (size_t i = 0; i < intervals.size(); ++i) {
    EXPECT_LT(intervals[i].start_ns, intervals[i].end_ns) << i;
    if (i == 0) {
      EXPECT_LE(intervals[0].end_ns - intervals[0].start_ns, times[0] + 1.0);
      continue;
    }
    EXPECT_GE(intervals[i].start_ns, intervals[i - 1].end_ns) << i;
    EXPECT_NEAR(intervals[i].end_ns - intervals[i - 1].end_ns, times[i], 1.0) << i;
  }
  EXPECT_EQ(Read<float>(b.dst, b.values.size()), std::vector<float>(a.values.begin(), a.values.begin() + 2049 * 4));
}

TEST_F(InstrumentTest, TraceRecordsEveryWorkgroupInsideItsDispatch) {
  const vk::DeviceInfo& info = context().info();
  if (!info.shader_device_clock) GTEST_SKIP() << "no device-wide shader clock (VK_KHR_shader_clock shaderDeviceClock)";
  CopyJob a, b, plain_a, plain_b;
  // The second dispatch has more workgroups than the trace keeps.
  std::vector<vk::Dispatch> dispatches = {Copy(a, 5003, 64, 37, 8), Copy(b, 20011, 32, 300, 9)};
  std::vector<vk::Dispatch> untraced = {Copy(plain_a, 5003, 64, 37, 8), Copy(plain_b, 20011, 32, 300, 9)};
  vk::SequenceOptions options;
  options.trace_workgroups = true;
  options.max_trace_workgroups = 200;
  options.traced_pipelines = &pipelines();
  vk::Sequence sequence(context(), dispatches, 1, options);
  vk::Sequence plain(context(), untraced);
  RunSequence(sequence);
  RunSequence(plain);

  std::vector<vk::DispatchTrace> traces = sequence.ReadWorkgroupTrace();
  std::vector<vk::DispatchInterval> intervals = sequence.ReadDispatchIntervals();
  ASSERT_EQ(traces.size(), 2u);
  EXPECT_EQ(traces[0].workgroups, 37u);
  EXPECT_EQ(traces[1].workgroups, 300u);
  EXPECT_EQ(traces[0].records.size(), 37u);
  EXPECT_EQ(traces[1].records.size(), 200u);
  for (size_t i = 0; i < traces.size(); ++i) {
    const vk::DispatchTrace& trace = traces[i];
    EXPECT_GT(trace.ns_per_tick, 0.0) << i;
    double duration = intervals[i].end_ns - intervals[i].start_ns;
    double tolerance = 50e3 + 0.05 * duration;  // the timestamps' own slack
    bool on_timestamp_clock = trace.ns_per_tick == info.timestamp_period_ns;
    for (size_t r = 0; r < trace.records.size(); ++r) {
      const vk::WorkgroupRecord& record = trace.records[r];
      EXPECT_EQ(record.workgroup, r);
      EXPECT_LE(record.start_ticks, record.end_ticks) << "dispatch " << i << " workgroup " << r;
      if (on_timestamp_clock) {
        EXPECT_GE(record.start_ticks * trace.ns_per_tick, intervals[i].start_ns - tolerance) << i << ", " << r;
        EXPECT_LE(record.end_ticks * trace.ns_per_tick, intervals[i].end_ns + tolerance) << i << ", " << r;
      } else {
        EXPECT_LE(double(record.end_ticks - record.start_ticks) * trace.ns_per_tick, duration + tolerance);
      }
    }
  }
  // The traced build computes exactly what the kernel computes.
  EXPECT_EQ(Read<float>(a.dst, a.values.size()), Read<float>(plain_a.dst, plain_a.values.size()));
  EXPECT_EQ(Read<float>(b.dst, b.values.size()), Read<float>(plain_b.dst, plain_b.values.size()));
  EXPECT_EQ(Read<float>(b.dst, b.values.size()), b.values);

  // A second recording zeroes and rewrites the records.
  RunSequence(sequence);
  std::vector<vk::DispatchTrace> again = sequence.ReadWorkgroupTrace();
  ASSERT_EQ(again[1].records.size(), 200u);
  EXPECT_GE(again[1].records[0].start_ticks, traces[1].records[0].end_ticks);
}

TEST_F(InstrumentTest, TraceModeNeedsAClockAndATracedPipelineCache) {
  vk::SequenceOptions options;
  options.trace_workgroups = true;
  options.traced_pipelines = &pipelines();
  vk::DeviceInfo no_clock;
  no_clock.name = "clockless";
  EXPECT_THROW(vk::CheckTraceSupport(no_clock, options), Error);
  vk::DeviceInfo subgroup_clock_only = no_clock;
  subgroup_clock_only.shader_clock = true;
  EXPECT_THROW(vk::CheckTraceSupport(subgroup_clock_only, options), Error);
  vk::DeviceInfo full_clock = subgroup_clock_only;
  full_clock.shader_device_clock = true;
  EXPECT_NO_THROW(vk::CheckTraceSupport(full_clock, options));
  options.traced_pipelines = nullptr;
  EXPECT_THROW(vk::CheckTraceSupport(full_clock, options), Error);
  // On the real device: no cache always throws, whatever clock it has.
  CopyJob job;
  std::vector<vk::Dispatch> dispatches = {Copy(job, 64, 64, 1, 10)};
  EXPECT_THROW(vk::Sequence(context(), dispatches, 1, options), Error);
  // Reading an instrument that was not asked for is a programmer error.
  vk::Sequence plain(context(), dispatches);
  EXPECT_THROW(plain.ReadDispatchIntervals(), Error);
  EXPECT_THROW(plain.ReadInvocationCounts(), Error);
  EXPECT_THROW(plain.ReadWorkgroupTrace(), Error);
}

// ---------------------------------------------------------------------------
// Context: heap budgets and clock calibration.

TEST_F(VulkanTest, MemoryBudgetHasOneEntryPerHeap) {
  std::vector<vk::HeapBudget> heaps = context().QueryMemoryBudget();
  ASSERT_EQ(heaps.size(), context().info().heaps.size());
  for (size_t h = 0; h < heaps.size(); ++h) {
    EXPECT_GT(heaps[h].size, 0u);
    EXPECT_EQ(heaps[h].size, context().info().heaps[h].size_bytes);
    EXPECT_EQ(heaps[h].device_local, context().info().heaps[h].device_local);
    if (context().has_memory_budget()) {
      EXPECT_GT(heaps[h].budget, 0u);
    } else {
      EXPECT_EQ(heaps[h].budget, 0u);
      EXPECT_EQ(heaps[h].usage, 0u);
    }
  }
}

TEST_F(VulkanTest, CalibratedClocksMatchTheSteadyClock) {
  std::optional<vk::ClockCalibration> calibration = context().CalibrateClocks();
  if (!calibration) GTEST_SKIP() << "no VK_EXT_calibrated_timestamps with a monotonic host clock";
  double now = double(std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::steady_clock::now().time_since_epoch()).count());
  EXPECT_NEAR(calibration->host_ns, now, 1e9);
  EXPECT_GT(calibration->device_ns, 0.0);
  EXPECT_GE(calibration->max_deviation_ns, 0.0);
  // A second calibration moves forward on both clocks.
  std::optional<vk::ClockCalibration> later = context().CalibrateClocks();
  ASSERT_TRUE(later);
  EXPECT_GE(later->host_ns, calibration->host_ns);
  EXPECT_GE(later->device_ns, calibration->device_ns);
}

}  // namespace
}  // namespace ts
