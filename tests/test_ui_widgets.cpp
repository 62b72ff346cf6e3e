// The plot, bar chart, heatmap, Gantt and number-field widgets, run headless:
// an ImGui context with a built font atlas, frames run without a renderer, and
// input set directly on ImGuiIO (ImGui 1.86 has no input event queue). Also
// prints the time to draw 3 x 100k points (not asserted: it depends on the
// machine). Their pure computations are tested in test_ui_geometry.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <random>
#include <vector>

#include "imgui.h"
#include "imgui_internal.h"  // the focused text field
#include "ui/widgets/bar_chart.h"
#include "ui/widgets/gantt.h"
#include "ui/widgets/heatmap.h"
#include "ui/widgets/insight_charts.h"
#include "ui/widgets/number_field.h"
#include "ui/widgets/plot.h"

namespace ts::ui {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
const ImVec2 kNoMouse(-FLT_MAX, -FLT_MAX);

// ---------------------------------------------------------------------------
// Widgets, headless
// ---------------------------------------------------------------------------

class Widgets : public testing::Test {
 protected:
  void SetUp() override {
    context_ = ImGui::CreateContext();
    ImGui::StyleColorsDark();
    ImGuiIO& io = ImGui::GetIO();
    io.DisplaySize = ImVec2(1280, 800);
    io.IniFilename = nullptr;
    io.DeltaTime = 1.0f / 60;
    io.BackendFlags |= ImGuiBackendFlags_RendererHasVtxOffset;  // as the Vulkan backend does
    unsigned char* pixels = nullptr;
    int width = 0, height = 0;
    io.Fonts->GetTexDataAsRGBA32(&pixels, &width, &height);
  }
  void TearDown() override { ImGui::DestroyContext(context_); }

  // Runs one frame with the mouse at `mouse` (left button `down`, `wheel`
  // notches), `body` inside a full-screen window whose content starts at
  // origin_; returns the draw data.
  ImDrawData* Frame(const std::function<void()>& body, ImVec2 mouse = kNoMouse, bool down = false, float wheel = 0) {
    ImGuiIO& io = ImGui::GetIO();
    io.MousePos = mouse;
    io.MouseDown[0] = down;
    io.MouseWheel = wheel;
    ImGui::NewFrame();
    ImGui::SetNextWindowPos(ImVec2(0, 0));
    ImGui::SetNextWindowSize(io.DisplaySize);
    ImGui::Begin("widgets", nullptr,
                 ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoSavedSettings);
    origin_ = ImGui::GetCursorScreenPos();
    body();
    ImGui::End();
    ImGui::Render();
    return ImGui::GetDrawData();
  }

  static int Vertices(const ImDrawData* data) { return data->TotalVtxCount; }
  ImVec2 origin_{0, 0};

