// The Vulkan context: instance, optional validation messenger, the chosen
// physical device, the logical device and its one compute queue.
//
// There is one queue (lavapipe exposes a single one and the GUI shares it), so
// every submission and presentation goes through Context::Submit / Present,
// which serialise access.
#pragma once

#include <vulkan/vulkan.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "compute/vk/device_info.h"
#include "compute/vk/handle.h"

namespace ts::vk {

struct ContextOptions {
  int device_index = -1;   // -1: choose by ChooseDefaultDevice
  bool validation = false; // enable VK_LAYER_KHRONOS_validation, with its synchronization validation
  // Receives every validation message (warnings and errors). Called from the
  // driver's threads. When empty, messages go to stderr.
  std::function<void(const std::string&)> on_validation_message;
  // Extra instance extensions, e.g. the surface extensions a window needs
  // (glfwGetRequiredInstanceExtensions). A missing one throws ts::Error naming it.
  std::vector<std::string> instance_extensions;
  // Extra device extensions, e.g. VK_KHR_swapchain to present to a window.
  std::vector<std::string> device_extensions;
  // Bounds-checked buffer access (robustBufferAccess, and robustBufferAccess2
  // where the device has VK_EXT_robustness2): an access outside a bound buffer
  // reads zero and writes nothing. For learners' kernels; it costs speed.
  bool robust_buffer_access = false;
};

// Lists the Vulkan devices. Throws ts::Error naming the package to install when
// there is no Vulkan driver at all.
std::vector<DeviceInfo> ListDevices();

// One memory heap's size and, where the driver has VK_EXT_memory_budget, how
// much of it this process may use (budget) and uses now (usage).
struct HeapBudget {
  uint64_t size = 0;
  uint64_t budget = 0, usage = 0;  // 0 when not reported
  bool device_local = false;
};

// The device's timestamp clock and the host's steady clock read at the same
// moment (VK_EXT_calibrated_timestamps), so device times can be placed on the
// host's timeline.
struct ClockCalibration {
  double device_ns = 0;        // a timestamp, in ns (ticks x timestampPeriod)
  double host_ns = 0;          // std::chrono::steady_clock, ns since its epoch
  double max_deviation_ns = 0; // the driver's stated uncertainty
};

// std::chrono::steady_clock now, in ns since its epoch: the host clock that
// ClockCalibration::host_ns and every timeline's host events are on.
double SteadyNowNs();

class Context;
// A command pool for `context`'s queue family (command buffers allocated from
// it are recorded once and replayed), and an unsignalled fence.
UniqueCommandPool MakeCommandPool(const Context& context);
UniqueFence MakeFence(const Context& context);

class Context {
 public:
  // Creates the instance and device. Throws ts::Error when no driver is present,
  // when the device index is out of range, or when validation was asked for and
  // the layer is not installed.
  static std::unique_ptr<Context> Create(const ContextOptions& options = {});

  struct PrivateTag {};  // keeps construction going through Create()
  explicit Context(PrivateTag) {}
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  VkInstance instance() const { return instance_; }
  VkPhysicalDevice physical_device() const { return physical_device_; }
  VkDevice device() const { return device_; }
  uint32_t queue_family() const { return queue_family_; }
  const DeviceInfo& info() const { return info_; }
  const std::string& choice_reason() const { return choice_reason_; }
  const VkPhysicalDeviceMemoryProperties& memory_properties() const { return memory_properties_; }

  // Submits one command buffer on the shared queue and waits for it to finish.
  void SubmitAndWait(VkCommandBuffer command_buffer);
  // Submits without waiting; `fence` is signalled when the work completes.
  void Submit(VkCommandBuffer command_buffer, VkFence fence);

  // Submits `submit` (which may wait on and signal semaphores, e.g. a swapchain's
  // image-acquired and render-finished semaphores); `fence` may be VK_NULL_HANDLE.
  void Submit(const VkSubmitInfo& submit, VkFence fence);
  // Presents on the shared queue. Returns the VkResult rather than throwing for
  // VK_SUBOPTIMAL_KHR and VK_ERROR_OUT_OF_DATE_KHR, which mean "recreate the
  // swapchain"; other failures throw ts::Error.
  VkResult Present(const VkPresentInfoKHR& present);
  // Waits until the shared queue is idle (all compute and GUI work finished).
  // For rare events such as recreating a swapchain.
  void WaitQueueIdle();

  // Records with `record` into a one-time command buffer, submits and waits.
  void RunOnce(const std::function<void(VkCommandBuffer)>& record);

  // Extensions enabled beyond Tensorscope's own (those named in ContextOptions).
  const std::vector<std::string>& instance_extensions() const { return instance_extensions_; }
  const std::vector<std::string>& device_extensions() const { return device_extensions_; }

  // Per memory heap: size, and budget and usage where VK_EXT_memory_budget is
  // present (it is enabled when the driver has it).
  std::vector<HeapBudget> QueryMemoryBudget() const;
  bool has_memory_budget() const { return memory_budget_; }
  // VK_KHR_pipeline_executable_properties is enabled (pipelines capture their statistics).
  bool has_executable_properties() const { return executable_properties_; }
  // Whether ContextOptions::robust_buffer_access got robustBufferAccess2.
  bool has_robust_buffer_access2() const { return robust_buffer_access2_; }
  // nullopt when the driver lacks VK_EXT_calibrated_timestamps or a monotonic
  // host time domain (then callers align clocks at a submission instead).
  std::optional<ClockCalibration> CalibrateClocks() const;

  // With validation on, names a Vulkan object (a buffer's tensor, a pipeline's
  // shader) so the layer's messages say which one they mean; else does nothing.
  void SetObjectName(VkObjectType type, uint64_t handle, const std::string& name) const;

  // Number of validation warnings and errors reported so far.
  uint64_t validation_message_count() const { return validation_messages_.load(); }

 private:
  static VKAPI_ATTR VkBool32 VKAPI_CALL OnDebugMessage(
      VkDebugUtilsMessageSeverityFlagBitsEXT severity, VkDebugUtilsMessageTypeFlagsEXT types,
      const VkDebugUtilsMessengerCallbackDataEXT* data, void* user);

  VkInstance instance_ = VK_NULL_HANDLE;
  VkDebugUtilsMessengerEXT messenger_ = VK_NULL_HANDLE;
  PFN_vkSetDebugUtilsObjectNameEXT set_object_name_ = nullptr;  // with validation only
  VkPhysicalDevice physical_device_ = VK_NULL_HANDLE;
  VkDevice device_ = VK_NULL_HANDLE;
  VkQueue queue_ = VK_NULL_HANDLE;
  uint32_t queue_family_ = 0;
  DeviceInfo info_;
  std::string choice_reason_;
  VkPhysicalDeviceMemoryProperties memory_properties_{};
  std::function<void(const std::string&)> on_validation_message_;
  std::vector<std::string> instance_extensions_;
  std::vector<std::string> device_extensions_;
  std::atomic<uint64_t> validation_messages_{0};
  bool memory_budget_ = false, calibrated_timestamps_ = false, executable_properties_ = false;
  bool robust_buffer_access2_ = false;
  std::mutex queue_mutex_;      // guards queue_ (one queue shared by all threads)
  std::mutex one_shot_mutex_;   // guards one_shot_pool_
  UniqueCommandPool one_shot_pool_;
};

}  // namespace ts::vk
