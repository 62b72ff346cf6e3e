// Training panel (centre): the optimiser and schedule settings, the run
// controls (Start / Pause / Step / Stop / Reset), the progress line, live loss
// and accuracy curves (with markers where a setting changed mid-run), the
// decision boundary of 2D models, and the confusion matrix after each epoch.
#pragma once

#include "imgui.h"
#include "ui/app_state.h"

namespace ts::ui {

// Draws the panel in its own window ("Training").
void DrawTrainingPanel(AppState& state);

// The screen rectangle of the Train/Start button in the last frame (for UI tests).
bool TrainButtonRect(ImVec2* min, ImVec2* max);

}  // namespace ts::ui
