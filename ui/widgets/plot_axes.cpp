// The plot's axes, shared with the other charts (heatmaps): ticks on linear
// and log axes, their labels, the grid, and the class colours.
#include <algorithm>
#include <cstdio>
#include <string>

#include "imgui_internal.h"  // ImTextCharFromUtf8, for vertical text
#include "ui/widgets/plot.h"
#include "ui/widgets/plot_internal.h"

namespace ts::ui {
namespace {

using namespace plot_internal;

// Colours for ImGui's default dark theme: light, quiet lines under bright data.
constexpr ImU32 kDataBackground = IM_COL32(255, 255, 255, 6);
constexpr ImU32 kDataBorder = IM_COL32(255, 255, 255, 45);
constexpr ImU32 kGridMajor = IM_COL32(255, 255, 255, 30);
constexpr ImU32 kGridMinor = IM_COL32(255, 255, 255, 12);


// The exponent of step's last significant digit: 0.25 -> -2, 500 -> 2, 1e20 -> 20.
int LastDigitExponent(double step) {
  step = std::abs(step);
  const int top = static_cast<int>(std::floor(std::log10(step)));
  for (int e = top; e > top - 15; --e) {
    const double scaled = step / std::pow(10.0, e);
    if (std::abs(scaled - std::round(scaled)) <= 1e-6 * scaled) return e;
  }
  return top - 15;
}

// Decimals that print a multiple of `step` exactly: 0.25 -> 2, 500 -> 0.
int DecimalsFor(double step) { return std::clamp(-LastDigitExponent(step), 0, 15); }

// "%.*f" without trailing zeros (and without "-0").
std::string FixedTrimmed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", std::clamp(decimals, 0, 15), v);
  std::string s = buf;
  if (s.find('.') != std::string::npos) {
    s.erase(s.find_last_not_of('0') + 1);
    if (s.back() == '.') s.pop_back();
  }
  if (s == "-0") s = "0";
  return s;
}

// Text drawn bottom-to-top, centred on `center` (for the y axis label).
void AddTextVertical(ImDrawList* draw, ImVec2 center, ImU32 color, const char* text) {
  ImFont* font = ImGui::GetFont();
  const float size = ImGui::GetFontSize();
  const float scale = size / font->FontSize;
  const ImVec2 extent = ImGui::CalcTextSize(text);
  float pen = center.x - extent.x * 0.5f;  // laid out horizontally, then each glyph quad is rotated
  const float top = center.y - size * 0.5f;
  for (const char* s = text; *s;) {
    unsigned int c = 0;
    s += ImTextCharFromUtf8(&c, s, nullptr);
    if (c == 0 || c > 0xFFFF) break;
    const int first = draw->VtxBuffer.Size;
    font->RenderChar(draw, size, ImVec2(pen, top), color, static_cast<ImWchar>(c));
    for (int i = first; i < draw->VtxBuffer.Size; ++i) {  // rotate 90 degrees counter-clockwise
      ImVec2& p = draw->VtxBuffer[i].pos;
      const float dx = p.x - center.x, dy = p.y - center.y;
      p = ImVec2(center.x + dy, center.y - dx);
    }
    pen += font->GetCharAdvance(static_cast<ImWchar>(c)) * scale;
  }
}

// Ticks of one axis: at most max_count labelled ones.
struct AxisTicks {
  std::vector<double> major, minor;
  double label_step = 0;
};

AxisTicks ComputeTicks(const PlotAxis& axis, int max_count) {
  if (axis.log) {
    LogTickSet t = LogTicks(axis.min, axis.max, max_count);
    return {std::move(t.major), std::move(t.minor), t.label_step};
  }
  TickSet t = NiceTicks(axis.min, axis.max, max_count);
  return {std::move(t.values), {}, t.step};
}

// Y ticks: a line of text each, with room between.
AxisTicks YTicks(const PlotAxis& axis, float pixels) {
  return ComputeTicks(axis, std::max(2, static_cast<int>(pixels / (ImGui::GetFontSize() * 2.2f))));
}

// X ticks: as many as fit side by side with their labels ("1.5k" is narrower than "0.0025").
AxisTicks XTicks(const PlotAxis& axis, float pixels) {
  const float gap = ImGui::GetFontSize() * 3.0f;
  for (int max_count = std::max(2, static_cast<int>(pixels / (ImGui::GetFontSize() * 2.5f)));;
       max_count = max_count * 2 / 3) {
    AxisTicks ticks = ComputeTicks(axis, max_count);
    float widest = 0;
    for (double v : ticks.major)
      widest = std::max(widest, ImGui::CalcTextSize(FormatTick(v, ticks.label_step).c_str()).x);
    if (max_count <= 2 || static_cast<float>(ticks.major.size()) * (widest + gap) <= pixels) return ticks;
  }
}

}  // namespace

