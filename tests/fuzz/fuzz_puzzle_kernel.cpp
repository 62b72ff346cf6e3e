// A learner's puzzle kernel body (what the Kernel Lab's editor and
// `lab puzzle NAME --check FILE` take), through what the app does with it in
// its own process: the forbidden-use scan, the loop guard and the source
// around the body (the first byte picks the puzzle, so every prelude is used),
// and the reading of a compiler log (the same bytes taken as glslang's log).
// glslang itself runs in a child process with limits (compute/lab/glsl_compile.*),
// tested by test_puzzles' PuzzleCompile cases; here it would only be slow.
#include "compute/lab/puzzle_internal.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::vector<ts::lab::Puzzle>& puzzles = ts::lab::Puzzles();
  const ts::lab::Puzzle& puzzle = puzzles[data[0] % puzzles.size()];
  const std::string body(reinterpret_cast<const char*>(data + 1), size - 1);
  ts::fuzz::Expect([&] {
    ts::lab::detail::FindForbiddenUse(body);
    ts::lab::detail::PuzzleKernelSource(puzzle, body, "fuzz.glsl");
    ts::lab::detail::CompileErrorsFromLog(body, "fuzz.glsl");
  });
  return 0;
}
