#include "ui/test_hooks.h"

#include "imgui.h"

namespace ts::ui {
namespace {

std::map<std::string, std::array<float, 4>>& Rects() {
  static std::map<std::string, std::array<float, 4>> rects;  // UI thread only
  return rects;
}

}  // namespace

void RecordItemRect(const std::string& name) {
  ImVec2 min = ImGui::GetItemRectMin(), max = ImGui::GetItemRectMax();
  Rects()[name] = {min.x, min.y, max.x, max.y};
}

const std::map<std::string, std::array<float, 4>>& RecordedItemRects() { return Rects(); }

}  // namespace ts::ui
