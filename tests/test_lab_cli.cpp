// `tensorscope lab` as a user meets it: the lesson list, a lesson's table and
// its JSON document, and clear errors for bad lessons and settings.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "compute/lab/lab.h"
#include "compute/profile/ceilings.h"
#include "compute/vk/context.h"
#include "support/cli.h"

namespace ts {
namespace {

using testing::RunTensorscope;

#define EXPECT_CONTAINS(text, part) EXPECT_NE(std::string(text).find(part), std::string::npos) << (text)

// A cache directory holding made-up ceilings for the default device, so a
// lesson measures nothing but its own kernels: 100 GFLOP/s, 10 GB/s.
class LabCli : public ::testing::Test {
 protected:
  void SetUp() override {
    cache_ = std::filesystem::temp_directory_path() / ("tensorscope_lab_cli_" + std::to_string(getpid()));
    std::filesystem::remove_all(cache_);
    env_ = testing::PlantMadeUpCeilings(cache_);
  }
  void TearDown() override { std::filesystem::remove_all(cache_); }
  const std::string& Env() const { return env_; }
  std::filesystem::path cache_;
  std::string env_;
};

TEST_F(LabCli, ListPrintsOneLessonPerLine) {
  testing::CommandResult r = RunTensorscope("lab --list", Env());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::istringstream lines(r.output);
  std::string line;
  size_t i = 0;
  while (std::getline(lines, line)) {
    ASSERT_LT(i, lab::Lessons().size()) << r.output;
    EXPECT_EQ(line.rfind(lab::Lessons()[i].name + " ", 0), 0u) << line;
    ++i;
  }
  EXPECT_EQ(i, 6u);
  EXPECT_CONTAINS(r.output, "--branch-percent");
}

TEST_F(LabCli, MatmulJsonHasTheLadderMeasuredAndChecked) {
  testing::CommandResult r = RunTensorscope("lab matmul --json --size 24 --tile 8 --repeats 1 --validate", Env());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const nlohmann::json out = nlohmann::json::parse(r.output.substr(r.output.find('{')), nullptr, false);
  ASSERT_TRUE(out.is_object()) << r.output;
  EXPECT_EQ(out["lesson"], "matmul");
  EXPECT_FALSE(out["device"].get<std::string>().empty());
  EXPECT_EQ(out["shape"], nlohmann::json({24, 24, 24}));
  EXPECT_EQ(out["settings"]["tile"], 8);
  EXPECT_EQ(out["ceilings"]["fp32_gflops"], 100.0);  // the planted ceiling
  ASSERT_GE(out["variants"].size(), 7u);
  for (const nlohmann::json& v : out["variants"]) {
    for (const char* field : {"name", "gflops", "ms", "percent_of_ceiling", "check_passed"})
      EXPECT_TRUE(v.contains(field)) << field << " in " << v.dump();
    EXPECT_TRUE(v["check_passed"].get<bool>()) << v.dump();
    EXPECT_NEAR(v["percent_of_ceiling"].get<double>(), v["gflops"].get<double>(), 1e-9);  // of 100 GFLOP/s
  }
  EXPECT_EQ(out["variants"][0]["name"], "naive");
  EXPECT_FALSE(out["notes"].empty());
}

TEST_F(LabCli, ReductionTablePrintsEveryVariant) {
  testing::CommandResult r = RunTensorscope("lab reduction --size 1000 --workgroup 64 --repeats 1", Env());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* part : {"atomics", "interleaved tree", "sequential addressing", "first add during load",
                           "subgroupAdd", "two passes", "GB/s", "What to notice"})
    EXPECT_CONTAINS(r.output, part);
}

TEST_F(LabCli, BadLessonsAndSettingsAreClearErrors) {
  testing::CommandResult r = RunTensorscope("lab matmulx", Env());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.output, "no lesson called 'matmulx'");
  r = RunTensorscope("lab matmul --tile 12", Env());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.output, "must be one of 8, 16, 32; found 12");
  r = RunTensorscope("lab reduction --stride 4", Env());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.output, "no setting 'stride'");
  r = RunTensorscope("lab matmul --size lots", Env());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.output, "--size: expected an integer");
  r = RunTensorscope("lab memory --stride 3", Env());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.output, "must be one of 1, 2, 4, 8, 16, 32, 64; found 3");
  r = RunTensorscope("lab matmul --colour 3", Env());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.output, "unknown option --colour");
}

}  // namespace
}  // namespace ts
