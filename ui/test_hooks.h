// Where key widgets were drawn in the last frame, by name, so GUI tests (and
// guided tours) can drive the real window with real input events: a panel
// calls RecordItemRect("train") right after drawing its Train button, and the
// app's --test-log writes the rectangles out.
#pragma once

#include <array>
#include <map>
#include <string>

namespace ts::ui {

// Records the screen rectangle of the last ImGui item under `name`.
void RecordItemRect(const std::string& name);

// Records a rectangle given in screen coordinates (e.g. a whole window's) under `name`.
void RecordRect(const std::string& name, float min_x, float min_y, float max_x, float max_y);

// Every rectangle recorded so far: name -> {min x, min y, max x, max y}.
const std::map<std::string, std::array<float, 4>>& RecordedItemRects();

// Records a message a dialog shows under `name` (e.g. its error, "" when none),
// so a GUI test can read what a person reads there.
void RecordText(const std::string& name, const std::string& text);
const std::map<std::string, std::string>& RecordedTexts();

}  // namespace ts::ui
