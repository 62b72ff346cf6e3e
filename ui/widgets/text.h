// Small text helpers shared by the panels.
#pragma once

namespace ts::ui {

// A separator with a heading (ImGui 1.86 has no SeparatorText).
void SeparatorText(const char* text);

// Wrapped text in the muted (disabled) colour: explanations and hints.
void Muted(const char* text);

// A muted "(?)" on the same line as the last item, showing `text` wrapped in a tooltip when hovered.
void HelpMarker(const char* text);

}  // namespace ts::ui
