// The attention-map widgets (ui/widgets/attention_map.h), run headless: an
// ImGui context with a built font atlas, frames run without a renderer, and
// the mouse set on ImGuiIO before each frame (ImGui 1.86 reads one mouse state
// a frame, and knows the hovered window only from the frame before, so a
// hover takes two frames).
#include <gtest/gtest.h>

#include <cfloat>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "imgui.h"
#include "support/headless_imgui.h"
#include "ui/test_hooks.h"
#include "ui/widgets/attention_map.h"

namespace ts::ui {
namespace {

const ImVec2 kNoMouse(-FLT_MAX, -FLT_MAX);

// Maps of `n` tokens with random causal softmax rows (each sums to 1 over keys 0..q).
nn::AttentionMaps MakeMaps(int n, uint32_t layers, uint32_t heads, uint32_t seed = 1) {
  const std::string text = "To be, or not to be:\nthat is the question. ";
  nn::AttentionMaps maps;
  for (int i = 0; i < n; ++i) maps.tokens.push_back(std::string(1, text[i % text.size()]));
  maps.layers = layers;
  maps.heads = heads;
  for (uint32_t l = 0; l < layers; ++l) maps.layer_names.push_back("block" + std::to_string(l));
  std::mt19937 rng(seed);
  std::normal_distribution<float> logit(0.0f, 2.0f);
  for (uint32_t m = 0; m < layers * heads; ++m) {
    for (int q = 0; q < n; ++q) {
      std::vector<float> row(n, 0.0f);
      float total = 0;
      for (int k = 0; k <= q; ++k) total += row[k] = std::exp(logit(rng));
      for (int k = 0; k <= q; ++k) row[k] /= total;
      maps.weights.insert(maps.weights.end(), row.begin(), row.end());
    }
  }
  return maps;
}

class AttentionWidgets : public ::testing::Test {
 protected:
  void SetUp() override { context_ = ts::testing::CreateHeadlessImGui(); }
  void TearDown() override { ImGui::DestroyContext(context_); }

  // One frame with the mouse at `mouse` (left button `down`), `body` inside a
  // full-screen window; returns the draw data.
  ImDrawData* Frame(const std::function<void()>& body, ImVec2 mouse = kNoMouse, bool down = false) {
    ImGuiIO& io = ImGui::GetIO();
    io.MousePos = mouse;
    io.MouseDown[0] = down;
    ImGui::NewFrame();
    ImGui::SetNextWindowPos(ImVec2(0, 0));
    ImGui::SetNextWindowSize(io.DisplaySize);
    ImGui::Begin("attention", nullptr,
                 ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoSavedSettings);
    body();
    ImGui::End();
    ImGui::Render();
    return ImGui::GetDrawData();
  }
  // Two frames with the mouse at `mouse`: the second one sees the hover.
  void Hover(const std::function<void()>& body, ImVec2 mouse) {
    Frame(body, mouse);
    Frame(body, mouse);
  }