ImU32 ClassColor(int index) {
  static constexpr ImU32 kTableau10[] = {IM_COL32(78, 121, 167, 255),  IM_COL32(242, 142, 43, 255),
                                         IM_COL32(225, 87, 89, 255),   IM_COL32(118, 183, 178, 255),
                                         IM_COL32(89, 161, 79, 255),   IM_COL32(237, 201, 72, 255),
                                         IM_COL32(176, 122, 161, 255), IM_COL32(255, 157, 167, 255),
                                         IM_COL32(156, 117, 95, 255),  IM_COL32(186, 176, 172, 255)};
  constexpr int n = static_cast<int>(std::size(kTableau10));
  return kTableau10[((index % n) + n) % n];
}

void ColorSwatch(ImU32 color) {
  const float side = ImGui::GetTextLineHeight();
  ImGui::ColorButton("##swatch", ImGui::ColorConvertU32ToFloat4(color),
                     ImGuiColorEditFlags_NoTooltip | ImGuiColorEditFlags_NoDragDrop | ImGuiColorEditFlags_NoBorder,
                     ImVec2(side, side));
  ImGui::SameLine();
}

double PlotAxis::ToUnit(double v) const {
  const double t0 = Transform(min), t1 = Transform(max);
  return (Transform(v) - t0) / (t1 - t0);
}

double PlotAxis::FromUnit(double u) const {
  const double t0 = Transform(min), t1 = Transform(max);
  return Inverse(t0 + (t1 - t0) * u);
}

TickSet NiceTicks(double min, double max, int max_count) {
  TickSet ticks;
  if (!std::isfinite(min) || !std::isfinite(max)) return ticks;
  if (min > max) std::swap(min, max);
  max_count = std::max(max_count, 1);
  const double span = max - min;
  if (!std::isfinite(span)) return ticks;
  if (span <= std::max(std::abs(min), std::abs(max)) * 1e-14) {  // zero width (to double precision)
    ticks.values.push_back(min);
    ticks.step = min != 0 ? std::pow(10.0, std::floor(std::log10(std::abs(min)))) : 1.0;
    return ticks;
  }
  const double magnitude = std::pow(10.0, std::floor(std::log10(span / max_count)));
  double first = 0, last = -1;
  for (double m : {1.0, 2.0, 5.0, 10.0, 20.0, 50.0}) {  // the smallest 1-2-5 step that fits
    ticks.step = m * magnitude;
    // Tolerances keep a tick that sits on an end despite rounding in min/step.
    first = std::ceil(min / ticks.step - 1e-9);
    last = std::floor(max / ticks.step + 1e-9);
    if (last - first + 1 <= max_count) break;
  }
  for (double k = first; k <= last; k += 1) {
    const double v = std::clamp(k * ticks.step, min, max);
    if (ticks.values.empty() || v > ticks.values.back()) ticks.values.push_back(v);  // precision guard
  }
  return ticks;
}

LogTickSet LogTicks(double min, double max, int max_count) {
  LogTickSet ticks;
  if (!(min > 0) || !(max > 0) || !std::isfinite(min) || !std::isfinite(max)) return ticks;
  if (min > max) std::swap(min, max);
  max_count = std::max(max_count, 1);
  const double lo = std::log10(min), hi = std::log10(max);
  if (hi - lo < 0.5) {  // well under a decade: a linear axis reads better
    TickSet linear = NiceTicks(min, max, max_count);
    ticks.major = std::move(linear.values);
    ticks.label_step = linear.step;
    return ticks;
  }
  const int d0 = static_cast<int>(std::floor(lo)), d1 = static_cast<int>(std::ceil(hi));
  const auto in_range = [&](double v) { return v >= min * (1 - 1e-12) && v <= max * (1 + 1e-12); };
  // Label 1..9, or 1, 2 and 5, or 1 times each power of ten: the densest that fits.
  for (unsigned labelled : {0b1111111110u, 0b100110u, 0b10u}) {  // bit m: label m * 10^d
    if (d1 - d0 - 1 > max_count) break;                          // even the decades alone would not fit
    ticks.major.clear();
    ticks.minor.clear();
    for (int d = d0; d <= d1; ++d)
      for (int m = 1; m <= 9; ++m)
        if (const double v = m * std::pow(10.0, d); in_range(v))
          ((labelled >> m) & 1 ? ticks.major : ticks.minor).push_back(v);
    if (static_cast<int>(ticks.major.size()) <= max_count) {
      if (static_cast<int>(ticks.minor.size()) > 4 * max_count) ticks.minor.clear();  // too dense for a grid
      return ticks;
    }
  }
  // Many decades: label every k-th; the others are grid lines.
  for (int every : {2, 5, 10, 20, 50, 100}) {
    ticks.major.clear();
    ticks.minor.clear();
    for (int d = d0; d <= d1; ++d)
      if (const double v = std::pow(10.0, d); in_range(v)) (d % every == 0 ? ticks.major : ticks.minor).push_back(v);
    if (static_cast<int>(ticks.major.size()) <= max_count) break;
  }
  return ticks;
}

