// Renderer: the Tensorscope window. It owns the GLFW window, its Vulkan surface
// and swapchain, and Dear ImGui (context plus the GLFW and Vulkan backends), and
// draws whatever ImGui UI the caller builds each frame.
//
// It shares the Context's VkDevice and its single queue with the compute engine:
// every submission and presentation goes through Context::Submit / Present. It
// never records compute work; it only draws ImGui.
//
// Usage (on the main thread; one Renderer per process at a time):
//
//   vk::ContextOptions options;
//   ui::Renderer::AddRequiredExtensions(options);    // surface + swapchain extensions
//   auto context = vk::Context::Create(options);
//   ui::Renderer renderer(*context);
//   while (renderer.BeginFrame()) {
//     ImGui::ShowDemoWindow();                        // build the UI
//     renderer.EndFrame();                            // render and present
//   }
//
// The window's size, position and maximised state, and ImGui's own layout
// (imgui.ini), are kept between runs in ${XDG_CONFIG_HOME:-~/.config}/tensorscope/.
#pragma once

#include <memory>
#include <string>

#include "compute/vk/context.h"

struct GLFWwindow;

namespace ts::ui {

struct RendererOptions {
  std::string title = "Tensorscope";
  int width = 1440;         // window size in screen coordinates when none is remembered
  int height = 900;
  bool vsync = true;        // FIFO presentation; false prefers MAILBOX, then IMMEDIATE
  // Where window.json and imgui.ini live. Empty: ${XDG_CONFIG_HOME:-~/.config}/tensorscope.
  std::string config_dir;
  bool remember_placement = true;  // read and write window.json and imgui.ini
};

// Where the last frame's time went on the host (milliseconds).
struct FrameTiming {
  double acquire_ms = 0;  // waiting for the frame slot and a swapchain image
  double draw_ms = 0;     // submit to drawn (measured where the device is a CPU; 0 elsewhere)
  double present_ms = 0;  // vkQueuePresentKHR (holds the queue)
};

class Renderer {
 public:
  // Adds the instance extensions GLFW needs for a window surface and the
  // VK_KHR_swapchain device extension to `options`. Initialises GLFW, so it
  // throws ts::Error when no window can be opened (e.g. DISPLAY is not set).
  static void AddRequiredExtensions(vk::ContextOptions& options);

  // Opens the window and sets up the swapchain and ImGui. `context` must have
  // been created with AddRequiredExtensions and must outlive the Renderer.
  // Throws ts::Error when there is no display, when GLFW or the surface cannot be
  // created, or when the context's queue cannot present to the window.
  explicit Renderer(vk::Context& context, const RendererOptions& options = {});
  ~Renderer();
  Renderer(const Renderer&) = delete;
  Renderer& operator=(const Renderer&) = delete;

  // Polls window events and starts an ImGui frame. While the window is minimised
  // it sleeps in the event loop instead of spinning. Returns false when the
  // window should close; then no frame was started and EndFrame must not be called.
  // `without_mouse`: the frame is built as if the mouse were outside the window
  // (no hover read-outs or tooltips: a chart saved as PNG shows only the chart).
  bool BeginFrame(bool without_mouse = false);
  // Renders the ImGui frame built since BeginFrame and presents it. Recreates
  // the swapchain when the window was resized or the surface became out of date.
  void EndFrame();

  // Writes the last frame, as shown in the window, to `png_path` (RGBA PNG of the
  // framebuffer's size). Call it between EndFrame and the next BeginFrame: it
  // draws that frame's ImGui data once more into a swapchain image, copies the
  // image out, presents it, and waits for the copy. Returns false when there is
  // nothing to capture (no frame yet, or the window is minimised). Throws ts::Error
  // when the PNG cannot be written or the swapchain images cannot be read back.
  bool SaveScreenshot(const std::string& png_path);
  // The same for the pixels [x, x + width) x [y, y + height) of the frame
  // (framebuffer pixels, clipped to it), e.g. one chart (ui/widgets/chart_png.h).
  // Both write atomically (ui/png_image.h); a region wholly outside throws ts::Error.
  bool SaveRegion(const std::string& png_path, int x, int y, int width, int height);

  // Sleeps until the window has input, Wake() is called, or `seconds` pass
  // (the frame pacing's wait between frames; see FramePacer).
  void WaitEvents(double seconds);
  // Ends a WaitEvents early; callable from any thread (e.g. the training
  // session's worker when it has news for the window).
  static void Wake();
  // How many input events (keys, characters, mouse buttons and moves,
  // scrolling, focus, resizing, exposure) the window has had so far.
  uint64_t input_events() const;
  // The last frame's timing (see FrameTiming).
  const FrameTiming& last_frame_timing() const;

  // The GLFW window (e.g. to set its size in tests, or to read key state).
  GLFWwindow* window() const;
  // The framebuffer size in pixels (the swapchain and screenshot size).
  int framebuffer_width() const;
  int framebuffer_height() const;
  // The window's content scale (1 on a 96 DPI screen); fonts and sizes use it.
  float content_scale() const;
  // The directory holding window.json and imgui.ini ("" when nothing is kept).
  const std::string& config_dir() const;
  // Why the default font is used instead of DejaVu Sans ("" when DejaVu loaded).
  const std::string& font_note() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ts::ui
