// GPU insight: the Occupancy tab (theoretical, what-if, try it, achieved).
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
#include "ui/widgets/number_field.h"
#include "ui/widgets/plot.h"

namespace ts::ui::insight {

// ---------------------------------------------------------------------------
// Occupancy
// ---------------------------------------------------------------------------

const profile::DeviceModel* DeviceModelOf(const AppState& state, PanelUi& ui) {
  if (!ui.device_model_built && state.device) {
    ui.device_model_built = true;
    try {
      ui.device_model = profile::ModelDevice(*state.device);
    } catch (const Error& e) {
      ui.device_model_error = e.what();
    }
  }
  return ui.device_model_built && ui.device_model_error.empty() ? &ui.device_model : nullptr;
}

std::string FigureText(const profile::Figure& figure, const char* format) {
  return Printf(format, figure.value) + "  (" + profile::SourceName(figure.source) + ")";
}

void FigureRow(const char* name, const profile::Figure& figure, const char* format = "%.0f") {
  ImGui::TableNextRow();
  ImGui::TableNextColumn();
  ImGui::TextUnformatted(name);
  ImGui::TableNextColumn();
  ImGui::TextUnformatted(Printf(format, figure.value).c_str());
  ImGui::TableNextColumn();
  if (figure.source == profile::Source::kExposed)
    ImGui::TextColored(ImVec4(0.55f, 0.85f, 0.55f, 1), "exposed");
  else
    ImGui::TextDisabled("%s", profile::SourceName(figure.source));
  if (!figure.note.empty() && ImGui::IsItemHovered()) ImGui::SetTooltip("%s", figure.note.c_str());
}

// The experiment shape of a row's layer: rows = batch x spatial positions,
// columns = units / channels of the layer's output.
std::array<uint32_t, 2> ExperimentShape(const AppState& state, const profile::KernelRow& row) {
  const uint32_t batch = state.project.training.batch_size;
  if (!state.model || row.layer < 0) return {batch, 64};
  try {
    std::vector<nn::LayerShape> shapes = nn::InferShapes(*state.model);
    if (static_cast<size_t>(row.layer) >= shapes.size()) return {batch, 64};
    const std::vector<uint32_t>& out = shapes[row.layer].output;
    if (out.size() == 3) return {batch * out[1] * out[2], out[0]};
    if (!out.empty()) return {batch, out[0]};
  } catch (const Error&) {
  }
  return {batch, 64};
}

void DrawAchieved(AppState& state, PanelUi& ui);

// "Try it": the selected kernel re-specialised at the slider's workgroup size,
// run on scratch buffers of its layer's shapes, checked against the CPU
// reference and timed (on the session's worker, between submissions).
void DrawTryIt(AppState& state, PanelUi& ui, const profile::KernelRow& row) {
  InsightView& insight = state.insight;
  const std::string family = profile::ExperimentKernelFor(row.kernel);
  if (family.empty()) {
    ImGui::TextDisabled("\"Try it\" is not available for %s.", row.kernel.c_str());
    return;
  }
  profile::ExperimentRequest request;
  request.kernel = family;
  request.workgroup_size = static_cast<uint32_t>(ui.what_if_workgroup);
  request.check = true;
  // The layer kernels run on their dispatch's own problem; a row may group
  // several (a dense layer's backward: dW and dX).
  std::vector<size_t> with_problem;
  const std::vector<nn::DispatchInfo>& dispatches = state.training.dispatches;
  for (size_t d : row.dispatches)
    if (d < dispatches.size() && (dispatches[d].problem.matmul || dispatches[d].problem.conv || dispatches[d].problem.pool))
      with_problem.push_back(d);
  if (!with_problem.empty()) {
    ui.try_dispatch = std::clamp(ui.try_dispatch, 0, static_cast<int>(with_problem.size()) - 1);
    if (with_problem.size() > 1) {
      ImGui::SetNextItemWidth(ImGui::GetContentRegionAvail().x * 0.4f);
      if (ImGui::BeginCombo("dispatch to try", dispatches[with_problem[ui.try_dispatch]].label.c_str())) {
        for (int i = 0; i < static_cast<int>(with_problem.size()); ++i)
          if (ImGui::Selectable(dispatches[with_problem[i]].label.c_str(), i == ui.try_dispatch)) ui.try_dispatch = i;
        ImGui::EndCombo();
      }
    }
    request.problem = dispatches[with_problem[ui.try_dispatch]].problem;
  } else {
    request.shape = ExperimentShape(state, row);
  }
  ImGui::BeginDisabled(insight.experiment_running || !state.session);
  if (ImGui::Button("Try it")) {
    state.session->RunExperiment(request);
    insight.experiment_running = true;
  }
  ImGui::EndDisabled();
  RecordItemRect("insight_try_it");
  ImGui::SameLine();
  ImGui::PushTextWrapPos(0.0f);  // at the window's edge
  ImGui::TextDisabled("%s on %s (%s) at workgroup size %d, checked against the CPU%s", family.c_str(),
                      profile::ExperimentProblemText(request).c_str(), profile::ExperimentShapeHelp(family).c_str(),
                      ui.what_if_workgroup, insight.experiment_running ? ": running..." : "");
  ImGui::PopTextWrapPos();
}

void DrawOccupancyTab(AppState& state, PanelUi& ui) {
  InsightView& insight = state.insight;
  const profile::DeviceModel* model = DeviceModelOf(state, ui);
  if (!model) {
    Muted(ui.device_model_error.empty() ? "No device." : ui.device_model_error.c_str());
    return;
  }
  // "As if on": the same kernels under a reference GPU's model, so that on a
  // software driver registers and shared memory still show how they limit occupancy.
  const std::vector<profile::ReferenceDevice>& references = profile::ReferenceDeviceModels();
  ui.as_if_on = std::clamp(ui.as_if_on, 0, static_cast<int>(references.size()));
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 24);
  if (ImGui::BeginCombo("as if on", ui.as_if_on == 0 ? "this device" : references[ui.as_if_on - 1].label.c_str())) {
    for (int i = 0; i <= static_cast<int>(references.size()); ++i) {
      const std::string& label = i == 0 ? std::string("this device") : references[i - 1].label;
      if (ImGui::Selectable(label.c_str(), ui.as_if_on == i)) ui.as_if_on = i;
      RecordItemRect("as_if_on " + label);  // for the tests: each choice
    }
    ImGui::EndCombo();
  }
  RecordItemRect("occupancy_as_if_on");
  insight.drawn.occupancy_model = ui.as_if_on == 0 ? "this device" : references[ui.as_if_on - 1].label;
  if (ui.as_if_on > 0) {
    model = &references[ui.as_if_on - 1].model;
    ImGui::SameLine();
    Muted("modelled from the vendor's tables, not measured; Try it and the trace below stay on this device");
  }
  ImGui::Text("%s, %s: %.0f compute units x %.0f-wide subgroups", model->vendor.c_str(), model->architecture.c_str(),
              model->compute_units.value, model->subgroup_size.value);
  ImGui::SameLine();
  Muted("(\"modelled\": from the vendor table, not told by the driver)");
  if (ImGui::CollapsingHeader("Device model")) {
    if (ImGui::BeginTable("device_model", 3, ImGuiTableFlags_SizingFixedFit | ImGuiTableFlags_RowBg)) {
      for (const profile::FigureField& field : profile::DeviceModelFields())
        FigureRow(field.label, (*model).*field.member);
      ImGui::EndTable();
    }
  }
  if (insight.rows.empty()) {
    Muted("Start training to see each kernel's occupancy.");
    return;
  }
  // One line per kernel row: its resources and theoretical occupancy.
  std::vector<profile::Occupancy> occupancies;
  std::vector<double> registers;  // reported by the driver; 0: none (modelled)
  for (const profile::KernelRow& row : insight.rows) {
    profile::KernelResources resources;
    resources.workgroup_invocations = row.local_size[0] * row.local_size[1] * row.local_size[2];
    resources.shared_memory_bytes = row.shared_memory_bytes;
    registers.push_back(row.dispatches.empty() || row.dispatches[0] >= state.training.dispatches.size()
                            ? 0 : state.training.dispatches[row.dispatches[0]].registers);
    resources.registers_per_invocation = registers.back() > 0 ? profile::Figure{registers.back(), profile::Source::kExposed, "VK_KHR_pipeline_executable_properties"}
                                                              : profile::ModelledRegisters(row.kernel, resources.workgroup_invocations);
    occupancies.push_back(profile::ComputeOccupancy(*model, resources));
  }
  const float table_height = std::min(ImGui::GetTextLineHeightWithSpacing() * (insight.rows.size() + 1.5f),
                                      ImGui::GetContentRegionAvail().y * 0.35f);
  // Rows in step order until the user sorts by a column (a click on a header:
  // ascending, descending, then step order again); that order is kept.
  const ImGuiTableFlags flags = ImGuiTableFlags_ScrollY | ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersV |
                                ImGuiTableFlags_SizingFixedFit | ImGuiTableFlags_Resizable | ImGuiTableFlags_Sortable |
                                ImGuiTableFlags_SortTristate;
  if (ImGui::BeginTable("occupancy", 7, flags, ImVec2(0, table_height))) {
    ImGui::TableSetupScrollFreeze(0, 1);
    static const std::pair<const char*, profile::OccupancyColumn> kColumns[] = {
        {"kernel (layer, pass)", profile::OccupancyColumn::kKernel},
        {"workgroup", profile::OccupancyColumn::kWorkgroup},
        {"registers", profile::OccupancyColumn::kRegisters},
        {"workgroups/unit", profile::OccupancyColumn::kWorkgroupsPerUnit},
        {"subgroups/unit", profile::OccupancyColumn::kSubgroupsPerUnit},
        {"occupancy", profile::OccupancyColumn::kOccupancy},
        {"limiter", profile::OccupancyColumn::kLimiter}};
    for (const auto& [name, column] : kColumns) ImGui::TableSetupColumn(name, 0, 0.0f, static_cast<ImGuiID>(column));
    ImGui::TableNextRow(ImGuiTableRowFlags_Headers);
    for (int c = 0; c < 7; ++c) {
      ImGui::TableSetColumnIndex(c);
      ImGui::TableHeader(kColumns[c].first);
      RecordItemRect(std::string("occupancy_header ") + kColumns[c].first);  // for the GUI tests
    }
    if (ImGuiTableSortSpecs* specs = ImGui::TableGetSortSpecs(); specs && specs->SpecsDirty) {
      ui.occupancy_sort.reset();
      if (specs->SpecsCount > 0) {
        ui.occupancy_sort = static_cast<profile::OccupancyColumn>(specs->Specs[0].ColumnUserID);
        ui.occupancy_ascending = specs->Specs[0].SortDirection == ImGuiSortDirection_Ascending;
      }
      specs->SpecsDirty = false;
      ui.occupancy_reveal_selection = true;  // the selected kernel may have moved out of view
    }
    const std::vector<size_t> order =
        profile::OccupancyOrder(insight.rows, occupancies, registers, ui.occupancy_sort, ui.occupancy_ascending);
    // The selection is a kernel, not a line: rebuilt or re-sorted rows keep it.
    if (!ui.occupancy_selection || !profile::FindRow(insight.rows, *ui.occupancy_selection))
      ui.occupancy_selection = profile::KeyOf(insight.rows[order[0]]);
    for (size_t i : order) {
      const profile::KernelRow& row = insight.rows[i];
      const profile::Occupancy& o = occupancies[i];
      const profile::KernelRowKey key = profile::KeyOf(row);
      const std::string id = profile::KeyText(key);
      ImGui::PushID(id.c_str());
      ImGui::TableNextRow();
      ImGui::TableNextColumn();
      const std::string name = row.kernel + " (" + LayerLabel(row) + ", " + nn::PassName(row.pass) + ")";
      const bool selected = key == *ui.occupancy_selection;
      if (ImGui::Selectable(name.c_str(), selected, ImGuiSelectableFlags_SpanAllColumns)) {
        ui.occupancy_selection = key;
        insight.selected_layer = row.layer;
      }
      RecordItemRect("occupancy_row " + id);
      if (selected) {
        RecordItemRect("occupancy_selected");
        if (ui.occupancy_reveal_selection) {
          ImGui::SetScrollHereY(0.5f);
          ui.occupancy_reveal_selection = false;
        }
      }
      if (ImGui::IsItemHovered() && !o.explanation.empty()) ImGui::SetTooltip("%s", o.explanation.c_str());
      ImGui::TableNextColumn();
      ImGui::Text("%u", row.local_size[0] * row.local_size[1] * row.local_size[2]);
      ImGui::TableNextColumn();
      if (registers[i] > 0) ImGui::Text("%.0f", registers[i]); else ImGui::TextDisabled("modelled");
      ImGui::TableNextColumn();
      ImGui::Text("%u", o.active_workgroups_per_unit);
      ImGui::TableNextColumn();
      ImGui::Text("%u", o.active_subgroups_per_unit);
      ImGui::TableNextColumn();
      const std::string occupancy = Printf("%.0f%%", o.occupancy * 100) + (o.modelled ? " (modelled)" : "");
      ImGui::TextUnformatted(occupancy.c_str());
      insight.drawn.occupancy_cells.emplace_back(id, occupancy);
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(profile::LimiterName(o.limiter));
      ImGui::PopID();
    }
    // Under the mouse the rows are not rebuilt, so a click lands on the line aimed at.
    ui.kernel_table_hovered =
        ui.kernel_table_hovered ||
        ImGui::IsWindowHovered(ImGuiHoveredFlags_ChildWindows | ImGuiHoveredFlags_AllowWhenBlockedByActiveItem);
    ImGui::EndTable();
    RecordItemRect("occupancy_table");
  }
  insight.drawn.occupancy_kernels = static_cast<uint32_t>(insight.rows.size());

