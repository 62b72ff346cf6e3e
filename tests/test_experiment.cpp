// "Try it": each kernel family re-specialised at two workgroup sizes on an odd
// shape runs, is timed, has the workgroup count its grid needs and computes
// what the CPU reference computes; bad requests come back as error messages.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include "compute/profile/experiment.h"
#include "support/vulkan_test.h"

namespace ts {
namespace {

using profile::ExperimentRequest;
using profile::ExperimentResult;
using testing::VulkanTest;

// An odd shape: no dimension divides a workgroup, columns not a multiple of 4.
constexpr uint32_t kRows = 1000, kCols = 37, kCount = 10001;

uint32_t Ceil(uint64_t items, uint64_t group) { return static_cast<uint32_t>((items + group - 1) / group); }

class ExperimentTest : public VulkanTest {
 protected:
  ExperimentResult Run(const std::string& kernel, std::array<uint32_t, 2> shape, uint32_t workgroup_size,
                       bool check) {
    ExperimentRequest request;
    request.kernel = kernel;
    request.shape = shape;
    request.workgroup_size = workgroup_size;
    request.repeats = 3;
    request.check = check;
    const ExperimentResult r = profile::RunWorkgroupExperiment(context(), pipelines(), request);
    std::printf("%s %ux%u, workgroup %u: %s %ux%ux%u, %ux%ux%u groups, median %.1f us, %.2f GB/s, max error %g\n",
                kernel.c_str(), shape[0], shape[1], workgroup_size, r.shader.c_str(), r.local_size[0],
                r.local_size[1], r.local_size[2], r.workgroups[0], r.workgroups[1], r.workgroups[2],
                r.median_ns / 1000, r.gbs, r.max_error);
    EXPECT_EQ(r.error, "") << kernel << " at " << workgroup_size;
    EXPECT_EQ(r.request.kernel, kernel);
    EXPECT_GT(r.median_ns, 0) << kernel << " at " << workgroup_size;
    EXPECT_GT(r.best_ns, 0);
    EXPECT_LE(r.best_ns, r.median_ns);
    EXPECT_GT(r.gbs, 0);
    EXPECT_FALSE(r.shader.empty());
    const uint32_t invocations = r.local_size[0] * r.local_size[1] * r.local_size[2];
    EXPECT_GE(invocations, 1u);
    EXPECT_LE(invocations, workgroup_size);
    if (check) {
      EXPECT_GE(r.max_error, 0) << "checked, so an error is reported";
      EXPECT_LT(r.max_error, 1e-4) << kernel << " at " << workgroup_size << " differs from the CPU reference";
    } else {
      EXPECT_EQ(r.max_error, -1);
    }
    return r;
  }
  // Rows a bias_act invocation walks by default (see compute/kernels/activation.cpp).
  uint32_t RowsPerInvocation() { return context().info().is_software() ? 16 : 4; }
};

TEST_F(ExperimentTest, BiasActivationForwardAtTwoWorkgroupSizes) {
  for (uint32_t size : {64u, 256u}) {
    const ExperimentResult r = Run("bias_act", {kRows, kCols}, size, size == 64);
    // Up to 8 column lanes (37 columns, scalar), the rest row lanes.
    EXPECT_EQ(r.local_size[0], 8u);
    EXPECT_EQ(r.local_size[0] * r.local_size[1], size);
    EXPECT_EQ(r.workgroups[0], Ceil(kCols, r.local_size[0]));
    EXPECT_EQ(r.workgroups[1], Ceil(Ceil(kRows, RowsPerInvocation()), r.local_size[1]));
    EXPECT_EQ(r.workgroups[2], 1u);
    EXPECT_GT(r.gflops, 0);  // the bias add and ReLU
    EXPECT_EQ(r.note, "");
  }
}

TEST_F(ExperimentTest, BiasActivationBackwardAtTwoWorkgroupSizes) {
  for (uint32_t size : {64u, 256u}) {
    const ExperimentResult r = Run("bias_act_back", {kRows, kCols}, size, size == 256);
    EXPECT_EQ(r.local_size[0] * r.local_size[1], size);
    EXPECT_EQ(r.workgroups[0], Ceil(kCols, r.local_size[0]));
    EXPECT_EQ(r.workgroups[1], Ceil(kRows, 256));  // row blocks of at least 256 rows
    EXPECT_NE(r.note.find("bias_act_back_combine"), std::string::npos) << r.note;
  }
}

TEST_F(ExperimentTest, OptimizerAtTwoWorkgroupSizes) {
  for (uint32_t size : {32u, 128u}) {
    const ExperimentResult r = Run("optimizer", {kCount, 0}, size, size == 32);
    EXPECT_EQ(r.local_size, (std::array<uint32_t, 3>{size, 1, 1}));
    EXPECT_EQ(r.workgroups[0], Ceil(kCount, size));  // one float per invocation: 10001 is not a multiple of 4
    EXPECT_EQ(r.shader, "optimizer");
    EXPECT_GT(r.gflops, 0);
  }
}

TEST_F(ExperimentTest, CopyAtTwoWorkgroupSizes) {
  for (uint32_t size : {64u, 96u}) {
    const ExperimentResult r = Run("copy", {kCount, 0}, size, size == 96);
    EXPECT_EQ(r.local_size, (std::array<uint32_t, 3>{size, 1, 1}));
    EXPECT_EQ(r.workgroups[0], Ceil(Ceil(kCount, 4), size));  // vec4s
    EXPECT_NE(r.note.find("10004"), std::string::npos) << r.note;
    EXPECT_EQ(r.shared_memory_bytes, 0u);
  }
}

TEST_F(ExperimentTest, AlignedColumnsUseTheVec4Shaders) {
  // 32 columns: 8 vec4 lanes, as a plan's dense layers mostly are.
  for (const char* kernel : {"bias_act", "bias_act_back"}) {
    const ExperimentResult r = Run(kernel, {kRows, 32}, 128, true);
    EXPECT_NE(r.shader.find("vec4"), std::string::npos) << r.shader;
    EXPECT_EQ(r.workgroups[0], Ceil(32 / 4, r.local_size[0]));
  }
}

TEST_F(ExperimentTest, PowerOfTwoKernelsSayWhatTheyUsed) {
  const ExperimentResult r = Run("bias_act", {kRows, kCols}, 100, false);
  EXPECT_EQ(r.local_size[0] * r.local_size[1], 64u);
  EXPECT_NE(r.note.find("100"), std::string::npos) << r.note;
}

TEST_F(ExperimentTest, BadRequestsComeBackAsErrors) {
  const uint32_t too_many = context().info().max_workgroup_invocations * 2;
  for (const std::string& kernel : profile::ExperimentKernels()) {
    ExperimentRequest request;
    request.kernel = kernel;
    request.shape = {kRows, kCols};
    request.workgroup_size = too_many;
    ExperimentResult r = profile::RunWorkgroupExperiment(context(), pipelines(), request);
    EXPECT_NE(r.error.find("maxComputeWorkGroupInvocations"), std::string::npos) << kernel << ": " << r.error;
    EXPECT_NE(r.error.find(std::to_string(too_many)), std::string::npos) << r.error;
    EXPECT_EQ(r.median_ns, 0);

    request.workgroup_size = 64;
    request.shape = {0, 0};
    r = profile::RunWorkgroupExperiment(context(), pipelines(), request);
    EXPECT_NE(r.error.find("shape"), std::string::npos) << kernel << ": " << r.error;
  }
  ExperimentRequest request;
  request.kernel = "matmul";
  request.shape = {64, 64};
  const ExperimentResult r = profile::RunWorkgroupExperiment(context(), pipelines(), request);
  EXPECT_NE(r.error.find("unknown kernel \"matmul\""), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("bias_act"), std::string::npos) << r.error;  // says what it can do
}

TEST(Experiment, KernelFamiliesAndShapes) {
  const std::vector<std::string> kernels = profile::ExperimentKernels();
  for (const char* kernel : {"bias_act", "bias_act_back", "optimizer", "copy"}) {
    EXPECT_NE(std::find(kernels.begin(), kernels.end(), kernel), kernels.end()) << kernel;
    EXPECT_EQ(profile::ExperimentKernelFor(kernel), kernel);
    EXPECT_FALSE(profile::ExperimentShapeHelp(kernel).empty()) << kernel;
  }
  // The plan's other dispatches (fixed or tiled workgroups) have no experiment.
  for (const char* kernel : {"bias_act_back_combine", "matmul", "conv2d", "loss", ""})
    EXPECT_EQ(profile::ExperimentKernelFor(kernel), "") << kernel;
  EXPECT_EQ(profile::ExperimentShapeHelp("matmul"), "");
}

}  // namespace
}  // namespace ts
