// UI state that lives as long as one ImGui context: a dialog's fields, a menu's
// choice. A new window (or a test's new context) starts from State{} again.
#pragma once

#include "imgui.h"

namespace ts::ui {

template <class State>
State& PerImGuiContext() {
  static ImGuiContext* context = nullptr;
  static State state;
  if (context != ImGui::GetCurrentContext()) {
    state = State{};
    context = ImGui::GetCurrentContext();
  }
  return state;
}

}  // namespace ts::ui
