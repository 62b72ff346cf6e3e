// The learner's progress in the Kernel Lab's puzzles: which are solved and
// the code of each, kept in the user's data folder (beside the autosave) so
// it survives the app. Saved atomically after every run and reset.
#pragma once

#include <map>
#include <string>

namespace ts::ui {

struct PuzzleProgress {
  std::string current;                        // the puzzle shown last
  std::map<std::string, std::string> code;    // per puzzle: the learner's kernel body
  std::map<std::string, bool> solved;         // per puzzle: passed once
  std::map<std::string, int> failed_tries;    // per puzzle: runs that did not pass
};

// ${XDG_DATA_HOME:-$HOME/.local/share}/tensorscope/puzzles.json ("" when neither is set).
std::string PuzzleProgressPath();

// Reads the progress file; a missing file is empty progress. Throws
// ts::Error naming the file and what is wrong when it cannot be read or is
// not a progress file.
PuzzleProgress LoadPuzzleProgress(const std::string& path);
// Writes atomically, creating the folder; throws ts::Error naming the path.
void SavePuzzleProgress(const PuzzleProgress& progress, const std::string& path);

}  // namespace ts::ui
