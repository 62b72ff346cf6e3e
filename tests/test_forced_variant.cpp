// GPU insight's "force variant" (nn::ForcedVariant): a plan with its matmul
// and conv2d kernels forced trains exactly as the autotuned one does (to fp32
// tolerance), each dispatch says which variant runs and how it was chosen, a
// variant a kernel does not have is reported as not applied, and a session
// re-plans between submissions without disturbing training.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "compute/data/synthetic_images.h"
#include "compute/nn/session.h"
#include "compute/nn/trainer.h"
#include "compute/profile/experiment.h"
#include "support/session_support.h"
#include "support/vulkan_test.h"

namespace ts {
namespace {

using testing::EventLog;
using testing::VulkanTest;
using nn::ForcedVariant;
using Kind = nn::SessionEvent::Kind;

#define EXPECT_CONTAINS(text, part) EXPECT_NE(std::string(text).find(part), std::string::npos) << (text)

// Two convolutions (an RGB one, where the kernels' rule picks the direct
// kernel, and a 4-channel one: implicit GEMM), a pool, and two dense layers.
// Batch 12 divides no tile.
nn::ModelDesc SmallCnn() {
  return nn::ParseModel(R"({"name": "forced", "layers": [
    {"type": "input", "shape": [3, 8, 8]},
    {"type": "conv2d", "filters": 4, "kernel": 3, "padding": "same"}, {"type": "relu"},
    {"type": "max_pool2d", "size": 2},
    {"type": "conv2d", "filters": 6, "kernel": 3}, {"type": "relu"},
    {"type": "flatten"},
    {"type": "dense", "units": 10}, {"type": "relu"},
    {"type": "dense", "units": 4},
    {"type": "softmax_cross_entropy"}]})",
                        "forced-variant model");
}

data::Dataset Images() {
  data::ShapesOptions shapes;
  shapes.samples = 96;
  shapes.size = 8;
  shapes.channels = 3;
  shapes.classes = 4;
  shapes.seed = 5;
  return data::MakeShapes(shapes);
}

nn::TrainConfig Config() {
  nn::TrainConfig config;
  config.batch_size = 12;
  config.learning_rate = 5e-3;
  config.steps_per_submit = 2;
  config.shuffle = false;
  config.epochs = 100;
  return config;
}

std::vector<float> Losses(vk::Context& context, vk::PipelineCache& pipelines, ForcedVariant forced, uint32_t steps,
                          std::vector<nn::DispatchInfo>* dispatches = nullptr) {
  const data::Dataset images = Images();
  nn::Trainer trainer(context, pipelines, SmallCnn(), Config(), &images, nullptr, forced);
  std::vector<float> losses;
  trainer.RunSteps(steps, [&](const nn::StepReport& r) { losses.push_back(r.loss); });
  if (dispatches) *dispatches = trainer.step_dispatches();
  return losses;
}

void ExpectSameLosses(const std::vector<float>& expected, const std::vector<float>& actual, const std::string& what) {
  ASSERT_EQ(expected.size(), actual.size()) << what;
  for (size_t i = 0; i < expected.size(); ++i)
    EXPECT_NEAR(actual[i], expected[i], 1e-4 * (1 + std::abs(expected[i]))) << what << ", step " << i;
}

TEST(ForcedVariantNames, NameEveryVariant) {
  EXPECT_STREQ(nn::ForcedVariantName(ForcedVariant::kNone), "autotuned");
  EXPECT_STREQ(nn::ForcedVariantName(ForcedVariant::kRegisterBlocked), "register-blocked");
  EXPECT_STREQ(nn::ForcedVariantName(ForcedVariant::kSharedTiled), "shared-tiled");
  EXPECT_STREQ(nn::ForcedVariantName(ForcedVariant::kDirect), "direct");
}

