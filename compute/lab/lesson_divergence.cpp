// Lesson 5: divergence and occupancy (shaders/lab_divergence.comp, and the
// occupancy model of compute/profile/occupancy.h, here and "as if on"
// reference GPUs).
#include <algorithm>
#include <cmath>

#include "compute/common/error.h"
#include "compute/lab/lab_internal.h"
#include "compute/profile/occupancy.h"
#include "shaders/lab.h"

namespace ts::lab::detail {
namespace {

const std::map<uint32_t, std::string> kSpecNames = {{0, "workgroup size"}, {1, "shared words"}};
constexpr uint32_t kIterations = 256;

struct Case {
  std::string name, what_changed;
  uint32_t percent, pattern;
};

// Workgroups in flight on average while the dispatch ran, from the
// shader-clock trace (Sequence's trace mode): the sum of the workgroups'
// durations over the span from the first start to the last end.
double WorkgroupsInFlight(const LessonRun& run, const vk::Dispatch& dispatch) {
  vk::SequenceOptions options;
  options.trace_workgroups = true;
  options.traced_pipelines = &run.pipelines;
  vk::Sequence sequence(run.context, {dispatch}, 1, options);
  run.context.RunOnce([&](VkCommandBuffer cb) {
    sequence.Record(cb);
    vk::RecordComputeToHostBarrier(cb);
  });
  const vk::DispatchTrace trace = sequence.ReadWorkgroupTrace()[0];
  uint64_t first = UINT64_MAX, last = 0;
  double busy = 0;
  for (const vk::WorkgroupRecord& r : trace.records) {
    if (r.end_ticks <= r.start_ticks) continue;
    first = std::min(first, r.start_ticks);
    last = std::max(last, r.end_ticks);
    busy += double(r.end_ticks - r.start_ticks);
  }
  return last > first ? busy / double(last - first) : 0.0;
}

OccupancyRow RowOf(const std::string& device, const profile::DeviceModel& model,
                   const profile::KernelResources& kernel) {
  const profile::Occupancy o = profile::ComputeOccupancy(model, kernel);
  return {device, o.modelled, o.active_workgroups_per_unit, o.active_subgroups_per_unit, o.occupancy,
          profile::LimiterName(o.limiter), o.explanation};
}

}  // namespace

LessonResult RunDivergenceLesson(LessonRun& run) {
  const uint32_t count = run.Knob32("size"), group = run.Knob32("workgroup"), percent = run.Knob32("branch_percent");
  const uint32_t shared_kb = run.Knob32("shared_kb"), registers = run.Knob32("registers");
  const uint32_t shared_words = std::max(1u, shared_kb * 256);
  const vk::DeviceInfo& device = run.device();
  RequireWorkgroup(device, group, 1, "The divergence kernel's workgroup");
  RequireSharedMemory(device, 4ull * shared_words, "The divergence kernel with " + std::to_string(shared_kb) + " KiB");
  RequireBufferBytes(device, 4ull * count, std::to_string(count) + " results");
  const uint32_t groups = vk::DivideRoundUp(count, group);
  RequireWorkgroupCount(device, groups, 1, std::to_string(count) + " invocations");

  LessonResult result;
  result.shape = {count};
  vk::Buffer values = PoisonedBuffer(run.context, count, "lab divergence results");
  vk::Buffer branches(run.context, 4ull * count, "lab divergence branches");
  const std::string p = std::to_string(percent) + "%";
  const Case cases[] = {
      {"uniform: all loop B", "every invocation runs loop B: no subgroup diverges (the baseline)", 0, 0},
      {"alternating lanes " + p, p + " of the lanes of every subgroup run loop A, the rest loop B: each subgroup "
       "holds both and runs both loops, masking off the lanes of the other", percent, 0},
      {"alternating subgroups " + p, p + " of whole subgroups run loop A, the rest loop B: the same work, but no "
       "subgroup diverges", percent, 1},
  };
  std::vector<vk::Dispatch> dispatches;
  for (const Case& c : cases) {
    run.Progress(c.name, 0.1 + 0.25 * dispatches.size());
    vk::Dispatch d;
    d.kernel = "lab_divergence";
    d.label = c.name;
    d.pipeline = &run.pipelines.Get("lab_divergence", {{0, group}, {1, shared_words}});
    d.bindings = {{&values, 0, 0, vk::Access::kWrite}, {&branches, 0, 0, vk::Access::kWrite}};
    d.SetPushConstants(gpu::LabDivergenceParams{count, c.percent, kIterations, c.pattern});
    d.workgroups = {groups, 1, 1};
    d.cost.bytes_written = 8.0 * count;
    Variant v = DescribeVariant(c.name, c.what_changed, d, kSpecNames);
    Judge(v, TimeDispatches(run, {d}), run.ceilings);

    // Each result from the loop the invocation says it ran, and its seed.
    std::vector<float> got = ReadFloats(values, count);
    std::vector<uint32_t> took_a(count);
    branches.DownloadVector(std::span<uint32_t>(took_a));
    std::vector<double> want(count);
    uint64_t a_count = 0, flops = 0;
    for (uint32_t i = 0; i < count; ++i) {
      const uint32_t tid = i % group;
      double x = double(float(((tid * 7) % shared_words) % 7) * 0.1f);
      if (took_a[i] == 1) {
        for (uint32_t n = 0; n < kIterations; ++n) x = x * 0.5 + 1.0;
      } else {
        for (uint32_t n = 0; n < kIterations; ++n) x = x * x * 0.1 + 0.5;
      }
      want[i] = took_a[i] <= 1 ? x : std::nan("");
      a_count += took_a[i] == 1;
      flops += took_a[i] == 1 ? 2 * kIterations : 3 * kIterations;
    }
    const double tolerance[] = {1e-5};
    CheckOutput(v, got, want, tolerance, "result");
    if (v.check_passed && c.percent == 0 && a_count != 0) {
      v.check_passed = false;
      v.check_message = Count(a_count) + " invocations ran loop A with a branch fraction of 0%";
    }
    v.flops = double(flops);
    Judge(v, {v.ms, uint32_t(v.figures["runs"])}, run.ceilings);
    v.figures["fraction_loop_a"] = double(a_count) / count;
    values = PoisonedBuffer(run.context, count, "lab divergence results");
    dispatches.push_back(d);
    result.variants.push_back(std::move(v));
  }

  // Achieved concurrency from the shader-clock trace, where the device has one.
  if (device.shader_clock && device.shader_device_clock) {
    run.Progress("workgroups in flight (shader-clock trace)", 0.85);
    result.variants[1].figures["workgroups_in_flight"] = WorkgroupsInFlight(run, dispatches[1]);
  }

  // Theoretical occupancy of this configuration here and as if on reference GPUs.
  const vk::Pipeline& pipeline = *dispatches[1].pipeline;
  profile::KernelResources kernel{group, pipeline.shared_memory_bytes(), {}};
  auto reported = result.variants[1].figures.find("registers");
  kernel.registers_per_invocation = reported != result.variants[1].figures.end()
                                        ? profile::Figure{reported->second, profile::Source::kExposed, "the driver"}
                                        : profile::Figure{double(registers), profile::Source::kUser, "the registers knob"};
  result.occupancy.push_back(RowOf("this device: " + device.name, profile::ModelDevice(device), kernel));
  kernel.registers_per_invocation = {double(registers), profile::Source::kUser, "the registers knob"};
  for (const profile::ReferenceDevice& reference : profile::ReferenceDeviceModels())
    result.occupancy.push_back(RowOf(reference.label + ", modelled", reference.model, kernel));

  const std::vector<Variant>& v = result.variants;
  result.notes.push_back("Both loops run " + std::to_string(kIterations) + " steps. Alternating lanes took " +
                         Fixed(v[1].ms, 2) + " ms, alternating subgroups " + Fixed(v[2].ms, 2) + " ms for the same " +
                         Fixed(100 * v[1].figures.at("fraction_loop_a")) + "% of loop A, against " + Fixed(v[0].ms, 2) +
                         " ms when nobody runs loop A. A subgroup (" + std::to_string(device.subgroup_size) +
                         " lanes here) executes in lockstep: when its lanes disagree it runs both loops, masking.");
  if (device.is_software())
    result.notes.push_back("On lavapipe a subgroup is one CPU thread's SIMD vector; a branch whose lanes disagree runs "
                           "both sides with masks, exactly as on a GPU, so the divergence cost shows here too.");
  const OccupancyRow& here = result.occupancy[0];
  result.notes.push_back("Occupancy here: " + Fixed(100 * here.occupancy, 0) + "% (" + here.explanation + ")");
  for (size_t i = 1; i < result.occupancy.size(); ++i)
    result.notes.push_back("As if on the " + result.occupancy[i].device + ": " +
                           Fixed(100 * result.occupancy[i].occupancy, 0) + "%, limited by " +
                           result.occupancy[i].limiter + " (workgroup of " + std::to_string(group) + ", " +
                           std::to_string(kernel.shared_memory_bytes) + " bytes of shared memory, " +
                           std::to_string(registers) + " registers per invocation assumed).");
  if (auto inflight = v[1].figures.find("workgroups_in_flight"); inflight != v[1].figures.end())
    result.notes.push_back("Achieved concurrency (shader-clock trace of the alternating-lanes run): " +
                           Fixed(inflight->second, 2) + " workgroups in flight on average.");
  return result;
}

}  // namespace ts::lab::detail
