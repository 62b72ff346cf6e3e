// NumberField: the one widget for a number the user sets, used wherever a
// value is typed or tuned (in place of ImGui's DragFloat / SliderInt, whose
// text entry needs a double click or Ctrl+click).
//
//   NumberField("noise", data.noise, 0.0f, 1.0f, {.format = "%.2f"});
//   NumberField("workgroup size", size, 1, 1024, {.logarithmic = true});
//
// What the user can do:
//   - click (press and release without moving): the field turns into a text
//     box with its text selected; type a number, Enter or a click elsewhere
//     applies it (clamped to [min, max]), Escape cancels;
//   - drag left / right: tunes the value (Shift: faster, Alt: slower);
//   - Tab into it: the text box too.
// A thin bar along the field's bottom shows where the value lies in its range.
//
// Returns true in each frame the value changed (while dragging, or when the
// typed text is applied); ImGui::IsItemDeactivatedAfterEdit() afterwards says
// the edit is finished.
#pragma once

#include <cstdint>

namespace ts::ui {

struct NumberFieldOptions {
  const char* format = nullptr;  // printf format; nullptr: "%d" for int, "%.3g" for float and double
  bool logarithmic = false;      // a drag changes the value by about 1% a pixel (for ranges over decades)
  float speed = 0.0f;            // value per pixel dragged; 0: DragSpeed's
  bool range_bar = true;         // the bar that shows the value's place in [min, max]
};

bool NumberField(const char* label, int& value, int min, int max, const NumberFieldOptions& options = {});
bool NumberField(const char* label, uint32_t& value, uint32_t min, uint32_t max, const NumberFieldOptions& options = {});
bool NumberField(const char* label, float& value, float min, float max, const NumberFieldOptions& options = {});
bool NumberField(const char* label, double& value, double min, double max, const NumberFieldOptions& options = {});

// The value a pixel of dragging adds: 1/300 of the range; logarithmic, 1% of
// the value, but at least a floor (integers: 1/3000 of the range, at least
// 0.05; floats: 1% of min, or 1e-5 of the range when min is 0).
float DragSpeed(double value, double min, double max, bool logarithmic, bool integer);

// Where `value` lies in [min, max] as 0..1 for the range bar (on a log10 scale
// when `logarithmic` and min > 0; clamped; 0 for an empty or invalid range).
float RangeFraction(double value, double min, double max, bool logarithmic);

}  // namespace ts::ui
