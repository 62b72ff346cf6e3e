// `tensorscope lab puzzle`: the Kernel Lab's puzzles for teachers on the
// command line (list them, print a reference solution, check a file).
#pragma once

#include <string>
#include <vector>

namespace ts::app {

// `words` are the words after "lab puzzle": `--list`; NAME (the task, the
// interface and the starter); NAME --solution; NAME --check FILE.glsl
// [--no-time] [--device N] [--validate]. Returns the exit code: 0 when the
// check passed (correct, within budget, nothing diagnosed), 3 when it did not
// (a compile error too), 1 when the validation layer spoke; throws ts::Error
// (exit 1) for bad options or an unreadable file.
int RunPuzzleCommand(const std::vector<std::string>& words);

}  // namespace ts::app
