#include "ui/panels/model_panel.h"

#include "ui/format.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <utility>

#include <imgui_internal.h>  // TableSetColumnWidthAutoAll: refit the layer table to new rows
#include <imgui_stdlib.h>
#include <nlohmann/json.hpp>

#include "compute/common/error.h"
#include "compute/nn/presets.h"
#include "compute/nn/train_config.h"
#include "compute/profile/memory_map.h"
#include "ui/export_run.h"
#include "ui/panel_layout.h"
#include "ui/parity_window.h"
#include "ui/project.h"
#include "ui/run.h"
#include "ui/test_hooks.h"
#include "ui/panels/model_panel_internal.h"
#include "ui/widgets/network_diagram.h"

namespace ts::ui {
namespace {

using model_panel::DrawLayerEditors;
using model_panel::HelpTooltip;
using model_panel::IsLossType;

namespace fs = std::filesystem;

const ImVec4 kErrorColor(1.0f, 0.42f, 0.38f, 1.0f);
constexpr const char* kRowPayload = "TS_LAYER_ROW";  // drag-and-drop payload: the dragged row's index (int)

struct PaletteEntry {
  const char* label;
  const char* type;
  const char* tip;
};
const PaletteEntry kPalette[] = {
    {"Input", "input", "The sample shape, e.g. 2 or 1x28x28. Must be the first layer."},
    {"Dense", "dense", "Fully connected: Y = X W + b."},
    {"ReLU", "relu", "max(0, x)"},
    {"LeakyReLU", "leaky_relu", "x for x > 0, slope * x otherwise"},
    {"Sigmoid", "sigmoid", "1 / (1 + e^-x)"},
    {"Tanh", "tanh", "tanh(x)"},
    {"GELU", "gelu", "x * Phi(x) (the exact erf form)"},
    {"Conv2D", "conv2d", "2D convolution: filters x kernel over an image (C x H x W); padding valid, same or a number."},
    {"MaxPool", "max_pool2d", "Keeps the largest value of each window (size 2: halves height and width)."},
    {"AvgPool", "avg_pool2d", "Averages each window (size 2: halves height and width)."},
    {"GlobalAvgPool", "global_avg_pool", "Averages each channel over the whole image: C x H x W to C."},
    {"BatchNorm", "batch_norm", "Normalises each channel with the batch's statistics while training, running ones after."},
    {"Dropout", "dropout", "Zeroes each value with probability rate while training (scales the rest by 1 / (1 - rate))."},
    {"Flatten", "flatten", "Turns an image (C x H x W) into a vector, for a dense layer."},
    {"Embedding", "embedding",
     "Token ids to vectors: an input of T token ids becomes a T x C sequence (token table + learned positions).\n"
     "Comes right after an input of shape T; vocab: the number of distinct tokens, units: the width C."},
    {"LayerNorm", "layer_norm", "Normalises each position's C values to mean 0, variance 1, then scales and shifts."},
    {"Transformer", "transformer_block",
     "A GPT-2 block: x + attention(layer_norm(x)), then x + mlp(layer_norm(x)).\n"
     "heads: attention heads (must divide the width); mlp: the MLP's hidden width / C."},
    {"Softmax CE", "softmax_cross_entropy", "Loss head: softmax + cross-entropy over classes (2 or more outputs)."},
    {"MSE", "mse", "Loss head: mean squared error against one-hot labels."},
    {"BCE", "bce_with_logits", "Loss head: binary cross-entropy on logits (one output, 0/1 labels)."},
};

// What the panel remembers between frames that is not part of the project:
// selection, popups, a project waiting for the discard prompt. Reset when the
// ImGui context changes (a new window, or a test).
struct PanelUi {
  ImGuiContext* context = nullptr;
  int selected = -1;  // the row the palette inserts after
  int shared_selection = -1;  // AppState::insight.selected_layer as last seen (kept in step with `selected`)
  bool scroll_to_selected = false;  // a row was just added: bring it into view
  enum class PathPopup { kNone, kOpen, kSaveAs, kLoadCheckpoint } path_popup = PathPopup::kNone;
  bool path_popup_requested = false;
  std::string path_input, path_error, last_path;
  std::optional<Project> replacement;  // opened / preset / new, waiting for ConfirmDiscardChanges
  std::string replacement_path;
  std::shared_ptr<const nn::Checkpoint> replacement_checkpoint;  // an opened checkpoint: becomes the run
  std::string replacement_note;  // said once the replacement is applied
  std::map<std::string, std::pair<ImVec2, ImVec2>> palette_rects;
  std::string fitted_rows;  // the rows (types, names) the layer table's columns were last fitted to
};

PanelUi& Ui() {
  static PanelUi ui;
  if (ui.context != ImGui::GetCurrentContext()) {
    ui = PanelUi{};
    ui.context = ImGui::GetCurrentContext();
  }
  return ui;
}

// The discard prompt's path field and last error, while it is open.
struct DiscardUi {
  std::string path, error;
};

std::string FormatBytes(double bytes) {
  char text[32];
  if (bytes >= 1024.0 * 1024 * 1024) std::snprintf(text, sizeof text, "%.2f GiB", bytes / (1024.0 * 1024 * 1024));
  else if (bytes >= 1024.0 * 1024) std::snprintf(text, sizeof text, "%.1f MiB", bytes / (1024.0 * 1024));
  else if (bytes >= 1024.0) std::snprintf(text, sizeof text, "%.1f KiB", bytes / 1024.0);
  else std::snprintf(text, sizeof text, "%.0f B", bytes);
  return text;
}

std::string CurrentDirectory() {
  std::error_code error;
  fs::path cwd = fs::current_path(error);
  return error ? std::string() : cwd.string();
}

void MarkEdited(AppState& state) {
  state.dirty = true;
  RebuildModel(state);
}

// Replaces the project (after the discard prompt, when there was one). The
// run ends (SyncRun sees another project), unless a checkpoint was opened:
// it becomes the run once its data is loaded.
void ApplyReplacement(AppState& state, PanelUi& ui) {
  state.project = std::move(*ui.replacement);
  state.project_path = ui.replacement_path;
  state.dirty = false;
  state.pending_checkpoint = std::move(ui.replacement_checkpoint);
  state.pending_checkpoint_source = ui.replacement_path.empty() ? ui.last_path : ui.replacement_path;
  if (!ui.replacement_note.empty()) state.Notify(Notice::Level::kInfo, ui.replacement_note);
  ui.replacement.reset();
  ui.replacement_note.clear();
  ui.selected = -1;
  RebuildModel(state);
}

void DrawFileBar(AppState& state, PanelUi& ui) {
  // Another project would end the run that is training: Stop it first.
  const std::string locked = WhyEditsAreLocked(state);
  ImGui::BeginDisabled(!locked.empty());
  if (ImGui::Button("New")) {
    Project project;  // the smallest model that trains: logistic regression on the spiral
    project.layers = {{.type = "input", .shape = "2"}, {.type = "dense", .units = "3"}, {.type = "softmax_cross_entropy"}};
    project.training.learning_rate = 0.01;
    ui.replacement = std::move(project);
    ui.replacement_path.clear();
  }
  RecordItemRect("new");
  HelpTooltip("A new project: input, one dense layer and a loss head, on the spiral data.");
  ImGui::SameLine();
  if (ImGui::Button("Open...")) {
    ui.path_popup = PanelUi::PathPopup::kOpen;
    ui.path_popup_requested = true;
  }
  RecordItemRect("open");
  ImGui::SameLine();
  if (ImGui::Button("Save")) {
    if (state.project_path.empty()) {
      ui.path_popup = PanelUi::PathPopup::kSaveAs;
      ui.path_popup_requested = true;
    } else {
      try {
        SaveProject(state.project, state.project_path);
        state.dirty = false;
      } catch (const Error& e) {
        state.Notify(Notice::Level::kError, e.what());
      }
    }
  }
  RecordItemRect("save");
  ImGui::SameLine();
  if (ImGui::Button("Save As...")) {
    ui.path_popup = PanelUi::PathPopup::kSaveAs;
    ui.path_popup_requested = true;
  }
  RecordItemRect("save_as");
  ImGui::SameLine();
  ImGui::SetNextItemWidth(std::max(80.0f, ImGui::GetContentRegionAvail().x));
  if (ImGui::BeginCombo("##presets", "Presets", ImGuiComboFlags_HeightLarge)) {
    for (const nn::Preset& preset : nn::BuiltInPresets()) {
      const bool picked = ImGui::Selectable(preset.name);
      RecordItemRect(std::string("preset_") + preset.name);
      if (picked) {
        try {
          std::string source = std::string("preset '") + preset.name + "'";
          nn::ModelDesc model = nn::ParseModel(preset.json, source);
          ui.replacement = ProjectFromModel(model, nn::ParseTrainConfig(model.training, source + ": training"));
          ui.replacement_path.clear();
        } catch (const Error& e) {
          state.Notify(Notice::Level::kError, e.what());
        }
      }
    }
    ImGui::EndCombo();
  }
  RecordItemRect("presets");
  ImGui::EndDisabled();
  if (!locked.empty() && ImGui::IsItemHovered(ImGuiHoveredFlags_AllowWhenDisabled)) ImGui::SetTooltip("%s", locked.c_str());
  ImGui::BeginDisabled(!locked.empty() || !state.model);
  if (ImGui::Button("Weights...")) {  // its own row: the file bar is full at 1280x720
    ui.path_popup = PanelUi::PathPopup::kLoadCheckpoint;
    ui.path_popup_requested = true;
  }
  ImGui::EndDisabled();
  RecordItemRect("load_weights");
  HelpTooltip("Load a checkpoint (.ckpt) of this model's architecture into the current run: its weights,\n"
              "optimizer state and position. Continue then trains it further.");
  ImGui::SameLine();
  DrawExportButton(state);
  ImGui::SameLine();
  DrawParityButton(state);
  if (!state.project_path.empty()) ImGui::TextDisabled("%s%s", state.project_path.c_str(), state.dirty ? " (modified)" : "");
  ImGui::SetNextItemWidth(-FLT_MIN);
  if (ImGui::InputTextWithHint("##name", "project name", &state.project.name)) MarkEdited(state);
  RecordItemRect("project_name");
}

// The Open / Save As popup: a path field (there is no file dialog), showing the
// current folder and the last path used.
void DrawPathPopup(AppState& state, PanelUi& ui) {
  const char* popup = "Project file##model_panel_path";
  const bool loading_weights = ui.path_popup == PanelUi::PathPopup::kLoadCheckpoint;
  const bool opening = ui.path_popup == PanelUi::PathPopup::kOpen || loading_weights;
  if (ui.path_popup_requested) {
    ui.path_popup_requested = false;
    ui.path_error.clear();
    ui.path_input = !ui.last_path.empty() ? ui.last_path
                    : !state.project_path.empty() ? state.project_path
                    : (fs::path(CurrentDirectory()) / (opening ? "" : state.project.name + kProjectExtension)).string();
    ImGui::OpenPopup(popup);
  }
  if (!ImGui::BeginPopupModal(popup, nullptr, ImGuiWindowFlags_AlwaysAutoResize)) return;
  ImGui::TextUnformatted(loading_weights ? "Load the weights of a checkpoint (.ckpt) of this model:"
                         : opening       ? "Open a project (.tsproj.json), a model (.json), a checkpoint (.ckpt) or an ONNX model (.onnx):"
                                         : "Save the project as:");
  ImGui::TextDisabled("Current folder: %s", CurrentDirectory().c_str());
  ImGui::SetNextItemWidth(Scaled(480));
  if (ImGui::IsWindowAppearing()) ImGui::SetKeyboardFocusHere();
  bool submit = ImGui::InputText("##path", &ui.path_input, ImGuiInputTextFlags_EnterReturnsTrue);
  RecordItemRect("path_input");
  if (!ui.last_path.empty() && ui.last_path != ui.path_input) {
    ImGui::TextDisabled("Last used:");
    ImGui::SameLine();
    if (ImGui::SmallButton(ui.last_path.c_str())) ui.path_input = ui.last_path;
  }
  std::string path = ui.path_input;
  if (!opening && !path.empty() && !path.ends_with(".json")) path += kProjectExtension;
  std::error_code error;
  if (!opening && fs::exists(path, error)) ImGui::TextDisabled("%s exists and will be replaced.", path.c_str());
  submit |= ImGui::Button(opening ? "Open" : "Save");
  RecordItemRect("path_ok");
  ImGui::SameLine();
  if (ImGui::Button("Cancel") || ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_Escape))) {
    ui.path_popup = PanelUi::PathPopup::kNone;
    ImGui::CloseCurrentPopup();
  } else if (submit) {
    try {
      if (path.empty()) throw Error("Type a path first.");
      if (loading_weights) {
        RestoreRun(state, std::make_shared<const nn::Checkpoint>(nn::LoadCheckpoint(path)), path);
        state.Notify(Notice::Level::kInfo, "Loaded the weights of " + path + " into this project's run.");
      } else if (opening) {
        OpenedFile opened = OpenProjectFile(path, &state);
        ui.replacement = std::move(opened.project);
        ui.replacement_path = opened.project_path;
        ui.replacement_checkpoint = std::move(opened.checkpoint);
        ui.replacement_note = std::move(opened.note);
      } else {
        SaveProject(state.project, path);
        state.project_path = path;
        // A project saved under a name of its own takes that name (the title shows it).
        if (state.project.name == Project{}.name) state.project.name = ProjectNameFromPath(path);
        state.dirty = false;
      }
      ui.last_path = path;
      ui.path_popup = PanelUi::PathPopup::kNone;
      ImGui::CloseCurrentPopup();
    } catch (const Error& e) {
      ui.path_error = e.what();
    }
  }
  RecordText("path_error", ui.path_error);
  if (!ui.path_error.empty()) {
    ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + Scaled(480));
    ImGui::TextColored(kErrorColor, "%s", ui.path_error.c_str());
    ImGui::PopTextWrapPos();
  }
  ImGui::EndPopup();
}

