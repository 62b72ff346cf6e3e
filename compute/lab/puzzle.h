// Kernel Lab puzzles: small GLSL compute kernels a learner writes (after
// GPU-Puzzles, Sasha Rush), compiled in-process, run on the device, checked
// against a hidden CPU spec and explained from an instrumented run:
// out-of-bounds accesses, races, missing or divergent barriers, loops that
// never end and budgets (reads, writes, barriers per invocation) are caught
// and said in words, never a crash.
//
// The learner writes the body of main(). Above it, read-only, the puzzle's
// interface: its constants, workgroup size and grid, and accessors for its
// buffers and shared arrays (read_a(i), write_out(i, v), read_a(row, col) ...)
// that check every index and record every access.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "compute/lab/lab.h"
#include "compute/vk/context.h"
#include "compute/vk/pipeline.h"

namespace ts::lab {

// A float array the kernel reads (input) or writes (output), 1D (rows == 1)
// or 2D (rows x columns, row-major).
struct PuzzleArray {
  std::string name;  // "a", "out": the accessors are read_NAME / write_NAME
  uint32_t rows = 1, columns = 1;
  bool output = false;
  bool two_d = false;  // accessors take (row, column)
  uint32_t size() const { return rows * columns; }
};

// Upper bounds per invocation; unset: no bound.
struct PuzzleBudget {
  std::optional<uint32_t> global_reads, global_writes, shared_reads, shared_writes, barriers;
  // Consecutive invocations along x read (and write) consecutive elements of
  // each global array at each of their n-th accesses (coalesced).
  bool coalesced = false;
  std::string Describe() const;  // "at most 1 global read, 1 global write per invocation"
};

struct Puzzle {
  std::string name;   // "map", "zip", ...: what the command line takes
  std::string title;  // "1. Map"
  std::string task;   // one paragraph
  std::vector<PuzzleArray> globals;  // inputs first, then outputs; binding 1, 2, ...
  std::vector<PuzzleArray> shared;   // shared arrays (accessors read_NAME, write_NAME)
  std::vector<std::pair<std::string, uint32_t>> constants;  // "SIZE" = 4, ...
  uint32_t workgroup[2] = {1, 1};  // invocations per workgroup (x, y)
  uint32_t grid[2] = {1, 1};       // workgroups dispatched (x, y)
  PuzzleBudget budget;
  std::string starter;   // the kernel body a learner starts from
  std::string solution;  // the reference body
  // The inputs, by input array (the same every run).
  std::function<std::vector<std::vector<float>>()> inputs;
  // The hidden spec: each output array from the inputs.
  std::function<std::vector<std::vector<double>>(const std::vector<std::vector<float>>&)> spec;
};

const std::vector<Puzzle>& Puzzles();
// The puzzle called `name`; throws ts::Error listing the names when none is.
const Puzzle& FindPuzzle(const std::string& name);

// What the learner sees above the editor: constants, geometry and the
// accessors' signatures, as GLSL declarations with comments.
std::string PuzzleInterfaceText(const Puzzle& puzzle);

// A GLSL compile error on a line of the learner's kernel body (1-based; 0
// when the compiler names no line of it, e.g. a brace left open).
struct CompileError {
  uint32_t line = 0;
  std::string message;  // the compiler's words, without file and line
};

enum class DiagnosisKind {
  kCompileError, kNeverEnds, kOutOfBounds, kDivergentBarrier, kMissingBarrier, kRace, kWrongValue,
  kOverBudget, kRecordsOverflowed, kDeviceLost,
};
std::string DiagnosisKindName(DiagnosisKind kind);  // "compile error", "out of bounds", ...

struct Diagnosis {
  DiagnosisKind kind;
  std::string message;  // a sentence naming the invocation, array, index, line ...
};

// One wrong output element.
struct WrongElement {
  uint32_t array = 0;  // index into the puzzle's output arrays
  uint32_t index = 0;  // linear; row = index / columns for 2D arrays
  double expected = 0, got = 0;
};

// Per invocation, what the instrumented run counted (the budget's figures).
struct InvocationCounts {
  uint32_t workgroup = 0, invocation = 0;
  uint32_t global_reads = 0, global_writes = 0, shared_reads = 0, shared_writes = 0, barriers = 0;
};

struct PuzzleResult {
  std::string puzzle;
  bool compiled = false;
  bool correct = false;        // every output element matches the spec
  bool within_budget = false;
  bool passed = false;         // compiled, correct, within budget, no diagnosis
  std::vector<CompileError> compile_errors;
  std::vector<Diagnosis> diagnoses;  // most telling first; empty when passed
  std::vector<WrongElement> wrong;   // every wrong element (at most kMaxWrongListed kept)
  uint64_t wrong_count = 0;
  std::vector<std::vector<float>> outputs;  // as the kernel left them
  std::vector<std::vector<double>> expected;
  std::vector<InvocationCounts> counts;      // one per invocation (from the instrumented run)
  InvocationCounts most;                     // the largest count of each kind over all invocations
  std::optional<AccessTrace> trace;          // the instrumented run's records (buffer_names: globals)
  // Timed once correct: the median GPU time of the kernel and of the
  // reference solution, their runs interleaved, and the middle half of each
  // one's runs (25th to 75th percentile): the run-to-run spread.
  std::optional<double> ms, reference_ms;
  std::pair<double, double> ms_spread{0, 0}, reference_ms_spread{0, 0};
  std::string device;
};
constexpr size_t kMaxWrongListed = 256;

// Runs learner kernel bodies on one device. Keeps the reference solutions'
// pipelines, timed beside each correct kernel.
class PuzzleRunner {
 public:
  explicit PuzzleRunner(vk::Context& context) : context_(context) {}

