// The Kernel Lab's shared machinery (see lab_internal.h).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <thread>

#include "compute/common/error.h"
#include "compute/lab/lab_internal.h"

namespace ts::lab::detail {

void LessonRun::Progress(const std::string& what, double fraction) const {
  if (options.cancel && options.cancel->load()) throw Error("cancelled");
  if (options.progress) options.progress(what, fraction);
}

void RequireWorkgroup(const vk::DeviceInfo& device, uint32_t x, uint32_t y, const std::string& what) {
  Require(uint64_t(x) * y <= device.max_workgroup_invocations,
          what + ": a workgroup of " + std::to_string(x) + " x " + std::to_string(y) + " = " +
              std::to_string(uint64_t(x) * y) + " invocations is more than '" + device.name + "' allows (" +
              "maxComputeWorkGroupInvocations " + std::to_string(device.max_workgroup_invocations) + ").");
  Require(x <= device.max_workgroup_size[0] && y <= device.max_workgroup_size[1],
          what + ": a workgroup of " + std::to_string(x) + " x " + std::to_string(y) + " is beyond '" + device.name +
              "''s maxComputeWorkGroupSize of " + std::to_string(device.max_workgroup_size[0]) + " x " +
              std::to_string(device.max_workgroup_size[1]) + ".");
}

void RequireSharedMemory(const vk::DeviceInfo& device, uint64_t bytes, const std::string& what) {
  Require(bytes <= device.max_shared_memory_bytes,
          what + " needs " + std::to_string(bytes) + " bytes of shared memory per workgroup; '" + device.name +
              "' allows " + std::to_string(device.max_shared_memory_bytes) + " (maxComputeSharedMemorySize).");
}

void RequireBufferBytes(const vk::DeviceInfo& device, uint64_t bytes, const std::string& what) {
  Require(bytes <= device.max_storage_buffer_range,
          what + " needs a buffer of " + vk::FormatBytes(bytes) + "; '" + device.name + "' binds at most " +
              vk::FormatBytes(device.max_storage_buffer_range) + " (maxStorageBufferRange).");
}

void RequireWorkgroupCount(const vk::DeviceInfo& device, uint64_t x, uint64_t y, const std::string& what) {
  Require(x <= device.max_workgroup_count[0] && y <= device.max_workgroup_count[1],
          what + " needs " + std::to_string(x) + " x " + std::to_string(y) + " workgroups; '" + device.name +
              "' dispatches at most " + std::to_string(device.max_workgroup_count[0]) + " x " +
              std::to_string(device.max_workgroup_count[1]) + " (maxComputeWorkGroupCount).");
}

Variant DescribeVariant(const std::string& name, const std::string& what_changed, const vk::Dispatch& dispatch,
                        const std::map<uint32_t, std::string>& spec_names) {
  Variant v;
  v.name = name;
  v.what_changed = what_changed;
  v.shader = dispatch.pipeline->shader_name();
  for (const auto& [id, value] : dispatch.pipeline->spec()) {
    auto it = spec_names.find(id);
    v.specialization[it != spec_names.end() ? it->second : "constant " + std::to_string(id)] = value;
  }
  for (int d = 0; d < 3; ++d) {
    v.grid[d] = dispatch.workgroups[d];
    v.workgroup[d] = dispatch.pipeline->local_size()[d];
  }
  v.shared_memory_bytes = dispatch.pipeline->shared_memory_bytes();
  v.flops = dispatch.cost.flops;
  v.bytes = dispatch.cost.bytes_read + dispatch.cost.bytes_written;
  for (const vk::ExecutableStatistic& s : dispatch.pipeline->executable_statistics())
    if (s.name == "Registers" || s.name == "VGPRs") v.figures["registers"] = s.value;
  return v;
}

namespace {

void RecordComputeToTransferBarrier(VkCommandBuffer cb) {
  VkMemoryBarrier barrier{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  barrier.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_SHADER_READ_BIT;
  barrier.dstAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
  vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1, &barrier, 0,
                       nullptr, 0, nullptr);
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  size_t n = values.size();
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

}  // namespace

Timing TimeDispatches(const LessonRun& run, const std::vector<vk::Dispatch>& dispatches,
                      const std::function<void(VkCommandBuffer)>& prologue) {
  Require(run.device().timestamp_valid_bits > 0, "The Kernel Lab times kernels with GPU timestamps, which '" +
                                                     run.device().name + "''s compute queue does not have.");
  vk::Sequence sequence(run.context, dispatches);
  auto once = [&] {
    run.context.RunOnce([&](VkCommandBuffer cb) {
      if (prologue) {
        RecordComputeToTransferBarrier(cb);
        prologue(cb);
        vk::RecordTransferToComputeBarrier(cb);
      }
      sequence.Record(cb);
      vk::RecordComputeToHostBarrier(cb);
    });
    std::vector<double> times = sequence.ReadDispatchTimesNs();
    double ns = 0;
    for (double t : times) ns += t;
    return ns * 1e-6;
  };
  const double warm_ms = once();
  // About 3 s per variant: a slow rung of a large size gets fewer runs.
  const uint32_t affordable = warm_ms > 0 ? static_cast<uint32_t>(3000.0 / warm_ms) : run.options.repeats;
  const uint32_t runs = std::clamp<uint32_t>(affordable, 1, std::max(1u, run.options.repeats));
  std::vector<double> times;
  for (uint32_t r = 0; r < runs; ++r) {
    if (run.options.cancel && run.options.cancel->load()) throw Error("cancelled");
    times.push_back(once());
  }
  return {Median(times), runs};
}

void Judge(Variant& v, const Timing& timing, const profile::Ceilings& ceilings) {
  v.ms = timing.ms;
  v.figures["runs"] = timing.runs;
  if (v.ms > 0) {
    v.gflops = v.flops / (v.ms * 1e6);
    v.gbs = v.bytes / (v.ms * 1e6);
  }
  double ceiling = v.judged_against == Ceiling::kFma ? ceilings.fp32_gflops : ceilings.bandwidth_gbs;
  double achieved = v.judged_against == Ceiling::kFma ? v.gflops : v.gbs;
  v.percent_of_ceiling = ceiling > 0 ? 100.0 * achieved / ceiling : 0.0;
}

void SetSpeedups(std::vector<Variant>& variants) {
  for (size_t i = 1; i < variants.size(); ++i)
    variants[i].speedup_over_previous = variants[i].ms > 0 ? variants[i - 1].ms / variants[i].ms : 0.0;
}

void CheckOutput(Variant& v, std::span<const float> got, std::span<const double> want,
                 std::span<const double> tolerance, const std::string& element_name) {
  if (got.size() != want.size()) {
    v.check_passed = false;
    v.check_message = "read " + std::to_string(got.size()) + " elements, expected " + std::to_string(want.size());
    return;
  }
  uint64_t wrong = 0, first = 0;
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    double tol = tolerance.size() == 1 ? tolerance[0] : tolerance[i];
    double error = std::abs(double(got[i]) - want[i]);
    if (!(error <= tol)) {  // NaN fails
      if (wrong++ == 0) first = i;
    } else {
      worst = std::max(worst, tol > 0 ? error / tol : 0.0);
    }
  }
  char text[256];
  if (wrong == 0) {
    std::snprintf(text, sizeof text, "all %s %ss match the double-precision CPU reference (worst error %.0f%% of its tolerance)",
                  Count(got.size()).c_str(), element_name.c_str(), 100 * worst);
    v.check_passed = true;
  } else {
    std::snprintf(text, sizeof text, "%s of %s %ss wrong; the first, %s %llu: expected %.7g, got %.7g",
                  Count(wrong).c_str(), Count(got.size()).c_str(), element_name.c_str(), element_name.c_str(),
                  static_cast<unsigned long long>(first), want[first], double(got[first]));
    v.check_passed = false;
  }
  v.check_message = text;
}

vk::Buffer PoisonedBuffer(vk::Context& context, uint64_t count, const std::string& name) {
  std::vector<float> nan(count, std::numeric_limits<float>::quiet_NaN());
  return FloatBuffer(context, nan, name);
}

vk::Buffer FloatBuffer(vk::Context& context, std::span<const float> values, const std::string& name) {
  vk::Buffer buffer(context, std::max<uint64_t>(16, values.size() * 4), name);
  if (!values.empty()) buffer.UploadVector(values);
  return buffer;
}

std::vector<float> ReadFloats(const vk::Buffer& buffer, uint64_t count) {
  std::vector<float> values(count);
  buffer.DownloadVector(std::span<float>(values));
  return values;
}

std::vector<float> RandomFloats(uint64_t count, uint64_t seed, float low, float high) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> uniform(low, high);
  std::vector<float> values(count);
  for (float& v : values) v = uniform(rng);
  return values;
}