void DrawPalette(AppState& state, PanelUi& ui) {
  ImGui::TextDisabled("Add a layer %s:", ui.selected >= 0 ? "after the selected row" : "before the loss head");
  const ImGuiStyle& style = ImGui::GetStyle();
  const float right_edge = ImGui::GetWindowPos().x + ImGui::GetWindowContentRegionMax().x;
  ImGui::PushID("palette");
  for (size_t i = 0; i < std::size(kPalette); ++i) {
    if (ImGui::Button(kPalette[i].label)) {
      ui.selected = static_cast<int>(InsertLayer(state, ui.selected, kPalette[i].type));
      ui.scroll_to_selected = true;
    }
    RecordItemRect(std::string("palette_") + kPalette[i].type);
    HelpTooltip(kPalette[i].tip);
    ui.palette_rects[kPalette[i].type] = {ImGui::GetItemRectMin(), ImGui::GetItemRectMax()};
    // Wrap like text: stay on this line while the next button fits.
    if (i + 1 < std::size(kPalette)) {
      float next_width = ImGui::CalcTextSize(kPalette[i + 1].label).x + 2 * style.FramePadding.x;
      if (ImGui::GetItemRectMax().x + style.ItemSpacing.x + next_width < right_edge) ImGui::SameLine();
    }
  }
  ImGui::PopID();
}


