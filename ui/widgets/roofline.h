// Roofline: log-log attainable performance against arithmetic intensity, with
// the measured ceilings (the bandwidth slope up to the ridge, the flat compute
// roof) and a dot per kernel. Drawn with ImDrawList at the cursor; the cursor
// advances past it. GPU insight places a training step's kernels on it; the
// Kernel Lab places each variant of a lesson.
//
//   RooflineDot dots[] = {{.intensity = 0.25, .gflops = 3.1, .size = 0.4, .color = blue}};
//   RooflineHover hover = Roofline("roofline", dots, {.peak_gflops = 60, .peak_gbs = 12});
//   if (hover.dot >= 0) ... tooltip for dots[hover.dot] ...
#pragma once

#include <cstdint>
#include <span>

#include "imgui.h"

namespace ts::ui {

struct RooflineDot {
  double intensity = 0, gflops = 0;  // FLOP per byte, GFLOP/s; a dot without both > 0 is not drawn
  double size = 0;                   // 0..1: the dot's area as a share of the largest (e.g. share of a step)
  ImU32 color = 0;                   // 0: ClassColor(index)
  bool selected = false;             // a white ring
  const char* label = nullptr;       // written beside the dot; nullptr: none
};

struct RooflineLegendEntry {
  const char* label = "";
  ImU32 color = 0;
};

struct RooflineOptions {
  double peak_gflops = 0, peak_gbs = 0;  // the measured ceilings; 0: not known (dots without a roof)
  ImVec2 size = {0, 0};                  // <= 0 on an axis: the available width / height
  std::span<const RooflineLegendEntry> legend;  // drawn top-left inside the chart
};

struct RooflineHover {
  int dot = -1;          // the dot under the mouse (-1: none)
  bool clicked = false;  // ...and it was clicked this frame
  uint32_t drawn = 0;    // dots drawn
};

// Dots are drawn in the order given (pass the largest first so small ones stay on top).
RooflineHover Roofline(const char* id, std::span<const RooflineDot> dots, const RooflineOptions& options);

// The colour of the ceilings' lines and labels.
constexpr ImU32 kRooflineCeilingColor = IM_COL32(230, 180, 80, 255);

}  // namespace ts::ui
