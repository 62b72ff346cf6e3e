// GPU insight: the Device and Ceilings tabs.
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
#include "compute/profile/vector_width.h"
#include "ui/controller.h"
#include "ui/format.h"
#include "ui/test_hooks.h"
#include "ui/widgets/bar_chart.h"
#include "ui/widgets/gantt.h"
#include "ui/widgets/insight_charts.h"
#include "ui/widgets/plot.h"

namespace ts::ui::insight {

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
    if (d.is_software()) Row("lavapipe vector width", profile::CurrentVectorWidthChoice().Describe());
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
  if (cached.ceilings.wall_clock_fallback)
    Muted("The device's timestamps were implausible for at least one of these kernels (shorter than "
          "the work can take), so its figure is bytes or FLOPs over the submission's wall time instead.");
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
      ImGui::TextWrapped("FLOPS = units x clock x FLOPs per clock = %s x %s MHz x %s = %.1f GFLOP/s",
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
    ImGui::TextWrapped("transfer time = bytes / bandwidth: the dataset's %s uploads in %.3g ms at %.2f GB/s",
                Bytes(double(data)).c_str(), double(data) / c.upload_gbs / 1e6, c.upload_gbs);
  else
    ImGui::TextDisabled("transfer time = bytes / bandwidth (e.g. 100 MB at %.2f GB/s: %.1f ms)", c.upload_gbs,
                        c.upload_gbs > 0 ? 1e8 / c.upload_gbs / 1e6 : 0.0);
}


}  // namespace ts::ui::insight