// A structural edit chosen while drawing the table, applied after it.
struct RowEdit {
  enum class Kind { kNone, kMove, kRemove, kDuplicate } kind = Kind::kNone;
  size_t row = 0, to = 0;
};

void DrawLayerTable(AppState& state, PanelUi& ui, const std::vector<std::optional<nn::LayerShape>>& shapes) {
  std::vector<LayerEdit>& layers = state.project.layers;
  const uint32_t batch = std::max(1u, state.project.training.batch_size);
  const uint32_t states = kernels::OptimizerStateCount(state.project.training.optimizer);
  ui.selected = std::min(ui.selected, static_cast<int>(layers.size()) - 1);
  const bool sequence = std::any_of(layers.begin(), layers.end(), [](const LayerEdit& l) { return l.type == "embedding"; });

  const ImGuiTableFlags flags = ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersInnerH | ImGuiTableFlags_Resizable |
                                ImGuiTableFlags_SizingFixedFit | ImGuiTableFlags_ScrollX | ImGuiTableFlags_ScrollY;
  size_t error_rows = std::count_if(layers.begin(), layers.end(), [](const LayerEdit& l) { return !l.error.empty(); });
  const ImGuiStyle& style = ImGui::GetStyle();
  const float row = ImGui::GetFrameHeight() + 2 * style.CellPadding.y;
  float wanted = row * layers.size() +
                 (ImGui::GetTextLineHeight() + 2 * style.CellPadding.y) * (1 + layers.size() + 2 * error_rows) +
                 style.ScrollbarSize + 2;
  const float at_most = std::max(160.0f, ImGui::GetContentRegionAvail().y * 0.6f);
  const float height = std::max(ImGui::GetFrameHeightWithSpacing() * 4, std::min(wanted, at_most));
  RowEdit edit;
  if (ImGui::BeginTable("layers", 4, flags, ImVec2(0, height))) {
    // The columns fit their content once, then keep the user's widths: other
    // kinds of rows (a preset, a file opened) fit them again, so no editor
    // hides under the Output column.
    std::string rows;
    for (const LayerEdit& layer : layers) rows += layer.type + "|" + layer.name + ";";
    if (rows != ui.fitted_rows) {
      ui.fitted_rows = rows;
      ImGui::TableSetColumnWidthAutoAll(ImGui::GetCurrentTable());
    }
    ImGui::TableSetupScrollFreeze(1, 1);
    ImGui::TableSetupColumn("#");
    // Unclipped: each layer's cost line (the row under its editors) runs on under the Output column.
    ImGui::TableSetupColumn("Layer", ImGuiTableColumnFlags_NoClip);
    ImGui::TableSetupColumn("Output");
    ImGui::TableSetupColumn("##actions");
    ImGui::TableNextRow(ImGuiTableRowFlags_Headers);
    const char* const header_tips[] = {
        "Drag a row by its number to move it; right-click it for more.",
        "The layer and its settings; under them, its cost: parameters, forward FLOPs per sample,\n"
        "and device memory = activations at the chosen batch size (output and its gradient)\n"
        "+ parameters with their gradients and optimizer state.",
        "The shape of one sample's output.", ""};
    for (int column = 0; column < 4; ++column) {
      ImGui::TableSetColumnIndex(column);
      ImGui::TableHeader(ImGui::TableGetColumnName(column));
      if (header_tips[column][0]) HelpTooltip(header_tips[column]);
    }
    for (size_t i = 0; i < layers.size(); ++i) {
      LayerEdit& layer = layers[i];
      ImGui::PushID(static_cast<int>(i));
      ImGui::TableNextRow();
      ImGui::TableSetColumnIndex(0);
      char index[24];
      std::snprintf(index, sizeof index, "%zu", i);
      if (ImGui::Selectable(index, ui.selected == static_cast<int>(i),
                            ImGuiSelectableFlags_SpanAllColumns | ImGuiSelectableFlags_AllowItemOverlap))
        ui.selected = ui.selected == static_cast<int>(i) ? -1 : static_cast<int>(i);
      RecordItemRect("row_" + std::to_string(i));
      // Drag a row by its number onto another row to move it there.
      if (ImGui::BeginDragDropSource()) {
        int from = static_cast<int>(i);
        ImGui::SetDragDropPayload(kRowPayload, &from, sizeof from);
        ImGui::Text("Move layers[%zu] (%s)", i, layer.type.c_str());
        ImGui::EndDragDropSource();
      }
      if (ImGui::BeginDragDropTarget()) {
        if (const ImGuiPayload* payload = ImGui::AcceptDragDropPayload(kRowPayload))
          edit = {RowEdit::Kind::kMove, static_cast<size_t>(*static_cast<const int*>(payload->Data)), i};
        ImGui::EndDragDropTarget();
      }
      if (ImGui::BeginPopupContextItem("row_menu")) {
        ImGui::SetNextItemWidth(ImGui::GetFontSize() * 10);
        if (ImGui::InputTextWithHint("name", "default name", &layer.name)) MarkEdited(state);
        if (ImGui::MenuItem("Move up", nullptr, false, i > 0)) edit = {RowEdit::Kind::kMove, i, i - 1};
        if (ImGui::MenuItem("Move down", nullptr, false, i + 1 < layers.size())) edit = {RowEdit::Kind::kMove, i, i + 1};
        if (ImGui::MenuItem("Duplicate")) edit = {RowEdit::Kind::kDuplicate, i, 0};
        if (ImGui::MenuItem("Remove")) edit = {RowEdit::Kind::kRemove, i, 0};
        ImGui::EndPopup();
      }

      if (ui.scroll_to_selected && ui.selected == static_cast<int>(i)) {
        ImGui::SetScrollHereY(0.5f);
        ui.scroll_to_selected = false;
      }
      ImGui::TableSetColumnIndex(1);
      if (DrawLayerEditors(layer, sequence)) MarkEdited(state);
      const std::optional<nn::LayerShape>& shape = i < shapes.size() ? shapes[i] : std::nullopt;
      if (shape) {
        ImGui::TableSetColumnIndex(2);
        ImGui::TextUnformatted(nn::ShapeString(shape->output).c_str());
      }
      // Reordering and duplicating live on the row's drag handle and right-click
      // menu; one button is enough here, the panel is narrow.
      ImGui::TableSetColumnIndex(3);
      if (ImGui::SmallButton("x")) edit = {RowEdit::Kind::kRemove, i, 0};
      HelpTooltip("Remove this layer (right-click the row number to duplicate or move it)");
      if (shape) {  // the layer's cost, muted, under its editors
        const bool is_input = layer.type == "input";
        const double activation_bytes = double(nn::ShapeElements(shape->output)) * batch * 4 * (is_input ? 1 : 2);
        const double parameter_bytes = double(shape->parameters) * 4 * (2 + states);
        std::string cost = shape->parameters ? FormatCount(double(shape->parameters)) + " params, " : "";
        if (shape->flops_per_sample) cost += FormatCount(double(shape->flops_per_sample)) + " FLOPs, ";
        cost += FormatBytes(activation_bytes + (shape->parameters ? parameter_bytes : 0.0));  // split in the tooltip
        ImGui::TableNextRow();
        ImGui::TableSetColumnIndex(1);
        // Drawn, not laid out: as an item its width would widen the Layer column
        // (auto-fit measures items); it runs on under the empty Output cell instead.
        const ImVec2 at = ImGui::GetCursorScreenPos();
        const ImVec2 text_size = ImGui::CalcTextSize(cost.c_str());
        ImGui::GetWindowDrawList()->AddText(at, ImGui::GetColorU32(ImGuiCol_TextDisabled), cost.c_str());
        ImGui::Dummy(ImVec2(1, text_size.y));
        if (ImGui::IsMouseHoveringRect(at, ImVec2(at.x + text_size.x, at.y + text_size.y)) && ImGui::IsWindowHovered())
          ImGui::SetTooltip("%s parameters\n%s FLOPs per sample (forward)\nactivations: %s at batch %u\n"
                            "parameters, gradients and optimizer state: %s",
                            FormatCount(double(shape->parameters)).c_str(),
                            FormatCount(double(shape->flops_per_sample)).c_str(), FormatBytes(activation_bytes).c_str(),
                            batch, shape->parameters ? FormatBytes(parameter_bytes).c_str() : "none");
      }

      if (!layer.error.empty()) {  // why the row is invalid, in red under it
        ImGui::TableNextRow();
        ImGui::TableSetColumnIndex(1);
        ImGui::PushTextWrapPos(0.0f);  // at the column's edge: the cell clips what passes it
        ImGui::TextColored(kErrorColor, "%s", layer.error.c_str());
        ImGui::PopTextWrapPos();
      }
      ImGui::PopID();
    }
    ImGui::EndTable();
  }
  switch (edit.kind) {
    case RowEdit::Kind::kMove:
      if (edit.row != edit.to && edit.row < layers.size()) {
        MoveLayer(state, edit.row, edit.to);
        ui.selected = static_cast<int>(edit.to);
      }
      break;
    case RowEdit::Kind::kRemove:
      RemoveLayer(state, edit.row);
      if (ui.selected >= static_cast<int>(edit.row)) --ui.selected;
      break;
    case RowEdit::Kind::kDuplicate:
      DuplicateLayer(state, edit.row);
      ui.selected = static_cast<int>(edit.row) + 1;
      break;
    case RowEdit::Kind::kNone:
      break;
  }
}

