// Profiled and traced training steps (Trainer::RequestProfile / RequestTrace):
// the step timeline, invocation counts cross-checked with pipeline
// statistics, per-workgroup trace records, and that instrumenting a step does
// not change what it computes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <thread>

#include "compute/data/synthetic.h"
#include "compute/nn/presets.h"
#include "compute/nn/session.h"
#include "compute/nn/trainer.h"
#include "support/vulkan_test.h"

namespace ts {
namespace {

using testing::VulkanTest;

data::Dataset Spiral() {
  data::SyntheticOptions options;
  options.samples = 256;
  options.classes = 3;
  return data::MakeSynthetic(options);
}

nn::TrainConfig Config(uint32_t steps_per_submit) {
  nn::TrainConfig config;
  config.batch_size = 32;
  config.epochs = 100;
  config.shuffle = false;
  config.validation_fraction = 0;
  config.steps_per_submit = steps_per_submit;
  return config;
}

nn::ModelDesc SmallCnn() {
  return nn::ParseModel(R"({"name": "cnn", "layers": [
      {"type": "input", "shape": [1, 9, 9]},
      {"type": "conv2d", "filters": 4, "kernel": 3, "padding": "same"},
      {"type": "relu"},
      {"type": "max_pool2d", "size": 2},
      {"type": "flatten"},
      {"type": "dense", "units": 3},
      {"type": "softmax_cross_entropy"}]})",
                        "small cnn");
}

data::Dataset RandomImages(uint32_t count) {
  auto rng = testing::MakeRng(7);
  data::Dataset d;
  d.name = "images";
  d.sample_shape = {1, 9, 9};
  d.num_classes = 3;
  d.features_f32 = testing::RandomFloats(rng, size_t(count) * 81, -1.0f, 1.0f);
  for (uint32_t i = 0; i < count; ++i) d.labels.push_back(i % 3);
  return d;
}

std::vector<nn::StepReport> TrainSteps(nn::Trainer& trainer, uint32_t steps) {
  std::vector<nn::StepReport> reports;
  trainer.RunSteps(steps, [&](const nn::StepReport& r) { reports.push_back(r); });
  return reports;
}

class StepProfileTest : public VulkanTest {};

TEST_F(StepProfileTest, ProfiledSubmissionHasATimelineOfEveryDispatchAndHostMoment) {
  if (context().info().timestamp_valid_bits == 0) GTEST_SKIP() << "the device has no timestamps";
  data::Dataset data = Spiral();
  nn::Trainer trainer(context(), pipelines(), nn::LoadModelOrPreset("spiral-mlp"), Config(4), &data, nullptr);
  ASSERT_EQ(TrainSteps(trainer, 4).size(), 4u);  // a plain submission first: the gap before the next one is known
  for (const nn::StepReport& r : TrainSteps(trainer, 4)) EXPECT_EQ(r.profile, nullptr);

  trainer.RequestProfile();
  std::vector<nn::StepReport> reports = TrainSteps(trainer, 4);
  ASSERT_EQ(reports.size(), 4u);
  ASSERT_NE(reports[0].profile, nullptr);
  for (size_t s = 1; s < reports.size(); ++s) EXPECT_EQ(reports[s].profile, nullptr);
  const profile::StepTimeline& timeline = reports[0].profile->timeline;
  EXPECT_EQ(timeline.steps, 4u);
  EXPECT_EQ(timeline.first_global_step, 8u);

  const size_t dispatches = trainer.step_dispatches().size();
  std::vector<std::vector<int>> seen(4, std::vector<int>(dispatches, 0));
  bool submit = false, wait = false, readback = false, gap = false;
  double previous_start = -1;
  for (const profile::TimelineEvent& e : timeline.events) {
    EXPECT_GE(e.start_ns, 0.0) << e.name;
    EXPECT_LE(e.start_ns, e.end_ns) << e.name;
    EXPECT_GE(e.start_ns, previous_start) << "events are sorted by start";
    previous_start = e.start_ns;
    if (e.category == "dispatch") {
      ASSERT_EQ(e.lane, profile::Lane::kDevice);
      ASSERT_GE(e.dispatch, 0);
      ASSERT_LT(size_t(e.dispatch), dispatches);
      ASSERT_LT(e.step, 4u);
      ++seen[e.step][e.dispatch];
      EXPECT_EQ(e.name, trainer.step_dispatches()[e.dispatch].label);
      // The dispatch alone is no longer than its time with the barrier before it.
      EXPECT_LE(e.end_ns - e.start_ns, reports[e.step].dispatch_ns[e.dispatch] * 1.0001 + 1) << e.name;
    }
    submit |= e.name == "submit";
    wait |= e.name == "wait for the GPU";
    readback |= e.category == "readback";
    gap |= e.category == "gap";
  }
  for (uint32_t s = 0; s < 4; ++s)
    for (size_t i = 0; i < dispatches; ++i) EXPECT_EQ(seen[s][i], 1) << "step " << s << " dispatch " << i;
  EXPECT_TRUE(submit && wait && readback && gap);
  EXPECT_GT(timeline.device_busy_ns(), 0.0);
  EXPECT_GE(timeline.duration_ns(), timeline.device_busy_ns());
}

