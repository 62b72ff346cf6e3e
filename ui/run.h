// The run: where the window's training state lives and who may change it.
//
// A run is (model, data, the settings that pick its samples) plus everything
// it produced: curves, predictions, confusion matrix, kernel times, profiles,
// the network in the session. It lives in AppState::training (TrainingView),
// with the per-kernel and inside-view results in AppState::insight and
// AppState::inside. The panels only draw it. Only these functions change
// which run there is:
//   StartTraining      a fresh run of the current project (the old one's results are cleared);
//   ContinueTraining   the same run, trained further with the settings now shown;
//   RestoreRun         a checkpoint of the current project's model becomes the run;
//   EndRun             no run (the session drops its network, the results go).
// SyncRun, called once a frame before the panels draw, is how a change to the
// project reaches the run: it reloads the data when the data choice changed
// and ends the run when the project no longer means the same run (another
// model, other data, another split). While a run is training or paused,
// the model and data cannot be edited (WhyEditsAreLocked says so on screen).
#pragma once

#include <memory>
#include <string>

#include "compute/nn/checkpoint.h"
#include "ui/app_state.h"

namespace ts::ui {

// What the data arrays were loaded from: the data spec, the model's image size
// for image folders, and the points added by clicking.
std::string DataLoadKey(const AppState& state);
// The identity of a run of the project as it is now (empty model: invalid).
RunIdentity CurrentRunIdentity(const AppState& state);

bool RunIsActive(const AppState& state);  // training or paused
// Why the model and data cannot be edited now ("" when they can).
std::string WhyEditsAreLocked(const AppState& state);
// For the Model and Data panels: draws WhyEditsAreLocked's reason (amber,
// wrapped: a panel may be narrow) when there is one; returns it ("" when none).
std::string DrawWhyEditsAreLocked(const AppState& state);

// Once a frame: reloads the data when the data choice changed, ends the run
// when the project means another run, and marks the layer that does not fit
// the data (nn::CheckDataFit) with its error.
void SyncRun(AppState& state);

// The same run from fresh weights: the session re-initialises its network and
// what the run produced is cleared from view.
void ResetRun(AppState& state);
// Drops the run: the session unloads, every result is cleared from view.
void EndRun(AppState& state);
// Clears every result of the run from view (curves, predictions, kernel
// times, profiles, inside views) and counts a new run id.
void ClearRunResults(AppState& state);

// Why Train (a fresh run) / Continue cannot be used now ("" when they can).
std::string WhyTrainingIsDisabled(const AppState& state);
std::string WhyContinueIsDisabled(const AppState& state);
// A fresh run of the project: results cleared, session loaded and started.
void StartTraining(AppState& state);
// Applies the settings shown (e.g. more epochs) to the run and trains on.
void ContinueTraining(AppState& state);

// How closely the window watches a run: live (every view moves), or with
// "train fast" (AppState::train_fast) a few times a second.
nn::WatchSettings WatchFor(const AppState& state);
// Turns "train fast" on or off for the run in the session, at once.
void SetTrainFast(AppState& state, bool fast);

// Loads `checkpoint` (read from `source`) into the session as the current
// run when its architecture is the project's model; the run is then stopped
// at the checkpoint's position (Continue trains further). Throws ts::Error
// naming the source and both architectures when they differ.
void RestoreRun(AppState& state, std::shared_ptr<const nn::Checkpoint> checkpoint, const std::string& source);

}  // namespace ts::ui
