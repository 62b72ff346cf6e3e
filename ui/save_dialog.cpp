#include "ui/save_dialog.h"

#include <filesystem>

#include <imgui.h>
#include <imgui_stdlib.h>

#include "compute/common/error.h"
#include "ui/panel_layout.h"
#include "ui/test_hooks.h"

namespace ts::ui {

void DrawSaveDialog(const char* id, const char* prompt, SaveDialog& dialog,
                    const std::function<void(const std::string& path)>& save, const std::string& rect_prefix) {
  if (!ImGui::BeginPopupModal(id, nullptr, ImGuiWindowFlags_AlwaysAutoResize)) return;
  ImGui::TextUnformatted(prompt);
  ImGui::SetNextItemWidth(Scaled(480));
  if (ImGui::IsWindowAppearing()) ImGui::SetKeyboardFocusHere();
  bool submit = ImGui::InputText("##save_path", &dialog.path, ImGuiInputTextFlags_EnterReturnsTrue);
  RecordItemRect(rect_prefix + "_path");
  submit |= ImGui::Button("Save");
  RecordItemRect(rect_prefix + "_ok");
  ImGui::SameLine();
  if (ImGui::Button("Cancel") || ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_Escape))) {
    dialog.error.clear();
    ImGui::CloseCurrentPopup();
  } else if (submit) {
    try {
      if (dialog.path.empty()) throw Error("Type a path first.");
      save(dialog.path);
      dialog.error.clear();
      ImGui::CloseCurrentPopup();
    } catch (const Error& e) {
      dialog.error = e.what();
    }
  }
  RecordText(rect_prefix + "_error", dialog.error);
  if (!dialog.error.empty()) {
    ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + Scaled(480));
    ImGui::TextColored(ImVec4(1.0f, 0.42f, 0.38f, 1.0f), "%s", dialog.error.c_str());
    ImGui::PopTextWrapPos();
  }
  ImGui::EndPopup();
}

std::string PathInWorkingFolder(const std::string& file_name) {
  std::error_code error;
  return (std::filesystem::current_path(error) / file_name).string();
}

}  // namespace ts::ui
