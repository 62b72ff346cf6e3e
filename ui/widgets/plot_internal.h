// Internal to the plot widget (plot.cpp) and its axes (plot_axes.cpp): what
// both draw with. Not part of the UI library's API.
#pragma once

#include <algorithm>
#include <cmath>

#include "imgui.h"
#include "ui/widgets/plot.h"

namespace ts::ui::plot_internal {

// Screen coordinates are clamped this far outside the data area: far enough
// that a clamped segment's visible slope is off by well under a pixel, near
// enough that float maths in the line tessellator stays exact.
constexpr float kScreenClamp = 1e5f;
constexpr float kTickLength = 4.0f;
constexpr float kPad = 4.0f;

inline ImU32 TextColor(float alpha = 1.0f) { return ImGui::GetColorU32(ImGuiCol_Text, alpha); }

// Maps data points to pixels in the data area.
struct ScreenMap {
  PlotAxis x, y;
  ImVec2 min, max;
  float X(double v) const { return Clamp(min.x + static_cast<float>(x.ToUnit(v)) * (max.x - min.x), min.x, max.x); }
  float Y(double v) const { return Clamp(max.y - static_cast<float>(y.ToUnit(v)) * (max.y - min.y), min.y, max.y); }
  static float Clamp(float p, float lo, float hi) {
    return std::isnan(p) ? lo : std::clamp(p, lo - kScreenClamp, hi + kScreenClamp);
  }
};

}  // namespace ts::ui::plot_internal