void DrawTotals(const AppState& state, const std::vector<std::optional<nn::LayerShape>>& shapes) {
  const nn::TrainConfig& training = state.project.training;
  uint64_t parameters = 0, flops = 0;
  for (const std::optional<nn::LayerShape>& shape : shapes)
    if (shape) parameters += shape->parameters, flops += shape->flops_per_sample;
  const bool partial = std::any_of(shapes.begin(), shapes.end(), [](const auto& s) { return !s.has_value(); });
  ImGui::PushTextWrapPos(0);
  ImGui::Text("%s%s parameters, %s FLOPs per sample (forward)", partial ? "so far: " : "",
              FormatCount(double(parameters)).c_str(), FormatCount(double(flops)).c_str());
  ImGui::TextDisabled("about %s FLOPs per training step (forward + backward = 3 x forward, x batch %u)",
                      FormatCount(3.0 * double(flops) * training.batch_size).c_str(), training.batch_size);

  // A sequence model's blocks hold far more than their outputs (attention's T x T
  // probabilities, the MLP's hidden layer): the compute side's layer-by-layer
  // estimate, which equals the compiled plan's allocation.
  nn::MemoryUse memory =
      state.model && nn::TokensPerSample(*state.model) > 1 && training.precision == nn::Precision::kFp32
          ? profile::EstimateMemory(*state.model, training.optimizer, training.batch_size)
          : EstimateTrainingMemory(shapes, training.batch_size, training.optimizer, training.precision);
  ImGui::Text("Device memory (estimate): %s at batch %u with %s%s", FormatBytes(double(memory.total())).c_str(),
              training.batch_size, kernels::OptimizerName(training.optimizer),
              training.precision == nn::Precision::kFp16 ? ", fp16" : "");
  if (ImGui::IsItemHovered()) {
    ImGui::BeginTooltip();
    ImGui::TextUnformatted(training.precision == nn::Precision::kFp16
                               ? "Estimated from the shapes (fp16 activations: 2 bytes a value; fp32 weights, gradients and state: 4);"
                                 " the compiled plan adds alignment and per-step buffers."
                               : "Estimated from the shapes (4 bytes a value); the compiled plan adds alignment and per-step buffers.");
    const std::pair<const char*, uint64_t> rows[] = {
        {"parameters", memory.parameters}, {"gradients", memory.gradients},
        {"optimizer state", memory.optimizer_state}, {"activations", memory.activations},
        {"activation gradients", memory.activation_gradients}, {"batch input + labels", memory.batch}};
    for (const auto& [name, bytes] : rows) ImGui::Text("%-22s %s", name, FormatBytes(double(bytes)).c_str());
    ImGui::EndTooltip();
  }
  ImGui::PopTextWrapPos();
  if (!state.model_error.empty() &&
      std::none_of(state.project.layers.begin(), state.project.layers.end(), [](const LayerEdit& l) { return !l.error.empty(); })) {
    ImGui::PushTextWrapPos(0);
    ImGui::TextColored(kErrorColor, "%s", state.model_error.c_str());
    ImGui::PopTextWrapPos();
  } else if (!state.model_error.empty()) {
    ImGui::TextColored(kErrorColor, "The model cannot be trained until the rows marked in red are fixed.");
  }
}

}  // namespace

