// The device's measured ceilings: what the roofline and the "% of peak"
// figures are relative to. Each is a micro-benchmark run on the device itself
// (best of several runs: a ceiling is what the device can do, not what it did
// on a noisy moment).
//   memory bandwidth = bytes read + written by a large copy kernel / its time
//   fp32 FLOP/s      = FLOPs of an FMA-chain kernel / its time
//   transfers        = bytes / time of an upload or download through staging
//   dispatch overhead: an empty submission, one tiny dispatch alone, and each
//                      of many tiny dispatches recorded into one command buffer
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "compute/vk/context.h"
#include "compute/vk/pipeline.h"

namespace ts::profile {

struct CeilingOptions {
  uint64_t copy_bytes = 64ull << 20;  // per buffer; capped at maxStorageBufferRange
  uint64_t transfer_bytes = 32ull << 20;
  uint32_t repeats = 5;               // best of
};

struct Ceilings {
  double bandwidth_gbs = 0;         // device memory: copy kernel, (read + written) / GPU time
  uint64_t copy_bytes = 0;          // bytes each copy read (and wrote)
  double fp32_gflops = 0;           // FMA chains, GPU time
  double fma_result_error = 0;      // relative error of the chain's result against the CPU (a sanity check)
  double upload_gbs = 0;            // host -> device, wall time
  double download_gbs = 0;          // device -> host, wall time
  double empty_submit_us = 0;       // submit an empty command buffer and wait, wall
  double single_dispatch_us = 0;    // record + submit + wait one tiny dispatch, wall
  double batched_dispatch_us = 0;   // each of 100 tiny dependent dispatches in one command buffer, GPU time
  // True when the device's timestamps were found implausible for the copy or
  // FMA kernel (GPU time far below, or above, the wall time of its own
  // submission minus an empty submission's) and that wall time was used for
  // its ceiling instead. Honest timestamps leave it false.
  bool wall_clock_fallback = false;
};

// Runs the micro-benchmarks on `context`'s device (a few seconds on lavapipe).
// The kernels are timed with GPU timestamps, each checked against the wall
// time of its submission (see Ceilings::wall_clock_fallback).
Ceilings MeasureCeilings(vk::Context& context, vk::PipelineCache& pipelines, const CeilingOptions& options = {});

// The figures with the formulas they come from, for people (several lines).
std::string FormatCeilings(const Ceilings& ceilings);

// Whether a kernel's GPU time (its timestamps, ns) is believable against the
// wall time of its submission (ns) and an empty submission's (ns): a kernel
// taking the wall clock long enough to judge (200 us beyond an empty
// submission) must show at least a fifth of that on the GPU clock (the failure
// this catches is a thousandfold; a loaded host stretches wall time twofold),
// and no kernel may outlast its own submission. MeasureCeilings uses the wall
// time otherwise.
bool GpuTimePlausible(double gpu_ns, double wall_ns, double empty_submit_ns);

nlohmann::json CeilingsJson(const Ceilings& ceilings);
// Now, as the caches record it: ISO 8601 UTC to the second.
std::string NowIso8601Utc();
// Throws ts::Error naming the missing or mistyped field. An entry written
// before "wall_clock_fallback" existed lacks it and so is measured over by
// LoadOrMeasureCeilings (such entries may hold figures from timestamps that
// were read late, e.g. lavapipe's beside a window).
Ceilings CeilingsFromJson(const nlohmann::json& json);

// Ceilings are measured once per device and driver and cached on disk:
// ${XDG_CACHE_HOME:-~/.cache}/tensorscope/ceilings.json holds one entry per
// device key (name, driver, driver info, API version), with the date measured.
std::string CeilingsCacheKey(const vk::DeviceInfo& device);
std::filesystem::path DefaultCeilingsCacheFile();  // empty when no home or cache directory is known

struct CachedCeilings {
  Ceilings ceilings;
  std::string measured_at;  // ISO 8601 UTC
  bool from_cache = false;  // false: measured just now
};

// The cached ceilings of `device` without measuring; nullopt when none are cached.
std::optional<CachedCeilings> LoadCachedCeilings(const vk::DeviceInfo& device,
                                                 const std::filesystem::path& cache_file = DefaultCeilingsCacheFile());

// The cached ceilings of `context`'s device, or measures and caches them
// (atomically; a cache that cannot be written is ignored). `remeasure` always
// measures. A damaged cache file is measured over, not an error.
CachedCeilings LoadOrMeasureCeilings(vk::Context& context, vk::PipelineCache& pipelines, bool remeasure,
                                     const std::filesystem::path& cache_file = DefaultCeilingsCacheFile(),
                                     const CeilingOptions& options = {});

}  // namespace ts::profile
