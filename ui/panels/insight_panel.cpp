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
#include "ui/test_hooks.h"
#include "ui/widgets/bar_chart.h"
#include "ui/widgets/gantt.h"
#include "ui/widgets/insight_charts.h"
#include "ui/widgets/plot.h"

namespace ts::ui {
namespace {

constexpr double kProfileInterval = 1.0;     // seconds between RequestProfile while open
constexpr double kRowsInterval = 0.25;       // seconds between rebuilds of the kernel table
constexpr size_t kStackedFamilies = 5;       // the bandwidth chart's kernels before "other"
constexpr ImU32 kCeilingColor = IM_COL32(230, 180, 80, 255);
constexpr ImU32 kSelectedRow = IM_COL32(230, 180, 80, 60);

std::string Printf(const char* format, double value) {
  char text[64];
  std::snprintf(text, sizeof text, format, value);
  return text;
}

// A separator with a heading (ImGui 1.86 has no SeparatorText).
void SeparatorText(const char* text) {
  ImGui::Spacing();
  ImGui::TextUnformatted(text);
  ImGui::Separator();
}

void Muted(const char* text) {
  ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetColorU32(ImGuiCol_TextDisabled));
  ImGui::TextWrapped("%s", text);
  ImGui::PopStyleColor();
}

std::string Bytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024 && u < 4) bytes /= 1024, ++u;
  char text[32];
  std::snprintf(text, sizeof text, u == 0 ? "%.0f %s" : "%.2f %s", bytes, units[u]);
  return text;
}