// ---- Public -------------------------------------------------------------------

nn::MemoryUse EstimateTrainingMemory(const std::vector<std::optional<nn::LayerShape>>& shapes, uint32_t batch,
                                     kernels::OptimizerKind optimizer, nn::Precision precision) {
  nn::MemoryUse memory;
  constexpr uint64_t kBytes = 4;  // float32 (labels: uint32)
  const bool fp16 = precision == nn::Precision::kFp16;
  const uint64_t activation_bytes = fp16 ? 2 : 4;
  for (size_t i = 0; i < shapes.size(); ++i) {
    if (!shapes[i]) continue;
    const uint64_t values = nn::ShapeElements(shapes[i]->output) * batch;
    if (i == 0) {
      // A sequence model's sample has a label at each of its T positions.
      const uint64_t labels = shapes.size() > 1 && shapes[1] && shapes[1]->tokens ? shapes[1]->tokens : 1;
      memory.batch += values * kBytes + uint64_t(batch) * labels * kBytes;  // the gathered input and the labels
      if (fp16) memory.batch += values * 2;                        // and its fp16 copy
    } else {
      memory.activations += values * activation_bytes;
      memory.activation_gradients += values * activation_bytes;
    }
    memory.parameters += shapes[i]->parameters * kBytes;
  }
  memory.gradients = memory.parameters;
  if (fp16) memory.parameters += memory.parameters / 2;  // the weights' fp16 copy
  memory.optimizer_state = memory.parameters * kernels::OptimizerStateCount(optimizer);
  return memory;
}

