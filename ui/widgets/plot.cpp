#include "ui/widgets/plot.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <limits>
#include <optional>

#include "imgui_internal.h"  // ImRect
#include "ui/widgets/chart_png.h"
#include "ui/widgets/plot_internal.h"

namespace ts::ui {
namespace {

using namespace plot_internal;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Colours for ImGui's default dark theme (the axes' are in plot_axes.cpp).
constexpr ImU32 kMarkerDefault = IM_COL32(230, 180, 80, 190);
constexpr ImU32 kCursorLine = IM_COL32(255, 255, 255, 90);

bool Contains(ImVec2 min, ImVec2 max, ImVec2 p) { return p.x >= min.x && p.x <= max.x && p.y >= min.y && p.y <= max.y; }

bool IsValid(double v, bool positive_only) { return std::isfinite(v) && (!positive_only || v > 0); }

ImU32 ScaleAlpha(ImU32 color, float factor) {
  const auto alpha = static_cast<ImU32>(((color >> IM_COL32_A_SHIFT) & 0xFF) * factor);
  return (color & ~IM_COL32_A_MASK) | (std::min<ImU32>(alpha, 255) << IM_COL32_A_SHIFT);
}

// A view range is usable when it is finite, not inverted, and wide enough
// that doubles still tell its pixels apart.
bool UsableRange(double t0, double t1) {
  const double span = t1 - t0;
  return std::isfinite(span) && span > std::max(std::abs(t0), std::abs(t1)) * 1e-12 && span < 1e300;
}

// Widens a degenerate range and adds `pad` (a fraction of the span) on each
// side, in the axis' drawing space. Returns false when nothing sensible fits.
bool FitRange(double lo, double hi, bool log, double pad, double& out_min, double& out_max) {
  if (!(lo <= hi) || (log && !(lo > 0))) return false;
  double t0 = log ? std::log10(lo) : lo, t1 = log ? std::log10(hi) : hi;
  if (t1 - t0 <= std::max(std::abs(t0), std::abs(t1)) * 1e-12) {
    const double half = log ? 0.5 : (t0 != 0 ? std::abs(t0) * 0.1 : 1.0);
    t0 -= half;
    t1 += half;
  } else {
    const double margin = (t1 - t0) * pad;
    if (std::isfinite(t0 - margin) && std::isfinite(t1 + margin)) t0 -= margin, t1 += margin;
  }
  double a = log ? std::pow(10.0, t0) : t0, b = log ? std::pow(10.0, t1) : t1;
  if (!std::isfinite(a) || (log && !(a > 0))) a = lo;  // padding ran past what doubles hold: drop it on that side
  if (!std::isfinite(b)) b = hi;
  if (!(a < b) || !UsableRange(log ? std::log10(a) : a, log ? std::log10(b) : b)) return false;
  out_min = a;
  out_max = b;
  return true;
}

// Moves the view of `axis` to [t0, t1] (drawing space) unless that is unusable.
void SetView(const PlotAxis& axis, double t0, double t1, double& min, double& max) {
  const double a = axis.Inverse(t0), b = axis.Inverse(t1);
  if (UsableRange(t0, t1) && std::isfinite(a) && std::isfinite(b) && a < b && (!axis.log || a > 0)) min = a, max = b;
}

// Zooms by `factor` about the point `anchor_unit` of the way along the axis.
void ZoomAbout(const PlotAxis& axis, double anchor_unit, double factor, double& min, double& max) {
  const double t0 = axis.Transform(axis.min), t1 = axis.Transform(axis.max), anchor = t0 + (t1 - t0) * anchor_unit;
  SetView(axis, anchor - (anchor - t0) * factor, anchor + (t1 - anchor) * factor, min, max);
}

// Shifts the view by `units` of its span.
void PanBy(const PlotAxis& axis, double units, double& min, double& max) {
  const double t0 = axis.Transform(axis.min), t1 = axis.Transform(axis.max), shift = (t1 - t0) * units;
  SetView(axis, t0 + shift, t1 + shift, min, max);
}

// Draws a polyline, solid or dashed. The dash pattern runs on across vertices.
void DrawLine(ImDrawList* draw, std::span<const ImVec2> points, ImU32 color, float thickness, bool dashed) {
  if (points.size() < 2) return;
  if (!dashed) {
    draw->AddPolyline(points.data(), static_cast<int>(points.size()), color, ImDrawFlags_None, thickness);
    return;
  }
  float phase = 0;  // 6 px dashes every 10 px; the pattern runs on across vertices
  for (size_t i = 1; i < points.size(); ++i) {
    const ImVec2 a = points[i - 1], d(points[i].x - a.x, points[i].y - a.y);
    const float length = std::sqrt(d.x * d.x + d.y * d.y);
    for (float t = 0; length > 0 && t < length;) {
      const float step = std::min(length - t, (phase < 6.0f ? 6.0f : 10.0f) - phase);
      if (phase < 6.0f)
        draw->AddLine(ImVec2(a.x + d.x * t / length, a.y + d.y * t / length),
                      ImVec2(a.x + d.x * (t + step) / length, a.y + d.y * (t + step) / length), color, thickness);
      t += step;
      phase = std::fmod(phase + step, 10.0f);
    }
  }
}

// Index of the point whose x is nearest to `x` (x sorted ascending), or npos.
size_t NearestIndex(std::span<const double> xs, double x) {
  if (xs.empty()) return std::string::npos;
  const size_t i = std::lower_bound(xs.begin(), xs.end(), x) - xs.begin();
  return i == xs.size() || (i > 0 && x - xs[i - 1] <= xs[i] - x) ? i - 1 : i;
}

ImU32 SeriesColor(const PlotSeries& s, size_t index) { return s.color ? s.color : ClassColor(static_cast<int>(index)); }

// The title, and the legend: on the title's row when it fits there, else on
// rows of its own. A click on an entry hides or shows its series. Returns the
// height used and which series are visible.
float DrawHeader(ImDrawList* draw, PlotState& state, const PlotOptions& options, std::span<const PlotSeries> series,
                 ImVec2 origin, float width, bool hovered, std::vector<bool>& visible) {
  const float font = ImGui::GetFontSize(), line = font + kPad, swatch = font * 1.2f, gap = font * 0.9f;
  if (options.title) draw->AddText(origin, TextColor(), options.title);
  const auto hidden = [&](const char* label) { return std::find(state.hidden.begin(), state.hidden.end(), label); };
  visible.resize(series.size());
  for (size_t i = 0; i < series.size(); ++i) visible[i] = hidden(series[i].label) == state.hidden.end();
  if (!options.show_legend || series.empty()) return options.title ? line + kPad : font * 0.6f;

  const bool clicked = hovered && ImGui::IsMouseClicked(ImGuiMouseButton_Left);
  float total = 0;
  for (const PlotSeries& s : series) total += swatch + kPad + ImGui::CalcTextSize(s.label).x + gap;
  const bool same_row = (options.title ? ImGui::CalcTextSize(options.title).x + gap * 2 : 0.0f) + total <= width;
  float x = same_row ? origin.x + width - total + gap : origin.x;
  float y = origin.y + (same_row || !options.title ? 0.0f : line);
  for (size_t i = 0; i < series.size(); ++i) {
    const float w = swatch + kPad + ImGui::CalcTextSize(series[i].label).x;
    if (!same_row && x > origin.x && x + w > origin.x + width) x = origin.x, y += line;
    if (clicked && ImRect(x, y, x + w, y + font).Contains(ImGui::GetIO().MousePos)) {
      if (visible[i])
        state.hidden.emplace_back(series[i].label);
      else
        state.hidden.erase(hidden(series[i].label));
      visible[i] = !visible[i];
    }
    const ImU32 color = SeriesColor(series[i], i);
    DrawLine(draw, std::array{ImVec2(x, y + font * 0.5f), ImVec2(x + swatch, y + font * 0.5f)},
             visible[i] ? color : ScaleAlpha(color, 0.3f), 2.0f, series[i].dashed);
    draw->AddText(ImVec2(x + swatch + kPad, y), visible[i] ? TextColor() : ImGui::GetColorU32(ImGuiCol_TextDisabled),
                  series[i].label);
    x += w + gap;
  }
  return y - origin.y + line + kPad;
}

// Zoom (wheel), pan (drag) and fit (double-click), against last frame's layout.
void HandleInput(PlotState& state, bool log_x, bool log_y, bool hovered, bool active) {
  const PlotState::Internal& in = state.internal;
  if (!(in.plot_max.x - in.plot_min.x > 1 && in.plot_max.y - in.plot_min.y > 1)) return;  // not drawn yet
  const ImGuiIO& io = ImGui::GetIO();
  const ImVec2 mouse = io.MousePos;
  const ImVec2 size(in.plot_max.x - in.plot_min.x, in.plot_max.y - in.plot_min.y);
  const bool over_data = Contains(in.plot_min, in.plot_max, mouse);
  const PlotAxis x_axis{state.x_min, state.x_max, log_x}, y_axis{state.y_min, state.y_max, log_y};

  if (hovered && over_data && ImGui::IsMouseDoubleClicked(ImGuiMouseButton_Left)) state.auto_fit = true;

  if (hovered && io.MouseWheel != 0) {
    // Over the data: both axes; over the y tick labels: y only; under the data: x only.
    const bool zoom_x = mouse.x >= in.plot_min.x && mouse.x <= in.plot_max.x && mouse.y >= in.plot_min.y;
    const bool zoom_y = mouse.y >= in.plot_min.y && mouse.y <= in.plot_max.y && mouse.x <= in.plot_max.x;
    const double factor = std::pow(0.85, static_cast<double>(io.MouseWheel));
    if (zoom_x) ZoomAbout(x_axis, (mouse.x - in.plot_min.x) / size.x, factor, state.x_min, state.x_max);
    if (zoom_y) ZoomAbout(y_axis, (in.plot_max.y - mouse.y) / size.y, factor, state.y_min, state.y_max);
    if (zoom_x || zoom_y) state.auto_fit = false;
  }

  const bool pressed_in_data = Contains(in.plot_min, in.plot_max, io.MouseClickedPos[ImGuiMouseButton_Left]);
  if (active && pressed_in_data && ImGui::IsMouseDragging(ImGuiMouseButton_Left) &&
      (io.MouseDelta.x != 0 || io.MouseDelta.y != 0)) {
    PanBy(x_axis, -io.MouseDelta.x / size.x, state.x_min, state.x_max);
    PanBy(y_axis, io.MouseDelta.y / size.y, state.y_min, state.y_max);
    state.auto_fit = false;
  }
}

// Fits the view to the visible data: x from the series' ends, y from the
// decimated points (each column's min and max, so exact at no extra cost).
void FitX(PlotState& state, std::span<const PlotSeries> series, const std::vector<bool>& visible, bool log_x) {
  double lo = INFINITY, hi = -INFINITY;
  for (size_t i = 0; i < series.size(); ++i) {
    const size_t n = std::min(series[i].x.size(), series[i].y.size());
    if (!visible[i] || n == 0) continue;
    const std::span<const double> x = series[i].x.first(n);
    const auto first = log_x ? std::upper_bound(x.begin(), x.end(), 0.0) : x.begin();  // a log axis starts above 0
    if (first == x.end()) continue;
    lo = std::min(lo, *first);
    hi = std::max(hi, x[n - 1]);
  }
  if (std::isfinite(lo) && std::isfinite(hi)) FitRange(lo, hi, log_x, log_x ? 0.02 : 0.0, state.x_min, state.x_max);
}

void FitY(PlotState& state, const PlotOptions& options, const std::vector<std::vector<PlotPoint>>& lines) {
  double lo = INFINITY, hi = -INFINITY;
  for (const auto& line : lines)
    for (const PlotPoint& p : line)
      if (p.x >= state.x_min && p.x <= state.x_max && IsValid(p.y, options.log_y))
        lo = std::min(lo, p.y), hi = std::max(hi, p.y);
  for (double v : {options.y_fit_min, options.y_fit_max})
    if (IsValid(v, options.log_y)) lo = std::min(lo, v), hi = std::max(hi, v);
  if (std::isfinite(lo) && std::isfinite(hi)) FitRange(lo, hi, options.log_y, 0.05, state.y_min, state.y_max);
}

// A new start of the data (a new run) forgets the view of the old: every
// series emptied, their last x gone back, or another data_id. Appending,
// thinning (which keeps the newest point) and hiding a series are not.
void RestartViewWhenDataRestarts(PlotState& state, const PlotOptions& options, std::span<const PlotSeries> series) {
  double end = NAN;
  for (const PlotSeries& s : series)
    if (const size_t n = std::min(s.x.size(), s.y.size()); n > 0) end = std::isnan(end) ? s.x[n - 1] : std::max(end, s.x[n - 1]);
  PlotState::Internal& in = state.internal;
  const bool restarted = options.data_id != in.data_id || (!std::isnan(in.data_end) && !(end >= in.data_end));
  if (restarted) {
    state.auto_fit = true;
    state.x_min = 0, state.x_max = 1, state.y_min = 0, state.y_max = 1;  // until the new data is fitted
    in.smoothed.clear();
  }
  in.data_id = options.data_id;
  in.data_end = end;
}

// Makes the stored view usable for this frame's axis kind.
void SanitizeView(PlotState& state, bool log_x, bool log_y) {
  // A range in one scale means little in the other.
  if (log_x != state.internal.was_log_x || log_y != state.internal.was_log_y) state.auto_fit = true;
  state.internal.was_log_x = log_x;
  state.internal.was_log_y = log_y;
  const PlotAxis y{state.y_min, state.y_max, log_y};
  const bool y_ok =
      (!log_y || (state.y_min > 0 && state.y_max > 0)) && UsableRange(y.Transform(y.min), y.Transform(y.max));
  if (!y_ok) {
    state.auto_fit = true;
    if (!FitRange(log_y ? 1.0 : 0.0, 1.0, log_y, 0.0, state.y_min, state.y_max)) state.y_min = 0, state.y_max = 1;
  }
  const bool x_ok = log_x ? state.x_min > 0 && UsableRange(std::log10(state.x_min), std::log10(state.x_max))
                          : UsableRange(state.x_min, state.x_max);
  if (!x_ok) state.auto_fit = true, state.x_min = log_x ? 1 : 0, state.x_max = log_x ? 10 : 1;
}

void DrawMarkers(ImDrawList* draw, const ScreenMap& map, std::span<const PlotMarker> markers) {
  const float font = ImGui::GetFontSize();
  float row_end[3] = {-INFINITY, -INFINITY, -INFINITY};  // labels stagger over three rows
  for (const PlotMarker& m : markers) {
    if (!(m.x >= map.x.min && m.x <= map.x.max)) continue;
    const ImU32 color = m.color ? m.color : kMarkerDefault;
    const float x = std::round(map.X(m.x)) + 0.5f;
    DrawLine(draw, std::array{ImVec2(x, map.min.y), ImVec2(x, map.max.y)}, color, 1.0f, true);
    if (!m.label || !*m.label) continue;
    const ImVec2 size = ImGui::CalcTextSize(m.label);
    for (int row = 0; row < 3; ++row) {
      if (x + 3 <= row_end[row]) continue;
      const ImVec2 at(std::min(x + 3, map.max.x - size.x - 2), map.min.y + 2 + row * (font + 2));
      draw->AddRectFilled(ImVec2(at.x - 2, at.y), ImVec2(at.x + size.x + 2, at.y + size.y), IM_COL32(20, 20, 24, 200),
                          2.0f);
      draw->AddText(at, ScaleAlpha(color, 1.4f), m.label);
      row_end[row] = at.x + size.x + 6;
      break;
    }
  }
}

// One series: its decimated raw line, and its smoothed line when there is one
// (then the raw line is drawn faint and thin underneath). Lines break at gaps.
void DrawSeries(ImDrawList* draw, const ScreenMap& map, const PlotSeries& s, ImU32 color,
                const std::vector<PlotPoint>& raw, const std::vector<PlotPoint>& smoothed,
                std::vector<ImVec2>& screen) {
  const bool faint_raw = !smoothed.empty();
  if (s.fill && !s.fill_floor.empty()) {  // a band between two lines, from the raw points in view
    const size_t n = std::min({s.x.size(), s.y.size(), s.fill_floor.size()});
    const ImVec4 c = ImGui::ColorConvertU32ToFloat4(color);
    const ImU32 fill = ImGui::ColorConvertFloat4ToU32(ImVec4(c.x * 0.55f + 0.05f, c.y * 0.55f + 0.05f, c.z * 0.55f + 0.06f, 1.0f));
    const size_t first = std::lower_bound(s.x.begin(), s.x.begin() + n, map.x.min) - s.x.begin();
    const size_t last = std::upper_bound(s.x.begin(), s.x.begin() + n, map.x.max) - s.x.begin();
    const auto clamp_y = [&](double v) { return map.Y(std::clamp(v, map.y.min, map.y.max)); };
    // Neighbouring quads share edges: no anti-aliased fringe (5x fewer triangles, which
    // a software rasteriser pays for one by one).
    const ImDrawListFlags flags = draw->Flags;
    draw->Flags &= ~ImDrawListFlags_AntiAliasedFill;
    for (size_t k = first > 0 ? first : 1; k < std::min(n, last + 1); ++k) {
      const double y0 = s.y[k - 1], y1 = s.y[k], f0 = s.fill_floor[k - 1], f1 = s.fill_floor[k];
      if (!std::isfinite(y0) || !std::isfinite(y1) || !std::isfinite(f0) || !std::isfinite(f1)) continue;
      const float x0 = map.X(s.x[k - 1]), x1 = map.X(s.x[k]);
      draw->AddQuadFilled(ImVec2(x0, clamp_y(f0)), ImVec2(x0, clamp_y(y0)), ImVec2(x1, clamp_y(y1)),
                          ImVec2(x1, clamp_y(f1)), fill);
    }
    draw->Flags = flags;
  } else if (s.fill && raw.size() >= 2) {  // the area under the raw line, one quad per segment
    const float base = map.Y(std::max(map.y.min, map.y.log ? map.y.min : 0.0));
    const ImVec4 c = ImGui::ColorConvertU32ToFloat4(color);
    const ImU32 fill = ImGui::ColorConvertFloat4ToU32(ImVec4(c.x * 0.55f + 0.05f, c.y * 0.55f + 0.05f, c.z * 0.55f + 0.06f, 1.0f));
    for (size_t k = 1; k < raw.size(); ++k) {
      if (std::isnan(raw[k - 1].y) || std::isnan(raw[k].y)) continue;
      const float x0 = map.X(raw[k - 1].x), x1 = map.X(raw[k].x), y0 = map.Y(raw[k - 1].y), y1 = map.Y(raw[k].y);
      draw->AddQuadFilled(ImVec2(x0, base), ImVec2(x0, y0), ImVec2(x1, y1), ImVec2(x1, base), fill);
    }
  }
  // A band's edge needs no anti-aliasing either (it lies on the band's own fill).
  const ImDrawListFlags line_flags = draw->Flags;
  if (s.fill && !s.fill_floor.empty()) draw->Flags &= ~ImDrawListFlags_AntiAliasedLines;
  for (const std::vector<PlotPoint>* line : {&raw, &smoothed}) {
    const bool faint = faint_raw && line == &raw;
    const ImU32 line_color = faint ? ScaleAlpha(color, 0.3f) : color;
    // Sparse data gets a dot on every point, so single points and per-epoch values show.
    const bool dots = line == &raw && static_cast<float>(line->size()) * 6.0f <= map.max.x - map.min.x;
    size_t start = 0;
    for (size_t k = 0; k <= line->size(); ++k) {
      if (k < line->size() && !std::isnan((*line)[k].y)) continue;
      screen.clear();
      for (size_t j = start; j < k; ++j) screen.emplace_back(map.X((*line)[j].x), map.Y((*line)[j].y));
      DrawLine(draw, screen, line_color, faint ? 1.0f : s.thickness, s.dashed && !faint);
      if (dots)
        for (const ImVec2& p : screen) draw->AddCircleFilled(p, s.thickness + 1.0f, line_color, 8);
      start = k + 1;
    }
  }
  draw->Flags = line_flags;
}

// The vertical cursor, a dot on each series' nearest point, and a tooltip
// with their values (smoothed, and raw) and the marker under the cursor.
void DrawHover(ImDrawList* draw, const ScreenMap& map, const PlotState& state, const PlotOptions& options,
               std::span<const PlotSeries> series, const std::vector<bool>& visible,
               std::span<const PlotMarker> markers) {
  const ImVec2 mouse = ImGui::GetIO().MousePos;
  const double cursor_x = map.x.FromUnit((mouse.x - map.min.x) / (map.max.x - map.min.x));
  draw->AddLine(ImVec2(mouse.x, map.min.y), ImVec2(mouse.x, map.max.y), kCursorLine, 1.0f);
  const auto format = [](double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.5g", v);
    return std::string(buf);
  };
  float label_width = 0;
  for (size_t i = 0; i < series.size(); ++i)
    if (visible[i]) label_width = std::max(label_width, ImGui::CalcTextSize(series[i].label).x);

  ImGui::BeginTooltip();
  std::optional<double> header_x;  // the first series' nearest x names the row of values
  for (size_t i = 0; i < series.size(); ++i) {
    const PlotSeries& s = series[i];
    const size_t j = NearestIndex(s.x.first(std::min(s.x.size(), s.y.size())), cursor_x);
    if (!visible[i] || j == std::string::npos) continue;
    const std::vector<double>& smoothed = state.internal.smoothed[i].values;
    const double x = s.x[j], raw = s.y[j], shown = j < smoothed.size() ? smoothed[j] : raw;
    if (IsValid(shown, options.log_y) && x >= map.x.min && x <= map.x.max)
      draw->AddCircleFilled(ImVec2(map.X(x), map.Y(shown)), 3.5f, SeriesColor(s, i), 12);
    if (!header_x) ImGui::Text("%s %s", options.x_label ? options.x_label : "x", format(*(header_x = x)).c_str());
    ColorSwatch(SeriesColor(s, i));
    ImGui::TextUnformatted(s.label);
    ImGui::SameLine(label_width + ImGui::GetFontSize() * 3.5f);
    ImGui::TextUnformatted(format(shown).c_str());
    std::string extra = shown != raw && !(std::isnan(shown) && std::isnan(raw)) ? "(raw " + format(raw) + ") " : "";
    if (x != *header_x) extra += "at " + format(x);
    if (!extra.empty()) ImGui::SameLine(), ImGui::TextDisabled("%s", extra.c_str());
  }
  if (!header_x) ImGui::Text("%s %s", options.x_label ? options.x_label : "x", format(cursor_x).c_str());
  for (const PlotMarker& m : markers)
    if (m.x >= map.x.min && m.x <= map.x.max && std::abs(map.X(m.x) - mouse.x) <= 4.0f)
      ImGui::TextColored(ImGui::ColorConvertU32ToFloat4(m.color ? m.color : kMarkerDefault), "| %s", m.label);
  ImGui::EndTooltip();
}

// The EMA of y into out, continuing from `average` (NaN: not started yet).
// Returns the average after the last value.
double SmoothFrom(std::span<const double> y, double weight, std::span<double> out, double average) {
  const size_t n = std::min(y.size(), out.size());
  weight = std::isfinite(weight) ? std::clamp(weight, 0.0, 0.999) : 0.0;
  for (size_t i = 0; i < n; ++i) {
    const double v = y[i];
    if (std::isfinite(v)) average = std::isnan(average) ? v : weight * average + (1 - weight) * v;
    out[i] = std::isfinite(v) ? average : kNaN;  // a skipped value leaves the average as it was
  }
  return average;
}

// Brings a series' cached EMA up to date: only the new points when the series
// grew since (same first and last-seen values), else all of it.
void UpdateSmoothed(PlotState::Smoothed& cache, std::span<const double> y, double weight) {
  const size_t done = cache.values.size();
  const auto same = [](double a, double b) { return a == b || (std::isnan(a) && std::isnan(b)); };
  const bool appended = cache.weight == weight && done > 0 && y.size() >= done && same(y[0], cache.first) &&
                        same(y[done - 1], cache.last);
  if (appended && y.size() == done) return;
  const size_t from = appended ? done : 0;
  cache.values.resize(y.size());
  cache.average = SmoothFrom(y.subspan(from), weight, std::span<double>(cache.values).subspan(from),
                             appended ? cache.average : kNaN);
  cache.weight = weight;
  cache.first = y.empty() ? 0 : y[0];
  cache.last = y.empty() ? 0 : y[y.size() - 1];
}

}  // namespace

