// `tensorscope lab puzzle` as a teacher meets it: the list, a reference
// solution that checks out, wrong files graded with their diagnosis and exit
// code, compile errors naming the file's line, and clear usage errors.
#include <gtest/gtest.h>

#include <sstream>

#include "compute/lab/puzzle.h"
#include "support/cli.h"

namespace ts {
namespace {

using testing::WriteTempFile;

// The test's own lavapipe width (no width probe at each start).
testing::CommandResult RunTensorscope(const std::string& arguments) {
  return testing::RunTensorscope(arguments, "LP_NATIVE_VECTOR_WIDTH=${LP_NATIVE_VECTOR_WIDTH:-256}");
}

#define EXPECT_CONTAINS(text, part) EXPECT_NE(std::string(text).find(part), std::string::npos) << (text)

TEST(PuzzleCli, ListPrintsOnePuzzlePerLine) {
  testing::CommandResult r = RunTensorscope("lab puzzle --list");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::istringstream lines(r.output);
  std::string line;
  size_t i = 0;
  while (std::getline(lines, line)) {
    ASSERT_LT(i, lab::Puzzles().size()) << r.output;
    EXPECT_EQ(line.rfind(lab::Puzzles()[i].name + " ", 0), 0u) << line;
    ++i;
  }
  EXPECT_EQ(i, lab::Puzzles().size());
}

TEST(PuzzleCli, TheSolutionPrintedChecksOutWithExitZero) {
  testing::CommandResult solution = RunTensorscope("lab puzzle dot --solution");
  ASSERT_EQ(solution.exit_code, 0) << solution.output;
  EXPECT_EQ(solution.output, lab::FindPuzzle("dot").solution);
  const std::string path = WriteTempFile("dot_solution.glsl", solution.output);
  testing::CommandResult r = RunTensorscope("lab puzzle dot --check " + path + " --validate");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_CONTAINS(r.output, "PASSED");
  EXPECT_CONTAINS(r.output, "the reference solution");
}

TEST(PuzzleCli, AWrongFileIsGradedWithItsDiagnosis) {
  const std::string path = WriteTempFile("dot_race.glsl",
                                         "uint i = gl_GlobalInvocationID.x;\nwrite_out(0u, read_a(i) * read_b(i));\n");
  testing::CommandResult r = RunTensorscope("lab puzzle dot --check " + path + " --no-time");
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_CONTAINS(r.output, "NOT PASSED");
  EXPECT_CONTAINS(r.output, "race: ");
  EXPECT_CONTAINS(r.output, "out[0]: expected 140");
}

TEST(PuzzleCli, ACompileErrorNamesTheFilesLine) {
  const std::string path = WriteTempFile("map_typo.glsl", "uint i = gl_GlobalInvocationID.x;\n\nwrite_out(i, reed_a(i));\n");
  testing::CommandResult r = RunTensorscope("lab puzzle map --check " + path);
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_CONTAINS(r.output, path + ":3: error: 'reed_a' : no matching overloaded function found");
}

TEST(PuzzleCli, UsageErrorsAreClear) {
  testing::CommandResult r = RunTensorscope("lab puzzle mapp --solution");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.output, "There is no puzzle called 'mapp'; the puzzles are map, zip");
  r = RunTensorscope("lab puzzle map --check /no/such/file.glsl");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.output, "/no/such/file.glsl");
  r = RunTensorscope("lab puzzle map --check /dev/zero");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.output, "expected a GLSL kernel body");
  r = RunTensorscope("lab puzzle");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.output, "lab puzzle takes one puzzle name");
}

TEST(PuzzleCli, ANameAlonePrintsTheTaskInterfaceAndStarter) {
  testing::CommandResult r = RunTensorscope("lab puzzle conv");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_CONTAINS(r.output, "10. 1D convolution");
  EXPECT_CONTAINS(r.output, "float read_b(uint i);");
  EXPECT_CONTAINS(r.output, "void write_a_shared(uint i, float value);");
  EXPECT_CONTAINS(r.output, "// FILL ME IN");
}

}  // namespace
}  // namespace ts
