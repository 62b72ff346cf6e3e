// The Kernel Lab's Puzzles (compute/lab/puzzle.h), drawn inside the Lab
// window when its "Puzzles" switch is on: the puzzle list, the task, the
// read-only interface above an editor with line numbers (Ctrl+Enter runs),
// compile errors on their lines, the verdict with each wrong element's
// expected and got, the access drawing of the real run, counts against the
// budget, the time against the reference solution, Show solution after a
// failed try and a reset to the starter. Progress is saved in the user's
// data folder (ui/lab/puzzle_progress.h).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "compute/lab/puzzle.h"
#include "compute/vk/context.h"
#include "ui/app_state.h"
#include "ui/lab/puzzle_progress.h"

namespace ts::ui {

class PuzzleWorker;

struct PuzzlesView {
  bool shown = false;                 // the Lab window shows the puzzles instead of the lessons
  PuzzleProgress progress;            // current puzzle, code, solved, failed tries (saved)
  std::string progress_path;          // "" : progress is not saved (no data folder)
  std::unique_ptr<PuzzleWorker> worker;
  uint64_t request = 0;               // the run asked for last
  std::string request_puzzle;
  bool busy = false;
  // The last finished run per puzzle, and the code it ran.
  struct Outcome {
    std::shared_ptr<const lab::PuzzleResult> result;
    std::string error, body;
    double seconds = 0;
  };
  std::map<std::string, Outcome> outcomes;
  bool show_solution = false;
  bool focus_editor = false;          // give the editor the keyboard next frame (after Ctrl+Enter)
  int selected_invocation = 0;        // the access drawing's invocation (linear over the dispatch)
  uint32_t devices_recreated = 0;
  struct Drawn {                      // what the last frame drew, for the GUI tests' log
    std::string puzzle;
    uint32_t editor_lines = 0, error_lines = 0, wrong_cells = 0, touched_cells = 0, diagnoses = 0;
    bool solution_shown = false, show_solution_enabled = false;
  } drawn;
};

// Makes the puzzles' state and worker (its device is made at the first run,
// with `options`) and loads the saved progress (a bad file is said in a notice
// and left alone until the next save). `wake` is called when a run finishes.
void InitPuzzles(AppState& state, const vk::ContextOptions& options, std::function<void()> wake);

// The Lessons / Puzzles switch at the top of the Lab window; true when the
// puzzles are shown (then DrawPuzzles draws the window's body).
bool DrawLabModeSwitch(AppState& state);
void DrawPuzzles(AppState& state);

// For the GUI tests' --test-log.
nlohmann::json PuzzlesTestLog(const AppState& state);
std::string PuzzlesLogSnapshot(const AppState& state);

// Internal to ui/lab/puzzle*.cpp: the result's half of the view.
void DrawPuzzleResult(PuzzlesView& view, const lab::Puzzle& puzzle, const PuzzlesView::Outcome& outcome);

}  // namespace ts::ui
