// What the window writes for other tools, run headless: a chart's Save as
// PNG... (the context menu, its dialog and the capture it asks of the next
// frame; the PNG encoding of a frame's region), and Metrics CSV... (the run's
// steps and evaluations as the session reported them, in train --metrics-csv's format).
#include <stb/stb_image.h>

#include <gtest/gtest.h>

#include <cfloat>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "compute/common/error.h"
#include "imgui.h"
#include "support/temp_files.h"
#include "ui/controller.h"
#include "ui/metrics_csv.h"
#include "ui/png_image.h"
#include "ui/test_hooks.h"
#include "ui/widgets/chart_png.h"
#include "ui/widgets/plot.h"

namespace ts::ui {
namespace {

class WindowExports : public testing::TempDirTest {};

// A 40 x 30 RGBA image: a red 10 x 8 block at (12, 6) on blue.
std::vector<uint8_t> TestImage() {
  std::vector<uint8_t> rgba(40 * 30 * 4);
  for (int y = 0; y < 30; ++y)
    for (int x = 0; x < 40; ++x) {
      const bool red = x >= 12 && x < 22 && y >= 6 && y < 14;
      uint8_t* p = &rgba[(size_t(y) * 40 + x) * 4];
      p[0] = red ? 255 : 0, p[1] = 0, p[2] = red ? 0 : 255, p[3] = 255;
    }
  return rgba;
}

TEST_F(WindowExports, APngRegionHoldsExactlyThosePixels) {
  const std::vector<uint8_t> image = TestImage();
  const std::string png = EncodePngRegion(image, 40, 30, {12, 6, 10, 8});
  int width = 0, height = 0, channels = 0;
  stbi_uc* decoded = stbi_load_from_memory(reinterpret_cast<const stbi_uc*>(png.data()), static_cast<int>(png.size()),
                                           &width, &height, &channels, 4);
  ASSERT_NE(decoded, nullptr);
  EXPECT_EQ(width, 10);
  EXPECT_EQ(height, 8);
  int red = 0;
  for (int i = 0; i < width * height; ++i) red += decoded[i * 4] == 255 && decoded[i * 4 + 2] == 0;
  stbi_image_free(decoded);
  EXPECT_EQ(red, 80) << "every pixel of the region is the red block";

  // Clipped to the frame; a region wholly outside it is refused.
  const std::string clipped = EncodePngRegion(image, 40, 30, {30, 20, 50, 50});
  decoded = stbi_load_from_memory(reinterpret_cast<const stbi_uc*>(clipped.data()), static_cast<int>(clipped.size()),
                                  &width, &height, &channels, 4);
  ASSERT_NE(decoded, nullptr);
  stbi_image_free(decoded);
  EXPECT_EQ(width, 10);
  EXPECT_EQ(height, 10);
  EXPECT_TRUE(testing::ThrowsErrorWith([&] { EncodePngRegion(image, 40, 30, {50, 0, 10, 10}); },
                                       {"lies outside the 40x30 frame"}));
  EXPECT_TRUE(testing::ThrowsErrorWith([&] { EncodePngRegion(image, 41, 30, {0, 0, 10, 10}); }, {"bytes of RGBA"}));

  // Saved atomically; a folder that does not exist is named.
  SavePngRegion(PathOf("chart.png"), image, 40, 30, {12, 6, 10, 8});
  std::ifstream saved(PathOf("chart.png"), std::ios::binary);
  std::stringstream bytes;
  bytes << saved.rdbuf();
  EXPECT_EQ(bytes.str(), png);
  EXPECT_TRUE(testing::ThrowsErrorWith([&] { SavePngRegion((dir_ / "missing" / "chart.png").string(), image, 40, 30, {0, 0, 4, 4}); },
                                       {"missing/chart.png"}));
}

// An ImGui context with a built font atlas; frames run without a renderer and
// input set on ImGuiIO directly (ImGui 1.86 has no input event queue).
class ChartMenu : public WindowExports {
 protected:
  void SetUp() override {
    WindowExports::SetUp();
    context_ = ImGui::CreateContext();
    ImGuiIO& io = ImGui::GetIO();
    io.DisplaySize = ImVec2(1280, 800);
    io.IniFilename = nullptr;
    io.DeltaTime = 1.0f / 60;
    unsigned char* pixels = nullptr;
    int width = 0, height = 0;
    io.Fonts->GetTexDataAsRGBA32(&pixels, &width, &height);
  }
  void TearDown() override {
    ImGui::DestroyContext(context_);
    WindowExports::TearDown();
  }
  // One frame with the mouse at `mouse` and its buttons as given; `draw_chart`: the loss plot is drawn.
  void Frame(ImVec2 mouse, bool left, bool right, bool draw_chart = true) {
    ImGuiIO& io = ImGui::GetIO();
    io.MousePos = mouse;
    io.MouseDown[0] = left;
    io.MouseDown[1] = right;
    ImGui::NewFrame();
    ImGui::SetNextWindowPos(ImVec2(0, 0));
    ImGui::SetNextWindowSize(io.DisplaySize);
    ImGui::Begin("charts", nullptr, ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoMove);
    ImGui::SetCursorScreenPos(ImVec2(100, 120));
    if (draw_chart) Plot("loss", plot_, {.size = {400, 200}}, series_);
    ImGui::End();
    ImGui::Render();
  }
  ImVec2 CentreOf(const std::string& name) {
    const auto& rects = RecordedItemRects();
    auto it = rects.find(name);
    EXPECT_NE(it, rects.end()) << name << " was not drawn";
    if (it == rects.end()) return {-FLT_MAX, -FLT_MAX};
    return ImVec2((it->second[0] + it->second[2]) / 2, (it->second[1] + it->second[3]) / 2);
  }
  void Click(ImVec2 at, bool right = false) {
    Frame(at, !right, right);
    Frame(at, false, false);
  }

