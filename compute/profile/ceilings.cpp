#include "compute/profile/ceilings.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <sstream>
#include <system_error>
#include <vector>

#include "compute/common/json_cache.h"
#include "compute/common/error.h"

#include "compute/kernels/copy.h"
#include "compute/kernels/dispatch_helpers.h"
#include "compute/nn/model.h"
#include "compute/vk/buffer.h"
#include "compute/vk/sequence.h"
#include "shaders/fma_chain.h"

namespace ts::profile {
namespace {

using Clock = std::chrono::steady_clock;

constexpr uint32_t kFmaIterations = 1024;
constexpr uint32_t kBatchedDispatches = 100;

double SecondsSince(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// The wall time of submitting an empty command buffer and waiting for it,
// best of `runs`, in ns: what every submission costs beyond its work.
double BestEmptySubmitNs(vk::Context& context, uint32_t runs) {
  double best = INFINITY;
  for (uint32_t r = 0; r < runs; ++r) {
    const auto start = Clock::now();
    context.RunOnce([](VkCommandBuffer) {});
    best = std::min(best, SecondsSince(start) * 1e9);
  }
  return best;
}

// A kernel's time, and whether it came from the wall clock instead of timestamps.
struct KernelTime {
  double ns = 0;
  bool wall_clock = false;
};

// Below this much wall time beyond an empty submission, a kernel is too short
// for the host clock to judge its timestamps (GPUs run the ceilings' kernels
// in tens of microseconds; CPU drivers in milliseconds).
constexpr double kJudgeableWallNs = 200e3;

// The time of all of `sequence`'s dispatches: the GPU timestamps, best of
// `repeats` runs, checked against the wall time of the same submissions.
// Timestamps can be wrong without any error: a driver may read its clock
// later than the stage it was asked for (lavapipe did, beside a window; see
// RecordTimestampFence in compute/vk/sequence.cpp). A kernel that takes the
// wall clock long enough to judge must show at least a fifth of that time on
// the GPU clock beyond an empty submission, and no kernel may take longer than its
// own submission; otherwise the wall time (less the empty submission's, where
// that leaves a meaningful figure) is the kernel's time.
KernelTime CheckedKernelNs(vk::Context& context, const vk::Sequence& sequence, uint32_t repeats, double empty_submit_ns) {
  double best_gpu = INFINITY, best_wall = INFINITY;
  for (uint32_t r = 0; r < repeats; ++r) {
    const auto start = Clock::now();
    context.RunOnce([&](VkCommandBuffer commands) { sequence.Record(commands); });
    best_wall = std::min(best_wall, SecondsSince(start) * 1e9);
    std::vector<double> times = sequence.ReadDispatchTimesNs();
    double total = 0;
    for (double t : times) total += t;
    best_gpu = std::min(best_gpu, total);
  }
  const bool no_timestamps = !sequence.has_timestamps() || !(best_gpu > 0);
  if (!no_timestamps && GpuTimePlausible(best_gpu, best_wall, empty_submit_ns)) return {best_gpu, false};
  const double work_wall = best_wall - empty_submit_ns;
  return {work_wall > 0.1 * best_wall ? work_wall : best_wall, true};
}

vk::Dispatch FmaChainDispatch(vk::PipelineCache& pipelines, const vk::Buffer& result, uint32_t invocations) {
  const vk::DeviceInfo& info = pipelines.context().info();
  const uint32_t group_size = kernels::LimitedGroupSize(info, 64);
  vk::Dispatch d;
  d.kernel = "fma_chain";
  d.label = "compute ceiling: FMA chains";
  d.pipeline = &pipelines.Get("fma_chain", {{0, group_size}, {1, kFmaIterations}});
  d.bindings = {kernels::WholeBuffer(result).Bind(vk::Access::kWrite)};
  d.SetPushConstants(gpu::FmaChainParams{0.999999f, 1e-6f, invocations, 0});
  d.workgroups = {vk::DivideRoundUp(invocations, group_size), 1, 1};
  d.cost.flops = double(invocations) * kFmaIterations * gpu::FMA_CHAINS * 4 * 2;
  d.cost.bytes_written = 16.0 * invocations;
  return d;
}

// What invocation 0's chains sum to, on the CPU in double (the device rounds each step to float).
double ExpectedFmaSum() {
  double sum = 0;
  for (uint32_t k = 0; k < gpu::FMA_CHAINS; ++k)
    for (double lane : {0.0, 0.25, 0.5, 0.75}) {
      double x = k + lane;
      for (uint32_t i = 0; i < kFmaIterations; ++i) x = x * double(0.999999f) + double(1e-6f);
      sum += x;
    }
  return sum;
}

}  // namespace

bool GpuTimePlausible(double gpu_ns, double wall_ns, double empty_submit_ns) {
  const double work_wall = wall_ns - empty_submit_ns;
  const bool too_short = work_wall > kJudgeableWallNs && gpu_ns < 0.2 * work_wall;
  const bool too_long = gpu_ns > 1.1 * wall_ns + 50e3;  // an honest clock cannot outlast its submission
  return !too_short && !too_long;
}

Ceilings MeasureCeilings(vk::Context& context, vk::PipelineCache& pipelines, const CeilingOptions& options) {
  const vk::DeviceInfo& info = context.info();
  const uint32_t repeats = std::max(1u, options.repeats);
  Ceilings c;

  // Warm up (the first submission pays for lazy set-up in some drivers), then
  // the floor every submission pays, against which kernel timestamps are checked.
  BestEmptySubmitNs(context, 2);
  const double empty_ns = BestEmptySubmitNs(context, 10);

  // Memory bandwidth: a copy large enough to leave the caches, in float4s.
  c.copy_bytes = std::min<uint64_t>(options.copy_bytes, info.max_storage_buffer_range) / 16 * 16;
  {
    vk::Buffer source(context, c.copy_bytes, "bandwidth ceiling source"), target(context, c.copy_bytes, "bandwidth ceiling target");
    vk::Sequence copy(context, {kernels::CopyDispatch(pipelines, kernels::WholeBuffer(source), kernels::WholeBuffer(target))});
    const KernelTime time = CheckedKernelNs(context, copy, repeats, empty_ns);
    c.bandwidth_gbs = 2.0 * double(c.copy_bytes) / time.ns;
    c.wall_clock_fallback |= time.wall_clock;
  }

  // fp32 compute: enough invocations to fill any device several times over.
  {
    const uint32_t invocations = 1u << 16;
    vk::Buffer result(context, 16ull * invocations, "compute ceiling result");
    vk::Dispatch fma = FmaChainDispatch(pipelines, result, invocations);
    const double flops = fma.cost.flops;
    vk::Sequence chains(context, {fma});
    const KernelTime time = CheckedKernelNs(context, chains, repeats, empty_ns);
    c.fp32_gflops = flops / time.ns;
    c.wall_clock_fallback |= time.wall_clock;
    std::vector<float> first(4);
    result.DownloadVector(std::span<float>(first));
    const double got = double(first[0]) + first[1] + first[2] + first[3], expected = ExpectedFmaSum();
    c.fma_result_error = std::abs(got - expected) / std::abs(expected);
  }

  // Transfers through vk::Buffer's staging path, wall time (what an upload costs the app).
  {
    const uint64_t bytes = std::min<uint64_t>(options.transfer_bytes, info.max_storage_buffer_range);
    std::vector<std::byte> host(bytes, std::byte{1});
    vk::Buffer device(context, bytes, "transfer ceiling");
    double best_up = INFINITY, best_down = INFINITY;
    for (uint32_t r = 0; r < repeats; ++r) {
      auto start = Clock::now();
      device.Upload(host);
      best_up = std::min(best_up, SecondsSince(start));
      start = Clock::now();
      device.Download(host);
      best_down = std::min(best_down, SecondsSince(start));
    }
    c.upload_gbs = double(bytes) / best_up / 1e9;
    c.download_gbs = double(bytes) / best_down / 1e9;
  }

  // Dispatch overhead: median-free best-of, like the rest (the floor the app pays).
  {
    vk::Buffer tiny_source(context, 64, "overhead source"), tiny_target(context, 64, "overhead target");
    const vk::Dispatch tiny = kernels::CopyDispatch(pipelines, kernels::WholeBuffer(tiny_source),
                                                    kernels::WholeBuffer(tiny_target), 4);
    const uint32_t runs = 20 * repeats;
    double best_empty = INFINITY, best_single = INFINITY;
    vk::Sequence single(context, {tiny});
    for (uint32_t r = 0; r < runs; ++r) {
      auto start = Clock::now();
      context.RunOnce([](VkCommandBuffer) {});
      best_empty = std::min(best_empty, SecondsSince(start));
      start = Clock::now();
      context.RunOnce([&](VkCommandBuffer commands) { single.Record(commands); });
      best_single = std::min(best_single, SecondsSince(start));
    }
    c.empty_submit_us = best_empty * 1e6;
    c.single_dispatch_us = best_single * 1e6;
    // Each copy writes what the next one reads: a barrier between every pair, as in a real step.
    std::vector<vk::Dispatch> chain;
    for (uint32_t i = 0; i < kBatchedDispatches; ++i)
      chain.push_back(i % 2 == 0 ? tiny
                                 : kernels::CopyDispatch(pipelines, kernels::WholeBuffer(tiny_target),
                                                         kernels::WholeBuffer(tiny_source), 4));
    vk::Sequence batch(context, std::move(chain));
    const KernelTime time = CheckedKernelNs(context, batch, repeats, empty_ns);
    c.batched_dispatch_us = time.ns / kBatchedDispatches / 1e3;
    c.wall_clock_fallback |= time.wall_clock;
  }
  return c;
}

std::string FormatCeilings(const Ceilings& c) {
  char text[1600];
  std::snprintf(
      text, sizeof text,
      "Measured ceilings (best of several runs):\n"
      "  memory bandwidth   %8.2f GB/s   = (bytes read + bytes written) / time, copying %.0f MiB\n"
      "  fp32 compute       %8.2f GFLOP/s = FLOPs / time, independent FMA chains (2 FLOPs per FMA)\n"
      "                                      (peak = units x clock x FLOPs per clock; efficiency = achieved / peak)\n"
      "  upload (host->dev) %8.2f GB/s   transfer time = bytes / bandwidth\n"
      "  download (dev->host) %6.2f GB/s\n"
      "  empty submission   %8.1f us     submit + wait, nothing in it\n"
      "  one tiny dispatch  %8.1f us     record + submit + wait\n"
      "  batched dispatch   %8.2f us     each of 100 dependent tiny dispatches in one command buffer\n"
      "  (FMA result check: relative error %.1e against the CPU)\n",
      c.bandwidth_gbs, double(c.copy_bytes) / (1 << 20), c.fp32_gflops, c.upload_gbs, c.download_gbs,
      c.empty_submit_us, c.single_dispatch_us, c.batched_dispatch_us, c.fma_result_error);
  std::string result = text;
  if (c.wall_clock_fallback)
    result += "  (the device's timestamps disagreed with the wall clock, so kernel times are wall times\n"
              "   less an empty submission's)\n";
  return result;
}

namespace {

// The fields of a Ceilings, by JSON name, so writing and reading cannot drift apart.
struct CeilingField {
  const char* name;
  double Ceilings::*member;
};
constexpr CeilingField kCeilingFields[] = {
    {"bandwidth_gbs", &Ceilings::bandwidth_gbs},
    {"fp32_gflops", &Ceilings::fp32_gflops},
    {"fma_result_error", &Ceilings::fma_result_error},
    {"upload_gbs", &Ceilings::upload_gbs},
    {"download_gbs", &Ceilings::download_gbs},
    {"empty_submit_us", &Ceilings::empty_submit_us},
    {"single_dispatch_us", &Ceilings::single_dispatch_us},
    {"batched_dispatch_us", &Ceilings::batched_dispatch_us},
};

}  // namespace

std::string NowIso8601Utc() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

nlohmann::json CeilingsJson(const Ceilings& ceilings) {
  nlohmann::json json = nlohmann::json::object();
  for (const CeilingField& field : kCeilingFields) json[field.name] = ceilings.*field.member;
  json["copy_bytes"] = ceilings.copy_bytes;
  json["wall_clock_fallback"] = ceilings.wall_clock_fallback;
  return json;
}

Ceilings CeilingsFromJson(const nlohmann::json& json) {
  if (!json.is_object()) throw Error(std::string("ceilings: expected a JSON object, found ") + json.type_name() + ".");
  Ceilings ceilings;
  for (const CeilingField& field : kCeilingFields) {
    auto it = json.find(field.name);
    if (it == json.end()) throw Error(std::string("ceilings: the field \"") + field.name + "\" is missing.");
    if (!it->is_number())
      throw Error(std::string("ceilings: \"") + field.name + "\" should be a number, found " + it->type_name() + ".");
    ceilings.*field.member = it->get<double>();
  }
  auto copy = json.find("copy_bytes");
  if (copy == json.end()) throw Error("ceilings: the field \"copy_bytes\" is missing.");
  if (!copy->is_number_unsigned())
    throw Error(std::string("ceilings: \"copy_bytes\" should be a non-negative integer, found ") + copy->dump() + ".");
  ceilings.copy_bytes = copy->get<uint64_t>();
  auto fallback = json.find("wall_clock_fallback");
  if (fallback == json.end()) throw Error("ceilings: the field \"wall_clock_fallback\" is missing.");
  if (!fallback->is_boolean())
    throw Error(std::string("ceilings: \"wall_clock_fallback\" should be true or false, found ") + fallback->dump() + ".");
  ceilings.wall_clock_fallback = fallback->get<bool>();
  return ceilings;
}

std::string CeilingsCacheKey(const vk::DeviceInfo& device) {
  return device.name + " | " + device.driver_name + " " + device.driver_info + " | Vulkan " +
         vk::VersionString(device.api_version);
}

std::filesystem::path DefaultCeilingsCacheFile() {
  std::filesystem::path root;
  if (const char* cache = std::getenv("XDG_CACHE_HOME"); cache && *cache) {
    root = cache;
  } else if (const char* home = std::getenv("HOME"); home && *home) {
    root = std::filesystem::path(home) / ".cache";
  } else {
    return {};
  }
  return root / "tensorscope" / "ceilings.json";
}

std::optional<CachedCeilings> LoadCachedCeilings(const vk::DeviceInfo& device, const std::filesystem::path& cache_file) {
  if (cache_file.empty()) return std::nullopt;
  const nlohmann::json cache = ReadJsonCacheObject(cache_file);
  const std::string key = CeilingsCacheKey(device);
  if (!cache.contains(key)) return std::nullopt;
  try {
    const nlohmann::json& entry = cache[key];
    CachedCeilings cached;
    cached.ceilings = CeilingsFromJson(entry);
    cached.measured_at = entry.at("measured_at").get<std::string>();
    cached.from_cache = true;
    return cached;
  } catch (const std::exception&) {
    return std::nullopt;  // a damaged entry counts as none
  }
}

CachedCeilings LoadOrMeasureCeilings(vk::Context& context, vk::PipelineCache& pipelines, bool remeasure,
                                     const std::filesystem::path& cache_file, const CeilingOptions& options) {
  const std::string key = CeilingsCacheKey(context.info());
  nlohmann::json cache = cache_file.empty() ? nlohmann::json::object() : ReadJsonCacheObject(cache_file);
  if (!remeasure)
    if (std::optional<CachedCeilings> cached = LoadCachedCeilings(context.info(), cache_file)) return *cached;
  CachedCeilings measured;
  measured.ceilings = MeasureCeilings(context, pipelines, options);
  measured.measured_at = NowIso8601Utc();
  if (!cache_file.empty()) {
    nlohmann::json entry = CeilingsJson(measured.ceilings);
    entry["measured_at"] = measured.measured_at;
    cache[key] = std::move(entry);
    try {
      std::error_code ignored;
      std::filesystem::create_directories(cache_file.parent_path(), ignored);
      nn::WriteFileAtomically(cache_file.string(), cache.dump(2) + "\n");
    } catch (const Error&) {
      // A cache that cannot be written only costs a measurement next time.
    }
  }
  return measured;
}

}  // namespace ts::profile