AccessTrace RecordAccesses(const LessonRun& run, vk::Dispatch dispatch, uint32_t record_binding, uint32_t workgroups,
                           uint64_t capacity) {
  vk::SpecConstants spec = dispatch.pipeline->spec();
  spec[kRecordWorkgroupsSpecId] = workgroups;
  dispatch.pipeline = &run.pipelines.Get(dispatch.pipeline->shader_name(), spec);
  if (run.options.record_capacity > 0) capacity = run.options.record_capacity;
  const uint64_t bytes = 16 + capacity * 32;
  RequireBufferBytes(run.device(), bytes, "The instrumented run's record buffer");
  vk::Buffer records(run.context, bytes, "lab access records");
  const uint32_t zero[4] = {0, 0, 0, 0};
  records.UploadVector(std::span<const uint32_t>(zero, 4));
  dispatch.bindings.at(record_binding) = {&records, 0, 0, vk::Access::kReadWrite};
  dispatch.label += " (recording)";
  vk::Sequence sequence(run.context, {dispatch});
  run.context.RunOnce([&](VkCommandBuffer cb) {
    sequence.Record(cb, 0, false);
    vk::RecordComputeToHostBarrier(cb);
  });

  AccessTrace trace;
  trace.workgroups_recorded = std::min<uint64_t>(workgroups, uint64_t(dispatch.workgroups[0]) *
                                                                 dispatch.workgroups[1] * dispatch.workgroups[2]);
  trace.capacity = capacity;
  uint32_t header[4];
  records.DownloadVector(std::span<uint32_t>(header, 4));
  trace.wanted = header[0];
  const uint64_t kept = std::min<uint64_t>(trace.wanted, capacity);
  std::vector<uint32_t> words(kept * 8);
  if (kept) records.DownloadVector(std::span<uint32_t>(words), 16);
  trace.records.resize(kept);
  for (uint64_t i = 0; i < kept; ++i) {
    const uint32_t* w = &words[i * 8];
    trace.records[i] = {w[0], w[1], w[2], w[3], w[4], static_cast<Access>(w[5] & 3u), w[6], w[7]};
  }
  return trace;
}

double WallMs(const std::function<void()>& work, uint32_t repeats) {
  double best = std::numeric_limits<double>::infinity();
  for (uint32_t r = 0; r < std::max(1u, repeats); ++r) {
    auto start = std::chrono::steady_clock::now();
    work();
    best = std::min(best, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  return best;
}

void ParallelRanges(uint64_t items, uint32_t threads, const std::function<void(uint64_t, uint64_t)>& work) {
  threads = std::max<uint32_t>(1, std::min<uint64_t>(threads, std::max<uint64_t>(items, 1)));
  if (threads == 1) {
    work(0, items);
    return;
  }
  std::vector<std::thread> pool;
  for (uint32_t t = 0; t < threads; ++t)
    pool.emplace_back(work, items * t / threads, items * (t + 1) / threads);
  for (std::thread& thread : pool) thread.join();
}

uint32_t CpuThreads() { return std::max(1u, std::thread::hardware_concurrency()); }

std::string Count(uint64_t value) {
  std::string digits = std::to_string(value), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ' ';
    out += digits[i];
  }
  return out;
}

std::string Fixed(double value, int digits) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", digits, value);
  return text;
}

}  // namespace ts::lab::detail
