// GPU insight: the Timeline and Memory tabs.
#include "ui/panels/insight_internal.h"

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
#include "ui/panel_layout.h"
#include "ui/format.h"
#include "ui/test_hooks.h"
#include "ui/widgets/bar_chart.h"
#include "ui/widgets/gantt.h"
#include "ui/widgets/insight_charts.h"
#include "ui/widgets/plot.h"

namespace ts::ui::insight {

// ---------------------------------------------------------------------------
// Timeline
// ---------------------------------------------------------------------------

ImU32 CategoryColor(const std::string& category) {
  if (category == "barrier") return IM_COL32(220, 220, 220, 200);
  if (category == "upload") return IM_COL32(118, 183, 178, 255);
  if (category == "readback") return IM_COL32(255, 157, 167, 255);
  if (category == "gap") return IM_COL32(90, 90, 96, 255);
  return IM_COL32(140, 150, 170, 255);  // host work
}

void BuildTimelineBars(const AppState& state, PanelUi& ui, const nn::StepProfile& profile) {
  ui.timeline_of = &profile;
  ui.timeline_bars.clear();
  ui.timeline_tips.clear();
  const std::vector<nn::DispatchInfo>& dispatches = state.training.dispatches;
  const auto& events = profile.timeline.events;
  ui.timeline_tips.reserve(events.size());
  for (const profile::TimelineEvent& e : events) {
    std::string tip = e.category + ", step " + std::to_string(e.step);
    if (e.dispatch >= 0 && static_cast<size_t>(e.dispatch) < dispatches.size()) {
      const nn::DispatchInfo& d = dispatches[e.dispatch];
      tip += "\nkernel " + d.kernel + ", " + nn::PassName(d.role.pass) + " pass";
    }
    ui.timeline_tips.push_back(std::move(tip));
  }
  for (size_t i = 0; i < events.size(); ++i) {
    const profile::TimelineEvent& e = events[i];
    GanttBar bar;
    bar.row = e.lane == profile::Lane::kHost ? 0 : 1;
    bar.start = e.start_ns / 1e3;
    bar.end = e.end_ns / 1e3;
    bar.label = e.name.c_str();
    bar.tooltip = ui.timeline_tips[i].c_str();
    bar.thin = e.category == "barrier";
    if (e.category == "dispatch" && e.dispatch >= 0 && static_cast<size_t>(e.dispatch) < dispatches.size())
      bar.color = PassColor(dispatches[e.dispatch].role.pass);
    else
      bar.color = e.category == "dispatch" ? PassColor(nn::Pass::kForward) : CategoryColor(e.category);
    ui.timeline_bars.push_back(bar);
  }
  ui.timeline_view.auto_fit = true;
}

void DrawTimelineTab(AppState& state, PanelUi& ui) {
  InsightView& insight = state.insight;
  if (!insight.profile) {
    Muted(state.training.state == nn::SessionState::kRunning
              ? "Waiting for a profiled submission (asked for once a second while this window is open)..."
              : "Start training: a submission is profiled about once a second while this window is open.");
    return;
  }
  const nn::StepProfile& profile = *insight.profile;
  if (ui.timeline_of != &profile) BuildTimelineBars(state, ui, profile);
  const profile::StepTimeline& timeline = profile.timeline;
  const double duration = timeline.duration_ns(), busy = timeline.device_busy_ns();
  // One line each, never wrapped: the live numbers change width with every
  // profile, and a wrapped line would move everything below (the export button
  // jumped a line under the pointer while training).
  ImGui::Text("Steps %llu..%llu (%u in one submission): %.2f ms, the device busy %.0f%% of it",
              static_cast<unsigned long long>(timeline.first_global_step + 1),
              static_cast<unsigned long long>(timeline.first_global_step + timeline.steps), timeline.steps,
              duration / 1e6, duration > 0 ? 100 * busy / duration : 0.0);
  if (!timeline.clocks_calibrated) {
    ImGui::TextDisabled("(device times aligned at the submit: an estimate)");
    if (ImGui::IsItemHovered())
      ImGui::SetTooltip("This driver lacks VK_EXT_calibrated_timestamps, so the device lane is placed\n"
                        "where the submission was handed to the driver rather than on the host clock.");
  }
  // Key: passes and host categories.
  for (nn::Pass pass : {nn::Pass::kData, nn::Pass::kForward, nn::Pass::kLoss, nn::Pass::kBackward, nn::Pass::kUpdate,
                        nn::Pass::kMetrics}) {
    ColorSwatch(PassColor(pass));
    ImGui::TextUnformatted(nn::PassName(pass));
    ImGui::SameLine();
  }
  for (const char* category : {"barrier", "upload", "readback", "host", "gap"}) {
    ColorSwatch(CategoryColor(category));
    ImGui::TextUnformatted(category);
    ImGui::SameLine();
  }
  ImGui::NewLine();
  Muted("Wheel: zoom, drag: pan, double-click: fit. Hover a bar for its name and duration.");
  static const char* const kLanes[] = {"host", "device"};
  const float height = std::max(ImGui::GetFrameHeight() * 5, ImGui::GetContentRegionAvail().y - ImGui::GetFrameHeightWithSpacing() * 2.2f);
  Gantt("timeline", ui.timeline_view, kLanes, ui.timeline_bars,
        {.x_label = "us", .size = ImVec2(0, std::min(height, ImGui::GetFrameHeight() * 9))});
  insight.drawn.timeline_events = static_cast<uint32_t>(ui.timeline_bars.size());

  ImGui::SetNextItemWidth(std::max(Scaled(200), ImGui::GetContentRegionAvail().x * 0.5f));
  ImGui::InputText("##trace_path", &insight.export_path);
  ImGui::SameLine();
  if (ImGui::Button("Export trace")) {
    try {
      profile::WriteChromeTrace(insight.export_path, timeline);
      insight.export_message = "Wrote " + insight.export_path + " (open it in ui.perfetto.dev or chrome://tracing).";
      insight.export_failed = false;
    } catch (const Error& e) {
      insight.export_message = e.what();
      insight.export_failed = true;
    }
  }
  RecordItemRect("insight_export_trace");
  if (!insight.export_message.empty()) {
    ImGui::PushStyleColor(ImGuiCol_Text, insight.export_failed ? IM_COL32(255, 120, 110, 255) : IM_COL32(160, 220, 160, 255));
    ImGui::TextWrapped("%s", insight.export_message.c_str());
    ImGui::PopStyleColor();
  }
}

// ---------------------------------------------------------------------------
// Memory
// ---------------------------------------------------------------------------

void RefreshMemory(const AppState& state, PanelUi& ui, double now) {
  if (now - ui.memory_at < 0.5) return;
  ui.memory_at = now;
  const InsightView& insight = state.insight;
  try {
    std::vector<vk::HeapBudget> heaps = state.context ? state.context->QueryMemoryBudget() : std::vector<vk::HeapBudget>{};
    ui.memory = profile::BuildMemoryMap(insight.plan_memory, insight.dataset_bytes, 0, heaps);
    ui.memory_error.clear();
  } catch (const Error& e) {
    ui.memory_error = e.what();
  }
  ui.batch_x.clear();
  ui.batch_mib.clear();
  ui.batch_error.clear();
  if (!state.model) return;
  static const std::vector<uint32_t> kBatches = {16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024};
  try {
    std::vector<nn::MemoryUse> uses =
        profile::EstimateMemoryByBatch(*state.model, state.project.training.optimizer, kBatches);
    for (size_t i = 0; i < uses.size() && i < kBatches.size(); ++i) {
      ui.batch_x.push_back(kBatches[i]);
      ui.batch_mib.push_back(double(uses[i].total()) / (1 << 20));
    }
  } catch (const Error& e) {
    ui.batch_error = e.what();
  }
}

void DrawMemoryTab(AppState& state, PanelUi& ui) {
  RefreshMemory(state, ui, ImGui::GetTime());
  const profile::MemoryMap& memory = ui.memory;
  if (!ui.memory_error.empty()) ImGui::TextColored(ImVec4(1, 0.45f, 0.4f, 1), "%s", ui.memory_error.c_str());
  if (state.insight.plan_memory.total() == 0)
    Muted("Start training to see the plan's device memory (the heap and budget are below).");
  ImGui::TextWrapped("Tensors and data: %s of the %s device-local heap (%.2f%%)", Bytes(double(memory.total)).c_str(),
              Bytes(double(memory.heap_size)).c_str(),
              memory.heap_size ? 100.0 * double(memory.total) / double(memory.heap_size) : 0.0);
  if (memory.budget_reported)
    ImGui::TextWrapped("Driver's budget for this process: %s; in use by it: %s (VK_EXT_memory_budget)",
                Bytes(double(memory.budget)).c_str(), Bytes(double(memory.usage)).c_str());
  else
    Muted("Budget: not reported by this driver (no VK_EXT_memory_budget).");
  // One bar for the whole heap: the categories, then what is left of the budget (or heap).
  std::vector<StackedSegment> segments;
  std::vector<std::string> labels;
  labels.reserve(memory.categories.size() + 2);
  for (size_t i = 0; i < memory.categories.size(); ++i) {
    labels.push_back(memory.categories[i].name);
    segments.push_back({labels.back().c_str(), double(memory.categories[i].bytes) / (1 << 20), ClassColor(static_cast<int>(i))});
  }
  const uint64_t used_elsewhere = memory.budget_reported && memory.usage > memory.total ? memory.usage - memory.total : 0;
  if (used_elsewhere) {
    labels.push_back("other allocations (window, staging)");
    segments.push_back({labels.back().c_str(), double(used_elsewhere) / (1 << 20), IM_COL32(120, 120, 130, 255)});
  }
  const uint64_t limit = memory.budget_reported && memory.budget ? memory.budget : memory.heap_size;
  const uint64_t used = memory.total + used_elsewhere;
  if (limit > used) {
    labels.push_back(memory.budget_reported ? "free (within budget)" : "free heap");
    segments.push_back({labels.back().c_str(), double(limit - used) / (1 << 20), IM_COL32(55, 55, 60, 255)});
  }
  ImGui::TextDisabled("Device memory (MiB), the bar spanning the %s:", memory.budget_reported ? "budget" : "heap");
  StackedBar("memory", segments, {.value_format = "%.2f", .unit = " MiB", .height = ImGui::GetFrameHeight() * 1.3f});
  if (memory.total > 0 && double(memory.total) < 0.05 * double(limit)) {
    // A sliver of the heap: the same categories again, the bar spanning their total.
    std::vector<StackedSegment> ours(segments.begin(), segments.begin() + memory.categories.size());
    ImGui::TextDisabled("The same, the bar spanning Tensorscope's %s:", Bytes(double(memory.total)).c_str());
    StackedBar("memory_ours", ours, {.value_format = "%.2f", .unit = " MiB", .height = ImGui::GetFrameHeight() * 1.3f});
  }
  // A compact key with the sizes (categories too small to label inside the bar).
  if (ImGui::BeginTable("memory_key", 2, ImGuiTableFlags_SizingFixedFit)) {
    for (size_t i = 0; i < memory.categories.size(); ++i) {
      ImGui::TableNextRow();
      ImGui::TableNextColumn();
      ColorSwatch(ClassColor(static_cast<int>(i)));
      ImGui::TextUnformatted(memory.categories[i].name.c_str());
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(Bytes(double(memory.categories[i].bytes)).c_str());
    }
    ImGui::EndTable();
  }
  state.insight.drawn.memory_categories = static_cast<uint32_t>(memory.categories.size());
  ImGui::Separator();
  if (!ui.batch_error.empty()) {
    ImGui::TextColored(ImVec4(1, 0.45f, 0.4f, 1), "%s", ui.batch_error.c_str());
  } else if (!ui.batch_x.empty()) {
    const std::string current = "batch " + std::to_string(state.project.training.batch_size);
    PlotMarker marker{double(state.project.training.batch_size), current.c_str()};
    PlotSeries series{.label = "plan memory (MiB)", .x = ui.batch_x, .y = ui.batch_mib, .smooth = false};
    Plot("memory_by_batch", ui.batch_view,
         {.title = "The plan's memory by batch size", .x_label = "batch size", .y_label = "MiB",
          .size = ImVec2(0, std::max(Scaled(160), ImGui::GetContentRegionAvail().y - 4)), .show_legend = false, .y_fit_min = 0},
         std::span(&series, 1), std::span(&marker, 1));
  }
}


}  // namespace ts::ui::insight
