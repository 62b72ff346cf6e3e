// Plot: the one line-chart widget behind every curve in the app (loss and
// accuracy, bandwidth over time, ...), drawn with ImDrawList on the current
// window. Debian ships no ImPlot, so this is our own small one.
//
//   PlotState loss_view;                                   // kept by the caller, per plot
//   PlotSeries series[] = {{"train", steps, loss}, {"validation", epochs_x, val_loss}};
//   PlotMarker markers[] = {{1200, "lr 0.01"}};
//   Plot("loss", loss_view, {.title = "Loss", .x_label = "step", .log_y = true, .smoothing = 0.6f},
//        series, markers);
//
// What the user can do:
//   - hover: a vertical cursor line and a tooltip with each visible series'
//     nearest point (and the marker under the cursor, if any);
//   - mouse wheel: zoom about the cursor (over the plot: both axes; over an
//     axis' tick labels: that axis only);
//   - left drag: pan;  double-click: fit to the data again (auto-fit);
//   - click a legend entry: hide / show that series.
// When the data starts over (a new run: the series emptied, or their last x
// going back, or PlotOptions::data_id changed) the view fits the new data.
//
// Cost: drawing is O(pixels), not O(points). Each series is reduced to the min
// and max of every pixel column of the visible x range (x must be sorted
// ascending; the visible range is found by binary search). Points outside the
// visible x range cost nothing; points inside cost one cheap pass. The smoothed
// curve is kept in PlotState and only extended as points are appended.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "imgui.h"

namespace ts::ui {

// ---------------------------------------------------------------------------
// Widget API
// ---------------------------------------------------------------------------

// One curve. x and y have the same length; x is sorted ascending. Non-finite y
// (and y <= 0 on a log axis) are skipped and leave a gap in the line.
struct PlotSeries {
  const char* label = "";        // legend text; also what hiding a series is keyed on
  std::span<const double> x, y;  // not copied: must stay alive during the Plot() call
  ImU32 color = 0;               // 0: ClassColor(index of the series)
  float thickness = 2.0f;        // line width in pixels (whole numbers draw fastest: ImGui bakes them)
  bool dashed = false;
  bool smooth = true;  // false: PlotOptions::smoothing never applies (e.g. per-epoch points)
  // Fills the area between the line and the bottom of the axis (y = 0, or the
  // axis' bottom edge) in a darkened, opaque shade of the colour. Stacked areas:
  // pass cumulative series (StackCumulative) tallest first, so each lower band
  // is painted over the one above it.
  bool fill = false;
  // With `fill`: when given (same length as y), the area is filled between the
  // line and these values instead of down to the axis, from the raw points
  // (not decimated: pass at most a few points per pixel). Stacked bands then
  // paint each pixel once, which keeps a software rasteriser fast.
  std::span<const double> fill_floor;
};

// A vertical dashed line with a label, e.g. where a setting changed mid-run.
struct PlotMarker {
  double x = 0;
  const char* label = "";
  ImU32 color = 0;  // 0: a muted amber
};

struct PlotOptions {
  const char* title = nullptr;    // drawn top-left; nullptr: none
  const char* x_label = nullptr;  // under the x tick labels; also names x in the tooltip
  const char* y_label = nullptr;  // drawn vertically left of the y tick labels
  bool log_x = false;             // log10 x axis; points at x <= 0 are skipped
  bool log_y = false;             // log10 y axis; non-positive values are skipped
  float smoothing = 0.0f;         // EMA weight in [0, 0.99]: 0 = raw; > 0 draws the smoothed curve, raw faint
  ImVec2 size = {0, 0};           // <= 0 on an axis: the available width / a default height (ImGui habit)
  bool show_legend = true;
  double y_fit_min = NAN;  // when finite, auto-fit's y range reaches at least this low...
  double y_fit_max = NAN;  // ...and this high (e.g. 0 and 1 for accuracy)
  // Names the data shown (e.g. a run's number): when it changes, the view
  // starts over (auto-fit, the old zoom and pan forgotten), as it does when the
  // data restarts by itself (every series emptied, or the last x going back).
  uint64_t data_id = 0;
};

// A point kept by Decimate(), in data units. A NaN y marks a gap in the line.
struct PlotPoint {
  double x, y;
};

// Per-plot state the caller keeps between frames, so zoom and pan persist.
struct PlotState {
  double x_min = 0, x_max = 1;      // the visible x range
  double y_min = 0, y_max = 1;      // the visible y range (data units, > 0 on a log axis)
  bool auto_fit = true;             // fit the view to the data each frame; zoom/pan turn it off,
                                    // double-click turns it back on
  std::vector<std::string> hidden;  // labels of the series hidden from the legend

