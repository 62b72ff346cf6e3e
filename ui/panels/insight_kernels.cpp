// GPU insight: the Kernels, Bandwidth and Roofline tabs.
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
#include "ui/widgets/roofline.h"

namespace ts::ui::insight {

// The kernel rows, rebuilt from the averaged per-dispatch times a few times a second.
void RefreshRows(AppState& state, PanelUi& ui, double now) {
  InsightView& insight = state.insight;
  const TrainingView& view = state.training;
  if (now - insight.rows_built_at < kRowsInterval || !state.device || ui.kernel_table_hovered) return;
  insight.rows_built_at = now;
  if (view.dispatches.empty() || view.dispatch_ns.size() != view.dispatches.size() || view.dispatch_ns_stale) {
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

// The row's kernel variants as one line: each distinct "variant (how)" once,
// with why a forced variant does not apply.
std::string VariantText(const profile::KernelRow& row) {
  std::vector<std::string> distinct;
  for (const profile::KernelVariant& v : row.variants) {
    std::string one = v.variant + " (" + v.how + (v.not_applied.empty() ? "" : "; " + v.not_applied) + ")";
    if (std::find(distinct.begin(), distinct.end(), one) == distinct.end()) distinct.push_back(std::move(one));
  }
  std::string text;
  for (const std::string& one : distinct) text += (text.empty() ? "" : "; ") + one;
  return text;
}
bool AnyVariant(const profile::KernelRow& row, bool (*test)(const profile::KernelVariant&)) {
  return std::any_of(row.variants.begin(), row.variants.end(), test);
}

// "Force variant": the session recompiles the step with the matmul and
// conv2d kernels forced (or back to the tuner's choice); the variant column
// and the roofline show what runs.
void DrawForceVariant(AppState& state) {
  InsightView& insight = state.insight;
  ImGui::BeginDisabled(!state.session);
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 12);
  if (ImGui::BeginCombo("force variant", nn::ForcedVariantName(insight.forced_variant))) {
    for (nn::ForcedVariant v : nn::kForcedVariants) {
      if (ImGui::Selectable(nn::ForcedVariantName(v), v == insight.forced_variant) && v != insight.forced_variant) {
        insight.forced_variant = v;
        state.session->SetForcedVariant(v);
      }
      RecordItemRect(std::string("force_variant ") + nn::ForcedVariantName(v));  // for the GUI tests
    }
    ImGui::EndCombo();
  }
  ImGui::EndDisabled();
  RecordItemRect("insight_force_variant");  // for the GUI tests
  ImGui::SameLine();
  Muted(insight.forced_variant == nn::ForcedVariant::kNone
            ? "matmul and conv2d kernels as the autotuner (matmul) and the kernels' rules (conv2d) choose"
            : "forced on matmul and conv2d kernels that have it; the variant column says where it does not apply");
}

void DrawKernelsTab(AppState& state) {
  InsightView& insight = state.insight;
  DrawForceVariant(state);
  if (insight.rows.empty()) {
    Muted(state.training.dispatch_ns_stale && !state.training.dispatches.empty()
              ? "The kernels changed: their times come with the next timed step (train or step)."
              : "Start training to see each kernel's time, rates and geometry.");
    insight.drawn.forced_rows = 0;
    return;
  }
  if (!insight.ceilings)
    Muted(insight.measuring ? "Measuring the device's ceilings... (% of peak and the bound follow)"
                            : "No ceilings measured: % of peak and the bound are blank.");
  Muted("Click a row to select its layer (the Model panel's diagram shows it). Click a header to sort. "
                      "Hover a row for its dispatches and, for matrix multiplies, the kernel variant chosen and "
                      "the alternatives the autotuner measured.");
  static const struct {
    const char* name;
    profile::KernelColumn column;
    bool sortable;
    const char* help;
  } kColumns[] = {
      {"kernel", profile::KernelColumn::kKernel, true, "the shader family"},
      {"layer", profile::KernelColumn::kLayer, true, "the layer the dispatches belong to"},
      {"pass", profile::KernelColumn::kPass, true, "forward, backward, update, ..."},
      {"variant", profile::KernelColumn::kKernel, false,
       "matmul and conv2d: the kernel variant in force and how it was chosen (default, forced, autotuned)"},
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
    RecordItemRect(std::string("kernels_header ") + kColumns[c].name);  // for the GUI tests
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
  uint32_t forced_rows = 0;
  for (size_t i = 0; i < insight.rows.size(); ++i) {
    const profile::KernelRow& row = insight.rows[i];
    const std::string key = profile::KeyText(profile::KeyOf(row));
    ImGui::PushID(key.c_str());  // the kernel, not the line: rows re-sort
    ImGui::TableNextRow();
    const bool selected = row.layer >= 0 && row.layer == insight.selected_layer;
    if (selected) ImGui::TableSetBgColor(ImGuiTableBgTarget_RowBg1, kSelectedRow);
    ImGui::TableNextColumn();
    if (ImGui::Selectable(row.kernel.c_str(), selected, ImGuiSelectableFlags_SpanAllColumns))
      insight.selected_layer = selected ? -1 : row.layer;
    RecordItemRect("kernels_row " + key);  // for the GUI tests: which kernel is on which line
    if (row.layer >= 0 && insight.drawn.first_layer_row < 0) {  // for the GUI tests: a row with a layer
      insight.drawn.first_layer_row = row.layer;
      RecordItemRect("insight_kernel_layer_row");
    }
    if (ImGui::IsItemHovered()) {
      ImGui::BeginTooltip();
      ImGui::Text("%s\n%zu dispatch(es) grouped", row.label.c_str(), row.dispatches.size());
      // Why this kernel: the variant each dispatch runs, and what the autotuner measured.
      for (const profile::KernelVariant& v : row.variants) {
        ImGui::Separator();
        ImGui::Text("%s: %s (%s)", v.label.c_str(), v.variant.c_str(), v.how.c_str());
        for (const auto& [name, ns] : v.alternatives_ns)
          ImGui::TextDisabled("  %-28s %9.1f us%s", name.c_str(), ns / 1e3, name == v.variant ? "  <- chosen" : "");
      }
      ImGui::EndTooltip();
    }
    ImGui::TableNextColumn();
    ImGui::TextUnformatted(LayerLabel(row).c_str());
    ImGui::TableNextColumn();
    ImGui::TextUnformatted(nn::PassName(row.pass));
    ImGui::TableNextColumn();
    const std::string variant = VariantText(row);
    const bool forced = AnyVariant(row, [](const profile::KernelVariant& v) { return v.how == "forced"; });
    forced_rows += forced;
    if (variant.empty())
      ImGui::TextDisabled("-");
    else if (AnyVariant(row, [](const profile::KernelVariant& v) { return !v.not_applied.empty(); }))
      ImGui::TextColored(ImVec4(1.0f, 0.7f, 0.35f, 1.0f), "%s", variant.c_str());
    else if (forced)
      ImGui::TextColored(ImVec4(0.55f, 0.85f, 1.0f, 1.0f), "%s", variant.c_str());
    else
      ImGui::TextUnformatted(variant.c_str());
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
  // Rows re-sort as times change; under the mouse they hold still, so a click lands on the row aimed at.
  // Also while the button is held: a pressed row is the active item, which plain hovering ignores, and a
  // re-sort between press and release would move another row under the mouse and lose the click.
  Ui().kernel_table_hovered =
      ImGui::IsWindowHovered(ImGuiHoveredFlags_ChildWindows | ImGuiHoveredFlags_AllowWhenBlockedByActiveItem);
  ImGui::EndTable();
  insight.drawn.forced_rows = forced_rows;
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
  // At most kStackedColumns points a band (bucket means): the bands are filled
  // between neighbours, so each pixel is painted once.
  ui.stacked_x = insight.bandwidth_x;
  const size_t buckets = std::min(ui.stacked_x.size(), kStackedColumns);
  if (buckets < ui.stacked_x.size()) {
    std::vector<double> x(buckets, 0.0);
    std::vector<std::vector<double>> means(layers.size(), std::vector<double>(buckets, 0.0));
    std::vector<size_t> counts(buckets, 0);
    for (size_t i = 0; i < ui.stacked_x.size(); ++i) {
      const size_t b = i * buckets / ui.stacked_x.size();
      x[b] += ui.stacked_x[i];
      for (size_t k = 0; k < layers.size(); ++k) means[k][b] += i < layers[k].size() ? layers[k][i] : 0.0;
      ++counts[b];
    }
    for (size_t b = 0; b < buckets; ++b) {
      x[b] /= double(counts[b]);
      for (auto& band : means) band[b] /= double(counts[b]);
    }
    ui.stacked_x = std::move(x);
    layers = std::move(means);
  }
  ui.stacked_floor_zero.assign(ui.stacked_x.size(), 0.0);
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
  Muted("Each band: a kernel family's bytes / the step's GPU time; the top of the stack is the "
                      "step's achieved GB/s.");
  std::vector<PlotSeries> series;
  // Each band is filled between its line and the one below it (cumulative sums).
  for (size_t k = ui.stacked.size(); k-- > 0;)
    series.push_back({.label = ui.stacked_labels[k].c_str(), .x = ui.stacked_x, .y = ui.stacked[k],
                      .color = ui.stacked_colors[k], .thickness = 1.0f, .smooth = false, .fill = true,
                      .fill_floor = k > 0 ? std::span<const double>(ui.stacked[k - 1]) : ui.stacked_floor_zero});
  // The peak as a dashed line when the steps come within reach of it; far above, the bands would flatten to nothing.
  double highest = 0;
  if (!ui.stacked.empty())
    for (double v : ui.stacked.back()) highest = std::max(highest, std::isfinite(v) ? v : 0.0);
  const bool peak_on_chart = !ui.peak_x.empty() && ui.peak_y[0] <= 5 * highest;
  if (!ui.peak_x.empty() && !peak_on_chart)
    ImGui::TextWrapped("Measured peak: %.1f GB/s (off the chart: the steps reach at most %.2f%% of it)", ui.peak_y[0],
                100 * highest / ui.peak_y[0]);
  if (peak_on_chart)
    series.push_back({.label = "measured peak", .x = ui.peak_x, .y = ui.peak_y, .color = kCeilingColor,
                      .thickness = 2.0f, .dashed = true, .smooth = false});
  else if (ui.peak_x.empty())
    Muted(insight.measuring ? "Measuring the peak bandwidth..." : "No measured peak bandwidth yet.");
  Plot("bandwidth", ui.bandwidth_view,
       // Not taller than needed to read it: on a software rasteriser every filled pixel costs.
       {.title = "Achieved bandwidth per step", .x_label = "step", .y_label = "GB/s",
        .size = ImVec2(0, std::min(ImGui::GetContentRegionAvail().y - 4, 22 * ImGui::GetFontSize())),
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
    ImGui::TextWrapped("Ceilings: %.1f GFLOP/s compute, %.1f GB/s memory; ridge at %.2f FLOP/byte", peak_flops, peak_gbs, ridge);
  else
    Muted(insight.measuring ? "Measuring the ceilings... the dots are placed already."
                            : "No ceilings measured (Ceilings tab): the dots are placed without the roof.");
  Muted("Dot area: share of the step's GPU time. Left of the ridge: memory-bound; right: compute-bound.");

  // Dots, largest first so small ones stay visible on top.
  std::vector<size_t> order(insight.rows.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return insight.rows[a].share > insight.rows[b].share; });
  std::vector<RooflineDot> dots;
  for (size_t i : order) {
    const profile::KernelRow& row = insight.rows[i];
    dots.push_back({.intensity = row.intensity, .gflops = row.gflops, .size = row.share, .color = PassColor(row.pass),
                    .selected = row.layer >= 0 && row.layer == insight.selected_layer});
  }
  std::vector<RooflineLegendEntry> legend;
  for (nn::Pass pass : {nn::Pass::kData, nn::Pass::kForward, nn::Pass::kLoss, nn::Pass::kBackward, nn::Pass::kUpdate,
                        nn::Pass::kMetrics})
    legend.push_back({nn::PassName(pass), PassColor(pass)});
  const RooflineHover hover = Roofline("roofline", dots, {.peak_gflops = peak_flops, .peak_gbs = peak_gbs, .legend = legend});
  insight.drawn.dots = hover.drawn;
  const int hovered_row = hover.dot >= 0 ? static_cast<int>(order[hover.dot]) : -1;
  const bool clicked = hover.clicked;
  if (hovered_row >= 0) {
    const profile::KernelRow& row = insight.rows[hovered_row];
    ImGui::BeginTooltip();
    ImGui::Text("%s  (%s, %s)", row.kernel.c_str(), LayerLabel(row).c_str(), nn::PassName(row.pass));
    ImGui::Text("%.3g FLOP/byte, %.3g GFLOP/s, %.3g GB/s", row.intensity, row.gflops, row.gbs);
    ImGui::Text("%.1f us per step, %.1f%% of the step", row.time_ns / 1e3, row.share * 100);
    if (const std::string variant = VariantText(row); !variant.empty()) ImGui::Text("variant: %s", variant.c_str());
    if (ceilings)
      ImGui::Text("attainable here: %.3g GFLOP/s (%s-bound); %.1f%% of it reached",
                  std::min(peak_flops, row.intensity * peak_gbs), profile::BoundName(row.bound),
                  100 * row.gflops / std::max(1e-12, std::min(peak_flops, row.intensity * peak_gbs)));
    ImGui::TextDisabled("click to select its layer");
    ImGui::EndTooltip();
    if (clicked) insight.selected_layer = row.layer;
  }
}


}  // namespace ts::ui::insight
