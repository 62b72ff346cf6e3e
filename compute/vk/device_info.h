// What a physical device is and what it can do: the facts `tensorscope devices`
// prints and the limits every kernel and allocation must respect.
#pragma once

#include <vulkan/vulkan.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace ts::vk {

struct MemoryHeapInfo {
  uint64_t size_bytes = 0;
  bool device_local = false;
};

struct MemoryTypeInfo {
  uint32_t heap = 0;
  VkMemoryPropertyFlags flags = 0;  // device-local, host-visible, host-coherent, host-cached, ...
};

// Core counts some vendors expose through extensions; 0 where not exposed.
// The occupancy model (compute/profile/occupancy.h) fills the rest from its
// per-vendor table and marks those figures as modelled.
struct ExposedCoreProperties {
  // VK_NV_shader_sm_builtins
  uint32_t nv_sm_count = 0;
  uint32_t nv_warps_per_sm = 0;
  // VK_AMD_shader_core_properties
  uint32_t amd_shader_engines = 0, amd_shader_arrays_per_engine = 0, amd_compute_units_per_array = 0;
  uint32_t amd_simds_per_compute_unit = 0, amd_wavefronts_per_simd = 0, amd_wavefront_size = 0;
  uint32_t amd_sgprs_per_simd = 0, amd_vgprs_per_simd = 0, amd_max_vgpr_allocation = 0,
           amd_vgpr_allocation_granularity = 0;
  // VK_AMD_shader_core_properties2
  uint32_t amd_active_compute_units = 0;
};

struct DeviceInfo {
  uint32_t index = 0;                   // position in vkEnumeratePhysicalDevices
  std::string name;                     // e.g. "llvmpipe (LLVM 15.0.6, 256 bits)"
  VkPhysicalDeviceType type = VK_PHYSICAL_DEVICE_TYPE_OTHER;
  std::string driver_name;              // e.g. "llvmpipe", "NVIDIA"
  std::string driver_info;              // e.g. "Mesa 22.3.6 (LLVM 15.0.6)"
  uint32_t api_version = 0;
  uint32_t vendor_id = 0;
  uint32_t subgroup_size = 0;           // invocations per subgroup (warp / wavefront)
  bool subgroup_shuffle = false;        // subgroupShuffle in compute shaders (the matmul kernel needs it)
  uint32_t max_shared_memory_bytes = 0; // maxComputeSharedMemorySize
  std::array<uint32_t, 3> max_workgroup_size{};   // per dimension
  uint32_t max_workgroup_invocations = 0;
  std::array<uint32_t, 3> max_workgroup_count{};
  uint64_t max_storage_buffer_range = 0;
  uint64_t min_storage_buffer_offset_alignment = 0;
  uint32_t max_push_constants_bytes = 0;
  uint32_t max_bound_descriptor_sets = 0;
  double timestamp_period_ns = 0;       // nanoseconds per timestamp tick
  uint32_t timestamp_valid_bits = 0;    // of the compute queue; 0 = no timestamps
  bool shader_clock = false;            // VK_KHR_shader_clock
  bool pipeline_statistics = false;     // pipelineStatisticsQuery feature
  bool shader_device_clock = false;     // VK_KHR_shader_clock's shaderDeviceClock (one clock for all workgroups)
  // Mixed precision: fp16 values in storage buffers (storageBuffer16BitAccess,
  // VK_KHR_16bit_storage, core in 1.1), which the fp16 kernels need; fp16
  // arithmetic (shaderFloat16, VK_KHR_shader_float16_int8), which they do not use.
  bool fp16_storage = false;
  bool fp16_arithmetic = false;
  // VK_KHR_cooperative_matrix or VK_NV_cooperative_matrix (tensor cores).
  bool cooperative_matrix = false;
  // The matmul's cooperative-matrix variant can run (shaders/matmul_coopmat.comp):
  // VK_NV_cooperative_matrix lists 16 x 16 x 16 subgroup matrices with fp16 A
  // and B and fp32 C and D, and the device has the features that shader needs
  // (cooperativeMatrix, shaderFloat16, vulkanMemoryModel, storageBuffer16BitAccess).
  // Context enables them on such a device. VK_KHR_cooperative_matrix alone does
  // not count: Debian 12's glslang cannot compile GL_KHR_cooperative_matrix.
  bool cooperative_matrix_fp16 = false;
  std::vector<MemoryHeapInfo> heaps;
  std::vector<MemoryTypeInfo> memory_types;
  // Subgroups: VkPhysicalDeviceSubgroupProperties and VK_EXT_subgroup_size_control.
  VkSubgroupFeatureFlags subgroup_operations = 0;     // basic, vote, arithmetic, ballot, shuffle, ...
  VkShaderStageFlags subgroup_stages = 0;
  uint32_t min_subgroup_size = 0, max_subgroup_size = 0;  // 0: no size control
  // Every device extension the driver offers (sorted), and the vendor core counts.
  std::vector<std::string> extensions;
  ExposedCoreProperties cores;
  bool has_extension(const std::string& name) const;

  bool is_software() const { return type == VK_PHYSICAL_DEVICE_TYPE_CPU; }
  // Bytes of the largest device-local heap (the budget for tensors).
  uint64_t device_local_bytes() const;
};

// "discrete GPU", "integrated GPU", "virtual GPU", "CPU (software)", "other".
const char* DeviceTypeName(VkPhysicalDeviceType type);

// "basic", "vote", "arithmetic", "ballot", "shuffle", "shuffle_relative",
// "clustered", "quad", "partitioned_nv" for the bits set in `operations`.
std::vector<std::string> SubgroupOperationNames(VkSubgroupFeatureFlags operations);

// "device-local", "host-visible", "host-coherent", "host-cached", "lazily-allocated", "protected".
std::vector<std::string> MemoryPropertyNames(VkMemoryPropertyFlags flags);

// The extensions the device panel lists as present or absent: the ones that
// decide what Tensorscope can measure or model on a device.
std::vector<std::string> ComputeRelevantExtensions();

// "1.3.230".
std::string VersionString(uint32_t api_version);

// Index into `devices` of the one Tensorscope uses by default: a discrete GPU
// first, then integrated, virtual, other, and a CPU (software) driver last;
// among equals, the one with the most device-local memory. Sets *reason to a
// sentence that says why. Requires a non-empty list.
uint32_t ChooseDefaultDevice(const std::vector<DeviceInfo>& devices, std::string* reason);

}  // namespace ts::vk
