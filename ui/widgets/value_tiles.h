// Small tiles of values (filters, feature maps, weights seen as images) drawn
// as coloured squares on an ImDrawList, cheaply: lavapipe rasterises on the
// CPU, so colours are quantised to a few levels, runs of equal colour along a
// row become one rectangle, the background colour is filled once, and tiles
// outside the clip rectangle (scrolled out of view) are skipped.
//
//   TileGrid grid(count, tile_size, ImGui::GetContentRegionAvail().x);
//   for (int i = 0; i < count; ++i) {
//     ImVec2 corner = grid.Corner(i);
//     if (!grid.Visible(i)) continue;
//     DrawValueTile(draw, corner, 26, 26, 2.0f, kBlack, [&](uint32_t y, uint32_t x) { return HeatColor(v(y, x)); });
//   }
//   grid.Finish();  // advances the cursor past the grid
#pragma once

#include <cstdint>
#include <functional>

#include "imgui.h"

namespace ts::ui {

// Levels per colour map: few enough that neighbouring pixels often share one
// (16 levels cost about half again as many rectangles on noisy images).
inline constexpr int kTileColorLevels = 8;

// Sequential map for values in [0, 1] (e.g. a ReLU's output over its maximum):
// black, deep red, orange, pale yellow; quantised to kTileColorLevels.
ImU32 HeatColor(float t);
// The diverging map of heatmap.h (blue < 0 < orange, dark at 0) for t in
// [-1, 1], quantised to kTileColorLevels steps on each side.
ImU32 QuantizedDivergingColor(float t);
// Grey for t in [0, 1] (an input image), quantised to 2 * kTileColorLevels levels.
ImU32 GreyColor(float t);

// Draws height x width cells of `cell` pixels with the top-left corner at
// `corner`: the background first, then each run of equal colour (other than
// the background) in a row as one rectangle, extended downwards while the next
// rows repeat it exactly. Rows outside the current clip rectangle are skipped.
void DrawValueTile(ImDrawList* draw, ImVec2 corner, uint32_t height, uint32_t width, float cell, ImU32 background,
                   const std::function<ImU32(uint32_t y, uint32_t x)>& color);

// Lays tiles of one size out in rows at the cursor, as many per row as fit
// `width` (at least one).
class TileGrid {
 public:
  TileGrid(int count, ImVec2 tile, float width, ImVec2 gap = ImVec2(4, 4));
  ImVec2 Corner(int index) const;
  // Whether tile `index` is inside the clip rectangle (worth drawing).
  bool Visible(int index) const;
  // The index of the tile under the mouse, or -1.
  int Hovered() const;
  int columns() const { return columns_; }
  // Advances the cursor past the grid (an ImGui item the size of the grid).
  void Finish() const;

 private:
  int count_ = 0, columns_ = 1;
  ImVec2 tile_, gap_, origin_;
};

}  // namespace ts::ui
