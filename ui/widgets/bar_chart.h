// Horizontal bar charts drawn with ImDrawList on the current window:
//   - BarChart: one labelled bar per row ("step time split by kernel",
//     per-class accuracy), the value (and optional detail) after each bar;
//   - StackedBar: one bar split into segments (e.g. forward / backward /
//     optimizer share of a step).
// Both show a tooltip for the bar under the mouse and return its index.
//
//   Bar rows[] = {{"matmul_fwd", 1.25, "41%"}, {"relu_back", 0.31, "10%"}};
//   BarChart("kernels", rows, {.unit = " ms"});
#pragma once

#include <cmath>
#include <span>

#include "imgui.h"

namespace ts::ui {

struct Bar {
  const char* label = "";
  double value = 0;               // NaN: no bar, "n/a"
  const char* detail = nullptr;   // muted text after the value, e.g. "38%"; nullptr: none
  ImU32 color = 0;                // 0: ClassColor(row)
  const char* tooltip = nullptr;  // extra text for the hover tooltip; nullptr: none
};

struct BarChartOptions {
  const char* value_format = "%.3g";  // printf format of a value
  const char* unit = "";              // appended to values, e.g. " ms"
  double max_value = NAN;             // the value a full-length bar stands for; NaN: the largest |value|
  float width = 0;                    // <= 0: the available width
  float label_width = 0;              // <= 0: the longest label, at most 40% of the width
  float row_height = 0;               // <= 0: the frame height
  bool labels_above = false;          // each label on its own line above its bar (long labels, narrow panels)
};

// One row per bar (labels left, bars from zero, values after the bars); the
// cursor advances past the chart. Negative values grow left of a zero line.
// Returns the index of the hovered bar, or -1.
int BarChart(const char* id, std::span<const Bar> bars, const BarChartOptions& options = {});

struct StackedSegment {
  const char* label = "";
  double value = 0;  // <= 0 or NaN: not drawn
  ImU32 color = 0;   // 0: ClassColor(index)
};

struct StackedBarOptions {
  const char* value_format = "%.3g";  // printf format of a value (tooltip)
  const char* unit = "";              // appended to values
  float width = 0;                    // <= 0: the available width
  float height = 0;                   // <= 0: the frame height
};

// One bar split in proportion to the segments' values; segment labels are drawn
// inside when they fit. Returns the index of the hovered segment, or -1.
int StackedBar(const char* id, std::span<const StackedSegment> segments, const StackedBarOptions& options = {});

}  // namespace ts::ui
