// Gantt chart: labelled rows (lanes) of time bars, drawn with ImDrawList on
// the current window, with the plot widget's x-axis ticks (NiceTicks /
// FormatTick) and its gestures: mouse wheel zooms time about the cursor, left
// drag pans, double-click fits the data again. Hovering a bar shows its label
// and duration (and its tooltip text).
//
//   GanttBar bars[] = {{0, 0, 1500, color, "submit"}, {1, 200, 900, color, "dense_1 forward"}};
//   const char* rows[] = {"host", "device"};
//   Gantt("timeline", timeline_view, rows, bars, {.x_label = "us"});
#pragma once

#include <cstdint>
#include <span>

#include "imgui.h"

namespace ts::ui {

struct GanttBar {
  uint32_t row = 0;
  double start = 0, end = 0;      // x units (e.g. microseconds)
  ImU32 color = 0;                // 0: ClassColor(row)
  const char* label = "";         // drawn inside when it fits; first tooltip line
  const char* tooltip = nullptr;  // extra tooltip lines; nullptr: none
  bool thin = false;              // drawn as a thin mark in the middle of the row (barriers, markers)
};

struct GanttOptions {
  const char* x_label = nullptr;  // under the tick labels, and the duration's unit in the tooltip
  ImVec2 size = {0, 0};           // <= 0: available width / rows x row height + axis
  float row_height = 0;           // <= 0: 1.6 x the frame height
  float label_width = 0;          // <= 0: the widest row label
};

// The visible x range, kept by the caller between frames.
struct GanttState {
  double x_min = 0, x_max = 1;
  bool auto_fit = true;
  ImVec2 data_min{0, 0}, data_max{0, 0};  // kept by Gantt(): last frame's bar area
};

// Draws the chart at the cursor and advances past it. Returns the index of the
// hovered bar, or -1. Bars of any order are fine; rows past the labels are drawn unlabelled.
int Gantt(const char* id, GanttState& state, std::span<const char* const> row_labels, std::span<const GanttBar> bars,
          const GanttOptions& options = {});

}  // namespace ts::ui
