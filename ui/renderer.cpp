#include "ui/renderer.h"

#define GLFW_INCLUDE_VULKAN  // declares glfwCreateWindowSurface
#include <GLFW/glfw3.h>

#include "imgui.h"
#include "imgui_impl_glfw.h"
#include "imgui_impl_vulkan.h"

#include <nlohmann/json.hpp>

// The implementation comes from Debian's libstb (libstb-dev), which Debian's
// libimgui.a needs anyway for stb_truetype and stb_rect_pack.
#include <stb/stb_image_write.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <utility>
#include <vector>

#include "compute/common/error.h"
#include "compute/vk/buffer.h"
#include "compute/vk/check.h"
#include "compute/vk/handle.h"
#include "ui/widgets/sprites.h"
#include "ui/window_placement.h"

namespace ts::ui {
namespace {

namespace fs = std::filesystem;

using UniqueSemaphore = vk::DeviceHandle<VkSemaphore, vkDestroySemaphore>;
using UniqueSwapchain = vk::DeviceHandle<VkSwapchainKHR, vkDestroySwapchainKHR>;
using UniqueImageView = vk::DeviceHandle<VkImageView, vkDestroyImageView>;
using UniqueFramebuffer = vk::DeviceHandle<VkFramebuffer, vkDestroyFramebuffer>;
using UniqueRenderPass = vk::DeviceHandle<VkRenderPass, vkDestroyRenderPass>;

// Two frames in flight: the CPU builds frame N+1 while the GPU draws frame N.
constexpr uint32_t kFramesInFlight = 2;
constexpr float kFontPixels = 15.0f;  // DejaVu Sans size at content scale 1
constexpr const char* kFontPath = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
constexpr VkClearColorValue kClearColor{{0.11f, 0.11f, 0.12f, 1.0f}};  // dark grey behind the panels

constexpr const char* kNoDisplayMessage =
    "Tensorscope could not open a window: no X display (DISPLAY is not set). Run a headless command "
    "such as `tensorscope train spiral-mlp`, or start it under a desktop session.";

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

// GLFW reports failures through a callback, not return values; keep the last
// one so an error message can quote it. GLFW is used on the main thread only.
std::string g_last_glfw_error;
void RememberGlfwError(int, const char* description) { g_last_glfw_error = description ? description : ""; }

// Initialises GLFW (idempotent) and checks it can create Vulkan surfaces.
void InitGlfw() {
  glfwSetErrorCallback(RememberGlfwError);  // allowed before glfwInit
  const char* display = std::getenv("DISPLAY");
  const char* wayland = std::getenv("WAYLAND_DISPLAY");
  if ((display == nullptr || *display == '\0') && (wayland == nullptr || *wayland == '\0'))
    throw Error(kNoDisplayMessage);
  if (glfwInit() != GLFW_TRUE)
    throw Error("Tensorscope could not open a window: GLFW could not start (" + g_last_glfw_error +
                "). Check that the display " + std::string(display ? display : "") +
                " is reachable, or run a headless command such as `tensorscope train spiral-mlp`.");
  if (glfwVulkanSupported() != GLFW_TRUE)
    throw Error("Tensorscope could not open a window: GLFW found no usable Vulkan loader (" + g_last_glfw_error +
                "). Install it with `sudo apt-get install libvulkan1 mesa-vulkan-drivers`.");
}

// Starts GLFW once per process and ends it at exit. Closing the X display
// between windows is not safe: Mesa's X11 WSI caches per-connection state,
// keyed by the xcb_connection_t pointer, for the VkInstance's lifetime; a new
// connection at a reused address then skips the XFixes handshake and the X
// server kills the process with BadRequest.
void StartGlfwForProcess() {
  InitGlfw();  // idempotent; throws before anything is registered
  static const struct TerminateAtExit {
    ~TerminateAtExit() { glfwTerminate(); }
  } terminate_at_exit;
}

std::vector<std::string> GlfwInstanceExtensions() {
  uint32_t count = 0;
  const char** names = glfwGetRequiredInstanceExtensions(&count);
  if (names == nullptr)
    throw Error("Tensorscope could not open a window: GLFW found no Vulkan surface extension for this "
                "display (" + g_last_glfw_error + "). Install the Vulkan loader and driver with "
                "`sudo apt-get install libvulkan1 mesa-vulkan-drivers`.");
  return std::vector<std::string>(names, names + count);
}

// True when the window's title strip overlaps some monitor's work area, so a
// remembered position from an unplugged monitor does not put it out of reach.
bool IsReachable(int x, int y, int width) {
  int count = 0;
  GLFWmonitor** monitors = glfwGetMonitors(&count);
  for (int i = 0; i < count; ++i) {
    int mx = 0, my = 0, mw = 0, mh = 0;
    glfwGetMonitorWorkarea(monitors[i], &mx, &my, &mw, &mh);
    int overlap_x = std::min(x + width, mx + mw) - std::max(x, mx);
    bool top_inside = y >= my && y < my + mh - 32;
    if (overlap_x >= 64 && top_inside) return true;
  }
  return false;
}

float PrimaryMonitorScale() {
  GLFWmonitor* monitor = glfwGetPrimaryMonitor();
  if (monitor == nullptr) return 1.0f;
  float x = 1.0f, y = 1.0f;
  glfwGetMonitorContentScale(monitor, &x, &y);
  return x > 0.0f ? x : 1.0f;
}

// UNORM formats, as ImGui's colours are authored for them (sRGB would wash them out).
VkSurfaceFormatKHR ChooseSurfaceFormat(VkPhysicalDevice physical_device, VkSurfaceKHR surface) {
  uint32_t count = 0;
  vk::Check(vkGetPhysicalDeviceSurfaceFormatsKHR(physical_device, surface, &count, nullptr),
            "vkGetPhysicalDeviceSurfaceFormatsKHR");
  std::vector<VkSurfaceFormatKHR> formats(count);
  vk::Check(vkGetPhysicalDeviceSurfaceFormatsKHR(physical_device, surface, &count, formats.data()),
            "vkGetPhysicalDeviceSurfaceFormatsKHR");
  formats.resize(count);
  if (formats.empty()) throw Error("The window's Vulkan surface reports no image formats.");
  if (formats.size() == 1 && formats[0].format == VK_FORMAT_UNDEFINED)  // "any format you like"
    return {VK_FORMAT_B8G8R8A8_UNORM, VK_COLOR_SPACE_SRGB_NONLINEAR_KHR};
  for (VkFormat wanted : {VK_FORMAT_B8G8R8A8_UNORM, VK_FORMAT_R8G8B8A8_UNORM})
    for (const VkSurfaceFormatKHR& f : formats)
      if (f.format == wanted && f.colorSpace == VK_COLOR_SPACE_SRGB_NONLINEAR_KHR) return f;
  return formats[0];
}

VkPresentModeKHR ChoosePresentMode(VkPhysicalDevice physical_device, VkSurfaceKHR surface, bool vsync) {
  if (vsync) return VK_PRESENT_MODE_FIFO_KHR;  // always supported
  uint32_t count = 0;
  vk::Check(vkGetPhysicalDeviceSurfacePresentModesKHR(physical_device, surface, &count, nullptr),
            "vkGetPhysicalDeviceSurfacePresentModesKHR");
  std::vector<VkPresentModeKHR> modes(count);
  vk::Check(vkGetPhysicalDeviceSurfacePresentModesKHR(physical_device, surface, &count, modes.data()),
            "vkGetPhysicalDeviceSurfacePresentModesKHR");
  for (VkPresentModeKHR wanted : {VK_PRESENT_MODE_MAILBOX_KHR, VK_PRESENT_MODE_IMMEDIATE_KHR})
    if (std::find(modes.begin(), modes.end(), wanted) != modes.end()) return wanted;
  return VK_PRESENT_MODE_FIFO_KHR;
}

bool IsBgra(VkFormat format) {
  return format == VK_FORMAT_B8G8R8A8_UNORM || format == VK_FORMAT_B8G8R8A8_SRGB;
}
bool IsRgba(VkFormat format) {
  return format == VK_FORMAT_R8G8B8A8_UNORM || format == VK_FORMAT_R8G8B8A8_SRGB;
}

void CheckImGuiVkResult(VkResult result) { vk::Check(result, "Dear ImGui's Vulkan backend"); }

}  // namespace

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
  fs::path config_path;
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
  vk::UniqueDescriptorPool descriptor_pool;
  Swapchain swapchain;
  VkExtent2D swapchain_request{0, 0};  // the framebuffer size the swapchain was made for

