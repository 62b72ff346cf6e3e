// A learner's puzzle kernel body (what the Kernel Lab's editor and
// `lab puzzle NAME --check FILE` take): any text goes through the loop guard
// and glslang in its child process, and either compiles or gives compile
// errors; the puzzle is picked by the first byte so every prelude is used.
// The child gets 1 s of CPU (the app gives 10) to stay inside libFuzzer's 2 s;
// its coverage is not seen by libFuzzer, so this checks the app's path rather
// than exploring glslang.
#include "compute/lab/puzzle_internal.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::vector<ts::lab::Puzzle>& puzzles = ts::lab::Puzzles();
  const ts::lab::Puzzle& puzzle = puzzles[data[0] % puzzles.size()];
  const std::string body(reinterpret_cast<const char*>(data + 1), size - 1);
  ts::fuzz::Expect([&] { ts::lab::detail::CompilePuzzleKernel(puzzle, body, "fuzz.glsl", {1, uint64_t{256} << 20}); });
  return 0;
}
