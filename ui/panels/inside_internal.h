// Internal to the Inside window (ui/panels/inside_*.cpp): what its tabs share.
// Not part of the UI library's API.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "ui/app_state.h"
#include "ui/widgets/drawing_canvas.h"
#include "ui/widgets/plot.h"
#include "ui/widgets/text.h"

namespace ts::ui::inside {

constexpr size_t kTopAnswers = 5;
constexpr uint32_t kDenseUnitsShown = 16;  // weight images of a dense first layer at a time (a page)
constexpr uint32_t kMostInputChannelsShown = 8;  // per conv filter
constexpr double kCanvasSendSeconds = 0.1;     // while a stroke is drawn
constexpr double kCanvasRefreshSeconds = 0.5;  // as training moves the network on

enum class Tab { kFilters, kFeatureMaps, kActivations, kPredict, kMistakes };

// UI-only state of the panel (the UI thread's own).
struct PanelUi {
  DrawingCanvas canvas;
  bool centre_like_mnist = true;
  uint64_t canvas_sent_version = UINT64_MAX;
  bool show_pre_activation = false;
  std::optional<Tab> select;  // a tab to bring forward next frame (a clicked mistake opens Predict)
  // How far above the display's bottom the collapsed window sat before opening
  // lifted it into view (-1: not lifted); from the bottom, so a display resized
  // meanwhile still gets the bar back at its bottom.
  float lifted_from_bottom = -1;
  std::map<std::string, PlotState> plots;
};

// The panel's state (reset with the process).
PanelUi& Ui();
const nn::InsideSnapshot* InsideOf(const AppState& state);
std::string ClassName(const data::Dataset* dataset, uint32_t label);
// Class probabilities from a model's outputs: a single-output (sigmoid) model gives {1 - p, p}.
std::vector<float> Probabilities(std::span<const float> outputs);
// The k most probable classes, most probable first.
std::vector<std::pair<uint32_t, float>> TopAnswers(std::span<const float> outputs, size_t k);
// The top answers as bars (percent); `truth` (if any) is drawn green or red.
void DrawTopAnswers(const char* id, std::span<const float> outputs, const data::Dataset* dataset,
                    std::optional<uint32_t> truth, float width);
// "test image", "test sample", "validation sample", ...: what the probe set holds.
std::string ProbeSetName(const AppState& state);
// The chosen sample (Feature maps and Predict share it); false when there is no probe set yet.
bool DrawSamplePicker(AppState& state);
// "circle: predicted circle 97%" for the chosen sample, once the worker sent it.
void DrawSampleVerdict(const AppState& state, const nn::InsideSnapshot* inside);

// The tabs: what the network computes (inside_layers.cpp) and what it answers (inside_answers.cpp).
void DrawFiltersTab(AppState& state);
void DrawFeatureMapsTab(AppState& state);
void DrawActivationsTab(AppState& state);
void DrawPredictTab(AppState& state);
void DrawMistakesTab(AppState& state);

}  // namespace ts::ui::inside
