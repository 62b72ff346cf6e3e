// The renderer's window and lifetime: GLFW, the Vulkan surface, Dear ImGui and
// its font, the remembered placement, and the frame loop's entry points. The
// drawing itself (passes, swapchain, frames, screenshots) is in renderer_frames.cpp.
#include "ui/renderer.h"

#include "imgui_impl_glfw.h"
#include "imgui_impl_vulkan.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cassert>
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "compute/common/error.h"
#include "compute/vk/check.h"
#include "ui/panel_layout.h"
#include "ui/renderer_impl.h"
#include "ui/widgets/sprites.h"

namespace ts::ui {
namespace {

namespace fs = std::filesystem;

constexpr float kFontPixels = 15.0f;  // DejaVu Sans size at content scale 1
constexpr const char* kFontPath = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
constexpr const char* kNoDisplayMessage =
    "Tensorscope could not open a window: no X display (DISPLAY is not set). Run a headless command "
    "such as `tensorscope train spiral-mlp`, or start it under a desktop session.";

// GLFW reports failures through a callback, not return values; keep the last
// one so an error message can quote it. GLFW is used on the main thread only.
std::string g_last_glfw_error;
void RememberGlfwError(int, const char* description) { g_last_glfw_error = description ? description : ""; }

// Input seen by the window, counted by callbacks that run before ImGui's own
// (chained: each calls the one it replaced). One window per process.
std::atomic<uint64_t> g_input_events{0};
GLFWmousebuttonfun g_mouse_button = nullptr;
GLFWcursorposfun g_cursor_pos = nullptr;
GLFWcursorenterfun g_cursor_enter = nullptr;
GLFWscrollfun g_scroll = nullptr;
GLFWkeyfun g_key = nullptr;
GLFWcharfun g_char = nullptr;
GLFWwindowfocusfun g_focus = nullptr;
GLFWwindowsizefun g_size = nullptr;
GLFWwindowrefreshfun g_refresh = nullptr;

// ImGui 1.86 reads key state once a frame, so a press and release that arrive
// between two frames (a fast typist's Enter, xdotool) would never be seen:
// such a release is held back until the end of the next frame.
struct HeldRelease {
  GLFWwindow* window;
  int key, scancode, mods;
};
std::vector<HeldRelease> g_held_releases;
std::array<bool, GLFW_KEY_LAST + 1> g_pressed_this_poll{};

void DeliverHeldReleases() {
  for (const HeldRelease& r : g_held_releases)
    if (g_key) g_key(r.window, r.key, r.scancode, GLFW_RELEASE, r.mods);
  g_held_releases.clear();
  g_pressed_this_poll.fill(false);
}

void CountInput(GLFWwindow* window) {
  g_mouse_button = glfwSetMouseButtonCallback(window, [](GLFWwindow* w, int button, int action, int mods) {
    ++g_input_events;
    if (g_mouse_button) g_mouse_button(w, button, action, mods);
  });
  g_cursor_pos = glfwSetCursorPosCallback(window, [](GLFWwindow* w, double x, double y) {
    ++g_input_events;
    if (g_cursor_pos) g_cursor_pos(w, x, y);
  });
  g_cursor_enter = glfwSetCursorEnterCallback(window, [](GLFWwindow* w, int entered) {
    ++g_input_events;
    if (g_cursor_enter) g_cursor_enter(w, entered);
  });
  g_scroll = glfwSetScrollCallback(window, [](GLFWwindow* w, double x, double y) {
    ++g_input_events;
    if (g_scroll) g_scroll(w, x, y);
  });
  g_key = glfwSetKeyCallback(window, [](GLFWwindow* w, int key, int scancode, int action, int mods) {
    ++g_input_events;
    if (key >= 0 && key <= GLFW_KEY_LAST) {
      if (action == GLFW_PRESS) g_pressed_this_poll[key] = true;
      if (action == GLFW_RELEASE && g_pressed_this_poll[key]) {
        g_held_releases.push_back({w, key, scancode, mods});
        return;
      }
    }
    if (g_key) g_key(w, key, scancode, action, mods);
  });
  g_char = glfwSetCharCallback(window, [](GLFWwindow* w, unsigned int c) {
    ++g_input_events;
    if (g_char) g_char(w, c);
  });
  g_focus = glfwSetWindowFocusCallback(window, [](GLFWwindow* w, int focused) {
    ++g_input_events;
    if (g_focus) g_focus(w, focused);
  });
  g_size = glfwSetWindowSizeCallback(window, [](GLFWwindow* w, int width, int height) {
    ++g_input_events;
    if (g_size) g_size(w, width, height);
  });
  g_refresh = glfwSetWindowRefreshCallback(window, [](GLFWwindow* w) {
    ++g_input_events;
    if (g_refresh) g_refresh(w);
  });
}

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

void CheckImGuiVkResult(VkResult result) { vk::Check(result, "Dear ImGui's Vulkan backend"); }

}  // namespace

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

void Renderer::Impl::SetUpImGui() {
  IMGUI_CHECKVERSION();
  ImGui::CreateContext();
  imgui_context = true;
  ImGuiIO& io = ImGui::GetIO();
  io.IniFilename = ini_path.empty() ? nullptr : ini_path.c_str();
  io.ConfigFlags |= ImGuiConfigFlags_NavEnableKeyboard;
  ImGui::StyleColorsDark();
  ImGui::GetStyle().Colors[ImGuiCol_ModalWindowDimBg] = ImVec4(0.0f, 0.0f, 0.0f, 0.45f);  // dim, not wash out
  // Opaque panels: the dark style's 94% let a window behind show through the
  // one in front (the Inside window's bright tiles through the Training panel).
  ImGui::GetStyle().Colors[ImGuiCol_WindowBg].w = 1.0f;
  InstallLayoutSettings();  // before the first frame reads imgui.ini
  ImGui::GetStyle().ScaleAllSizes(content_scale);
  LoadFont(content_scale);
  AddSpritesToAtlas(ImGui::GetIO().Fonts);

  imgui_glfw = ImGui_ImplGlfw_InitForVulkan(window.get(), /*install_callbacks=*/true);
  if (!imgui_glfw) throw Error("Dear ImGui's GLFW backend could not start.");
  CountInput(window.get());  // after ImGui's callbacks, which it then calls

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

bool Renderer::BeginFrame(bool without_mouse) {
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
  // ImGui 1.86's GLFW backend sets MousePos directly (no input queue): moved away for this frame only.
  if (without_mouse) ImGui::GetIO().MousePos = ImVec2(-FLT_MAX, -FLT_MAX);
  ImGui::NewFrame();
  r.frame_open = true;
  return true;
}

void Renderer::EndFrame() {
  Impl& r = *impl_;
  assert(r.frame_open && "EndFrame called without BeginFrame");
  r.frame_open = false;
  DeliverHeldReleases();  // this frame has seen those keys down
  ImGui::EndFrame();
  KeepPanelsBehindFloatingWindows();  // after this frame's clicks raised windows, before it is drawn
  ImGui::Render();
  r.frame_drawn = true;
  VkExtent2D size = r.FramebufferExtent();
  if (size.width != r.swapchain_request.width || size.height != r.swapchain_request.height) r.RecreateSwapchain();
  r.RenderFrame(ImGui::GetDrawData(), nullptr);
}
void Renderer::WaitEvents(double seconds) {
  if (seconds > 0) glfwWaitEventsTimeout(seconds);
}
void Renderer::Wake() { glfwPostEmptyEvent(); }
uint64_t Renderer::input_events() const { return g_input_events.load(); }
const FrameTiming& Renderer::last_frame_timing() const { return impl_->timing; }
GLFWwindow* Renderer::window() const { return impl_->window.get(); }
int Renderer::framebuffer_width() const { return static_cast<int>(impl_->FramebufferExtent().width); }
int Renderer::framebuffer_height() const { return static_cast<int>(impl_->FramebufferExtent().height); }
float Renderer::content_scale() const { return impl_->content_scale; }
const std::string& Renderer::config_dir() const { return impl_->config_dir_text; }
const std::string& Renderer::font_note() const { return impl_->font_note; }

}  // namespace ts::ui