  // Kept by Plot() between frames; callers leave these alone.
  struct Smoothed {  // one series' EMA. A series whose first and last-seen values are
                     // unchanged is taken as appended to, and only its new points are averaged.
    std::vector<double> values;
    double weight = -1;
    double first = 0, last = 0;  // y[0] and y[values.size() - 1] when computed
    double average = NAN;        // the running average after the last value (NaN: none yet)
  };
  struct Internal {
    ImVec2 plot_min{0, 0}, plot_max{0, 0};  // where the data area was drawn last frame
    bool was_log_x = false, was_log_y = false;
    uint64_t data_id = 0;     // PlotOptions::data_id as last drawn
    double data_end = NAN;    // the largest last x of the series last drawn (NaN: there were none)
    std::vector<Smoothed> smoothed;             // per series
    std::vector<std::vector<PlotPoint>> lines;  // per series: decimated raw, then smoothed
    std::vector<ImVec2> screen;                 // scratch: one line in pixels
    std::vector<double> log_x;                  // scratch: a series' x as log10 (log_x)
  } internal;
};

// Draws a plot at the cursor position and advances the cursor past it.
void Plot(const char* id, PlotState& state, const PlotOptions& options, std::span<const PlotSeries> series,
          std::span<const PlotMarker> markers = {});

// A colour-blind-friendly categorical palette (Tableau 10), cycling after 10.
// Series, bars and classes share it so a class keeps its colour everywhere.
ImU32 ClassColor(int index);

// A colour square the height of a text line, then SameLine(): a colour key in tooltips.
void ColorSwatch(ImU32 color);

// ---------------------------------------------------------------------------
// Axes, shared with the other charts (heatmaps)
// ---------------------------------------------------------------------------

// A data range on one axis, linear or log10.
struct PlotAxis {
  double min = 0, max = 1;  // data units; both > 0 when log
  bool log = false;
  double Transform(double v) const { return log ? std::log10(v) : v; }    // to the linear drawing space
  double Inverse(double t) const { return log ? std::pow(10.0, t) : t; }  // back to data units
  double ToUnit(double v) const;                                          // 0 at min .. 1 at max
  double FromUnit(double u) const;                                        // inverse of ToUnit
};

// Room the axes need around a data area: .x = left (y tick labels and y label),
// .y = below (x tick labels and x label).
ImVec2 AxesMargins(const PlotAxis& y, float data_height, bool has_x_label, bool has_y_label);

// Draws the background, grid lines, ticks and tick labels of both axes around
// the data area [data_min, data_max] (screen pixels), and the axis labels.
void DrawAxes(ImDrawList* draw, ImVec2 data_min, ImVec2 data_max, const PlotAxis& x, const PlotAxis& y,
              const char* x_label, const char* y_label);

// ---------------------------------------------------------------------------
// Pure helpers (exposed for tests)
// ---------------------------------------------------------------------------

struct TickSet {
  std::vector<double> values;  // ascending, all inside [min, max]
  double step = 0;             // spacing of values: 1, 2 or 5 times a power of ten
};

// Tick positions for [min, max]: every multiple of the smallest 1-2-5 step that
// gives at most max_count ticks. A zero-width range gives the one value; a
// non-finite range gives none.
TickSet NiceTicks(double min, double max, int max_count);

struct LogTickSet {
  std::vector<double> major;  // labelled
  std::vector<double> minor;  // unlabelled grid lines
  double label_step = 0;      // the step to pass to FormatTick for labels (0: per value)
};

// Ticks for a log10 axis over [min, max] (both > 0): the densest labelling of
// each decade that fits in max_count (1..9, or 1, 2, 5, or just 1 times 10^k),
// the rest of 1..9 as grid lines (dropped past 4 * max_count); every k-th decade
// when even the decades do not fit; linear NiceTicks under half a decade.
LogTickSet LogTicks(double min, double max, int max_count);

// A short tick label for value on an axis whose ticks are `step` apart:
// "0", "0.25", "-3", "1.5k", "20M", "2.5e-3". k, M, G, T from 1000 up to 1e15;
// scientific below 1e-3 (or when step is), and from 1e15. step sets the
// precision (0: three significant digits); trailing zeros are dropped.
std::string FormatTick(double value, double step);

// Reduces the points of one series over the visible x range [x_min, x_max] to
// at most two per pixel column (its min and max, in the order they occur), plus
// the nearest point outside each edge so the line reaches the border. Invalid y
// (non-finite, or <= 0 when positive_only) between columns splits the line with
// a NaN point; inside one column (under a pixel) it is bridged. Output has at
// most 3 * columns + 4 points. x must be finite and sorted ascending.
void Decimate(std::span<const double> x, std::span<const double> y, double x_min, double x_max, int columns,
              bool positive_only, std::vector<PlotPoint>& out);

// Exponential moving average for display: out[0] = y[0], then
// out[i] = weight * out[i-1] + (1 - weight) * y[i], weight clamped to [0, 0.999].
// Non-finite y give NaN and leave the average as it was. Writes
// min(y.size(), out.size()) values.
void Smooth(std::span<const double> y, double weight, std::span<double> out);

}  // namespace ts::ui