 private:
  ImGuiContext* context_ = nullptr;
};

std::vector<double> Iota(size_t n) {
  std::vector<double> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<double>(i);
  return v;
}

bool ViewIsSane(const PlotState& s) {
  return std::isfinite(s.x_min) && std::isfinite(s.x_max) && s.x_min < s.x_max && std::isfinite(s.y_min) &&
         std::isfinite(s.y_max) && s.y_min < s.y_max;
}

TEST_F(Widgets, PlotSurvivesDegenerateData) {
  const std::vector<double> empty, one = {3}, x2 = {1, 1}, y2 = {5, 5};
  const std::vector<double> nans = {kNaN, kNaN, kNaN}, infs = {kInf, -kInf, 1}, x3 = {0, 1, 2};
  const std::vector<double> neg = {-1, 0, -5}, mixed = {-1, 10, 0.001}, huge = {-1e308, 1e308, 0};
  const std::vector<std::vector<PlotSeries>> cases = {
      {},
      {{"empty", empty, empty}},
      {{"one", one, one}},
      {{"same x", x2, y2}},
      {{"nan", x3, nans}},
      {{"inf", x3, infs}},
      {{"negative", x3, neg}},
      {{"mixed", x3, mixed}},
      {{"huge", x3, huge}},
      {{"mismatched", x3, one}},
  };
  for (bool log_x : {false, true}) {
    for (bool log_y : {false, true}) {
      for (float smoothing : {0.0f, 0.9f}) {
        for (size_t c = 0; c < cases.size(); ++c) {
          SCOPED_TRACE(testing::Message() << "case " << c << " log x " << log_x << " log y " << log_y << " smoothing "
                                          << smoothing);
          PlotState state;
          const PlotMarker markers[] = {{1, "marker"}, {kNaN, "nan marker"}};
          for (int frame = 0; frame < 3; ++frame)
            Frame(
                [&] {
                  Plot("p", state,
                       {.title = "t", .x_label = "x", .y_label = "y", .log_x = log_x, .log_y = log_y,
                        .smoothing = smoothing},
                       cases[c], markers);
                },
                ImVec2(300, 120));  // hovering too
          EXPECT_TRUE(ViewIsSane(state));
          if (log_x) {
            EXPECT_GT(state.x_min, 0);
          }
          if (log_y) {
            EXPECT_GT(state.y_min, 0);
          }
        }
      }
    }
  }
  PlotState tiny;  // too small to draw: still no crash
  Frame([&] { Plot("tiny", tiny, {.size = {1, 1}}, std::span<const PlotSeries>{}); });
}

TEST_F(Widgets, PlotOnALogXAxisFitsTheDecadesAndSkipsXAtOrBelowZero) {
  const std::vector<double> x = {0, 1, 2, 4, 8, 16, 32, 64}, y = {5, 1, 2, 3, 4, 5, 6, 7};
  const PlotSeries series[] = {{"gb/s", x, y}};
  PlotState state;
  for (int frame = 0; frame < 2; ++frame) Frame([&] { Plot("log x", state, {.log_x = true}, series); });
  EXPECT_GT(state.x_min, 0.5);  // the point at x = 0 is not part of the fit
  EXPECT_LE(state.x_min, 1.0);
  EXPECT_GE(state.x_max, 64.0);
  EXPECT_LT(state.x_max, 80.0);
  const std::vector<PlotPoint>& line = state.internal.lines[0];
  ASSERT_EQ(line.size(), 7u);  // every positive point (sparse data: one per column)
  for (size_t i = 0; i < line.size(); ++i) {
    EXPECT_NEAR(line[i].x, x[i + 1], 1e-9 * x[i + 1]);
    EXPECT_EQ(line[i].y, y[i + 1]);
  }
}

TEST_F(Widgets, PlotSmoothingIsExtendedWhenPointsAreAppended) {
  std::vector<double> x = Iota(1000), y(1000);
  for (size_t i = 0; i < y.size(); ++i) y[i] = std::sin(i * 0.1) + (i % 7 == 0 ? kNaN : 0);
  PlotState state;
  const auto draw = [&] {
    const PlotSeries series[] = {{"s", x, y}};
    Frame([&] { Plot("smooth", state, {.smoothing = 0.9f}, series); });
  };
  const auto expect_exact = [&] {
    std::vector<double> expected(y.size());
    Smooth(y, 0.9f, expected);  // the float weight, as the widget gets it
    const std::vector<double>& got = state.internal.smoothed[0].values;
    ASSERT_EQ(got.size(), expected.size());
    for (size_t i = 0; i < got.size(); ++i) {
      if (std::isnan(expected[i]))
        EXPECT_TRUE(std::isnan(got[i])) << i;
      else
        EXPECT_EQ(got[i], expected[i]) << i;
    }
  };
  draw();
  expect_exact();
  for (int i = 0; i < 10; ++i) x.push_back(1000 + i), y.push_back(i);  // appended
  draw();
  expect_exact();
  y[10] = 42, y.back() = -1;  // rewritten in place
  draw();
  expect_exact();
  y.resize(500), x.resize(500);  // shrunk
  draw();
  expect_exact();
}

TEST_F(Widgets, PlotLogScaleFitsOnlyPositiveValues) {
  const std::vector<double> x = {0, 1, 2, 3, 4}, y = {-3, 0, 0.01, 10, 1000};
  const PlotSeries series[] = {{"loss", x, y}};
  PlotState state;
  for (int frame = 0; frame < 2; ++frame) Frame([&] { Plot("log", state, {.log_y = true}, series); });
  EXPECT_GT(state.y_min, 0);
  EXPECT_LT(state.y_min, 0.01);
  EXPECT_GT(state.y_max, 1000);
  EXPECT_LT(state.y_max, 1e4);
}

TEST_F(Widgets, PlotVertexCountDoesNotGrowWithPoints) {
  const auto vertices_for = [&](size_t n) {
    const std::vector<double> x = Iota(n);
    std::vector<double> a(n), b(n), c(n);
    std::mt19937 rng(1);
    std::normal_distribution<double> noise;
    for (size_t i = 0; i < n; ++i) a[i] = noise(rng), b[i] = noise(rng) + 5, c[i] = std::sin(i * 0.01);
    const PlotSeries series[] = {{"a", x, a}, {"b", x, b}, {"c", x, c}};
    PlotState state;
    int vertices = 0;
    for (int frame = 0; frame < 2; ++frame)
      vertices = Vertices(Frame([&] { Plot("big", state, {.size = {600, 300}}, series); }));
    return vertices;
  };
  const int v20k = vertices_for(20000), v200k = vertices_for(200000);
  std::printf("vertices for 3 series in a 600 px plot: 20k points %d, 200k points %d\n", v20k, v200k);
  // At most 3 points per pixel column and series, about 4 vertices each, plus axes and text.
  EXPECT_LT(v200k, 3 * (3 * 600 + 4) * 4 + 15000);
  EXPECT_LT(v200k, v20k * 1.2 + 1000);
}

// A plot at a known place: the window's content origin, 600 x 300.
struct ProbePlot {
  std::vector<double> x = Iota(1000), y;
  PlotState state;
  ProbePlot() : y(1000) {
    for (size_t i = 0; i < y.size(); ++i) y[i] = std::sin(i * 0.01);
  }
  void Draw() {
    const PlotSeries series[] = {{"sin", x, y}};
    Plot("probe", state, {.title = "probe", .x_label = "step", .size = {600, 300}}, series);
  }
};

TEST_F(Widgets, PlotHoverShowsATooltip) {
  ProbePlot plot;
  const ImDrawData* data = Frame([&] { plot.Draw(); });
  EXPECT_EQ(data->CmdListsCount, 1);
  const ImVec2 center = ImVec2(origin_.x + 300, origin_.y + 150);
  Frame([&] { plot.Draw(); }, center);  // a new tooltip window is sized on its first frame, shown on the next
  data = Frame([&] { plot.Draw(); }, center);
  EXPECT_EQ(data->CmdListsCount, 2) << "the tooltip is a window of its own";
  data = Frame([&] { plot.Draw(); }, ImVec2(origin_.x + 900, origin_.y + 150));  // beside the plot
  EXPECT_EQ(data->CmdListsCount, 1);
}

TEST_F(Widgets, PlotWheelZoomsAboutTheCursor) {
  ProbePlot plot;
  Frame([&] { plot.Draw(); });
  ASSERT_TRUE(plot.state.auto_fit);
  const PlotState before = plot.state;
  const ImVec2 mouse(origin_.x + 300, origin_.y + 150);
  Frame([&] { plot.Draw(); }, mouse, false, 1.0f);  // one notch up: zoom in
  EXPECT_FALSE(plot.state.auto_fit);
  const double span_before = before.x_max - before.x_min, span_after = plot.state.x_max - plot.state.x_min;
  EXPECT_NEAR(span_after / span_before, 0.85, 1e-9);
  EXPECT_LT(plot.state.y_max - plot.state.y_min, before.y_max - before.y_min);
  // The data x under the cursor stays put.
  const float left = before.internal.plot_min.x, width = before.internal.plot_max.x - left;
  const double u = (mouse.x - left) / width;
  EXPECT_NEAR(before.x_min + u * span_before, plot.state.x_min + u * span_after, span_before * 1e-3);

  // Over the x tick labels (under the data area), only x zooms.
  const PlotState mid = plot.state;
  Frame([&] { plot.Draw(); }, ImVec2(mouse.x, plot.state.internal.plot_max.y + 8), false, -1.0f);
  EXPECT_GT(plot.state.x_max - plot.state.x_min, mid.x_max - mid.x_min);
  EXPECT_DOUBLE_EQ(plot.state.y_min, mid.y_min);
  EXPECT_DOUBLE_EQ(plot.state.y_max, mid.y_max);
}

TEST_F(Widgets, PlotDragPansAndDoubleClickFitsAgain) {
  ProbePlot plot;
  Frame([&] { plot.Draw(); });
  const PlotState fitted = plot.state;
  ImVec2 mouse(origin_.x + 300, origin_.y + 150);
  Frame([&] { plot.Draw(); }, mouse, true);  // press
  for (int i = 0; i < 10; ++i) {             // drag right by 100 px
    mouse.x += 10;
    Frame([&] { plot.Draw(); }, mouse, true);
  }
  Frame([&] { plot.Draw(); }, mouse, false);  // release
  EXPECT_FALSE(plot.state.auto_fit);
  EXPECT_LT(plot.state.x_min, fitted.x_min);  // content follows the mouse: the view moves left
  EXPECT_NEAR(plot.state.x_max - plot.state.x_min, fitted.x_max - fitted.x_min, 1e-6);
  const double per_pixel =
      (fitted.x_max - fitted.x_min) / (plot.state.internal.plot_max.x - plot.state.internal.plot_min.x);
  EXPECT_NEAR(fitted.x_min - plot.state.x_min, 100 * per_pixel, 10 * per_pixel);  // less the drag threshold

  // Double-click: press, release, press.
  Frame([&] { plot.Draw(); }, mouse, true);
  Frame([&] { plot.Draw(); }, mouse, false);
  Frame([&] { plot.Draw(); }, mouse, true);
  Frame([&] { plot.Draw(); }, mouse, false);
  EXPECT_TRUE(plot.state.auto_fit);
  EXPECT_DOUBLE_EQ(plot.state.x_min, fitted.x_min);
  EXPECT_DOUBLE_EQ(plot.state.x_max, fitted.x_max);
}

// After a Reset the series are cleared and a new run starts from step 0: the
// axes must fit the new run, not keep the old run's range or the user's zoom.
TEST_F(Widgets, PlotViewStartsOverWhenTheDataDoes) {
  std::vector<double> x = Iota(1000), y(1000);
  for (size_t i = 0; i < y.size(); ++i) y[i] = 10.0 / (1.0 + 0.01 * double(i));
  PlotState state;
  uint64_t run = 1;
  const auto draw = [&](ImVec2 mouse = kNoMouse, float wheel = 0) {
    const PlotSeries series[] = {{"train", x, y}};
    Frame([&] { Plot("loss", state, {.log_y = true, .size = {600, 300}, .data_id = run}, series); }, mouse, false, wheel);
  };
  draw();
  draw();
  EXPECT_GT(state.x_max, 990);
  // Zoomed in by the user: appending keeps the zoom.
  draw(ImVec2(origin_.x + 300, origin_.y + 150), 2.0f);
  ASSERT_FALSE(state.auto_fit);
  const double zoomed_min = state.x_min, zoomed_max = state.x_max;
  x.push_back(1000), y.push_back(0.9);
  draw();
  EXPECT_FALSE(state.auto_fit);
  EXPECT_DOUBLE_EQ(state.x_min, zoomed_min);
  EXPECT_DOUBLE_EQ(state.x_max, zoomed_max);
  // Reset: the series are emptied; then a new run's first steps, with another range of loss.
  x.clear(), y.clear();
  draw();
  EXPECT_TRUE(state.auto_fit);
  for (int i = 0; i < 50; ++i) x.push_back(i), y.push_back(100.0 + i);
  draw();
  EXPECT_LT(state.x_max, 60) << "the old run's 1000 steps are still on the x axis";
  EXPECT_GT(state.y_min, 50) << "the old run's loss range is still on the y axis";
  // A new run replacing the old between two frames (never seen empty): its x goes back.
  draw(ImVec2(origin_.x + 300, origin_.y + 150), 2.0f);
  ASSERT_FALSE(state.auto_fit);
  x.resize(10), y.resize(10);
  draw();
  EXPECT_TRUE(state.auto_fit);
  EXPECT_LT(state.x_max, 10);
  // The caller's data id: a new run that happens to reach as far.
  draw(ImVec2(origin_.x + 300, origin_.y + 150), 2.0f);
  ASSERT_FALSE(state.auto_fit);
  run = 2;
  draw();
  EXPECT_TRUE(state.auto_fit);
}

TEST_F(Widgets, PlotLegendClickHidesASeries) {
  ProbePlot plot;
  Frame([&] { plot.Draw(); });
  // The legend ends over the data area's right edge, on the title row.
  const ImVec2 entry(plot.state.internal.plot_max.x - 4, origin_.y + ImGui::GetFontSize() * 0.5f);
  Frame([&] { plot.Draw(); }, entry, true);
  Frame([&] { plot.Draw(); }, entry, false);
  EXPECT_EQ(plot.state.hidden, std::vector<std::string>{"sin"});
  Frame([&] { plot.Draw(); }, entry, true);
  Frame([&] { plot.Draw(); }, entry, false);
  EXPECT_TRUE(plot.state.hidden.empty());
}

TEST_F(Widgets, PlotDrawTimeFor100kPointsTimesThree) {
  const size_t n = 100000;
  const std::vector<double> x = Iota(n);
  std::vector<double> a(n), b(n), c(n);
  std::mt19937 rng(3);
  std::normal_distribution<double> noise(0, 0.1);
  for (size_t i = 0; i < n; ++i) {
    a[i] = std::exp(-1e-5 * i) + noise(rng);
    b[i] = std::exp(-2e-5 * i) + noise(rng);
    c[i] = 0.5 + noise(rng);
  }
  const PlotSeries series[] = {{"a", x, a}, {"b", x, b}, {"c", x, c, 0, 2.0f, true}};
  for (float smoothing : {0.0f, 0.9f}) {
    PlotState state;
    std::vector<double> plot_ms, frame_ms;
    for (int frame = 0; frame < 21; ++frame) {
      double inside = 0;
      const auto frame_start = std::chrono::steady_clock::now();
      Frame(
          [&] {
            const auto start = std::chrono::steady_clock::now();
            Plot("timed", state, {.title = "timed", .smoothing = smoothing, .size = {1000, 400}}, series);
            inside = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
          },
          ImVec2(origin_.x + 500, origin_.y + 200));
      frame_ms.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - frame_start).count());
      plot_ms.push_back(inside);
    }
    std::sort(plot_ms.begin(), plot_ms.end());
    std::sort(frame_ms.begin(), frame_ms.end());
    std::printf(
        "Plot() of 3 x 100k points, 1000 px wide, hovered, smoothing %.1f: median %.3f ms, fastest %.3f ms "
        "(whole frame: median %.3f ms)\n",
        smoothing, plot_ms[plot_ms.size() / 2], plot_ms.front(), frame_ms[frame_ms.size() / 2]);
  }
}

