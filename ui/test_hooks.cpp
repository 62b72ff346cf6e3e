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

void RecordRect(const std::string& name, float min_x, float min_y, float max_x, float max_y) {
  Rects()[name] = {min_x, min_y, max_x, max_y};
}

const std::map<std::string, std::array<float, 4>>& RecordedItemRects() { return Rects(); }

static std::map<std::string, std::string>& Texts() {
  static std::map<std::string, std::string> texts;  // UI thread only
  return texts;
}

void RecordText(const std::string& name, const std::string& text) { Texts()[name] = text; }

const std::map<std::string, std::string>& RecordedTexts() { return Texts(); }

}  // namespace ts::ui