size_t InsertLayer(AppState& state, int after, const std::string& type) {
  std::vector<LayerEdit>& layers = state.project.layers;
  size_t position = layers.size();
  if (after >= 0) {
    position = std::min(layers.size(), static_cast<size_t>(after) + 1);
  } else if (!layers.empty() && IsLossType(layers.back().type)) {
    position = layers.size() - 1;  // keep the loss head last
  }
  LayerEdit layer;
  layer.type = type;
  if (type == "max_pool2d" || type == "avg_pool2d") {  // the usual pool: 2x2, halving the image
    layer.kernel = "2";
    layer.padding = "0";
  }
  if (type == "embedding") layer.units = "64";  // a small GPT's width (heads 4 divide it)
  layers.insert(layers.begin() + static_cast<std::ptrdiff_t>(position), layer);
  MarkEdited(state);
  return position;
}

void RemoveLayer(AppState& state, size_t index) {
  if (index >= state.project.layers.size()) return;
  state.project.layers.erase(state.project.layers.begin() + static_cast<std::ptrdiff_t>(index));
  MarkEdited(state);
}

void DuplicateLayer(AppState& state, size_t index) {
  std::vector<LayerEdit>& layers = state.project.layers;
  if (index >= layers.size()) return;
  LayerEdit copy = layers[index];
  copy.name.clear();  // names must stay unique
  layers.insert(layers.begin() + static_cast<std::ptrdiff_t>(index) + 1, copy);
  MarkEdited(state);
}