  bool imgui_context = false, imgui_glfw = false, imgui_vulkan = false;
  bool frame_open = false;    // between BeginFrame and EndFrame
  bool frame_drawn = false;   // ImGui::GetDrawData() holds a finished frame
  WindowPlacement placement;  // last normal (not minimised / maximised) placement
};

Renderer::Impl::~Impl() {
  try {
    // ImGui's and our Vulkan objects may still be used by queued frames.
    if (device != VK_NULL_HANDLE) context.WaitQueueIdle();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "Tensorscope: waiting for the GPU while closing the window failed: %s\n", e.what());
  }
  if (window && !config_path.empty() && options.remember_placement) {
    RememberPlacement();
    placement.maximized = glfwGetWindowAttrib(window.get(), GLFW_MAXIMIZED) == GLFW_TRUE;
    if (placement.width > 0) SavePlacement(config_path / "window.json", placement);
  }
  if (imgui_vulkan) ImGui_ImplVulkan_Shutdown();
  if (imgui_glfw) ImGui_ImplGlfw_Shutdown();
  if (imgui_context) ImGui::DestroyContext();  // writes imgui.ini
  // The remaining members release themselves in reverse order of declaration.
}

void Renderer::Impl::Open(const RendererOptions& opts) {
  options = opts;
  StartGlfwForProcess();
  // The context must have been made with the window extensions; say so plainly
  // rather than fail later with VK_ERROR_EXTENSION_NOT_PRESENT.
  auto has = [](const std::vector<std::string>& names, const std::string& name) {
    return std::find(names.begin(), names.end(), name) != names.end();
  };
  std::vector<std::string> missing;
  for (const std::string& name : GlfwInstanceExtensions())
    if (!has(context.instance_extensions(), name)) missing.push_back(name);
  if (!has(context.device_extensions(), VK_KHR_SWAPCHAIN_EXTENSION_NAME))
    missing.push_back(VK_KHR_SWAPCHAIN_EXTENSION_NAME);
  if (!missing.empty()) {
    std::string list;
    for (const std::string& name : missing) list += (list.empty() ? "" : ", ") + name;
    throw Error("The Vulkan context was created without the window extensions (" + list +
                "); pass its ContextOptions through ui::Renderer::AddRequiredExtensions first.");
  }

  SetUpConfigDir();
  OpenWindow();
  CreateSurface();
  CreateRenderPass();
  CreateSmallPass();
  CreateFrames();
  CreateDescriptorPool();
  RecreateSwapchain();
  SetUpImGui();
}

