#include "ui/widgets/gantt.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "imgui_internal.h"  // SetItemUsingMouseWheel
#include "ui/widgets/chart_png.h"
#include "ui/widgets/plot.h"

namespace ts::ui {
namespace {

constexpr ImU32 kBackground = IM_COL32(255, 255, 255, 6);
constexpr ImU32 kBorder = IM_COL32(255, 255, 255, 45);
constexpr ImU32 kGrid = IM_COL32(255, 255, 255, 24);
constexpr ImU32 kRowLine = IM_COL32(255, 255, 255, 16);

bool Usable(double a, double b) { return std::isfinite(a) && std::isfinite(b) && b - a > std::max(std::abs(a), std::abs(b)) * 1e-12; }

void Fit(GanttState& state, std::span<const GanttBar> bars) {
  double lo = INFINITY, hi = -INFINITY;
  for (const GanttBar& bar : bars)
    if (std::isfinite(bar.start) && std::isfinite(bar.end)) lo = std::min(lo, bar.start), hi = std::max(hi, bar.end);
  if (!std::isfinite(lo)) lo = 0, hi = 1;
  if (!Usable(lo, hi)) hi = lo + std::max(1.0, std::abs(lo) * 0.1);
  const double pad = (hi - lo) * 0.01;
  state.x_min = lo - pad;
  state.x_max = hi + pad;
}

void HandleInput(GanttState& state, bool hovered, bool active) {
  const float width = state.data_max.x - state.data_min.x;
  if (!(width > 1)) return;
  const ImGuiIO& io = ImGui::GetIO();
  const bool over_data = io.MousePos.x >= state.data_min.x && io.MousePos.x <= state.data_max.x &&
                         io.MousePos.y >= state.data_min.y && io.MousePos.y <= state.data_max.y + ImGui::GetFontSize() * 2;
  const double span = state.x_max - state.x_min;
  if (hovered && over_data && ImGui::IsMouseDoubleClicked(ImGuiMouseButton_Left)) state.auto_fit = true;
  if (hovered && over_data && io.MouseWheel != 0) {
    const double anchor = state.x_min + span * (io.MousePos.x - state.data_min.x) / width;
    const double factor = std::pow(0.85, static_cast<double>(io.MouseWheel));
    const double a = anchor - (anchor - state.x_min) * factor, b = anchor + (state.x_max - anchor) * factor;
    if (Usable(a, b)) state.x_min = a, state.x_max = b, state.auto_fit = false;
  }
  if (active && ImGui::IsMouseDragging(ImGuiMouseButton_Left) && io.MouseDelta.x != 0) {
    const double shift = -io.MouseDelta.x / width * span;
    state.x_min += shift;
    state.x_max += shift;
    state.auto_fit = false;
  }
}

}  // namespace

int Gantt(const char* id, GanttState& state, std::span<const char* const> row_labels, std::span<const GanttBar> bars,
          const GanttOptions& options) {
  ImGui::PushID(id);
  uint32_t rows = static_cast<uint32_t>(row_labels.size());
  for (const GanttBar& bar : bars) rows = std::max(rows, bar.row + 1);
  rows = std::max(rows, 1u);
  const float font = ImGui::GetFontSize();
  const float row_height = options.row_height > 0 ? options.row_height : ImGui::GetFrameHeight() * 1.6f;
  const float axis_height = font * 1.4f + (options.x_label ? font + 2 : 0);
  float label_width = options.label_width;
  if (label_width <= 0)
    for (const char* label : row_labels) label_width = std::max(label_width, ImGui::CalcTextSize(label).x);
  label_width += font * 0.6f;
  const ImVec2 avail = ImGui::GetContentRegionAvail();
  const ImVec2 size(std::max(options.size.x > 0 ? options.size.x : avail.x, 120.0f),
                    options.size.y > 0 ? options.size.y : rows * row_height + axis_height);
  const ImVec2 origin = ImGui::GetCursorScreenPos();
  ImGui::InvisibleButton("##gantt", size);
  ImGui::SetItemUsingMouseWheel();
  const bool hovered = ImGui::IsItemHovered(), active = ImGui::IsItemActive();
  HandleInput(state, hovered, active);
  if (state.auto_fit || !Usable(state.x_min, state.x_max)) Fit(state, bars);

  const ImVec2 data_min(origin.x + label_width, origin.y);
  const ImVec2 data_max(origin.x + size.x - font * 0.5f, origin.y + size.y - axis_height);
  state.data_min = data_min;
  state.data_max = data_max;
  const float lane = (data_max.y - data_min.y) / rows;
  ImDrawList* draw = ImGui::GetWindowDrawList();
  draw->AddRectFilled(data_min, data_max, kBackground);
  const PlotAxis axis{state.x_min, state.x_max, false};
  const auto to_x = [&](double v) {
    return std::clamp(data_min.x + static_cast<float>(axis.ToUnit(v)) * (data_max.x - data_min.x), data_min.x - 1e5f,
                      data_max.x + 1e5f);
  };

  // Time ticks as the plot draws them: as many as fit beside their labels.
  const ImU32 text = ImGui::GetColorU32(ImGuiCol_Text, 0.75f);
  const int max_ticks = std::max(2, static_cast<int>((data_max.x - data_min.x) / (font * 5.0f)));
  const TickSet ticks = NiceTicks(state.x_min, state.x_max, max_ticks);
  for (double v : ticks.values) {
    const float x = std::round(to_x(v)) + 0.5f;
    draw->AddLine(ImVec2(x, data_min.y), ImVec2(x, data_max.y + 4), kGrid);
    const std::string label = FormatTick(v, ticks.step);
    const float w = ImGui::CalcTextSize(label.c_str()).x;
    draw->AddText(ImVec2(std::min(x - w * 0.5f, data_max.x + font * 0.5f - w), data_max.y + 5), text, label.c_str());
  }
  if (options.x_label) {
    const float w = ImGui::CalcTextSize(options.x_label).x;
    draw->AddText(ImVec2((data_min.x + data_max.x - w) * 0.5f, data_max.y + 5 + font + 2), text, options.x_label);
  }
  for (uint32_t r = 0; r < rows; ++r) {
    const float y = data_min.y + r * lane;
    if (r > 0) draw->AddLine(ImVec2(data_min.x, y), ImVec2(data_max.x, y), kRowLine);
    if (r < row_labels.size() && lane >= font * 0.8f)
      draw->AddText(ImVec2(origin.x, y + (lane - font) * 0.5f), text, row_labels[r]);
  }

  // Bars, and the one under the mouse.
  const ImVec2 mouse = ImGui::GetIO().MousePos;
  int hovered_bar = -1;
  draw->PushClipRect(data_min, data_max, true);
  for (size_t i = 0; i < bars.size(); ++i) {
    const GanttBar& bar = bars[i];
    if (!(bar.end >= state.x_min && bar.start <= state.x_max)) continue;
    float x0 = to_x(bar.start), x1 = std::max(to_x(bar.end), x0 + 1.0f);
    const float top = data_min.y + bar.row * lane, bottom = top + lane;
    const float pad = bar.thin ? lane * 0.38f : std::min(2.0f, lane * 0.15f);
    const ImU32 color = bar.color ? bar.color : ClassColor(static_cast<int>(bar.row));
    draw->AddRectFilled(ImVec2(x0, top + pad), ImVec2(x1, bottom - pad), color);
    if (!bar.thin && bar.label && *bar.label && x1 - x0 > 30 && lane >= font) {
      const ImVec2 extent = ImGui::CalcTextSize(bar.label);
      if (extent.x + 6 <= x1 - x0) {
        draw->PushClipRect(ImVec2(x0, top), ImVec2(x1, bottom), true);
        draw->AddText(ImVec2(std::max(x0, data_min.x) + 3, top + (lane - extent.y) * 0.5f), IM_COL32(15, 15, 20, 255),
                      bar.label);
        draw->PopClipRect();
      }
    }
    // Thin bars are hard to hit: allow 2 px either side.
    if (hovered && mouse.y >= top && mouse.y < bottom && mouse.x >= x0 - 2 && mouse.x <= x1 + 2) hovered_bar = static_cast<int>(i);
  }
  draw->PopClipRect();
  draw->AddRect(data_min, data_max, kBorder);
  if (hovered_bar >= 0 && !ImGui::IsMouseDragging(ImGuiMouseButton_Left)) {
    const GanttBar& bar = bars[hovered_bar];
    const char* unit = options.x_label ? options.x_label : "";
    ImGui::BeginTooltip();
    ImGui::TextUnformatted(bar.label);
    ImGui::Text("%.4g %s  (from %.4g to %.4g)", bar.end - bar.start, unit, bar.start, bar.end);
    if (bar.tooltip) ImGui::TextDisabled("%s", bar.tooltip);
    ImGui::EndTooltip();
  }
  ChartPngMenu(id, origin, ImVec2(origin.x + size.x, origin.y + size.y));
  ImGui::PopID();
  return hovered_bar;
}

}  // namespace ts::ui
