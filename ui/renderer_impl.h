// Internal to the renderer: what renderer.cpp (the window, ImGui, the
// renderer's lifetime) and renderer_frames.cpp (render passes, swapchain,
// frames and screenshots) share. Not part of the UI library's API.
#pragma once

#define GLFW_INCLUDE_VULKAN  // declares glfwCreateWindowSurface
#include <GLFW/glfw3.h>

#include <array>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "compute/vk/buffer.h"
#include "compute/vk/context.h"
#include "compute/vk/handle.h"
#include "imgui.h"
#include "ui/renderer.h"
#include "ui/window_placement.h"

namespace ts::ui {

using UniqueSemaphore = vk::DeviceHandle<VkSemaphore, vkDestroySemaphore>;
using UniqueSwapchain = vk::DeviceHandle<VkSwapchainKHR, vkDestroySwapchainKHR>;
using UniqueImageView = vk::DeviceHandle<VkImageView, vkDestroyImageView>;
using UniqueFramebuffer = vk::DeviceHandle<VkFramebuffer, vkDestroyFramebuffer>;
using UniqueRenderPass = vk::DeviceHandle<VkRenderPass, vkDestroyRenderPass>;

// Two frames in flight: the CPU builds frame N+1 while the GPU draws frame N.
constexpr uint32_t kFramesInFlight = 2;

// Owns a VkSurfaceKHR, which is destroyed through the instance, not the device.
class UniqueSurface {
 public:
  UniqueSurface() = default;
  UniqueSurface(VkInstance instance, VkSurfaceKHR surface) : instance_(instance), surface_(surface) {}
  UniqueSurface(UniqueSurface&& other) noexcept
      : instance_(other.instance_), surface_(std::exchange(other.surface_, VK_NULL_HANDLE)) {}
  UniqueSurface& operator=(UniqueSurface&& other) noexcept {
    if (this != &other) {
      reset();
      instance_ = other.instance_;
      surface_ = std::exchange(other.surface_, VK_NULL_HANDLE);
    }
    return *this;
  }
  ~UniqueSurface() { reset(); }
  void reset() {
    if (surface_ != VK_NULL_HANDLE) vkDestroySurfaceKHR(instance_, surface_, nullptr);
    surface_ = VK_NULL_HANDLE;
  }
  VkSurfaceKHR get() const { return surface_; }

 private:
  VkInstance instance_ = VK_NULL_HANDLE;
  VkSurfaceKHR surface_ = VK_NULL_HANDLE;
};

struct GlfwWindowDeleter {
  void operator()(GLFWwindow* window) const { glfwDestroyWindow(window); }
};
using UniqueGlfwWindow = std::unique_ptr<GLFWwindow, GlfwWindowDeleter>;

struct Renderer::Impl {
  // One swapchain and everything sized by it; replaced whole on resize.
  struct Swapchain {
    UniqueSwapchain handle;  // empty while the window is minimised
    VkExtent2D extent{0, 0};
    std::vector<VkImage> images;  // owned by the swapchain
    std::vector<UniqueImageView> views;
    std::vector<UniqueFramebuffer> framebuffers;
    // One per image, not per frame: presentation may still wait on an image's
    // semaphore after the frame's fence has signalled, until that image is
    // acquired again.
    std::vector<UniqueSemaphore> render_finished;
    bool can_read_back = false;  // created with VK_IMAGE_USAGE_TRANSFER_SRC_BIT
  };

  // Per frame in flight.
  struct Frame {
    VkCommandBuffer commands = VK_NULL_HANDLE;  // freed with command_pool
    vk::UniqueFence done;                       // signalled when `commands` finish
    UniqueSemaphore image_acquired;             // signalled when the swapchain image is ready
  };

  // A screenshot being taken: filled in when the copy is recorded.
  struct Capture {
    std::optional<vk::Buffer> pixels;  // host-visible, tightly packed rows
    VkExtent2D extent{0, 0};
    VkFormat format = VK_FORMAT_UNDEFINED;
  };

  explicit Impl(vk::Context& c) : context(c), device(c.device()) {}
  ~Impl();
  void Open(const RendererOptions& options);

  void SetUpConfigDir();
  void OpenWindow();
  void CreateSurface();
  void CreateRenderPass();
  void CreateSmallPass();
  void CreateFrames();
  void CreateDescriptorPool();
  void SetUpImGui();
  void LoadFont(float scale);

  void RecreateSwapchain();
  // Records, submits and presents one frame of `draw_data`; when `capture` is
  // set, also copies the image into it. Returns false when nothing was drawn
  // (minimised, or the swapchain was out of date and has been recreated).
  bool RenderFrame(ImDrawData* draw_data, Capture* capture);
  void RecordCapture(VkCommandBuffer commands, VkImage image, Capture& capture);
  void WaitForFrames();
  void RememberPlacement();
  VkExtent2D FramebufferExtent() const;

  vk::Context& context;
  VkDevice device;
  RendererOptions options;
  std::filesystem::path config_path;
  std::string config_dir_text;
  std::string ini_path;  // io.IniFilename points into it, so it must outlive ImGui
  std::string font_note;
  float content_scale = 1.0f;

  // Declaration order is destruction order reversed: the window outlives its
  // surface, the surface outlives the swapchain.
  UniqueGlfwWindow window;
  UniqueSurface surface;
  VkSurfaceFormatKHR surface_format{};
  VkPresentModeKHR present_mode = VK_PRESENT_MODE_FIFO_KHR;
  UniqueRenderPass render_pass;
  // An empty pass over a 1x1 framebuffer without attachments, recorded after
  // each frame's drawing (see CreateSmallPass).
  UniqueRenderPass small_pass;
  UniqueFramebuffer small_framebuffer;
  vk::UniqueCommandPool command_pool;
  std::array<Frame, kFramesInFlight> frames;
  uint32_t frame_index = 0;
  FrameTiming timing;  // the last RenderFrame's
  vk::UniqueDescriptorPool descriptor_pool;
  Swapchain swapchain;
  VkExtent2D swapchain_request{0, 0};  // the framebuffer size the swapchain was made for

  bool imgui_context = false, imgui_glfw = false, imgui_vulkan = false;
  bool frame_open = false;    // between BeginFrame and EndFrame
  bool frame_drawn = false;   // ImGui::GetDrawData() holds a finished frame
  WindowPlacement placement;  // last normal (not minimised / maximised) placement
};

// The 8-bit colour orders a screenshot can read.
bool IsBgra(VkFormat format);
bool IsRgba(VkFormat format);

}  // namespace ts::ui
