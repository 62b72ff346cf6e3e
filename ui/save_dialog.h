// The window's "save to a file" dialog: a modal with a prompt, the path
// (prefilled), Save and Cancel, and the last error under them. Used by the
// charts' Save as PNG... and the Training panel's Metrics CSV....
#pragma once

#include <functional>
#include <string>

namespace ts::ui {

struct SaveDialog {
  std::string path;   // as typed
  std::string error;  // the last refusal ("" when none)
};

// Call every frame after ImGui::OpenPopup(id), in the same ID scope. `save`
// runs on Save (or Enter) with the path; a ts::Error it throws is shown and
// the dialog stays open; otherwise it closes. `rect_prefix` names the path
// field and the Save button for the GUI tests ("<prefix>_path", "<prefix>_ok").
void DrawSaveDialog(const char* id, const char* prompt, SaveDialog& dialog,
                    const std::function<void(const std::string& path)>& save, const std::string& rect_prefix);

// `file_name` in the working folder (where a person launched the app from).
std::string PathInWorkingFolder(const std::string& file_name);

}  // namespace ts::ui