// --- Pure helpers --------------------------------------------------------------------------------

void Decimate(std::span<const double> x, std::span<const double> y, double x_min, double x_max, int columns,
              bool positive_only, std::vector<PlotPoint>& out) {
  out.clear();
  const size_t n = std::min(x.size(), y.size());
  if (n == 0 || columns <= 0 || !std::isfinite(x_min) || !std::isfinite(x_max) || !(x_max > x_min)) return;
  const size_t lo = std::lower_bound(x.begin(), x.begin() + n, x_min) - x.begin();  // first visible
  const size_t hi = std::upper_bound(x.begin(), x.begin() + n, x_max) - x.begin();  // one past the last
  const double scale = columns / (x_max - x_min);
  const auto column_of = [&](double v) {  // written so that NaN lands in the last column instead of UB
    const double t = (v - x_min) * scale;
    return t < columns - 1 ? (t > 0 ? static_cast<long>(t) : 0L) : long{columns} - 1;
  };
  // valid: floor <= v <= DBL_MAX, which is false for NaN and infinities.
  const double floor = positive_only ? std::numeric_limits<double>::denorm_min() : -std::numeric_limits<double>::max();
  const double ceiling = std::numeric_limits<double>::max();

  // Points [a, b) share a pixel column: keep their min and max, in the order
  // they occur. Invalid points inside a column are bridged (the gap is under a
  // pixel wide); invalid points between columns break the line.
  bool gap = false;  // an invalid point since the last kept one
  const auto bucket = [&](size_t a, size_t b) {
    // Branch-free: noisy data would mispredict every few points.
    size_t i_min = b, i_max = b;
    double low = std::numeric_limits<double>::infinity(), high = -low;
    for (size_t i = a; i < b; ++i) {
      const double v = y[i];
      const bool valid = v >= floor && v <= ceiling;
      const bool lower = valid && v < low, higher = valid && v > high;
      low = lower ? v : low;
      i_min = lower ? i : i_min;
      high = higher ? v : high;
      i_max = higher ? i : i_max;
    }
    const auto is_valid = [&](size_t i) { return y[i] >= floor && y[i] <= ceiling; };
    const bool leading_invalid = !is_valid(a), trailing_invalid = !is_valid(b - 1);
    if (i_min == b) {  // nothing valid here
      gap = true;
      return;
    }
    const size_t first = std::min(i_min, i_max), second = std::max(i_min, i_max);
    if ((gap || leading_invalid) && !out.empty()) out.push_back({x[first], kNaN});
    out.push_back({x[first], y[first]});
    if (second != first) out.push_back({x[second], y[second]});
    gap = trailing_invalid;
  };

  if (lo > 0) bucket(lo - 1, lo);  // the neighbour left of the view, so the line reaches the edge
  for (size_t i = lo; i < hi;) {
    // The end of i's column: gallop, then binary search, so a column costs log(its points).
    const long c = column_of(x[i]);
    size_t step = 1, end = i + 1;
    while (end < hi && column_of(x[end]) <= c) end = i + (step *= 2);
    end = std::partition_point(x.begin() + (i + step / 2), x.begin() + std::min(end, hi),
                               [&](double v) { return column_of(v) <= c; }) -
          x.begin();
    bucket(i, end);
    i = end;
  }
  if (hi < n) bucket(hi, hi + 1);  // and the neighbour right of it
}