  // What if: the selected kernel with other resources. The values stay the
  // user's until another kernel is selected.
  const std::optional<size_t> selected = ui.occupancy_selection ? profile::FindRow(insight.rows, *ui.occupancy_selection)
                                                                : std::nullopt;
  if (!selected) return;
  const profile::KernelRow& row = insight.rows[*selected];
  if (ui.what_if_for != ui.occupancy_selection) {
    ui.what_if_for = ui.occupancy_selection;
    ui.what_if_workgroup = static_cast<int>(std::max(1u, row.local_size[0] * row.local_size[1] * row.local_size[2]));
    ui.what_if_shared = static_cast<int>(row.shared_memory_bytes);
    ui.what_if_registers = static_cast<int>(std::lround(profile::ModelledRegisters(row.kernel, ui.what_if_workgroup).value));
  }
  SeparatorText("What if (theoretical)");
  const int max_invocations = static_cast<int>(std::max(1u, state.device ? state.device->max_workgroup_invocations : 1024u));
  const int max_shared = static_cast<int>(std::max(1.0, model->shared_memory_per_workgroup_max.value));
  ImGui::PushItemWidth(ImGui::GetContentRegionAvail().x * 0.16f);
  NumberField("workgroup size", ui.what_if_workgroup, 1, max_invocations, {.logarithmic = true});
  RecordItemRect("what_if_workgroup");
  ImGui::SameLine();
  NumberField("shared memory / wg (B)", ui.what_if_shared, 0, max_shared, {.logarithmic = true});
  ImGui::SameLine();
  NumberField("registers / invocation", ui.what_if_registers, 1,
              static_cast<int>(std::max(2.0, model->max_registers_per_invocation.value)));
  ImGui::PopItemWidth();
  profile::KernelResources what_if;
  what_if.workgroup_invocations = static_cast<uint32_t>(ui.what_if_workgroup);
  what_if.shared_memory_bytes = static_cast<uint32_t>(ui.what_if_shared);
  what_if.registers_per_invocation = {double(ui.what_if_registers), profile::Source::kUser, "the slider"};
  const profile::Occupancy o = profile::ComputeOccupancy(*model, what_if);
  ImGui::TextWrapped("%u workgroups and %u subgroups per unit: %.0f%% occupancy%s, limited by %s", o.active_workgroups_per_unit,
              o.active_subgroups_per_unit, o.occupancy * 100, o.modelled ? " (modelled)" : "", profile::LimiterName(o.limiter));
  if (!o.explanation.empty()) Muted(o.explanation.c_str());
  const auto limit = [](uint32_t v) { return v == UINT32_MAX ? NAN : double(v); };
  const Bar limits[] = {{"workgroup slots", limit(o.by_workgroup_slots), o.limiter == profile::Limiter::kWorkgroupSlots ? "limiter" : nullptr},
                        {"subgroup slots", limit(o.by_subgroup_slots), o.limiter == profile::Limiter::kSubgroupSlots ? "limiter" : nullptr},
                        {"registers", limit(o.by_registers), o.limiter == profile::Limiter::kRegisters ? "limiter" : nullptr},
                        {"shared memory", limit(o.by_shared_memory), o.limiter == profile::Limiter::kSharedMemory ? "limiter" : nullptr}};
  ImGui::TextDisabled("Workgroups per unit each resource allows (n/a: no limit):");
  BarChart("limits", limits, {.value_format = "%.0f", .row_height = ImGui::GetFrameHeight() * 0.8f});

