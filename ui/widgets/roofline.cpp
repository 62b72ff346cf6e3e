#include "ui/widgets/roofline.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "imgui_internal.h"  // ImRect
#include "ui/format.h"
#include "ui/panel_layout.h"
#include "ui/widgets/chart_png.h"
#include "ui/widgets/insight_charts.h"
#include "ui/widgets/plot.h"

namespace ts::ui {

RooflineHover Roofline(const char* id, std::span<const RooflineDot> dots, const RooflineOptions& options) {
  RooflineHover result;
  const double peak_flops = options.peak_gflops, peak_gbs = options.peak_gbs;
  const double ridge = RidgeIntensity(peak_flops, peak_gbs);
  std::vector<double> xs, ys;
  for (const RooflineDot& dot : dots)
    if (dot.intensity > 0 && dot.gflops > 0) xs.push_back(dot.intensity), ys.push_back(dot.gflops);
  if (ridge > 0) xs.push_back(ridge), ys.push_back(peak_flops);
  const ChartPoint x_range = LogRangeOf(xs, 0.3), y_range = LogRangeOf(ys, 0.3);
  const PlotAxis x_axis{x_range.x, x_range.y, true}, y_axis{y_range.x, y_range.y, true};

  const ImVec2 origin = ImGui::GetCursorScreenPos(), avail = ImGui::GetContentRegionAvail();
  const ImVec2 size(std::max(options.size.x > 0 ? options.size.x : avail.x, Scaled(200)),
                    std::max(options.size.y > 0 ? options.size.y : avail.y - 4, Scaled(160)));
  ImGui::PushID(id);
  ImGui::InvisibleButton("##roofline", size);
  ImGui::PopID();
  const bool hovered = ImGui::IsItemHovered(), clicked = ImGui::IsItemClicked(ImGuiMouseButton_Left);
  const ImVec2 margins = AxesMargins(y_axis, size.y, true, true);
  const float font = ImGui::GetFontSize();
  const ImVec2 data_min(origin.x + margins.x, origin.y + font * 0.5f);
  const ImVec2 data_max(origin.x + size.x - font, origin.y + size.y - margins.y);
  if (!(data_max.x - data_min.x > 20 && data_max.y - data_min.y > 20)) return result;
  ImDrawList* draw = ImGui::GetWindowDrawList();
  DrawAxes(draw, data_min, data_max, x_axis, y_axis, "arithmetic intensity (FLOP / byte)", "GFLOP/s");
  const auto to_screen = [&](double x, double y) {
    return ImVec2(data_min.x + static_cast<float>(x_axis.ToUnit(x)) * (data_max.x - data_min.x),
                  data_max.y - static_cast<float>(y_axis.ToUnit(y)) * (data_max.y - data_min.y));
  };
  draw->PushClipRect(data_min, data_max, true);
  const ImU32 ceiling_color = kRooflineCeilingColor;
  std::vector<ChartPoint> roof = RooflineCeiling(peak_flops, peak_gbs, x_axis.min, x_axis.max);
  for (size_t k = 1; k < roof.size(); ++k)
    draw->AddLine(to_screen(roof[k - 1].x, roof[k - 1].y), to_screen(roof[k].x, roof[k].y), ceiling_color, 2.0f);
  if (ridge > 0) {
    const ImVec2 p = to_screen(ridge, peak_flops);
    for (float y = p.y; y < data_max.y; y += 8) draw->AddLine(ImVec2(p.x, y), ImVec2(p.x, std::min(y + 4, data_max.y)), ceiling_color);
    draw->AddCircleFilled(p, 4, ceiling_color);
    const std::string label = "ridge " + Printf("%.2f", ridge) + " FLOP/B";
    const float label_width = ImGui::CalcTextSize(label.c_str()).x;
    draw->AddText(ImVec2(p.x + 6 + label_width <= data_max.x ? p.x + 6 : p.x - 6 - label_width, p.y + 4), ceiling_color,
                  label.c_str());
    const std::string slope = Printf("%.1f GB/s", peak_gbs), flat = Printf("%.1f GFLOP/s", peak_flops);
    draw->AddText(ImVec2(std::max(data_min.x + 4, p.x - ImGui::CalcTextSize(flat.c_str()).x - 40), p.y - font - 4),
                  ceiling_color, flat.c_str());
    const ImVec2 s = to_screen(std::max(x_axis.min * 1.5, ridge / 30), std::max(x_axis.min * 1.5, ridge / 30) * peak_gbs);
    draw->AddText(ImVec2(s.x + 4, s.y - font - 2), ceiling_color, slope.c_str());
  }
  const float max_radius = std::min(data_max.x - data_min.x, data_max.y - data_min.y) * 0.08f;
  const ImVec2 mouse = ImGui::GetIO().MousePos;
  float hovered_distance = 1e9f;
  std::vector<ImRect> labels;  // placed so far: a label goes right, left, below or above its dot, where it is free
  for (size_t i = 0; i < dots.size(); ++i) {
    const RooflineDot& dot = dots[i];
    if (!(dot.intensity > 0 && dot.gflops > 0)) continue;
    const ImVec2 p = to_screen(dot.intensity, dot.gflops);
    const float r = DotRadius(dot.size, max_radius, 3.0f);
    const ImU32 color = dot.color ? dot.color : ClassColor(static_cast<int>(i));
    draw->AddCircleFilled(p, r, (color & ~IM_COL32_A_MASK) | IM_COL32(0, 0, 0, 170));
    draw->AddCircle(p, r, dot.selected ? IM_COL32(255, 255, 255, 255) : color, 0, dot.selected ? 2.5f : 1.0f);
    if (dot.label) {
      const ImVec2 size = ImGui::CalcTextSize(dot.label);
      const ImVec2 places[] = {{p.x + r + 3, p.y - font * 0.5f}, {p.x - r - 3 - size.x, p.y - font * 0.5f},
                               {p.x - size.x * 0.5f, p.y + r + 1}, {p.x - size.x * 0.5f, p.y - r - 1 - font}};
      ImRect chosen(places[0], ImVec2(places[0].x + size.x, places[0].y + size.y));
      for (const ImVec2& at : places) {
        const ImRect rect(at, ImVec2(at.x + size.x, at.y + size.y));
        const bool inside = rect.Min.x >= data_min.x && rect.Max.x <= data_max.x && rect.Min.y >= data_min.y &&
                            rect.Max.y <= data_max.y;
        const bool free = std::none_of(labels.begin(), labels.end(), [&](const ImRect& other) { return other.Overlaps(rect); });
        if (inside && free) {
          chosen = rect;
          break;
        }
      }
      labels.push_back(chosen);
      draw->AddText(chosen.Min, color, dot.label);
    }
    ++result.drawn;
    const float d = std::hypot(mouse.x - p.x, mouse.y - p.y);
    if (hovered && d <= std::max(r, 5.0f) && d < hovered_distance) result.dot = static_cast<int>(i), hovered_distance = d;
  }
  draw->PopClipRect();
  float lx = data_min.x + 6;
  const float ly = data_min.y + 4;
  for (const RooflineLegendEntry& entry : options.legend) {
    draw->AddCircleFilled(ImVec2(lx + 5, ly + font * 0.5f), 5, entry.color);
    draw->AddText(ImVec2(lx + 14, ly), ImGui::GetColorU32(ImGuiCol_Text, 0.8f), entry.label);
    lx += 24 + ImGui::CalcTextSize(entry.label).x;
  }
  result.clicked = result.dot >= 0 && clicked;
  ChartPngMenu(id, origin, ImVec2(origin.x + size.x, origin.y + size.y));
  return result;
}

}  // namespace ts::ui
