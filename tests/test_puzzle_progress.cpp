// The puzzles' saved progress (ui/lab/puzzle_progress.h): a round trip, a
// missing file as no progress, and bad files refused with the file named.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "compute/common/error.h"
#include "ui/lab/puzzle_progress.h"

namespace ts {
namespace {

namespace fs = std::filesystem;

class PuzzleProgressFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("tensorscope_puzzle_progress_" + std::to_string(getpid()));
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Write(const std::string& text) {
    fs::create_directories(dir_);
    std::ofstream(dir_ / "puzzles.json") << text;
    return (dir_ / "puzzles.json").string();
  }
  fs::path dir_;
};

TEST_F(PuzzleProgressFile, RoundTripsIntoAFolderItCreates) {
  ui::PuzzleProgress progress;
  progress.current = "dot";
  progress.code["dot"] = "uint i = gl_GlobalInvocationID.x;\n// \"quoted\" and \\ kept\n";
  progress.solved["map"] = true;
  progress.failed_tries["dot"] = 3;
  const std::string path = (dir_ / "nested" / "puzzles.json").string();
  ui::SavePuzzleProgress(progress, path);
  ui::PuzzleProgress loaded = ui::LoadPuzzleProgress(path);
  EXPECT_EQ(loaded.current, "dot");
  EXPECT_EQ(loaded.code, progress.code);
  EXPECT_EQ(loaded.solved, progress.solved);
  EXPECT_EQ(loaded.failed_tries, progress.failed_tries);
  // Atomic saves leave no temporaries behind.
  size_t files = 0;
  for (const auto& entry : fs::directory_iterator(dir_ / "nested")) files += entry.is_regular_file();
  EXPECT_EQ(files, 1u);
}

TEST_F(PuzzleProgressFile, AMissingFileIsNoProgress) {
  ui::PuzzleProgress loaded = ui::LoadPuzzleProgress((dir_ / "none.json").string());
  EXPECT_TRUE(loaded.code.empty() && loaded.solved.empty() && loaded.current.empty());
}

TEST_F(PuzzleProgressFile, BadFilesAreRefusedNamingTheFile) {
  auto message = [](const std::string& path) {
    try {
      ui::LoadPuzzleProgress(path);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  std::string path = Write("{not json");
  EXPECT_NE(message(path).find(path + ": not valid JSON at byte"), std::string::npos) << message(path);
  path = Write("[1, 2]");
  EXPECT_NE(message(path).find(path + ": expected a puzzle progress file"), std::string::npos) << message(path);
  path = Write(R"({"version": 7})");
  EXPECT_NE(message(path).find("expected \"version\": 1, found number 7"), std::string::npos) << message(path);
  path = Write(R"({"version": "1"})");
  EXPECT_NE(message(path).find("expected \"version\": 1, found string"), std::string::npos) << message(path);
  // Nesting far past the reader's limit is refused while parsing, and never serialised into a message.
  path = Write(R"({"version": )" + std::string(100000, '[') + std::string(100000, ']') + "}");
  EXPECT_NE(message(path).find("nested deeper than"), std::string::npos) << message(path);
  path = Write(R"({"version": 1, "puzzles": {"map": {"solved": "yes"}}})");
  EXPECT_NE(message(path).find("puzzle \"map\": expected \"solved\" to be true or false, found string"),
            std::string::npos)
      << message(path);
  path = Write(R"({"version": 1, "puzzles": {"map": {"code": 5}}})");
  EXPECT_NE(message(path).find("puzzle \"map\": expected \"code\" to be a string, found number"), std::string::npos)
      << message(path);
}

}  // namespace
}  // namespace ts