void MoveLayer(AppState& state, size_t from, size_t to) {
  std::vector<LayerEdit>& layers = state.project.layers;
  if (from >= layers.size() || to >= layers.size() || from == to) return;
  LayerEdit moved = std::move(layers[from]);
  layers.erase(layers.begin() + static_cast<std::ptrdiff_t>(from));
  layers.insert(layers.begin() + static_cast<std::ptrdiff_t>(to), std::move(moved));
  MarkEdited(state);
}

bool PaletteButtonRect(const std::string& type, ImVec2* min, ImVec2* max) {
  if (!ImGui::GetCurrentContext()) return false;
  PanelUi& ui = Ui();
  auto it = ui.palette_rects.find(type);
  if (it == ui.palette_rects.end()) return false;
  *min = it->second.first;
  *max = it->second.second;
  return true;
}

DiscardChoice ConfirmDiscardChanges(AppState& state, const char* action) {
  if (!state.dirty) return DiscardChoice::kProceed;
  static DiscardUi prompt;
  const char* popup = "Unsaved changes##confirm_discard";
  if (!ImGui::IsPopupOpen(popup)) {
    prompt = DiscardUi{state.project_path, ""};
    if (prompt.path.empty()) prompt.path = (fs::path(CurrentDirectory()) / (state.project.name + kProjectExtension)).string();
    ImGui::OpenPopup(popup);
  }
  DiscardChoice choice = DiscardChoice::kPending;
  bool open = true;
  if (ImGui::BeginPopupModal(popup, &open, ImGuiWindowFlags_AlwaysAutoResize)) {
    ImGui::Text("'%s' has unsaved changes.", state.project.name.c_str());
    ImGui::Text("Save them before you %s?", action);
    if (state.project_path.empty()) {
      ImGui::SetNextItemWidth(Scaled(420));
      ImGui::InputText("path", &prompt.path);
    }
    if (ImGui::Button("Save")) {
      try {
        SaveProject(state.project, prompt.path);
        state.project_path = prompt.path;
        state.dirty = false;
        choice = DiscardChoice::kProceed;
        ImGui::CloseCurrentPopup();
      } catch (const Error& e) {
        prompt.error = e.what();
      }
    }
    RecordItemRect("discard_prompt_save");
    ImGui::SameLine();
    if (ImGui::Button("Discard changes")) {
      choice = DiscardChoice::kProceed;
      ImGui::CloseCurrentPopup();
    }
    RecordItemRect("discard_prompt_discard");
    ImGui::SameLine();
    if (ImGui::Button("Cancel") || ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_Escape))) {
      choice = DiscardChoice::kCancel;
      ImGui::CloseCurrentPopup();
    }
    if (!prompt.error.empty()) ImGui::TextColored(kErrorColor, "%s", prompt.error.c_str());
    ImGui::EndPopup();
  }
  if (!open) choice = DiscardChoice::kCancel;  // the popup's close button
  return choice;
}

