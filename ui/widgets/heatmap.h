// Heatmaps for 2D inputs, drawn with ImDrawList on the current window:
//   - ClassHeatmap: the decision boundary. Each grid sample's class
//     probabilities blend the class colours; uncertain samples are paler.
//   - ValueHeatmap: one channel of a grid (a hidden unit's activation map),
//     on a diverging colour map (blue < 0 < orange, dark at zero).
// Both draw axes (the ticks of plot.h), a scatter of data points on top
// (colour = class; filled = train, hollow = test) and a tooltip for the sample
// under the mouse, and report where the user clicked, in data coordinates.
//
// Grid layout (as nn::Snapshot::boundary ([y][x][class]) and ::hidden
// ([y][x][unit]) are sampled): the extent is split into resolution x
// resolution cells, and sample (ix, iy) is taken at the centre of its cell,
//     x(ix) = x_min + (ix + 0.5) * (x_max - x_min) / resolution      (same for y),
// stored row-major [iy][ix][channel]; row iy = 0 is the bottom (y_min) edge.
//
//   HeatmapResult r = ClassHeatmap("boundary", {snapshot.boundary, 64, 3}, scatter, options);
//   if (r.clicked) project.data.added_points.push_back({float(r.clicked->x), float(r.clicked->y), selected_class});
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "imgui.h"

namespace ts::ui {

struct DataExtent {
  double x_min = -1.2, x_max = 1.2;
  double y_min = -1.2, y_max = 1.2;
};

// Class probabilities on the grid: resolution^2 x classes floats.
struct ClassGrid {
  std::span<const float> probabilities;  // (resolution, resolution, classes) row-major [y][x][class]
  int resolution = 0;                    // 0: no grid yet (only axes and points are drawn)
  int classes = 0;
};

// One channel of a multi-channel grid: resolution^2 x channels floats.
struct ValueGrid {
  std::span<const float> values;  // (resolution, resolution, channels) row-major [y][x][channel]
  int resolution = 0;
  int channels = 1;  // values per sample, e.g. a hidden layer's units
  int channel = 0;   // the one to show
};

// Data points drawn over the map.
struct ScatterSet {
  std::span<const float> xy;         // (count, 2) row-major, data coordinates (a 2D Dataset's features_f32)
  std::span<const uint32_t> labels;  // (count) class indices, coloured with ClassColor
  bool hollow = false;               // rings (e.g. the test set) instead of filled dots
};

struct HeatmapOptions {
  DataExtent extent;     // what the grid covers and the view shows
  ImVec2 size = {0, 0};  // <= 0 on x: the available width; on y: keep the extent's aspect
  const char* x_label = nullptr;
  const char* y_label = nullptr;
  float point_radius = 3.5f;
  bool smooth = true;                        // interpolate between cell centres; false: one flat cell per sample
  std::span<const std::string> class_names;  // names in the tooltip; empty: "class 0", "class 1", ...
  float value_range = 0;                     // ValueHeatmap: |value| drawn at full colour; <= 0: the grid's max |value|
};

struct DataPoint {
  double x = 0, y = 0;
};

struct HeatmapResult {
  std::optional<DataPoint> clicked;       // set on the frame the data area is clicked (left button)
  std::optional<DataPoint> hovered;       // the point under the mouse, while it is over the data area
  ImVec2 data_min{0, 0}, data_max{0, 0};  // the data area on screen (y_max at the top), for overlays
};

// The decision-boundary view; the cursor advances past it.
HeatmapResult ClassHeatmap(const char* id, const ClassGrid& grid, std::span<const ScatterSet> points,
                           const HeatmapOptions& options = {});

// The single-channel view (diverging colour map); the cursor advances past it.
HeatmapResult ValueHeatmap(const char* id, const ValueGrid& grid, std::span<const ScatterSet> points,
                           const HeatmapOptions& options = {});

// The colour of one grid sample: class colours weighted by probability, paler
// the closer the probabilities are to uniform. NaN / negative entries count as 0.
ImU32 ClassBlendColor(std::span<const float> probabilities);

// Diverging colour map for t in [-1, 1]: blue at -1, dark grey at 0, orange at
// +1 (clamped; NaN is drawn as 0).
ImU32 DivergingColor(float t);

}  // namespace ts::ui
