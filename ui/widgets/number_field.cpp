#include "ui/widgets/number_field.h"

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "imgui.h"

namespace ts::ui {
namespace {

template <class T>
bool Field(const char* label, ImGuiDataType type, T& value, T min, T max, const NumberFieldOptions& options,
           const char* default_format) {
  if (max < min) std::swap(min, max);
  ImGuiIO& io = ImGui::GetIO();
  // ImGui turns a drag field into its text box on a click without movement only
  // with this option; it is read while the field is drawn, so it is set for this
  // field alone and the app's setting is left as it was.
  const bool click_types = io.ConfigDragClickToInputText;
  io.ConfigDragClickToInputText = true;
  const float speed = options.speed > 0 ? options.speed : DragSpeed(double(value), double(min), double(max),
                                                                    options.logarithmic, std::is_integral_v<T>);
  // Not ImGuiSliderFlags_Logarithmic: with a "%e" format ImGui 1.86 takes its
  // zero epsilon as 10, which pins every value under 10 to the range's ends.
  const ImGuiSliderFlags flags = ImGuiSliderFlags_AlwaysClamp;  // typed values are clamped too
  const ImVec2 corner = ImGui::GetCursorScreenPos();
  const float width = ImGui::CalcItemWidth();  // before the field takes SetNextItemWidth's value
  const bool changed =
      ImGui::DragScalar(label, type, &value, speed, &min, &max, options.format ? options.format : default_format, flags);
  io.ConfigDragClickToInputText = click_types;
  if (options.range_bar && !ImGui::IsItemActive() && ImGui::IsItemVisible()) {
    const float fraction = RangeFraction(double(value), double(min), double(max), options.logarithmic);
    const float bottom = corner.y + ImGui::GetFrameHeight() - 1.0f;
    const float thickness = std::max(2.0f, std::round(ImGui::GetFontSize() * 0.13f));
    ImGui::GetWindowDrawList()->AddRectFilled(ImVec2(corner.x + 1, bottom - thickness),
                                              ImVec2(corner.x + 1 + fraction * std::max(0.0f, width - 2), bottom),
                                              ImGui::GetColorU32(ImGuiCol_SliderGrab, 0.8f));
  }
  return changed;
}

}  // namespace

float DragSpeed(double value, double min, double max, bool logarithmic, bool integer) {
  const double span = std::isfinite(max - min) ? max - min : 0.0;
  if (!logarithmic) return static_cast<float>(span / 300);
  // About 1% of the value a pixel, so a drag multiplies; near 0 a floor keeps it moving.
  const double floor = integer ? std::max(0.05, span / 3000) : (min > 0 ? min * 0.01 : span * 1e-5);
  return static_cast<float>(std::max(std::abs(value) * 0.01, floor));
}

float RangeFraction(double value, double min, double max, bool logarithmic) {
  if (!(std::isfinite(value) && std::isfinite(min) && std::isfinite(max)) || !(max > min)) return 0.0f;
  double fraction = 0;
  if (logarithmic && min > 0)
    fraction = (std::log10(std::max(value, min)) - std::log10(min)) / (std::log10(max) - std::log10(min));
  else
    fraction = (value - min) / (max - min);
  return static_cast<float>(std::clamp(fraction, 0.0, 1.0));
}

bool NumberField(const char* label, int& value, int min, int max, const NumberFieldOptions& options) {
  return Field(label, ImGuiDataType_S32, value, min, max, options, "%d");
}

bool NumberField(const char* label, uint32_t& value, uint32_t min, uint32_t max, const NumberFieldOptions& options) {
  return Field(label, ImGuiDataType_U32, value, min, max, options, "%u");
}

bool NumberField(const char* label, float& value, float min, float max, const NumberFieldOptions& options) {
  return Field(label, ImGuiDataType_Float, value, min, max, options, "%.3g");
}

bool NumberField(const char* label, double& value, double min, double max, const NumberFieldOptions& options) {
  return Field(label, ImGuiDataType_Double, value, min, max, options, "%.3g");
}

}  // namespace ts::ui
