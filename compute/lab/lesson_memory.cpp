// Lesson 2: memory access patterns (shaders/lab_memory.comp): copy, strided
// reads and row- against column-order walks, in GB/s against the ceiling.
#include <algorithm>
#include <cmath>
#include <random>

#include "compute/common/error.h"
#include "compute/lab/lab_internal.h"
#include "shaders/lab.h"

namespace ts::lab::detail {
namespace {

const std::map<uint32_t, std::string> kSpecNames = {
    {0, "workgroup size"}, {1, "mode (0 copy, 1 strided, 2 row walk, 3 column walk)"},
    {kRecordWorkgroupsSpecId, "recorded workgroups"}};
constexpr uint32_t kRecordBinding = 2;

struct Pattern {
  uint32_t mode = 0, stride = 1;
};

vk::Dispatch MemoryDispatch(const LessonRun& run, Pattern pattern, const gpu::LabMemoryParams& params,
                            const vk::Buffer& in, const vk::Buffer& out, uint32_t group) {
  vk::Dispatch d;
  d.kernel = "lab_memory";
  d.pipeline = &run.pipelines.Get("lab_memory", {{0, group}, {1, pattern.mode}});
  d.bindings = {{&in, 0, 0, vk::Access::kRead}, {&out, 0, 0, vk::Access::kWrite}, NoRecords()};
  d.SetPushConstants(params);
  const uint64_t invocations = pattern.mode == 2 ? params.rows : pattern.mode == 3 ? params.cols : params.count;
  const uint64_t groups = std::max<uint64_t>(1, (invocations + group - 1) / group);
  const uint32_t x = static_cast<uint32_t>(std::min<uint64_t>(groups, 32768));
  d.workgroups = {x, static_cast<uint32_t>((groups + x - 1) / x), 1};
  RequireWorkgroupCount(run.device(), d.workgroups[0], d.workgroups[1], "The memory kernels");
  d.cost.bytes_read = 4.0 * params.count;
  d.cost.bytes_written = 4.0 * (pattern.mode >= 2 ? invocations : params.count);
  d.cost.flops = pattern.mode >= 2 ? params.count : 0;
  return d;
}

// What each pattern must produce, exactly (the input holds small whole numbers).
std::vector<double> Expected(Pattern pattern, const gpu::LabMemoryParams& p, const std::vector<float>& in) {
  std::vector<double> out;
  if (pattern.mode == 0) {
    out.assign(in.begin(), in.begin() + p.count);
  } else if (pattern.mode == 1) {
    const uint32_t rows = p.count / pattern.stride;
    for (uint32_t i = 0; i < p.count; ++i) out.push_back(in[uint64_t(i % rows) * pattern.stride + i / rows]);
  } else if (pattern.mode == 2) {
    for (uint32_t r = 0; r < p.rows; ++r) {
      double sum = 0;
      for (uint32_t c = 0; c < p.cols; ++c) sum += in[uint64_t(r) * p.cols + c];
      out.push_back(sum);
    }
  } else {
    out.assign(p.cols, 0.0);
    for (uint32_t r = 0; r < p.rows; ++r)
      for (uint32_t c = 0; c < p.cols; ++c) out[c] += in[uint64_t(r) * p.cols + c];
  }
  return out;
}

}  // namespace

LessonResult RunMemoryLesson(LessonRun& run) {
  const uint32_t group = run.Knob32("workgroup"), traced_stride = run.Knob32("stride");
  // Whole multiples of 64, so every stride divides the count.
  const uint32_t count = std::max<uint32_t>(64, run.Knob32("size") / 64 * 64);
  const uint32_t cols = static_cast<uint32_t>(std::sqrt(double(count))), rows = count / cols;
  const vk::DeviceInfo& device = run.device();
  RequireWorkgroup(device, group, 1, "The memory kernels' workgroup");
  RequireBufferBytes(device, 4ull * count, std::to_string(count) + " floats");

  LessonResult result;
  result.shape = {count, rows, cols};
  std::vector<float> input(count);
  std::mt19937_64 rng(2);
  for (float& x : input) x = float(int(rng() % 5) - 2);  // whole numbers: sums are exact
  vk::Buffer in = FloatBuffer(run.context, input, "lab memory input");

  std::vector<std::pair<Pattern, std::string>> patterns = {{{0, 1}, "copy"}};
  for (uint32_t s = 1; s <= 64; s *= 2) patterns.push_back({{1, s}, "stride " + std::to_string(s)});
  patterns.push_back({{2, 1}, "row walk (invocation per row)"});
  patterns.push_back({{3, 1}, "column walk (invocation per column)"});

  Chart chart{"GB/s against stride", "stride (floats)", "GB/s", true, false, {}, run.ceilings.bandwidth_gbs};
  Series strided{"strided read", {}, {}};
  for (size_t i = 0; i < patterns.size(); ++i) {
    const auto& [pattern, name] = patterns[i];
    run.Progress(name, 0.05 + 0.8 * double(i) / patterns.size());
    gpu::LabMemoryParams params{count, pattern.stride, rows, cols};
    if (pattern.mode >= 2) params.count = rows * cols;
    const std::vector<double> want = Expected(pattern, params, input);
    vk::Buffer out = PoisonedBuffer(run.context, want.size(), "lab memory output");
    vk::Dispatch d = MemoryDispatch(run, pattern, params, in, out, group);
    std::string what;
    if (pattern.mode == 0) what = "out[i] = in[i]: a subgroup reads one contiguous block";
    if (pattern.mode == 1)
      what = "out[i] = in[(i % R) * " + std::to_string(pattern.stride) + " + i / R]: every float read once, "
             "neighbouring invocations " + std::to_string(4 * pattern.stride) + " bytes apart";
    if (pattern.mode == 2)
      what = "each of " + std::to_string(rows) + " invocations sums a row of " + std::to_string(cols) +
             " floats: at each step neighbours are " + std::to_string(4 * cols) + " bytes apart";
    if (pattern.mode == 3)
      what = "each of " + std::to_string(cols) + " invocations sums a column: at each step neighbours read "
             "neighbouring floats";
    Variant v = DescribeVariant(name, what, d, kSpecNames);
    v.judged_against = Ceiling::kBandwidth;
    v.figures["stride"] = pattern.stride;
    Judge(v, TimeDispatches(run, {d}), run.ceilings);
    const double exact[] = {0.0};
    CheckOutput(v, ReadFloats(out, want.size()), want, exact);
    if (pattern.mode == 1) {
      strided.x.push_back(pattern.stride);
      strided.y.push_back(v.gbs);
    }
    if (run.options.instrument && pattern.mode == 1 && pattern.stride == traced_stride) {
      AccessTrace trace = RecordAccesses(run, d, kRecordBinding, 1, 2ull * group + 16);
      trace.buffer_names = {"in", "out"};
      trace.step_meaning = "0: the read, 1: the write";
      result.trace = std::move(trace);
      result.traced_variant = name;
    }
    result.variants.push_back(std::move(v));
  }
  chart.series.push_back(strided);
  result.charts.push_back(chart);

  const std::vector<Variant>& v = result.variants;
  const Variant &copy = v[0], &stride64 = v[7], &row_walk = v[8], &column_walk = v[9];
  result.notes.push_back("The copy moved " + Fixed(copy.gbs, 2) + " GB/s, " + Fixed(copy.percent_of_ceiling) +
                         "% of the measured ceiling (" + Fixed(run.ceilings.bandwidth_gbs, 2) + " GB/s, a vec4 copy); "
                         "stride 64 moved " + Fixed(stride64.gbs, 2) + " GB/s (" + Fixed(copy.ms > 0 ? stride64.ms / copy.ms : 0, 1) +
                         "x the time) for the very same floats.");
  result.notes.push_back(
      "Why: memory is fetched in lines (64 bytes on CPUs, 32-128 bytes on GPUs). At stride 1 a subgroup of " +
      std::to_string(device.subgroup_size) + " uses every byte of the lines it fetches; from stride 16 (64 bytes) on, "
      "each invocation needs a line of its own and uses 4 bytes of it.");
  const bool columns_win = column_walk.ms < row_walk.ms;
  result.notes.push_back(
      "Row walk against column walk of the same " + std::to_string(rows) + " x " + std::to_string(cols) + " matrix: " +
      Fixed(row_walk.gbs, 2) + " against " + Fixed(column_walk.gbs, 2) + " GB/s. At each step a subgroup of row "
      "walkers reads " + std::to_string(device.subgroup_size) + " floats " + std::to_string(4 * cols) + " bytes apart, "
      "column walkers one contiguous block (coalesced), which is what a GPU's memory system rewards. " +
      (columns_win ? std::string("Here too the column walk won.")
                   : device.is_software()
                         ? "Here the row walk won: lavapipe loads lane by lane anyway, and each lane streaming its "
                           "own row is what a CPU's caches and prefetchers like best. A GPU habit and a CPU habit differ."
                         : "Here the row walk won: this device's caches hold the rows' lines between steps."));
  result.notes.push_back("The strided kernel divides and takes a remainder per invocation even at stride 1 (" +
                         Fixed(v[1].ms, 1) + " ms against the copy's " + Fixed(copy.ms, 1) + " ms): compare strides "
                         "with one another; the copy is the plain kernel.");
  if (result.trace)
    result.notes.push_back("The instrumented run recorded workgroup 0 of '" + result.traced_variant +
                           "': pick a subgroup to see the addresses its invocations read at one step.");
  return result;
}

}  // namespace ts::lab::detail
