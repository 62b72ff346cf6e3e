// GPU panel (right): the device, and where one training step's time goes:
// a bar per kernel dispatch, and each dispatch's achieved GFLOP/s and GB/s
// (its declared work divided by its measured GPU time).
#pragma once

#include "ui/app_state.h"

namespace ts::ui {

// Draws the panel in its own window ("GPU").
void DrawGpuPanel(AppState& state);

}  // namespace ts::ui
