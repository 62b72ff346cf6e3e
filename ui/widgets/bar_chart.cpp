#include "ui/widgets/bar_chart.h"

#include <algorithm>
#include <cstdio>
#include <string>

#include "ui/widgets/chart_png.h"
#include "ui/widgets/plot.h"  // ClassColor

namespace ts::ui {
namespace {

constexpr float kPad = 4.0f;

std::string FormatValue(double value, const char* format, const char* unit) {
  if (!std::isfinite(value)) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, format ? format : "%.3g", value);
  return std::string(buf) + (unit ? unit : "");
}

// `text` shortened with "..." to fit `width` pixels.
std::string Ellipsize(const char* text, float width) {
  std::string s = text ? text : "";
  if (ImGui::CalcTextSize(s.c_str()).x <= width) return s;
  while (!s.empty() && ImGui::CalcTextSize((s + "...").c_str()).x > width) s.pop_back();
  return s + "...";
}

ImU32 Darker(ImU32 color, float factor) {
  ImVec4 c = ImGui::ColorConvertU32ToFloat4(color);
  return ImGui::ColorConvertFloat4ToU32(ImVec4(c.x * factor, c.y * factor, c.z * factor, c.w));
}

float ResolveWidth(float requested) {
  return std::max(requested > 0 ? requested : ImGui::GetContentRegionAvail().x + requested, 40.0f);
}

}  // namespace

int BarChart(const char* id, std::span<const Bar> bars, const BarChartOptions& options) {
  ImGui::PushID(id);
  const float width = ResolveWidth(options.width);
  const float bar_row = options.row_height > 0 ? options.row_height : ImGui::GetFrameHeight();
  const float label_row = options.labels_above ? ImGui::GetTextLineHeight() : 0.0f;
  const float row = bar_row + label_row;
  const float height = std::max(row * static_cast<float>(bars.size()), 1.0f);
  const ImVec2 origin = ImGui::GetCursorScreenPos();
  ImGui::InvisibleButton("##bars", ImVec2(width, height));
  const bool hovered = ImGui::IsItemHovered();
  ImDrawList* draw = ImGui::GetWindowDrawList();

  // Columns: labels | bars | room for the value text of the longest bar.
  float label_width = options.label_width;
  if (options.labels_above) {
    label_width = 0;
  } else if (label_width <= 0) {
    for (const Bar& b : bars) label_width = std::max(label_width, ImGui::CalcTextSize(b.label).x);
    label_width = std::min(label_width, width * 0.4f);
  }
  double lo = 0, hi = 0;  // the axis always includes zero
  float value_width = 0;
  for (const Bar& b : bars) {
    if (std::isfinite(b.value)) lo = std::min(lo, b.value), hi = std::max(hi, b.value);
    std::string text = FormatValue(b.value, options.value_format, options.unit);
    if (b.detail) text += std::string("  ") + b.detail;
    value_width = std::max(value_width, ImGui::CalcTextSize(text.c_str()).x);
  }
  if (std::isfinite(options.max_value) && options.max_value > 0) hi = std::max(hi, options.max_value);
  const float bar_left = origin.x + (options.labels_above ? 0.0f : label_width + kPad * 2);
  const float bar_width = std::max(width - label_width - value_width - kPad * 4, 10.0f);
  const double span = hi - lo > 0 ? hi - lo : 1.0;
  const auto to_x = [&](double v) { return bar_left + static_cast<float>((v - lo) / span) * bar_width; };
  const float zero_x = to_x(0.0);

  const ImVec2 mouse = ImGui::GetIO().MousePos;
  int hovered_index = -1;
  if (hovered && !bars.empty())
    hovered_index = std::clamp(static_cast<int>((mouse.y - origin.y) / row), 0, static_cast<int>(bars.size()) - 1);

  for (size_t i = 0; i < bars.size(); ++i) {
    const Bar& b = bars[i];
    const float row_top = origin.y + row * static_cast<float>(i);
    const float top = row_top + label_row, mid = top + bar_row * 0.5f;  // the bar's part of the row
    if (static_cast<int>(i) == hovered_index)
      draw->AddRectFilled(ImVec2(origin.x, row_top), ImVec2(origin.x + width, row_top + row),
                          ImGui::GetColorU32(ImGuiCol_HeaderHovered, 0.35f));
    const float text_h = ImGui::GetFontSize();
    if (options.labels_above) {
      const std::string label = Ellipsize(b.label, width);
      draw->AddText(ImVec2(origin.x, row_top), ImGui::GetColorU32(ImGuiCol_Text), label.c_str());
    } else {
      const std::string label = Ellipsize(b.label, label_width);
      draw->AddText(ImVec2(bar_left - kPad * 2 - ImGui::CalcTextSize(label.c_str()).x, mid - text_h * 0.5f),
                    ImGui::GetColorU32(ImGuiCol_Text), label.c_str());
    }
    float end = zero_x;
    if (std::isfinite(b.value)) {
      const float x = to_x(b.value);
      const ImU32 color = b.color ? b.color : ClassColor(static_cast<int>(i));
      const float inset = std::max(2.0f, bar_row * 0.18f);
      draw->AddRectFilled(ImVec2(std::min(zero_x, x), top + inset), ImVec2(std::max(zero_x, x), top + bar_row - inset),
                          static_cast<int>(i) == hovered_index ? color : Darker(color, 0.85f), 2.0f);
      end = std::max(zero_x, x);
    }
    const std::string value = FormatValue(b.value, options.value_format, options.unit);
    draw->AddText(ImVec2(end + kPad, mid - text_h * 0.5f), ImGui::GetColorU32(ImGuiCol_Text), value.c_str());
    if (b.detail)
      draw->AddText(ImVec2(end + kPad + ImGui::CalcTextSize((value + "  ").c_str()).x, mid - text_h * 0.5f),
                    ImGui::GetColorU32(ImGuiCol_TextDisabled), b.detail);
  }
  if (lo < 0)
    draw->AddLine(ImVec2(zero_x, origin.y), ImVec2(zero_x, origin.y + height), ImGui::GetColorU32(ImGuiCol_Border));

  if (hovered_index >= 0) {
    const Bar& b = bars[hovered_index];
    ImGui::BeginTooltip();
    ImGui::TextUnformatted(b.label);
    ImGui::Text("%s", FormatValue(b.value, options.value_format, options.unit).c_str());
    if (b.detail) ImGui::SameLine(), ImGui::TextDisabled("%s", b.detail);
    if (b.tooltip) ImGui::TextUnformatted(b.tooltip);
    ImGui::EndTooltip();
  }
  ChartPngMenu(id, origin, ImVec2(origin.x + width, origin.y + height));
  ImGui::PopID();
  return hovered_index;
}

