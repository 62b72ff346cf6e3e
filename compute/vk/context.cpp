#include "compute/vk/context.h"

#include <algorithm>
#include <cstdio>
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

bool HasDeviceExtension(VkPhysicalDevice device, const char* name) {
  uint32_t count = 0;
  vkEnumerateDeviceExtensionProperties(device, nullptr, &count, nullptr);
  std::vector<VkExtensionProperties> extensions(count);
  vkEnumerateDeviceExtensionProperties(device, nullptr, &count, extensions.data());
  return std::any_of(extensions.begin(), extensions.end(), [&](const VkExtensionProperties& e) {
    return std::strcmp(e.extensionName, name) == 0;
  });
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

DeviceInfo DescribeDevice(VkPhysicalDevice device, uint32_t index) {
  VkPhysicalDeviceSubgroupProperties subgroup{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
  VkPhysicalDeviceDriverProperties driver{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
  subgroup.pNext = &driver;
  VkPhysicalDeviceProperties2 properties{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
  properties.pNext = &subgroup;
  vkGetPhysicalDeviceProperties2(device, &properties);
  VkPhysicalDeviceFeatures features{};
  vkGetPhysicalDeviceFeatures(device, &features);
  const VkPhysicalDeviceLimits& limits = properties.properties.limits;

  DeviceInfo info;
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
  info.subgroup_shuffle = (subgroup.supportedOperations & VK_SUBGROUP_FEATURE_SHUFFLE_BIT) &&
                          (subgroup.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT);
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
  info.shader_clock = HasDeviceExtension(device, VK_KHR_SHADER_CLOCK_EXTENSION_NAME);

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
  }
  for (const std::string& name : requested) {
    if (!HasInstanceExtension(name)) throw Error(MissingInstanceExtensionMessage(name));
    AppendUnique(extensions, name.c_str());
  }
  VkInstanceCreateInfo create{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
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
    for (uint32_t i = 0; i < devices.size(); ++i) infos.push_back(DescribeDevice(devices[i], i));
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
  }

  std::vector<VkPhysicalDevice> devices = EnumerateDevices(c.instance_);
  if (devices.empty()) throw Error(kNoDriverMessage);
  std::vector<DeviceInfo> infos;
  for (uint32_t i = 0; i < devices.size(); ++i) infos.push_back(DescribeDevice(devices[i], i));
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
  VkPhysicalDeviceShaderClockFeaturesKHR clock{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_CLOCK_FEATURES_KHR};
  if (c.info_.shader_clock) {
    // Enable only the clock features the driver reports (enabling more is invalid).
    VkPhysicalDeviceFeatures2 supported{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
    supported.pNext = &clock;
    vkGetPhysicalDeviceFeatures2(c.physical_device_, &supported);
    c.info_.shader_clock = clock.shaderSubgroupClock == VK_TRUE;
    clock.pNext = nullptr;
    if (c.info_.shader_clock) extensions.push_back(VK_KHR_SHADER_CLOCK_EXTENSION_NAME);
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
  create.pNext = c.info_.shader_clock ? &clock : nullptr;
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

void Context::SubmitAndWait(VkCommandBuffer command_buffer) {
  VkFenceCreateInfo create{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
  VkFence handle = VK_NULL_HANDLE;
  Check(vkCreateFence(device_, &create, nullptr, &handle), "vkCreateFence");
  UniqueFence fence(device_, handle);
  Submit(command_buffer, fence.get());
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