  ImGuiContext* context_ = nullptr;
  PlotState plot_;
  std::vector<double> x_{1, 2, 3}, y_{0.9, 0.5, 0.3};
  PlotSeries series_[1] = {{"train", x_, y_}};
};

TEST_F(ChartMenu, SaveAsPngAsksTheNextFrameForTheChartsRectangle) {
  const ImVec2 on_chart(300, 220);
  Frame(on_chart, false, false);
  Click(on_chart, true);  // the context menu
  Frame(on_chart, false, false);
  const ImVec2 item = CentreOf("chart_save_png loss");
  Click(item);  // Save as PNG...: the dialog, prefilled with loss.png in the working folder
  Frame(item, false, false);
  EXPECT_FALSE(ChartCaptureDue());
  const ImVec2 save = CentreOf("chart_png_ok");
  Frame(save, true, false);
  Frame(save, false, false);  // Save: the capture is asked for the next frame
  ASSERT_TRUE(ChartCaptureDue());
  EXPECT_FALSE(TakeChartCapture().has_value()) << "the frame the dialog closed in still shows it";
  Frame(ImVec2(-FLT_MAX, -FLT_MAX), false, false);
  std::optional<ChartCapture> capture = TakeChartCapture();
  ASSERT_TRUE(capture.has_value());
  EXPECT_TRUE(capture->drawn);
  EXPECT_EQ(capture->chart, "loss");
  EXPECT_TRUE(capture->path.ends_with("/loss.png")) << capture->path;
  EXPECT_FLOAT_EQ(capture->min.x, 100);
  EXPECT_FLOAT_EQ(capture->min.y, 120);
  EXPECT_FLOAT_EQ(capture->max.x, 500);
  EXPECT_FLOAT_EQ(capture->max.y, 320);
  EXPECT_FALSE(ChartCaptureDue()) << "taken once";
  EXPECT_FALSE(TakeChartCapture().has_value());
}

TEST_F(ChartMenu, AChartGoneFromTheFrameIsReportedNotSaved) {
  const ImVec2 on_chart(300, 220);
  Frame(on_chart, false, false);
  Click(on_chart, true);
  Frame(on_chart, false, false);
  Click(CentreOf("chart_save_png loss"));
  Frame(on_chart, false, false);
  const ImVec2 save = CentreOf("chart_png_ok");
  Frame(save, true, false);
  Frame(save, false, false);
  ASSERT_TRUE(ChartCaptureDue());
  Frame(ImVec2(-FLT_MAX, -FLT_MAX), false, false, /*draw_chart=*/false);
  std::optional<ChartCapture> capture = TakeChartCapture();
  ASSERT_TRUE(capture.has_value());
  EXPECT_FALSE(capture->drawn);
}

nn::SessionEvent Step(uint64_t run, uint64_t global_step, float loss) {
  nn::SessionEvent event;
  event.kind = nn::SessionEvent::Kind::kStep;
  event.run = run;
  event.step.global_step = global_step;
  event.step.epoch = static_cast<uint32_t>(global_step / 2);
  event.step.step_in_epoch = static_cast<uint32_t>(global_step % 2);
  event.step.loss = loss;
  event.step.accuracy = 0.5f;
  event.step.learning_rate = 0.01;
  event.step.wall_seconds = 0.004;
  event.step.dispatch_ns = {1.5e6, 0.25e6};
  return event;
}

TEST_F(WindowExports, MetricsCsvHoldsEveryStepAndEvaluationTheSessionReported) {
  AppState state;
  state.project.training.batch_size = 32;
  state.training.session_run = 7;
  EXPECT_TRUE(testing::ThrowsErrorWith([&] { SaveRunMetrics(state, PathOf("none.csv")); }, {"train first"}));
  nn::SessionEvent epoch;
  epoch.kind = nn::SessionEvent::Kind::kEpoch;
  epoch.run = 7;
  epoch.epoch.epoch = 0;
  epoch.epoch.validation = nn::EvalResult{0.75, 0.625, 90, 3, {}, {}};
  epoch.test = nn::EvalResult{0.8125, 0.6, 225, 3, {}, {}};
  ApplySessionEvents(state, {Step(7, 0, 1.0986123f), Step(7, 1, 0.9f), epoch, Step(6, 2, 5.0f) /* an older run's */});
  SaveRunMetrics(state, PathOf("run.csv"));
  std::ifstream file(PathOf("run.csv"));
  std::stringstream text;
  text << file.rdbuf();
  EXPECT_EQ(text.str(),
            "kind,step,epoch,loss,accuracy,learning_rate,samples_per_second,gpu_ms,samples\n"
            "train,1,1,1.09861231,0.5,0.01,8000,1.75,32\n"
            "train,2,1,0.899999976,0.5,0.01,8000,1.75,32\n"
            "validation,2,1,0.75,0.625,,,,90\n"
            "test,2,1,0.8125,0.6,,,,225\n");
  EXPECT_TRUE(testing::ThrowsErrorWith([&] { SaveRunMetrics(state, (dir_ / "no such folder" / "run.csv").string()); },
                                       {"Metrics CSV", "no such folder", "does not exist"}));
  ClearTrainingHistory(state.training);
  EXPECT_EQ(state.training.metrics.rows(), 0u) << "a new run starts a new CSV";
}

}  // namespace
}  // namespace ts::ui
