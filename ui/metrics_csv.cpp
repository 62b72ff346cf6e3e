#include "ui/metrics_csv.h"

#include <imgui.h>

#include "compute/common/error.h"
#include "compute/common/file_write.h"
#include "ui/per_context.h"
#include "ui/save_dialog.h"
#include "ui/test_hooks.h"

namespace ts::ui {
namespace {

struct MetricsUi {
  SaveDialog dialog;
};

MetricsUi& Ui() { return PerImGuiContext<MetricsUi>(); }

}  // namespace

void SaveRunMetrics(const AppState& state, const std::string& path) {
  const nn::MetricsLog& metrics = state.training.metrics;
  if (metrics.rows() == 0) throw Error("The run has no steps yet: train first (the CSV holds every step this window saw).");
  CheckOutputDestination("Metrics CSV", path);
  metrics.Save(path);
}

void DrawMetricsCsvButton(AppState& state) {
  MetricsUi& ui = Ui();
  const char* dialog = "Save the metrics as CSV##metrics_csv";
  const uint64_t rows = state.training.metrics.rows();
  ImGui::BeginDisabled(rows == 0);
  if (ImGui::Button("Metrics CSV...")) {
    const std::string name = state.project.name.empty() ? "run" : state.project.name;
    ui.dialog = {PathInWorkingFolder(name + "-metrics.csv"), ""};
    ImGui::OpenPopup(dialog);
  }
  ImGui::EndDisabled();
  RecordItemRect("metrics_csv");
  if (ImGui::IsItemHovered(ImGuiHoveredFlags_AllowWhenDisabled))
    ImGui::SetTooltip("%s", rows ? "Every step of this run (loss, accuracy, learning rate, samples/s, GPU ms) and every\n"
                                   "evaluation, at full precision, as `tensorscope train --metrics-csv` writes them."
                                 : "Train first: the CSV holds every step of the run this window saw.");
  DrawSaveDialog(dialog, "Save every step and evaluation of this run as CSV (as train --metrics-csv writes it):",
                 ui.dialog, [&](const std::string& path) {
                   SaveRunMetrics(state, path);
                   state.Notify(Notice::Level::kInfo, "Wrote " + std::to_string(state.training.metrics.rows()) +
                                                          " rows of metrics to " + path);
                 }, "metrics_csv");
}

}  // namespace ts::ui
