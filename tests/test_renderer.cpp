// The window renderer: ImGui frames through a real swapchain (under Xvfb in CI),
// screenshots, swapchain recreation on resize, remembered window placement, and
// the errors a person sees when no window can be opened.
//
// Run with a display, e.g.
//   xvfb-run -a -s "-screen 0 1600x1000x24" build/tests/test_renderer
// Set TENSORSCOPE_KEEP_TEST_OUTPUT=1 to keep the screenshots it writes.
#include <gtest/gtest.h>

#include <GLFW/glfw3.h>
#include <unistd.h>

#include "imgui.h"

#include <stb/stb_image.h>  // implemented in libstb, which the UI library links

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "compute/common/error.h"
#include "compute/vk/buffer.h"
#include "compute/vk/context.h"
#include "support/window_context.h"
#include "ui/renderer.h"

namespace ts {
namespace {

namespace fs = std::filesystem;

using testing::HasDisplay;

// Sets an environment variable for one scope, restoring it afterwards.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) setenv(name, value, 1); else unsetenv(name);
  }
  ~ScopedEnv() {
    if (old_) setenv(name_.c_str(), old_->c_str(), 1); else unsetenv(name_.c_str());
  }

 private:
  std::string name_;
  std::optional<std::string> old_;
};

struct Image {
  int width = 0, height = 0;
  std::vector<unsigned char> rgba;
};

Image ReadPng(const std::string& path) {
  Image image;
  int channels = 0;
  unsigned char* pixels = stbi_load(path.c_str(), &image.width, &image.height, &channels, 4);
  if (pixels == nullptr) return image;
  image.rgba.assign(pixels, pixels + size_t(image.width) * image.height * 4);
  stbi_image_free(pixels);
  return image;
}

// Variance of the pixels' luminance: a blank (single-colour) image has none.
double LuminanceVariance(const Image& image) {
  double sum = 0, sum_squares = 0;
  size_t count = image.rgba.size() / 4;
  for (size_t i = 0; i < count; ++i) {
    const unsigned char* p = &image.rgba[i * 4];
    double y = 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
    sum += y;
    sum_squares += y * y;
  }
  double mean = sum / double(count);
  return sum_squares / double(count) - mean * mean;
}

// A small panel like the app's: a title bar, text, a button and a plot.
void BuildTestUi(int frame) {
  ImGui::SetNextWindowPos(ImVec2(24, 24), ImGuiCond_Always);
  ImGui::SetNextWindowSize(ImVec2(420, 260), ImGuiCond_Always);
  ImGui::Begin("Training");
  ImGui::Text("Tensorscope renderer test, frame %d", frame);
  ImGui::TextUnformatted("Loss 0.4213   Accuracy 91.7 %");
  ImGui::Button("Start training");
  ImGui::SameLine();
  ImGui::Button("Pause");
  static const float losses[] = {1.1f, 0.9f, 0.75f, 0.62f, 0.55f, 0.49f, 0.45f, 0.43f, 0.42f};
  ImGui::PlotLines("loss", losses, IM_ARRAYSIZE(losses), 0, nullptr, 0.0f, 1.2f, ImVec2(0, 90));
  ImGui::End();
}

class RendererTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!HasDisplay()) GTEST_SKIP() << "DISPLAY is not set; run under xvfb-run to test the window renderer.";
    dir_ = fs::path(::testing::TempDir()) / ("tensorscope_renderer_" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);

    context_ = testing::CreateWindowContext(messages_);
  }

  void TearDown() override {
    context_.reset();  // waits for the GPU; may report late validation messages
    messages_.FailCurrentTest();
    const char* keep = std::getenv("TENSORSCOPE_KEEP_TEST_OUTPUT");
    if (!dir_.empty() && (keep == nullptr || *keep == '\0')) fs::remove_all(dir_);
  }

  ui::RendererOptions Options() const {
    ui::RendererOptions options;
    options.width = 800;
    options.height = 600;
    options.config_dir = (dir_ / "config").string();
    return options;
  }

  // Renders `count` frames of the test UI.
  static void RenderFrames(ui::Renderer& renderer, int count) {
    for (int i = 0; i < count; ++i) {
      ASSERT_TRUE(renderer.BeginFrame());
      BuildTestUi(i);
      renderer.EndFrame();
    }
  }

  fs::path dir_;
  testing::ValidationMessages messages_;  // before context_: the context reports into it until destroyed
  std::unique_ptr<vk::Context> context_;
};