  DrawTryIt(state, ui, row);
  if (!insight.experiments.empty() &&
      ImGui::BeginTable("experiments", 7, ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersV | ImGuiTableFlags_SizingFixedFit)) {
    for (const char* name : {"kernel", "shape", "workgroup", "predicted occupancy", "median us", "GB/s | GFLOP/s",
                             "max error vs CPU"})
      ImGui::TableSetupColumn(name);
    ImGui::TableHeadersRow();
    for (const profile::ExperimentResult& r : insight.experiments) {
      profile::KernelResources resources;
      resources.workgroup_invocations = r.request.workgroup_size;
      resources.shared_memory_bytes = r.shared_memory_bytes;
      resources.registers_per_invocation = profile::ModelledRegisters(r.request.kernel, r.request.workgroup_size);
      const profile::Occupancy predicted = profile::ComputeOccupancy(*model, resources);
      ImGui::TableNextRow();
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(r.request.kernel.c_str());
      if (!r.note.empty() && ImGui::IsItemHovered()) ImGui::SetTooltip("%s", r.note.c_str());
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(profile::ExperimentProblemText(r.request).c_str());
      ImGui::TableNextColumn();
      ImGui::Text("%u (%u x %u)", r.request.workgroup_size, r.local_size[0], r.local_size[1]);
      ImGui::TableNextColumn();
      ImGui::Text("%.0f%%%s", predicted.occupancy * 100, predicted.modelled ? " (modelled)" : "");
      ImGui::TableNextColumn();
      if (r.error.empty()) ImGui::Text("%.1f", r.median_ns / 1e3); else ImGui::TextColored(ImVec4(1, 0.45f, 0.4f, 1), "failed");
      if (!r.error.empty() && ImGui::IsItemHovered()) ImGui::SetTooltip("%s", r.error.c_str());
      ImGui::TableNextColumn();
      if (r.error.empty()) ImGui::Text("%.2f | %.2f", r.gbs, r.gflops); else ImGui::TextDisabled("%s", r.error.c_str());
      ImGui::TableNextColumn();
      if (r.max_error < 0)
        ImGui::TextDisabled("-");
      else if (r.max_error <= profile::kExperimentTolerance)
        ImGui::Text("%.1e", r.max_error);
      else
        ImGui::TextColored(ImVec4(1, 0.45f, 0.4f, 1), "%.1e: check failed", r.max_error);
    }
    ImGui::EndTable();
    Muted("More occupancy is not always more speed: compare the measured times, not just the percentages.");
  }
  insight.drawn.experiments = static_cast<uint32_t>(insight.experiments.size());
  DrawAchieved(state, ui);
}

