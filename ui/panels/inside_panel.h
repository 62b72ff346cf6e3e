// Inside panel: what the network does inside, live while it trains.
//   Filters       the first layer's weights as images (conv filters, or the
//                 weights of a dense layer that reads an image directly);
//   Feature maps  every image-shaped layer output for one chosen sample;
//   Activations   per-layer histograms of the outputs (a fixed probe batch)
//                 and of the weight gradients (the last training step), and
//                 the dead share of every ReLU layer;
//   Predict       a drawing canvas (models taking one grey image channel) and
//                 a chosen sample, with their top answers;
//   Mistakes      the confusion matrix with per-class accuracy, and the test
//                 images answered wrong with the highest confidence.
// The window starts collapsed along the bottom of the screen; while it is
// collapsed the worker runs no probe passes for it.
#pragma once

#include "ui/app_state.h"

namespace ts::ui {

// Draws the panel in its own window ("Inside the network###Inside").
void DrawInsidePanel(AppState& state);

}  // namespace ts::ui
