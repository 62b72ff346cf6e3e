// "Try it": each kernel family re-specialised at two workgroup sizes on an odd
// shape runs, is timed, has the workgroup count its grid needs and computes
// what the CPU reference computes; bad requests come back as error messages.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include "compute/kernels/matmul.h"
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
    return Run(request, workgroup_size, check);
  }
  ExperimentResult Run(ExperimentRequest request, uint32_t workgroup_size, bool check) {
    const std::string kernel = request.kernel;
    request.workgroup_size = workgroup_size;
    request.repeats = 3;
    request.check = check;
    const ExperimentResult r = profile::RunWorkgroupExperiment(context(), pipelines(), request);
    std::printf("%s %s, workgroup %u: %s %ux%ux%u, %ux%ux%u groups, median %.1f us, %.2f GB/s, max error %g\n",
                kernel.c_str(), profile::ExperimentProblemText(request).c_str(), workgroup_size, r.shader.c_str(),
                r.local_size[0], r.local_size[1], r.local_size[2], r.workgroups[0], r.workgroups[1], r.workgroups[2],
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
      EXPECT_LT(r.max_error, profile::kExperimentTolerance) << kernel << " at " << workgroup_size << " differs from the CPU reference";
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

// ---- The layer kernels, on problems as a plan records them ----

ExperimentRequest MatmulRequest(kernels::MatmulVariant variant, bool transpose_a, bool transpose_b) {
  ExperimentRequest request;
  request.kernel = "matmul";
  request.problem.matmul = kernels::MatmulShape{kRows / 10, kCols, 53, transpose_a, transpose_b};  // 100 x 37 x 53
  request.problem.matmul_kernel.variant = variant;  // at the variant's default tiling
  return request;
}

TEST_F(ExperimentTest, MatmulBothVariantsAtTwoWorkgroupSizesOnShapesThatDivideNoTile) {
  for (kernels::MatmulVariant variant : {kernels::MatmulVariant::kRegisterBlocked, kernels::MatmulVariant::kSharedTiled})
    for (auto [ta, tb] : {std::pair{false, false}, std::pair{true, false}, std::pair{false, true}})
      for (uint32_t size : {8u, 24u}) {
        SCOPED_TRACE(std::string(kernels::MatmulVariantName(variant)) + (ta ? " A^T" : " A") + (tb ? " B^T" : " B"));
        const ExperimentResult r = Run(MatmulRequest(variant, ta, tb), size, true);
        EXPECT_EQ(r.local_size[0] * r.local_size[1], size);  // every invocation asked for, in 2D
        EXPECT_EQ(r.local_size[2], 1u);
        EXPECT_EQ(r.shader, "matmul");
        EXPECT_GT(r.gflops, 0);
        EXPECT_NE(r.note.find(kernels::MatmulVariantName(variant)), std::string::npos) << r.note;
      }
}

ExperimentRequest ConvRequest(const std::string& kernel, kernels::Conv2DVariant variant) {
  kernels::Conv2DGeometry g;
  g.batch = 3, g.in_height = 7, g.in_width = 9, g.in_channels = 5, g.out_channels = 6;
  g.kernel_height = g.kernel_width = 3;
  g.stride_h = g.stride_w = 2;
  ExperimentRequest request;
  request.kernel = kernel;
  request.problem.conv = kernels::ResolveConv2DPadding(g, kernels::Conv2DPadding::kSame);
  request.problem.conv_variant = variant;
  return request;
}

TEST_F(ExperimentTest, ConvolutionKernelsAtTwoWorkgroupSizesOnAnOddGeometry) {
  const std::pair<const char*, kernels::Conv2DVariant> cases[] = {
      {"conv2d", kernels::Conv2DVariant::kImplicitGemm},
      {"conv2d", kernels::Conv2DVariant::kDirect},
      {"conv2d_back_data", kernels::Conv2DVariant::kAuto},
      {"conv2d_back_filter", kernels::Conv2DVariant::kAuto}};
  for (const auto& [kernel, variant] : cases)
    for (uint32_t size : {16u, 12u}) {
      SCOPED_TRACE(std::string(kernel) + " " + kernels::Conv2DVariantName(variant));
      const ExperimentResult r = Run(ConvRequest(kernel, variant), size, true);
      EXPECT_EQ(r.local_size[0] * r.local_size[1], size);
      EXPECT_EQ(r.shader, kernel);
      EXPECT_GT(r.gflops, 0);
      EXPECT_NE(r.note.find(std::to_string(size) + " invocations as"), std::string::npos) << r.note;
    }
}

TEST_F(ExperimentTest, PoolingForwardAndBackwardAtTwoWorkgroupSizes) {
  kernels::PoolShape overlapping;  // 3x3 windows, stride 2, padding 1, 5 channels: the scalar shaders
  overlapping.batch = 3, overlapping.height = 7, overlapping.width = 9, overlapping.channels = 5;
  overlapping.window_h = overlapping.window_w = 3;
  overlapping.stride_h = overlapping.stride_w = 2;
  overlapping.pad_top = overlapping.pad_bottom = overlapping.pad_left = overlapping.pad_right = 1;
  kernels::PoolShape quads = kernels::GlobalAveragePoolShape(2, 5, 3, 8);  // 8 channels: the vec4 shaders
  for (const char* kernel : {"pool", "pool_back"})
    for (auto [shape, kind] : {std::pair{overlapping, kernels::PoolKind::kMax}, std::pair{quads, kernels::PoolKind::kAverage}})
      for (uint32_t size : {32u, 100u}) {
        ExperimentRequest request;
        request.kernel = kernel;
        request.problem.pool = shape;
        request.problem.pool_kind = kind;
        SCOPED_TRACE(std::string(kernel) + " " + profile::ExperimentProblemText(request));
        const ExperimentResult r = Run(request, size, true);
        EXPECT_EQ(r.local_size, (std::array<uint32_t, 3>{size, 1, 1}));
        EXPECT_EQ(r.shader.find("vec4") != std::string::npos, shape.channels % 4 == 0) << r.shader;
      }
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
  request.kernel = "conv3d";
  request.shape = {64, 64};
  ExperimentResult r = profile::RunWorkgroupExperiment(context(), pipelines(), request);
  EXPECT_NE(r.error.find("unknown kernel \"conv3d\""), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("bias_act"), std::string::npos) << r.error;  // says what it can do
  // The layer kernels need their layer's problem, not a shape.
  for (const char* kernel : {"matmul", "conv2d", "conv2d_back_data", "conv2d_back_filter", "pool", "pool_back"}) {
    request.kernel = kernel;
    r = profile::RunWorkgroupExperiment(context(), pipelines(), request);
    EXPECT_NE(r.error.find(std::string("expected the shape of the layer's ") + kernel + " dispatch"), std::string::npos)
        << r.error;
  }
}

// An fp16 plan's layer kernels: "try it" reruns fp32 kernels only, so it
// says so instead of timing a kernel the plan does not run.
TEST_F(ExperimentTest, Fp16LayerKernelsAreRefusedNotTimedAsFp32) {
  std::vector<ExperimentRequest> requests;
  for (const char* kernel : {"conv2d", "conv2d_back_data", "conv2d_back_filter"})
    requests.push_back(ConvRequest(kernel, kernels::Conv2DVariant::kAuto));
  ExperimentRequest pool;
  pool.kernel = "pool";
  pool.problem.pool = kernels::GlobalAveragePoolShape(2, 5, 3, 8);
  pool.problem.pool_kind = kernels::PoolKind::kAverage;
  requests.push_back(pool);
  ExperimentRequest matmul;
  matmul.kernel = "matmul";
  matmul.problem.matmul = kernels::MatmulShape{33, 17, 9, false, false, /*half=*/true, true};
  requests.push_back(matmul);
  for (ExperimentRequest request : requests) {
    request.problem.half = true;
    const ExperimentResult r = profile::RunWorkgroupExperiment(context(), pipelines(), request);
    EXPECT_NE(r.error.find("fp16 kernel of a mixed-precision plan"), std::string::npos) << request.kernel << ": " << r.error;
    EXPECT_EQ(r.median_ns, 0);
  }
}

TEST(Experiment, KernelFamiliesAndShapes) {
  const std::vector<std::string> kernels = profile::ExperimentKernels();
  for (const char* kernel : {"bias_act", "bias_act_back", "optimizer", "copy", "matmul", "conv2d", "conv2d_back_data",
                             "conv2d_back_filter", "pool", "pool_back"}) {
    EXPECT_NE(std::find(kernels.begin(), kernels.end(), kernel), kernels.end()) << kernel;
    EXPECT_EQ(profile::ExperimentKernelFor(kernel), kernel);
    EXPECT_FALSE(profile::ExperimentShapeHelp(kernel).empty()) << kernel;
  }
  // The plan's other dispatches (fixed or tiled workgroups) have no experiment.
  for (const char* kernel : {"bias_act_back_combine", "loss", "batchnorm", ""})
    EXPECT_EQ(profile::ExperimentKernelFor(kernel), "") << kernel;
  EXPECT_EQ(profile::ExperimentShapeHelp("loss"), "");
}

}  // namespace
}  // namespace ts