// Achieved occupancy from a workgroup trace: workgroups in flight over time,
// and each workgroup on the worker slot (lane) it ran in.
void BuildTraceCharts(const AppState& state, PanelUi& ui, const nn::StepProfile& trace, int dispatch) {
  ui.trace_of = &trace;
  ui.trace_built_for = dispatch;
  ui.in_flight_x.clear();
  ui.in_flight_y.clear();
  ui.workgroup_bars.clear();
  ui.workgroup_labels.clear();
  ui.workgroup_label_ptrs.clear();
  ui.max_in_flight = ui.lanes = 0;
  if (dispatch < 0 || static_cast<size_t>(dispatch) >= trace.trace.size()) return;
  const vk::DispatchTrace& records = trace.trace[dispatch];
  const double ns_per_tick = records.ns_per_tick > 0 ? records.ns_per_tick : 1.0;
  uint64_t first = UINT64_MAX;
  for (const vk::WorkgroupRecord& r : records.records) first = std::min(first, r.start_ticks);
  std::vector<Interval> intervals;
  intervals.reserve(records.records.size());
  for (const vk::WorkgroupRecord& r : records.records)
    intervals.push_back({double(r.start_ticks - first) * ns_per_tick / 1e3,
                         double(r.end_ticks >= r.start_ticks ? r.end_ticks - first : r.start_ticks - first) * ns_per_tick / 1e3});
  ui.max_in_flight = InFlightSteps(intervals, ui.in_flight_x, ui.in_flight_y);
  std::vector<uint32_t> lanes = AssignLanes(intervals, &ui.lanes);
  for (size_t i = 0; i < intervals.size(); ++i)
    ui.workgroup_bars.push_back({lanes[i], intervals[i].start, intervals[i].end,
                                 ClassColor(static_cast<int>(records.records[i].workgroup % 10)), "workgroup", nullptr});
  for (uint32_t l = 0; l < ui.lanes; ++l) ui.workgroup_labels.push_back("slot " + std::to_string(l));
  for (const std::string& label : ui.workgroup_labels) ui.workgroup_label_ptrs.push_back(label.c_str());
  ui.in_flight_view.auto_fit = true;
  ui.workgroup_view.auto_fit = true;
  (void)state;
}