 private:
  ImGuiContext* context_ = nullptr;
};

std::string Tooltip(const std::string& id) {
  const auto& texts = RecordedTexts();
  const auto it = texts.find(id + "/tooltip");
  return it == texts.end() ? "" : it->second;
}

TEST(VisibleToken, ShowsBreaksSpacesAndControlCharacters) {
  EXPECT_EQ(VisibleToken("\n"), "\xC2\xB6");
  EXPECT_EQ(VisibleToken(" "), "\xC2\xB7");
  EXPECT_EQ(VisibleToken("\t"), "\xC2\xBB");
  EXPECT_EQ(VisibleToken(std::string(1, '\x01')), "\\x01");
  EXPECT_EQ(VisibleToken("a"), "a");
  EXPECT_EQ(VisibleToken("'"), "'");
  EXPECT_EQ(VisibleToken("\xC3\xA9"), "\xC3\xA9");  // a UTF-8 character stays as it is
  EXPECT_EQ(VisibleToken(""), "");
}

TEST(AttentionColor, RunsDarkToBrightAndMarksInvalid) {
  const auto luminance = [](ImU32 c) {
    const ImVec4 v = ImGui::ColorConvertU32ToFloat4(c);
    return 0.299f * v.x + 0.587f * v.y + 0.114f * v.z;
  };
  float previous = -1;
  for (int i = 0; i < kAttentionColorLevels; ++i) {
    const float l = luminance(AttentionColor(i / float(kAttentionColorLevels - 1)));
    EXPECT_GT(l, previous) << i;
    previous = l;
  }
  EXPECT_GT(luminance(AttentionColor(1)), 0.8f);
  EXPECT_NE(AttentionColor(0), IM_COL32(15, 15, 15, 255));  // not the dark theme's window background
  EXPECT_EQ(AttentionColor(-3), AttentionColor(0));
  EXPECT_EQ(AttentionColor(7), AttentionColor(1));
  const ImU32 invalid = AttentionColor(std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(AttentionColor(std::numeric_limits<float>::infinity()), invalid);
  for (int i = 0; i < kAttentionColorLevels; ++i) EXPECT_NE(AttentionColor(i / float(kAttentionColorLevels - 1)), invalid);
}

TEST_F(AttentionWidgets, HeatmapDrawsTheLowerTriangleWithinARectangleBudget) {
  for (int n : {1, 2, 3, 5, 17, 64, 255, 256}) {
    const nn::AttentionMaps maps = MakeMaps(n, 2, 3, n);
    for (float box : {360.0f, 100.0f}) {  // 100: cells under a pixel for long prompts
      for (AttentionScale scale : {AttentionScale::kRowMax, AttentionScale::kAbsolute}) {
        SCOPED_TRACE(::testing::Message() << "n " << n << " box " << box);
        AttentionPick pick;
        const ImDrawData* data =
            Frame([&] { pick = AttentionHeatmap("att", maps, 1, 2, n / 2, ImVec2(box, box), scale); });
        EXPECT_EQ(pick.cells, n * (n + 1) / 2);
        EXPECT_EQ(pick.query, -1);
        const float side = pick.map_max.x - pick.map_min.x;
        EXPECT_GT(side, 0.99f);
        EXPECT_NEAR(side, pick.map_max.y - pick.map_min.y, 1e-3);
        EXPECT_LE(side, box);
        // At most one rectangle per cell, or per pixel when cells are smaller
        // (4 vertices each), plus the labels (a step keeps them a character apart) and the legend.
        const int pixels = std::min(n, static_cast<int>(side) + 1);
        EXPECT_LE(data->TotalVtxCount, 4 * pixels * (pixels + 1) / 2 + 3000);
      }
    }
  }
}

TEST_F(AttentionWidgets, HoveringACellReportsQueryKeyAndWeight) {
  for (int n : {1, 7, 40}) {
    const nn::AttentionMaps maps = MakeMaps(n, 1, 2, 10 + n);
    AttentionPick pick;
    const auto draw = [&] { pick = AttentionHeatmap("att", maps, 0, 1, -1, ImVec2(360, 400)); };
    Frame(draw);
    const ImVec2 corner = pick.map_min;
    const float cell = (pick.map_max.x - pick.map_min.x) / n;
    ASSERT_GE(cell, 4.0f);
    const auto centre = [&](float q, float k) { return ImVec2(corner.x + (k + 0.5f) * cell, corner.y + (q + 0.5f) * cell); };
    for (const auto& [q, k] : std::vector<std::pair<int, int>>{{0, 0}, {n - 1, 0}, {n - 1, n - 1}, {n / 2, n / 3}}) {
      SCOPED_TRACE(::testing::Message() << "n " << n << " query " << q << " key " << k);
      Hover(draw, centre(q, k));
      EXPECT_EQ(pick.query, q);
      EXPECT_EQ(pick.key, k);
      EXPECT_EQ(pick.weight, maps.at(0, 1, q, k));
      char expected[160];
      std::snprintf(expected, sizeof expected, "query '%s' (position %d) -> key '%s' (position %d): weight %.3f",
                    VisibleToken(maps.tokens[q]).c_str(), q, VisibleToken(maps.tokens[k]).c_str(), k,
                    maps.at(0, 1, q, k));
      EXPECT_EQ(Tooltip("att").rfind(expected, 0), 0u) << Tooltip("att");
      EXPECT_NE(Tooltip("att").find("top keys: '"), std::string::npos) << Tooltip("att");
    }
    if (n == 1) {
      EXPECT_FLOAT_EQ(pick.weight, 1.0f);
      continue;
    }
    // The empty upper triangle: the row's query, no key.
    Hover(draw, centre(0, n - 1));
    EXPECT_EQ(pick.query, 0);
    EXPECT_EQ(pick.key, -1);
    EXPECT_NE(Tooltip("att").find("masked"), std::string::npos);
    // A query character on the left axis, and a key character below (that token as the query).
    Hover(draw, ImVec2(corner.x - 4, centre(n - 2, 0).y));
    EXPECT_EQ(pick.query, n - 2);
    EXPECT_EQ(pick.key, -1);
    Hover(draw, ImVec2(centre(0, 1).x, pick.map_max.y + 4));
    EXPECT_EQ(pick.query, 1);
    EXPECT_EQ(pick.key, -1);
    // Away from the widget: nothing.
    Hover(draw, ImVec2(1500, 900));
    EXPECT_EQ(pick.query, -1);
  }
}

TEST_F(AttentionWidgets, HeatmapOutlinesTheHighlightedRow) {
  const nn::AttentionMaps maps = MakeMaps(12, 1, 1);
  const int plain = Frame([&] { AttentionHeatmap("att", maps, 0, 0, -1, ImVec2(300, 300)); })->TotalVtxCount;
  const int outlined = Frame([&] { AttentionHeatmap("att", maps, 0, 0, 5, ImVec2(300, 300)); })->TotalVtxCount;
  EXPECT_GT(outlined, plain);
  // Out-of-range highlights are ignored.
  EXPECT_EQ(Frame([&] { AttentionHeatmap("att", maps, 0, 0, 99, ImVec2(300, 300)); })->TotalVtxCount, plain);
}

TEST_F(AttentionWidgets, LongPromptInASmallBoxIsDrawnAsAnImageAndStaysHoverable) {
  const nn::AttentionMaps maps = MakeMaps(256, 1, 1, 3);
  AttentionPick pick;
  const auto draw = [&] { pick = AttentionHeatmap("att", maps, 0, 0, 200, ImVec2(160, 160)); };
  const auto start = std::chrono::steady_clock::now();
  const ImDrawData* data = Frame(draw);
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  std::printf("256 x 256 attention map in a 160 px box: %d vertices, %.2f ms\n", data->TotalVtxCount, ms);
  EXPECT_EQ(pick.cells, 256 * 257 / 2);
  const float side = pick.map_max.x - pick.map_min.x;
  ASSERT_LT(side, 256.0f);  // under a pixel per cell
  Hover(draw, ImVec2(pick.map_min.x + side * 0.25f, pick.map_min.y + side * 0.75f));
  EXPECT_NEAR(pick.query, 192, 3);  // ImGui floors the mouse to whole pixels: about 2 cells
  EXPECT_NEAR(pick.key, 64, 3);
  EXPECT_EQ(pick.weight, maps.at(0, 0, pick.query, pick.key));
}

TEST_F(AttentionWidgets, StripHoverPicksEachCharacterInOrder) {
  const nn::AttentionMaps maps = MakeMaps(9, 2, 2, 4);
  for (int query : {-1, 0, 4, 8, 9}) {
    AttentionPick pick;
    Frame([&] { pick = AttentionStrip("strip", maps, 1, 1, query); });
    EXPECT_EQ(pick.cells, query >= 0 && query < 9 ? query + 1 : 0) << query;
  }
  AttentionPick pick;
  const auto draw = [&] { pick = AttentionStrip("strip", maps, 1, 1, 4); };
  Frame(draw);
  const ImVec2 lo = pick.map_min, hi = pick.map_max;
  ASSERT_GT(hi.x - lo.x, 9 * 5.0f);
  const float y = (lo.y + hi.y) / 2;
  std::vector<int> seen;
  Frame(draw, ImVec2(lo.x + 1, y));
  for (float x = lo.x + 1; x < hi.x; x += 1.0f) {
    Frame(draw, ImVec2(x, y));
    EXPECT_EQ(pick.key, -1);
    if (pick.query >= 0 && (seen.empty() || seen.back() != pick.query)) seen.push_back(pick.query);
  }
  EXPECT_EQ(seen, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(Tooltip("strip").rfind("query '", 0), 0u) << Tooltip("strip");
}

TEST_F(AttentionWidgets, StripWrapsAtTheAvailableWidth) {
  const nn::AttentionMaps maps = MakeMaps(120, 1, 1);
  AttentionPick wide, narrow;
  Frame([&] {
    wide = AttentionStrip("wide", maps, 0, 0, 60);
    ImGui::BeginChild("narrow", ImVec2(200, 600));
    narrow = AttentionStrip("narrow", maps, 0, 0, 60);
    ImGui::EndChild();
  });
  EXPECT_LE(narrow.map_max.x - narrow.map_min.x, 200.0f);
  EXPECT_GT(narrow.map_max.y - narrow.map_min.y, 3 * (wide.map_max.y - wide.map_min.y));
  EXPECT_EQ(narrow.cells, 61);
}

TEST_F(AttentionWidgets, HeadGridClickPicksTheHead) {
  const nn::AttentionMaps maps = MakeMaps(10, 2, 4, 5);
  AttentionPick pick;
  const auto draw = [&] { pick = AttentionHeadGrid("grid", maps, 1, 0, 64); };
  Frame(draw);
  EXPECT_EQ(pick.cells, 4 * 55);
  EXPECT_EQ(pick.clicked_head, -1);
  // Find head 2 by moving along the maps' middle line.
  const float y = pick.map_max.y - 32;
  float head2_min = FLT_MAX, head2_max = -FLT_MAX;
  std::vector<int> seen;
  for (float x = pick.map_min.x + 1; x < pick.map_max.x; x += 2) {
    Frame(draw, ImVec2(x, y));
    if (pick.hovered_head >= 0 && (seen.empty() || seen.back() != pick.hovered_head)) seen.push_back(pick.hovered_head);
    if (pick.hovered_head == 2) head2_min = std::min(head2_min, x), head2_max = std::max(head2_max, x);
    EXPECT_EQ(pick.clicked_head, -1);
  }
  EXPECT_EQ(seen, (std::vector<int>{0, 1, 2, 3}));
  ASSERT_LT(head2_min, head2_max);
  const ImVec2 centre((head2_min + head2_max) / 2, y);
  Frame(draw, centre);
  EXPECT_EQ(pick.hovered_head, 2);
  EXPECT_GE(pick.query, 0);  // the cell under the mouse in head 2's map
  if (pick.key >= 0) {
    EXPECT_EQ(pick.weight, maps.at(1, 2, pick.query, pick.key));
  }
  Frame(draw, centre, true);
  EXPECT_EQ(pick.clicked_head, 2);
  Frame(draw, centre, false);
  EXPECT_EQ(pick.clicked_head, -1);  // a click is reported once
  Frame(draw);
  EXPECT_EQ(pick.hovered_head, -1);
}

TEST_F(AttentionWidgets, EmptyOrInconsistentMapsDrawNothing) {
  std::vector<nn::AttentionMaps> bad(5);
  bad[1] = MakeMaps(6, 0, 2);  // no layers
  bad[2] = MakeMaps(6, 1, 0);  // no heads
  bad[3] = MakeMaps(6, 1, 2);
  bad[3].weights.resize(10);  // too few weights
  bad[4] = MakeMaps(6, 1, 2);
  bad[4].tokens.clear();  // no prompt
  const nn::AttentionMaps good = MakeMaps(6, 1, 2);
  for (size_t i = 0; i < bad.size(); ++i) {
    SCOPED_TRACE(::testing::Message() << "case " << i);
    AttentionPick heat, strip, grid;
    const auto draw = [&] {
      heat = AttentionHeatmap("att", bad[i], 0, 0, 0, ImVec2(200, 200));
      strip = AttentionStrip("strip", bad[i], 0, 0, 0);
      grid = AttentionHeadGrid("grid", bad[i], 0, 0, 48);
    };
    Hover(draw, ImVec2(100, 100));
    for (const AttentionPick& p : {heat, strip, grid}) {
      EXPECT_EQ(p.cells, 0);
      EXPECT_EQ(p.query, -1);
      EXPECT_EQ(p.clicked_head, -1);
    }
  }
  // Layer or head out of range.
  for (const auto& [layer, head] : std::vector<std::pair<int, int>>{{-1, 0}, {1, 0}, {0, -1}, {0, 2}}) {
    AttentionPick heat, strip, grid;
    Frame([&] {
      heat = AttentionHeatmap("att", good, layer, head, 0, ImVec2(200, 200));
      strip = AttentionStrip("strip", good, layer, head, 0);
      grid = AttentionHeadGrid("grid", good, layer, head, 48);
    });
    EXPECT_EQ(heat.cells, 0);
    EXPECT_EQ(strip.cells, 0);
    EXPECT_EQ(grid.cells, layer == 0 ? 2 * 21 : 0);  // the grid ignores the head; its layer is fine
  }
}

TEST_F(AttentionWidgets, NonFiniteWeightsAreDrawnInTheInvalidColour) {
  nn::AttentionMaps maps = MakeMaps(5, 1, 1);
  maps.weights[3 * 5 + 1] = std::numeric_limits<float>::quiet_NaN();  // query 3, key 1
  AttentionPick pick;
  const ImDrawData* data = Frame([&] { pick = AttentionHeatmap("att", maps, 0, 0, -1, ImVec2(200, 200)); });
  EXPECT_EQ(pick.cells, 15);
  const ImU32 invalid = AttentionColor(std::numeric_limits<float>::quiet_NaN());
  int invalid_vertices = 0;
  for (int l = 0; l < data->CmdListsCount; ++l)
    for (const ImDrawVert& v : data->CmdLists[l]->VtxBuffer) invalid_vertices += v.col == invalid;
  EXPECT_EQ(invalid_vertices, 4);
  Frame([&] { AttentionStrip("strip", maps, 0, 0, 3); });
  Frame([&] { AttentionHeadGrid("grid", maps, 0, 0, 40); });
}

}  // namespace
}  // namespace ts::ui