TEST_F(RendererTest, RendersScreenshotsAndSurvivesResize) {
  ui::Renderer renderer(*context_, Options());
  EXPECT_TRUE(renderer.font_note().empty()) << renderer.font_note();
  EXPECT_EQ(renderer.config_dir(), (dir_ / "config").string());
  EXPECT_FALSE(renderer.SaveScreenshot((dir_ / "none.png").string())) << "no frame drawn yet";

  RenderFrames(renderer, 30);
  const std::string first = (dir_ / "frame_800x600.png").string();
  ASSERT_TRUE(renderer.SaveScreenshot(first));
  std::printf("screenshot: %s\n", first.c_str());
  Image image = ReadPng(first);
  ASSERT_FALSE(image.rgba.empty()) << "could not read " << first;
  EXPECT_EQ(image.width, renderer.framebuffer_width());
  EXPECT_EQ(image.height, renderer.framebuffer_height());
  EXPECT_EQ(image.width, 800);
  EXPECT_EQ(image.height, 600);
  EXPECT_GT(LuminanceVariance(image), 50.0) << "the screenshot looks blank";
  // Away from the panel only the clear colour shows: dark grey, not black.
  const unsigned char* corner = &image.rgba[(size_t(image.height - 5) * image.width + image.width - 5) * 4];
  EXPECT_NEAR(corner[0], 28, 3);
  EXPECT_NEAR(corner[1], 28, 3);
  EXPECT_NEAR(corner[2], 31, 3);

  // Resizing must recreate the swapchain; the next frames are drawn at the new size.
  glfwSetWindowSize(renderer.window(), 640, 480);
  for (int i = 0; i < 120 && (renderer.framebuffer_width() != 640 || renderer.framebuffer_height() != 480); ++i)
    RenderFrames(renderer, 1);
  RenderFrames(renderer, 10);
  ASSERT_EQ(renderer.framebuffer_width(), 640);
  ASSERT_EQ(renderer.framebuffer_height(), 480);
  const std::string second = (dir_ / "frame_640x480.png").string();
  ASSERT_TRUE(renderer.SaveScreenshot(second));
  Image resized = ReadPng(second);
  EXPECT_EQ(resized.width, 640);
  EXPECT_EQ(resized.height, 480);
  EXPECT_GT(LuminanceVariance(resized), 50.0);

  // Frames still render after a screenshot.
  RenderFrames(renderer, 3);
}

TEST_F(RendererTest, RemembersWindowSizeBetweenRuns) {
  {
    ui::Renderer renderer(*context_, Options());
    RenderFrames(renderer, 2);
    glfwSetWindowSize(renderer.window(), 720, 540);
    for (int i = 0; i < 120 && renderer.framebuffer_width() != 720; ++i) RenderFrames(renderer, 1);
    ASSERT_EQ(renderer.framebuffer_width(), 720);
  }
  EXPECT_TRUE(fs::exists(dir_ / "config" / "window.json"));
  EXPECT_TRUE(fs::exists(dir_ / "config" / "imgui.ini"));
  ui::Renderer reopened(*context_, Options());
  EXPECT_EQ(reopened.framebuffer_width(), 720);
  EXPECT_EQ(reopened.framebuffer_height(), 540);
  RenderFrames(reopened, 2);
}

TEST_F(RendererTest, DamagedPlacementFileIsIgnored) {
  fs::create_directories(dir_ / "config");
  std::ofstream(dir_ / "config" / "window.json") << "{ not json";
  ui::Renderer renderer(*context_, Options());
  EXPECT_EQ(renderer.framebuffer_width(), 800);
  RenderFrames(renderer, 2);
}

// The trainer submits from its own thread while the GUI presents: both go
// through the Context's one queue lock, and the validation layer must stay quiet.
TEST_F(RendererTest, RendersWhileAnotherThreadSubmits) {
  ui::Renderer renderer(*context_, Options());
  vk::Buffer buffer(*context_, 1 << 20, "concurrent fill");
  std::atomic<bool> stop{false};
  std::atomic<int> submissions{0};
  std::thread worker([&] {
    while (!stop.load()) {
      context_->RunOnce([&](VkCommandBuffer commands) {
        vkCmdFillBuffer(commands, buffer.handle(), 0, VK_WHOLE_SIZE, 0x3f800000u);
      });
      submissions.fetch_add(1);
    }
  });
  RenderFrames(renderer, 30);
  EXPECT_TRUE(renderer.SaveScreenshot((dir_ / "concurrent.png").string()));
  stop.store(true);
  worker.join();
  EXPECT_GT(submissions.load(), 0);
}

TEST(RendererErrors, ContextWithoutWindowExtensionsIsExplained) {
  if (!HasDisplay()) GTEST_SKIP() << "DISPLAY is not set; run under xvfb-run to test the window renderer.";
  std::unique_ptr<vk::Context> context = vk::Context::Create();
  try {
    ui::Renderer renderer(*context);
    FAIL() << "expected ts::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("AddRequiredExtensions"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("VK_KHR_swapchain"), std::string::npos) << e.what();
  }
}

// These need no display: they check the messages a person sees without one.
TEST(RendererErrors, NoDisplayIsExplained) {
  ScopedEnv no_x("DISPLAY", nullptr);
  ScopedEnv no_wayland("WAYLAND_DISPLAY", nullptr);
  vk::ContextOptions options;
  try {
    ui::Renderer::AddRequiredExtensions(options);
    FAIL() << "expected ts::Error";
  } catch (const Error& e) {
    std::string message = e.what();
    EXPECT_NE(message.find("DISPLAY is not set"), std::string::npos) << message;
    EXPECT_NE(message.find("tensorscope train"), std::string::npos) << message;
  }
}

TEST(RendererErrors, MissingSurfaceExtensionIsNamed) {
  vk::ContextOptions options;
  options.instance_extensions = {"VK_KHR_imaginary_surface"};
  try {
    vk::Context::Create(options);
    FAIL() << "expected ts::Error";
  } catch (const Error& e) {
    std::string message = e.what();
    EXPECT_NE(message.find("VK_KHR_imaginary_surface"), std::string::npos) << message;
    EXPECT_NE(message.find("mesa-vulkan-drivers"), std::string::npos) << message;
  }
}

TEST(RendererErrors, MissingDeviceExtensionIsNamed) {
  vk::ContextOptions options;
  options.device_extensions = {"VK_KHR_imaginary_device_extension"};
  try {
    vk::Context::Create(options);
    FAIL() << "expected ts::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("VK_KHR_imaginary_device_extension"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace ts