void DrawAchieved(AppState& state, PanelUi& ui) {
  InsightView& insight = state.insight;
  SeparatorText("Achieved (trace mode)");
  // The trace compares workgroups with each other: it needs the device-wide clock.
  const bool clock = state.device && state.device->shader_clock && state.device->shader_device_clock;
  ImGui::BeginDisabled(!state.session || insight.trace_requested || !clock || state.training.dispatches.empty());
  if (ImGui::Button("Record a trace")) {
    state.session->RequestTrace();
    insight.trace_requested = true;
  }
  ImGui::EndDisabled();
  RecordItemRect("insight_record_trace");
  ImGui::SameLine();
  if (!clock)
    Muted("This device has no device-wide shader clock (VK_KHR_shader_clock's shaderDeviceClock): no workgroup trace.");
  else if (insight.trace_requested)
    Muted(state.training.state == nn::SessionState::kRunning
              ? "Recording: the next submission runs one step with every workgroup's start and end timed..."
              : "Waiting: the trace is taken on the next training submission (train or step).");
  else
    ImGui::TextDisabled("Times every workgroup of one step with the shader clock.");
  if (!insight.trace) return;
  const nn::StepProfile& trace = *insight.trace;
  size_t records = 0;
  for (const vk::DispatchTrace& d : trace.trace) records += d.records.size();
  insight.drawn.workgroup_records = static_cast<uint32_t>(records);
  ImGui::TextWrapped("Step %llu traced: %zu workgroup records; step %.2f ms traced vs %.2f ms untraced (overhead x%.2f)",
              static_cast<unsigned long long>(insight.trace_step + 1), records, trace.traced_step_ns / 1e6,
              trace.untraced_step_ns / 1e6, trace.untraced_step_ns > 0 ? trace.traced_step_ns / trace.untraced_step_ns : 0.0);
  const std::vector<nn::DispatchInfo>& dispatches = state.training.dispatches;
  ui.trace_dispatch = std::clamp(ui.trace_dispatch, 0, std::max(0, static_cast<int>(trace.trace.size()) - 1));
  const auto name = [&](int i) {
    return static_cast<size_t>(i) < dispatches.size() ? dispatches[i].label : "dispatch " + std::to_string(i);
  };
  ImGui::SetNextItemWidth(ImGui::GetContentRegionAvail().x * 0.5f);
  if (ImGui::BeginCombo("dispatch", name(ui.trace_dispatch).c_str())) {
    for (int i = 0; i < static_cast<int>(trace.trace.size()); ++i)
      if (ImGui::Selectable(name(i).c_str(), i == ui.trace_dispatch)) ui.trace_dispatch = i;
    ImGui::EndCombo();
  }
  if (ui.trace_of != &trace || ui.trace_built_for != ui.trace_dispatch) BuildTraceCharts(state, ui, trace, ui.trace_dispatch);
  if (ui.in_flight_x.empty()) {
    Muted("No workgroup records for this dispatch.");
    return;
  }
  ImGui::Text("At most %u workgroups in flight; %u worker slots needed", ui.max_in_flight, ui.lanes);
  const float half = std::max(Scaled(140), ImGui::GetContentRegionAvail().y * 0.5f - 4);
  PlotSeries series{.label = "workgroups in flight", .x = ui.in_flight_x, .y = ui.in_flight_y, .thickness = 1.0f, .smooth = false, .fill = true};
  Plot("in_flight", ui.in_flight_view,
       {.title = "Workgroups in flight", .x_label = "us", .size = ImVec2(0, half), .show_legend = false, .y_fit_min = 0},
       std::span(&series, 1));
  const float row = std::clamp(half / std::max(1u, ui.lanes), 3.0f, ImGui::GetFrameHeight());
  Gantt("workgroups", ui.workgroup_view, ui.workgroup_label_ptrs, ui.workgroup_bars, {.x_label = "us", .row_height = row});
}


}  // namespace ts::ui::insight
