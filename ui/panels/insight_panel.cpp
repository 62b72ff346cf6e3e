#include "ui/panels/insight_panel.h"

#include <imgui_stdlib.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <string>
#include <vector>

#include "compute/common/error.h"
#include "compute/nn/model.h"
#include "compute/profile/memory_map.h"
#include "compute/profile/occupancy.h"
#include "compute/profile/timeline.h"
#include "ui/controller.h"
#include "ui/format.h"
#include "ui/panel_layout.h"
#include "ui/test_hooks.h"
#include "ui/widgets/bar_chart.h"
#include "ui/widgets/gantt.h"
#include "ui/widgets/insight_charts.h"
#include "ui/widgets/plot.h"
#include "ui/panels/insight_internal.h"

namespace ts::ui {
namespace insight {

PanelUi& Ui() {
  static PanelUi ui;
  if (ui.context != ImGui::GetCurrentContext()) ui = PanelUi{}, ui.context = ImGui::GetCurrentContext();
  return ui;
}

const profile::Ceilings* CeilingsOf(const AppState& state) {
  return state.insight.ceilings ? &state.insight.ceilings->ceilings : nullptr;
}


}  // namespace insight

using namespace insight;

ImU32 PassColor(nn::Pass pass) {
  switch (pass) {
    case nn::Pass::kData: return IM_COL32(186, 176, 172, 255);
    case nn::Pass::kForward: return IM_COL32(78, 121, 167, 255);
    case nn::Pass::kLoss: return IM_COL32(237, 201, 72, 255);
    case nn::Pass::kBackward: return IM_COL32(242, 142, 43, 255);
    case nn::Pass::kUpdate: return IM_COL32(89, 161, 79, 255);
    case nn::Pass::kMetrics: return IM_COL32(176, 122, 161, 255);
  }
  return IM_COL32(150, 150, 150, 255);
}

void DrawInsightPanel(AppState& state) {
  InsightView& insight = state.insight;
  if (!insight.open) return;
  PanelUi& ui = Ui();
  const double now = ImGui::GetTime();
  // The ceilings the roofline and "% of peak" are relative to, asked for when
  // first needed (cached per device after the first measurement).
  if (!insight.ceilings_asked && state.session) {
    MeasureCeilings(state, false);
    insight.ceilings_asked = true;
  }
  if (state.session && state.training.state == nn::SessionState::kRunning &&
      now - insight.last_profile_request >= kProfileInterval) {
    state.session->RequestProfile();
    insight.last_profile_request = now;
  }
  RefreshRows(state, ui, now);
  ui.kernel_table_hovered = false;  // the Kernels and Occupancy tabs set it again while drawn
  insight.drawn = {};
  ImGui::SetNextWindowBgAlpha(1.0f);  // it floats over the panels: they must not show through
  if (!ImGui::Begin("GPU insight", &insight.open)) {
    ImGui::End();
    return;
  }
  StayClearOfControls();  // it opens over the Training panel: never over its Stop button
  if (!ui.rows_error.empty()) ImGui::TextColored(ImVec4(1, 0.45f, 0.4f, 1), "%s", ui.rows_error.c_str());
  insight.drawn.rows = static_cast<uint32_t>(insight.rows.size());
  if (ImGui::BeginTabBar("insight_tabs")) {
    const auto tab = [&](const char* name, auto&& draw) {
      const bool open = ImGui::BeginTabItem(name);
      RecordItemRect(std::string("insight_tab_") + name);
      if (!open) return;
      insight.drawn.tab = name;
      draw();
      ImGui::EndTabItem();
    };
    tab("Kernels", [&] { DrawKernelsTab(state); });
    tab("Bandwidth", [&] { DrawBandwidthTab(state, ui); });
    tab("Roofline", [&] { DrawRooflineTab(state); });
    tab("Timeline", [&] { DrawTimelineTab(state, ui); });
    tab("Memory", [&] { DrawMemoryTab(state, ui); });
    tab("Occupancy", [&] { DrawOccupancyTab(state, ui); });
    tab("Device", [&] { DrawDeviceTab(state); });
    tab("Ceilings", [&] { DrawCeilingsTab(state, ui); });
    ImGui::EndTabBar();
  }
  ImGui::End();
}

}  // namespace ts::ui