// ---------------------------------------------------------------------------
// Heatmap
// ---------------------------------------------------------------------------

std::vector<float> Probabilities(int resolution, int classes, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0, 1);
  std::vector<float> p(static_cast<size_t>(resolution) * resolution * classes);
  for (size_t s = 0; s < p.size(); s += classes) {
    float total = 0;
    for (int k = 0; k < classes; ++k) total += p[s + k] = std::pow(u(rng), 4.0f);
    for (int k = 0; k < classes; ++k) p[s + k] /= total;
  }
  return p;
}

TEST_F(Widgets, ClassHeatmapDrawsEveryClassCountAndResolution) {
  const std::vector<float> xy = {0, 0, 0.5f, -0.5f, NAN, 1, 5, 5};  // one NaN, one outside
  const std::vector<uint32_t> labels = {0, 1, 2, 9};
  const ScatterSet points[] = {{xy, labels, false}, {xy, labels, true}};
  for (int classes = 2; classes <= 10; ++classes) {
    for (int resolution : {1, 2, 64, 128}) {
      for (bool smooth : {true, false}) {
        SCOPED_TRACE(testing::Message() << classes << " classes, resolution " << resolution << " smooth " << smooth);
        const std::vector<float> p = Probabilities(resolution, classes, classes * 1000 + resolution);
        const ImDrawData* data = Frame(
            [&] {
              ClassHeatmap("map", {p, resolution, classes}, points, {.size = {400, 0}, .smooth = smooth});
            },
            ImVec2(origin_.x + 200, origin_.y + 150));
        if (smooth) {  // a mesh through the cell centres and a border ring
          EXPECT_GE(Vertices(data), 2 * (resolution + 2) * (resolution + 1));
        }
      }
    }
  }
  // Missing or short data, NaN probabilities: axes and points only, or a neutral colour.
  const std::vector<float> short_grid(10, 0.5f), nan_grid(4 * 4 * 3, NAN);
  Frame([&] { ClassHeatmap("empty", {}, points); });
  Frame([&] { ClassHeatmap("short", {short_grid, 64, 3}, points); });
  Frame([&] { ClassHeatmap("nan", {nan_grid, 4, 3}, points); });
  Frame([&] { ClassHeatmap("bad extent", {nan_grid, 4, 3}, {}, {.extent = {1, 1, kNaN, 0}}); });
}

