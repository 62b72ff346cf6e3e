// "PyTorch check..." in the Model panel: replays the current model's first N
// training steps in PyTorch from the same weights and batches (`tensorscope
// parity`, run as a child process so the window and the training worker keep
// their devices), and plots both loss curves and the per-step relative
// difference with the verdict. Without python3-torch it says how to install it.
#pragma once

#include "ui/app_state.h"

namespace ts::ui {

// The button (call inside the Model panel) and, while open, the window.
void DrawParityButton(AppState& state);
void DrawParityWindow(AppState& state);

}  // namespace ts::ui
