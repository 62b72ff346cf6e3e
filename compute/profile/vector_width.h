// lavapipe's vector width: 256 bits by default (subgroups of 8), 512 on a CPU
// with AVX-512 when LP_NATIVE_VECTOR_WIDTH=512 is in the environment before
// the driver loads (subgroups of 16, a higher FMA ceiling, but slower
// per-lane loads). Which pays depends on the CPU and the kernels, so the app
// measures both on first start (app/vector_width.cpp runs the probe below in a
// child process per width) and caches the choice beside the ceilings.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "compute/vk/context.h"
#include "compute/vk/pipeline.h"

namespace ts::profile {

// How this process's width was decided; shown by `tensorscope devices` and
// the window's Device tab.
struct VectorWidthChoice {
  uint32_t bits = 0;  // 0: left to the driver (its default, 256)
  enum class Source {
    kDriverDefault,  // no AVX-512, no lavapipe, the probe failed or was not run
    kUser,           // LP_NATIVE_VECTOR_WIDTH was set by the user
    kMeasured,       // measured just now (first start on this CPU)
    kCached,         // measured on an earlier start
  } source = Source::kDriverDefault;
  double probe_us_256 = 0, probe_us_512 = 0;  // the probe's time at each width (kMeasured, kCached)
  std::string measured_at;                    // ISO 8601 UTC (kMeasured, kCached)
  std::string note;                           // why the driver default was kept, when it was
  // One line for people, e.g. "512 bits, measured on first start (probe 1.93 ms at 512 bits,
  // 2.61 ms at 256)".
  std::string Describe() const;
};

// The choice this process made (RecordVectorWidthChoice), or the driver
// default when none was recorded (tests, other programs).
VectorWidthChoice CurrentVectorWidthChoice();
void RecordVectorWidthChoice(const VectorWidthChoice& choice);

// The probe's workload, what a training step spends its time on: the
// 784-128-10 MLP's three largest GEMMs at batch 64 (forward X W, dW = X^T dZ,
// dX = dZ W^T, the default tiling), an Adam step over its 101,770 parameters,
// and the seed CNN's second convolution at batch 8 (forward, backward data,
// backward filter), each run 8 times in one submission after a warm-up;
// returns the sum of their median GPU times, in microseconds, best of 3
// rounds. A few seconds of pipeline compilation on lavapipe, then tens of
// milliseconds. Throws ts::Error when the device has no timestamps.
double MeasureVectorWidthProbe(vk::Context& context, vk::PipelineCache& pipelines);

// The cache entry's key, from the CPU's model name: the choice is made before
// any driver loads, so it cannot be keyed by a device (whose key names the
// width). `tensorscope bench --ceilings --remeasure` measures it again.
std::string VectorWidthCacheKey(const std::string& cpu_model);

// The cached choice for `key` in `cache_file` (the ceilings cache), or none
// (absent, damaged or unreadable).
std::optional<VectorWidthChoice> LoadVectorWidthChoice(const std::filesystem::path& cache_file,
                                                       const std::string& key);
// Stores `choice` (a measured one) under `key`, atomically; a cache that
// cannot be written is ignored (the probe runs again next start).
void StoreVectorWidthChoice(const std::filesystem::path& cache_file, const std::string& key,
                            const VectorWidthChoice& choice);

}  // namespace ts::profile
