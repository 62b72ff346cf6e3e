// Dear ImGui without a window, for tests that draw a panel and click in it.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "imgui.h"
#include "ui/test_hooks.h"

namespace ts::testing {

// A context of 1600 x 1000 pixels with no ini file and its fonts built, set up
// as the Vulkan backend sets it (vertex offsets).
inline ImGuiContext* CreateHeadlessImGui() {
  ImGuiContext* context = ImGui::CreateContext();
  ImGuiIO& io = ImGui::GetIO();
  io.DisplaySize = ImVec2(1600, 1000);
  io.IniFilename = nullptr;
  io.DeltaTime = 1.0f / 60;
  io.BackendFlags |= ImGuiBackendFlags_RendererHasVtxOffset;
  unsigned char* pixels = nullptr;
  int width = 0, height = 0;
  io.Fonts->GetTexDataAsRGBA32(&pixels, &width, &height);
  return context;
}

// Clicks the middle of the rectangle the last frame recorded as `name`: a
// frame hovering, one pressed, one released (ImGui reads one mouse state a
// frame), then one with the mouse away. `frame(mouse, down)` draws a frame.
inline void ClickRecordedRect(const std::string& name, const std::function<void(ImVec2, bool)>& frame) {
  const auto& rects = ui::RecordedItemRects();
  ASSERT_TRUE(rects.count(name)) << name;
  const auto& r = rects.at(name);
  const ImVec2 centre((r[0] + r[2]) / 2, (r[1] + r[3]) / 2);
  frame(centre, false);
  frame(centre, true);
  frame(centre, false);
  frame(ImVec2(-FLT_MAX, -FLT_MAX), false);
}

}  // namespace ts::testing