// What the window keeps between frames that is not AppState: caches built
// per event (stacked series, timeline bars, device model), the occupancy
// what-if settings, and chart views. Reset when the ImGui context changes.
struct PanelUi {
  ImGuiContext* context = nullptr;
  std::string rows_error;
  // Bandwidth: stacked series, rebuilt when the history changes.
  size_t stacked_points = 0;
  double stacked_last_x = -1;
  std::vector<std::string> stacked_labels;
  std::vector<std::vector<double>> stacked;
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
  int occupancy_kernel = 0;               // index into the occupancy kernel list
  std::string what_if_for;                // the kernel the sliders were last set from
  int what_if_workgroup = 64, what_if_shared = 0, what_if_registers = 32;
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

PanelUi& Ui() {
  static PanelUi ui;
  if (ui.context != ImGui::GetCurrentContext()) ui = PanelUi{}, ui.context = ImGui::GetCurrentContext();
  return ui;
}

const profile::Ceilings* CeilingsOf(const AppState& state) {
  return state.insight.ceilings ? &state.insight.ceilings->ceilings : nullptr;
}

// The kernel rows, rebuilt from the averaged per-dispatch times a few times a second.
void RefreshRows(AppState& state, PanelUi& ui, double now) {
  InsightView& insight = state.insight;
  const TrainingView& view = state.training;
  if (now - insight.rows_built_at < kRowsInterval || !state.device) return;
  insight.rows_built_at = now;
  if (view.dispatches.empty() || view.dispatch_ns.size() != view.dispatches.size()) {
    insight.rows.clear();
    return;
  }
  std::vector<uint64_t> measured;
  if (insight.profile && insight.profile->measured_invocations.size() == view.dispatches.size())
    measured = insight.profile->measured_invocations;
  try {
    insight.rows = profile::BuildKernelTable(view.dispatches, view.dispatch_ns, state.model ? &*state.model : nullptr,
                                             CeilingsOf(state), *state.device, measured);
    profile::SortKernelTable(insight.rows, insight.sort_column, insight.sort_ascending);
    ui.rows_error.clear();
  } catch (const Error& e) {
    ui.rows_error = e.what();
    insight.rows.clear();
  }
}

std::string LayerLabel(const profile::KernelRow& row) { return row.layer_name.empty() ? "-" : row.layer_name; }

// ---------------------------------------------------------------------------
// Kernels
// ---------------------------------------------------------------------------

void DrawKernelsTab(AppState& state) {
  InsightView& insight = state.insight;
  if (insight.rows.empty()) {
    Muted("Start training to see each kernel's time, rates and geometry.");
    return;
  }
  if (!insight.ceilings)
    Muted(insight.measuring ? "Measuring the device's ceilings... (% of peak and the bound follow)"
                            : "No ceilings measured: % of peak and the bound are blank.");
  ImGui::TextDisabled("Click a row to select its layer (the Model panel's diagram shows it). Click a header to sort.");
  static const struct {
    const char* name;
    profile::KernelColumn column;
    bool sortable;
    const char* help;
  } kColumns[] = {
      {"kernel", profile::KernelColumn::kKernel, true, "the shader family"},
      {"layer", profile::KernelColumn::kLayer, true, "the layer the dispatches belong to"},
      {"pass", profile::KernelColumn::kPass, true, "forward, backward, update, ..."},
      {"calls", profile::KernelColumn::kCalls, true, "dispatches per training step"},
      {"time us", profile::KernelColumn::kTime, true, "GPU time per step (mean, microseconds)"},
      {"share", profile::KernelColumn::kShare, true, "of the step's GPU time"},
      {"FLOPs", profile::KernelColumn::kFlops, true, "declared floating-point operations per step"},
      {"bytes", profile::KernelColumn::kBytes, true, "declared bytes read + written per step"},
      {"GFLOP/s", profile::KernelColumn::kGflops, true, "achieved: FLOPs / time"},
      {"GB/s", profile::KernelColumn::kGbs, true, "achieved: bytes / time"},
      {"% peak FLOP/s", profile::KernelColumn::kPercentPeakFlops, true, "of the measured FMA ceiling"},
      {"% peak BW", profile::KernelColumn::kPercentPeakBandwidth, true, "of the measured copy bandwidth"},
      {"FLOP/B", profile::KernelColumn::kIntensity, true, "arithmetic intensity: FLOPs per byte"},
      {"bound", profile::KernelColumn::kBound, true, "which roofline ceiling limits it (left or right of the ridge)"},
      {"workgroup", profile::KernelColumn::kWorkgroupSize, true, "local size x, y, z (CUDA: block)"},
      {"workgroups", profile::KernelColumn::kWorkgroups, true, "grid x, y, z (CUDA: grid)"},
      {"invocations", profile::KernelColumn::kInvocations, true, "declared: workgroups x local size (CUDA: threads)"},
      {"subgroups/wg", profile::KernelColumn::kSubgroups, true, "subgroups (warps / waves) per workgroup"},
      {"shared/wg", profile::KernelColumn::kSharedMemory, true, "shared memory per workgroup"},
      {"measured inv.", profile::KernelColumn::kInvocations, false,
       "invocations counted by the pipeline-statistics query; (!) when they differ from the declared count"},
  };
  constexpr int kCount = static_cast<int>(std::size(kColumns));
  const ImGuiTableFlags flags = ImGuiTableFlags_Sortable | ImGuiTableFlags_Resizable | ImGuiTableFlags_ScrollX |
                                ImGuiTableFlags_ScrollY | ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersV |
                                ImGuiTableFlags_BordersOuter | ImGuiTableFlags_Hideable | ImGuiTableFlags_SizingFixedFit;
  if (!ImGui::BeginTable("kernels", kCount, flags, ImVec2(0, ImGui::GetContentRegionAvail().y))) return;
  ImGui::TableSetupScrollFreeze(1, 1);
  for (int c = 0; c < kCount; ++c) {
    ImGuiTableColumnFlags column_flags = kColumns[c].sortable ? 0 : ImGuiTableColumnFlags_NoSort;
    if (kColumns[c].column == profile::KernelColumn::kTime && kColumns[c].sortable)
      column_flags |= ImGuiTableColumnFlags_DefaultSort | ImGuiTableColumnFlags_PreferSortDescending;
    ImGui::TableSetupColumn(kColumns[c].name, column_flags, 0.0f, static_cast<ImGuiID>(c));
  }
  ImGui::TableNextRow(ImGuiTableRowFlags_Headers);
  for (int c = 0; c < kCount; ++c) {
    ImGui::TableSetColumnIndex(c);
    ImGui::TableHeader(kColumns[c].name);
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", kColumns[c].help);
  }
  if (ImGuiTableSortSpecs* specs = ImGui::TableGetSortSpecs(); specs && specs->SpecsDirty) {
    if (specs->SpecsCount > 0) {
      const ImGuiTableColumnSortSpecs& spec = specs->Specs[0];
      insight.sort_column = kColumns[spec.ColumnUserID].column;
      insight.sort_ascending = spec.SortDirection == ImGuiSortDirection_Ascending;
      profile::SortKernelTable(insight.rows, insight.sort_column, insight.sort_ascending);
    }
    specs->SpecsDirty = false;
  }
  const bool peaks = insight.ceilings != nullptr;
  for (size_t i = 0; i < insight.rows.size(); ++i) {
    const profile::KernelRow& row = insight.rows[i];
    ImGui::PushID(static_cast<int>(i));
    ImGui::TableNextRow();
    const bool selected = row.layer >= 0 && row.layer == insight.selected_layer;
    if (selected) ImGui::TableSetBgColor(ImGuiTableBgTarget_RowBg1, kSelectedRow);
    ImGui::TableNextColumn();
    if (ImGui::Selectable(row.kernel.c_str(), selected, ImGuiSelectableFlags_SpanAllColumns))
      insight.selected_layer = selected ? -1 : row.layer;
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s\n%zu dispatch(es) grouped", row.label.c_str(), row.dispatches.size());
    ImGui::TableNextColumn();
    ImGui::TextUnformatted(LayerLabel(row).c_str());
    ImGui::TableNextColumn();
    ImGui::TextUnformatted(nn::PassName(row.pass));
    ImGui::TableNextColumn();
    ImGui::Text("%u", row.calls_per_step);
    ImGui::TableNextColumn();
    ImGui::Text("%.1f", row.time_ns / 1e3);
    ImGui::TableNextColumn();
    ImGui::Text("%.1f%%", row.share * 100);
    ImGui::TableNextColumn();
    ImGui::TextUnformatted(FormatCount(row.flops).c_str());
    ImGui::TableNextColumn();
    ImGui::TextUnformatted(Bytes(row.bytes).c_str());
    ImGui::TableNextColumn();
    ImGui::Text("%.2f", row.gflops);
    ImGui::TableNextColumn();
    ImGui::Text("%.2f", row.gbs);
    ImGui::TableNextColumn();
    if (peaks) ImGui::Text("%.1f%%", row.percent_peak_flops); else ImGui::TextDisabled("-");
    ImGui::TableNextColumn();
    if (peaks) ImGui::Text("%.1f%%", row.percent_peak_bandwidth); else ImGui::TextDisabled("-");
    ImGui::TableNextColumn();
    ImGui::Text("%.3g", row.intensity);
    ImGui::TableNextColumn();
    ImGui::TextUnformatted(profile::BoundName(row.bound));
    ImGui::TableNextColumn();
    ImGui::Text("%u x %u x %u", row.local_size[0], row.local_size[1], row.local_size[2]);
    ImGui::TableNextColumn();
    ImGui::Text("%u x %u x %u", row.workgroups[0], row.workgroups[1], row.workgroups[2]);
    ImGui::TableNextColumn();
    ImGui::TextUnformatted(FormatCount(double(row.invocations)).c_str());
    ImGui::TableNextColumn();
    ImGui::Text("%u", row.subgroups_per_workgroup);
    ImGui::TableNextColumn();
    ImGui::TextUnformatted(Bytes(row.shared_memory_bytes).c_str());
    ImGui::TableNextColumn();
    if (!row.measured_invocations) {
      ImGui::TextDisabled("-");
    } else if (row.invocation_mismatch) {
      ImGui::TextColored(ImVec4(1.0f, 0.45f, 0.4f, 1.0f), "%s (!)", FormatCount(double(*row.measured_invocations)).c_str());
      if (ImGui::IsItemHovered())
        ImGui::SetTooltip("Measured %llu invocations, declared %llu: the dispatch geometry and the\n"
                          "kernel's declared cost disagree.",
                          static_cast<unsigned long long>(*row.measured_invocations),
                          static_cast<unsigned long long>(row.invocations));
    } else {
      ImGui::TextUnformatted(FormatCount(double(*row.measured_invocations)).c_str());
    }
    ImGui::PopID();
  }
  ImGui::EndTable();
}

// ---------------------------------------------------------------------------
// Bandwidth
// ---------------------------------------------------------------------------

void RebuildStacks(const AppState& state, PanelUi& ui) {
  const InsightView& insight = state.insight;
  const double last_x = insight.bandwidth_x.empty() ? -1 : insight.bandwidth_x.back();
  const double peak = insight.ceilings ? insight.ceilings->ceilings.bandwidth_gbs : 0;
  if (ui.stacked_points == insight.bandwidth_x.size() && ui.stacked_last_x == last_x &&
      (ui.peak_y.empty() ? 0 : ui.peak_y[0]) == peak)
    return;
  ui.stacked_points = insight.bandwidth_x.size();
  ui.stacked_last_x = last_x;
  std::vector<double> totals;
  for (const auto& series : insight.bandwidth_by_family) totals.push_back(std::accumulate(series.begin(), series.end(), 0.0));
  std::vector<size_t> top = TopGroups(totals, kStackedFamilies);
  std::vector<std::vector<double>> layers;
  ui.stacked_labels.clear();
  ui.stacked_colors.clear();
  for (size_t k = 0; k < top.size(); ++k) {
    layers.push_back(insight.bandwidth_by_family[top[k]]);
    ui.stacked_labels.push_back(insight.families[top[k]]);
    ui.stacked_colors.push_back(ClassColor(static_cast<int>(k)));
  }
  if (top.size() < insight.families.size()) {
    std::vector<double> other(insight.bandwidth_x.size(), 0.0);
    for (size_t f = 0; f < insight.families.size(); ++f)
      if (std::find(top.begin(), top.end(), f) == top.end())
        for (size_t i = 0; i < other.size() && i < insight.bandwidth_by_family[f].size(); ++i)
          other[i] += insight.bandwidth_by_family[f][i];
    layers.push_back(std::move(other));
    ui.stacked_labels.push_back("other");
    ui.stacked_colors.push_back(IM_COL32(150, 150, 150, 255));
  }
  StackCumulative(layers);
  ui.stacked = std::move(layers);
  ui.peak_x.clear();
  ui.peak_y.clear();
  if (peak > 0 && !insight.bandwidth_x.empty())
    ui.peak_x = {insight.bandwidth_x.front(), insight.bandwidth_x.back()}, ui.peak_y = {peak, peak};
}

void DrawBandwidthTab(AppState& state, PanelUi& ui) {
  const InsightView& insight = state.insight;
  RebuildStacks(state, ui);
  if (insight.bandwidth_x.empty()) {
    Muted("Start training to see the achieved bandwidth of each step.");
    return;
  }
  ImGui::TextDisabled("Each band: a kernel family's bytes / the step's GPU time; the top of the stack is the "
                      "step's achieved GB/s.");
  std::vector<PlotSeries> series;
  // Tallest (cumulative) first, so each lower band paints over the one above.
  for (size_t k = ui.stacked.size(); k-- > 0;)
    series.push_back({.label = ui.stacked_labels[k].c_str(), .x = insight.bandwidth_x, .y = ui.stacked[k],
                      .color = ui.stacked_colors[k], .thickness = 1.0f, .smooth = false, .fill = true});
  // The peak as a dashed line when the steps come within reach of it; far above, the bands would flatten to nothing.
  double highest = 0;
  if (!ui.stacked.empty())
    for (double v : ui.stacked.back()) highest = std::max(highest, std::isfinite(v) ? v : 0.0);
  const bool peak_on_chart = !ui.peak_x.empty() && ui.peak_y[0] <= 5 * highest;
  if (!ui.peak_x.empty() && !peak_on_chart)
    ImGui::Text("Measured peak: %.1f GB/s (off the chart: the steps reach at most %.2f%% of it)", ui.peak_y[0],
                100 * highest / ui.peak_y[0]);
  if (peak_on_chart)
    series.push_back({.label = "measured peak", .x = ui.peak_x, .y = ui.peak_y, .color = kCeilingColor,
                      .thickness = 2.0f, .dashed = true, .smooth = false});
  else if (ui.peak_x.empty())
    Muted(insight.measuring ? "Measuring the peak bandwidth..." : "No measured peak bandwidth yet.");
  Plot("bandwidth", ui.bandwidth_view,
       {.title = "Achieved bandwidth per step", .x_label = "step", .y_label = "GB/s", .size = ImVec2(0, -4),
        .y_fit_min = 0},
       series);
  state.insight.drawn.bandwidth_points = static_cast<uint32_t>(insight.bandwidth_x.size());
}

// ---------------------------------------------------------------------------
// Roofline
// ---------------------------------------------------------------------------

void DrawRooflineTab(AppState& state) {
  InsightView& insight = state.insight;
  const profile::Ceilings* ceilings = CeilingsOf(state);
  if (insight.rows.empty()) {
    Muted("Start training to place each kernel on the roofline.");
    return;
  }
  const double peak_flops = ceilings ? ceilings->fp32_gflops : 0, peak_gbs = ceilings ? ceilings->bandwidth_gbs : 0;
  const double ridge = RidgeIntensity(peak_flops, peak_gbs);
  if (ceilings)
    ImGui::Text("Ceilings: %.1f GFLOP/s compute, %.1f GB/s memory; ridge at %.2f FLOP/byte", peak_flops, peak_gbs, ridge);
  else
    Muted(insight.measuring ? "Measuring the ceilings... the dots are placed already."
                            : "No ceilings measured (Ceilings tab): the dots are placed without the roof.");
  ImGui::TextDisabled("Dot area: share of the step's GPU time. Left of the ridge: memory-bound; right: compute-bound.");

  std::vector<double> xs, ys;
  for (const profile::KernelRow& row : insight.rows)
    if (row.intensity > 0 && row.gflops > 0) xs.push_back(row.intensity), ys.push_back(row.gflops);
  if (ridge > 0) xs.push_back(ridge), ys.push_back(peak_flops);
  const ChartPoint x_range = LogRangeOf(xs, 0.3), y_range = LogRangeOf(ys, 0.3);
  const PlotAxis x_axis{x_range.x, x_range.y, true}, y_axis{y_range.x, y_range.y, true};

  const ImVec2 origin = ImGui::GetCursorScreenPos();
  const ImVec2 size(std::max(ImGui::GetContentRegionAvail().x, 200.0f), std::max(ImGui::GetContentRegionAvail().y - 4, 160.0f));
  ImGui::InvisibleButton("##roofline", size);
  const bool hovered = ImGui::IsItemHovered(), clicked = ImGui::IsItemClicked(ImGuiMouseButton_Left);
  const ImVec2 margins = AxesMargins(y_axis, size.y, true, true);
  const float font = ImGui::GetFontSize();
  const ImVec2 data_min(origin.x + margins.x, origin.y + font * 0.5f);
  const ImVec2 data_max(origin.x + size.x - font, origin.y + size.y - margins.y);
  if (!(data_max.x - data_min.x > 20 && data_max.y - data_min.y > 20)) return;
  ImDrawList* draw = ImGui::GetWindowDrawList();
  DrawAxes(draw, data_min, data_max, x_axis, y_axis, "arithmetic intensity (FLOP / byte)", "GFLOP/s");
  const auto to_screen = [&](double x, double y) {
    return ImVec2(data_min.x + static_cast<float>(x_axis.ToUnit(x)) * (data_max.x - data_min.x),
                  data_max.y - static_cast<float>(y_axis.ToUnit(y)) * (data_max.y - data_min.y));
  };
  draw->PushClipRect(data_min, data_max, true);
  std::vector<ChartPoint> roof = RooflineCeiling(peak_flops, peak_gbs, x_axis.min, x_axis.max);
  for (size_t k = 1; k < roof.size(); ++k)
    draw->AddLine(to_screen(roof[k - 1].x, roof[k - 1].y), to_screen(roof[k].x, roof[k].y), kCeilingColor, 2.0f);
  if (ridge > 0) {
    const ImVec2 p = to_screen(ridge, peak_flops);
    for (float y = p.y; y < data_max.y; y += 8) draw->AddLine(ImVec2(p.x, y), ImVec2(p.x, std::min(y + 4, data_max.y)), kCeilingColor);
    draw->AddCircleFilled(p, 4, kCeilingColor);
    const std::string label = "ridge " + Printf("%.2f", ridge) + " FLOP/B";
    const float label_width = ImGui::CalcTextSize(label.c_str()).x;
    draw->AddText(ImVec2(p.x + 6 + label_width <= data_max.x ? p.x + 6 : p.x - 6 - label_width, p.y + 4), kCeilingColor,
                  label.c_str());
    const std::string slope = Printf("%.1f GB/s", peak_gbs), flat = Printf("%.1f GFLOP/s", peak_flops);
    draw->AddText(ImVec2(std::max(data_min.x + 4, p.x - ImGui::CalcTextSize(flat.c_str()).x - 40), p.y - font - 4),
                  kCeilingColor, flat.c_str());
    const ImVec2 s = to_screen(std::max(x_axis.min * 1.5, ridge / 30), std::max(x_axis.min * 1.5, ridge / 30) * peak_gbs);
    draw->AddText(ImVec2(s.x + 4, s.y - font - 2), kCeilingColor, slope.c_str());
  }
  // Dots, largest first so small ones stay visible on top.
  std::vector<size_t> order(insight.rows.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return insight.rows[a].share > insight.rows[b].share; });
  const float max_radius = std::min(data_max.x - data_min.x, data_max.y - data_min.y) * 0.08f;
  const ImVec2 mouse = ImGui::GetIO().MousePos;
  int hovered_row = -1;
  float hovered_distance = 1e9f;
  uint32_t dots = 0;
  for (size_t i : order) {
    const profile::KernelRow& row = insight.rows[i];
    if (!(row.intensity > 0 && row.gflops > 0)) continue;
    const ImVec2 p = to_screen(row.intensity, row.gflops);
    const float r = DotRadius(row.share, max_radius, 3.0f);
    const bool selected = row.layer >= 0 && row.layer == insight.selected_layer;
    const ImU32 color = PassColor(row.pass);
    draw->AddCircleFilled(p, r, (color & ~IM_COL32_A_MASK) | IM_COL32(0, 0, 0, 170));
    draw->AddCircle(p, r, selected ? IM_COL32(255, 255, 255, 255) : color, 0, selected ? 2.5f : 1.0f);
    ++dots;
    const float d = std::hypot(mouse.x - p.x, mouse.y - p.y);
    if (hovered && d <= std::max(r, 5.0f) && d < hovered_distance) hovered_row = static_cast<int>(i), hovered_distance = d;
  }
  draw->PopClipRect();
  // A legend of passes, top-left inside the chart.
  float lx = data_min.x + 6, ly = data_min.y + 4;
  for (nn::Pass pass : {nn::Pass::kData, nn::Pass::kForward, nn::Pass::kLoss, nn::Pass::kBackward, nn::Pass::kUpdate,
                        nn::Pass::kMetrics}) {
    draw->AddCircleFilled(ImVec2(lx + 5, ly + font * 0.5f), 5, PassColor(pass));
    draw->AddText(ImVec2(lx + 14, ly), ImGui::GetColorU32(ImGuiCol_Text, 0.8f), nn::PassName(pass));
    lx += 24 + ImGui::CalcTextSize(nn::PassName(pass)).x;
  }
  insight.drawn.dots = dots;
  if (hovered_row >= 0) {
    const profile::KernelRow& row = insight.rows[hovered_row];
    ImGui::BeginTooltip();
    ImGui::Text("%s  (%s, %s)", row.kernel.c_str(), LayerLabel(row).c_str(), nn::PassName(row.pass));
    ImGui::Text("%.3g FLOP/byte, %.3g GFLOP/s, %.3g GB/s", row.intensity, row.gflops, row.gbs);
    ImGui::Text("%.1f us per step, %.1f%% of the step", row.time_ns / 1e3, row.share * 100);
    if (ceilings)
      ImGui::Text("attainable here: %.3g GFLOP/s (%s-bound); %.1f%% of it reached",
                  std::min(peak_flops, row.intensity * peak_gbs), profile::BoundName(row.bound),
                  100 * row.gflops / std::max(1e-12, std::min(peak_flops, row.intensity * peak_gbs)));
    ImGui::TextDisabled("click to select its layer");
    ImGui::EndTooltip();
    if (clicked) insight.selected_layer = row.layer;
  }
}

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
  ImGui::Text("Steps %llu..%llu (%u in one submission): %.2f ms, the device busy %.0f%% of it",
              static_cast<unsigned long long>(timeline.first_global_step + 1),
              static_cast<unsigned long long>(timeline.first_global_step + timeline.steps), timeline.steps,
              duration / 1e6, duration > 0 ? 100 * busy / duration : 0.0);
  if (!timeline.clocks_calibrated) {
    ImGui::SameLine();
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
  ImGui::TextDisabled("Wheel: zoom, drag: pan, double-click: fit. Hover a bar for its name and duration.");
  static const char* const kLanes[] = {"host", "device"};
  const float height = std::max(ImGui::GetFrameHeight() * 5, ImGui::GetContentRegionAvail().y - ImGui::GetFrameHeightWithSpacing() * 2.2f);
  Gantt("timeline", ui.timeline_view, kLanes, ui.timeline_bars,
        {.x_label = "us", .size = ImVec2(0, std::min(height, ImGui::GetFrameHeight() * 9))});
  insight.drawn.timeline_events = static_cast<uint32_t>(ui.timeline_bars.size());

  ImGui::SetNextItemWidth(std::max(200.0f, ImGui::GetContentRegionAvail().x * 0.5f));
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
  ImGui::Text("Tensors and data: %s of the %s device-local heap (%.2f%%)", Bytes(double(memory.total)).c_str(),
              Bytes(double(memory.heap_size)).c_str(),
              memory.heap_size ? 100.0 * double(memory.total) / double(memory.heap_size) : 0.0);
  if (memory.budget_reported)
    ImGui::Text("Driver's budget for this process: %s; in use by it: %s (VK_EXT_memory_budget)",
                Bytes(double(memory.budget)).c_str(), Bytes(double(memory.usage)).c_str());
  else
    ImGui::TextDisabled("Budget: not reported by this driver (no VK_EXT_memory_budget).");
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
          .size = ImVec2(0, std::max(160.0f, ImGui::GetContentRegionAvail().y - 4)), .show_legend = false, .y_fit_min = 0},
         std::span(&series, 1), std::span(&marker, 1));
  }
}

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