// The bounding box of the vertices drawn in `color`.
std::pair<ImVec2, ImVec2> BoxOfColor(const ImDrawData* data, ImU32 color) {
  ImVec2 lo(FLT_MAX, FLT_MAX), hi(-FLT_MAX, -FLT_MAX);
  for (int l = 0; l < data->CmdListsCount; ++l)
    for (const ImDrawVert& v : data->CmdLists[l]->VtxBuffer)
      if (v.col == color)
        lo = ImVec2(std::min(lo.x, v.pos.x), std::min(lo.y, v.pos.y)),
        hi = ImVec2(std::max(hi.x, v.pos.x), std::max(hi.y, v.pos.y));
  return {lo, hi};
}

TEST_F(Widgets, HeatmapCellsSitWhereTheSessionSamplesThem) {
  // A 2 x 2 grid of 4 classes, each cell sure of its own class: cell (ix, iy) = class iy * 2 + ix.
  std::vector<float> p(2 * 2 * 4, 0.0f);
  for (int cell = 0; cell < 4; ++cell) p[cell * 4 + cell] = 1;
  HeatmapResult result;
  const ImDrawData* data = Frame([&] {
    result = ClassHeatmap("cells", {p, 2, 4}, {}, {.size = {300, 0}, .smooth = false});
  });
  const ImVec2 lo = result.data_min, hi = result.data_max, mid((lo.x + hi.x) / 2, (lo.y + hi.y) / 2);
  const ImVec2 expected_min[4] = {{lo.x, mid.y}, {mid.x, mid.y}, {lo.x, lo.y}, {mid.x, lo.y}};  // row 0 at the bottom
  for (int cell = 0; cell < 4; ++cell) {
    SCOPED_TRACE(testing::Message() << "cell " << cell);
    const float one_hot[4] = {cell == 0 ? 1.0f : 0, cell == 1 ? 1.0f : 0, cell == 2 ? 1.0f : 0, cell == 3 ? 1.0f : 0};
    const auto [box_min, box_max] = BoxOfColor(data, ClassBlendColor(one_hot));
    EXPECT_NEAR(box_min.x, expected_min[cell].x, 0.5f);
    EXPECT_NEAR(box_min.y, expected_min[cell].y, 0.5f);
    EXPECT_NEAR(box_max.x - box_min.x, (hi.x - lo.x) / 2, 0.5f);
    EXPECT_NEAR(box_max.y - box_min.y, (hi.y - lo.y) / 2, 0.5f);
  }
  // Smooth: the centre of the bottom-left cell carries exactly its sample's colour.
  data = Frame([&] { result = ClassHeatmap("cells", {p, 2, 4}, {}, {.size = {300, 0}}); });
  const float first[4] = {1, 0, 0, 0};
  const auto [box_min, box_max] = BoxOfColor(data, ClassBlendColor(first));
  EXPECT_NEAR(box_min.x, lo.x, 0.5f);  // the border ring repeats it out to the corner
  EXPECT_NEAR(box_max.y, hi.y, 0.5f);
  EXPECT_NEAR(box_max.x, lo.x + (hi.x - lo.x) / 4, 0.5f);  // up to the cell's centre
  EXPECT_NEAR(box_min.y, hi.y - (hi.y - lo.y) / 4, 0.5f);
}

