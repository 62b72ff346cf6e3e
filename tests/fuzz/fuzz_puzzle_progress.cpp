// The Kernel Lab's puzzle progress file (ui/lab/puzzle_progress.h): any bytes
// load or are refused with ts::Error, and what loads is written back and read again.
#include "fuzz_support.h"
#include "ui/lab/puzzle_progress.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ts::fuzz::Expect([&] {
    const ts::ui::PuzzleProgress progress = ts::ui::LoadPuzzleProgress(ts::fuzz::WriteScratch("puzzles.json", data, size));
    const std::string again = ts::fuzz::ScratchPath("again/puzzles.json");
    ts::ui::SavePuzzleProgress(progress, again);
    ts::ui::LoadPuzzleProgress(again);
  });
  return 0;
}