  struct Options {
    bool time = true;        // time the kernel (and, once, the reference) when it is correct
    uint32_t repeats = 21;   // timed runs of each (the kernel's and the reference's, interleaved)
    uint64_t record_capacity = 1u << 16;
    std::string file_name = "kernel.glsl";  // names the learner's code in compile messages
  };
  // Compiles `body` into the puzzle's kernel, runs it with recording on,
  // checks and diagnoses; times it when correct. Device failures other than
  // a lost device throw ts::Error; a lost device is a kDeviceLost diagnosis
  // (the caller re-creates the context: see PuzzleSession).
  PuzzleResult Run(const Puzzle& puzzle, const std::string& body, const Options& options);
  PuzzleResult Run(const Puzzle& puzzle, const std::string& body) { return Run(puzzle, body, Options{}); }

 private:
  vk::Context& context_;
  std::map<std::string, std::unique_ptr<vk::Pipeline>> reference_pipelines_;  // by puzzle, built once
};

// A runner with a Vulkan device of its own, so a learner's kernel that loses
// the device loses only this one: the session re-creates it and says so. Its
// device checks buffer bounds (robustBufferAccess2 where the device has it),
// so even a raw buffer access past the end cannot corrupt anything.
class PuzzleSession {
 public:
  explicit PuzzleSession(vk::ContextOptions options);
  PuzzleResult Run(const Puzzle& puzzle, const std::string& body, const PuzzleRunner::Options& options);
  vk::Context& context() { return *context_; }
  uint32_t devices_recreated() const { return recreated_; }
  // Tests: the next run reports its device lost, as a driver would (lavapipe
  // cannot be made to lose its device on purpose).
  void LoseDeviceOnNextRunForTesting() { lose_next_ = true; }

 private:
  vk::ContextOptions options_;
  std::unique_ptr<vk::Context> context_;
  std::unique_ptr<PuzzleRunner> runner_;
  uint32_t recreated_ = 0;
  bool lose_next_ = false;
};

// "53.5 us" or "1.204 ms": a kernel's time as the verdict writes it.
std::string PuzzleTimeText(double ms);
// The kernel's time against the reference solution's, with their spreads;
// "the same within the run-to-run spread" where the middle halves overlap,
// else the ratio. Empty when the result was not timed.
std::string PuzzleTimingText(const PuzzleResult& result);

// The verdict for people: passed or not, the diagnoses, wrong elements with
// expected vs got, counts vs budget and times.
std::string FormatPuzzleResult(const Puzzle& puzzle, const PuzzleResult& result);

}  // namespace ts::lab
