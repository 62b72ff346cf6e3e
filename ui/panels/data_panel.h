// Data panel (bottom left): choose the dataset, set the generator of the
// built-in 2D sets, add points by clicking, and preview what is loaded (a
// scatter plot for 2D points, an image grid for images, a table for CSV, and
// for text its vocabulary and first windows as the text they hold).
// Datasets that are not installed are listed with the command that installs them.
#pragma once

#include <cstddef>
#include <string>

#include "ui/app_state.h"

namespace ts::ui {

// Draws the panel in its own window ("Data"). Reloads the data when the user
// changes the choice (marking the project dirty).
void DrawDataPanel(AppState& state);

// The 2D scatter (with the decision boundary when a snapshot has one), where a
// click adds a point of `state`'s selected class. Shared by the data and
// training panels. `height` <= 0: keep the data's aspect ratio.
void DrawDataMap(AppState& state, const char* id, float height);

// Text data (labels_per_sample > 1, compute/data/text.h): window `sample` of
// token ids as the text it holds, decoded with the dataset's class_names (its
// vocabulary); a line break shows as a pilcrow before it. "" for other data.
std::string TextOfWindow(const data::Dataset& dataset, size_t sample);

}  // namespace ts::ui
