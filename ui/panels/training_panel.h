// Training panel (centre): the optimiser and schedule settings, the run
// controls (Start / Pause / Step / Stop / Reset), the progress line, live loss
// and accuracy curves (with markers where a setting changed mid-run), the
// decision boundary of 2D models, and the confusion matrix after each epoch.
#pragma once

#include "ui/app_state.h"

namespace ts::ui {

// Draws the panel in its own window ("Training").
void DrawTrainingPanel(AppState& state);

}  // namespace ts::ui