void Renderer::Impl::SetUpConfigDir() {
  if (!options.remember_placement) return;
  fs::path dir = options.config_dir.empty() ? DefaultConfigDir() : fs::path(options.config_dir);
  if (dir.empty()) return;
  std::error_code error;
  fs::create_directories(dir, error);
  if (error) {
    std::fprintf(stderr, "Tensorscope: cannot create %s (%s); the window layout will not be remembered.\n",
                 dir.c_str(), error.message().c_str());
    return;
  }
  config_path = dir;
  config_dir_text = dir.string();
  ini_path = (dir / "imgui.ini").string();
}

void Renderer::Impl::OpenWindow() {
  std::optional<WindowPlacement> saved;
  if (!config_path.empty()) saved = LoadPlacement(config_path / "window.json");

  int width = options.width, height = options.height;
  if (saved) {
    width = saved->width;
    height = saved->height;
  } else {
    // A default size in screen coordinates grows with the monitor's scale.
    float scale = PrimaryMonitorScale();
    width = static_cast<int>(std::lround(width * scale));
    height = static_cast<int>(std::lround(height * scale));
  }
  if (GLFWmonitor* primary = glfwGetPrimaryMonitor()) {
    int mx = 0, my = 0, mw = 0, mh = 0;
    glfwGetMonitorWorkarea(primary, &mx, &my, &mw, &mh);
    if (mw > 0 && mh > 0) width = std::min(width, mw), height = std::min(height, mh);
  }

  glfwDefaultWindowHints();
  glfwWindowHint(GLFW_CLIENT_API, GLFW_NO_API);  // Vulkan draws, not OpenGL
  glfwWindowHint(GLFW_VISIBLE, GLFW_FALSE);      // shown once placed, so it does not jump
  g_last_glfw_error.clear();
  window.reset(glfwCreateWindow(width, height, options.title.c_str(), nullptr, nullptr));
  if (!window)
    throw Error("Tensorscope could not open a window: GLFW could not create it (" + g_last_glfw_error + ").");
  if (saved && IsReachable(saved->x, saved->y, saved->width)) glfwSetWindowPos(window.get(), saved->x, saved->y);
  glfwShowWindow(window.get());
  RememberPlacement();  // before maximising, so the normal size is known
  if (saved && saved->maximized) glfwMaximizeWindow(window.get());

  float x_scale = 1.0f, y_scale = 1.0f;
  glfwGetWindowContentScale(window.get(), &x_scale, &y_scale);
  content_scale = x_scale > 0.0f ? x_scale : 1.0f;
}

void Renderer::Impl::CreateSurface() {
  VkSurfaceKHR handle = VK_NULL_HANDLE;
  vk::Check(glfwCreateWindowSurface(context.instance(), window.get(), nullptr, &handle),
            "Creating the window's Vulkan surface (glfwCreateWindowSurface)");
  surface = UniqueSurface(context.instance(), handle);

  // The GUI draws on the context's one queue, so that queue's family must be
  // able to draw and to present to this window.
  VkPhysicalDevice physical_device = context.physical_device();
  uint32_t family_count = 0;
  vkGetPhysicalDeviceQueueFamilyProperties(physical_device, &family_count, nullptr);
  std::vector<VkQueueFamilyProperties> families(family_count);
  vkGetPhysicalDeviceQueueFamilyProperties(physical_device, &family_count, families.data());
  VkBool32 can_present = VK_FALSE;
  vk::Check(vkGetPhysicalDeviceSurfaceSupportKHR(physical_device, context.queue_family(), handle, &can_present),
            "vkGetPhysicalDeviceSurfaceSupportKHR");
  bool can_draw = (families[context.queue_family()].queueFlags & VK_QUEUE_GRAPHICS_BIT) != 0;
  if (!can_present || !can_draw)
    throw Error("Vulkan device '" + context.info().name + "' cannot " + (can_draw ? "present to" : "draw") +
                " this window from its compute queue (queue family " + std::to_string(context.queue_family()) +
                "). Tensorscope shares one queue between training and drawing, so it needs a device whose "
                "compute queue can also draw and present. Choose another device with --device, or run a "
                "headless command such as `tensorscope train spiral-mlp`.");
  surface_format = ChooseSurfaceFormat(physical_device, handle);
  present_mode = ChoosePresentMode(physical_device, handle, options.vsync);
}

// Why an empty 1x1 pass ends every frame: the compute engine shares this
// queue, and a CPU driver keeps the last render pass's framebuffer bound in
// its rasterizer. Mesa's lavapipe/llvmpipe then puts every compute timestamp
// into a rasterizer scene covering that framebuffer, and each pipeline barrier
// the compute work records flushes that scene, visiting every 64x64 tile: with
// the window's 1440x900 framebuffer bound that cost about 40 us per barrier,
// tripling the time of a training step's small dispatches. Leaving a 1x1
// framebuffer bound makes the scene one tile. (Timestamps themselves are kept
// honest in vk::Sequence; see RecordTimestampFence.) On GPUs the pass draws
// nothing and costs nothing measurable.
void Renderer::Impl::CreateSmallPass() {
  VkSubpassDescription subpass{};
  subpass.pipelineBindPoint = VK_PIPELINE_BIND_POINT_GRAPHICS;
  VkRenderPassCreateInfo create{VK_STRUCTURE_TYPE_RENDER_PASS_CREATE_INFO};
  create.subpassCount = 1;
  create.pSubpasses = &subpass;
  VkRenderPass pass = VK_NULL_HANDLE;
  vk::Check(vkCreateRenderPass(device, &create, nullptr, &pass), "vkCreateRenderPass (1x1 pass)");
  small_pass = UniqueRenderPass(device, pass);
  VkFramebufferCreateInfo framebuffer{VK_STRUCTURE_TYPE_FRAMEBUFFER_CREATE_INFO};
  framebuffer.renderPass = pass;
  framebuffer.width = 1;
  framebuffer.height = 1;
  framebuffer.layers = 1;
  VkFramebuffer handle = VK_NULL_HANDLE;
  vk::Check(vkCreateFramebuffer(device, &framebuffer, nullptr, &handle), "vkCreateFramebuffer (1x1 pass)");
  small_framebuffer = UniqueFramebuffer(device, handle);
}

