#include "ui/widgets/value_tiles.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

#include "ui/widgets/heatmap.h"  // DivergingColor

namespace ts::ui {
namespace {

// Colour stops of HeatColor.
constexpr std::array<std::array<float, 3>, 4> kHeatStops{{
    {0.00f, 0.00f, 0.00f},
    {0.55f, 0.10f, 0.12f},
    {0.98f, 0.55f, 0.12f},
    {1.00f, 0.96f, 0.70f},
}};

// t in [0, 1] rounded to one of `levels` evenly spaced values (0 and 1 included).
float Quantize(float t, int levels) {
  if (!std::isfinite(t)) t = 0;
  t = std::clamp(t, 0.0f, 1.0f);
  return std::round(t * float(levels - 1)) / float(levels - 1);
}

}  // namespace

ImU32 HeatColor(float t) {
  t = Quantize(t, kTileColorLevels);
  const float scaled = t * float(kHeatStops.size() - 1);
  const size_t i = std::min(static_cast<size_t>(scaled), kHeatStops.size() - 2);
  const float f = scaled - float(i);
  auto channel = [&](int c) {
    float v = kHeatStops[i][c] + (kHeatStops[i + 1][c] - kHeatStops[i][c]) * f;
    return static_cast<int>(255.0f * v + 0.5f);
  };
  return IM_COL32(channel(0), channel(1), channel(2), 255);
}

ImU32 QuantizedDivergingColor(float t) {
  if (!std::isfinite(t)) t = 0;
  const float magnitude = Quantize(std::abs(t), kTileColorLevels);
  return DivergingColor(t < 0 ? -magnitude : magnitude);
}

ImU32 GreyColor(float t) {
  const int level = static_cast<int>(255.0f * Quantize(t, 2 * kTileColorLevels) + 0.5f);
  return IM_COL32(level, level, level, 255);
}

void DrawValueTile(ImDrawList* draw, ImVec2 corner, uint32_t height, uint32_t width, float cell, ImU32 background,
                   const std::function<ImU32(uint32_t y, uint32_t x)>& color) {
  const ImVec2 far(corner.x + width * cell, corner.y + height * cell);
  const ImVec4 clip = draw->_ClipRectStack.back();
  if (far.x < clip.x || far.y < clip.y || corner.x > clip.z || corner.y > clip.w) return;
  draw->AddRectFilled(corner, far, background);
  // Runs of one colour along a row; a run that repeats exactly in the next row
  // grows downwards instead of starting a new rectangle.
  struct Run {
    uint32_t begin, end, top;
    ImU32 colour;
  };
  std::vector<Run> open, next;
  auto emit = [&](const Run& run, uint32_t bottom) {
    draw->AddRectFilled(ImVec2(corner.x + run.begin * cell, corner.y + run.top * cell),
                        ImVec2(corner.x + run.end * cell, corner.y + bottom * cell), run.colour);
  };
  const uint32_t first_row = static_cast<uint32_t>(std::clamp((clip.y - corner.y) / cell, 0.0f, float(height)));
  const uint32_t last_row = static_cast<uint32_t>(std::clamp(std::ceil((clip.w - corner.y) / cell), 0.0f, float(height)));
  for (uint32_t y = first_row; y < last_row; ++y) {  // rows cut off by the clip edge are skipped
    next.clear();
    size_t previous = 0;  // open runs are sorted by begin
    uint32_t x = 0;
    while (x < width) {
      const ImU32 colour = color(y, x);
      uint32_t end = x + 1;
      while (end < width && color(y, end) == colour) ++end;
      if (colour != background) {
        while (previous < open.size() && open[previous].begin < x) emit(open[previous++], y);
        if (previous < open.size() && open[previous].begin == x && open[previous].end == end &&
            open[previous].colour == colour)
          next.push_back(open[previous++]);  // the same run one row down
        else
          next.push_back({x, end, y, colour});
      }
      x = end;
    }
    while (previous < open.size()) emit(open[previous++], y);
    std::swap(open, next);
  }
  for (const Run& run : open) emit(run, last_row);
}

TileGrid::TileGrid(int count, ImVec2 tile, float width, ImVec2 gap)
    : count_(std::max(count, 0)), tile_(tile), gap_(gap), origin_(ImGui::GetCursorScreenPos()) {
  columns_ = std::max(1, static_cast<int>((width + gap.x) / (tile.x + gap.x)));
}

ImVec2 TileGrid::Corner(int index) const {
  return ImVec2(origin_.x + (index % columns_) * (tile_.x + gap_.x), origin_.y + (index / columns_) * (tile_.y + gap_.y));
}

bool TileGrid::Visible(int index) const {
  const ImVec2 corner = Corner(index);
  return ImGui::IsRectVisible(corner, ImVec2(corner.x + tile_.x, corner.y + tile_.y));
}

int TileGrid::Hovered() const {
  if (!ImGui::IsWindowHovered(ImGuiHoveredFlags_ChildWindows)) return -1;
  const ImVec2 mouse = ImGui::GetIO().MousePos;
  const float dx = mouse.x - origin_.x, dy = mouse.y - origin_.y;
  if (dx < 0 || dy < 0) return -1;
  const int column = static_cast<int>(dx / (tile_.x + gap_.x)), row = static_cast<int>(dy / (tile_.y + gap_.y));
  if (column >= columns_ || dx - column * (tile_.x + gap_.x) > tile_.x || dy - row * (tile_.y + gap_.y) > tile_.y)
    return -1;
  const int index = row * columns_ + column;
  return index < count_ ? index : -1;
}

void TileGrid::Finish() const {
  const int rows = (count_ + columns_ - 1) / columns_;
  const int used_columns = std::min(count_, columns_);
  ImGui::SetCursorScreenPos(origin_);
  ImGui::Dummy(ImVec2(std::max(1.0f, used_columns * (tile_.x + gap_.x) - gap_.x),
                      std::max(1.0f, rows * (tile_.y + gap_.y) - gap_.y)));
}

}  // namespace ts::ui
