#include "ui/panel_layout.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "imgui.h"
#include "imgui_internal.h"  // FindWindowByName, the settings handler
#include "ui/test_hooks.h"

namespace ts::ui {
namespace {

// The windows placed here, by ImGui name. The Model and Inside windows'
// titles change (the project name, a long title), so they go by their ### id.
constexpr const char* kModel = "###Model";
constexpr const char* kData = "Data";
constexpr const char* kTraining = "Training";
constexpr const char* kGpu = "GPU";
constexpr const char* kInside = "###Inside";
constexpr const char* kInsight = "GPU insight";
constexpr const char* kAllWindows[] = {kModel, kData, kTraining, kGpu, kInside, kInsight};

struct LayoutState {
  ImVec2 placed_for{0, 0};             // the display size the panels were last placed for (kept in imgui.ini)
  std::set<std::string> pending;       // windows to place again for a new display size once they exist
  LayoutRect uncovered;                // marked by KeepUncovered...
  int uncovered_frame = -10;           // ...in this frame
};
LayoutState g_layout;

ImGuiWindow* Find(const char* name) { return ImGui::FindWindowByName(name); }

LayoutRect RectOf(const ImGuiWindow* window) {
  return {window->Pos.x, window->Pos.y, window->Size.x, window->Size.y};
}

// What the floating windows must leave uncovered, as of last frame: the marked
// area, else the Training panel's control row (recorded for the GUI tests).
LayoutRect Uncovered() {
  if (ImGui::GetFrameCount() - g_layout.uncovered_frame <= 1) return g_layout.uncovered;
  const ImGuiWindow* training = Find(kTraining);
  const auto& rects = RecordedItemRects();
  const auto stop = rects.find("stop");
  if (!training || !training->WasActive || training->Collapsed || stop == rects.end()) return {};
  const float bottom = stop->second[3] + ImGui::GetStyle().ItemSpacing.y;
  return {training->Pos.x, training->Pos.y, training->Size.x, std::max(0.0f, bottom - training->Pos.y)};
}

void Place(const char* name, const LayoutRect& rect, ImGuiCond cond) {
  ImGui::SetWindowPos(name, ImVec2(rect.x, rect.y), cond);
  ImGui::SetWindowSize(name, ImVec2(rect.width, rect.height), cond);
}

}  // namespace

bool LayoutRect::Contains(const LayoutRect& other) const {
  constexpr float kSlack = 0.5f;  // window positions are floored to whole pixels
  return other.x >= x - kSlack && other.y >= y - kSlack && other.right() <= right() + kSlack &&
         other.bottom() <= bottom() + kSlack;
}

bool LayoutRect::Overlaps(const LayoutRect& other) const {
  return other.x < right() && x < other.right() && other.y < bottom() && y < other.bottom();
}

PanelLayout DefaultLayout(float width, float height, float bar, float em, float uncovered_bottom) {
  // Columns: shares of the width, but never so narrow that a panel's controls
  // are cut; the centre (the curves) gives way last.
  float left = std::max(0.30f * width, 24 * em), right = std::max(0.24f * width, 21 * em);
  const float least_centre = 34 * em;
  if (width - left - right < least_centre) {
    const float share = std::max(0.0f, width - least_centre) / (left + right);
    left *= share, right *= share;
  }
  left = std::round(left), right = std::round(right);  // ImGui floors window places: whole pixels leave no gaps
  const float centre = width - left - right;
  // The Data panel is tall enough for its controls; the Model panel gets the rest.
  const float data = std::round(std::min(height * 0.5f, std::max(height * 0.36f, 18 * em + bar)));
  PanelLayout layout;
  layout.model = {0, 0, left, height - data};
  layout.data = {0, height - data, left, data};
  layout.training = {left, 0, centre, height - bar};
  layout.gpu = {left + centre, 0, right, height - bar};
  layout.inside_bar = {left, height - bar, centre + right, bar};
  // The floating windows start below the Training panel's controls.
  const float top = std::clamp(uncovered_bottom > 0 ? uncovered_bottom : height * 0.3f, 0.0f, height * 0.6f);
  const float inside = std::round(std::min(height * 0.62f, height - top));
  layout.inside_open = {left, height - inside, centre + right, inside};
  const float reach = 0.06f * width;  // a little into the left column: the kernel table is wide
  const float insight_x = std::max(0.0f, std::round(left - reach));
  layout.insight = {insight_x, top, left + centre + right * 0.7f - insight_x, height - bar - top};
  return layout;
}

LayoutRect KeepBelow(const LayoutRect& window, const LayoutRect& uncovered, float height, float least_height) {
  if (!window.Overlaps(uncovered)) return window;
  LayoutRect moved = window;
  moved.y = uncovered.bottom();
  moved.height = std::max(std::min(window.height, height - moved.y), std::min(least_height, window.height));
  return moved;
}

float Scaled(float pixels) { return pixels * ImGui::GetFontSize() / 15.0f; }

void InstallLayoutSettings() {
  ImGuiSettingsHandler handler;
  handler.TypeName = "Tensorscope";
  handler.TypeHash = ImHashStr("Tensorscope");
  handler.ReadOpenFn = [](ImGuiContext*, ImGuiSettingsHandler*, const char* name) -> void* {
    return std::strcmp(name, "Layout") == 0 ? &g_layout : nullptr;
  };
  handler.ReadLineFn = [](ImGuiContext*, ImGuiSettingsHandler*, void*, const char* line) {
    float width = 0, height = 0;
    if (std::sscanf(line, "PlacedFor=%f,%f", &width, &height) == 2) g_layout.placed_for = ImVec2(width, height);
  };
  handler.WriteAllFn = [](ImGuiContext*, ImGuiSettingsHandler* self, ImGuiTextBuffer* out) {
    if (g_layout.placed_for.x <= 0) return;
    out->appendf("[%s][Layout]\nPlacedFor=%.0f,%.0f\n\n", self->TypeName, g_layout.placed_for.x, g_layout.placed_for.y);
  };
  g_layout = {};
  ImGui::GetCurrentContext()->SettingsHandlers.push_back(handler);
}

void PlacePanels() {
  const ImVec2 display = ImGui::GetIO().DisplaySize;
  if (display.x <= 0 || display.y <= 0) return;  // minimised
  const LayoutRect uncovered = Uncovered();
  const PanelLayout layout =
      DefaultLayout(display.x, display.y, ImGui::GetFrameHeight(), ImGui::GetFontSize(), uncovered.bottom());
  if (display.x != g_layout.placed_for.x || display.y != g_layout.placed_for.y) {
    // A new display size: every panel goes to its place for it, once it exists.
    g_layout.placed_for = display;
    g_layout.pending = {std::begin(kAllWindows), std::end(kAllWindows)};
    ImGui::MarkIniSettingsDirty();
  }
  for (const char* name : kAllWindows) {
    // Until then (and without a remembered place), on first use only: where the user moves them, they stay.
    ImGuiCond cond = ImGuiCond_FirstUseEver;
    if (g_layout.pending.count(name) && Find(name)) cond = ImGuiCond_Always, g_layout.pending.erase(name);
    if (name == kInside) ImGui::SetWindowCollapsed(kInside, true, ImGuiCond_FirstUseEver);  // a bar until opened
    const ImGuiWindow* window = Find(name);
    const bool inside_open = name == kInside && window && !window->Collapsed;
    const LayoutRect& rect = name == kModel     ? layout.model
                             : name == kData    ? layout.data
                             : name == kTraining ? layout.training
                             : name == kGpu     ? layout.gpu
                             : name == kInsight ? layout.insight
                             : inside_open      ? layout.inside_open
                                                : layout.inside_bar;
    if (name == kInside) {
      // Collapsed, it is as tall as its title bar; the size is what it opens to.
      ImGui::SetWindowPos(kInside, ImVec2(rect.x, rect.y), cond);
      ImGui::SetWindowSize(kInside, ImVec2(layout.inside_open.width, layout.inside_open.height), cond);
    } else {
      Place(name, rect, cond);
    }
    // For the GUI tests: where each panel is (last frame's place, as drawn),
    // the area inside its padding and scroll bars, and how far its content reached.
    if (window && window->WasActive) {
      const std::string title = name[0] == '#' ? name + 3 : name;
      const LayoutRect r = RectOf(window);
      RecordRect("window " + title, r.x, r.y, r.right(), r.bottom());
      const ImRect inner = window->InnerClipRect;
      RecordRect("inner " + title, inner.Min.x, inner.Min.y, inner.Max.x, inner.Max.y);
      const ImVec2 start(window->Pos.x + window->WindowPadding.x, inner.Min.y);
      RecordRect("content " + title, start.x, start.y, start.x + window->ContentSize.x, start.y + window->ContentSize.y);
    }
  }
}

void KeepUncovered() {
  const ImVec2 pos = ImGui::GetWindowPos(), size = ImGui::GetWindowSize();
  const float bottom = ImGui::GetItemRectMax().y + ImGui::GetStyle().ItemSpacing.y;
  g_layout.uncovered = {pos.x, pos.y, size.x, std::max(0.0f, bottom - pos.y)};
  g_layout.uncovered_frame = ImGui::GetFrameCount();
}

void KeepPanelsBehindFloatingWindows() {
  std::vector<const ImGuiWindow*> panels;
  for (const char* name : {kModel, kData, kTraining, kGpu})
    if (const ImGuiWindow* window = Find(name)) panels.push_back(window);
  // Each panel with its child windows (ImGui::EndFrame has sorted children right
  // after their window; the next frame finds the hovered window in this order),
  // moved to the back; everything else keeps its order.
  ImVector<ImGuiWindow*>& windows = ImGui::GetCurrentContext()->Windows;
  std::stable_partition(windows.begin(), windows.end(), [&](const ImGuiWindow* window) {
    return std::find(panels.begin(), panels.end(), window->RootWindow) != panels.end();
  });
}

void StayClearOfControls() {
  if (ImGui::IsWindowCollapsed()) return;
  const ImVec2 pos = ImGui::GetWindowPos(), size = ImGui::GetWindowSize();
  const LayoutRect window{pos.x, pos.y, size.x, size.y};
  const LayoutRect moved =
      KeepBelow(window, Uncovered(), ImGui::GetIO().DisplaySize.y, 8 * ImGui::GetFrameHeightWithSpacing());
  if (moved.y != window.y) ImGui::SetWindowPos(ImVec2(moved.x, moved.y));
  if (moved.height != window.height) ImGui::SetWindowSize(ImVec2(moved.width, moved.height));
}

}  // namespace ts::ui
