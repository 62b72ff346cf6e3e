// What the Kernel Lab's lessons share while they run (compute/lab/ only):
// the settings and ceilings of the run, device-limit checks, timing a
// variant's dispatches, checking an output against a double-precision
// reference, the instrumented run, and CPU timing over one or all cores.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "compute/lab/lab.h"
#include "compute/vk/buffer.h"
#include "compute/vk/sequence.h"

namespace ts::lab::detail {

// One lesson's run: what RunLesson was asked, with every knob filled in.
struct LessonRun {
  vk::Context& context;
  vk::PipelineCache& pipelines;
  const LessonInfo& lesson;
  Settings settings;  // every knob of the lesson
  const RunOptions& options;
  profile::Ceilings ceilings;

  const vk::DeviceInfo& device() const { return context.info(); }
  int64_t Knob(const std::string& key) const { return settings.at(key); }
  uint32_t Knob32(const std::string& key) const { return static_cast<uint32_t>(settings.at(key)); }
  // Reports progress; throws ts::Error("cancelled") when the caller asked to stop.
  void Progress(const std::string& what, double fraction) const;
};

// Device limits: each throws ts::Error naming `what`, the value asked for and
// the device's limit when it is beyond it.
void RequireWorkgroup(const vk::DeviceInfo& device, uint32_t x, uint32_t y, const std::string& what);
void RequireSharedMemory(const vk::DeviceInfo& device, uint64_t bytes, const std::string& what);
void RequireBufferBytes(const vk::DeviceInfo& device, uint64_t bytes, const std::string& what);
void RequireWorkgroupCount(const vk::DeviceInfo& device, uint64_t x, uint64_t y, const std::string& what);

// A variant's description from its first dispatch: shader, spec constants (by
// the names in `spec_names`; ids without a name are listed by number), grid,
// workgroup and shared memory.
Variant DescribeVariant(const std::string& name, const std::string& what_changed, const vk::Dispatch& dispatch,
                        const std::map<uint32_t, std::string>& spec_names);

// Runs `dispatches` once to warm up (llvmpipe compiles a pipeline at its first
// dispatch) and then up to options.repeats times, fewer where one run is long
// (about 3 s per variant in all); the time of a run is the sum of its
// dispatches' GPU times. `prologue`, when set, is recorded before each run
// (e.g. zeroing an accumulator), followed by a transfer-to-compute barrier.
struct Timing {
  double ms = 0;      // median
  uint32_t runs = 0;  // timed runs
};
Timing TimeDispatches(const LessonRun& run, const std::vector<vk::Dispatch>& dispatches,
                      const std::function<void(VkCommandBuffer)>& prologue = {});

// Sets a variant's ms, GFLOP/s, GB/s, % of the ceiling it is judged against
// and its number of timed runs (figures["runs"]).
void Judge(Variant& variant, const Timing& timing, const profile::Ceilings& ceilings);
// speedup_over_previous of every variant after the first.
void SetSpeedups(std::vector<Variant>& variants);

// Compares every element of `got` with `want`: |got - want| <= tolerance[i]
// (one tolerance for all when it has one element). NaN (a poisoned element
// never written) fails. Sets check_passed and check_message.
void CheckOutput(Variant& variant, std::span<const float> got, std::span<const double> want,
                 std::span<const double> tolerance, const std::string& element_name = "element");

// A device buffer of `count` floats, all NaN.
vk::Buffer PoisonedBuffer(vk::Context& context, uint64_t count, const std::string& name);
vk::Buffer FloatBuffer(vk::Context& context, std::span<const float> values, const std::string& name);
std::vector<float> ReadFloats(const vk::Buffer& buffer, uint64_t count);
// Random floats in [low, high), the same for the same seed.
std::vector<float> RandomFloats(uint64_t count, uint64_t seed, float low = -1.0f, float high = 1.0f);

// The instrumented run of `dispatch` (one dispatch of a shader that includes
// shaders/lab_record.glsl, its record buffer at binding `record_binding`):
// the same pipeline specialised with kRecordWorkgroups = `workgroups`, a
// record buffer of `capacity` records (RunOptions::record_capacity instead
// where set), run once; the records read back.
AccessTrace RecordAccesses(const LessonRun& run, vk::Dispatch dispatch, uint32_t record_binding, uint32_t workgroups,
                           uint64_t capacity);
// The binding lab kernels get at their record slot when not recording.
inline vk::Binding NoRecords() { return vk::UnusedBinding(); }
// The spec-constant id of kRecordWorkgroups in shaders/lab_record.glsl.
constexpr uint32_t kRecordWorkgroupsSpecId = 31;

// The CPU side: wall time of `work` in ms (best of `repeats`), and `rows`
// split into one contiguous range per thread over `threads` std::threads.
double WallMs(const std::function<void()>& work, uint32_t repeats = 1);
void ParallelRanges(uint64_t items, uint32_t threads, const std::function<void(uint64_t begin, uint64_t end)>& work);
uint32_t CpuThreads();  // std::thread::hardware_concurrency(), at least 1

// "1 048 576"-style integers and short fixed-point numbers for notes.
std::string Count(uint64_t value);
std::string Fixed(double value, int digits = 1);

// The lessons.
LessonResult RunMatmulLesson(LessonRun& run);
LessonResult RunReductionLesson(LessonRun& run);
LessonResult RunGridLesson(LessonRun& run);
LessonResult RunMemoryLesson(LessonRun& run);
LessonResult RunDivergenceLesson(LessonRun& run);
LessonResult RunCpuVsGpuLesson(LessonRun& run);

}  // namespace ts::lab::detail