std::string FigureText(const profile::Figure& figure, const char* format = "%.0f") {
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

void DrawOccupancyTab(AppState& state, PanelUi& ui) {
  InsightView& insight = state.insight;
  const profile::DeviceModel* model = DeviceModelOf(state, ui);
  if (!model) {
    Muted(ui.device_model_error.empty() ? "No device." : ui.device_model_error.c_str());
    return;
  }
  ImGui::Text("%s, %s: %.0f compute units x %.0f-wide subgroups", model->vendor.c_str(), model->architecture.c_str(),
              model->compute_units.value, model->subgroup_size.value);
  ImGui::SameLine();
  ImGui::TextDisabled("(\"modelled\": from the vendor table, not told by the driver)");
  if (ImGui::CollapsingHeader("Device model")) {
    if (ImGui::BeginTable("device_model", 3, ImGuiTableFlags_SizingFixedFit | ImGuiTableFlags_RowBg)) {
      FigureRow("compute units", model->compute_units);
      FigureRow("subgroup size", model->subgroup_size);
      FigureRow("max subgroups per unit", model->max_subgroups_per_unit);
      FigureRow("max workgroups per unit", model->max_workgroups_per_unit);
      FigureRow("registers per unit", model->registers_per_unit);
      FigureRow("max registers per invocation", model->max_registers_per_invocation);
      FigureRow("register granularity", model->register_granularity);
      FigureRow("shared memory per unit (B)", model->shared_memory_per_unit);
      FigureRow("shared memory per workgroup max (B)", model->shared_memory_per_workgroup_max);
      FigureRow("shared memory granularity (B)", model->shared_memory_granularity);
      FigureRow("shared memory reserved per workgroup (B)", model->shared_memory_reserved_per_workgroup);
      FigureRow("clock (MHz)", model->clock_mhz);
      FigureRow("FP32 FLOPs per clock per unit", model->fp32_flops_per_clock_per_unit);
      ImGui::EndTable();
    }
  }
  if (insight.rows.empty()) {
    Muted("Start training to see each kernel's occupancy.");
    return;
  }
  // One line per kernel row: its resources and theoretical occupancy.
  std::vector<profile::Occupancy> occupancies;
  for (const profile::KernelRow& row : insight.rows) {
    profile::KernelResources resources;
    resources.workgroup_invocations = row.local_size[0] * row.local_size[1] * row.local_size[2];
    resources.shared_memory_bytes = row.shared_memory_bytes;
    double registers = row.dispatches.empty() || row.dispatches[0] >= state.training.dispatches.size()
                           ? 0 : state.training.dispatches[row.dispatches[0]].registers;
    resources.registers_per_invocation = registers > 0 ? profile::Figure{registers, profile::Source::kExposed, "VK_KHR_pipeline_executable_properties"}
                                                       : profile::ModelledRegisters(row.kernel, resources.workgroup_invocations);
    occupancies.push_back(profile::ComputeOccupancy(*model, resources));
  }
  ui.occupancy_kernel = std::clamp(ui.occupancy_kernel, 0, static_cast<int>(insight.rows.size()) - 1);
  const float table_height = std::min(ImGui::GetTextLineHeightWithSpacing() * (insight.rows.size() + 1.5f),
                                      ImGui::GetContentRegionAvail().y * 0.35f);
  if (ImGui::BeginTable("occupancy", 7, ImGuiTableFlags_ScrollY | ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersV |
                                            ImGuiTableFlags_SizingFixedFit | ImGuiTableFlags_Resizable,
                        ImVec2(0, table_height))) {
    ImGui::TableSetupScrollFreeze(0, 1);
    for (const char* name : {"kernel (layer, pass)", "workgroup", "registers", "workgroups/unit", "subgroups/unit",
                             "occupancy", "limiter"})
      ImGui::TableSetupColumn(name);
    ImGui::TableHeadersRow();
    for (size_t i = 0; i < insight.rows.size(); ++i) {
      const profile::KernelRow& row = insight.rows[i];
      const profile::Occupancy& o = occupancies[i];
      ImGui::PushID(static_cast<int>(i));
      ImGui::TableNextRow();
      ImGui::TableNextColumn();
      const std::string name = row.kernel + " (" + LayerLabel(row) + ", " + nn::PassName(row.pass) + ")";
      if (ImGui::Selectable(name.c_str(), ui.occupancy_kernel == static_cast<int>(i), ImGuiSelectableFlags_SpanAllColumns)) {
        ui.occupancy_kernel = static_cast<int>(i);
        insight.selected_layer = row.layer;
      }
      if (ImGui::IsItemHovered() && !o.explanation.empty()) ImGui::SetTooltip("%s", o.explanation.c_str());
      ImGui::TableNextColumn();
      ImGui::Text("%u", row.local_size[0] * row.local_size[1] * row.local_size[2]);
      ImGui::TableNextColumn();
      const double registers = row.dispatches.empty() || row.dispatches[0] >= state.training.dispatches.size()
                                   ? 0 : state.training.dispatches[row.dispatches[0]].registers;
      if (registers > 0) ImGui::Text("%.0f", registers); else ImGui::TextDisabled("modelled");
      ImGui::TableNextColumn();
      ImGui::Text("%u", o.active_workgroups_per_unit);
      ImGui::TableNextColumn();
      ImGui::Text("%u", o.active_subgroups_per_unit);
      ImGui::TableNextColumn();
      ImGui::Text("%.0f%%%s", o.occupancy * 100, o.modelled ? " (modelled)" : "");
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(profile::LimiterName(o.limiter));
      ImGui::PopID();
    }
    ImGui::EndTable();
  }
  insight.drawn.occupancy_kernels = static_cast<uint32_t>(insight.rows.size());

  // What if: the selected kernel with other resources.
  const profile::KernelRow& row = insight.rows[ui.occupancy_kernel];
  const std::string key = row.kernel + "/" + LayerLabel(row) + "/" + nn::PassName(row.pass);
  if (ui.what_if_for != key) {
    ui.what_if_for = key;
    ui.what_if_workgroup = static_cast<int>(std::max(1u, row.local_size[0] * row.local_size[1] * row.local_size[2]));
    ui.what_if_shared = static_cast<int>(row.shared_memory_bytes);
    ui.what_if_registers = static_cast<int>(std::lround(profile::ModelledRegisters(row.kernel, ui.what_if_workgroup).value));
  }
  SeparatorText("What if (theoretical)");
  const int max_invocations = static_cast<int>(std::max(1u, state.device ? state.device->max_workgroup_invocations : 1024u));
  const int max_shared = static_cast<int>(std::max(1.0, model->shared_memory_per_workgroup_max.value));
  ImGui::PushItemWidth(ImGui::GetContentRegionAvail().x * 0.16f);
  ImGui::SliderInt("workgroup size", &ui.what_if_workgroup, 1, max_invocations, "%d", ImGuiSliderFlags_Logarithmic);
  ImGui::SameLine();
  ImGui::SliderInt("shared memory / wg (B)", &ui.what_if_shared, 0, max_shared, "%d", ImGuiSliderFlags_Logarithmic);
  ImGui::SameLine();
  ImGui::SliderInt("registers / invocation", &ui.what_if_registers, 1,
                   static_cast<int>(std::max(2.0, model->max_registers_per_invocation.value)));
  ImGui::PopItemWidth();
  profile::KernelResources what_if;
  what_if.workgroup_invocations = static_cast<uint32_t>(ui.what_if_workgroup);
  what_if.shared_memory_bytes = static_cast<uint32_t>(ui.what_if_shared);
  what_if.registers_per_invocation = {double(ui.what_if_registers), profile::Source::kUser, "the slider"};
  const profile::Occupancy o = profile::ComputeOccupancy(*model, what_if);
  ImGui::Text("%u workgroups and %u subgroups per unit: %.0f%% occupancy%s, limited by %s", o.active_workgroups_per_unit,
              o.active_subgroups_per_unit, o.occupancy * 100, o.modelled ? " (modelled)" : "", profile::LimiterName(o.limiter));
  if (!o.explanation.empty()) Muted(o.explanation.c_str());
  const auto limit = [](uint32_t v) { return v == UINT32_MAX ? NAN : double(v); };
  const Bar limits[] = {{"workgroup slots", limit(o.by_workgroup_slots), o.limiter == profile::Limiter::kWorkgroupSlots ? "limiter" : nullptr},
                        {"subgroup slots", limit(o.by_subgroup_slots), o.limiter == profile::Limiter::kSubgroupSlots ? "limiter" : nullptr},
                        {"registers", limit(o.by_registers), o.limiter == profile::Limiter::kRegisters ? "limiter" : nullptr},
                        {"shared memory", limit(o.by_shared_memory), o.limiter == profile::Limiter::kSharedMemory ? "limiter" : nullptr}};
  ImGui::TextDisabled("Workgroups per unit each resource allows (n/a: no limit):");
  BarChart("limits", limits, {.value_format = "%.0f", .row_height = ImGui::GetFrameHeight() * 0.8f});

  // Try it: measure the kernel at the slider's workgroup size.
  const std::string family = profile::ExperimentKernelFor(row.kernel);
  if (family.empty()) {
    ImGui::TextDisabled("\"Try it\" is not available for %s.", row.kernel.c_str());
  } else {
    const std::array<uint32_t, 2> shape = ExperimentShape(state, row);
    ImGui::BeginDisabled(insight.experiment_running || !state.session);
    if (ImGui::Button("Try it")) {
      profile::ExperimentRequest request;
      request.kernel = family;
      request.shape = shape;
      request.workgroup_size = static_cast<uint32_t>(ui.what_if_workgroup);
      state.session->RunExperiment(request);
      insight.experiment_running = true;
    }
    ImGui::EndDisabled();
    RecordItemRect("insight_try_it");
    ImGui::SameLine();
    ImGui::TextDisabled("%s on %u x %u (%s) at workgroup size %d%s", family.c_str(), shape[0], shape[1],
                        profile::ExperimentShapeHelp(family).c_str(), ui.what_if_workgroup,
                        insight.experiment_running ? ": running..." : "");
  }
  if (!insight.experiments.empty() &&
      ImGui::BeginTable("experiments", 6, ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersV | ImGuiTableFlags_SizingFixedFit)) {
    for (const char* name : {"kernel", "shape", "workgroup", "predicted occupancy", "median us", "GB/s | GFLOP/s"})
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
      ImGui::TableNextColumn();
      ImGui::Text("%u x %u", r.request.shape[0], r.request.shape[1]);
      ImGui::TableNextColumn();
      ImGui::Text("%u", r.request.workgroup_size);
      ImGui::TableNextColumn();
      ImGui::Text("%.0f%%%s", predicted.occupancy * 100, predicted.modelled ? " (modelled)" : "");
      ImGui::TableNextColumn();
      if (r.error.empty()) ImGui::Text("%.1f", r.median_ns / 1e3); else ImGui::TextColored(ImVec4(1, 0.45f, 0.4f, 1), "failed");
      if (!r.error.empty() && ImGui::IsItemHovered()) ImGui::SetTooltip("%s", r.error.c_str());
      ImGui::TableNextColumn();
      if (r.error.empty()) ImGui::Text("%.2f | %.2f", r.gbs, r.gflops); else ImGui::TextDisabled("%s", r.error.c_str());
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
    ImGui::TextDisabled("This device has no device-wide shader clock (VK_KHR_shader_clock's shaderDeviceClock): no workgroup trace.");
  else if (insight.trace_requested)
    ImGui::TextDisabled(state.training.state == nn::SessionState::kRunning
                            ? "Recording: the next submission runs one step with every workgroup's start and end timed..."
                            : "Waiting: the trace is taken on the next training submission (train or step).");
  else
    ImGui::TextDisabled("Times every workgroup of one step with the shader clock.");
  if (!insight.trace) return;
  const nn::StepProfile& trace = *insight.trace;
  size_t records = 0;
  for (const vk::DispatchTrace& d : trace.trace) records += d.records.size();
  insight.drawn.workgroup_records = static_cast<uint32_t>(records);
  ImGui::Text("Step %llu traced: %zu workgroup records; step %.2f ms traced vs %.2f ms untraced (overhead x%.2f)",
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
  const float half = std::max(140.0f, ImGui::GetContentRegionAvail().y * 0.5f - 4);
  PlotSeries series{.label = "workgroups in flight", .x = ui.in_flight_x, .y = ui.in_flight_y, .thickness = 1.0f, .smooth = false, .fill = true};
  Plot("in_flight", ui.in_flight_view,
       {.title = "Workgroups in flight", .x_label = "us", .size = ImVec2(0, half), .show_legend = false, .y_fit_min = 0},
       std::span(&series, 1));
  const float row = std::clamp(half / std::max(1u, ui.lanes), 3.0f, ImGui::GetFrameHeight());
  Gantt("workgroups", ui.workgroup_view, ui.workgroup_label_ptrs, ui.workgroup_bars, {.x_label = "us", .row_height = row});
}

// ---------------------------------------------------------------------------
// Device
// ---------------------------------------------------------------------------

void Row(const char* name, const std::string& value) {
  ImGui::TableNextRow();
  ImGui::TableNextColumn();
  ImGui::TextDisabled("%s", name);
  ImGui::TableNextColumn();
  ImGui::TextWrapped("%s", value.c_str());
}

std::string Join(const std::vector<std::string>& words) {
  std::string text;
  for (const std::string& w : words) text += (text.empty() ? "" : ", ") + w;
  return text.empty() ? "none" : text;
}

std::string Triple(const std::array<uint32_t, 3>& v) {
  return std::to_string(v[0]) + " x " + std::to_string(v[1]) + " x " + std::to_string(v[2]);
}

void DrawDeviceTab(AppState& state) {
  if (!state.device) {
    Muted("No device.");
    return;
  }
  const vk::DeviceInfo& d = *state.device;
  ImGui::BeginChild("device", ImVec2(0, 0));
  if (ImGui::BeginTable("device_facts", 2, ImGuiTableFlags_SizingStretchProp | ImGuiTableFlags_RowBg)) {
    ImGui::TableSetupColumn("fact", ImGuiTableColumnFlags_WidthFixed, ImGui::GetFontSize() * 16);
    ImGui::TableSetupColumn("value", ImGuiTableColumnFlags_WidthStretch);
    Row("name", d.name);
    Row("type", vk::DeviceTypeName(d.type));
    char vendor[32];
    std::snprintf(vendor, sizeof vendor, "0x%04x", d.vendor_id);
    Row("vendor id", vendor);
    Row("driver", d.driver_name + " " + d.driver_info);
    Row("Vulkan API", vk::VersionString(d.api_version));
    Row("max workgroup size", Triple(d.max_workgroup_size));
    Row("max invocations per workgroup", std::to_string(d.max_workgroup_invocations));
    Row("max workgroup count", Triple(d.max_workgroup_count));
    Row("shared memory per workgroup", Bytes(d.max_shared_memory_bytes));
    Row("subgroup size", std::to_string(d.subgroup_size) +
                             (d.max_subgroup_size ? " (size control: " + std::to_string(d.min_subgroup_size) + " to " +
                                                        std::to_string(d.max_subgroup_size) + ")"
                                                  : " (no size control)"));
    Row("subgroup operations", Join(vk::SubgroupOperationNames(d.subgroup_operations)));
    Row("push constants", std::to_string(d.max_push_constants_bytes) + " B");
    Row("max storage buffer range", Bytes(double(d.max_storage_buffer_range)));
    Row("timestamp period", Printf("%.3g ns per tick", d.timestamp_period_ns) + ", " +
                                std::to_string(d.timestamp_valid_bits) + " valid bits");
    Row("shader clock", d.shader_clock ? (d.shader_device_clock ? "yes (device clock too)" : "yes (subgroup clock)") : "no");
    Row("pipeline statistics", d.pipeline_statistics ? "yes" : "no");
    ImGui::EndTable();
  }
  SeparatorText("Memory heaps and types");
  for (size_t h = 0; h < d.heaps.size(); ++h) {
    ImGui::Text("heap %zu: %s%s", h, Bytes(double(d.heaps[h].size_bytes)).c_str(), d.heaps[h].device_local ? ", device-local" : "");
    for (size_t t = 0; t < d.memory_types.size(); ++t)
      if (d.memory_types[t].heap == h)
        ImGui::BulletText("type %zu: %s", t, Join(vk::MemoryPropertyNames(d.memory_types[t].flags)).c_str());
  }
  SeparatorText("Extensions that decide what can be measured");
  uint32_t shown = 0;
  for (const std::string& extension : vk::ComputeRelevantExtensions()) {
    const bool present = d.has_extension(extension);
    ImGui::TextColored(present ? ImVec4(0.55f, 0.85f, 0.55f, 1) : ImVec4(0.6f, 0.6f, 0.6f, 1), "%s  %s",
                       present ? "present" : "absent ", extension.c_str());
    ++shown;
  }
  ImGui::TextDisabled("%zu device extensions in all.", d.extensions.size());
  state.insight.drawn.device_extensions = shown;
  ImGui::EndChild();
}

// ---------------------------------------------------------------------------
// Ceilings
// ---------------------------------------------------------------------------

void DrawCeilingsTab(AppState& state, PanelUi& ui) {
  InsightView& insight = state.insight;
  ImGui::BeginDisabled(insight.measuring || !state.session);
  if (ImGui::Button(insight.measuring ? "Measuring..." : "Re-measure")) MeasureCeilings(state, true);
  ImGui::EndDisabled();
  RecordItemRect("insight_remeasure");
  ImGui::SameLine();
  if (insight.measuring) ImGui::TextDisabled("measuring... (a few seconds, between training submissions)");
  if (!insight.ceilings) {
    if (!insight.measuring) Muted("Not measured yet.");
    return;
  }
  const profile::CachedCeilings& cached = *insight.ceilings;
  const profile::Ceilings& c = cached.ceilings;
  insight.drawn.ceilings = true;
  if (!insight.measuring)
    ImGui::TextDisabled("%s %s", cached.from_cache ? "cached, measured" : "measured just now,", cached.measured_at.c_str());
  if (ImGui::BeginTable("ceilings", 3, ImGuiTableFlags_SizingFixedFit | ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersV)) {
    ImGui::TableSetupColumn("ceiling");
    ImGui::TableSetupColumn("measured");
    ImGui::TableSetupColumn("how", ImGuiTableColumnFlags_WidthStretch);
    ImGui::TableHeadersRow();
    const auto line = [](const char* name, const std::string& value, const std::string& how) {
      ImGui::TableNextRow();
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(name);
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(value.c_str());
      ImGui::TableNextColumn();
      ImGui::TextWrapped("%s", how.c_str());
    };
    line("memory bandwidth", Printf("%.2f GB/s", c.bandwidth_gbs),
         "bytes read + written by a copy kernel (" + Bytes(double(c.copy_bytes)) + " each way) / its GPU time");
    line("fp32 compute", Printf("%.2f GFLOP/s", c.fp32_gflops),
         "FLOPs of FMA chains / their GPU time (result error " + Printf("%.1e", c.fma_result_error) + ")");
    line("upload", Printf("%.2f GB/s", c.upload_gbs), "host -> device through staging: bytes / wall time");
    line("download", Printf("%.2f GB/s", c.download_gbs), "device -> host through staging: bytes / wall time");
    line("empty submit", Printf("%.1f us", c.empty_submit_us), "submit an empty command buffer and wait (wall)");
    line("one dispatch", Printf("%.1f us", c.single_dispatch_us), "record + submit + wait one tiny dispatch (wall)");
    line("batched dispatch", Printf("%.1f us", c.batched_dispatch_us), "each of 100 tiny dependent dispatches in one command buffer (GPU)");
    ImGui::EndTable();
  }
  SeparatorText("Against the theoretical peak");
  if (const profile::DeviceModel* model = DeviceModelOf(state, ui)) {
    const double peak = model->theoretical_gflops();
    if (peak > 0) {
      ImGui::Text("FLOPS = units x clock x FLOPs per clock = %s x %s MHz x %s = %.1f GFLOP/s",
                  FigureText(model->compute_units).c_str(), FigureText(model->clock_mhz).c_str(),
                  FigureText(model->fp32_flops_per_clock_per_unit).c_str(), peak);
      ImGui::Text("efficiency = achieved / peak = %.2f / %.1f = %.1f%%", c.fp32_gflops, peak, 100 * c.fp32_gflops / peak);
    } else {
      // A CPU driver's clock and vector width are not in any table we can trust:
      // the measured ceiling is the only peak there is.
      ImGui::TextWrapped("FLOPS = units x clock x FLOPs per clock: %s units, but the clock and FLOPs per clock of "
                         "this %s device are not known, so there is no theoretical peak to compare with; the "
                         "measured %.2f GFLOP/s is the ceiling.",
                         FigureText(model->compute_units).c_str(), model->vendor.c_str(), c.fp32_gflops);
    }
    Muted("\"modelled\" figures come from the vendor table, not from the driver: the peak is an estimate.");
  }
  const uint64_t data = insight.dataset_bytes;
  if (data > 0 && c.upload_gbs > 0)
    ImGui::Text("transfer time = bytes / bandwidth: the dataset's %s uploads in %.3g ms at %.2f GB/s",
                Bytes(double(data)).c_str(), double(data) / c.upload_gbs / 1e6, c.upload_gbs);
  else
    ImGui::TextDisabled("transfer time = bytes / bandwidth (e.g. 100 MB at %.2f GB/s: %.1f ms)", c.upload_gbs,
                        c.upload_gbs > 0 ? 1e8 / c.upload_gbs / 1e6 : 0.0);
}

}  // namespace

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
  if (state.session && state.training.state == nn::SessionState::kRunning &&
      now - insight.last_profile_request >= kProfileInterval) {
    state.session->RequestProfile();
    insight.last_profile_request = now;
  }
  RefreshRows(state, ui, now);
  insight.drawn = {};
  ImGui::SetNextWindowBgAlpha(1.0f);  // it floats over the panels: they must not show through
  if (!ImGui::Begin("GPU insight", &insight.open)) {
    ImGui::End();
    return;
  }
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