TEST_F(VulkanTest, EveryForcedVariantTrainsAsTheAutotunedChoiceAndSaysWhereItApplies) {
  constexpr uint32_t kSteps = 4;
  std::vector<nn::DispatchInfo> tuned_dispatches;
  const std::vector<float> tuned = Losses(context(), pipelines(), ForcedVariant::kNone, kSteps, &tuned_dispatches);
  ASSERT_EQ(tuned.size(), kSteps);
  for (const nn::DispatchInfo& d : tuned_dispatches) {
    if (d.kernel == "conv2d") {
      EXPECT_EQ(d.variant_choice, "default") << d.label;
      // The kernels' rule: direct for the RGB input, the implicit GEMM for 4 channels.
      EXPECT_EQ(d.variant, d.label.starts_with("conv2d_1") ? "direct" : "implicit GEMM (register-blocked)") << d.label;
    }
    EXPECT_TRUE(d.variant_not_applied.empty()) << d.label;
  }

  for (ForcedVariant forced : {ForcedVariant::kRegisterBlocked, ForcedVariant::kSharedTiled, ForcedVariant::kDirect}) {
    const std::string name = nn::ForcedVariantName(forced);
    SCOPED_TRACE(name);
    std::vector<nn::DispatchInfo> dispatches;
    ExpectSameLosses(tuned, Losses(context(), pipelines(), forced, kSteps, &dispatches), name + " forced");
    uint32_t matmuls = 0, convs = 0;
    for (const nn::DispatchInfo& d : dispatches) {
      if (d.kernel == "matmul") {
        ++matmuls;
        if (forced == ForcedVariant::kDirect) {
          EXPECT_NE(d.variant_choice, "forced") << d.label;
          EXPECT_EQ(d.variant_not_applied, "direct was forced: matmul has no direct kernel") << d.label;
        } else {
          EXPECT_EQ(d.variant_choice, "forced") << d.label;
          EXPECT_TRUE(d.variant.starts_with(name)) << d.label << ": " << d.variant;
          EXPECT_TRUE(d.variant_not_applied.empty()) << d.label;
        }
      } else if (d.kernel == "conv2d") {
        ++convs;
        if (forced == ForcedVariant::kSharedTiled) {
          EXPECT_EQ(d.variant_choice, "default") << d.label;
          EXPECT_EQ(d.variant_not_applied, "shared-tiled was forced: conv2d has no shared-tiled kernel") << d.label;
        } else {
          EXPECT_EQ(d.variant_choice, "forced") << d.label;
          EXPECT_EQ(d.variant, forced == ForcedVariant::kDirect ? "direct" : "implicit GEMM (register-blocked)");
        }
      } else if (d.kernel == "conv2d_back_filter" || d.kernel == "conv2d_back_data") {
        EXPECT_EQ(d.variant, "implicit GEMM (register-blocked)") << d.label;
        if (forced == ForcedVariant::kRegisterBlocked) {
          EXPECT_EQ(d.variant_choice, "forced") << d.label;
        } else {
          EXPECT_EQ(d.variant_not_applied, name + " was forced: " + d.kernel + " has no " + name + " kernel");
        }
      } else {
        EXPECT_TRUE(d.variant.empty()) << d.label;  // other kernels have no variants to force
      }
    }
    EXPECT_EQ(matmuls, 6u);  // two forward, two dW, two dX
    EXPECT_EQ(convs, 2u);
  }
}

