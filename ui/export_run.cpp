#include "ui/export_run.h"

#include <unistd.h>

#include <filesystem>

#include <imgui.h>
#include <imgui_stdlib.h>

#include "compute/common/error.h"
#include "compute/common/file_write.h"
#include "compute/data/registry.h"
#include "compute/interop/onnx_export.h"
#include "compute/interop/pytorch_export.h"
#include "compute/nn/checkpoint.h"
#include "compute/nn/train_config.h"
#include "ui/controller.h"
#include "ui/panel_layout.h"
#include "ui/per_context.h"
#include "ui/test_hooks.h"

namespace ts::ui {
namespace {

namespace fs = std::filesystem;

const char* const kFormats[] = {"ONNX (.onnx file)", "PyTorch (folder: model.py, weights, data, train.py)"};

// The popup's fields.
struct ExportUi {
  bool requested = false;
  int format = 0;  // index into kFormats
  std::string path, error;
};

ExportUi& Ui() { return PerImGuiContext<ExportUi>(); }

std::string DefaultPath(const AppState& state, int format) {
  std::error_code error;
  const fs::path folder = fs::current_path(error);
  const std::string name = state.project.name.empty() ? "model" : state.project.name;
  return (folder / (format == 0 ? name + ".onnx" : name + "-pytorch")).string();
}

void StartExport(AppState& state, int format, const std::string& path) {
  if (path.empty()) throw Error("Type a path first.");
  if (!state.session || !state.training.identity) throw Error("There is no network to export yet: train or open one first.");
  const fs::path target(path);
  std::error_code error;
  const fs::path folder = target.parent_path().empty() ? fs::path(".") : target.parent_path();
  if (format == 0 && !fs::is_directory(folder, error))
    throw Error(path + ": the folder " + folder.string() + " does not exist; create it first.");
  if (format == 0 && fs::is_directory(target, error)) throw Error(path + ": is a folder; name a file.");
  if (format == 1 && fs::exists(target, error) && !fs::is_directory(target, error))
    throw Error(path + ": is a file; a PyTorch export is a folder.");
  const std::string weights =
      (fs::temp_directory_path(error) / ("tensorscope-export-" + std::to_string(getpid()) + ".ckpt")).string();
  state.pending_export = AppState::PendingExport{format == 0 ? "onnx" : "pytorch", path, weights};
  state.session->SaveCheckpoint(weights);
}

void WriteExport(AppState& state, const AppState::PendingExport& e, const nn::Checkpoint& c) {
  if (e.format == "onnx") {
    WriteFileAtomically(e.path, interop::ExportOnnx(c.model, c.parameters, c.statistics));
    return;
  }
  const nn::TrainConfig config = nn::ParseTrainConfig(c.config, "the run's training config");
  if (!state.train_data) throw Error("the run's data is not loaded; the PyTorch export copies it.");
  data::Dataset train = *state.train_data, validation;
  if (config.validation_fraction > 0)
    std::tie(train, validation) = data::SplitValidation(train, config.validation_fraction, config.seed);
  const data::Dataset* test = state.test_data ? state.test_data.get() : nullptr;
  // The spec the window loaded, split and sized as it was (the export may read the files where they lie).
  interop::ExportPytorch(c, {&train, &validation, test, LoadedDataSpec(state)}, e.path);
}

}  // namespace

void DrawExportButton(AppState& state) {
  ExportUi& ui = Ui();
  const char* popup = "Export##export_run";
  const bool has_network = state.session && state.training.identity;
  ImGui::BeginDisabled(!has_network || state.pending_export.has_value());
  if (ImGui::Button("Export...")) {
    ui.requested = true;
    ui.error.clear();
    if (ui.path.empty()) ui.path = DefaultPath(state, ui.format);
  }
  ImGui::EndDisabled();
  RecordItemRect("export");
  if (ImGui::IsItemHovered(ImGuiHoveredFlags_AllowWhenDisabled))
    ImGui::SetTooltip("%s", has_network ? "Write this run's network for other tools: an ONNX file, or a PyTorch folder\n"
                                          "(model.py, weights, the data, a DDP-ready train.py)."
                                        : "Train or open a network first: Export writes the run's weights.");
  if (ui.requested) {
    ui.requested = false;
    ImGui::OpenPopup(popup);
  }
  if (!ImGui::BeginPopupModal(popup, nullptr, ImGuiWindowFlags_AlwaysAutoResize)) return;
  ImGui::TextUnformatted("Export the run's network as:");
  for (int f = 0; f < 2; ++f) {
    if (ImGui::RadioButton(kFormats[f], ui.format == f) && ui.format != f) {
      if (ui.path == DefaultPath(state, ui.format)) ui.path = DefaultPath(state, f);
      ui.format = f;
    }
    RecordItemRect(f == 0 ? "export_onnx" : "export_pytorch");
  }
  ImGui::SetNextItemWidth(Scaled(480));
  bool submit = ImGui::InputText("##export_path", &ui.path, ImGuiInputTextFlags_EnterReturnsTrue);
  RecordItemRect("export_path");
  submit |= ImGui::Button("Export");
  RecordItemRect("export_ok");
  ImGui::SameLine();
  if (ImGui::Button("Cancel") || ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_Escape))) {
    ImGui::CloseCurrentPopup();
  } else if (submit) {
    try {
      StartExport(state, ui.format, ui.path);
      ImGui::CloseCurrentPopup();
    } catch (const Error& e) {
      ui.error = e.what();
    }
  }
  if (!ui.error.empty()) {
    ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + Scaled(480));
    ImGui::TextColored(ImVec4(1.0f, 0.42f, 0.38f, 1.0f), "%s", ui.error.c_str());
    ImGui::PopTextWrapPos();
  }
  ImGui::EndPopup();
}

bool FinishExport(AppState& state, const std::string& saved_path) {
  if (!state.pending_export || state.pending_export->weights != saved_path) return false;
  const AppState::PendingExport e = *state.pending_export;
  state.pending_export.reset();
  try {
    WriteExport(state, e, nn::LoadCheckpoint(saved_path));
    state.Notify(Notice::Level::kInfo, "Exported the network (" + e.format + ") to " + e.path);
  } catch (const Error& error) {
    state.Notify(Notice::Level::kError, "Export to " + e.path + " failed: " + error.what());
  }
  std::error_code ignored;
  fs::remove(saved_path, ignored);
  return true;
}

}  // namespace ts::ui
