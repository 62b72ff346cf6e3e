// The per-kernel table: for each kernel of a training step, its layer and
// pass, calls per step, time and share of the step, declared FLOPs and bytes,
// achieved GFLOP/s and GB/s against the measured ceilings, arithmetic
// intensity and the roofline's verdict (memory- or compute-bound), dispatch
// geometry, shared memory, and the invocation count cross-checked with the
// pipeline-statistics query. The GUI's table and `tensorscope bench --model`
// print the same rows.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "compute/nn/model.h"
#include "compute/nn/trainer.h"
#include "compute/profile/ceilings.h"
#include "compute/vk/device_info.h"

namespace ts::profile {

// The roofline of a device: attainable GFLOP/s = min(peak compute, intensity x peak bandwidth).
struct Roofline {
  double peak_gflops = 0, peak_gbs = 0;
  double ridge_intensity() const;                  // FLOPs per byte where the two ceilings meet
  double attainable_gflops(double intensity) const;
};

enum class Bound { kMemory, kCompute, kUnknown };
const char* BoundName(Bound bound);  // "memory", "compute", "?"

// The kernel variant one dispatch runs and why (matmul dispatches: see
// kernels/autotune.h): "default", "forced" or "autotuned", and when autotuned
// every correct candidate's measured median GPU time.
struct KernelVariant {
  std::string label;    // the dispatch, e.g. "dense_1 forward: Z = X W"
  std::string variant;  // e.g. "register_blocked 32x4"
  std::string how;
  std::string not_applied;  // a forced variant this kernel does not have, and why ("" when none)
  std::vector<std::pair<std::string, double>> alternatives_ns;
};

// One row: the dispatches of a step that run the same shader for the same
// layer and pass (e.g. a bias gradient's reduce and combine), grouped.
struct KernelRow {
  std::vector<size_t> dispatches;   // indices into the step's dispatches
  std::string kernel;               // kernel family / shader
  std::string label;                // the first dispatch's label
  int layer = -1;                   // index into ModelDesc::layers, -1 for none
  std::string layer_name;           // "dense_1", "" for none
  nn::Pass pass = nn::Pass::kForward;
  uint32_t calls_per_step = 0;
  double time_ns = 0;               // per step (sum over calls)
  double share = 0;                 // of the step's GPU time, 0..1
  double flops = 0, bytes = 0;      // declared, per step (bytes read + written)
  double gflops = 0, gbs = 0;       // achieved
  double percent_peak_flops = 0, percent_peak_bandwidth = 0;  // 0 when no ceilings
  double intensity = 0;             // FLOPs per byte
  Bound bound = Bound::kUnknown;    // from the roofline's ridge
  std::array<uint32_t, 3> local_size{}, workgroups{};  // of the first call
  uint64_t invocations = 0;         // declared: workgroups x local size, summed over calls
  uint32_t subgroups_per_workgroup = 0;
  uint32_t shared_memory_bytes = 0; // per workgroup (of the first call)
  std::optional<uint64_t> measured_invocations;  // pipeline statistics, summed over calls
  bool invocation_mismatch = false; // measured != declared
  std::vector<KernelVariant> variants;  // of the grouped dispatches that report one
};

// Builds the rows from the step's dispatches and their GPU times (ns, same
// order). `measured_invocations` may be empty (no pipeline statistics).
// `ceilings` may be null (then no % of peak and no bound).
std::vector<KernelRow> BuildKernelTable(const std::vector<nn::DispatchInfo>& dispatches,
                                        const std::vector<double>& dispatch_ns, const nn::ModelDesc* model,
                                        const Ceilings* ceilings, const vk::DeviceInfo& device,
                                        const std::vector<uint64_t>& measured_invocations = {});

// What makes a row unique in a step: the rows group dispatches by kernel
// family, layer and pass. A selection kept as a key (not a row index) stays on
// its kernel when the rows are rebuilt or re-sorted.
struct KernelRowKey {
  std::string kernel;
  int layer = -1;
  nn::Pass pass = nn::Pass::kForward;
  bool operator==(const KernelRowKey&) const = default;
};
KernelRowKey KeyOf(const KernelRow& row);
// "matmul/3/forward": the key as text (for widget ids and test hooks).
std::string KeyText(const KernelRowKey& key);
// The index of the row with `key` in `rows`; nullopt when no row has it (e.g.
// the model changed and the kernel is gone).
std::optional<size_t> FindRow(const std::vector<KernelRow>& rows, const KernelRowKey& key);

enum class KernelColumn {
  kKernel, kLayer, kPass, kCalls, kTime, kShare, kFlops, kBytes, kGflops, kGbs, kPercentPeakFlops,
  kPercentPeakBandwidth, kIntensity, kBound, kWorkgroupSize, kWorkgroups, kInvocations, kSubgroups, kSharedMemory
};
void SortKernelTable(std::vector<KernelRow>& rows, KernelColumn column, bool ascending);

// A fixed-width text table (one line a row, a header line), then the kernel
// variants chosen and their measured alternatives, for the CLI.
std::string FormatKernelTable(const std::vector<KernelRow>& rows);
nlohmann::json KernelTableJson(const std::vector<KernelRow>& rows);

}  // namespace ts::profile
