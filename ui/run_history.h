// The run kept across a restart: at exit the window writes the network
// (last.ckpt, by the session) and its run (last-run.json: what the run was
// and what it produced: curves, markers, the latest epoch and test results);
// at start it restores both when the project it reopens is the same run.
//
// last-run.json (version 1):
//   {"format": "tensorscope-run", "version": 1,
//    "identity": {"model": "...", "data": "..."},   // RunIdentity: restored only when equal
//    "steps_per_epoch": N, "train_samples": N,
//    "curves": {"train_loss": [[step, value], ...], "train_accuracy": ..., "validation_loss": ...,
//               "validation_accuracy": ...},
//    "markers": [[step, "lr 0.01 -> 0.001"], ...],
//    "last_step": {"epoch": E, "step_in_epoch": S, "global_step": G, "learning_rate": X, "loss": L, "accuracy": A},
//    "last_epoch": {"epoch": E, "train_loss": L, "train_accuracy": A, "seconds": T, "samples": N,
//                   "validation": EVAL},                // optional
//    "last_test": EVAL,                                 // optional
//    "test_mistakes": [[index, label, predicted, confidence], ...]}
//   EVAL = {"loss": L, "accuracy": A, "samples": N, "classes": C, "confusion": [...],
//           "examples": [[index, label, predicted, confidence], ...]}
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "ui/app_state.h"

namespace ts::ui {

nlohmann::json RunHistoryToJson(const AppState& state);
// Puts a run's history (as RunHistoryToJson wrote it) into state.training and
// state.inside. Throws ts::Error naming `source` and the field when malformed.
void ApplyRunHistory(const nlohmann::json& history, AppState& state, const std::string& source);

// At exit: asks the session to write the run's network to `checkpoint_path`
// and writes its history to `run_path` (atomically). Does nothing without a
// trained run (none, or a failed one: the last good network stays).
void KeepLastRun(AppState& state, const std::string& checkpoint_path, const std::string& run_path);
// At start, after the project and its data are loaded: when both files exist
// and the history's identity is the project's, the checkpoint becomes the run
// and its history is shown again. Problems become notices; nothing throws.
void RestoreLastRun(AppState& state, const std::string& checkpoint_path, const std::string& run_path);

}  // namespace ts::ui
