// The glue between the panels and the TrainingSession: turning session events
// into what the panels draw, and user actions into session commands. Runs on
// the UI thread; nothing here waits for the GPU.
#pragma once

#include <string>
#include <vector>

#include "compute/nn/session.h"
#include "ui/app_state.h"

namespace ts::ui {

// Folds the session's events into state.training (curves, markers, snapshot,
// per-kernel times) and raises notices for errors.
void ApplySessionEvents(AppState& state, const std::vector<nn::SessionEvent>& events);

// Polls the session and applies its events, and moves the ETA on by
// `frame_seconds` of wall time. Call once per frame.
void UpdateFromSession(AppState& state, double frame_seconds);

// (Re)loads the datasets the project names into state.train_data/test_data
// and records what they were loaded for (state.loaded_data). Errors go to
// state.data_error and a notice, and leave no data loaded.
void LoadProjectData(AppState& state);

// The data spec LoadProjectData loads: the project's (DataSpecFor), with an
// image folder's split, and its size and channels when the model takes images.
std::string LoadedDataSpec(const AppState& state);

// Clears curves, markers and the latest results (ui/run.h's ClearRunResults
// clears everything a run produced).
void ClearTrainingHistory(TrainingView& view);

// Asks the session's worker for the device's ceilings (cached per device
// unless `remeasure`); the answer arrives as a kCeilings event. Does nothing
// while a measurement is under way.
void MeasureCeilings(AppState& state, bool remeasure);

// Tells the session what the Inside window wants (which probe passes, which
// sample) when that differs from what it was last told.
void SendInsideRequest(AppState& state, const nn::InsideRequest& request);
// Sends a drawing (bytes in the model's input shape, 0 = background) to be
// predicted, normalised with the probe data's scale and offset; the answer
// arrives in state.inside.canvas_prediction. `now`: ImGui::GetTime().
void PredictCanvas(AppState& state, std::vector<uint8_t> pixels, double now);

}  // namespace ts::ui