void Renderer::Impl::CreateRenderPass() {
  VkAttachmentDescription color{};
  color.format = surface_format.format;
  color.samples = VK_SAMPLE_COUNT_1_BIT;
  color.loadOp = VK_ATTACHMENT_LOAD_OP_CLEAR;
  color.storeOp = VK_ATTACHMENT_STORE_OP_STORE;
  color.stencilLoadOp = VK_ATTACHMENT_LOAD_OP_DONT_CARE;
  color.stencilStoreOp = VK_ATTACHMENT_STORE_OP_DONT_CARE;
  color.initialLayout = VK_IMAGE_LAYOUT_UNDEFINED;  // every pixel is cleared
  color.finalLayout = VK_IMAGE_LAYOUT_PRESENT_SRC_KHR;
  VkAttachmentReference color_ref{0, VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL};
  VkSubpassDescription subpass{};
  subpass.pipelineBindPoint = VK_PIPELINE_BIND_POINT_GRAPHICS;
  subpass.colorAttachmentCount = 1;
  subpass.pColorAttachments = &color_ref;

  std::array<VkSubpassDependency, 2> dependencies{};
  // The image-acquired semaphore is waited on at COLOR_ATTACHMENT_OUTPUT; the
  // clear and the layout transition must not start before that wait.
  dependencies[0].srcSubpass = VK_SUBPASS_EXTERNAL;
  dependencies[0].dstSubpass = 0;
  dependencies[0].srcStageMask = VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT;
  dependencies[0].dstStageMask = VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT;
  dependencies[0].srcAccessMask = 0;
  dependencies[0].dstAccessMask = VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT;
  // A screenshot copies the image right after the pass: make the drawing
  // visible to that transfer read.
  dependencies[1].srcSubpass = 0;
  dependencies[1].dstSubpass = VK_SUBPASS_EXTERNAL;
  dependencies[1].srcStageMask = VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT;
  dependencies[1].dstStageMask = VK_PIPELINE_STAGE_TRANSFER_BIT;
  dependencies[1].srcAccessMask = VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT;
  dependencies[1].dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT;

  VkRenderPassCreateInfo create{VK_STRUCTURE_TYPE_RENDER_PASS_CREATE_INFO};
  create.attachmentCount = 1;
  create.pAttachments = &color;
  create.subpassCount = 1;
  create.pSubpasses = &subpass;
  create.dependencyCount = static_cast<uint32_t>(dependencies.size());
  create.pDependencies = dependencies.data();
  VkRenderPass handle = VK_NULL_HANDLE;
  vk::Check(vkCreateRenderPass(device, &create, nullptr, &handle), "vkCreateRenderPass");
  render_pass = UniqueRenderPass(device, handle);
}

