// The Kernel Lab's puzzles: every reference solution passes within budget on
// the device; wrong solutions of every puzzle fail with the right diagnosis
// (wrong value, out of bounds, race, missing or divergent barrier, over
// budget, compile error on the right line, a loop that never ends); a lost
// device is re-created. Validation layer on (support/vulkan_test.h).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <tuple>

#include "compute/common/error.h"
#include "compute/lab/puzzle.h"
#include "compute/lab/puzzle_internal.h"
#include "support/vulkan_test.h"

namespace ts {
namespace {

using lab::DiagnosisKind;

#define EXPECT_CONTAINS(text, part) EXPECT_NE(std::string(text).find(part), std::string::npos) << (text)

class Puzzles : public testing::VulkanTest {
 protected:
  lab::PuzzleResult Run(const std::string& puzzle, const std::string& body, bool time = false) {
    lab::PuzzleRunner::Options options;
    options.time = time;
    options.repeats = 3;
    return runner_.Run(lab::FindPuzzle(puzzle), body, options);
  }
  static bool Has(const lab::PuzzleResult& result, DiagnosisKind kind) {
    return std::any_of(result.diagnoses.begin(), result.diagnoses.end(),
                       [&](const lab::Diagnosis& d) { return d.kind == kind; });
  }
  // Every diagnosis of `kind`, one per line.
  static std::string Message(const lab::PuzzleResult& result, DiagnosisKind kind) {
    std::string text;
    for (const lab::Diagnosis& d : result.diagnoses)
      if (d.kind == kind) text += d.message + "\n";
    return text;
  }
  static std::string All(const lab::PuzzleResult& result) {
    std::string text;
    for (const lab::Diagnosis& d : result.diagnoses) text += lab::DiagnosisKindName(d.kind) + ": " + d.message + "\n";
    return text;
  }
  lab::PuzzleRunner runner_{context()};
};

TEST_F(Puzzles, AtLeastTwelveInRisingDifficultyWithEverythingFilledIn) {
  ASSERT_GE(lab::Puzzles().size(), 12u);
  for (const lab::Puzzle& p : lab::Puzzles()) {
    EXPECT_FALSE(p.task.empty()) << p.name;
    EXPECT_FALSE(p.starter.empty()) << p.name;
    EXPECT_FALSE(p.solution.empty()) << p.name;
    EXPECT_TRUE(p.budget.global_reads || p.budget.global_writes) << p.name;
    EXPECT_EQ(&lab::FindPuzzle(p.name), &p);
  }
  EXPECT_THROW(lab::FindPuzzle("no-such-puzzle"), Error);
}

TEST_F(Puzzles, EveryReferenceSolutionPassesWithinBudget) {
  for (const lab::Puzzle& p : lab::Puzzles()) {
    lab::PuzzleResult r = Run(p.name, p.solution);
    EXPECT_TRUE(r.passed) << p.name << "\n" << All(r) << lab::FormatPuzzleResult(p, r);
    EXPECT_TRUE(r.correct && r.within_budget) << p.name;
    EXPECT_TRUE(r.diagnoses.empty()) << p.name << "\n" << All(r);
    ASSERT_TRUE(r.trace.has_value()) << p.name;
    EXPECT_FALSE(r.trace->overflowed()) << p.name;
    EXPECT_GT(r.most.global_writes, 0u) << p.name;
  }
}

TEST_F(Puzzles, EveryStarterCompilesAndFailsWithWrongValues) {
  for (const lab::Puzzle& p : lab::Puzzles()) {
    lab::PuzzleResult r = Run(p.name, p.starter);
    EXPECT_TRUE(r.compiled) << p.name << "\n" << All(r);
    EXPECT_FALSE(r.passed) << p.name;
    EXPECT_TRUE(Has(r, DiagnosisKind::kWrongValue)) << p.name << "\n" << All(r);
    EXPECT_FALSE(r.wrong.empty()) << p.name;
  }
}

TEST_F(Puzzles, ACompileErrorNamesTheLearnersLineInEveryPuzzle) {
  for (const lab::Puzzle& p : lab::Puzzles()) {
    const uint32_t lines = static_cast<uint32_t>(std::count(p.solution.begin(), p.solution.end(), '\n'));
    lab::PuzzleResult r = Run(p.name, p.solution + "float broken = undeclared_name;\n");
    EXPECT_FALSE(r.compiled) << p.name;
    ASSERT_FALSE(r.compile_errors.empty()) << p.name;
    EXPECT_EQ(r.compile_errors[0].line, lines + 1) << p.name << ": " << r.compile_errors[0].message;
    EXPECT_CONTAINS(r.compile_errors[0].message, "undeclared_name");
    EXPECT_TRUE(Has(r, DiagnosisKind::kCompileError));
  }
}

TEST_F(Puzzles, CompileErrorsOnTheirLinesAndTheEndOfTheKernel) {
  lab::PuzzleResult r = Run("map", "uint i = gl_GlobalInvocationID.x;\n\nwrite_out(i, read_a(i) +* 10.0);\n");
  ASSERT_FALSE(r.compile_errors.empty());
  EXPECT_EQ(r.compile_errors[0].line, 3u);
  r = Run("map", "uint i = gl_GlobalInvocationID.x;\nif (i < 4u) {\n");
  ASSERT_FALSE(r.compile_errors.empty());
  EXPECT_CONTAINS(r.compile_errors[0].message, "end of your kernel");
  r = Run("map", "uint i = gl_GlobalInvocationID.x;\nts_a[i] = 1.0;\n");
  ASSERT_FALSE(r.compile_errors.empty());
  EXPECT_EQ(r.compile_errors[0].line, 2u);
  EXPECT_CONTAINS(r.compile_errors[0].message, "prelude");
  // Nor through the preprocessor.
  r = Run("map", "#define RAW ts_a\nuint i = gl_GlobalInvocationID.x;\n");
  ASSERT_FALSE(r.compile_errors.empty());
  EXPECT_EQ(r.compile_errors[0].line, 1u);
  r = Run("map", "#define RAW(x) t ## x\n");
  ASSERT_FALSE(r.compile_errors.empty());
  EXPECT_CONTAINS(r.compile_errors[0].message, "token pasting");
  r = Run("dot", "\n#undef barrier\n");
  ASSERT_FALSE(r.compile_errors.empty());
  EXPECT_EQ(r.compile_errors[0].line, 2u);
}

// What would take the compiler minutes and gigabytes costs its child process
// only: stopped at the limit, said on line 0, and the next kernel compiles.
TEST(PuzzleCompile, AMacroThatExpandsToMillionsOfTokensIsStopped) {
  std::string body = "#define A0 +1.0\n";
  for (int i = 1; i <= 24; ++i)
    body += "#define A" + std::to_string(i) + " A" + std::to_string(i - 1) + " A" + std::to_string(i - 1) + "\n";
  body += "float y = 0.0 A24;\nuint i = gl_GlobalInvocationID.x;\nwrite_out(i, read_a(i) + y);\n";
  const lab::Puzzle& map = lab::FindPuzzle("map");
  const auto start = std::chrono::steady_clock::now();
  const lab::detail::CompiledKernel bomb =
      lab::detail::CompilePuzzleKernel(map, body, "bomb.glsl", {2, uint64_t{256} << 20});
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_TRUE(bomb.spirv.empty());
  ASSERT_EQ(bomb.errors.size(), 1u);
  EXPECT_EQ(bomb.errors[0].line, 0u);
  EXPECT_CONTAINS(bomb.errors[0].message, "the kernel is not run");
  EXPECT_LT(seconds, 20.0);  // a bound, not a speed claim: unbounded, this takes minutes and gigabytes
  const lab::detail::CompiledKernel next = lab::detail::CompilePuzzleKernel(map, map.solution, "map.glsl");
  EXPECT_FALSE(next.spirv.empty());
  EXPECT_TRUE(next.errors.empty());
}

TEST(PuzzleCompile, LongAndDeepKernelsGiveCompileErrors) {
  const lab::Puzzle& map = lab::FindPuzzle("map");
  const lab::detail::CompiledKernel deep = lab::detail::CompilePuzzleKernel(
      map, "float v = " + std::string(100000, '(') + "1.0" + std::string(100000, ')') + ";\n", "deep.glsl");
  EXPECT_TRUE(deep.spirv.empty());
  ASSERT_FALSE(deep.errors.empty());
  const lab::detail::CompiledKernel long_name =
      lab::detail::CompilePuzzleKernel(map, "float " + std::string(500000, 'x') + " = y;\n", "long.glsl");
  ASSERT_FALSE(long_name.errors.empty());
  EXPECT_EQ(long_name.errors[0].line, 1u);
}

struct Wrong {
  std::string puzzle;
  DiagnosisKind kind;
  std::string body;
  std::string says;  // a part of the diagnosis's message
};

// Per puzzle, wrong solutions and the diagnosis each must get.
std::vector<Wrong> WrongSolutions() {
  const std::string i = "uint i = gl_GlobalInvocationID.x;\n";
  const std::string il = "uint i = gl_GlobalInvocationID.x;\nuint local_i = gl_LocalInvocationID.x;\n";
  const std::string rc = "uint col = gl_GlobalInvocationID.x;\nuint row = gl_GlobalInvocationID.y;\n";
  return {
      {"map", DiagnosisKind::kWrongValue, i + "write_out(i, read_a(i) + 1.0);\n", "expected 10, got 1"},
      {"map", DiagnosisKind::kOverBudget, i + "write_out(i, read_a(i) + read_a(i) - read_a(i) + 10.0);\n",
       "3 global reads; the budget is at most 1 global read"},
      {"zip", DiagnosisKind::kWrongValue, i + "write_out(i, read_a(i) - read_b(i));\n", "wrong value"},
      {"zip", DiagnosisKind::kOverBudget, i + "write_out(i, read_a(i) + read_b(i));\nwrite_out(i, read_a(i) + read_b(i));\n",
       "2 global writes"},
      {"guard", DiagnosisKind::kOutOfBounds, i + "write_out(i, read_a(i) + 10.0);\n", "but a is 4 elements (0 to 3)"},
      {"guard", DiagnosisKind::kWrongValue, i + "if (i < SIZE - 1u) write_out(i, read_a(i) + 10.0);\n", "out[3]"},
      {"map-2d", DiagnosisKind::kOutOfBounds, rc + "if (row < SIZE) write_out(row, col, read_a(row, col) + 10.0);\n",
       "][2], but a is 2 x 2"},
      {"map-2d", DiagnosisKind::kWrongValue,
       rc + "if (row < SIZE && col < SIZE) write_out(col, row, read_a(row, col) + 10.0);\n", "out[0][1]"},
      {"broadcast", DiagnosisKind::kOutOfBounds,
       rc + "if (row < SIZE && col < SIZE) write_out(row, col, read_a(0u, row) + read_b(0u, col));\n", "a[0][1]"},
      {"broadcast", DiagnosisKind::kWrongValue,
       rc + "if (row < SIZE && col < SIZE) write_out(row, col, read_a(row, 0u) + read_b(0u, row));\n", "wrong value"},
      {"blocks", DiagnosisKind::kOutOfBounds, i + "write_out(i, read_a(i) + 10.0);\n", "but a is 9 elements"},
      {"blocks", DiagnosisKind::kRace, "uint i = gl_LocalInvocationID.x;\nwrite_out(i, read_a(i) + 10.0);\n",
       "from another workgroup"},
      {"shared", DiagnosisKind::kMissingBarrier,
       il + "write_cache(local_i, read_a(i));\nwrite_out(i, read_cache(local_i ^ 1u) + 10.0);\n", "missing barrier"},
      {"shared", DiagnosisKind::kOverBudget,
       il + "write_cache(local_i, read_a(i));\nbarrier();\nwrite_out(i, read_cache(local_i) + read_a(i) - read_a(i) + 10.0);\n",
       "global reads"},
      {"pooling", DiagnosisKind::kMissingBarrier,
       il + "write_cache(local_i, read_a(i));\nfloat sum = read_cache(local_i);\n"
            "if (local_i >= 1u) sum += read_cache(local_i - 1u);\nif (local_i >= 2u) sum += read_cache(local_i - 2u);\n"
            "write_out(i, sum);\n",
       "no barrier() between them (before any barrier())"},
      {"pooling", DiagnosisKind::kOutOfBounds,
       il + "write_cache(local_i, read_a(i));\nbarrier();\n"
            "write_out(i, read_cache(local_i) + read_cache(local_i - 1u) + read_cache(local_i - 2u));\n",
       "read cache[-1]"},
      {"pooling", DiagnosisKind::kOverBudget,
       il + "float sum = read_a(i);\nif (i >= 1u) sum += read_a(i - 1u);\nif (i >= 2u) sum += read_a(i - 2u);\n"
            "write_out(i, sum);\n",
       "3 global reads"},
      {"dot", DiagnosisKind::kRace,
       il + "write_cache(local_i, read_a(i) * read_b(i));\nbarrier();\nfloat sum = 0.0;\n"
            "for (uint j = 0u; j < TPB; ++j) sum += read_cache(j);\nwrite_out(0u, sum);\n",
       "both write out[0]"},
      {"dot", DiagnosisKind::kMissingBarrier,
       il + "write_cache(local_i, read_a(i) * read_b(i));\nif (local_i == 0u) {\n  float sum = 0.0;\n"
            "  for (uint j = 0u; j < TPB; ++j) sum += read_cache(j);\n  write_out(0u, sum);\n}\n",
       "missing barrier"},
      {"conv", DiagnosisKind::kOutOfBounds,
       il + "if (i < SIZE) write_a_shared(local_i, read_a(i));\n"
            "if (local_i < KERNEL_SIZE - 1u) write_a_shared(local_i + TPB, read_a(i + TPB));\n"
            "if (local_i < KERNEL_SIZE) write_b_shared(local_i, read_b(local_i));\nbarrier();\n"
            "if (i < SIZE) {\n  float sum = 0.0;\n  for (uint j = 0u; j < KERNEL_SIZE; ++j)\n"
            "    if (i + j < SIZE) sum += read_a_shared(local_i + j) * read_b_shared(j);\n  write_out(i, sum);\n}\n",
       "but a is 15 elements"},
      {"conv", DiagnosisKind::kOverBudget,
       il + "if (i < SIZE) {\n  float sum = 0.0;\n  for (uint j = 0u; j < KERNEL_SIZE; ++j)\n"
            "    if (i + j < SIZE) sum += read_a(i + j) * read_b(j);\n  write_out(i, sum);\n}\n",
       "8 global reads"},
      {"prefix-sum", DiagnosisKind::kMissingBarrier,
       "uint i = gl_LocalInvocationID.x;\nwrite_cache(i, read_a(i));\nbarrier();\n"
       "for (uint offset = 1u; offset < SIZE; offset *= 2u) {\n"
       "  if (i >= offset) write_cache(i, read_cache(i) + read_cache(i - offset));\n  barrier();\n}\n"
       "write_out(i, read_cache(i));\n",
       "missing barrier"},
      {"prefix-sum", DiagnosisKind::kOverBudget,
       "uint i = gl_LocalInvocationID.x;\nfloat sum = 0.0;\nfor (uint j = 0u; j <= i; ++j) sum += read_a(j);\n"
       "write_out(i, sum);\n",
       "8 global reads"},
      {"axis-sum", DiagnosisKind::kMissingBarrier,
       "uint i = gl_LocalInvocationID.x;\nuint batch = gl_WorkGroupID.y;\n"
       "write_cache(i, i < SIZE ? read_a(batch, i) : 0.0);\nbarrier();\n"
       "for (uint stride = TPB / 2u; stride > 0u; stride /= 2u)\n"
       "  if (i < stride) write_cache(i, read_cache(i) + read_cache(i + stride));\n"
       "if (i == 0u) write_out(batch, read_cache(0u));\n",
       "missing barrier"},
      {"axis-sum", DiagnosisKind::kDivergentBarrier,
       "uint i = gl_LocalInvocationID.x;\nuint batch = gl_WorkGroupID.y;\n"
       "if (i >= SIZE) return;\nwrite_cache(i, read_a(batch, i));\nbarrier();\n"
       "if (i == 0u) {\n  float sum = 0.0;\n  for (uint j = 0u; j < SIZE; ++j) sum += read_cache(j);\n"
       "  write_out(batch, sum);\n}\n",
       "passed 0 barriers"},
      {"matmul", DiagnosisKind::kMissingBarrier,
       "uint col = gl_GlobalInvocationID.x, row = gl_GlobalInvocationID.y;\n"
       "uint tx = gl_LocalInvocationID.x, ty = gl_LocalInvocationID.y;\nfloat sum = 0.0;\n"
       "for (uint t = 0u; t < SIZE; t += TILE) {\n  write_a_tile(ty, tx, read_a(row, t + tx));\n"
       "  write_b_tile(ty, tx, read_b(t + ty, col));\n  barrier();\n"
       "  for (uint k = 0u; k < TILE; ++k) sum += read_a_tile(ty, k) * read_b_tile(k, tx);\n}\n"
       "write_out(row, col, sum);\n",
       "after 1 barrier"},
      {"matmul", DiagnosisKind::kOverBudget,
       "uint col = gl_GlobalInvocationID.x, row = gl_GlobalInvocationID.y;\nfloat sum = 0.0;\n"
       "for (uint k = 0u; k < SIZE; ++k) sum += read_a(row, k) * read_b(k, col);\nwrite_out(row, col, sum);\n",
       "12 global reads"},
      {"transpose", DiagnosisKind::kOverBudget,
       "uint col = gl_GlobalInvocationID.x, row = gl_GlobalInvocationID.y;\nwrite_out(col, row, read_a(row, col));\n",
       "not coalesced"},
      {"transpose", DiagnosisKind::kMissingBarrier,
       "uint tx = gl_LocalInvocationID.x, ty = gl_LocalInvocationID.y;\n"
       "uint bx = gl_WorkGroupID.x * TILE, by = gl_WorkGroupID.y * TILE;\n"
       "write_tile(ty, tx, read_a(by + ty, bx + tx));\nwrite_out(bx + ty, by + tx, read_tile(tx, ty));\n",
       "missing barrier"},
      {"subgroup-sum", DiagnosisKind::kOverBudget,
       "uint i = gl_LocalInvocationID.x;\nwrite_partial(i, read_a(i));\nbarrier();\n"
       "for (uint stride = SIZE / 2u; stride > 0u; stride /= 2u) {\n"
       "  if (i < stride) write_partial(i, read_partial(i) + read_partial(i + stride));\n  barrier();\n}\n"
       "if (i == 0u) write_out(0u, read_partial(0u));\n",
       "barriers; the budget is at most 1 barrier"},
      {"subgroup-sum", DiagnosisKind::kRace,
       "uint i = gl_LocalInvocationID.x;\nwrite_out(0u, subgroupAdd(read_a(i)));\n", "both write out[0]"},
  };
}

TEST_F(Puzzles, WrongSolutionsFailWithTheRightDiagnosis) {
  std::set<std::string> covered;
  for (const Wrong& w : WrongSolutions()) {
    lab::PuzzleResult r = Run(w.puzzle, w.body);
    EXPECT_TRUE(r.compiled) << w.puzzle << "\n" << All(r);
    EXPECT_FALSE(r.passed) << w.puzzle << ": " << lab::DiagnosisKindName(w.kind);
    EXPECT_TRUE(Has(r, w.kind)) << w.puzzle << ": expected " << lab::DiagnosisKindName(w.kind) << ", got\n" << All(r);
    EXPECT_CONTAINS(Message(r, w.kind), w.says);
    covered.insert(w.puzzle);
  }
  for (const lab::Puzzle& p : lab::Puzzles()) EXPECT_TRUE(covered.count(p.name)) << p.name << " has no wrong solutions";
}

TEST_F(Puzzles, WrongElementsListExpectedAndGot) {
  lab::PuzzleResult r = Run("zip", "uint i = gl_GlobalInvocationID.x;\nif (i == 2u) write_out(i, 7.0);\n"
                                   "else write_out(i, read_a(i) + read_b(i));\n");
  ASSERT_EQ(r.wrong.size(), 1u);
  EXPECT_EQ(r.wrong[0].index, 2u);
  EXPECT_EQ(r.wrong[0].expected, 4.0);
  EXPECT_EQ(r.wrong[0].got, 7.0);
  EXPECT_CONTAINS(lab::FormatPuzzleResult(lab::FindPuzzle("zip"), r), "out[2]: expected 4, got 7");
}

TEST_F(Puzzles, ALoopThatNeverEndsIsStoppedAndSaid) {
  const std::string tail = "write_out(i, read_a(i) + 10.0);\n";
  for (const char* loop : {"while (true) { }\n", "for (uint k = 0u; k < 10u; k += 0u) { }\n",
                           "do { } while (i < 100u);\n", "while (i < 100u);\n", "for (;;) if (i > 100u) break;\n"}) {
    lab::PuzzleResult r = Run("map", std::string("uint i = gl_GlobalInvocationID.x;\n") + loop + tail);
    ASSERT_TRUE(r.compiled) << loop << All(r);
    EXPECT_FALSE(r.passed) << loop;
    EXPECT_TRUE(Has(r, DiagnosisKind::kNeverEnds)) << loop << All(r);
    EXPECT_CONTAINS(Message(r, DiagnosisKind::kNeverEnds), "ran more than 16384 loop iterations");
  }
  // The process and the device go on: the next kernel runs.
  EXPECT_TRUE(Run("map", lab::FindPuzzle("map").solution).passed);
}

TEST(PuzzleLoopGuard, EveryLoopGetsAGuardOnItsOwnLine) {
  const std::string body = "for (uint k = 0u; k < 4u; ++k) x += 1.0;\n// while (comment) ignored\n"
                           "do { x += 1.0; } while (x < 3.0);\nwhile (x < 9.0) { x *= 2.0; }\n";
  const std::string guarded = lab::detail::GuardLoops(body);
  EXPECT_EQ(std::count(guarded.begin(), guarded.end(), '\n'), std::count(body.begin(), body.end(), '\n'));
  size_t guards = 0;
  for (size_t at = guarded.find("ts_loop_guard"); at != std::string::npos; at = guarded.find("ts_loop_guard", at + 1))
    ++guards;
  EXPECT_EQ(guards, 3u) << guarded;
  EXPECT_CONTAINS(guarded, "do if (ts_loop_guard()) break; else  { x += 1.0; } while (x < 3.0);");
}

TEST_F(Puzzles, ACorrectKernelIsTimedBesideTheReference) {
  lab::PuzzleResult r = Run("zip", lab::FindPuzzle("zip").solution, true);
  ASSERT_TRUE(r.passed) << All(r);
  ASSERT_TRUE(r.ms && r.reference_ms);
  EXPECT_GT(*r.ms, 0.0);
  EXPECT_GT(*r.reference_ms, 0.0);
  EXPECT_CONTAINS(lab::FormatPuzzleResult(lab::FindPuzzle("zip"), r), "the reference solution");
}

TEST_F(Puzzles, TheTraceDrawsWhatEachInvocationTouched) {
  lab::PuzzleResult r = Run("guard", lab::FindPuzzle("guard").solution);
  ASSERT_TRUE(r.trace);
  EXPECT_EQ(r.trace->buffer_names, (std::vector<std::string>{"a", "out"}));
  // Invocations 0..3 read a[i] and write out[i]; 4..7 touch nothing.
  std::set<std::tuple<uint32_t, lab::Access, uint32_t, uint32_t>> seen;
  for (const lab::AccessRecord& record : r.trace->records)
    seen.insert({record.invocation, record.access, record.buffer, record.index});
  std::set<std::tuple<uint32_t, lab::Access, uint32_t, uint32_t>> want;
  for (uint32_t i = 0; i < 4; ++i) {
    want.insert({i, lab::Access::kGlobalRead, 0u, i});
    want.insert({i, lab::Access::kGlobalWrite, 1u, i});
  }
  EXPECT_EQ(seen, want);
  EXPECT_EQ(r.counts.size(), 8u);
  EXPECT_EQ(r.counts[5].global_reads, 0u);
}

TEST_F(Puzzles, InterfaceTextShowsAccessorsGeometryAndBudget) {
  const std::string text = lab::PuzzleInterfaceText(lab::FindPuzzle("matmul"));
  EXPECT_CONTAINS(text, "float read_a(uint row, uint column);");
  EXPECT_CONTAINS(text, "void write_a_tile(uint row, uint column, float value);");
  EXPECT_CONTAINS(text, "workgroup 3 x 3");
  EXPECT_CONTAINS(text, "at most 4 global reads");
}

TEST(PuzzleSession, ALostDeviceIsRecreatedAndTheNextRunWorks) {
  vk::ContextOptions options;
  options.validation = true;
  uint64_t messages = 0;
  options.on_validation_message = [&](const std::string&) { ++messages; };
  lab::PuzzleSession session(options);
  const lab::Puzzle& map = lab::FindPuzzle("map");
  // lavapipe has VK_EXT_robustness2: the learner's device checks raw accesses too.
  if (session.context().info().has_extension("VK_EXT_robustness2")) {
    EXPECT_TRUE(session.context().has_robust_buffer_access2());
  }
  session.LoseDeviceOnNextRunForTesting();
  lab::PuzzleRunner::Options run;
  run.time = false;
  lab::PuzzleResult lost = session.Run(map, map.solution, run);
  ASSERT_FALSE(lost.diagnoses.empty());
  EXPECT_EQ(lost.diagnoses[0].kind, DiagnosisKind::kDeviceLost);
  EXPECT_CONTAINS(lost.diagnoses[0].message, "Re-created");
  EXPECT_EQ(session.devices_recreated(), 1u);
  EXPECT_TRUE(session.context().has_robust_buffer_access2() ||
              !session.context().info().has_extension("VK_EXT_robustness2"));
  EXPECT_TRUE(session.Run(map, map.solution, run).passed);
  EXPECT_EQ(messages, 0u);
}

}  // namespace
}  // namespace ts