TEST_F(StepProfileTest, PipelineStatisticsCountTheDeclaredInvocationsOfEveryDispatch) {
  if (!context().info().pipeline_statistics) GTEST_SKIP() << "the device has no pipeline-statistics query";
  data::Dataset images = RandomImages(40);
  for (const nn::ModelDesc& model : {nn::LoadModelOrPreset("spiral-mlp"), SmallCnn()}) {
    data::Dataset data = model.name == "cnn" ? images : Spiral();
    nn::TrainConfig config = Config(2);
    config.batch_size = 5;  // odd: grids that do not divide the workgroups
    nn::Trainer trainer(context(), pipelines(), model, config, &data, nullptr);
    trainer.RequestProfile();
    std::vector<nn::StepReport> reports = TrainSteps(trainer, 2);
    ASSERT_NE(reports[0].profile, nullptr);
    const std::vector<uint64_t>& measured = reports[0].profile->measured_invocations;
    ASSERT_EQ(measured.size(), trainer.step_dispatches().size());
    for (size_t i = 0; i < measured.size(); ++i)
      EXPECT_EQ(measured[i], trainer.step_dispatches()[i].invocations()) << trainer.step_dispatches()[i].label;
  }
}

TEST_F(StepProfileTest, TraceModeRecordsEveryWorkgroupAndTrainsExactlyAsWithoutIt) {
  const vk::DeviceInfo& device = context().info();
  if (!device.shader_clock || !device.shader_device_clock) GTEST_SKIP() << "the device has no shader device clock";
  data::Dataset data = RandomImages(40);
  nn::TrainConfig config = Config(2);
  config.batch_size = 7;
  nn::Trainer plain(context(), pipelines(), SmallCnn(), config, &data, nullptr);
  nn::Trainer traced(context(), pipelines(), SmallCnn(), config, &data, nullptr);
  // Two plain steps first: the trainer's first step reports no times (it may
  // compile the pipelines), and the second gives the untraced step's time.
  TrainSteps(traced, 2);
  traced.RequestTrace();
  std::vector<nn::StepReport> reports = TrainSteps(traced, 2);
  ASSERT_EQ(reports.size(), 2u) << "a traced submission of two steps";
  EXPECT_EQ(reports[1].profile, nullptr);
  EXPECT_EQ(TrainSteps(traced, 2).size(), 2u);  // then plain submissions again
  EXPECT_EQ(TrainSteps(plain, 6).size(), 6u);
  EXPECT_EQ(traced.position().global_step, 6u);
  // The traced kernels compute the same thing.
  EXPECT_EQ(plain.plan().ReadParameters(), traced.plan().ReadParameters());

  ASSERT_NE(reports[0].profile, nullptr);
  const nn::StepProfile& profile = *reports[0].profile;
  EXPECT_EQ(profile.traced_step, 3u) << "the second step of the submission is reported";
  const std::vector<nn::DispatchInfo>& dispatches = traced.step_dispatches();
  ASSERT_EQ(profile.trace.size(), dispatches.size());
  for (size_t i = 0; i < dispatches.size(); ++i) {
    const vk::DispatchTrace& trace = profile.trace[i];
    const std::array<uint32_t, 3>& groups = dispatches[i].workgroups;
    const uint64_t workgroups = uint64_t(groups[0]) * groups[1] * groups[2];
    EXPECT_EQ(trace.workgroups, workgroups) << dispatches[i].label;
    ASSERT_EQ(trace.records.size(), std::min<uint64_t>(workgroups, 1u << 16)) << dispatches[i].label;
    for (size_t w = 0; w < trace.records.size(); ++w) {
      EXPECT_EQ(trace.records[w].workgroup, w);
      EXPECT_LE(trace.records[w].start_ticks, trace.records[w].end_ticks) << dispatches[i].label << " workgroup " << w;
    }
  }
  EXPECT_GT(profile.traced_step_ns, 0.0);
  EXPECT_GT(profile.untraced_step_ns, 0.0);
}

TEST_F(StepProfileTest, SessionCarriesProfilesAndPlanMemoryOnItsStepEvents) {
  nn::TrainingSession session(context(), pipelines());
  nn::SessionSetup setup;
  setup.model = nn::LoadModelOrPreset("spiral-mlp");
  setup.config = Config(2);
  setup.config.epochs = 1;
  setup.train = std::make_shared<data::Dataset>(Spiral());
  session.Load(setup);
  session.RequestProfile();
  session.Start();
  bool profiled = false, finished = false;
  uint64_t memory = 0, dataset = 0;
  // A deadline, not a count of polls: on a loaded machine one epoch can take well over 10 s.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (!finished && std::chrono::steady_clock::now() < deadline) {
    for (const nn::SessionEvent& e : session.Poll()) {
      if (e.kind == nn::SessionEvent::Kind::kStep) {
        profiled |= e.step.profile != nullptr;
        memory = e.plan_memory.total();
        dataset = e.dataset_bytes;
      }
      if (e.kind == nn::SessionEvent::Kind::kError) FAIL() << e.message;
      finished |= e.kind == nn::SessionEvent::Kind::kStateChanged && e.state == nn::SessionState::kFinished;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_TRUE(finished);
  EXPECT_TRUE(profiled);
  EXPECT_GT(memory, 0u);
  EXPECT_GE(dataset, 256u * 2 * 4);  // the features of 256 2D samples, at least
}

}  // namespace
}  // namespace ts