// "Try it" on a real plan: every matmul, conv2d and pool dispatch records its
// problem, and its kernel re-run on those shapes (with the plan's variant) at
// another workgroup size computes what the CPU reference does.
TEST_F(VulkanTest, TryItRunsEveryLayerKernelOfAPlanOnItsOwnShapes) {
  const data::Dataset images = Images();
  nn::Trainer trainer(context(), pipelines(), SmallCnn(), Config(), &images, nullptr, ForcedVariant::kSharedTiled);
  std::vector<std::string> tried;
  for (const nn::DispatchInfo& d : trainer.step_dispatches()) {
    const std::string family = profile::ExperimentKernelFor(d.kernel);
    const bool layer_kernel = d.kernel.starts_with("matmul") || d.kernel.starts_with("conv2d") || d.kernel.starts_with("pool");
    EXPECT_EQ(d.problem.matmul.has_value() || d.problem.conv.has_value() || d.problem.pool.has_value(), layer_kernel)
        << d.label;
    if (!layer_kernel) continue;
    ASSERT_EQ(family, d.kernel);
    profile::ExperimentRequest request;
    request.kernel = family;
    request.problem = d.problem;
    request.workgroup_size = 48;
    request.repeats = 1;
    request.check = true;
    const profile::ExperimentResult r = profile::RunWorkgroupExperiment(context(), pipelines(), request);
    EXPECT_EQ(r.error, "") << d.label;
    EXPECT_GE(r.max_error, 0) << d.label;
    EXPECT_LT(r.max_error, profile::kExperimentTolerance) << d.label;
    EXPECT_EQ(r.local_size[0] * r.local_size[1], 48u) << d.label;
    if (d.kernel == "matmul") {
      EXPECT_EQ(r.note.rfind("shared-tiled", 0), 0u) << d.label << ": " << r.note;
    }
    tried.push_back(d.label + ": " + profile::ExperimentProblemText(request));
  }
  for (const std::string& line : tried) std::printf("tried %s\n", line.c_str());
  EXPECT_EQ(tried.size(), 6u + 5u + 2u);  // matmuls; conv2d forward x2, back filter x2, back data; pool both ways
}

// Forced mid-run through the session, as the Kernels tab does: the re-plan
// keeps parameters, optimizer state and position, so the losses go on as in a
// run that never changed kernels; "autotuned" returns to the tuner's choice.
TEST_F(VulkanTest, SessionForcesAVariantBetweenSubmissionsWithoutDisturbingTraining) {
  constexpr uint32_t kSteps = 6;
  const std::vector<float> straight = Losses(context(), pipelines(), ForcedVariant::kNone, kSteps);

  nn::TrainingSession session(context(), pipelines());
  EventLog log(session);
  nn::SessionSetup setup;
  setup.model = SmallCnn();
  setup.config = Config();
  setup.train = std::make_shared<const data::Dataset>(Images());
  session.Load(setup);
  ASSERT_TRUE(log.WaitForState(nn::SessionState::kReady));
  auto step = [&](uint64_t global_step) {
    session.Step();
    ASSERT_TRUE(log.WaitForStep(global_step));
    ASSERT_TRUE(log.WaitForState(nn::SessionState::kPaused));
  };
  step(0);
  step(1);

  session.SetForcedVariant(ForcedVariant::kSharedTiled);
  auto changed = log.WaitForKind(Kind::kSettingChanged);
  ASSERT_TRUE(changed);
  EXPECT_EQ(changed->step.global_step, 2u);
  EXPECT_CONTAINS(changed->message, "kernel variant autotuned -> shared-tiled (forced on 6 dispatch(es)");
  EXPECT_CONTAINS(changed->message, "conv2d has no shared-tiled kernel");
  EXPECT_CONTAINS(changed->message, "conv2d_back_filter has no shared-tiled kernel");
  for (const nn::DispatchInfo& d : session.step_dispatches())
    if (d.kernel == "matmul") {
      EXPECT_EQ(d.variant_choice, "forced") << d.label;
      EXPECT_TRUE(d.variant.starts_with("shared-tiled")) << d.variant;
    }
  step(2);
  step(3);

  session.SetForcedVariant(ForcedVariant::kNone);
  changed = log.WaitForKind(Kind::kSettingChanged);
  ASSERT_TRUE(changed);
  EXPECT_EQ(changed->message, "kernel variant shared-tiled -> autotuned");
  for (const nn::DispatchInfo& d : session.step_dispatches()) {
    EXPECT_NE(d.variant_choice, "forced") << d.label;
    EXPECT_TRUE(d.variant_not_applied.empty()) << d.label;
  }
  step(4);
  step(5);

  std::vector<float> losses;
  for (const nn::StepReport& r : log.Steps()) losses.push_back(r.loss);
  ExpectSameLosses(straight, losses, "forced mid-run");
  EXPECT_TRUE(log.Errors().empty()) << log.Errors().front();
}

}  // namespace
}  // namespace ts
