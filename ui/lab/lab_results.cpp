// The Kernel Lab's results: the variants table, the notes, the charts and
// the roofline, all drawn from the LessonResult as measured.
#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "ui/format.h"
#include "ui/lab/lab_internal.h"
#include "ui/panel_layout.h"
#include "ui/test_hooks.h"
#include "ui/widgets/bar_chart.h"
#include "ui/widgets/roofline.h"
#include "ui/widgets/text.h"

namespace ts::ui::lab_view {
namespace {

// The achieved rate in the unit the variant is judged in.
double Rate(const lab::Variant& v) { return v.judged_against == lab::Ceiling::kFma ? v.gflops : v.gbs; }
const char* RateUnit(const lab::Variant& v) { return v.judged_against == lab::Ceiling::kFma ? "GFLOP/s" : "GB/s"; }

// Text in the failed colour when `failed`.
void Cell(const std::string& text, bool failed) {
  if (failed) ImGui::PushStyleColor(ImGuiCol_Text, kFailedColor);
  ImGui::TextUnformatted(text.c_str());
  if (failed) ImGui::PopStyleColor();
}

}  // namespace

void DrawVariantsTable(LabView& lab, const lab::LessonResult& result) {
  const std::vector<lab::Variant>& variants = result.variants;
  if (variants.empty()) {
    Muted("The lesson ran no kernels.");
    return;
  }
  // One rate column when every variant is judged the same way.
  const bool one_unit = std::all_of(variants.begin(), variants.end(),
                                    [&](const lab::Variant& v) { return v.judged_against == variants[0].judged_against; });
  const bool banks = std::any_of(variants.begin(), variants.end(), [](const lab::Variant& v) { return v.bank_conflicts.has_value(); });
  const bool shared = std::any_of(variants.begin(), variants.end(), [](const lab::Variant& v) { return v.shared_memory_bytes > 0; });
  std::set<std::string> figure_set;
  for (const lab::Variant& v : variants)
    for (const auto& [key, value] : v.figures) figure_set.insert(key);
  const std::vector<std::string> figures(figure_set.begin(), figure_set.end());
  const int columns = 6 + (banks ? 1 : 0) + (shared ? 1 : 0) + static_cast<int>(figures.size());
  const ImGuiTableFlags flags = ImGuiTableFlags_Borders | ImGuiTableFlags_RowBg | ImGuiTableFlags_ScrollX |
                                ImGuiTableFlags_SizingFixedFit;
  const float rows_height = (variants.size() + 1.5f) * ImGui::GetFrameHeightWithSpacing() + ImGui::GetStyle().ScrollbarSize;
  if (!ImGui::BeginTable("variants", columns, flags, ImVec2(0, rows_height))) return;
  ImGui::TableSetupScrollFreeze(1, 1);
  ImGui::TableSetupColumn("variant");
  ImGui::TableSetupColumn("ms");
  ImGui::TableSetupColumn(one_unit ? RateUnit(variants[0]) : "rate");
  ImGui::TableSetupColumn("% of ceiling");
  ImGui::TableSetupColumn("speed-up");
  if (banks) ImGui::TableSetupColumn("bank conflicts");
  if (shared) ImGui::TableSetupColumn("shared mem");
  ImGui::TableSetupColumn("check");
  for (const std::string& key : figures) ImGui::TableSetupColumn(key.c_str());
  ImGui::TableHeadersRow();
  const lab::Variant* selected = SelectedVariant(lab, result);
  for (size_t i = 0; i < variants.size(); ++i) {
    const lab::Variant& v = variants[i];
    const bool failed = !v.check_passed;
    ImGui::TableNextRow();
    ImGui::TableNextColumn();
    ImGui::PushID(static_cast<int>(i));
    // The check's mark leads the row, in the column that never scrolls away; its message has a column.
    CheckMark(v.check_passed);
    if (ImGui::IsItemHovered() && !v.check_message.empty()) ImGui::SetTooltip("%s", v.check_message.c_str());
    ImGui::SameLine();
    if (failed) ImGui::PushStyleColor(ImGuiCol_Text, kFailedColor);
    if (ImGui::Selectable(v.name.c_str(), &v == selected, ImGuiSelectableFlags_SpanAllColumns)) lab.variant = v.name;
    if (failed) ImGui::PopStyleColor();
    RecordItemRect("lab_variant_" + std::to_string(i));
    if (ImGui::IsItemHovered()) {
      ImGui::BeginTooltip();
      ImGui::TextUnformatted(v.name.c_str());
      if (!v.what_changed.empty()) ImGui::TextUnformatted(v.what_changed.c_str());
      ImGui::Text("%s.comp: %u x %u x %u workgroups of %u x %u x %u invocations", v.shader.c_str(), v.grid[0], v.grid[1],
                  v.grid[2], v.workgroup[0], v.workgroup[1], v.workgroup[2]);
      ImGui::Text("%.4g MFLOP and %.4g MB per run (as counted for the roofline)", v.flops / 1e6, v.bytes / 1e6);
      ImGui::TextDisabled("click: its source and pictures");
      ImGui::EndTooltip();
    }
    ImGui::PopID();
    ImGui::TableNextColumn();
    Cell(Printf("%.3f", v.ms), failed);
    ImGui::TableNextColumn();
    Cell(Printf("%.2f", Rate(v)) + (one_unit ? "" : std::string(" ") + RateUnit(v)), failed);
    ImGui::TableNextColumn();
    Cell(Printf("%.1f%%", v.percent_of_ceiling), failed);
    ImGui::TableNextColumn();
    Cell(i == 0 || v.speedup_over_previous <= 0 ? "-" : Printf("%.2fx", v.speedup_over_previous), failed);
    if (banks) {
      ImGui::TableNextColumn();
      Cell(v.bank_conflicts ? FormatCount(double(*v.bank_conflicts)) : "-", failed);
    }
    if (shared) {
      ImGui::TableNextColumn();
      Cell(v.shared_memory_bytes ? Bytes(v.shared_memory_bytes) : "-", failed);
    }
    // The check's message: a failed one whole, a long passed one shortened (whole on hover).
    ImGui::TableNextColumn();
    const size_t kShortMessage = 24;  // the figures stay in view
    Cell(failed || v.check_message.size() <= kShortMessage ? v.check_message : v.check_message.substr(0, kShortMessage - 3) + "...",
         failed);
    if (ImGui::IsItemHovered() && !v.check_message.empty()) ImGui::SetTooltip("%s", v.check_message.c_str());
    for (const std::string& key : figures) {
      ImGui::TableNextColumn();
      const auto found = v.figures.find(key);
      Cell(found == v.figures.end() ? "-" : Printf("%.4g", found->second), failed);
    }
    ++lab.drawn.rows;
    if (failed) ++lab.drawn.failed_checks;
  }
  ImGui::EndTable();
  RecordItemRect("lab_variants");
  const double fma = result.ceilings.fp32_gflops, bandwidth = result.ceilings.bandwidth_gbs;
  Muted(("% of ceiling: of the measured FMA ceiling (" + Printf("%.1f", fma) +
         " GFLOP/s) for arithmetic kernels, of the measured bandwidth (" + Printf("%.1f", bandwidth) +
         " GB/s) for kernels that move data. Speed-up: the previous row's time over this one's. The check compares "
         "the kernel's output with the CPU reference, every element.")
            .c_str());
}

void DrawOccupancy(const lab::LessonResult& result) {
  if (result.occupancy.empty()) return;
  SeparatorText("Theoretical occupancy of this configuration");
  const ImGuiTableFlags flags = ImGuiTableFlags_Borders | ImGuiTableFlags_RowBg | ImGuiTableFlags_SizingFixedFit;
  if (!ImGui::BeginTable("occupancy", 5, flags)) return;
  ImGui::TableSetupColumn("device", ImGuiTableColumnFlags_WidthStretch);
  ImGui::TableSetupColumn("workgroups / unit");
  ImGui::TableSetupColumn("subgroups / unit");
  ImGui::TableSetupColumn("occupancy");
  ImGui::TableSetupColumn("limited by");
  ImGui::TableHeadersRow();
  for (const lab::OccupancyRow& row : result.occupancy) {
    ImGui::TableNextRow();
    ImGui::TableNextColumn();
    ImGui::TextUnformatted(row.device.c_str());
    if (ImGui::IsItemHovered() && !row.explanation.empty()) ImGui::SetTooltip("%s", row.explanation.c_str());
    ImGui::TableNextColumn();
    ImGui::Text("%u", row.workgroups_per_unit);
    ImGui::TableNextColumn();
    ImGui::Text("%u", row.subgroups_per_unit);
    ImGui::TableNextColumn();
    ImGui::Text("%.0f%%%s", row.occupancy * 100, row.modelled ? " (modelled)" : "");
    ImGui::TableNextColumn();
    ImGui::TextUnformatted(row.limiter.c_str());
  }
  ImGui::EndTable();
  RecordItemRect("lab_occupancy");
  Muted("The reference GPUs are modelled from their vendors' tables, not measured: they show how registers and shared "
        "memory would limit this kernel there. Hover a device for the arithmetic.");
}

void DrawNotes(LabView& lab, const lab::LessonResult& result) {
  if (result.notes.empty()) return;
  SeparatorText("What to notice");
  for (const std::string& note : result.notes) {
    ImGui::Bullet();
    ImGui::TextWrapped("%s", note.c_str());
    ++lab.drawn.notes;
  }
}

void DrawCharts(LabView& lab, const lab::LessonResult& result) {
  WindowUi& ui = Ui();
  const float height = std::max(Scaled(220), ImGui::GetContentRegionAvail().y / std::max<size_t>(result.charts.size(), 1) - 8);
  for (size_t c = 0; c < result.charts.size(); ++c) {
    const lab::Chart& chart = result.charts[c];
    std::vector<PlotSeries> series;
    for (const lab::Series& s : chart.series)
      series.push_back({.label = s.name.c_str(), .x = s.x, .y = s.y, .smooth = false});
    // The ceiling as a dashed line across the data's x range.
    std::vector<double> ceiling_x, ceiling_y;
    if (chart.ceiling) {
      double lo = INFINITY, hi = -INFINITY;
      for (const lab::Series& s : chart.series)
        for (double x : s.x) lo = std::min(lo, x), hi = std::max(hi, x);
      if (lo <= hi) ceiling_x = {lo, hi}, ceiling_y = {*chart.ceiling, *chart.ceiling};
      series.push_back({.label = "measured ceiling", .x = ceiling_x, .y = ceiling_y, .color = kRooflineCeilingColor,
                        .dashed = true, .smooth = false});
    }
    PlotState& view = ui.chart_views[result.lesson + "/" + chart.title];
    ImGui::PushID(static_cast<int>(c));
    Plot("chart", view,
         {.title = chart.title.c_str(), .x_label = chart.x_label.c_str(), .y_label = chart.y_label.c_str(),
          .log_x = chart.log_x, .log_y = chart.log_y, .size = ImVec2(0, height),
          .y_fit_min = chart.log_y ? NAN : 0.0},
         series);
    ImGui::PopID();
    lab.drawn.chart_series += static_cast<uint32_t>(chart.series.size());
  }
}

void DrawRooflineView(LabView& lab, const lab::LessonResult& result) {
  const double fma = result.ceilings.fp32_gflops, bandwidth = result.ceilings.bandwidth_gbs;
  const lab::Variant* selected = SelectedVariant(lab, result);
  std::vector<RooflineDot> dots;
  std::vector<const lab::Variant*> of_dot;
  for (size_t i = 0; i < result.variants.size(); ++i) {
    const lab::Variant& v = result.variants[i];
    if (!(v.flops > 0 && v.bytes > 0 && v.gflops > 0)) continue;
    dots.push_back({.intensity = v.flops / v.bytes, .gflops = v.gflops, .size = 0.04,
                    .color = v.check_passed ? ClassColor(static_cast<int>(i)) : kFailedColor,
                    .selected = &v == selected, .label = v.name.c_str()});
    of_dot.push_back(&v);
  }
  // Kernels that do no arithmetic are judged by bandwidth alone: bars against the ceiling.
  std::vector<std::string> details;
  std::vector<Bar> bars;
  details.reserve(result.variants.size());
  for (const lab::Variant& v : result.variants) {
    if (v.judged_against != lab::Ceiling::kBandwidth) continue;
    details.push_back(Printf("%.0f%% of the ceiling", v.percent_of_ceiling));
    bars.push_back({v.name.c_str(), v.gbs, details.back().c_str(), v.check_passed ? 0u : kFailedColor});
  }
  if (!bars.empty()) {
    SeparatorText(Printf("Achieved bandwidth against the measured %.1f GB/s", bandwidth).c_str());
    BarChart("bandwidth", bars, {.value_format = "%.2f", .unit = " GB/s", .max_value = bandwidth > 0 ? bandwidth : NAN});
  }
  if (dots.empty()) {
    if (bars.empty()) Muted("No variant of this lesson does arithmetic to place on the roofline.");
    return;
  }
  SeparatorText(Printf("The roofline: %.1f GFLOP/s, ", fma).append(Printf("%.1f GB/s measured", bandwidth)).c_str());
  const RooflineHover hover = Roofline("lab_roofline", dots, {.peak_gflops = fma, .peak_gbs = bandwidth});
  lab.drawn.dots = hover.drawn;
  if (hover.dot >= 0) {
    const lab::Variant& v = *of_dot[hover.dot];
    const double attainable = std::min(fma, v.flops / v.bytes * bandwidth);
    ImGui::BeginTooltip();
    ImGui::TextUnformatted(v.name.c_str());
    ImGui::Text("%.3g FLOP/byte, %.3g GFLOP/s, %.3g GB/s", v.flops / v.bytes, v.gflops, v.gbs);
    if (attainable > 0) ImGui::Text("attainable at this intensity: %.3g GFLOP/s; %.1f%% of it reached", attainable, 100 * v.gflops / attainable);
    ImGui::TextDisabled("click: its source and pictures");
    ImGui::EndTooltip();
    if (hover.clicked) lab.variant = v.name;
  }
}

}  // namespace ts::ui::lab_view
