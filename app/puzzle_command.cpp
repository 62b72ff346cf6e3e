#include "app/puzzle_command.h"

#include <cstdio>
#include <memory>

#include "app/arguments.h"
#include "compute/common/error.h"
#include "compute/common/file_read.h"
#include "compute/lab/puzzle.h"
#include "compute/vk/context.h"

namespace ts::app {
namespace {

// A kernel body is a few dozen lines; a larger file is not one.
constexpr uint64_t kMaxKernelBytes = 1 << 20;
// The exit code of a check that did not pass (1 is a usage or file error), as `lab LESSON` uses for a failed check.
constexpr int kNotPassed = 3;

int ListPuzzles() {
  for (const lab::Puzzle& puzzle : lab::Puzzles())
    std::printf("%-13s %s (budget: %s)\n", puzzle.name.c_str(), puzzle.title.c_str(),
                puzzle.budget.Describe().c_str());
  return 0;
}

int DescribePuzzle(const lab::Puzzle& puzzle) {
  std::printf("%s\n\n%s\n\n%s%s}\n", puzzle.title.c_str(), puzzle.task.c_str(),
              lab::PuzzleInterfaceText(puzzle).c_str(), puzzle.starter.c_str());
  return 0;
}

int CheckFile(const lab::Puzzle& puzzle, const std::string& path, const Arguments& args) {
  const std::string body = ReadRegularFile(path, kMaxKernelBytes, "a GLSL kernel body");
  vk::ContextOptions options;
  options.device_index = args.Int("device").value_or(-1);
  options.validation = args.Has("validate");
  options.robust_buffer_access = true;  // a stray access in a learner's kernel cannot corrupt anything
  std::unique_ptr<vk::Context> context = vk::Context::Create(options);
  lab::PuzzleRunner runner(*context);
  lab::PuzzleRunner::Options run_options;
  run_options.time = !args.Has("no-time");
  run_options.file_name = path;
  lab::PuzzleResult result = runner.Run(puzzle, body, run_options);
  // Compile errors as compilers print them, so editors can jump to the line.
  for (const lab::CompileError& e : result.compile_errors)
    std::printf("%s:%u: error: %s\n", path.c_str(), e.line, e.message.c_str());
  std::printf("%s", lab::FormatPuzzleResult(puzzle, result).c_str());
  int code = result.passed ? 0 : kNotPassed;
  if (context->validation_message_count() > 0) {
    std::fprintf(stderr, "tensorscope: the validation layer reported %llu message(s) (above).\n",
                 static_cast<unsigned long long>(context->validation_message_count()));
    if (code == 0) code = 1;
  }
  return code;
}

}  // namespace

int RunPuzzleCommand(const std::vector<std::string>& words) {
  Arguments args(words, {"check", "device"}, {"list", "solution", "no-time", "validate", "help"});
  if (args.Has("list")) return ListPuzzles();
  if (args.positional().size() != 1)
    throw Error("lab puzzle takes one puzzle name (`tensorscope lab puzzle --list` lists them); found " +
                std::to_string(args.positional().size()) + " words.");
  const lab::Puzzle& puzzle = lab::FindPuzzle(args.positional()[0]);
  if (args.Has("solution") && args.Has("check"))
    throw Error("lab puzzle: --solution prints the reference kernel and --check checks a file; give one of them.");
  if (args.Has("solution")) {
    std::printf("%s", puzzle.solution.c_str());
    return 0;
  }
  if (args.Has("check")) return CheckFile(puzzle, *args.String("check"), args);
  return DescribePuzzle(puzzle);
}

}  // namespace ts::app
