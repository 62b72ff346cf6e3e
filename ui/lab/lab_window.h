// The "Kernel Lab" window, opened from the GPU panel or with `tensorscope
// lab`: lessons in GPU parallel programming that run real kernels on the
// device (compute/lab/lab.h). On the left the lessons, the lesson's knobs and
// Run; in the middle the results (the variants table with checks, the charts,
// the roofline, the picture of the dispatch or of what a subgroup touched,
// the notes); on the right the selected variant's GLSL source.
// Runs go to the LabRunner's worker (its own device): nothing here waits.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "ui/app_state.h"

namespace ts::ui {

// Opens the window on `lesson` (the first lesson when empty or unknown).
void OpenLab(AppState& state, const std::string& lesson = "");

// Closes the window; a run under way is cancelled.
void CloseLab(AppState& state);

// Draws the window when state.lab.open (its close button clears it, and
// cancels a run under way). Takes the runner's news first; a lesson shown
// for the first time is run at once.
void DrawLabWindow(AppState& state);

// For the GUI tests' --test-log: what the Lab shows and drew.
nlohmann::json LabTestLog(const AppState& state);
// Changes when the Lab's state does (a new line of the test log is due).
std::string LabLogSnapshot(const AppState& state);

}  // namespace ts::ui
