// Occupancy, theoretical: how many workgroups and subgroups of a kernel can be
// resident on one compute unit at once, and what limits it, from a model of
// the device (like NVIDIA's CUDA occupancy calculator, for any vendor).
//
// The device model is filled from what the driver exposes (subgroup size and
// limits from Vulkan; SM/CU counts from VK_NV_shader_sm_builtins and
// VK_AMD_shader_core_properties(2); registers from
// VK_KHR_pipeline_executable_properties) and, for the rest, from a documented
// per-vendor table the user may edit. Every figure carries its source, so the
// UI can print "modelled" beside what the driver did not tell us.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "compute/profile/kernel_table.h"
#include "compute/vk/device_info.h"

namespace ts::profile {

enum class Source { kExposed, kModelled, kUser };
const char* SourceName(Source source);  // "exposed", "modelled", "set by you"

// A number and where it came from.
struct Figure {
  double value = 0;
  Source source = Source::kModelled;
  std::string note;  // where it came from, e.g. "VK_NV_shader_sm_builtins" or "NVIDIA Ampere table"
};

// What one compute unit (NVIDIA SM, AMD CU / WGP, Intel Xe core, a CPU
// thread for software drivers) can hold at once.
//
// Registers are counted as 32-bit registers per lane summed over the unit (an
// NVIDIA SM's 65536; an AMD GCN CU's 4 SIMDs x 256 VGPRs x 64 lanes = 65536),
// so one algorithm serves every vendor: a subgroup needs registers per
// invocation x subgroup size, rounded up to register_granularity, inside one
// of register_partitions (an SM's 4 sub-partitions, a CU's SIMDs).
// A figure whose value is 0 is unknown; a resource figure that is 0
// (registers_per_unit, shared_memory_per_unit, max_workgroups_per_unit) does
// not limit occupancy.
struct DeviceModel {
  std::string vendor;        // "NVIDIA", "AMD", "Intel", "software (CPU)", "unknown"
  std::string architecture;  // the table row used, e.g. "Ampere (GA10x)"
  std::string unit_name = "compute unit";  // "SM", "CU", "Xe-core", "worker thread"
  // A software driver (lavapipe, SwiftShader): each worker thread runs one
  // workgroup at a time, its subgroups one after another, so occupancy is
  // workgroups in flight per thread (always 1 when the workgroup fits) and
  // registers do not limit it.
  bool software = false;
  Figure compute_units;             // SMs / CUs / Xe cores / worker threads
  Figure subgroup_size;             // warp / wavefront / SIMD width
  Figure max_subgroups_per_unit;    // resident warps per SM, waves per CU
  Figure max_workgroups_per_unit;   // resident blocks per SM
  Figure registers_per_unit;        // 32-bit registers per SM / VGPRs per CU (per lane)
  Figure max_registers_per_invocation;
  Figure register_granularity;      // registers are allocated per subgroup in multiples of this
  Figure register_partitions;       // the register file's parts (SM sub-partitions, SIMDs per CU); 1 = one file
  Figure max_workgroup_invocations; // maxComputeWorkGroupInvocations
  Figure shared_memory_per_unit;    // bytes
  Figure shared_memory_per_workgroup_max;  // bytes (maxComputeSharedMemorySize)
  Figure shared_memory_granularity;        // bytes
  Figure shared_memory_reserved_per_workgroup;  // bytes the hardware keeps per block (e.g. 1 KiB on CC 8.x)
  Figure clock_mhz;                 // for FLOPS = units x clock x FLOPs per clock
  Figure fp32_flops_per_clock_per_unit;  // FMA lanes x 2
  // units x clock x FLOPs per clock (GFLOP/s), modelled unless every input was exposed.
  double theoretical_gflops() const;
};

// The model of `device`: exposed figures where the driver gives them, the
// vendor table (with `overrides` applied, marked kUser) for the rest.
DeviceModel ModelDevice(const vk::DeviceInfo& device, const std::vector<DeviceModel>& overrides = {});

// The built-in vendor tables, each row a documented architecture (compute
// units and clock 0 there: they depend on the product, see ModelDevice).
const std::vector<DeviceModel>& VendorTable();

// Every figure of a DeviceModel with its key in the overrides file and a label
// for the UI, in display order.
struct FigureField {
  const char* key;    // e.g. "registers_per_unit"
  const char* label;  // e.g. "registers per unit"
  Figure DeviceModel::*member;
};
const std::vector<FigureField>& DeviceModelFields();

// The user's edited table rows: ${XDG_CONFIG_HOME:-~/.config}/tensorscope/device_model.json.
// Load returns {} when the file is missing; throws ts::Error naming the file and
// field when it is malformed. Save is atomic (a temporary file renamed over the
// old one) and creates the directory.
//
// A row applies to the device whose vendor and architecture it names. Only
// its figures marked Source::kUser are saved and applied (Load marks every
// figure the file gives as kUser and leaves the others 0 / kModelled), so a
// row copied from ModelDevice and edited keeps just the edits. The file:
//   {"version": 1, "rows": [{"vendor": "NVIDIA", "architecture": "Ampere (GA10x)",
//                            "figures": {"clock_mhz": 1800, "compute_units": 82}}]}
// with the keys of DeviceModelFields().
std::vector<DeviceModel> LoadDeviceModelOverrides(const std::filesystem::path& file);
void SaveDeviceModelOverrides(const std::filesystem::path& file, const std::vector<DeviceModel>& overrides);
// ${XDG_CONFIG_HOME:-~/.config}/tensorscope/device_model.json; empty when no home is known.
std::filesystem::path DefaultDeviceModelOverridesFile();

// What one kernel asks of a compute unit.
struct KernelResources {
  uint32_t workgroup_invocations = 64;  // local size x * y * z
  uint32_t shared_memory_bytes = 0;     // per workgroup
  Figure registers_per_invocation;      // exposed (pipeline executable statistics) or modelled
};

enum class Limiter { kWorkgroupSlots, kSubgroupSlots, kRegisters, kSharedMemory, kNone };
const char* LimiterName(Limiter limiter);  // "workgroups per unit", "subgroups per unit", "registers", "shared memory"

struct Occupancy {
  uint32_t subgroups_per_workgroup = 0;
  // Resident workgroups per unit allowed by each resource (UINT32_MAX: no limit).
  uint32_t by_workgroup_slots = 0, by_subgroup_slots = 0, by_registers = 0, by_shared_memory = 0;
  uint32_t active_workgroups_per_unit = 0;  // the minimum of the four
  uint32_t active_subgroups_per_unit = 0;
  double occupancy = 0;                     // active subgroups / max subgroups per unit, 0..1
  Limiter limiter = Limiter::kNone;
  bool modelled = true;                     // some input came from the table, not the driver
  std::string explanation;                  // one or two sentences, for the UI and the CLI
};

// The theoretical occupancy of `kernel` on `model`, by the CUDA occupancy
// calculator's algorithm: subgroups per workgroup rounded up; registers
// allocated per subgroup in multiples of register_granularity, within one
// register partition; shared memory plus the per-workgroup reserve rounded up
// to its granularity; the resident workgroups are the least of the four
// limits and the limiter is the one that gives it (on a tie the slots come
// first: a kernel at full occupancy is limited by the slots, not a resource).
// A kernel that cannot run at all (too many invocations, registers or shared
// memory) gets 0 workgroups and an explanation naming the resource (a
// workgroup over the invocation limit is reported as kSubgroupSlots).
// Registers per invocation of 0 are unknown and do not limit.
Occupancy ComputeOccupancy(const DeviceModel& model, const KernelResources& kernel);

// Registers per invocation to assume when the driver reports none: a modelled
// figure from the kernel family (e.g. register-blocked matmul needs many),
// capped so a workgroup of `workgroup_invocations` fits in 65536 registers
// (a driver compiles for the workgroup size it is given and limits registers
// so the workgroup can run).
Figure ModelledRegisters(const std::string& kernel_family, uint32_t workgroup_invocations);

// Reference GPUs that any device's user may ask "as if on" (the Kernel Lab's
// occupancy lesson, so that a learner on a software driver still sees
// registers and shared memory limit occupancy): rows of VendorTable() for an
// NVIDIA SM of compute capability 8.6 and of 9.0, an AMD RDNA3 compute unit
// and an Intel Xe-HPG Xe-core, each with a product's unit count and clock.
// Every figure is modelled (from the documents VendorTable cites).
struct ReferenceDevice {
  std::string label;  // e.g. "NVIDIA SM, compute capability 8.6 (GeForce RTX 3090)"
  DeviceModel model;
};
const std::vector<ReferenceDevice>& ReferenceDeviceModels();

// The columns of the occupancy table (one line per kernel row).
enum class OccupancyColumn {
  kKernel, kWorkgroup, kRegisters, kWorkgroupsPerUnit, kSubgroupsPerUnit, kOccupancy, kLimiter
};

// The order to list `rows` in the occupancy table: without a column, the order
// the kernels run in a step (each row's first dispatch), which does not change
// while the times do; with one, by that column, ties in step order.
// `occupancies` and `registers` (0: not reported) are per row, same order.
std::vector<size_t> OccupancyOrder(const std::vector<KernelRow>& rows, const std::vector<Occupancy>& occupancies,
                                   const std::vector<double>& registers, std::optional<OccupancyColumn> column,
                                   bool ascending);

}  // namespace ts::profile
