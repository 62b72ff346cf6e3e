// What the puzzle engine's files share (compute/lab/puzzle*.cpp only).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "compute/lab/glsl_compile.h"
#include "compute/lab/puzzle.h"

namespace ts::lab::detail {

// shaders/puzzle/prelude.glsl, embedded at build time (shaders/embed_text.cmake).
extern const char kPuzzlePrelude[];

// Loop iterations one invocation may run in all before the guard stops its
// loops (below lavapipe's own 65 535 per loop, so the guard speaks first).
constexpr uint32_t kPuzzleLoopLimit = 16384;
// Shared arrays are numbered from here in out-of-bounds reports (globals from 0).
constexpr uint32_t kSharedArrayBase = 100;
// Words before the per-invocation barrier counts in the probe buffer.
constexpr uint32_t kProbeHeaderWords = 16;
// Probe header fields (shaders/puzzle/prelude.glsl).
enum ProbeField : uint32_t {
  kWanted = 0, kOutOfBounds = 1, kOobWorkgroup = 2, kOobInvocation = 3, kOobArray = 4, kOobRow = 5,
  kOobColumn = 6, kOobWrite = 7, kGuard = 8, kGuardWorkgroup = 9, kGuardInvocation = 10,
};
constexpr uint32_t kNoColumn = 0xffffffffu;

// The body with a loop guard in every loop: `for (...)` and `while (...)`
// become `for (...) if (ts_loop_guard()) break; else BODY`, `do` likewise; on
// the same line, so compile messages keep the learner's line numbers.
std::string GuardLoops(const std::string& body);

// The whole kernel: header, prelude, the puzzle's interface, then main()
// holding the guarded body under `#line 1 "FILE_NAME"`.
std::string PuzzleKernelSource(const Puzzle& puzzle, const std::string& body, const std::string& file_name);

// The first use of what a kernel body may not use: names beginning with ts_
// (the prelude's raw buffers), token pasting, #undef and #line.
std::optional<CompileError> FindForbiddenUse(const std::string& body);

// glslang's log as errors on the learner's lines (`file_name` is the name the
// body was compiled under); a log with no located message is one error on line 0.
std::vector<CompileError> CompileErrorsFromLog(const std::string& log, const std::string& file_name);

struct CompiledKernel {
  std::vector<uint32_t> spirv;          // empty when it did not compile
  std::vector<CompileError> errors;
};
// Compiles with glslang in a child process bounded by `limits`
// (glsl_compile.h); errors on the learner's lines carry them, and a compiler
// stopped for time or memory is an error on line 0 saying so.
CompiledKernel CompilePuzzleKernel(const Puzzle& puzzle, const std::string& body, const std::string& file_name,
                                   const GlslCompileLimits& limits = {});

// Total invocations dispatched, and per workgroup.
uint32_t WorkgroupInvocations(const Puzzle& puzzle);
uint32_t TotalInvocations(const Puzzle& puzzle);

// "out[3]" or "out[1][2]" (linear index into a 2D array) or "cache[5]".
std::string ElementName(const PuzzleArray& array, uint64_t index);

// What the instrumented run left, for the diagnosis.
struct ProbeReadout {
  std::vector<uint32_t> header;    // kProbeHeaderWords words
  std::vector<uint32_t> barriers;  // 3 words per invocation: passed, hash of lines, last line
  AccessTrace trace;
};
// Fills counts, most, diagnoses (except compile errors and wrong values),
// within_budget from the readout.
void Diagnose(const Puzzle& puzzle, const ProbeReadout& probe, PuzzleResult& result);
// Compares the outputs with the spec: correct, wrong, wrong_count and a kWrongValue diagnosis.
void CheckOutputs(const Puzzle& puzzle, PuzzleResult& result);

}  // namespace ts::lab::detail