TEST_F(Widgets, HeatmapClickReturnsDataCoordinates) {
  const std::vector<float> p = Probabilities(16, 3, 1);
  HeatmapResult result;
  const auto draw = [&] { result = ClassHeatmap("map", {p, 16, 3}, {}, {.extent = {-2, 2, -1, 3}, .size = {400, 0}}); };
  Frame(draw);
  EXPECT_FALSE(result.clicked);
  const ImVec2 lo = result.data_min, hi = result.data_max;
  ASSERT_GT(hi.x - lo.x, 100);
  EXPECT_NEAR(hi.x - lo.x, hi.y - lo.y, 1.0f);  // square extent, square area
  // A quarter in from the left, a quarter up from the bottom: (-1, 0).
  const ImVec2 at(lo.x + (hi.x - lo.x) * 0.25f, hi.y - (hi.y - lo.y) * 0.25f);
  Frame(draw, at);
  ASSERT_TRUE(result.hovered);
  EXPECT_FALSE(result.clicked);
  Frame(draw, at, true);
  ASSERT_TRUE(result.clicked);
  // ImGui floors the mouse position to whole pixels.
  const double expected_x = -2 + (std::floor(at.x) - lo.x) / (hi.x - lo.x) * 4;
  const double expected_y = -1 + (hi.y - std::floor(at.y)) / (hi.y - lo.y) * 4;
  EXPECT_NEAR(result.clicked->x, expected_x, 1e-4);
  EXPECT_NEAR(result.clicked->y, expected_y, 1e-4);
  EXPECT_NEAR(result.clicked->x, -1.0, 0.02);
  EXPECT_NEAR(result.clicked->y, 0.0, 0.02);
  Frame(draw, at, true);  // held, not clicked again
  EXPECT_FALSE(result.clicked);
  Frame(draw, at, false);
  Frame(draw, ImVec2(lo.x - 20, lo.y + 10), true);  // on the axis labels: not a data click
  EXPECT_FALSE(result.clicked);
}

