// Kernel Lab: lessons in GPU parallel programming that run real GLSL kernels
// on the chosen Vulkan device, check every output against a CPU reference,
// time them with timestamps and place them against the device's measured
// ceilings. The window (ui/lab/) and the command line (`tensorscope lab`) both
// draw from what RunLesson returns; nothing here is drawn or assumed.
//
// Vocabulary (Vulkan's word, CUDA's twin): dispatch = grid, workgroup = block,
// invocation = thread, subgroup = warp, shared memory = __shared__.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "compute/profile/ceilings.h"
#include "compute/vk/context.h"
#include "compute/vk/pipeline.h"

namespace ts::lab {

// A control of a lesson (a slider in the window, a --key value on the command
// line). Values are integers; `choices`, when not empty, lists the only values
// allowed (e.g. workgroup sizes 32, 64, 128, 256), each with a label.
struct Knob {
  std::string key;    // "size", "workgroup", "tile", "stride", "branch_percent", ...
  std::string label;  // "array length", "workgroup size", ...
  std::string help;   // one sentence: what it changes on the device
  int64_t min = 0, max = 0, value = 0;  // value: the lesson's default
  bool log_scale = false;               // a slider over powers of two
  std::vector<std::pair<int64_t, std::string>> choices;
};

// The lessons in order. `name` is what the command line takes.
struct LessonInfo {
  std::string name;     // "grid", "memory", "matmul", "reduction", "divergence", "cpu-vs-gpu"
  std::string title;    // "1. The grid"
  std::string summary;  // one line for `tensorscope lab --list`
  std::vector<Knob> knobs;
};
const std::vector<LessonInfo>& Lessons();
// The lesson called `name`; throws ts::Error listing the lesson names when none is.
const LessonInfo& FindLesson(const std::string& name);

// Knob values by key; a key missing takes the knob's default. RunLesson throws
// ts::Error naming the knob, its range and the value found when a value is out
// of range, not one of its choices, or not a knob of the lesson, and when the
// device cannot run it (e.g. a workgroup above maxComputeWorkGroupInvocations,
// shared memory above maxComputeSharedMemorySize: saying the device's limit).
using Settings = std::map<std::string, int64_t>;

enum class Ceiling { kFma, kBandwidth };  // which measured ceiling a variant is judged against

// One kernel variant as run: measured, checked, placed on the roofline.
struct Variant {
  std::string name;         // "naive", "shared 16x16", "subgroupAdd", "stride 4", ...
  std::string what_changed; // one sentence: what this rung does differently
  std::string shader;       // the .comp it runs (embedded source: ShaderSource)
  std::map<std::string, uint32_t> specialization;  // spec constants as set, by name
  uint32_t grid[3] = {1, 1, 1};       // workgroups dispatched
  uint32_t workgroup[3] = {1, 1, 1};  // invocations per workgroup
  uint32_t shared_memory_bytes = 0;   // per workgroup
  double flops = 0, bytes = 0;        // per run, as counted for the roofline
  double ms = 0;                      // median GPU time of the timed runs
  double gflops = 0, gbs = 0;         // flops / time, bytes / time
  Ceiling judged_against = Ceiling::kFma;
  double percent_of_ceiling = 0;      // achieved / measured ceiling x 100
  double speedup_over_previous = 0;   // previous variant's ms / this ms; 0 for the first
  bool check_passed = false;
  std::string check_message;          // "all 1 048 576 elements within 1e-4" or the first wrong one: index, expected, got
  std::optional<uint64_t> bank_conflicts;  // from the instrumented run, 32 banks x 4 bytes, where the lesson counts them
  std::map<std::string, double> figures;   // lesson-specific columns, e.g. {"stride", 4}, {"cpu_ms_one_thread", ...}
};

// A measured curve for a chart (time against workgroup size, GB/s against
// stride, CPU and device time against size ...).
struct Series {
  std::string name;  // legend
  std::vector<double> x, y;
};
struct Chart {
  std::string title, x_label, y_label;
  bool log_x = false, log_y = false;
  std::vector<Series> series;
  std::optional<double> ceiling;  // a horizontal line (the measured ceiling), when it applies
};

// What one invocation touched at one step, from the instrumented run (a lab
// kernel built with shaders/lab_record.glsl writes these into a device buffer
// of fixed capacity; overflow is reported, never silent).
enum class Access : uint32_t { kGlobalRead, kGlobalWrite, kSharedRead, kSharedWrite };
struct AccessRecord {
  uint32_t workgroup = 0;   // linear workgroup index (x + y * grid x + ...)
  uint32_t invocation = 0;  // gl_LocalInvocationIndex
  uint32_t subgroup = 0, lane = 0;  // gl_SubgroupID, gl_SubgroupInvocationID
  uint32_t step = 0;        // the kernel's own step counter (loop iteration, tree level)
  Access access = Access::kGlobalRead;
  uint32_t buffer = 0;      // binding of the buffer (global) or the shared array's number
  uint32_t index = 0;       // element index within it
};
struct AccessTrace {
  // In the order the kernel appended them: one invocation's records are in
  // its program order (each append is an atomic add), so the n-th shared read
  // of a lane at one step lines up with its subgroup's n-th (the bank model).
  std::vector<AccessRecord> records;
  uint32_t workgroups_recorded = 0;   // the first N workgroups (linear index < N) record
  uint64_t capacity = 0;              // records the buffer holds
  uint64_t wanted = 0;                // records the kernel tried to write (> capacity: overflowed)
  bool overflowed() const { return wanted > capacity; }
  std::vector<std::string> buffer_names;  // global buffers by `buffer`, e.g. {"A", "B", "C"}
  std::vector<std::string> shared_names;  // by `buffer` for shared accesses, e.g. {"tile A", "tile B"}
  std::string step_meaning;               // what `step` counts in this kernel, e.g. "K tile x 19 + phase"
};

// Shared-memory bank conflicts of a trace under a 32-bank, 4-byte-word model:
// the shared accesses of one subgroup at one step to one array, the n-th of
// each lane together (one instruction), fall into banks index % 32; a bank
// asked for d distinct words serves them in d turns (the same word is a
// broadcast), so the instruction costs (max d) - 1 extra turns. The sum over
// all instructions of the recorded workgroups.
uint64_t CountBankConflicts(const AccessTrace& trace, uint32_t banks = 32);

// Theoretical occupancy of one kernel configuration on this device and "as
// if on" the reference GPUs of profile::ReferenceDeviceModels() (modelled).
struct OccupancyRow {
  std::string device;        // "this device (llvmpipe ...)" or "NVIDIA SM, compute capability 8.6 (modelled)"
  bool modelled = true;
  uint32_t workgroups_per_unit = 0, subgroups_per_unit = 0;
  double occupancy = 0;      // 0..1
  std::string limiter;       // "registers", "shared memory", ...
  std::string explanation;
};

// Lesson 1's picture: which workgroup, invocation and subgroup computed each
// element, as written by the kernel itself (not computed on the CPU).
struct GridPicture {
  uint32_t width = 0, height = 0;          // elements (height 1 for 1D)
  uint32_t workgroup_x = 0, workgroup_y = 1;
  uint32_t grid_x = 0, grid_y = 1;         // workgroups dispatched
  std::vector<uint32_t> workgroup_of;      // per element, linear workgroup index
  std::vector<uint32_t> invocation_of;     // per element, gl_LocalInvocationIndex
  std::vector<uint32_t> subgroup_of;       // per element, gl_SubgroupID
  uint32_t subgroup_size = 0;
  uint32_t idle_invocations = 0;           // launched but outside the array (the bounds guard returned)
};

struct LessonResult {
  std::string lesson;
  std::string device;            // VkPhysicalDeviceProperties::deviceName
  std::vector<uint64_t> shape;   // e.g. {m, n, k} for matmul, {n} for reduction
  Settings settings;             // every knob's value as run
  profile::Ceilings ceilings;    // measured on this device (cached)
  std::vector<Variant> variants; // in the lesson's order (the ladder, for matmul)
  std::vector<Chart> charts;
  std::optional<AccessTrace> trace;      // of `traced_variant`, when the lesson records one
  std::string traced_variant;
  std::optional<GridPicture> grid;       // lesson 1
  std::vector<std::string> notes;        // "what to notice", with this device's numbers filled in
  std::vector<OccupancyRow> occupancy;   // lesson 5: per device model, for the configuration run
};

struct RunOptions {
  uint32_t repeats = 5;              // timed runs per variant (median reported), after one warm-up
  // Given: the percentages are of these (tests, a window that has them);
  // else the device's cached ceilings (measured on first use).
  std::optional<profile::Ceilings> ceilings;
  bool instrument = true;            // also run the traced variant with recording on
  // Records the instrumented run's buffer holds; 0: enough for what the
  // lesson records. Smaller: the trace keeps the first ones and overflows.
  uint64_t record_capacity = 0;
  const std::atomic<bool>* cancel = nullptr;  // set: stop between variants, throw ts::Error("cancelled")
  std::function<void(const std::string& what, double fraction)> progress;  // may be empty
};

// Runs the lesson on `context`'s device. The ceilings come from the cache
// (profile::LoadOrMeasureCeilings) so percentages are of measured figures.
// Throws ts::Error for bad settings (see Settings) and device failures; a
// wrong output is not an exception: the variant's check_passed is false.
LessonResult RunLesson(vk::Context& context, vk::PipelineCache& pipelines, const std::string& lesson,
                       const Settings& settings, const RunOptions& options = {});

// The GLSL source of a lab shader (shaders/NAME.comp and the includes it
// uses, as compiled), embedded at build time, for the window to show.
const std::string& ShaderSource(const std::string& shader);

// `tensorscope lab LESSON --json`'s document:
// {"lesson", "device", "shape", "settings", "ceilings": {"fp32_gflops", "bandwidth_gbs"},
//  "variants": [{"name", "ms", "gflops", "gbs", "percent_of_ceiling", "check_passed", "check_message", ...}],
//  "charts": [...], "notes": [...]}
std::string ResultJson(const LessonResult& result);
// The table for people: one line per variant (name, ms, GFLOP/s or GB/s, % of
// ceiling, speed-up, check), then the notes.
std::string FormatResult(const LessonResult& result);

}  // namespace ts::lab