std::string FormatTick(double value, double step) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  step = std::abs(step);
  const double a = std::abs(value);
  if (a == 0 || (step > 0 && a < step * 1e-6)) return "0";
  const bool tiny_step = step > 0 && step < 1e-3;
  if (a >= 1e3 && a < 1e15 && !tiny_step) {  // 1.5k, 20M, 3G, 1T
    static constexpr const char* kSuffix[] = {"", "k", "M", "G", "T"};
    int group = std::clamp(static_cast<int>(std::floor(std::log10(a) / 3)), 1, 4);
    double unit = std::pow(1000.0, group);
    int decimals =
        step > 0 ? DecimalsFor(step / unit) : std::max(0, 2 - static_cast<int>(std::floor(std::log10(a / unit))));
    std::string s = FixedTrimmed(value / unit, decimals);
    if (std::abs(std::stod(s)) >= 1000 && group < 4) {  // 999.96k rounds up to the next suffix
      ++group;
      unit *= 1000;
      s = FixedTrimmed(value / unit, std::max(0, decimals - 3));
    }
    return s + kSuffix[group];
  }
  if (a < 1e-3 || a >= 1e15 || tiny_step) {  // 2.5e-3
    int exponent = static_cast<int>(std::floor(std::log10(a)));
    // Mantissa digits down to the step's last significant digit.
    const int decimals = step > 0 ? std::clamp(exponent - LastDigitExponent(step), 0, 15) : 2;
    double mantissa = value / std::pow(10.0, exponent);
    std::string s = FixedTrimmed(mantissa, decimals);
    if (std::abs(std::stod(s)) >= 10) s = FixedTrimmed(mantissa / 10, decimals), ++exponent;
    return s + "e" + std::to_string(exponent);
  }
  const int decimals = step > 0 ? DecimalsFor(step) : std::max(0, 2 - static_cast<int>(std::floor(std::log10(a))));
  return FixedTrimmed(value, decimals);
}

// --- Axes ----------------------------------------------------------------------------------------

ImVec2 AxesMargins(const PlotAxis& y, float data_height, bool has_x_label, bool has_y_label) {
  const float font = ImGui::GetFontSize();
  const AxisTicks ticks = YTicks(y, data_height);
  float label_width = 0;
  for (double v : ticks.major)
    label_width = std::max(label_width, ImGui::CalcTextSize(FormatTick(v, ticks.label_step).c_str()).x);
  return ImVec2(label_width + kTickLength + kPad * 2 + (has_y_label ? font + kPad : 0),
                font + kTickLength + kPad + (has_x_label ? font + kPad : 0));
}

void DrawAxes(ImDrawList* draw, ImVec2 data_min, ImVec2 data_max, const PlotAxis& x, const PlotAxis& y,
              const char* x_label, const char* y_label) {
  const float font = ImGui::GetFontSize();
  const ScreenMap map{x, y, data_min, data_max};
  const ImU32 label_color = TextColor(0.75f);
  draw->AddRectFilled(data_min, data_max, kDataBackground);

  // Grid lines for every tick; tick marks and labels for the major ones.
  const AxisTicks xt = XTicks(x, data_max.x - data_min.x), yt = YTicks(y, data_max.y - data_min.y);
  const auto pixel_x = [&](double v) { return std::round(map.X(v)) + 0.5f; };  // crisp 1 px lines
  const auto pixel_y = [&](double v) { return std::round(map.Y(v)) + 0.5f; };
  for (double v : xt.minor) draw->AddLine(ImVec2(pixel_x(v), data_min.y), ImVec2(pixel_x(v), data_max.y), kGridMinor);
  for (double v : yt.minor) draw->AddLine(ImVec2(data_min.x, pixel_y(v)), ImVec2(data_max.x, pixel_y(v)), kGridMinor);
  for (double v : xt.major) {
    const float px = pixel_x(v);
    draw->AddLine(ImVec2(px, data_min.y), ImVec2(px, data_max.y + kTickLength), kGridMajor);
    const std::string text = FormatTick(v, xt.label_step);
    const float w = ImGui::CalcTextSize(text.c_str()).x;
    const float left = std::min(px - w * 0.5f, data_max.x + font - w);  // keep the last label inside
    draw->AddText(ImVec2(left, data_max.y + kTickLength + 1), label_color, text.c_str());
  }
  float widest = 0;
  for (double v : yt.major) {
    const float py = pixel_y(v);
    draw->AddLine(ImVec2(data_min.x - kTickLength, py), ImVec2(data_max.x, py), kGridMajor);
    const std::string text = FormatTick(v, yt.label_step);
    const ImVec2 size = ImGui::CalcTextSize(text.c_str());
    widest = std::max(widest, size.x);
    draw->AddText(ImVec2(data_min.x - kTickLength - kPad - size.x, py - size.y * 0.5f), label_color, text.c_str());
  }
  draw->AddRect(data_min, data_max, kDataBorder);

  if (x_label && *x_label) {
    const float w = ImGui::CalcTextSize(x_label).x;
    draw->AddText(ImVec2((data_min.x + data_max.x - w) * 0.5f, data_max.y + kTickLength + font + kPad), label_color,
                  x_label);
  }
  if (y_label && *y_label) {
    const float cx = data_min.x - kTickLength - kPad * 2 - widest - font * 0.5f;
    AddTextVertical(draw, ImVec2(cx, (data_min.y + data_max.y) * 0.5f), label_color, y_label);
  }
}
}  // namespace ts::ui