TEST_F(Widgets, ValueHeatmapAndColours) {
  const int resolution = 32, units = 5;
  std::vector<float> activations(resolution * resolution * units);
  for (size_t i = 0; i < activations.size(); ++i) activations[i] = std::sin(static_cast<float>(i) * 0.37f) * 3;
  activations[7] = NAN;
  for (int unit : {0, 4, 5, -1})  // 5 and -1 are out of range: no grid
    Frame(
        [&] {
          ValueHeatmap("unit", {activations, resolution, units, unit}, {}, {.smooth = unit % 2 == 0});
        },
        ImVec2(200, 200));
  const std::vector<float> zeros(resolution * resolution, 0.0f);
  Frame([&] { ValueHeatmap("zeros", {zeros, resolution, 1, 0}, {}); });

  const ImVec4 negative = ImGui::ColorConvertU32ToFloat4(DivergingColor(-1)),
               positive = ImGui::ColorConvertU32ToFloat4(DivergingColor(1));
  const ImVec4 zero = ImGui::ColorConvertU32ToFloat4(DivergingColor(0));
  EXPECT_GT(negative.z, negative.x);          // blue
  EXPECT_GT(positive.x, positive.z);          // orange
  EXPECT_LT(zero.x + zero.y + zero.z, 0.7f);  // dark in the middle
  EXPECT_EQ(DivergingColor(NAN), DivergingColor(0));
  EXPECT_EQ(DivergingColor(7), DivergingColor(1));

  // Sure samples take their class' hue; a uniform guess is pale grey.
  const float sure[] = {0, 1, 0}, unsure[] = {1.0f / 3, 1.0f / 3, 1.0f / 3};
  const ImVec4 c = ImGui::ColorConvertU32ToFloat4(ClassBlendColor(sure)),
               k = ImGui::ColorConvertU32ToFloat4(ClassColor(1));
  EXPECT_NEAR(c.x / c.z, k.x / k.z, 0.1f);
  const ImVec4 pale = ImGui::ColorConvertU32ToFloat4(ClassBlendColor(unsure));
  EXPECT_NEAR(pale.x, pale.z, 0.05f);
  EXPECT_GT(pale.x + pale.y + pale.z, c.x + c.y + c.z);  // lighter where uncertain
}

