// Save as PNG... in every chart's context menu (a right-click on the chart):
// the chart exactly as the window shows it, drawn by the same widget code and
// read back from the window's own frame (Renderer::SaveRegion), saved atomically.
//
// The picture comes from the frame after the dialog closed (no menu or dialog
// over the chart), built without the mouse (Renderer::BeginFrame(true)) so no
// hover read-out or tooltip is in it. The app's loop asks ChartCaptureDue()
// before a frame and TakeChartCapture() after it.
#pragma once

#include <optional>
#include <string>

#include "imgui.h"

namespace ts::ui {

// Call right after drawing a chart that covers [min, max] (screen
// coordinates), in the chart's ID scope. `name` ("loss", "roofline") names
// the file offered ("loss.png" in the working folder) and, for the GUI tests,
// the chart's rectangle ("chart <name>") and its menu item's ("chart_save_png <name>").
void ChartPngMenu(const char* name, ImVec2 min, ImVec2 max);
// The same over the last item's rectangle (a widget's InvisibleButton, a group).
void ChartPngMenu(const char* name);

// Between frames: a capture was asked for and not yet taken (the next frame
// is the one saved: build it without the mouse, and soon).
bool ChartCaptureDue();

struct ChartCapture {
  std::string chart;  // its name, for messages
  std::string path;   // where to save it
  bool drawn = false;  // false: the chart was not drawn in that frame (hidden since), nothing to save
  ImVec2 min{0, 0}, max{0, 0};  // what was visible of it (clipped by its window), display coordinates
};
// After a frame (ImGui::Render): the capture that frame drew, once; nullopt
// when none is due or the frame was the one the request was made in.
std::optional<ChartCapture> TakeChartCapture();

}  // namespace ts::ui
