// Internal to the GPU insight window (ui/panels/insight_*.cpp): what its
// tabs share. Not part of the UI library's API.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "compute/profile/memory_map.h"
#include "compute/profile/occupancy.h"
#include "ui/app_state.h"
#include "ui/format.h"
#include "ui/panels/insight_panel.h"
#include "ui/widgets/gantt.h"
#include "ui/widgets/plot.h"
#include "ui/widgets/roofline.h"
#include "ui/widgets/text.h"

namespace ts::ui::insight {

constexpr double kProfileInterval = 1.0;     // seconds between RequestProfile while open
constexpr double kRowsInterval = 0.25;       // seconds between rebuilds of the kernel table
constexpr size_t kStackedFamilies = 5;       // the bandwidth chart's kernels before "other"
constexpr size_t kStackedColumns = 400;      // points per band of the bandwidth chart, at most
constexpr ImU32 kCeilingColor = kRooflineCeilingColor;
constexpr ImU32 kSelectedRow = IM_COL32(230, 180, 80, 60);

// What the window keeps between frames that is not AppState: caches built
// per event (stacked series, timeline bars, device model), the occupancy
// what-if settings, and chart views. Reset when the ImGui context changes.
struct PanelUi {
  ImGuiContext* context = nullptr;
  std::string rows_error;
  bool kernel_table_hovered = false;  // last frame: the mouse was over the kernel or occupancy table (rows hold still)
  // Bandwidth: stacked series, rebuilt when the history changes.
  size_t stacked_points = 0;
  double stacked_last_x = -1;
  std::vector<std::string> stacked_labels;
  std::vector<std::vector<double>> stacked;  // cumulative bands over stacked_x (bucket means)
  std::vector<double> stacked_x, stacked_floor_zero;
  std::vector<ImU32> stacked_colors;
  std::vector<double> peak_x, peak_y;
  PlotState bandwidth_view;
  // Timeline: bars built once per profile.
  const nn::StepProfile* timeline_of = nullptr;
  std::vector<GanttBar> timeline_bars;
  std::vector<std::string> timeline_tips;
  GanttState timeline_view;
  // Memory.
  double memory_at = -1e9;
  profile::MemoryMap memory;
  std::string memory_error;
  std::vector<double> batch_x, batch_mib;
  std::string batch_error;
  PlotState batch_view;
  // Occupancy.
  bool device_model_built = false;
  profile::DeviceModel device_model;
  std::string device_model_error;
  // The selected kernel (a key, not a line: it survives rebuilds and re-sorts)
  // and the user's sort of the table (none: step order).
  std::optional<profile::KernelRowKey> occupancy_selection;
  std::optional<profile::OccupancyColumn> occupancy_sort;
  bool occupancy_ascending = true;
  bool occupancy_reveal_selection = false;  // after a re-sort: scroll the selected line into view
  std::optional<profile::KernelRowKey> what_if_for;  // the kernel the what-if values were last set from
  int what_if_workgroup = 64, what_if_shared = 0, what_if_registers = 32;
  int try_dispatch = 0;  // which of the selected row's dispatches "Try it" runs (rows with several: dW and dX)
  int as_if_on = 0;  // the device model the table uses: 0 this device, else 1 + a profile::ReferenceDeviceModels() index
  int trace_dispatch = 0;
  const nn::StepProfile* trace_of = nullptr;
  int trace_built_for = -1;
  std::vector<double> in_flight_x, in_flight_y;
  std::vector<GanttBar> workgroup_bars;
  std::vector<std::string> workgroup_labels;
  std::vector<const char*> workgroup_label_ptrs;
  uint32_t max_in_flight = 0, lanes = 0;
  PlotState in_flight_view;
  GanttState workgroup_view;
};

// The window's state, reset when the ImGui context changes.
PanelUi& Ui();
const profile::Ceilings* CeilingsOf(const AppState& state);
std::string LayerLabel(const profile::KernelRow& row);

// The kernel rows, rebuilt from the averaged per-dispatch times a few times a second.
void RefreshRows(AppState& state, PanelUi& ui, double now);

// The tabs.
void DrawKernelsTab(AppState& state);
void DrawBandwidthTab(AppState& state, PanelUi& ui);
void DrawRooflineTab(AppState& state);
void DrawTimelineTab(AppState& state, PanelUi& ui);
void DrawMemoryTab(AppState& state, PanelUi& ui);
void DrawOccupancyTab(AppState& state, PanelUi& ui);
void DrawDeviceTab(AppState& state);
void DrawCeilingsTab(AppState& state, PanelUi& ui);
// The occupancy model of the window's device (nullptr when it could not be built).
const profile::DeviceModel* DeviceModelOf(const AppState& state, PanelUi& ui);
std::string FigureText(const profile::Figure& figure, const char* format = "%.0f");

}  // namespace ts::ui::insight
