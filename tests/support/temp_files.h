// Helpers for tests that read files: a fresh directory per test, writing
// bytes and text into it, and a check that an action throws ts::Error with a
// message naming what it should.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "compute/common/error.h"

namespace ts::testing {

// Passes when `action` throws ts::Error whose message contains every fragment.
template <typename Action>
::testing::AssertionResult ThrowsErrorWith(Action&& action, std::initializer_list<std::string_view> fragments) {
  try {
    action();
  } catch (const Error& error) {
    const std::string message = error.what();
    for (std::string_view fragment : fragments)
      if (message.find(fragment) == std::string::npos)
        return ::testing::AssertionFailure() << "message lacks \"" << fragment << "\": " << message;
    return ::testing::AssertionSuccess();
  } catch (const std::exception& other) {
    return ::testing::AssertionFailure() << "threw a non-ts::Error: " << other.what();
  }
  return ::testing::AssertionFailure() << "did not throw";
}

// A fresh directory per test (named after the process and the test), removed afterwards.
class TempDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::temp_directory_path() / ("tensorscope_test_" + std::to_string(getpid()) + "_" +
                                                     info->test_suite_name() + "_" + info->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // `relative` under the temp dir, with its parent folders created.
  std::string PathOf(const std::string& relative) const {
    std::filesystem::create_directories((dir_ / relative).parent_path());
    return (dir_ / relative).string();
  }
  std::string WriteText(const std::string& relative, const std::string& text) const {
    const std::string path = PathOf(relative);
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
  std::string WriteBytes(const std::string& relative, const std::vector<uint8_t>& bytes) const {
    const std::string path = PathOf(relative);
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    return path;
  }

  std::filesystem::path dir_;
};

}  // namespace ts::testing
