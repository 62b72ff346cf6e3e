// Model panel (the left side of the window): build the network layer by layer.
//
//   - File bar: New, Open, Save, Save As (a path field: ImGui has no file
//     dialog), and the built-in presets. Replacing a project with unsaved
//     changes asks first (ConfirmDiscardChanges).
//   - Palette: one button per layer type; it inserts after the selected row
//     (with nothing selected: before the loss head).
//   - Layer table: each row edited inline (text fields kept as typed), moved by
//     drag and drop or the up/down buttons, duplicated or removed; with its
//     output shape, parameters, FLOPs per sample, and memory. An invalid row
//     shows why in red under it.
//   - Totals, and an estimate of the device memory a training Plan takes at the
//     project's batch size and optimizer.
//   - The network diagram (ui/widgets/network_diagram.h).
// Every edit sets state.dirty and rebuilds state.model / state.model_error.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "imgui.h"
#include "compute/kernels/optimizer.h"
#include "compute/nn/model.h"
#include "compute/nn/plan.h"
#include "ui/app_state.h"

namespace ts::ui {

// Draws the panel in its own window, titled "Model: <project name>" with "*"
// while the project has unsaved changes. Its ID is "###Model" whatever the
// title: place it with SetNextWindowPos/Size just before the call, or with
// ImGui::SetWindowPos("###Model", ...). Call once per frame.
void DrawModelPanel(AppState& state);

enum class DiscardChoice {
  kPending,  // the prompt is showing; call again next frame
  kProceed,  // nothing unsaved, or the user saved or chose to discard: go ahead
  kCancel,   // the user wants to keep editing
};

// An immediate-mode "unsaved changes" prompt (Save / Discard / Cancel, with a
// path field when the project was never saved). Call it every frame, inside a
// frame, from the moment the user asks for something that would lose the
// changes until it returns something other than kPending. Returns kProceed at
// once when state.dirty is false. `action` completes "Save the changes before
// you ...?" (e.g. "quit").
//
// Quitting, in the app's main loop:
//   if (glfwWindowShouldClose(window)) { glfwSetWindowShouldClose(window, GLFW_FALSE); quitting = true; }
//   ... NewFrame(), draw the panels ...
//   if (quitting) {
//     DiscardChoice choice = ConfirmDiscardChanges(state, "quit");
//     if (choice == DiscardChoice::kProceed) running = false;   // then Autosaver::Flush and exit
//     if (choice == DiscardChoice::kCancel) quitting = false;
//   }
DiscardChoice ConfirmDiscardChanges(AppState& state, const char* action);

// Device memory for training, estimated from the shapes alone (the compiled
// Plan adds alignment padding and per-step buffers): parameters and their
// gradients, optimizer state (0, 1 or 2 copies of the parameters), every
// layer's output and its gradient for `batch` samples, and the batch input and
// labels. 4 bytes per value. Layers without a shape (nullopt) are skipped.
// fp16 (mixed precision): activations and their gradients take 2 bytes, and
// the batch input and the weights gain an fp16 copy.
nn::MemoryUse EstimateTrainingMemory(const std::vector<std::optional<nn::LayerShape>>& shapes, uint32_t batch,
                                     kernels::OptimizerKind optimizer, nn::Precision precision = nn::Precision::kFp32);

// The edits the panel makes, for scripting and tests. Each marks the project
// dirty and rebuilds state.model.
// Inserts a new row of `type` (a ModelDesc type name) after row `after`
// (-1: before the loss head, or at the end without one); returns its index.
size_t InsertLayer(AppState& state, int after, const std::string& type);
void RemoveLayer(AppState& state, size_t index);
void DuplicateLayer(AppState& state, size_t index);  // the copy goes right after, unnamed
void MoveLayer(AppState& state, size_t from, size_t to);  // `to`: the index it ends up at

// The screen rectangle of the palette button that inserts `type`, as drawn in
// the last frame; false when it was not drawn. For UI tests and guided tours.
bool PaletteButtonRect(const std::string& type, ImVec2* min, ImVec2* max);

}  // namespace ts::ui
