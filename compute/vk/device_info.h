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
  std::vector<MemoryHeapInfo> heaps;

  bool is_software() const { return type == VK_PHYSICAL_DEVICE_TYPE_CPU; }
  // Bytes of the largest device-local heap (the budget for tensors).
  uint64_t device_local_bytes() const;
};

// "discrete GPU", "integrated GPU", "virtual GPU", "CPU (software)", "other".
const char* DeviceTypeName(VkPhysicalDeviceType type);

// "1.3.230".
std::string VersionString(uint32_t api_version);

// Index into `devices` of the one Tensorscope uses by default: a discrete GPU
// first, then integrated, virtual, other, and a CPU (software) driver last;
// among equals, the one with the most device-local memory. Sets *reason to a
// sentence that says why. Requires a non-empty list.
uint32_t ChooseDefaultDevice(const std::vector<DeviceInfo>& devices, std::string* reason);

}  // namespace ts::vk