void Renderer::Impl::CreateFrames() {
  VkCommandPoolCreateInfo pool{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
  pool.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;  // each frame re-records its buffer
  pool.queueFamilyIndex = context.queue_family();
  VkCommandPool pool_handle = VK_NULL_HANDLE;
  vk::Check(vkCreateCommandPool(device, &pool, nullptr, &pool_handle), "vkCreateCommandPool");
  command_pool = vk::UniqueCommandPool(device, pool_handle);

  std::array<VkCommandBuffer, kFramesInFlight> buffers{};
  VkCommandBufferAllocateInfo allocate{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
  allocate.commandPool = pool_handle;
  allocate.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  allocate.commandBufferCount = kFramesInFlight;
  vk::Check(vkAllocateCommandBuffers(device, &allocate, buffers.data()), "vkAllocateCommandBuffers");

  for (uint32_t i = 0; i < kFramesInFlight; ++i) {
    frames[i].commands = buffers[i];
    VkFenceCreateInfo fence{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    fence.flags = VK_FENCE_CREATE_SIGNALED_BIT;  // the first wait on it returns at once
    VkFence fence_handle = VK_NULL_HANDLE;
    vk::Check(vkCreateFence(device, &fence, nullptr, &fence_handle), "vkCreateFence");
    frames[i].done = vk::UniqueFence(device, fence_handle);
    VkSemaphoreCreateInfo semaphore{VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO};
    VkSemaphore semaphore_handle = VK_NULL_HANDLE;
    vk::Check(vkCreateSemaphore(device, &semaphore, nullptr, &semaphore_handle), "vkCreateSemaphore");
    frames[i].image_acquired = UniqueSemaphore(device, semaphore_handle);
  }
}

void Renderer::Impl::CreateDescriptorPool() {
  // ImGui 1.86 needs one combined image sampler (the font atlas); a little
  // headroom costs nothing.
  VkDescriptorPoolSize size{VK_DESCRIPTOR_TYPE_COMBINED_IMAGE_SAMPLER, 8};
  VkDescriptorPoolCreateInfo create{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
  create.flags = VK_DESCRIPTOR_POOL_CREATE_FREE_DESCRIPTOR_SET_BIT;
  create.maxSets = 8;
  create.poolSizeCount = 1;
  create.pPoolSizes = &size;
  VkDescriptorPool handle = VK_NULL_HANDLE;
  vk::Check(vkCreateDescriptorPool(device, &create, nullptr, &handle), "vkCreateDescriptorPool");
  descriptor_pool = vk::UniqueDescriptorPool(device, handle);
}

void Renderer::Impl::SetUpImGui() {
  IMGUI_CHECKVERSION();
  ImGui::CreateContext();
  imgui_context = true;
  ImGuiIO& io = ImGui::GetIO();
  io.IniFilename = ini_path.empty() ? nullptr : ini_path.c_str();
  io.ConfigFlags |= ImGuiConfigFlags_NavEnableKeyboard;
  ImGui::StyleColorsDark();
  ImGui::GetStyle().Colors[ImGuiCol_ModalWindowDimBg] = ImVec4(0.0f, 0.0f, 0.0f, 0.45f);  // dim, not wash out
  ImGui::GetStyle().ScaleAllSizes(content_scale);
  LoadFont(content_scale);
  AddSpritesToAtlas(ImGui::GetIO().Fonts);

  imgui_glfw = ImGui_ImplGlfw_InitForVulkan(window.get(), /*install_callbacks=*/true);
  if (!imgui_glfw) throw Error("Dear ImGui's GLFW backend could not start.");

  // ImGui 1.86 only checks that a queue is given; it never submits on it (we
  // do, through the Context), so the context's queue handle is looked up here.
  VkQueue queue = VK_NULL_HANDLE;
  vkGetDeviceQueue(device, context.queue_family(), 0, &queue);
  ImGui_ImplVulkan_InitInfo info{};
  info.Instance = context.instance();
  info.PhysicalDevice = context.physical_device();
  info.Device = device;
  info.QueueFamily = context.queue_family();
  info.Queue = queue;
  info.PipelineCache = VK_NULL_HANDLE;
  info.DescriptorPool = descriptor_pool.get();
  info.Subpass = 0;
  info.MinImageCount = 2;
  // ImGui rotates its vertex buffers over ImageCount frames; keeping it at
  // least the frames in flight means it never rewrites a buffer still in use.
  info.ImageCount = std::max<uint32_t>(kFramesInFlight, static_cast<uint32_t>(swapchain.images.size()));
  info.MSAASamples = VK_SAMPLE_COUNT_1_BIT;
  info.Allocator = nullptr;
  info.CheckVkResultFn = CheckImGuiVkResult;
  imgui_vulkan = ImGui_ImplVulkan_Init(&info, render_pass.get());
  if (!imgui_vulkan) throw Error("Dear ImGui's Vulkan backend could not start.");

  PaintSpritesIntoAtlas(ImGui::GetIO().Fonts);  // builds the atlas; the upload below sends the sprites too
  // 1.86 records the font upload into a command buffer we submit.
  context.RunOnce([](VkCommandBuffer commands) { ImGui_ImplVulkan_CreateFontsTexture(commands); });
  ImGui_ImplVulkan_DestroyFontUploadObjects();
}

void Renderer::Impl::LoadFont(float scale) {
  ImGuiIO& io = ImGui::GetIO();
  float pixels = std::round(kFontPixels * scale);
  std::error_code error;
  if (fs::is_regular_file(kFontPath, error)) {
    ImFontConfig config;
    config.OversampleH = 2;  // crisper at small sizes
    if (io.Fonts->AddFontFromFileTTF(kFontPath, pixels, &config) != nullptr) return;
    font_note = std::string("Could not load ") + kFontPath + "; using Dear ImGui's built-in font.";
  } else {
    font_note = std::string(kFontPath) +
                " is missing, so Dear ImGui's built-in font is used. Install DejaVu Sans with "
                "`sudo apt-get install fonts-dejavu-core` for clearer text.";
  }
  std::fprintf(stderr, "Tensorscope: %s\n", font_note.c_str());
  ImFontConfig config;
  config.SizePixels = std::round(13.0f * scale);  // the built-in font's native size, scaled
  io.Fonts->AddFontDefault(&config);
}

VkExtent2D Renderer::Impl::FramebufferExtent() const {
  int width = 0, height = 0;
  glfwGetFramebufferSize(window.get(), &width, &height);
  return {static_cast<uint32_t>(std::max(width, 0)), static_cast<uint32_t>(std::max(height, 0))};
}

void Renderer::Impl::WaitForFrames() {
  std::array<VkFence, kFramesInFlight> fences{};
  for (uint32_t i = 0; i < kFramesInFlight; ++i) fences[i] = frames[i].done.get();
  vk::Check(vkWaitForFences(device, kFramesInFlight, fences.data(), VK_TRUE, UINT64_MAX),
            "vkWaitForFences (waiting for the window's frames)");
}

void Renderer::Impl::RecreateSwapchain() {
  VkPhysicalDevice physical_device = context.physical_device();
  swapchain_request = FramebufferExtent();
  // The old images, views and semaphores may still be used by queued frames and
  // presentation. Queue idle (not device idle) keeps to the shared queue's lock.
  context.WaitQueueIdle();

  VkSurfaceCapabilitiesKHR caps{};
  vk::Check(vkGetPhysicalDeviceSurfaceCapabilitiesKHR(physical_device, surface.get(), &caps),
            "vkGetPhysicalDeviceSurfaceCapabilitiesKHR");
  VkExtent2D extent = caps.currentExtent;
  if (extent.width == UINT32_MAX) {  // the surface takes its size from the swapchain
    extent.width = std::clamp(swapchain_request.width, caps.minImageExtent.width, caps.maxImageExtent.width);
    extent.height = std::clamp(swapchain_request.height, caps.minImageExtent.height, caps.maxImageExtent.height);
  }
  Swapchain old = std::move(swapchain);
  swapchain = Swapchain{};
  if (extent.width == 0 || extent.height == 0) return;  // minimised: nothing to draw into

  uint32_t image_count = caps.minImageCount + 1;  // one spare, so acquiring rarely waits
  if (caps.maxImageCount != 0) image_count = std::min(image_count, caps.maxImageCount);
  VkSwapchainCreateInfoKHR create{VK_STRUCTURE_TYPE_SWAPCHAIN_CREATE_INFO_KHR};
  create.surface = surface.get();
  create.minImageCount = image_count;
  create.imageFormat = surface_format.format;
  create.imageColorSpace = surface_format.colorSpace;
  create.imageExtent = extent;
  create.imageArrayLayers = 1;
  create.imageUsage = VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT;
  swapchain.can_read_back = (caps.supportedUsageFlags & VK_IMAGE_USAGE_TRANSFER_SRC_BIT) != 0;
  if (swapchain.can_read_back) create.imageUsage |= VK_IMAGE_USAGE_TRANSFER_SRC_BIT;  // for screenshots
  create.imageSharingMode = VK_SHARING_MODE_EXCLUSIVE;
  create.preTransform = caps.currentTransform;
  create.compositeAlpha = VK_COMPOSITE_ALPHA_OPAQUE_BIT_KHR;
  if (!(caps.supportedCompositeAlpha & VK_COMPOSITE_ALPHA_OPAQUE_BIT_KHR))
    for (VkCompositeAlphaFlagBitsKHR alpha : {VK_COMPOSITE_ALPHA_INHERIT_BIT_KHR, VK_COMPOSITE_ALPHA_PRE_MULTIPLIED_BIT_KHR,
                                              VK_COMPOSITE_ALPHA_POST_MULTIPLIED_BIT_KHR})
      if (caps.supportedCompositeAlpha & alpha) {
        create.compositeAlpha = alpha;
        break;
      }
  create.presentMode = present_mode;
  // Not clipped: a screenshot must see every pixel, even under another window.
  create.clipped = VK_FALSE;
  create.oldSwapchain = old.handle.get();
  VkSwapchainKHR handle = VK_NULL_HANDLE;
  vk::Check(vkCreateSwapchainKHR(device, &create, nullptr, &handle), "vkCreateSwapchainKHR");
  swapchain.handle = UniqueSwapchain(device, handle);
  swapchain.extent = extent;
  old = Swapchain{};  // retired by oldSwapchain; release it now

  uint32_t count = 0;
  vk::Check(vkGetSwapchainImagesKHR(device, handle, &count, nullptr), "vkGetSwapchainImagesKHR");
  swapchain.images.resize(count);
  vk::Check(vkGetSwapchainImagesKHR(device, handle, &count, swapchain.images.data()), "vkGetSwapchainImagesKHR");
  for (VkImage image : swapchain.images) {
    VkImageViewCreateInfo view{VK_STRUCTURE_TYPE_IMAGE_VIEW_CREATE_INFO};
    view.image = image;
    view.viewType = VK_IMAGE_VIEW_TYPE_2D;
    view.format = surface_format.format;
    view.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
    VkImageView view_handle = VK_NULL_HANDLE;
    vk::Check(vkCreateImageView(device, &view, nullptr, &view_handle), "vkCreateImageView");
    swapchain.views.emplace_back(device, view_handle);

    VkFramebufferCreateInfo framebuffer{VK_STRUCTURE_TYPE_FRAMEBUFFER_CREATE_INFO};
    framebuffer.renderPass = render_pass.get();
    framebuffer.attachmentCount = 1;
    framebuffer.pAttachments = &view_handle;
    framebuffer.width = extent.width;
    framebuffer.height = extent.height;
    framebuffer.layers = 1;
    VkFramebuffer framebuffer_handle = VK_NULL_HANDLE;
    vk::Check(vkCreateFramebuffer(device, &framebuffer, nullptr, &framebuffer_handle), "vkCreateFramebuffer");
    swapchain.framebuffers.emplace_back(device, framebuffer_handle);

    VkSemaphoreCreateInfo semaphore{VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO};
    VkSemaphore semaphore_handle = VK_NULL_HANDLE;
    vk::Check(vkCreateSemaphore(device, &semaphore, nullptr, &semaphore_handle), "vkCreateSemaphore");
    swapchain.render_finished.emplace_back(device, semaphore_handle);
  }
}

bool Renderer::Impl::RenderFrame(ImDrawData* draw_data, Capture* capture) {
  if (!swapchain.handle) return false;
  Frame& frame = frames[frame_index];
  VkFence fence = frame.done.get();
  // Wait until this frame slot's previous commands finished, so its command
  // buffer and semaphore can be reused.
  vk::Check(vkWaitForFences(device, 1, &fence, VK_TRUE, UINT64_MAX), "vkWaitForFences (window frame)");

  uint32_t image_index = 0;
  VkResult acquired = vkAcquireNextImageKHR(device, swapchain.handle.get(), UINT64_MAX,
                                            frame.image_acquired.get(), VK_NULL_HANDLE, &image_index);
  if (acquired == VK_ERROR_OUT_OF_DATE_KHR) {  // resized under us; the semaphore was not signalled
    RecreateSwapchain();
    return false;
  }
  if (acquired != VK_SUBOPTIMAL_KHR) vk::Check(acquired, "vkAcquireNextImageKHR");
  vk::Check(vkResetFences(device, 1, &fence), "vkResetFences");  // only now: a submit follows for sure

  VkCommandBuffer commands = frame.commands;
  vk::Check(vkResetCommandBuffer(commands, 0), "vkResetCommandBuffer");
  VkCommandBufferBeginInfo begin{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  begin.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
  vk::Check(vkBeginCommandBuffer(commands, &begin), "vkBeginCommandBuffer (window frame)");
  VkClearValue clear{};
  clear.color = kClearColor;
  VkRenderPassBeginInfo pass{VK_STRUCTURE_TYPE_RENDER_PASS_BEGIN_INFO};
  pass.renderPass = render_pass.get();
  pass.framebuffer = swapchain.framebuffers[image_index].get();
  pass.renderArea.extent = swapchain.extent;
  pass.clearValueCount = 1;
  pass.pClearValues = &clear;
  vkCmdBeginRenderPass(commands, &pass, VK_SUBPASS_CONTENTS_INLINE);
  ImGui_ImplVulkan_RenderDrawData(draw_data, commands);
  vkCmdEndRenderPass(commands);
  if (capture != nullptr) RecordCapture(commands, swapchain.images[image_index], *capture);
  VkRenderPassBeginInfo small{VK_STRUCTURE_TYPE_RENDER_PASS_BEGIN_INFO};
  small.renderPass = small_pass.get();
  small.framebuffer = small_framebuffer.get();
  small.renderArea.extent = {1, 1};
  vkCmdBeginRenderPass(commands, &small, VK_SUBPASS_CONTENTS_INLINE);  // see CreateSmallPass
  vkCmdEndRenderPass(commands);
  vk::Check(vkEndCommandBuffer(commands), "vkEndCommandBuffer (window frame)");

  VkSemaphore wait = frame.image_acquired.get();
  VkSemaphore signal = swapchain.render_finished[image_index].get();
  VkPipelineStageFlags wait_stage = VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT;
  VkSubmitInfo submit{VK_STRUCTURE_TYPE_SUBMIT_INFO};
  submit.waitSemaphoreCount = 1;
  submit.pWaitSemaphores = &wait;
  submit.pWaitDstStageMask = &wait_stage;
  submit.commandBufferCount = 1;
  submit.pCommandBuffers = &commands;
  submit.signalSemaphoreCount = 1;
  submit.pSignalSemaphores = &signal;
  context.Submit(submit, fence);

  VkSwapchainKHR swapchain_handle = swapchain.handle.get();
  VkPresentInfoKHR present{VK_STRUCTURE_TYPE_PRESENT_INFO_KHR};
  present.waitSemaphoreCount = 1;
  present.pWaitSemaphores = &signal;
  present.swapchainCount = 1;
  present.pSwapchains = &swapchain_handle;
  present.pImageIndices = &image_index;
  VkResult presented = context.Present(present);
  frame_index = (frame_index + 1) % kFramesInFlight;

  if (acquired == VK_SUBOPTIMAL_KHR || presented == VK_SUBOPTIMAL_KHR || presented == VK_ERROR_OUT_OF_DATE_KHR)
    RecreateSwapchain();
  return true;
}

void Renderer::Impl::RecordCapture(VkCommandBuffer commands, VkImage image, Capture& capture) {
  capture.extent = swapchain.extent;
  capture.format = surface_format.format;
  capture.pixels.emplace(context, uint64_t{capture.extent.width} * capture.extent.height * 4, "screenshot pixels",
                         vk::BufferUse::kStaging);

  VkImageMemoryBarrier to_transfer{VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER};
  // The render pass's final dependency already made the drawing visible to
  // transfer reads; this only changes the layout for the copy.
  to_transfer.srcAccessMask = 0;
  to_transfer.dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT;
  to_transfer.oldLayout = VK_IMAGE_LAYOUT_PRESENT_SRC_KHR;
  to_transfer.newLayout = VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL;
  to_transfer.srcQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
  to_transfer.dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
  to_transfer.image = image;
  to_transfer.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
  vkCmdPipelineBarrier(commands, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 0, nullptr, 0,
                       nullptr, 1, &to_transfer);

  VkBufferImageCopy region{};
  region.bufferRowLength = 0;  // tightly packed
  region.imageSubresource = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1};
  region.imageExtent = {capture.extent.width, capture.extent.height, 1};
  vkCmdCopyImageToBuffer(commands, image, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL, capture.pixels->handle(), 1,
                         &region);

  // Back to the layout presentation expects; the present waits on the
  // render-finished semaphore, which covers the copy.
  VkImageMemoryBarrier to_present = to_transfer;
  to_present.srcAccessMask = 0;  // a read leaves nothing to make available
  to_present.dstAccessMask = 0;
  to_present.oldLayout = VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL;
  to_present.newLayout = VK_IMAGE_LAYOUT_PRESENT_SRC_KHR;
  // The copied bytes must be visible to the host once the frame's fence signals.
  VkBufferMemoryBarrier to_host{VK_STRUCTURE_TYPE_BUFFER_MEMORY_BARRIER};
  to_host.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
  to_host.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
  to_host.srcQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
  to_host.dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
  to_host.buffer = capture.pixels->handle();
  to_host.size = VK_WHOLE_SIZE;
  vkCmdPipelineBarrier(commands, VK_PIPELINE_STAGE_TRANSFER_BIT,
                       VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT | VK_PIPELINE_STAGE_HOST_BIT, 0, 0, nullptr, 1, &to_host,
                       1, &to_present);
}

void Renderer::Impl::RememberPlacement() {
  GLFWwindow* w = window.get();
  if (glfwGetWindowAttrib(w, GLFW_ICONIFIED) || glfwGetWindowAttrib(w, GLFW_MAXIMIZED)) return;
  glfwGetWindowPos(w, &placement.x, &placement.y);
  glfwGetWindowSize(w, &placement.width, &placement.height);
}

// --- Renderer ---------------------------------------------------------------

void Renderer::AddRequiredExtensions(vk::ContextOptions& options) {
  StartGlfwForProcess();
  auto add = [](std::vector<std::string>& names, const std::string& name) {
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  };
  for (const std::string& name : GlfwInstanceExtensions()) add(options.instance_extensions, name);
  add(options.device_extensions, VK_KHR_SWAPCHAIN_EXTENSION_NAME);
}

Renderer::Renderer(vk::Context& context, const RendererOptions& options)
    : impl_(std::make_unique<Impl>(context)) {
  impl_->Open(options);  // on a throw, ~Impl releases whatever was set up
}

Renderer::~Renderer() = default;

bool Renderer::BeginFrame() {
  Impl& r = *impl_;
  assert(!r.frame_open && "BeginFrame called twice without EndFrame");
  GLFWwindow* w = r.window.get();
  glfwPollEvents();
  // Minimised: sleep in the event loop rather than spin, until restored or closed.
  while (!glfwWindowShouldClose(w) && (r.FramebufferExtent().width == 0 || r.FramebufferExtent().height == 0))
    glfwWaitEventsTimeout(0.25);
  if (glfwWindowShouldClose(w)) return false;
  r.RememberPlacement();
  ImGui_ImplVulkan_NewFrame();
  ImGui_ImplGlfw_NewFrame();
  ImGui::NewFrame();
  r.frame_open = true;
  return true;
}

void Renderer::EndFrame() {
  Impl& r = *impl_;
  assert(r.frame_open && "EndFrame called without BeginFrame");
  r.frame_open = false;
  ImGui::Render();
  r.frame_drawn = true;
  VkExtent2D size = r.FramebufferExtent();
  if (size.width != r.swapchain_request.width || size.height != r.swapchain_request.height) r.RecreateSwapchain();
  r.RenderFrame(ImGui::GetDrawData(), nullptr);
}

bool Renderer::SaveScreenshot(const std::string& png_path) {
  Impl& r = *impl_;
  assert(!r.frame_open && "SaveScreenshot must be called between EndFrame and the next BeginFrame");
  ImDrawData* draw_data = ImGui::GetDrawData();
  if (!r.frame_drawn || draw_data == nullptr || r.frame_open) return false;
  if (r.swapchain.handle && !r.swapchain.can_read_back)
    throw Error("This Vulkan driver cannot copy from the window's swapchain images "
                "(no VK_IMAGE_USAGE_TRANSFER_SRC_BIT), so Tensorscope cannot take screenshots with it.");
  VkFormat format = r.surface_format.format;
  if (!IsBgra(format) && !IsRgba(format))
    throw Error("Screenshots need an 8-bit RGBA or BGRA window, but this one uses Vulkan format " +
                std::to_string(static_cast<int>(format)) + ".");

  Impl::Capture capture;
  // A second try covers a swapchain found out of date (and recreated) on the first.
  bool drawn = r.RenderFrame(draw_data, &capture) || r.RenderFrame(draw_data, &capture);
  if (!drawn || !capture.pixels) return false;
  r.WaitForFrames();

  const uint32_t width = capture.extent.width, height = capture.extent.height;
  const auto* source = static_cast<const uint8_t*>(capture.pixels->mapped());
  assert(source != nullptr && "staging buffers are host-visible");
  std::vector<uint8_t> rgba(size_t{width} * height * 4);
  const bool swap_red_blue = IsBgra(capture.format);
  for (size_t i = 0; i < rgba.size(); i += 4) {
    rgba[i + 0] = source[i + (swap_red_blue ? 2 : 0)];
    rgba[i + 1] = source[i + 1];
    rgba[i + 2] = source[i + (swap_red_blue ? 0 : 2)];
    rgba[i + 3] = 255;  // the window is opaque whatever alpha the blending left
  }
  errno = 0;
  if (stbi_write_png(png_path.c_str(), static_cast<int>(width), static_cast<int>(height), 4, rgba.data(),
                     static_cast<int>(width * 4)) == 0)
    throw Error("Could not write the screenshot to '" + png_path + "'" +
                (errno != 0 ? std::string(": ") + std::strerror(errno) : std::string()) +
                ". Check that its folder exists and is writable.");
  return true;
}

GLFWwindow* Renderer::window() const { return impl_->window.get(); }
int Renderer::framebuffer_width() const { return static_cast<int>(impl_->FramebufferExtent().width); }
int Renderer::framebuffer_height() const { return static_cast<int>(impl_->FramebufferExtent().height); }
float Renderer::content_scale() const { return impl_->content_scale; }
const std::string& Renderer::config_dir() const { return impl_->config_dir_text; }
const std::string& Renderer::font_note() const { return impl_->font_note; }

}  // namespace ts::ui
