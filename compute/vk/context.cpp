#include "compute/vk/context.h"

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cmath>
#include <cstring>

#include "compute/common/error.h"
#include "compute/vk/check.h"

namespace ts::vk {
namespace {

constexpr const char* kValidationLayer = "VK_LAYER_KHRONOS_validation";
constexpr const char* kNoDriverMessage =
    "No Vulkan driver was found. Tensorscope needs one to run its compute shaders. "
    "Install your GPU vendor's Vulkan driver, or the software driver with "
    "`sudo apt-get install mesa-vulkan-drivers`.";

bool HasLayer(const char* name) {
  uint32_t count = 0;
  vkEnumerateInstanceLayerProperties(&count, nullptr);
  std::vector<VkLayerProperties> layers(count);
  vkEnumerateInstanceLayerProperties(&count, layers.data());
  return std::any_of(layers.begin(), layers.end(),
                     [&](const VkLayerProperties& l) { return std::strcmp(l.layerName, name) == 0; });
}

// Every device extension the driver offers, sorted by name.
std::vector<std::string> DeviceExtensionNames(VkPhysicalDevice device) {
  uint32_t count = 0;
  vkEnumerateDeviceExtensionProperties(device, nullptr, &count, nullptr);
  std::vector<VkExtensionProperties> extensions(count);
  vkEnumerateDeviceExtensionProperties(device, nullptr, &count, extensions.data());
  std::vector<std::string> names;
  for (uint32_t i = 0; i < count; ++i) names.emplace_back(extensions[i].extensionName);
  std::sort(names.begin(), names.end());
  return names;
}

bool HasDeviceExtension(VkPhysicalDevice device, const char* name) {
  std::vector<std::string> names = DeviceExtensionNames(device);
  return std::binary_search(names.begin(), names.end(), std::string(name));
}

// The first queue family that supports compute (and so transfers too).
int FindComputeQueueFamily(VkPhysicalDevice device) {
  uint32_t count = 0;
  vkGetPhysicalDeviceQueueFamilyProperties(device, &count, nullptr);
  std::vector<VkQueueFamilyProperties> families(count);
  vkGetPhysicalDeviceQueueFamilyProperties(device, &count, families.data());
  // Prefer a family that also does graphics: the GUI shares the queue.
  for (uint32_t i = 0; i < count; ++i)
    if ((families[i].queueFlags & VK_QUEUE_COMPUTE_BIT) && (families[i].queueFlags & VK_QUEUE_GRAPHICS_BIT))
      return static_cast<int>(i);
  for (uint32_t i = 0; i < count; ++i)
    if (families[i].queueFlags & VK_QUEUE_COMPUTE_BIT) return static_cast<int>(i);
  return -1;
}

// Whether the device's VK_NV_cooperative_matrix lists the one shape and type
// matmul_coopmat.comp uses: 16 x 16 x 16, fp16 A and B, fp32 C and D, subgroup scope.
bool ListsFp16CooperativeMatrix(VkInstance instance, VkPhysicalDevice device) {
  auto properties = reinterpret_cast<PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesNV>(
      vkGetInstanceProcAddr(instance, "vkGetPhysicalDeviceCooperativeMatrixPropertiesNV"));
  if (properties == nullptr) return false;
  uint32_t count = 0;
  if (properties(device, &count, nullptr) != VK_SUCCESS || count == 0) return false;
  std::vector<VkCooperativeMatrixPropertiesNV> shapes(count, {VK_STRUCTURE_TYPE_COOPERATIVE_MATRIX_PROPERTIES_NV});
  if (properties(device, &count, shapes.data()) != VK_SUCCESS) return false;
  return std::any_of(shapes.begin(), shapes.begin() + count, [](const VkCooperativeMatrixPropertiesNV& s) {
    return s.MSize == 16 && s.NSize == 16 && s.KSize == 16 && s.AType == VK_COMPONENT_TYPE_FLOAT16_NV &&
           s.BType == VK_COMPONENT_TYPE_FLOAT16_NV && s.CType == VK_COMPONENT_TYPE_FLOAT32_NV &&
           s.DType == VK_COMPONENT_TYPE_FLOAT32_NV && s.scope == VK_SCOPE_SUBGROUP_NV;
  });
}

DeviceInfo DescribeDevice(VkInstance instance, VkPhysicalDevice device, uint32_t index) {
  DeviceInfo info;
  info.extensions = DeviceExtensionNames(device);
  VkPhysicalDeviceProperties core{};
  vkGetPhysicalDeviceProperties(device, &core);

  // Chain a properties struct only when the device has what defines it (its
  // extension, or Vulkan 1.3 for the core subgroup-size-control struct).
  VkPhysicalDeviceProperties2 properties{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
  VkPhysicalDeviceSubgroupProperties subgroup{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
  VkPhysicalDeviceDriverProperties driver{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
  VkPhysicalDeviceSubgroupSizeControlPropertiesEXT size_control{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_PROPERTIES_EXT};
  VkPhysicalDeviceShaderSMBuiltinsPropertiesNV nv_sm{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_SM_BUILTINS_PROPERTIES_NV};
  VkPhysicalDeviceShaderCorePropertiesAMD amd_core{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_CORE_PROPERTIES_AMD};
  VkPhysicalDeviceShaderCoreProperties2AMD amd_core2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_CORE_PROPERTIES_2_AMD};
  void** next = &properties.pNext;
  auto chain = [&](auto& structure) {
    *next = &structure;
    next = &structure.pNext;
  };
  chain(subgroup);
  if (core.apiVersion >= VK_API_VERSION_1_2) chain(driver);
  bool has_size_control = core.apiVersion >= VK_API_VERSION_1_3 ||
                          info.has_extension(VK_EXT_SUBGROUP_SIZE_CONTROL_EXTENSION_NAME);
  if (has_size_control) chain(size_control);
  if (info.has_extension(VK_NV_SHADER_SM_BUILTINS_EXTENSION_NAME)) chain(nv_sm);
  if (info.has_extension(VK_AMD_SHADER_CORE_PROPERTIES_EXTENSION_NAME)) chain(amd_core);
  if (info.has_extension(VK_AMD_SHADER_CORE_PROPERTIES_2_EXTENSION_NAME)) chain(amd_core2);
  vkGetPhysicalDeviceProperties2(device, &properties);

  VkPhysicalDeviceFeatures features{};
  vkGetPhysicalDeviceFeatures(device, &features);
  const VkPhysicalDeviceLimits& limits = properties.properties.limits;

  info.index = index;
  info.name = properties.properties.deviceName;
  info.type = properties.properties.deviceType;
  info.api_version = properties.properties.apiVersion;
  info.vendor_id = properties.properties.vendorID;
  if (properties.properties.apiVersion >= VK_API_VERSION_1_2) {
    info.driver_name = driver.driverName;
    info.driver_info = driver.driverInfo;
  }
  info.subgroup_size = subgroup.subgroupSize;
  info.subgroup_operations = subgroup.supportedOperations;
  info.subgroup_stages = subgroup.supportedStages;
  info.subgroup_shuffle = (subgroup.supportedOperations & VK_SUBGROUP_FEATURE_SHUFFLE_BIT) &&
                          (subgroup.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT);
  if (has_size_control) {
    info.min_subgroup_size = size_control.minSubgroupSize;
    info.max_subgroup_size = size_control.maxSubgroupSize;
  }
  if (info.has_extension(VK_NV_SHADER_SM_BUILTINS_EXTENSION_NAME)) {
    info.cores.nv_sm_count = nv_sm.shaderSMCount;
    info.cores.nv_warps_per_sm = nv_sm.shaderWarpsPerSM;
  }
  if (info.has_extension(VK_AMD_SHADER_CORE_PROPERTIES_EXTENSION_NAME)) {
    info.cores.amd_shader_engines = amd_core.shaderEngineCount;
    info.cores.amd_shader_arrays_per_engine = amd_core.shaderArraysPerEngineCount;
    info.cores.amd_compute_units_per_array = amd_core.computeUnitsPerShaderArray;
    info.cores.amd_simds_per_compute_unit = amd_core.simdPerComputeUnit;
    info.cores.amd_wavefronts_per_simd = amd_core.wavefrontsPerSimd;
    info.cores.amd_wavefront_size = amd_core.wavefrontSize;
    info.cores.amd_sgprs_per_simd = amd_core.sgprsPerSimd;
    info.cores.amd_vgprs_per_simd = amd_core.vgprsPerSimd;
    info.cores.amd_max_vgpr_allocation = amd_core.maxVgprAllocation;
    info.cores.amd_vgpr_allocation_granularity = amd_core.vgprAllocationGranularity;
  }
  if (info.has_extension(VK_AMD_SHADER_CORE_PROPERTIES_2_EXTENSION_NAME))
    info.cores.amd_active_compute_units = amd_core2.activeComputeUnitCount;
  info.max_shared_memory_bytes = limits.maxComputeSharedMemorySize;
  for (int d = 0; d < 3; ++d) {
    info.max_workgroup_size[d] = limits.maxComputeWorkGroupSize[d];
    info.max_workgroup_count[d] = limits.maxComputeWorkGroupCount[d];
  }
  info.max_workgroup_invocations = limits.maxComputeWorkGroupInvocations;
  info.max_storage_buffer_range = limits.maxStorageBufferRange;
  info.min_storage_buffer_offset_alignment = limits.minStorageBufferOffsetAlignment;
  info.max_push_constants_bytes = limits.maxPushConstantsSize;
  info.max_bound_descriptor_sets = limits.maxBoundDescriptorSets;
  info.timestamp_period_ns = limits.timestampPeriod;
  info.pipeline_statistics = features.pipelineStatisticsQuery;
  info.shader_clock = info.has_extension(VK_KHR_SHADER_CLOCK_EXTENSION_NAME);
  if (info.shader_clock) {
    // The extension alone promises nothing: its features say which clocks exist.
    VkPhysicalDeviceShaderClockFeaturesKHR clock{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_CLOCK_FEATURES_KHR};
    VkPhysicalDeviceFeatures2 supported{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
    supported.pNext = &clock;
    vkGetPhysicalDeviceFeatures2(device, &supported);
    info.shader_clock = clock.shaderSubgroupClock == VK_TRUE;
    info.shader_device_clock = info.shader_clock && clock.shaderDeviceClock == VK_TRUE;
  }

  if (info.api_version >= VK_API_VERSION_1_1) {
    VkPhysicalDevice16BitStorageFeatures storage16{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
    VkPhysicalDeviceShaderFloat16Int8Features float16{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES};
    VkPhysicalDeviceFeatures2 supported{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
    supported.pNext = &storage16;
    // The float16 struct is known to 1.2 devices and to those with the extension.
    if (info.api_version >= VK_API_VERSION_1_2 || info.has_extension(VK_KHR_SHADER_FLOAT16_INT8_EXTENSION_NAME))
      storage16.pNext = &float16;
    vkGetPhysicalDeviceFeatures2(device, &supported);
    info.fp16_storage = storage16.storageBuffer16BitAccess == VK_TRUE;
    info.fp16_arithmetic = float16.shaderFloat16 == VK_TRUE;
  }
  info.cooperative_matrix = info.has_extension("VK_KHR_cooperative_matrix") || info.has_extension("VK_NV_cooperative_matrix");
  if (info.has_extension(VK_NV_COOPERATIVE_MATRIX_EXTENSION_NAME) && info.fp16_storage && info.fp16_arithmetic &&
      info.api_version >= VK_API_VERSION_1_2) {
    VkPhysicalDeviceCooperativeMatrixFeaturesNV cooperative{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_NV};
    VkPhysicalDeviceVulkanMemoryModelFeatures memory_model{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_MEMORY_MODEL_FEATURES};
    cooperative.pNext = &memory_model;
    VkPhysicalDeviceFeatures2 supported{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
    supported.pNext = &cooperative;
    vkGetPhysicalDeviceFeatures2(device, &supported);
    info.cooperative_matrix_fp16 = cooperative.cooperativeMatrix == VK_TRUE &&
                                   memory_model.vulkanMemoryModel == VK_TRUE && ListsFp16CooperativeMatrix(instance, device);
  }

  int family = FindComputeQueueFamily(device);
  if (family >= 0) {
    uint32_t count = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(device, &count, nullptr);
    std::vector<VkQueueFamilyProperties> families(count);
    vkGetPhysicalDeviceQueueFamilyProperties(device, &count, families.data());
    info.timestamp_valid_bits = families[family].timestampValidBits;
  }
  VkPhysicalDeviceMemoryProperties memory{};
  vkGetPhysicalDeviceMemoryProperties(device, &memory);
  for (uint32_t h = 0; h < memory.memoryHeapCount; ++h)
    info.heaps.push_back({memory.memoryHeaps[h].size,
                          (memory.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) != 0});
  for (uint32_t t = 0; t < memory.memoryTypeCount; ++t)
    info.memory_types.push_back({memory.memoryTypes[t].heapIndex, memory.memoryTypes[t].propertyFlags});
  return info;
}

bool HasInstanceExtension(const std::string& name) {
  uint32_t count = 0;
  vkEnumerateInstanceExtensionProperties(nullptr, &count, nullptr);
  std::vector<VkExtensionProperties> extensions(count);
  vkEnumerateInstanceExtensionProperties(nullptr, &count, extensions.data());
  return std::any_of(extensions.begin(), extensions.end(),
                     [&](const VkExtensionProperties& e) { return name == e.extensionName; });
}

// What to tell a person whose Vulkan installation lacks instance extension `name`.
std::string MissingInstanceExtensionMessage(const std::string& name) {
  bool surface = name.find("_surface") != std::string::npos;
  if (surface)
    return "The Vulkan surface extension " + name +
           " is not available, so Tensorscope cannot draw into a window. It comes with the Vulkan "
           "loader and driver: install them with `sudo apt-get install libvulkan1 mesa-vulkan-drivers` "
           "(or your GPU vendor's Vulkan driver). Headless commands such as `tensorscope train "
           "spiral-mlp` work without it.";
  return "The Vulkan instance extension " + name +
         " is not available. Update the Vulkan loader and driver "
         "(`sudo apt-get install libvulkan1 mesa-vulkan-drivers`, or your GPU vendor's driver).";
}

void AppendUnique(std::vector<const char*>& names, const char* name) {
  if (std::none_of(names.begin(), names.end(), [&](const char* n) { return std::strcmp(n, name) == 0; }))
    names.push_back(name);
}

// An instance for enumeration, with the validation layer when asked, and the
// `requested` extensions (a missing one throws ts::Error naming it).
VkInstance CreateInstance(bool validation, const std::vector<std::string>& requested = {}) {
  VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
  app.pApplicationName = "Tensorscope";
  app.applicationVersion = VK_MAKE_VERSION(0, 1, 0);
  app.pEngineName = "Tensorscope";
  app.apiVersion = VK_API_VERSION_1_2;

  std::vector<const char*> layers;
  std::vector<const char*> extensions;
  if (validation) {
    if (!HasLayer(kValidationLayer))
      throw Error(std::string("--validate asks for the Vulkan validation layer (") + kValidationLayer +
                  "), but it is not installed. Install it with `sudo apt-get install vulkan-validationlayers`.");
    layers.push_back(kValidationLayer);
    extensions.push_back(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
    extensions.push_back(VK_EXT_VALIDATION_FEATURES_EXTENSION_NAME);  // the layer provides it
  }
  for (const std::string& name : requested) {
    if (!HasInstanceExtension(name)) throw Error(MissingInstanceExtensionMessage(name));
    AppendUnique(extensions, name.c_str());
  }
  VkInstanceCreateInfo create{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
  // Synchronization validation as well as the layer's default checks: it
  // reports a dispatch or copy that reads or writes memory another one
  // touched without a barrier between them (the layer leaves it off).
  const VkValidationFeatureEnableEXT enables[] = {VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT};
  VkValidationFeaturesEXT features{VK_STRUCTURE_TYPE_VALIDATION_FEATURES_EXT};
  features.enabledValidationFeatureCount = 1;
  features.pEnabledValidationFeatures = enables;
  if (validation) create.pNext = &features;
  create.pApplicationInfo = &app;
  create.enabledLayerCount = static_cast<uint32_t>(layers.size());
  create.ppEnabledLayerNames = layers.data();
  create.enabledExtensionCount = static_cast<uint32_t>(extensions.size());
  create.ppEnabledExtensionNames = extensions.data();
  VkInstance instance = VK_NULL_HANDLE;
  VkResult result = vkCreateInstance(&create, nullptr, &instance);
  if (result == VK_ERROR_INCOMPATIBLE_DRIVER) throw Error(kNoDriverMessage);
  Check(result, "vkCreateInstance");
  return instance;
}

std::vector<VkPhysicalDevice> EnumerateDevices(VkInstance instance) {
  uint32_t count = 0;
  Check(vkEnumeratePhysicalDevices(instance, &count, nullptr), "vkEnumeratePhysicalDevices");
  std::vector<VkPhysicalDevice> devices(count);
  Check(vkEnumeratePhysicalDevices(instance, &count, devices.data()), "vkEnumeratePhysicalDevices");
  devices.resize(count);
  return devices;
}

int TypeRank(VkPhysicalDeviceType type) {
  switch (type) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 0;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 1;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
    case VK_PHYSICAL_DEVICE_TYPE_OTHER: return 3;
    default: return 4;  // CPU: a software driver, always the last resort.
  }
}

}  // namespace

bool DeviceInfo::has_extension(const std::string& extension) const {
  return std::binary_search(extensions.begin(), extensions.end(), extension);
}

std::vector<std::string> SubgroupOperationNames(VkSubgroupFeatureFlags operations) {
  static const std::pair<VkSubgroupFeatureFlagBits, const char*> kNames[] = {
      {VK_SUBGROUP_FEATURE_BASIC_BIT, "basic"},
      {VK_SUBGROUP_FEATURE_VOTE_BIT, "vote"},
      {VK_SUBGROUP_FEATURE_ARITHMETIC_BIT, "arithmetic"},
      {VK_SUBGROUP_FEATURE_BALLOT_BIT, "ballot"},
      {VK_SUBGROUP_FEATURE_SHUFFLE_BIT, "shuffle"},
      {VK_SUBGROUP_FEATURE_SHUFFLE_RELATIVE_BIT, "shuffle_relative"},
      {VK_SUBGROUP_FEATURE_CLUSTERED_BIT, "clustered"},
      {VK_SUBGROUP_FEATURE_QUAD_BIT, "quad"},
      {VK_SUBGROUP_FEATURE_PARTITIONED_BIT_NV, "partitioned_nv"},
  };
  std::vector<std::string> names;
  for (const auto& [bit, name] : kNames)
    if (operations & bit) names.emplace_back(name);
  return names;
}

std::vector<std::string> MemoryPropertyNames(VkMemoryPropertyFlags flags) {
  static const std::pair<VkMemoryPropertyFlagBits, const char*> kNames[] = {
      {VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, "device-local"},
      {VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, "host-visible"},
      {VK_MEMORY_PROPERTY_HOST_COHERENT_BIT, "host-coherent"},
      {VK_MEMORY_PROPERTY_HOST_CACHED_BIT, "host-cached"},
      {VK_MEMORY_PROPERTY_LAZILY_ALLOCATED_BIT, "lazily-allocated"},
      {VK_MEMORY_PROPERTY_PROTECTED_BIT, "protected"},
  };
  std::vector<std::string> names;
  for (const auto& [bit, name] : kNames)
    if (flags & bit) names.emplace_back(name);
  return names;
}

std::vector<std::string> ComputeRelevantExtensions() {
  return {
      "VK_KHR_shader_clock",                    // per-workgroup start/end (trace mode)
      "VK_EXT_memory_budget",                   // heap budget and usage
      "VK_KHR_pipeline_executable_properties",  // registers, spills, occupancy per pipeline
      "VK_EXT_calibrated_timestamps",           // device times on the host's timeline
      "VK_EXT_subgroup_size_control",           // min / max subgroup size
      "VK_NV_shader_sm_builtins",               // SM count, warps per SM
      "VK_AMD_shader_core_properties",          // CUs, SIMDs, wavefronts, registers
      "VK_AMD_shader_core_properties2",         // active compute units
      "VK_KHR_shader_float16_int8",             // fp16 / int8 arithmetic
      "VK_KHR_16bit_storage",                   // fp16 tensors in buffers
      "VK_KHR_8bit_storage",
      "VK_KHR_buffer_device_address",
      "VK_KHR_cooperative_matrix",              // tensor cores / matrix units
      "VK_NV_cooperative_matrix",
      "VK_EXT_shader_atomic_float",
      "VK_KHR_shader_integer_dot_product",
      "VK_KHR_performance_query",               // hardware counters
  };
}

uint64_t DeviceInfo::device_local_bytes() const {
  uint64_t best = 0;
  for (const MemoryHeapInfo& heap : heaps)
    if (heap.device_local) best = std::max(best, heap.size_bytes);
  return best;
}

const char* DeviceTypeName(VkPhysicalDeviceType type) {
  switch (type) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete GPU";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated GPU";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual GPU";
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return "CPU (software)";
    default: return "other";
  }
}

std::string VersionString(uint32_t v) {
  return std::to_string(VK_API_VERSION_MAJOR(v)) + "." + std::to_string(VK_API_VERSION_MINOR(v)) + "." +
         std::to_string(VK_API_VERSION_PATCH(v));
}

uint32_t ChooseDefaultDevice(const std::vector<DeviceInfo>& devices, std::string* reason) {
  uint32_t best = 0;
  for (uint32_t i = 1; i < devices.size(); ++i) {
    int rank = TypeRank(devices[i].type), best_rank = TypeRank(devices[best].type);
    if (rank < best_rank ||
        (rank == best_rank && devices[i].device_local_bytes() > devices[best].device_local_bytes()))
      best = i;
  }
  if (reason) {
    const DeviceInfo& d = devices[best];
    if (devices.size() == 1)
      *reason = "it is the only Vulkan device";
    else if (d.type == VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU)
      *reason = "discrete GPUs come first (then integrated, virtual, and software drivers last)";
    else if (d.is_software())
      *reason = "no hardware GPU was found, so the software driver is used";
    else
      *reason = std::string("no discrete GPU was found; ") + DeviceTypeName(d.type) +
                "s come before software drivers";
  }
  return best;
}

std::vector<DeviceInfo> ListDevices() {
  VkInstance instance = CreateInstance(false);
  std::vector<DeviceInfo> infos;
  try {
    std::vector<VkPhysicalDevice> devices = EnumerateDevices(instance);
    for (uint32_t i = 0; i < devices.size(); ++i) infos.push_back(DescribeDevice(instance, devices[i], i));
  } catch (...) {
    vkDestroyInstance(instance, nullptr);
    throw;
  }
  vkDestroyInstance(instance, nullptr);
  if (infos.empty()) throw Error(kNoDriverMessage);
  return infos;
}

std::unique_ptr<Context> Context::Create(const ContextOptions& options) {
  auto context = std::make_unique<Context>(PrivateTag{});
  Context& c = *context;
  c.on_validation_message_ = options.on_validation_message;
  c.instance_ = CreateInstance(options.validation, options.instance_extensions);
  c.instance_extensions_ = options.instance_extensions;

  if (options.validation) {
    VkDebugUtilsMessengerCreateInfoEXT messenger{VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT};
    messenger.messageSeverity =
        VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
    messenger.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                            VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                            VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
    messenger.pfnUserCallback = &Context::OnDebugMessage;
    messenger.pUserData = &c;
    auto create_messenger = reinterpret_cast<PFN_vkCreateDebugUtilsMessengerEXT>(
        vkGetInstanceProcAddr(c.instance_, "vkCreateDebugUtilsMessengerEXT"));
    if (create_messenger == nullptr) throw Error("The validation layer does not provide VK_EXT_debug_utils.");
    Check(create_messenger(c.instance_, &messenger, nullptr, &c.messenger_), "vkCreateDebugUtilsMessengerEXT");
    c.set_object_name_ = reinterpret_cast<PFN_vkSetDebugUtilsObjectNameEXT>(
        vkGetInstanceProcAddr(c.instance_, "vkSetDebugUtilsObjectNameEXT"));
  }

  std::vector<VkPhysicalDevice> devices = EnumerateDevices(c.instance_);
  if (devices.empty()) throw Error(kNoDriverMessage);
  std::vector<DeviceInfo> infos;
  for (uint32_t i = 0; i < devices.size(); ++i) infos.push_back(DescribeDevice(c.instance_, devices[i], i));
  uint32_t chosen = 0;
  if (options.device_index >= 0) {
    if (static_cast<size_t>(options.device_index) >= devices.size())
      throw Error("--device " + std::to_string(options.device_index) + " does not exist: there are " +
                  std::to_string(devices.size()) + " Vulkan device(s), numbered 0 to " +
                  std::to_string(devices.size() - 1) + ". Run `tensorscope devices` to list them.");
    chosen = static_cast<uint32_t>(options.device_index);
    c.choice_reason_ = "it was chosen with --device";
  } else {
    chosen = ChooseDefaultDevice(infos, &c.choice_reason_);
  }
  c.physical_device_ = devices[chosen];
  c.info_ = infos[chosen];
  vkGetPhysicalDeviceMemoryProperties(c.physical_device_, &c.memory_properties_);

  int family = FindComputeQueueFamily(c.physical_device_);
  if (family < 0) throw Error("Vulkan device '" + c.info_.name + "' has no compute queue.");
  c.queue_family_ = static_cast<uint32_t>(family);

  float priority = 1.0f;
  VkDeviceQueueCreateInfo queue{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
  queue.queueFamilyIndex = c.queue_family_;
  queue.queueCount = 1;
  queue.pQueuePriorities = &priority;

  VkPhysicalDeviceFeatures features{};
  features.pipelineStatisticsQuery = c.info_.pipeline_statistics ? VK_TRUE : VK_FALSE;
  std::vector<const char*> extensions;
  // Feature structs for vkCreateDevice, chained only for extensions enabled.
  void* feature_chain = nullptr;
  VkPhysicalDeviceShaderClockFeaturesKHR clock{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_CLOCK_FEATURES_KHR};
  if (c.info_.shader_clock) {
    // DescribeDevice read the clock features: enable exactly those (enabling more is invalid).
    clock.shaderSubgroupClock = VK_TRUE;
    clock.shaderDeviceClock = c.info_.shader_device_clock ? VK_TRUE : VK_FALSE;
    clock.pNext = feature_chain;
    feature_chain = &clock;
    extensions.push_back(VK_KHR_SHADER_CLOCK_EXTENSION_NAME);
  }
  VkPhysicalDevicePipelineExecutablePropertiesFeaturesKHR executable{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PIPELINE_EXECUTABLE_PROPERTIES_FEATURES_KHR};
  if (c.info_.has_extension(VK_KHR_PIPELINE_EXECUTABLE_PROPERTIES_EXTENSION_NAME)) {
    VkPhysicalDeviceFeatures2 supported{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
    supported.pNext = &executable;
    vkGetPhysicalDeviceFeatures2(c.physical_device_, &supported);
    if (executable.pipelineExecutableInfo == VK_TRUE) {
      executable.pNext = feature_chain;
      feature_chain = &executable;
      extensions.push_back(VK_KHR_PIPELINE_EXECUTABLE_PROPERTIES_EXTENSION_NAME);
      c.executable_properties_ = true;
    }
  }
  // fp16 tensors (mixed precision) where the device can store them.
  VkPhysicalDevice16BitStorageFeatures storage16{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
  if (c.info_.fp16_storage) {
    storage16.storageBuffer16BitAccess = VK_TRUE;
    storage16.pNext = feature_chain;
    feature_chain = &storage16;
  }
  // Tensor cores (the matmul's cooperative-matrix variant): the extension and
  // what its shader declares (fp16 arithmetic, the Vulkan memory model).
  VkPhysicalDeviceCooperativeMatrixFeaturesNV cooperative{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_NV};
  VkPhysicalDeviceShaderFloat16Int8Features float16{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES};
  VkPhysicalDeviceVulkanMemoryModelFeatures memory_model{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_MEMORY_MODEL_FEATURES};
  if (c.info_.cooperative_matrix_fp16) {
    cooperative.cooperativeMatrix = VK_TRUE;
    float16.shaderFloat16 = VK_TRUE;
    memory_model.vulkanMemoryModel = VK_TRUE;
    cooperative.pNext = &float16;
    float16.pNext = &memory_model;
    memory_model.pNext = feature_chain;
    feature_chain = &cooperative;
    extensions.push_back(VK_NV_COOPERATIVE_MATRIX_EXTENSION_NAME);
  }
  VkPhysicalDeviceRobustness2FeaturesEXT robustness2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_ROBUSTNESS_2_FEATURES_EXT};
  if (options.robust_buffer_access) {
    VkPhysicalDeviceFeatures core{};
    vkGetPhysicalDeviceFeatures(c.physical_device_, &core);
    features.robustBufferAccess = core.robustBufferAccess;
    if (core.robustBufferAccess && c.info_.has_extension(VK_EXT_ROBUSTNESS_2_EXTENSION_NAME)) {
      VkPhysicalDeviceFeatures2 supported{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
      supported.pNext = &robustness2;
      vkGetPhysicalDeviceFeatures2(c.physical_device_, &supported);
      if (robustness2.robustBufferAccess2 == VK_TRUE) {
        robustness2 = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_ROBUSTNESS_2_FEATURES_EXT};  // only what is used
        robustness2.robustBufferAccess2 = VK_TRUE;
        robustness2.pNext = feature_chain;
        feature_chain = &robustness2;
        extensions.push_back(VK_EXT_ROBUSTNESS_2_EXTENSION_NAME);
        c.robust_buffer_access2_ = true;
      }
    }
  }
  // Instruments with no features to enable: heap budgets and clock calibration.
  if (c.info_.has_extension(VK_EXT_MEMORY_BUDGET_EXTENSION_NAME)) {
    extensions.push_back(VK_EXT_MEMORY_BUDGET_EXTENSION_NAME);
    c.memory_budget_ = true;
  }
  if (c.info_.has_extension(VK_EXT_CALIBRATED_TIMESTAMPS_EXTENSION_NAME)) {
    extensions.push_back(VK_EXT_CALIBRATED_TIMESTAMPS_EXTENSION_NAME);
    c.calibrated_timestamps_ = true;
  }
  if (HasDeviceExtension(c.physical_device_, "VK_KHR_portability_subset"))
    extensions.push_back("VK_KHR_portability_subset");  // required when the driver exposes it
  for (const std::string& name : options.device_extensions) {
    if (!HasDeviceExtension(c.physical_device_, name.c_str())) {
      if (name == VK_KHR_SWAPCHAIN_EXTENSION_NAME)
        throw Error("Vulkan device '" + c.info_.name + "' cannot present to a window (it lacks " + name +
                    "), so Tensorscope cannot show its GUI on it. Install a driver that can "
                    "(`sudo apt-get install mesa-vulkan-drivers`, or your GPU vendor's driver), choose "
                    "another device with --device, or use a headless command such as "
                    "`tensorscope train spiral-mlp`.");
      throw Error("Vulkan device '" + c.info_.name + "' does not support the extension " + name +
                  ". Update its driver or choose another device with --device.");
    }
    AppendUnique(extensions, name.c_str());
  }
  c.device_extensions_ = options.device_extensions;

  VkDeviceCreateInfo create{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
  create.pNext = feature_chain;
  create.queueCreateInfoCount = 1;
  create.pQueueCreateInfos = &queue;
  create.pEnabledFeatures = &features;
  create.enabledExtensionCount = static_cast<uint32_t>(extensions.size());
  create.ppEnabledExtensionNames = extensions.data();
  Check(vkCreateDevice(c.physical_device_, &create, nullptr, &c.device_),
        "vkCreateDevice for '" + c.info_.name + "'");
  vkGetDeviceQueue(c.device_, c.queue_family_, 0, &c.queue_);

  VkCommandPoolCreateInfo pool{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
  pool.flags = VK_COMMAND_POOL_CREATE_TRANSIENT_BIT | VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
  pool.queueFamilyIndex = c.queue_family_;
  VkCommandPool handle = VK_NULL_HANDLE;
  Check(vkCreateCommandPool(c.device_, &pool, nullptr, &handle), "vkCreateCommandPool");
  c.one_shot_pool_ = UniqueCommandPool(c.device_, handle);
  return context;
}

Context::~Context() {
  if (device_ != VK_NULL_HANDLE) {
    vkDeviceWaitIdle(device_);
    one_shot_pool_.reset();
    vkDestroyDevice(device_, nullptr);
  }
  if (messenger_ != VK_NULL_HANDLE) {
    auto destroy_messenger = reinterpret_cast<PFN_vkDestroyDebugUtilsMessengerEXT>(
        vkGetInstanceProcAddr(instance_, "vkDestroyDebugUtilsMessengerEXT"));
    if (destroy_messenger) destroy_messenger(instance_, messenger_, nullptr);
  }
  if (instance_ != VK_NULL_HANDLE) vkDestroyInstance(instance_, nullptr);
}

VKAPI_ATTR VkBool32 VKAPI_CALL Context::OnDebugMessage(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                      VkDebugUtilsMessageTypeFlagsEXT,
                                                      const VkDebugUtilsMessengerCallbackDataEXT* data,
                                                      void* user) {
  auto* context = static_cast<Context*>(user);
  context->validation_messages_.fetch_add(1);
  std::string message = std::string(severity >= VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT
                                        ? "Vulkan validation error: "
                                        : "Vulkan validation warning: ") +
                        (data && data->pMessage ? data->pMessage : "(no message)");
  if (context->on_validation_message_)
    context->on_validation_message_(message);
  else
    std::fprintf(stderr, "%s\n", message.c_str());
  return VK_FALSE;
}

void Context::SetObjectName(VkObjectType type, uint64_t handle, const std::string& name) const {
  if (set_object_name_ == nullptr || handle == 0) return;
  VkDebugUtilsObjectNameInfoEXT info{VK_STRUCTURE_TYPE_DEBUG_UTILS_OBJECT_NAME_INFO_EXT};
  info.objectType = type;
  info.objectHandle = handle;
  info.pObjectName = name.c_str();
  set_object_name_(device_, &info);
}

std::vector<HeapBudget> Context::QueryMemoryBudget() const {
  VkPhysicalDeviceMemoryBudgetPropertiesEXT budget{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_BUDGET_PROPERTIES_EXT};
  VkPhysicalDeviceMemoryProperties2 properties{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_PROPERTIES_2};
  if (memory_budget_) properties.pNext = &budget;  // only with the extension enabled
  vkGetPhysicalDeviceMemoryProperties2(physical_device_, &properties);
  const VkPhysicalDeviceMemoryProperties& memory = properties.memoryProperties;
  std::vector<HeapBudget> heaps(memory.memoryHeapCount);
  for (uint32_t h = 0; h < memory.memoryHeapCount; ++h) {
    heaps[h].size = memory.memoryHeaps[h].size;
    heaps[h].device_local = (memory.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) != 0;
    if (memory_budget_) {
      heaps[h].budget = budget.heapBudget[h];
      heaps[h].usage = budget.heapUsage[h];
    }
  }
  return heaps;
}

std::optional<ClockCalibration> Context::CalibrateClocks() const {
  if (!calibrated_timestamps_) return std::nullopt;
  auto get_domains = reinterpret_cast<PFN_vkGetPhysicalDeviceCalibrateableTimeDomainsEXT>(
      vkGetInstanceProcAddr(instance_, "vkGetPhysicalDeviceCalibrateableTimeDomainsEXT"));
  auto get_timestamps = reinterpret_cast<PFN_vkGetCalibratedTimestampsEXT>(
      vkGetDeviceProcAddr(device_, "vkGetCalibratedTimestampsEXT"));
  if (get_domains == nullptr || get_timestamps == nullptr) return std::nullopt;
  uint32_t count = 0;
  Check(get_domains(physical_device_, &count, nullptr), "vkGetPhysicalDeviceCalibrateableTimeDomainsEXT");
  std::vector<VkTimeDomainEXT> domains(count);
  Check(get_domains(physical_device_, &count, domains.data()), "vkGetPhysicalDeviceCalibrateableTimeDomainsEXT");
  auto has = [&](VkTimeDomainEXT d) { return std::find(domains.begin(), domains.end(), d) != domains.end(); };
  if (!has(VK_TIME_DOMAIN_DEVICE_EXT) || !has(VK_TIME_DOMAIN_CLOCK_MONOTONIC_EXT)) return std::nullopt;

  VkCalibratedTimestampInfoEXT infos[2] = {{VK_STRUCTURE_TYPE_CALIBRATED_TIMESTAMP_INFO_EXT},
                                           {VK_STRUCTURE_TYPE_CALIBRATED_TIMESTAMP_INFO_EXT}};
  infos[0].timeDomain = VK_TIME_DOMAIN_DEVICE_EXT;
  infos[1].timeDomain = VK_TIME_DOMAIN_CLOCK_MONOTONIC_EXT;
  uint64_t timestamps[2] = {0, 0}, deviation = 0;
  Check(get_timestamps(device_, 2, infos, timestamps, &deviation), "vkGetCalibratedTimestampsEXT");

  // host_ns is promised on std::chrono::steady_clock. libstdc++ and libc++ read
  // CLOCK_MONOTONIC for it on Linux, but that is not guaranteed: measure the
  // offset between the two clocks now and apply it (0 where they are the same).
  timespec monotonic{};
  clock_gettime(CLOCK_MONOTONIC, &monotonic);
  const double steady_now = SteadyNowNs();
  double monotonic_now = double(monotonic.tv_sec) * 1e9 + double(monotonic.tv_nsec);
  double offset = steady_now - monotonic_now;
  if (std::abs(offset) < 1e6) offset = 0;  // the same clock, read a moment apart

  uint32_t bits = info_.timestamp_valid_bits;
  uint64_t mask = bits == 0 || bits >= 64 ? ~0ull : ((1ull << bits) - 1);
  ClockCalibration calibration;
  calibration.device_ns = double(timestamps[0] & mask) * info_.timestamp_period_ns;
  calibration.host_ns = double(timestamps[1]) + offset;
  calibration.max_deviation_ns = double(deviation);
  return calibration;
}

void Context::Submit(VkCommandBuffer command_buffer, VkFence fence) {
  VkSubmitInfo submit{VK_STRUCTURE_TYPE_SUBMIT_INFO};
  submit.commandBufferCount = 1;
  submit.pCommandBuffers = &command_buffer;
  Submit(submit, fence);
}

void Context::Submit(const VkSubmitInfo& submit, VkFence fence) {
  std::lock_guard<std::mutex> lock(queue_mutex_);
  Check(vkQueueSubmit(queue_, 1, &submit, fence), "vkQueueSubmit");
}

VkResult Context::Present(const VkPresentInfoKHR& present) {
  VkResult result;
  {
    std::lock_guard<std::mutex> lock(queue_mutex_);
    result = vkQueuePresentKHR(queue_, &present);
  }
  if (result != VK_SUBOPTIMAL_KHR && result != VK_ERROR_OUT_OF_DATE_KHR) Check(result, "vkQueuePresentKHR");
  return result;
}

void Context::WaitQueueIdle() {
  std::lock_guard<std::mutex> lock(queue_mutex_);
  Check(vkQueueWaitIdle(queue_), "vkQueueWaitIdle");
}

double SteadyNowNs() {
  return double(std::chrono::duration_cast<std::chrono::nanoseconds>(
                    std::chrono::steady_clock::now().time_since_epoch())
                    .count());
}

UniqueCommandPool MakeCommandPool(const Context& context) {
  VkCommandPoolCreateInfo create{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
  create.queueFamilyIndex = context.queue_family();
  VkCommandPool handle = VK_NULL_HANDLE;
  Check(vkCreateCommandPool(context.device(), &create, nullptr, &handle), "vkCreateCommandPool");
  return UniqueCommandPool(context.device(), handle);
}

UniqueFence MakeFence(const Context& context) {
  VkFenceCreateInfo create{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
  VkFence handle = VK_NULL_HANDLE;
  Check(vkCreateFence(context.device(), &create, nullptr, &handle), "vkCreateFence");
  return UniqueFence(context.device(), handle);
}

void Context::SubmitAndWait(VkCommandBuffer command_buffer) {
  UniqueFence fence = MakeFence(*this);
  VkFence handle = fence.get();
  Submit(command_buffer, handle);
  Check(vkWaitForFences(device_, 1, &handle, VK_TRUE, UINT64_MAX), "vkWaitForFences (waiting for the GPU)");
}

void Context::RunOnce(const std::function<void(VkCommandBuffer)>& record) {
  std::lock_guard<std::mutex> lock(one_shot_mutex_);
  VkCommandBufferAllocateInfo allocate{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
  allocate.commandPool = one_shot_pool_.get();
  allocate.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  allocate.commandBufferCount = 1;
  VkCommandBuffer command_buffer = VK_NULL_HANDLE;
  Check(vkAllocateCommandBuffers(device_, &allocate, &command_buffer), "vkAllocateCommandBuffers");
  struct Free {
    VkDevice device; VkCommandPool pool; VkCommandBuffer cb;
    ~Free() { vkFreeCommandBuffers(device, pool, 1, &cb); }
  } free_on_exit{device_, one_shot_pool_.get(), command_buffer};
  VkCommandBufferBeginInfo begin{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  begin.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
  Check(vkBeginCommandBuffer(command_buffer, &begin), "vkBeginCommandBuffer");
  record(command_buffer);
  Check(vkEndCommandBuffer(command_buffer), "vkEndCommandBuffer");
  SubmitAndWait(command_buffer);
}

}  // namespace ts::vk