int StackedBar(const char* id, std::span<const StackedSegment> segments, const StackedBarOptions& options) {
  ImGui::PushID(id);
  const float width = ResolveWidth(options.width);
  const float height = options.height > 0 ? options.height : ImGui::GetFrameHeight();
  const ImVec2 origin = ImGui::GetCursorScreenPos();
  ImGui::InvisibleButton("##stacked", ImVec2(width, height));
  const bool hovered = ImGui::IsItemHovered();
  ImDrawList* draw = ImGui::GetWindowDrawList();

  double total = 0;
  for (const StackedSegment& s : segments)
    if (std::isfinite(s.value) && s.value > 0) total += s.value;
  draw->AddRectFilled(origin, ImVec2(origin.x + width, origin.y + height), ImGui::GetColorU32(ImGuiCol_FrameBg), 3.0f);

  const float mouse_x = ImGui::GetIO().MousePos.x;
  int hovered_index = -1;
  float x = origin.x;
  for (size_t i = 0; i < segments.size() && total > 0 && std::isfinite(total); ++i) {
    const StackedSegment& s = segments[i];
    if (!(std::isfinite(s.value) && s.value > 0)) continue;
    const float w = static_cast<float>(s.value / total) * width;
    const ImVec2 a(x, origin.y), b(x + w, origin.y + height);
    const bool is_hovered = hovered && mouse_x >= a.x && mouse_x < b.x;
    if (is_hovered) hovered_index = static_cast<int>(i);
    const ImU32 color = s.color ? s.color : ClassColor(static_cast<int>(i));
    draw->AddRectFilled(a, b, is_hovered ? color : Darker(color, 0.85f));
    if (x > origin.x) draw->AddLine(ImVec2(x, a.y), ImVec2(x, b.y), IM_COL32(0, 0, 0, 120));  // segment divider
    const ImVec2 text = ImGui::CalcTextSize(s.label);
    if (text.x + kPad * 2 <= w && text.y <= height)
      draw->AddText(ImVec2(x + (w - text.x) * 0.5f, origin.y + (height - text.y) * 0.5f), IM_COL32(10, 10, 10, 255),
                    s.label);
    x += w;
  }
  draw->AddRect(origin, ImVec2(origin.x + width, origin.y + height), ImGui::GetColorU32(ImGuiCol_Border), 3.0f);

  if (hovered_index >= 0) {
    const StackedSegment& s = segments[hovered_index];
    ImGui::BeginTooltip();
    ImGui::TextUnformatted(s.label);
    ImGui::Text("%s", FormatValue(s.value, options.value_format, options.unit).c_str());
    ImGui::SameLine();
    ImGui::TextDisabled("%.1f%%", 100.0 * s.value / total);
    ImGui::EndTooltip();
  }
  ChartPngMenu(id, origin, ImVec2(origin.x + width, origin.y + height));
  ImGui::PopID();
  return hovered_index;
}

}  // namespace ts::ui
