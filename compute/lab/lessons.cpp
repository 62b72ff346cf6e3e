// The Kernel Lab's lesson list, settings checks, RunLesson, the embedded
// shader sources and the bank-conflict model.
#include <algorithm>
#include <map>
#include <tuple>

#include "compute/common/error.h"
#include "compute/lab/lab.h"
#include "compute/lab/lab_internal.h"

namespace ts::lab {

namespace detail {
// Generated at build time from shaders/lab_*.comp (shaders/embed_lab_sources.cmake).
struct EmbeddedSource {
  const char* name;
  const char* text;
};
extern const EmbeddedSource kLabSources[];
extern const size_t kLabSourceCount;
}  // namespace detail

namespace {

Knob SizeKnob(int64_t min, int64_t max, int64_t value, const std::string& label, const std::string& help) {
  return {"size", label, help, min, max, value, true, {}};
}

Knob WorkgroupKnob(int64_t value, const std::string& help) {
  std::vector<std::pair<int64_t, std::string>> choices;
  for (int64_t w : {32, 64, 128, 256, 512, 1024}) choices.push_back({w, std::to_string(w)});
  return {"workgroup", "workgroup size", help, 32, 1024, value, true, choices};
}

std::vector<LessonInfo> MakeLessons() {
  std::vector<LessonInfo> lessons;
  lessons.push_back(
      {"grid", "1. The grid",
       "how a dispatch splits work into workgroups of invocations (1D and 2D); time against workgroup size",
       {{"size", "width", "elements along x (the array length in 1D)", 1, 4096, 100, false, {}},
        {"height", "height", "elements along y; 1 makes the grid 1D", 1, 4096, 1, false, {}},
        {"workgroup", "workgroup width", "invocations per workgroup along x (gl_WorkGroupSize.x)", 1, 1024, 32, true,
         {}},
        {"workgroup_y", "workgroup height", "invocations per workgroup along y; 1 in 1D", 1, 1024, 1, true, {}}}});
  lessons.push_back(
      {"memory", "2. Memory access",
       "copy, strided reads (stride 1..64) and row- vs column-order traversal against the bandwidth ceiling",
       {SizeKnob(1 << 12, 1 << 24, 1 << 22, "elements", "floats each kernel reads and writes"),
        WorkgroupKnob(256, "invocations per workgroup of every memory kernel"),
        {"stride", "traced stride", "the stride whose subgroup addresses the instrumented run records", 1, 64, 8, true,
         {{1, "1"}, {2, "2"}, {4, "4"}, {8, "8"}, {16, "16"}, {32, "32"}, {64, "64"}}}}});
  lessons.push_back(
      {"matmul", "3. Matrix multiply, rung by rung",
       "naive, coalesced, shared tiles, padding, 1D/2D register blocking, vec4 reads and the trainer's own kernel",
       {SizeKnob(8, 2048, 256, "matrix size", "M = N = K of C = A B"),
        {"tile",
         "tile",
         "side of the shared tiles (the workgroup of the shared rungs is tile x tile invocations)",
         8,
         32,
         16,
         true,
         {{8, "8 x 8"}, {16, "16 x 16"}, {32, "32 x 32"}}},
        {"workgroup",
         "workgroup side",
         "the naive and coalesced rungs' workgroup is side x side invocations",
         4,
         32,
         16,
         true,
         {{4, "4 x 4"}, {8, "8 x 8"}, {16, "16 x 16"}, {32, "32 x 32"}}}}});
  lessons.push_back({"reduction", "4. Reduction",
                     "the sum of N floats: atomics, interleaved and sequential trees, first add during load, "
                     "subgroupAdd, two passes",
                     {SizeKnob(1, 1 << 25, 1 << 22, "elements", "floats to sum"),
                      WorkgroupKnob(256, "invocations per workgroup (each tree has log2 of it levels)")}});
  lessons.push_back(
      {"divergence", "5. Divergence and occupancy",
       "branches that split a subgroup cost both paths; workgroup size and shared memory against occupancy",
       {SizeKnob(1 << 10, 1 << 22, 1 << 18, "invocations", "invocations dispatched"),
        WorkgroupKnob(256, "invocations per workgroup (re-specialises the kernel)"),
        {"branch_percent", "branch fraction", "percent of invocations (or subgroups) that take the long branch", 0,
         100, 50, false, {}},
        {"shared_kb", "shared memory", "KiB of shared memory each workgroup claims (re-specialises the kernel)", 0, 64,
         0, false, {}},
        {"registers", "registers", "registers per invocation the occupancy models assume where the driver reports "
         "none", 8, 255, 32, false, {}}}});
  lessons.push_back({"cpu-vs-gpu", "6. CPU vs GPU",
                     "an element-wise op and a matmul from tiny to large on the CPU (one thread, all cores) and the "
                     "device, with and without transfers",
                     {SizeKnob(1 << 12, 1 << 24, 1 << 22, "largest elements",
                               "the element-wise sizes run from 64 up to this; the matmul's up to its square root")}});
  return lessons;
}

}  // namespace

const std::vector<LessonInfo>& Lessons() {
  static const std::vector<LessonInfo> lessons = MakeLessons();
  return lessons;
}

const LessonInfo& FindLesson(const std::string& name) {
  std::string names;
  for (const LessonInfo& lesson : Lessons()) {
    if (lesson.name == name) return lesson;
    names += (names.empty() ? "" : ", ") + lesson.name;
  }
  throw Error("There is no lesson called '" + Excerpt(name) + "'; the lessons are " + names + ".");
}

namespace {

std::string Choices(const Knob& knob) {
  std::string text;
  for (const auto& [value, label] : knob.choices) text += (text.empty() ? "" : ", ") + std::to_string(value);
  return text;
}

// Every knob of `lesson` with its value: the given ones checked, the rest the defaults.
Settings CompleteSettings(const LessonInfo& lesson, const Settings& given) {
  Settings settings;
  for (const auto& entry : given) {
    // Named copies: clang 14 cannot capture structured bindings in a lambda.
    const std::string& key = entry.first;
    const int64_t value = entry.second;
    auto knob = std::find_if(lesson.knobs.begin(), lesson.knobs.end(), [&](const Knob& k) { return k.key == key; });
    if (knob == lesson.knobs.end()) {
      std::string keys;
      for (const Knob& k : lesson.knobs) keys += (keys.empty() ? "" : ", ") + k.key;
      throw Error("Lesson '" + lesson.name + "' has no setting '" + Excerpt(key) + "'; its settings are " + keys + ".");
    }
    if (!knob->choices.empty()) {
      bool allowed = std::any_of(knob->choices.begin(), knob->choices.end(), [&](auto& c) { return c.first == value; });
      Require(allowed, "Lesson '" + lesson.name + "': " + key + " (" + knob->label + ") must be one of " +
                           Choices(*knob) + "; found " + std::to_string(value) + ".");
    } else {
      Require(value >= knob->min && value <= knob->max,
              "Lesson '" + lesson.name + "': " + key + " (" + knob->label + ") must be from " +
                  std::to_string(knob->min) + " to " + std::to_string(knob->max) + "; found " + std::to_string(value) +
                  ".");
    }
    settings[key] = value;
  }
  for (const Knob& knob : lesson.knobs) settings.emplace(knob.key, knob.value);
  return settings;
}

// What to try next, per lesson: the last of its notes.
const std::map<std::string, std::string>& TryNext() {
  static const std::map<std::string, std::string> tries = {
      {"grid", "Try: a width that is not a multiple of the workgroup (idle invocations appear at the bounds guard), "
               "a 2D grid (--height 24 --workgroup-y 8), and workgroups narrower than a subgroup."},
      {"memory", "Try: --stride 16 or 64 for the instrumented run (one subgroup's reads spread over 16 or 64 lines), "
                 "and a --size small enough for the CPU's caches (the large strides then cost less)."},
      {"matmul", "Try: --tile 8 and 32 (the shared rungs' workgroup and shared memory), --size 512 (a dispatch's "
                 "fixed cost hides less), and compare the shared rungs' bank conflicts with their times."},
      {"reduction", "Try: --workgroup 32 (fewer tree levels, more workgroups and atomics) and 1024, and a --size "
                    "below one workgroup."},
      {"divergence", "Try: --branch-percent 10 and 90 (alternating lanes still pays for both loops), --registers 128 "
                     "and --shared-kb 32 (the reference GPUs' occupancy drops and the limiter changes)."},
      {"cpu-vs-gpu", "Try: --size 16777216 (the element-wise curves reach the bandwidth limit)."},
  };
  return tries;
}

}  // namespace

LessonResult RunLesson(vk::Context& context, vk::PipelineCache& pipelines, const std::string& lesson,
                       const Settings& settings, const RunOptions& options) {
  const LessonInfo& info = FindLesson(lesson);
  detail::LessonRun run{context, pipelines, info, CompleteSettings(info, settings), options, {}};
  if (options.ceilings) {
    run.ceilings = *options.ceilings;
  } else {
    run.Progress("measuring the device's ceilings (once per device)", 0.0);
    run.ceilings = profile::LoadOrMeasureCeilings(context, pipelines, false).ceilings;
  }
  run.Progress(info.title, 0.0);
  LessonResult result;
  if (lesson == "grid") result = detail::RunGridLesson(run);
  if (lesson == "memory") result = detail::RunMemoryLesson(run);
  if (lesson == "matmul") result = detail::RunMatmulLesson(run);
  if (lesson == "reduction") result = detail::RunReductionLesson(run);
  if (lesson == "divergence") result = detail::RunDivergenceLesson(run);
  if (lesson == "cpu-vs-gpu") result = detail::RunCpuVsGpuLesson(run);
  result.lesson = lesson;
  result.device = context.info().name;
  result.settings = run.settings;
  result.ceilings = run.ceilings;
  detail::SetSpeedups(result.variants);
  for (const Variant& v : result.variants)
    if (v.percent_of_ceiling > 100) {
      result.notes.push_back("'" + v.name + "' ran at " + detail::Fixed(v.percent_of_ceiling) + "% of the cached "
                             "ceiling: the ceiling was measured at a busier moment or by a kernel this one outruns; "
                             "`tensorscope bench --ceilings --remeasure` measures it again.");
      break;
    }
  result.notes.push_back(TryNext().at(lesson));
  run.Progress("done", 1.0);
  return result;
}

const std::string& ShaderSource(const std::string& shader) {
  static const std::map<std::string, std::string> sources = [] {
    std::map<std::string, std::string> map;
    for (size_t i = 0; i < detail::kLabSourceCount; ++i) map[detail::kLabSources[i].name] = detail::kLabSources[i].text;
    return map;
  }();
  auto it = sources.find(shader);
  if (it != sources.end()) return it->second;
  std::string names;
  for (const auto& [name, text] : sources) names += (names.empty() ? "" : ", ") + name;
  throw Error("No Kernel Lab shader is called '" + Excerpt(shader) + "' (the lab's shaders are " + names + ").");
}

uint64_t CountBankConflicts(const AccessTrace& trace, uint32_t banks) {
  // (workgroup, subgroup, step, access, array) -> per lane, its word indices in program order.
  using Key = std::tuple<uint32_t, uint32_t, uint32_t, Access, uint32_t>;
  std::map<Key, std::map<uint32_t, std::vector<uint32_t>>> groups;
  for (const AccessRecord& r : trace.records)
    if (r.access == Access::kSharedRead || r.access == Access::kSharedWrite)
      groups[{r.workgroup, r.subgroup, r.step, r.access, r.buffer}][r.lane].push_back(r.index);
  uint64_t conflicts = 0;
  for (const auto& [key, lanes] : groups) {
    size_t instructions = 0;
    for (const auto& [lane, words] : lanes) instructions = std::max(instructions, words.size());
    for (size_t n = 0; n < instructions; ++n) {
      std::map<uint32_t, std::vector<uint32_t>> words_of_bank;
      for (const auto& [lane, words] : lanes)
        if (n < words.size()) {
          std::vector<uint32_t>& in_bank = words_of_bank[words[n] % banks];
          if (std::find(in_bank.begin(), in_bank.end(), words[n]) == in_bank.end()) in_bank.push_back(words[n]);
        }
      size_t turns = 1;
      for (const auto& [bank, words] : words_of_bank) turns = std::max(turns, words.size());
      conflicts += turns - 1;
    }
  }
  return conflicts;
}

}  // namespace ts::lab
