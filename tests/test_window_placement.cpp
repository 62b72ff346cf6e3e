// The window's remembered placement (ui/window_placement.*): a round trip, and
// a damaged, huge, deeply nested or non-regular file ignored, never a crash.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "ui/window_placement.h"

namespace ts::ui {
namespace {

class PlacementFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("tensorscope-placement-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path File() const { return dir_ / "window.json"; }
  void Write(const std::string& text) { std::ofstream(File()) << text; }
  std::filesystem::path dir_;
};

TEST_F(PlacementFile, RoundTrips) {
  EXPECT_FALSE(LoadPlacement(File()).has_value());  // missing
  SavePlacement(File(), {10, 20, 1440, 900, true});
  const std::optional<WindowPlacement> loaded = LoadPlacement(File());
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(loaded->x, 10);
  EXPECT_EQ(loaded->y, 20);
  EXPECT_EQ(loaded->width, 1440);
  EXPECT_EQ(loaded->height, 900);
  EXPECT_TRUE(loaded->maximized);
}

TEST_F(PlacementFile, DamagedFilesAreIgnored) {
  for (const std::string& text :
       {std::string("{not json"), std::string("[1, 2]"), std::string(R"({"x": "a", "y": 0, "width": 800, "height": 600})"),
        std::string(R"({"x": 0, "y": 0, "width": 5, "height": 600})"),
        std::string(R"({"x": 0, "y": 0, "width": 800, "height": 600, "maximized": )") + std::string(100000, '[') +
            std::string(100000, ']') + "}",
        std::string(R"({"x": 0, "y": 0, "width": 800, "height": 600, "pad": ")") + std::string(1 << 20, 'a') + "\"}"}) {
    Write(text);
    EXPECT_FALSE(LoadPlacement(File()).has_value()) << text.substr(0, 80);
  }
  std::filesystem::remove(File());
  std::filesystem::create_directories(File());  // a folder where the file should be
  EXPECT_FALSE(LoadPlacement(File()).has_value());
}

}  // namespace
}  // namespace ts::ui