void DrawModelPanel(AppState& state) {
  PanelUi& ui = Ui();
  if (!state.model && state.model_error.empty()) RebuildModel(state);  // a project set without a rebuild

  // "###Model" keeps the window's identity while the title changes. Placement
  // is the app's: SetNextWindowPos/Size before this call, or SetWindowPos("###Model", ...).
  std::string title = "Model: " + state.project.name + (state.dirty ? "*" : "") + "###Model";
  if (ImGui::Begin(title.c_str())) {
    DrawFileBar(state, ui);
    DrawPathPopup(state, ui);
    DrawParityWindow(state);
    ImGui::Separator();
    // The layer selection is shared with the GPU insight window (a kernel row selects its layer).
    if (state.insight.selected_layer != ui.shared_selection) {
      ui.shared_selection = state.insight.selected_layer;
      ui.selected = std::min(ui.shared_selection, static_cast<int>(state.project.layers.size()) - 1);
    }
    const std::string locked = DrawWhyEditsAreLocked(state);
    ImGui::BeginDisabled(!locked.empty());
    DrawPalette(state, ui);
    std::vector<std::optional<nn::LayerShape>> shapes = PartialLayerShapes(state.project);
    DrawLayerTable(state, ui, shapes);
    ImGui::EndDisabled();
    shapes = PartialLayerShapes(state.project);  // the table may have edited the rows
    DrawTotals(state, shapes);
    if (ImGui::CollapsingHeader("Diagram", ImGuiTreeNodeFlags_DefaultOpen)) {
      if (state.model) {
        NetworkDiagramOptions options;
        options.highlight_layer = ui.selected;
        int clicked = -2;
        options.clicked_layer = &clicked;
        DrawNetworkDiagram(*state.model, state.training.snapshot.get(), ImVec2(0, std::max(200.0f, ImGui::GetContentRegionAvail().y)), options);
        if (clicked != -2) ui.selected = ui.selected == clicked ? -1 : clicked;
      } else {
        ImGui::TextDisabled("Fix the errors above to see the diagram.");
      }
    }
  }
  if (ui.selected != ui.shared_selection) state.insight.selected_layer = ui.shared_selection = ui.selected;
  // Outside the Begin() check: a collapsed window still finishes a pending replacement.
  if (ui.replacement) {
    DiscardChoice choice = ConfirmDiscardChanges(state, "replace it");
    if (choice == DiscardChoice::kProceed) ApplyReplacement(state, ui);
    if (choice == DiscardChoice::kCancel) ui.replacement.reset();
  }
  ImGui::End();
}

}  // namespace ts::ui
