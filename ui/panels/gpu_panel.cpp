#include "ui/panels/gpu_panel.h"

#include <algorithm>
#include <cstdio>
#include <numeric>

#include "imgui.h"
#include "ui/lab/lab_window.h"
#include "ui/run.h"
#include "ui/test_hooks.h"
#include "ui/widgets/bar_chart.h"

namespace ts::ui {

void DrawGpuPanel(AppState& state) {
  if (!ImGui::Begin("GPU")) {
    ImGui::End();
    return;
  }
  ImGui::Text("%s", state.device_name.c_str());
  ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetColorU32(ImGuiCol_TextDisabled));
  ImGui::TextWrapped("%s", state.device_type.c_str());
  ImGui::PopStyleColor();
  if (ImGui::Button(state.insight.open ? "Close GPU insight" : "GPU insight...")) state.insight.open = !state.insight.open;
  RecordItemRect("open_insight");
  if (ImGui::IsItemHovered())
    ImGui::SetTooltip("Per-kernel table, bandwidth, roofline, step timeline, memory,\noccupancy, device facts and measured ceilings.");
  ImGui::SameLine();
  if (ImGui::Button(state.lab.open ? "Close Kernel Lab" : "Kernel Lab...")) {
    if (state.lab.open) CloseLab(state);
    else OpenLab(state);
  }
  RecordItemRect("open_lab");
  if (ImGui::IsItemHovered())
    ImGui::SetTooltip("Lessons in GPU programming with real kernels on this device: the grid, memory access,\n"
                      "matrix multiply rung by rung, reduction, divergence and occupancy, CPU vs GPU.");
  ImGui::Separator();
  const TrainingView& view = state.training;
  if (view.dispatches.empty() || view.dispatch_ns.size() != view.dispatches.size()) {
    if (state.project.training.replicas > 1 && view.last_step)
      ImGui::TextWrapped("This run trains %u data-parallel replicas: per-kernel times are measured on one device. "
                         "Training > Parallelism... shows each replica's step (forward, backward, all-reduce, update).",
                         state.project.training.replicas);
    else
      ImGui::TextWrapped("Start training to see how long each kernel takes on the GPU.");
    ImGui::End();
    return;
  }
  double step_ns = std::accumulate(view.dispatch_ns.begin(), view.dispatch_ns.end(), 0.0);
  ImGui::Text("GPU time per training step: %.2f ms", step_ns / 1e6);
  if (const double interval = WatchFor(state).timing_interval; interval > 0) {
    ImGui::TextDisabled("sampled: steps timed every %.0f ms", interval * 1e3);
    if (ImGui::IsItemHovered())
      ImGui::SetTooltip("Timestamps cost time on some drivers, so while you watch, one turn of training\n"
                        "submissions is timed this often (alone on the device) and the times average those steps.");
  }
  ImGui::TextDisabled("%zu dispatches (Vulkan) = grids (CUDA)", view.dispatches.size());
  if (ImGui::IsItemHovered())
    ImGui::SetTooltip("Each dispatch launches a grid of workgroups (CUDA: blocks),\n"
                      "each workgroup a set of invocations (CUDA: threads).");

  // Time per dispatch, largest first.
  std::vector<size_t> order(view.dispatches.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return view.dispatch_ns[a] > view.dispatch_ns[b]; });
  std::vector<std::string> details(order.size()), tooltips(order.size());
  std::vector<Bar> bars;
  for (size_t k = 0; k < order.size(); ++k) {
    size_t i = order[k];
    const nn::DispatchInfo& d = view.dispatches[i];
    double ns = view.dispatch_ns[i];
    char text[64];
    std::snprintf(text, sizeof text, "%.0f%%", 100 * ns / std::max(step_ns, 1.0));
    details[k] = text;
    char tip[512];
    std::snprintf(tip, sizeof tip,
                  "kernel: %s\n%.3f MFLOP, %.3f MB moved (declared)\n%.2f GFLOP/s, %.2f GB/s achieved\n"
                  "workgroups %u x %u x %u of %u x %u x %u invocations",
                  d.kernel.c_str(), d.cost.flops / 1e6, (d.cost.bytes_read + d.cost.bytes_written) / 1e6,
                  ns > 0 ? d.cost.flops / ns : 0.0, ns > 0 ? (d.cost.bytes_read + d.cost.bytes_written) / ns : 0.0,
                  d.workgroups[0], d.workgroups[1], d.workgroups[2], d.local_size[0], d.local_size[1], d.local_size[2]);
    tooltips[k] = tip;
    bars.push_back({d.label.c_str(), ns / 1e3, details[k].c_str(), 0, tooltips[k].c_str()});
  }
  BarChartOptions options;
  options.value_format = "%.1f";
  options.unit = " us";
  options.labels_above = true;
  options.row_height = ImGui::GetFrameHeight() * 0.75f;
  // The chart and the table share the panel's height, each scrolling on its
  // own, so on a small display the table is not pushed out of view.
  const float line = ImGui::GetTextLineHeightWithSpacing();
  const float footer = 3 * line + ImGui::GetStyle().ItemSpacing.y;  // the note under the table
  const float shared = std::max(0.0f, ImGui::GetContentRegionAvail().y - footer - 2 * line);
  const float chart_height = std::max(6 * line, shared * 0.5f), table_height = std::max(6 * line, shared - chart_height);
  ImGui::BeginChild("step time by dispatch", ImVec2(0, chart_height));
  BarChart("step time by dispatch", bars, options);
  ImGui::EndChild();

  ImGui::Separator();
  ImGui::Text("Achieved rates per dispatch");
  if (ImGui::BeginTable("rates", 4, ImGuiTableFlags_Borders | ImGuiTableFlags_RowBg | ImGuiTableFlags_ScrollY,
                        ImVec2(0, table_height))) {
    ImGui::TableSetupScrollFreeze(0, 1);
    // The numbers keep their width; the dispatch name gets what is left (full name on hover).
    ImGui::TableSetupColumn("dispatch", ImGuiTableColumnFlags_WidthStretch);
    const float number = ImGui::CalcTextSize("GFLOP/s").x + 4;
    ImGui::TableSetupColumn("us", ImGuiTableColumnFlags_WidthFixed, number);
    ImGui::TableSetupColumn("GFLOP/s", ImGuiTableColumnFlags_WidthFixed, number);
    ImGui::TableSetupColumn("GB/s", ImGuiTableColumnFlags_WidthFixed, number);
    ImGui::TableHeadersRow();
    for (size_t i : order) {
      const nn::DispatchInfo& d = view.dispatches[i];
      double ns = view.dispatch_ns[i];
      ImGui::TableNextRow();
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(d.label.c_str());
      if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s\nkernel: %s", d.label.c_str(), d.kernel.c_str());
      ImGui::TableNextColumn();
      ImGui::Text("%.1f", ns / 1e3);
      ImGui::TableNextColumn();
      ImGui::Text("%.2f", ns > 0 ? d.cost.flops / ns : 0.0);
      ImGui::TableNextColumn();
      ImGui::Text("%.2f", ns > 0 ? (d.cost.bytes_read + d.cost.bytes_written) / ns : 0.0);
    }
    ImGui::EndTable();
    RecordItemRect("gpu_rates_table");
  }
  ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetColorU32(ImGuiCol_TextDisabled));
  ImGui::TextWrapped("Rates are the kernels' declared minimum work divided by measured GPU time. "
                     "Caches can make achieved GB/s exceed what memory alone delivers.");
  ImGui::PopStyleColor();
  ImGui::End();
}

}  // namespace ts::ui