void Smooth(std::span<const double> y, double weight, std::span<double> out) { SmoothFrom(y, weight, out, kNaN); }

// --- The widget ----------------------------------------------------------------------------------

namespace {

// Decimate over the view's x range, by pixel columns of the axis as drawn:
// on a log x axis the columns are even in log10(x) (points at x <= 0 skipped).
void DecimateOnAxis(std::span<const double> x, std::span<const double> y, PlotState& state, const PlotOptions& options,
                    int columns, std::vector<PlotPoint>& out) {
  if (!options.log_x) {
    Decimate(x, y, state.x_min, state.x_max, columns, options.log_y, out);
    return;
  }
  const size_t n = std::min(x.size(), y.size());
  const size_t first = std::upper_bound(x.begin(), x.begin() + n, 0.0) - x.begin();
  std::vector<double>& log_x = state.internal.log_x;
  log_x.resize(n - first);
  for (size_t i = first; i < n; ++i) log_x[i - first] = std::log10(x[i]);
  Decimate(log_x, y.subspan(first, n - first), std::log10(state.x_min), std::log10(state.x_max), columns, options.log_y, out);
  for (PlotPoint& p : out) p.x = std::pow(10.0, p.x);
}

}  // namespace

void Plot(const char* id, PlotState& state, const PlotOptions& options, std::span<const PlotSeries> series,
          std::span<const PlotMarker> markers) {
  ImGui::PushID(id);
  const ImVec2 avail = ImGui::GetContentRegionAvail();
  const float height = options.size.y > 0 ? options.size.y : options.size.y < 0 ? avail.y + options.size.y : 240.0f;
  const ImVec2 size(std::max(options.size.x > 0 ? options.size.x : avail.x + options.size.x, 80.0f),
                    std::max(height, 60.0f));
  const ImVec2 frame_min = ImGui::GetCursorScreenPos();
  const ImVec2 frame_max(frame_min.x + size.x, frame_min.y + size.y);
  ImGui::InvisibleButton("##plot", size);
  ImGui::SetItemUsingMouseWheel();  // the wheel zooms the plot instead of scrolling the window
  const bool hovered = ImGui::IsItemHovered(), active = ImGui::IsItemActive();
  ImDrawList* draw = ImGui::GetWindowDrawList();
  PlotState::Internal& in = state.internal;

  RestartViewWhenDataRestarts(state, options, series);
  SanitizeView(state, options.log_x, options.log_y);
  HandleInput(state, options.log_x, options.log_y, hovered, active);

  // The legend ends over the data area's right edge.
  std::vector<bool> visible;
  const float header =
      DrawHeader(draw, state, options, series, frame_min, size.x - ImGui::GetFontSize(), hovered, visible);

  // Decimate every visible series over the x range (raw, and smoothed when asked).
  if (state.auto_fit) FitX(state, series, visible, options.log_x);
  // One column per pixel of last frame's data area (the whole width on the first frame).
  const float last_width = in.plot_max.x - in.plot_min.x;
  const int columns = std::max(1, static_cast<int>(last_width > 1 && last_width <= size.x ? last_width : size.x));
  const double smoothing = std::clamp(static_cast<double>(options.smoothing), 0.0, 0.99);
  in.lines.resize(series.size() * 2);
  in.smoothed.resize(series.size());
  for (size_t i = 0; i < series.size(); ++i) {
    const PlotSeries& s = series[i];
    const size_t n = visible[i] ? std::min(s.x.size(), s.y.size()) : 0;
    DecimateOnAxis(s.x.first(n), s.y.first(n), state, options, columns, in.lines[2 * i]);
    in.lines[2 * i + 1].clear();
    PlotState::Smoothed& smoothed = in.smoothed[i];
    if (smoothing > 0 && s.smooth && n > 0) {
      UpdateSmoothed(smoothed, s.y.first(n), smoothing);
      DecimateOnAxis(s.x.first(n), smoothed.values, state, options, columns, in.lines[2 * i + 1]);
    } else {
      smoothed = {};
    }
  }
  if (state.auto_fit) FitY(state, options, in.lines);

  // Layout of the data area; the y tick labels' width sets the left margin.
  const PlotAxis x_axis{state.x_min, state.x_max, options.log_x}, y_axis{state.y_min, state.y_max, options.log_y};
  const bool has_x_label = options.x_label && *options.x_label, has_y_label = options.y_label && *options.y_label;
  const float bottom = AxesMargins(y_axis, 1.0f, has_x_label, has_y_label).y;  // independent of the height
  const ImVec2 margins = AxesMargins(y_axis, size.y - header - bottom, has_x_label, has_y_label);
  const ImVec2 data_min(frame_min.x + margins.x, frame_min.y + header);
  const ImVec2 data_max(frame_max.x - ImGui::GetFontSize(), frame_max.y - margins.y);
  in.plot_min = data_min;
  in.plot_max = data_max;
  if (!(data_max.x - data_min.x > 4 && data_max.y - data_min.y > 4)) {
    ImGui::PopID();
    return;  // too small to draw anything useful
  }
  const ScreenMap map{x_axis, y_axis, data_min, data_max};

  DrawAxes(draw, data_min, data_max, x_axis, y_axis, options.x_label, options.y_label);
  draw->PushClipRect(data_min, data_max, true);
  DrawMarkers(draw, map, markers);
  for (size_t i = 0; i < series.size(); ++i)
    if (visible[i])
      DrawSeries(draw, map, series[i], SeriesColor(series[i], i), in.lines[2 * i], in.lines[2 * i + 1], in.screen);
  if (hovered && Contains(data_min, data_max, ImGui::GetIO().MousePos) &&
      !ImGui::IsMouseDragging(ImGuiMouseButton_Left))
    DrawHover(draw, map, state, options, series, visible, markers);
  draw->PopClipRect();
  ChartPngMenu(id, frame_min, frame_max);
  ImGui::PopID();
}

}  // namespace ts::ui
