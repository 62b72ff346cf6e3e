#include "ui/widgets/chart_png.h"

#include <algorithm>

#include "compute/common/file_write.h"
#include "ui/per_context.h"
#include "ui/save_dialog.h"
#include "ui/test_hooks.h"

namespace ts::ui {
namespace {

// The menu's dialog and the capture asked for.
struct ChartUi {
  ImGuiID dialog_chart = 0;  // the chart whose dialog is open
  SaveDialog dialog;
  struct Pending {
    ImGuiID chart = 0;
    std::string name, path;
    int asked_in_frame = 0;
    int drawn_in_frame = -1;
    ImVec2 min{0, 0}, max{0, 0};
  };
  std::optional<Pending> pending;
};

ChartUi& Ui() { return PerImGuiContext<ChartUi>(); }

std::string FileNameFor(const char* name) {
  std::string file = name;
  std::replace(file.begin(), file.end(), ' ', '-');
  std::replace(file.begin(), file.end(), '/', '-');
  return file + ".png";
}

}  // namespace

void ChartPngMenu(const char* name, ImVec2 min, ImVec2 max) {
  ChartUi& ui = Ui();
  ImGui::PushID(name);
  const ImGuiID chart = ImGui::GetID("chart png");
  RecordRect(std::string("chart ") + name, min.x, min.y, max.x, max.y);
  if (ui.pending && ui.pending->chart == chart) {
    // What is visible of it: the window (or child) clips a chart scrolled partly out of view.
    ImDrawList* draw = ImGui::GetWindowDrawList();
    const ImVec2 clip_min = draw->GetClipRectMin(), clip_max = draw->GetClipRectMax();
    ui.pending->min = ImVec2(std::max(min.x, clip_min.x), std::max(min.y, clip_min.y));
    ui.pending->max = ImVec2(std::min(max.x, clip_max.x), std::min(max.y, clip_max.y));
    ui.pending->drawn_in_frame = ImGui::GetFrameCount();
  }
  if (ImGui::IsWindowHovered(ImGuiHoveredFlags_AllowWhenBlockedByActiveItem) && ImGui::IsMouseHoveringRect(min, max) &&
      ImGui::IsMouseReleased(ImGuiMouseButton_Right))
    ImGui::OpenPopup("chart menu");
  bool open_dialog = false;
  if (ImGui::BeginPopup("chart menu")) {
    if (ImGui::MenuItem("Save as PNG...")) open_dialog = true;
    RecordItemRect(std::string("chart_save_png ") + name);
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("The chart as shown here, as a PNG file.");
    ImGui::EndPopup();
  }
  const char* dialog_id = "Save the chart as PNG";
  if (open_dialog) {
    ui.dialog_chart = chart;
    ui.dialog = {PathInWorkingFolder(FileNameFor(name)), ""};
    ImGui::OpenPopup(dialog_id);
  }
  if (ui.dialog_chart == chart) {
    const std::string prompt = std::string("Save the chart '") + name + "' as a PNG file (as the window shows it):";
    DrawSaveDialog(dialog_id, prompt.c_str(), ui.dialog, [&](const std::string& path) {
      CheckOutputDestination("PNG", path);
      ui.pending = ChartUi::Pending{chart, name, path, ImGui::GetFrameCount()};
    }, "chart_png");
  }
  ImGui::PopID();
}

void ChartPngMenu(const char* name) { ChartPngMenu(name, ImGui::GetItemRectMin(), ImGui::GetItemRectMax()); }

bool ChartCaptureDue() { return Ui().pending.has_value(); }

std::optional<ChartCapture> TakeChartCapture() {
  ChartUi& ui = Ui();
  // The frame the dialog closed in still shows it: the next one is saved.
  if (!ui.pending || ImGui::GetFrameCount() <= ui.pending->asked_in_frame) return std::nullopt;
  const ChartUi::Pending pending = *ui.pending;
  ui.pending.reset();
  const bool drawn = pending.drawn_in_frame == ImGui::GetFrameCount() && pending.max.x > pending.min.x &&
                     pending.max.y > pending.min.y;
  return ChartCapture{pending.name, pending.path, drawn, pending.min, pending.max};
}

}  // namespace ts::ui
