// A per-device autotuner for the matrix multiply.
//
// Each matmul variant (compute/kernels/matmul.h) at each tiling is fastest on
// some device and shape, and which one is cannot be known without running it:
// shared-memory tiles win on GPUs and lose on lavapipe (see the design notes).
// TuneMatmul runs a small set of candidates on the actual device for one shape
// (scratch buffers, random data), checks each against a double-precision CPU
// reference first, measures the correct ones with GPU timestamps and picks the
// fastest. Results are cached in memory and on disk
// (${XDG_CACHE_HOME:-~/.cache}/tensorscope/autotune.json), keyed by device,
// driver and API version and by the shape, so a shape costs time once per device.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "compute/kernels/matmul.h"
#include "compute/vk/context.h"
#include "compute/vk/pipeline.h"

namespace ts::kernels {

// One kernel configuration the tuner may choose.
struct MatmulCandidate {
  MatmulVariant variant = MatmulVariant::kRegisterBlocked;
  MatmulTiling tiling;  // fully resolved (every field non-zero), within the device's limits
  // e.g. "register-blocked 32x4 (8x1)", "shared-tiled 4x4 (16x16) k16":
  // outputs per invocation, then invocations per workgroup;
  // "cooperative-matrix 32x32 (2x2 subgroups) k32": outputs per subgroup.
  std::string name() const;
  bool operator==(const MatmulCandidate& other) const;
};

// "register-blocked", "shared-tiled" or "cooperative-matrix".
const char* MatmulVariantName(MatmulVariant variant);

// The shape of one matmul as the tuner sees it (no buffers).
struct MatmulShape {
  uint32_t m = 0, n = 0, k = 0;
  bool transpose_a = false, transpose_b = false;
  // Mixed precision: A and B fp16 (matmul_f16.comp), C fp16 too unless
  // half_c is false (a parameter gradient). Tuned apart from fp32.
  bool half = false, half_c = true;
  std::string key() const;  // e.g. "64x128x784 A B^T", "64x128x784 A B fp16"
};

// The candidates worth measuring on `device` for `shape`: a few register-blocked
// tilings, one or two shared-tiled ones and, for fp16 shapes on a device with
// DeviceInfo::cooperative_matrix_fp16, two cooperative-matrix ones, each
// resolved by ChooseMatmulTiling (so within the device's workgroup and
// shared-memory limits), without
// duplicates. The device's default (DefaultMatmulVariant at its default tiling)
// is always the first.
std::vector<MatmulCandidate> MatmulCandidates(const vk::DeviceInfo& device, const MatmulShape& shape);

// What the tuner found about one candidate.
struct MatmulCandidateResult {
  MatmulCandidate candidate;
  bool correct = false;      // matched the CPU reference (false: see rejected)
  std::string rejected;      // why it was not considered ("" when it was)
  double median_ns = 0;      // median GPU time of the measured runs; 0 when not measured
  uint32_t runs = 0;         // timed runs (fewer when it was far slower than the best)
};

struct MatmulTuneResult {
  MatmulShape shape;
  MatmulCandidate chosen;
  std::vector<MatmulCandidateResult> candidates;  // in MatmulCandidates order
  bool from_cache = false;   // read from the memory or disk cache: nothing ran
  bool measured = false;     // false when the device cannot time dispatches (chosen = the default)
};

// ${XDG_CACHE_HOME:-$HOME/.cache}/tensorscope/autotune.json; empty when neither is set.
std::filesystem::path DefaultAutotuneCacheFile();

struct MatmulTuneOptions {
  // The disk cache; empty: none (the process-wide memory cache still applies
  // unless use_cache is false).
  std::filesystem::path cache_file = DefaultAutotuneCacheFile();
  bool use_cache = true;      // false: measure again (and overwrite the cached entry)
  uint32_t repeats = 3;       // timed runs per candidate after one warm-up run
  // A candidate whose first timed run is this many times slower than the best
  // so far gets no further runs.
  double give_up_factor = 3.0;
};

// The disk cache's key for a device: name, driver and API version.
std::string AutotuneDeviceKey(const vk::DeviceInfo& device);

// Tunes one shape (see the file comment). Runs on the calling thread and
// submits work to the context's queue (never call it on a UI thread). A
// damaged or unreadable cache file is ignored and rewritten; a cache that
// cannot be written only costs a measurement next time. Throws ts::Error when
// no candidate is correct (a kernel bug), listing each rejection.
MatmulTuneResult TuneMatmul(vk::Context& context, vk::PipelineCache& pipelines, const MatmulShape& shape,
                            const MatmulTuneOptions& options = {});

// Candidate runs (warm-up and timed) TuneMatmul has submitted in this process;
// a shape served from a cache adds none.
uint64_t MatmulTuneRunCount();
// Forgets the process-wide memory cache (tests; the disk cache stays).
void ClearMatmulTuneMemoryCache();

}  // namespace ts::kernels
