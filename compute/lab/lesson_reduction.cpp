// Lesson 4: the sum of N floats, six ways (shaders/lab_reduction.comp).
#include <algorithm>
#include <bit>
#include <random>

#include "compute/common/error.h"
#include "compute/lab/lab_internal.h"
#include "shaders/lab.h"

namespace ts::lab::detail {
namespace {

enum SpecId : uint32_t { kGroup = 0, kVariant = 1, kSecondPass = 2 };
const std::map<uint32_t, std::string> kSpecNames = {{kGroup, "workgroup size"},
                                                    {kVariant, "variant"},
                                                    {kSecondPass, "second pass"},
                                                    {kRecordWorkgroupsSpecId, "recorded workgroups"}};
constexpr uint32_t kRecordBinding = 3;

struct Kind {
  std::string name, what_changed;
};
const Kind kKinds[] = {
    {"atomics", "every invocation adds its float to the one total with an atomic compare-and-swap loop: N atomic "
                "operations on a single word, one after another"},
    {"interleaved tree", "each workgroup sums its floats in shared memory as a tree of log2(workgroup) levels; level s "
                         "keeps the invocations whose index is a multiple of 2s: scattered, so every subgroup stays "
                         "busy (divergent) and none can skip a level"},
    {"sequential addressing", "the same tree, but at each level the first half of the active invocations add the "
                              "second half's floats: whole subgroups fall idle, reads are consecutive words"},
    {"first add during load", "each invocation adds two floats while loading them, so a workgroup covers twice as "
                              "many and the tree has half as many workgroups to run"},
    {"subgroupAdd", "after the first add, subgroupAdd() sums each subgroup in registers and once more over the "
                    "subgroups' sums: no tree in shared memory, two barriers instead of log2(workgroup)"},
    {"two passes", "pass 1 writes each workgroup's subgroupAdd sum; pass 2, one workgroup, sums those: no atomics at "
                   "all"},
};

struct Buffers {
  vk::Buffer input, partials, total;
};

struct Grid {
  uint32_t groups = 0, x = 0, y = 0;
};

Grid GridFor(const vk::DeviceInfo& device, uint64_t count, uint32_t per_group) {
  Grid g;
  g.groups = static_cast<uint32_t>(std::max<uint64_t>(1, (count + per_group - 1) / per_group));
  g.x = std::min<uint32_t>(g.groups, std::min<uint32_t>(device.max_workgroup_count[0], 32768));
  g.y = (g.groups + g.x - 1) / g.x;
  RequireWorkgroupCount(device, g.x, g.y, "Summing " + std::to_string(count) + " floats");
  return g;
}

vk::Dispatch ReductionDispatch(const LessonRun& run, uint32_t variant, bool second_pass, const Buffers& b,
                               uint32_t count, uint32_t group) {
  vk::Dispatch d;
  d.kernel = "lab_reduction";
  d.label = second_pass ? "two passes: pass 2" : kKinds[variant].name;
  d.pipeline = &run.pipelines.Get("lab_reduction", {{kGroup, group}, {kVariant, variant}, {kSecondPass, second_pass}});
  const bool writes_partials = variant >= 1 && !second_pass;
  const bool uses_total = variant != 5 || second_pass;
  d.bindings = {{second_pass ? &b.partials : &b.input, 0, 0, vk::Access::kRead},
                writes_partials ? vk::Binding{&b.partials, 0, 0, vk::Access::kWrite} : vk::UnusedBinding(),
                uses_total ? vk::Binding{&b.total, 0, 0, vk::Access::kReadWrite} : vk::UnusedBinding(), NoRecords()};
  d.SetPushConstants(gpu::LabReductionParams{count});
  if (second_pass) {
    d.workgroups = {1, 1, 1};
  } else {
    Grid g = GridFor(run.device(), count, variant >= 3 ? 2 * group : group);
    d.workgroups = {g.x, g.y, 1};
  }
  d.cost.flops = count;
  d.cost.bytes_read = 4.0 * count;
  d.cost.bytes_written = writes_partials ? 4.0 * GridFor(run.device(), count, variant >= 3 ? 2 * group : group).groups : 0;
  return d;
}

}  // namespace

LessonResult RunReductionLesson(LessonRun& run) {
  const uint32_t n = run.Knob32("size"), group = run.Knob32("workgroup");
  const vk::DeviceInfo& device = run.device();
  Require((device.subgroup_operations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT) &&
              (device.subgroup_stages & VK_SHADER_STAGE_COMPUTE_BIT),
          "The reduction lesson's kernels use subgroupAdd, and '" + device.name + "' has no subgroup arithmetic in "
          "compute shaders. Choose another device with --device.");
  RequireWorkgroup(device, group, 1, "The reduction's workgroup");
  RequireSharedMemory(device, 8ull * group, "A reduction tree of " + std::to_string(group) + " floats");
  RequireBufferBytes(device, 4ull * n, std::to_string(n) + " floats");

  LessonResult result;
  result.shape = {n};
  // Whole numbers -1, 0 and 1: every partial sum is an integer well inside
  // float's 24-bit mantissa, so the sum is exact in any order and every
  // variant must match the CPU to the last bit.
  std::vector<float> input(n);
  std::mt19937_64 rng(4);
  for (float& x : input) x = float(int(rng() % 3) - 1);
  Buffers b{FloatBuffer(run.context, input, "lab reduction input"),
            PoisonedBuffer(run.context, GridFor(device, n, group).groups, "lab partial sums"),
            PoisonedBuffer(run.context, 4, "lab total")};
  double exact = 0;
  const double cpu_ms = WallMs([&] {
    exact = 0;
    for (float x : input) exact += x;
  });

  for (uint32_t variant = 0; variant < 6; ++variant) {
    run.Progress(kKinds[variant].name, 0.05 + 0.8 * variant / 6.0);
    std::vector<vk::Dispatch> dispatches = {ReductionDispatch(run, variant, false, b, n, group)};
    if (variant == 5)
      dispatches.push_back(ReductionDispatch(run, 5, true, b, GridFor(device, n, 2 * group).groups, group));
    Variant v = DescribeVariant(kKinds[variant].name, kKinds[variant].what_changed, dispatches[0], kSpecNames);
    if (variant == 5) {
      v.flops += dispatches[1].cost.flops;
      v.bytes += dispatches[1].cost.bytes_read + 4;
    }
    v.judged_against = Ceiling::kBandwidth;
    const vk::Buffer& total = b.total;
    Judge(v, TimeDispatches(run, dispatches, [&](VkCommandBuffer cb) { vkCmdFillBuffer(cb, total.handle(), 0, 16, 0); }),
          run.ceilings);
    v.figures["cpu_ms_one_thread"] = cpu_ms;
    v.figures["workgroups"] = GridFor(device, n, variant >= 3 ? 2 * group : group).groups;

    // The total, and for the tree variants each workgroup's sum, exactly.
    std::vector<float> got = ReadFloats(b.total, 1);
    std::vector<double> want = {exact};
    const uint32_t per_group = variant >= 3 ? 2 * group : group, groups = GridFor(device, n, per_group).groups;
    if (variant >= 1) {
      std::vector<float> partial = ReadFloats(b.partials, groups);
      got.insert(got.end(), partial.begin(), partial.end());
      for (uint32_t g = 0; g < groups; ++g) {
        double sum = 0;
        for (uint64_t i = uint64_t(g) * per_group; i < std::min<uint64_t>(n, uint64_t(g + 1) * per_group); ++i)
          sum += input[i];
        want.push_back(sum);
      }
    }
    const double zero_tolerance[] = {0.0};
    CheckOutput(v, got, want, zero_tolerance, variant >= 1 ? "sum (the total, then each workgroup's)" : "sum");
    b.total = PoisonedBuffer(run.context, 4, "lab total");
    b.partials = PoisonedBuffer(run.context, GridFor(device, n, group).groups, "lab partial sums");
    result.variants.push_back(std::move(v));
  }

  // The instrumented runs: the first workgroups' trees, interleaved and sequential.
  if (run.options.instrument) {
    run.Progress("instrumented run (the first workgroups' trees)", 0.9);
    const uint32_t recorded = std::min<uint32_t>(2, GridFor(device, n, group).groups);
    for (uint32_t variant : {1u, 2u}) {
      AccessTrace trace = RecordAccesses(run, ReductionDispatch(run, variant, false, b, n, group), kRecordBinding,
                                         recorded, recorded * (6ull * group + 16));
      trace.buffer_names = {"input", "partial sums", "total"};
      trace.shared_names = {"tree"};
      trace.step_meaning = "0: load into the tree; 1 .. " + std::to_string(std::bit_width(group) - 1) +
                           ": tree levels; then the workgroup's sum is written";
      result.variants[variant].bank_conflicts = CountBankConflicts(trace);
      result.variants[variant].figures["bank_conflicts_workgroups"] = trace.workgroups_recorded;
      if (variant == 1) {
        result.trace = std::move(trace);
        result.traced_variant = result.variants[1].name;
      }
    }
  }

  Chart chart{"GB/s per variant", "variant", "GB/s", false, false, {}, run.ceilings.bandwidth_gbs};
  Series series{"measured", {}, {}};
  for (size_t i = 0; i < result.variants.size(); ++i) {
    series.x.push_back(double(i + 1));
    series.y.push_back(result.variants[i].gbs);
  }
  chart.series.push_back(series);
  result.charts.push_back(chart);

  const std::vector<Variant>& v = result.variants;
  auto best = std::min_element(v.begin(), v.end(), [](const Variant& x, const Variant& y) { return x.ms < y.ms; });
  result.notes.push_back("The fastest way here, '" + best->name + "', read the " + Count(n) + " floats at " +
                         Fixed(best->gbs, 2) + " GB/s, " + Fixed(best->percent_of_ceiling) + "% of the copy kernel's " +
                         Fixed(run.ceilings.bandwidth_gbs, 2) + " GB/s: a reduction does one add per 4 bytes, so "
                         "memory, not arithmetic, is its ceiling. The CPU's plain loop took " + Fixed(cpu_ms, 2) + " ms.");
  result.notes.push_back("Atomics: " + Count(n) + " compare-and-swaps on one word took " + Fixed(v[0].ms, 2) +
                         " ms, " + Fixed(v[0].ms / best->ms, 1) + "x the best; the trees need one atomic per workgroup.");
  std::string conflicts;
  if (v[1].bank_conflicts && v[2].bank_conflicts)
    conflicts = " Bank conflicts in the first workgroups' recorded trees (32 banks of 4 bytes): interleaved " +
                Count(*v[1].bank_conflicts) + ", sequential " + Count(*v[2].bank_conflicts) + " (the interleaved "
                "tree's active lanes read words 2s apart, but in a subgroup of up to 32 lanes they still fall into "
                "different banks; the strided-index tree of GPU textbooks, index 2s x tid, is the one that conflicts).";
  result.notes.push_back("Interleaved against sequential addressing: " + Fixed(v[1].ms, 2) + " ms against " +
                         Fixed(v[2].ms, 2) + " ms. At level s the interleaved tree keeps one invocation in 2s active in "
                         "every subgroup, so no subgroup can skip the level; sequential addressing packs the active "
                         "ones into the first subgroups and the rest skip it." + conflicts +
                         (device.is_software() ? " On lavapipe, which runs every branch of a subgroup masked, the "
                                                 "levels cost about the same either way."
                                               : ""));
  result.notes.push_back("subgroupAdd: " + Fixed(v[4].ms, 2) + " ms against " + Fixed(v[3].ms, 2) +
                         " ms for the shared-memory tree after the same first add; a subgroup of " +
                         std::to_string(device.subgroup_size) + " lanes sums in registers without barriers.");
  result.notes.push_back("The input holds whole numbers -1, 0 and 1, so every partial sum is exact in float and every "
                         "variant must match the CPU to the last bit whatever order it adds in. With arbitrary floats "
                         "the order changes the rounding: atomics add in whichever order invocations arrive.");
  return result;
}

}  // namespace ts::lab::detail