// ---------------------------------------------------------------------------
// Bar charts
// ---------------------------------------------------------------------------

TEST_F(Widgets, BarChartsHandleOddValuesAndReportHover) {
  const Bar bars[] = {{"matmul_forward", 1.25, "41%"},
                      {"a label far too long to fit in the label column at all", 0.9},
                      {"nan", NAN},
                      {"negative", -0.4},
                      {"inf", INFINITY},
                      {"zero", 0}};
  int hovered = -2;
  Frame([&] { hovered = BarChart("bars", bars, {.unit = " ms", .width = 500}); });
  EXPECT_EQ(hovered, -1);
  const float row = ImGui::GetFrameHeight();
  Frame([&] { hovered = BarChart("bars", bars, {.unit = " ms", .width = 500}); },
        ImVec2(origin_.x + 250, origin_.y + row * 1.5f));
  EXPECT_EQ(hovered, 1);
  Frame([&] { BarChart("empty", std::span<const Bar>{}); });
  const Bar zeros[] = {{"a", 0}, {"b", 0}};
  Frame([&] { BarChart("zeros", zeros, {.max_value = 10}); });

  const StackedSegment segments[] = {{"forward", 3}, {"backward", 5}, {"skipped", -1}, {"optimizer", 2}, {"nan", NAN}};
  Frame([&] { hovered = StackedBar("stack", segments, {.width = 1000}); }, ImVec2(origin_.x + 100, origin_.y + 5));
  EXPECT_EQ(hovered, 0);
  Frame([&] { hovered = StackedBar("stack", segments, {.width = 1000}); }, ImVec2(origin_.x + 500, origin_.y + 5));
  EXPECT_EQ(hovered, 1);
  Frame([&] { hovered = StackedBar("stack", segments, {.width = 1000}); }, ImVec2(origin_.x + 900, origin_.y + 5));
  EXPECT_EQ(hovered, 3);
  Frame([&] { StackedBar("empty", std::span<const StackedSegment>{}); });
}


