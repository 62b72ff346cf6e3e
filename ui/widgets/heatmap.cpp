#include "ui/widgets/heatmap.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "ui/widgets/chart_png.h"
#include "ui/widgets/sprites.h"
#include "ui/widgets/plot.h"  // ClassColor, ColorSwatch, PlotAxis, AxesMargins, DrawAxes

namespace ts::ui {
namespace {

struct Rgb {
  float r, g, b;
};

Rgb ToRgb(ImU32 c) {
  const ImVec4 v = ImGui::ColorConvertU32ToFloat4(c);
  return {v.x, v.y, v.z};
}

ImU32 FromRgb(Rgb c) { return ImGui::ColorConvertFloat4ToU32(ImVec4(c.r, c.g, c.b, 1.0f)); }

Rgb Lerp(Rgb a, Rgb b, float t) { return {a.r + (b.r - a.r) * t, a.g + (b.g - a.g) * t, a.b + (b.b - a.b) * t}; }

DataExtent SaneExtent(const DataExtent& e) {
  const bool ok = std::isfinite(e.x_min) && std::isfinite(e.x_max) && std::isfinite(e.y_min) &&
                  std::isfinite(e.y_max) && e.x_max > e.x_min && e.y_max > e.y_min;
  return ok ? e : DataExtent{};
}

// Where the grid and the points land on screen.
struct Mapping {
  DataExtent extent;
  ImVec2 min, max;  // the data area in pixels
  float X(double x) const {
    return min.x + static_cast<float>((x - extent.x_min) / (extent.x_max - extent.x_min)) * (max.x - min.x);
  }
  float Y(double y) const {
    return max.y - static_cast<float>((y - extent.y_min) / (extent.y_max - extent.y_min)) * (max.y - min.y);
  }
  // Pixel position of cell edge i (0..resolution) along each axis.
  float EdgeX(float i, int resolution) const { return min.x + (max.x - min.x) * i / static_cast<float>(resolution); }
  float EdgeY(float i, int resolution) const { return max.y - (max.y - min.y) * i / static_cast<float>(resolution); }
};

// Gouraud-shaded mesh through the cell centres, plus a ring of vertices on the
// border that repeat the outermost samples (like a texture clamped to its
// edge). One strip of triangles per row, each reserving its own vertices, so
// 16-bit indices never overflow.
void DrawSmoothGrid(ImDrawList* draw, const Mapping& m, const std::vector<ImU32>& colors, int resolution) {
  const ImVec2 uv = ImGui::GetFontTexUvWhitePixel();
  const int n = resolution + 2;  // vertices per row: left border, centres, right border
  const auto at = [&](int k) {   // position of vertex k along an axis, in cells
    return k == 0 ? 0.0f : k == n - 1 ? static_cast<float>(resolution) : static_cast<float>(k) - 0.5f;
  };
  const auto sample = [&](int k) { return std::clamp(k - 1, 0, resolution - 1); };
  for (int ky = 0; ky + 1 < n; ++ky) {
    draw->PrimReserve(6 * (n - 1), 2 * n);
    const unsigned int base = draw->_VtxCurrentIdx;  // after PrimReserve, which may start a new vertex block
    for (int kx = 0; kx < n; ++kx) {
      const float x = m.EdgeX(at(kx), resolution);
      draw->PrimWriteVtx(ImVec2(x, m.EdgeY(at(ky), resolution)), uv, colors[sample(ky) * resolution + sample(kx)]);
      draw->PrimWriteVtx(ImVec2(x, m.EdgeY(at(ky + 1), resolution)), uv,
                         colors[sample(ky + 1) * resolution + sample(kx)]);
    }
    for (int kx = 0; kx + 1 < n; ++kx) {
      const unsigned int a = base + 2 * kx;  // (kx, ky); a + 1: (kx, ky + 1); a + 2, a + 3: the same at kx + 1
      for (unsigned int v : {a, a + 2, a + 3, a, a + 3, a + 1}) draw->PrimWriteIdx(static_cast<ImDrawIdx>(v));
    }
  }
}

// One flat cell per sample; runs of equal colour along a row merge into one rectangle.
void DrawFlatGrid(ImDrawList* draw, const Mapping& m, const std::vector<ImU32>& colors, int resolution) {
  for (int iy = 0; iy < resolution; ++iy) {
    for (int ix = 0; ix < resolution;) {
      const ImU32 color = colors[iy * resolution + ix];
      int end = ix + 1;
      while (end < resolution && colors[iy * resolution + end] == color) ++end;
      draw->AddRectFilled(
          ImVec2(m.EdgeX(static_cast<float>(ix), resolution), m.EdgeY(static_cast<float>(iy + 1), resolution)),
          ImVec2(m.EdgeX(static_cast<float>(end), resolution), m.EdgeY(static_cast<float>(iy), resolution)), color);
      ix = end;
    }
  }
}

void DrawPoints(ImDrawList* draw, const Mapping& m, std::span<const ScatterSet> sets, float radius) {
  // Without the anti-aliased fringe a small disc is a third of the triangles;
  // at a few pixels across the dark halo hides the difference.
  const ImDrawListFlags flags = draw->Flags;
  draw->Flags &= ~ImDrawListFlags_AntiAliasedFill;
  for (const ScatterSet& set : sets) {
    const size_t count = std::min(set.xy.size() / 2, set.labels.size());
    for (size_t i = 0; i < count; ++i) {
      const float x = set.xy[2 * i], y = set.xy[2 * i + 1];
      if (!std::isfinite(x) || !std::isfinite(y)) continue;
      const ImVec2 p(m.X(x), m.Y(y));
      if (p.x < m.min.x - radius || p.x > m.max.x + radius || p.y < m.min.y - radius || p.y > m.max.y + radius)
        continue;
      const ImU32 color = ClassColor(static_cast<int>(set.labels[i]));
      // One textured quad per point, dark halo included (visible on its own class colour).
      DrawSprite(draw, set.hollow ? Sprite::kRing : Sprite::kDot, p, radius + 1.0f, color);
    }
  }
  draw->Flags = flags;
}

// The frame both heatmaps share: layout, axes, the grid (colours from
// `color_at(ix, iy)`), points, hover tooltip (`tooltip(ix, iy)`) and click.
template <class ColorAt, class Tooltip>
HeatmapResult DrawHeatmap(const char* id, int resolution, ColorAt color_at, Tooltip tooltip,
                          std::span<const ScatterSet> points, const HeatmapOptions& options) {
  ImGui::PushID(id);
  const DataExtent extent = SaneExtent(options.extent);
  const PlotAxis x_axis{extent.x_min, extent.x_max, false}, y_axis{extent.y_min, extent.y_max, false};
  const bool has_x_label = options.x_label && *options.x_label, has_y_label = options.y_label && *options.y_label;
  const float font = ImGui::GetFontSize(), top = font * 0.6f, right = font;

  // Size: the width given or available; the height keeps the extent's aspect unless given.
  const float width =
      std::max(options.size.x > 0 ? options.size.x : ImGui::GetContentRegionAvail().x + options.size.x, 60.0f);
  const double aspect = (extent.y_max - extent.y_min) / (extent.x_max - extent.x_min);
  ImVec2 margins = AxesMargins(y_axis, width, has_x_label, has_y_label);
  float data_w = std::max(width - margins.x - right, 10.0f);
  float data_h =
      options.size.y > 0 ? std::max(options.size.y - top - margins.y, 10.0f) : static_cast<float>(data_w * aspect);
  margins = AxesMargins(y_axis, data_h, has_x_label, has_y_label);  // now for the real height
  data_w = std::max(width - margins.x - right, 10.0f);
  if (options.size.y <= 0) data_h = std::min(static_cast<float>(data_w * aspect), 4096.0f);

  const ImVec2 origin = ImGui::GetCursorScreenPos();
  ImGui::InvisibleButton("##heatmap", ImVec2(width, top + data_h + margins.y));
  const bool hovered = ImGui::IsItemHovered(), clicked = ImGui::IsItemClicked(ImGuiMouseButton_Left);
  ImDrawList* draw = ImGui::GetWindowDrawList();
  const Mapping m{extent, ImVec2(origin.x + margins.x, origin.y + top),
                  ImVec2(origin.x + margins.x + data_w, origin.y + top + data_h)};

  DrawAxes(draw, m.min, m.max, x_axis, y_axis, options.x_label, options.y_label);
  draw->PushClipRect(m.min, m.max, true);
  if (resolution > 0) {
    std::vector<ImU32> colors(static_cast<size_t>(resolution) * resolution);
    for (int iy = 0; iy < resolution; ++iy)
      for (int ix = 0; ix < resolution; ++ix) colors[iy * resolution + ix] = color_at(ix, iy);
    if (options.smooth)
      DrawSmoothGrid(draw, m, colors, resolution);
    else
      DrawFlatGrid(draw, m, colors, resolution);
  }
  DrawPoints(draw, m, points, options.point_radius);
  draw->PopClipRect();
  draw->AddRect(m.min, m.max, IM_COL32(255, 255, 255, 45));

  const ImVec2 mouse = ImGui::GetIO().MousePos;
  const bool over_data = mouse.x >= m.min.x && mouse.x <= m.max.x && mouse.y >= m.min.y && mouse.y <= m.max.y;
  const DataPoint at{extent.x_min + (mouse.x - m.min.x) / (m.max.x - m.min.x) * (extent.x_max - extent.x_min),
                     extent.y_min + (m.max.y - mouse.y) / (m.max.y - m.min.y) * (extent.y_max - extent.y_min)};
  if (hovered && over_data) {
    ImGui::BeginTooltip();
    ImGui::Text("x %.3g, y %.3g", at.x, at.y);
    if (resolution > 0) {
      const auto nearest = [&](double v, double lo, double hi) {  // the cell under v
        return std::clamp(static_cast<int>(std::floor((v - lo) / (hi - lo) * resolution)), 0, resolution - 1);
      };
      tooltip(nearest(at.x, extent.x_min, extent.x_max), nearest(at.y, extent.y_min, extent.y_max));
    }
    ImGui::EndTooltip();
  }
  ChartPngMenu(id, origin, ImVec2(origin.x + width, origin.y + top + data_h + margins.y));
  ImGui::PopID();
  HeatmapResult result;
  result.data_min = m.min;
  result.data_max = m.max;
  if (hovered && over_data) result.hovered = at;
  if (clicked && over_data) result.clicked = at;
  return result;
}

}  // namespace

ImU32 ClassBlendColor(std::span<const float> probabilities) {
  const Rgb pale{0.62f, 0.62f, 0.64f};  // where the model cannot decide
  Rgb mixed{0, 0, 0};
  float total = 0, top = 0;
  for (size_t k = 0; k < probabilities.size(); ++k) {
    const float p = std::isfinite(probabilities[k]) ? std::max(probabilities[k], 0.0f) : 0.0f;
    const Rgb c = ToRgb(ClassColor(static_cast<int>(k)));
    mixed = {mixed.r + c.r * p, mixed.g + c.g * p, mixed.b + c.b * p};
    total += p;
    top = std::max(top, p);
  }
  if (!(total > 0) || probabilities.size() < 2) return FromRgb(Lerp(pale, {0.16f, 0.16f, 0.18f}, 0.5f));
  mixed = {mixed.r / total, mixed.g / total, mixed.b / total};
  // Confidence 0 for a uniform guess, 1 for a sure one.
  const float uniform = 1.0f / static_cast<float>(probabilities.size());
  const float confidence = std::clamp((top / total - uniform) / (1.0f - uniform), 0.0f, 1.0f);
  // Sure regions are a dimmed class colour (the points on top stay brighter), unsure ones pale.
  const Rgb dimmed{mixed.r * 0.62f, mixed.g * 0.62f, mixed.b * 0.62f};
  return FromRgb(Lerp(pale, dimmed, std::sqrt(confidence)));
}

ImU32 DivergingColor(float t) {
  if (!std::isfinite(t)) t = 0;
  t = std::clamp(t, -1.0f, 1.0f);
  const Rgb zero{0.16f, 0.16f, 0.18f}, negative{0.30f, 0.55f, 0.95f}, positive{0.98f, 0.58f, 0.16f};
  return FromRgb(Lerp(zero, t < 0 ? negative : positive, std::abs(t)));
}

HeatmapResult ClassHeatmap(const char* id, const ClassGrid& grid, std::span<const ScatterSet> points,
                           const HeatmapOptions& options) {
  const int classes = std::max(grid.classes, 0);
  const bool usable = grid.resolution > 0 && classes > 0 &&
                      grid.probabilities.size() >= static_cast<size_t>(grid.resolution) * grid.resolution * classes;
  const int resolution = usable ? grid.resolution : 0;
  const auto probabilities_at = [&](int ix, int iy) {
    return grid.probabilities.subspan((static_cast<size_t>(iy) * resolution + ix) * classes, classes);
  };
  const auto tooltip = [&](int ix, int iy) {
    const std::span<const float> p = probabilities_at(ix, iy);
    std::vector<int> order(classes);
    for (int k = 0; k < classes; ++k) order[k] = k;
    std::sort(order.begin(), order.end(), [&](int a, int b) { return p[a] > p[b]; });
    for (int rank = 0; rank < std::min(classes, 4); ++rank) {  // the four likeliest
      const int k = order[rank];
      ColorSwatch(ClassColor(k));
      if (k < static_cast<int>(options.class_names.size()))
        ImGui::Text("%s  %.1f%%", options.class_names[k].c_str(), 100.0 * p[k]);
      else
        ImGui::Text("class %d  %.1f%%", k, 100.0 * p[k]);
    }
  };
  return DrawHeatmap(
      id, resolution, [&](int ix, int iy) { return ClassBlendColor(probabilities_at(ix, iy)); }, tooltip, points,
      options);
}

HeatmapResult ValueHeatmap(const char* id, const ValueGrid& grid, std::span<const ScatterSet> points,
                           const HeatmapOptions& options) {
  const int channels = std::max(grid.channels, 1);
  const bool usable = grid.resolution > 0 && grid.channel >= 0 && grid.channel < channels &&
                      grid.values.size() >= static_cast<size_t>(grid.resolution) * grid.resolution * channels;
  const int resolution = usable ? grid.resolution : 0;
  const auto value_at = [&](int ix, int iy) {
    return grid.values[(static_cast<size_t>(iy) * resolution + ix) * channels + grid.channel];
  };
  float range = options.value_range;
  if (!(range > 0)) {  // symmetric about zero, so zero is always the dark middle
    range = 0;
    for (int iy = 0; iy < resolution; ++iy)
      for (int ix = 0; ix < resolution; ++ix)
        if (std::isfinite(value_at(ix, iy))) range = std::max(range, std::abs(value_at(ix, iy)));
    if (!(range > 0)) range = 1;
  }
  return DrawHeatmap(
      id, resolution, [&](int ix, int iy) { return DivergingColor(value_at(ix, iy) / range); },
      [&](int ix, int iy) { ImGui::Text("value %.4g", value_at(ix, iy)); }, points, options);
}

}  // namespace ts::ui
