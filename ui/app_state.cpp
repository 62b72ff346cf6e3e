#include "ui/app_state.h"

#include <imgui.h>

namespace ts::ui {

void AppState::Notify(Notice::Level level, std::string text) {
  constexpr size_t kMaxNotices = 8;
  notices.push_back({level, std::move(text), ImGui::GetCurrentContext() ? ImGui::GetTime() : 0.0});
  while (notices.size() > kMaxNotices) notices.pop_front();
}

}  // namespace ts::ui