TEST_F(Widgets, StackedFilledPlotAndGanttDrawAndReportHover) {
  std::vector<double> x = {1, 2, 3, 4}, low = {1, 2, 1, 2}, high = {3, 4, 3, 4};
  PlotState view;
  const PlotSeries series[] = {{.label = "b", .x = x, .y = high, .fill = true}, {.label = "a", .x = x, .y = low, .fill = true}};
  EXPECT_GT(Vertices(Frame([&] { Plot("stacked", view, {.size = ImVec2(400, 200)}, series); })), 0);
  EXPECT_LE(view.y_min, 1.0);
  EXPECT_GE(view.y_max, 4.0);

  GanttState gantt;
  const char* const rows[] = {"host", "device"};
  const GanttBar bars[] = {{0, 0, 100, 0, "submit"}, {1, 10, 60, 0, "dense forward"}, {1, 60, 61, 0, "barrier", nullptr, true}};
  int hovered = -2;
  Frame([&] { hovered = Gantt("gantt", gantt, rows, bars, {.size = ImVec2(400, 100)}); });
  EXPECT_EQ(hovered, -1);
  EXPECT_LT(gantt.x_min, 0.5);
  EXPECT_GT(gantt.x_max, 99.5);
  // The mouse over the device bar's middle hovers it.
  const float x_mid = gantt.data_min.x + (gantt.data_max.x - gantt.data_min.x) * float((35 - gantt.x_min) / (gantt.x_max - gantt.x_min));
  const float y_device = gantt.data_min.y + (gantt.data_max.y - gantt.data_min.y) * 0.75f;
  Frame([&] { hovered = Gantt("gantt", gantt, rows, bars, {.size = ImVec2(400, 100)}); }, ImVec2(x_mid, y_device));
  Frame([&] { hovered = Gantt("gantt", gantt, rows, bars, {.size = ImVec2(400, 100)}); }, ImVec2(x_mid, y_device));
  EXPECT_EQ(hovered, 1);
}

// ---------------------------------------------------------------------------
// Number fields
// ---------------------------------------------------------------------------

TEST_F(Widgets, NumberFieldTypesAfterOneClickAndDragsToTune) {
  float noise = 0.5f;
  int size = 64;
  ImVec2 noise_at, size_at;
  const auto body = [&] {
    ImGui::SetNextItemWidth(200);
    NumberField("noise", noise, 0.0f, 1.0f, {.format = "%.2f"});
    noise_at = ImVec2((ImGui::GetItemRectMin().x + 100), (ImGui::GetItemRectMin().y + ImGui::GetItemRectMax().y) / 2);
    ImGui::SetNextItemWidth(200);
    NumberField("workgroup size", size, 1, 1024, {.logarithmic = true});
    size_at = ImVec2((ImGui::GetItemRectMin().x + 100), (ImGui::GetItemRectMin().y + ImGui::GetItemRectMax().y) / 2);
  };
  ImGuiIO& io = ImGui::GetIO();
  io.KeyMap[ImGuiKey_Enter] = 13;
  Frame(body);
  Frame(body, noise_at);
  Frame(body, noise_at, true);   // press
  Frame(body, noise_at, false);  // release, not moved: the text box
  Frame(body, noise_at, false);
  EXPECT_TRUE(io.WantTextInput) << "one click should let the user type";
  EXPECT_EQ(noise, 0.5f);
  io.AddInputCharactersUTF8("0.2");
  Frame(body, noise_at);
  io.KeysDown[13] = true;  // Enter
  Frame(body, noise_at);
  io.KeysDown[13] = false;
  Frame(body, noise_at);
  Frame(body, noise_at);  // io.WantTextInput tells of the frame before
  EXPECT_FALSE(io.WantTextInput);
  EXPECT_EQ(noise, 0.2f) << "the typed text replaces the value";
  // Typed beyond the range: clamped.
  Frame(body, noise_at, true);
  Frame(body, noise_at, false);
  Frame(body, noise_at, false);
  io.AddInputCharactersUTF8("7");
  Frame(body, noise_at);
  io.KeysDown[13] = true;
  Frame(body, noise_at);
  io.KeysDown[13] = false;
  Frame(body, noise_at);
  EXPECT_EQ(noise, 1.0f);

  // A drag to the right raises the workgroup size; no text box.
  ImVec2 mouse = size_at;
  Frame(body, mouse);
  Frame(body, mouse, true);
  for (int i = 0; i < 12; ++i) {
    mouse.x += 5;
    Frame(body, mouse, true);
  }
  Frame(body, mouse, false);
  Frame(body, mouse, false);
  EXPECT_FALSE(io.WantTextInput);
  EXPECT_GT(size, 64);
  EXPECT_LE(size, 1024);
}

}  // namespace
}  // namespace ts::ui
