// The trainer's ring of submissions (Trainer::kBanks banks of step slots, the
// next submission queued before the previous one is read back): it trains
// bit for bit as one step per submission does, across epoch boundaries and
// partial submissions, reports divergence at the right step without leaving
// work in flight, and gives the same run however RunSteps is sliced.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "compute/nn/trainer.h"
#include "support/test_data.h"
#include "support/vulkan_test.h"

namespace ts {
namespace {

using testing::VulkanTest;

nn::ModelDesc RingModel() {
  // Dropout draws its mask from the step counter in the step parameters, so a
  // step that read another slot's parameters would train differently.
  return nn::ParseModel(R"({"name": "ring", "layers": [{"type": "input", "shape": [5]},
    {"type": "dense", "units": 12}, {"type": "relu"}, {"type": "dropout", "rate": 0.25},
    {"type": "dense", "units": 3}, {"type": "softmax"}]})", "ring model");
}

using testing::RandomDataset;

nn::TrainConfig RingConfig(uint32_t steps_per_submit) {
  nn::TrainConfig c;
  c.optimizer = kernels::OptimizerKind::kAdam;
  c.learning_rate = 0.01;
  c.batch_size = 8;
  c.epochs = 100;
  c.shuffle = true;
  c.validation_fraction = 0;
  c.steps_per_submit = steps_per_submit;
  c.schedule.kind = nn::ScheduleKind::kCosine;  // every step its own learning rate
  return c;
}

struct TrainedRun {
  std::vector<float> losses, accuracies;
  std::vector<uint64_t> global_steps;
  std::vector<float> parameters;
  nn::TrainPosition position;
  void Record(const nn::StepReport& r) {
    losses.push_back(r.loss);
    accuracies.push_back(r.accuracy);
    global_steps.push_back(r.global_step);
  }
};

void ExpectSameRun(const TrainedRun& expected, const TrainedRun& actual) {
  ASSERT_EQ(expected.global_steps, actual.global_steps);
  for (size_t i = 0; i < expected.losses.size(); ++i) {
    EXPECT_EQ(expected.losses[i], actual.losses[i]) << "step " << i;
    EXPECT_EQ(expected.accuracies[i], actual.accuracies[i]) << "step " << i;
  }
  ASSERT_EQ(expected.parameters.size(), actual.parameters.size());
  size_t differing = 0;
  for (size_t i = 0; i < expected.parameters.size(); ++i) differing += expected.parameters[i] != actual.parameters[i];
  EXPECT_EQ(differing, 0u) << "parameters differ bit for bit";
  EXPECT_EQ(expected.position.epoch, actual.position.epoch);
  EXPECT_EQ(expected.position.step_in_epoch, actual.position.step_in_epoch);
  EXPECT_EQ(expected.position.global_step, actual.position.global_step);
}

// 64 samples, batch 8: 8 steps an epoch. 21 steps cross two epoch boundaries;
// with 3 steps a submission the epochs end in partial submissions (3, 3, 2).
constexpr uint32_t kSteps = 21;

TrainedRun TrainInOneCall(vk::Context& context, vk::PipelineCache& pipelines, const data::Dataset& dataset,
                   uint32_t steps_per_submit) {
  nn::Trainer trainer(context, pipelines, RingModel(), RingConfig(steps_per_submit), &dataset, nullptr);
  TrainedRun run;
  trainer.RunSteps(kSteps, [&](const nn::StepReport& r) { run.Record(r); });
  EXPECT_EQ(trainer.submissions_in_flight(), 0u);
  run.parameters = trainer.plan().ReadParameters();
  run.position = trainer.position();
  return run;
}

TEST_F(VulkanTest, RingTrainsBitForBitAsOneStepPerSubmission) {
  const data::Dataset dataset = RandomDataset(64, 5, 3);
  const TrainedRun single = TrainInOneCall(context(), pipelines(), dataset, 1);
  ASSERT_EQ(single.losses.size(), kSteps);
  EXPECT_EQ(single.position.epoch, 2u);
  EXPECT_EQ(single.position.step_in_epoch, 5u);
  for (uint32_t steps_per_submit : {3u, 5u, 16u}) {
    SCOPED_TRACE("steps_per_submit " + std::to_string(steps_per_submit));
    ExpectSameRun(single, TrainInOneCall(context(), pipelines(), dataset, steps_per_submit));
  }
}

TEST_F(VulkanTest, RingGivesTheSameRunHoweverRunStepsIsSliced) {
  const data::Dataset dataset = RandomDataset(64, 5, 3);
  const TrainedRun whole = TrainInOneCall(context(), pipelines(), dataset, 3);
  nn::Trainer trainer(context(), pipelines(), RingModel(), RingConfig(3), &dataset, nullptr);
  TrainedRun sliced;
  std::vector<float> previous = trainer.plan().ReadParameters();
  uint32_t done = 0;
  for (uint32_t slice : {1u, 2u, 4u, 7u, 1u, 3u, 5u, 9u}) {
    const uint32_t steps = std::min(slice, kSteps - done);
    if (steps == 0) break;
    trainer.RunSteps(steps, [&](const nn::StepReport& r) { sliced.Record(r); });
    done += steps;
    ASSERT_EQ(trainer.submissions_in_flight(), 0u);
    ASSERT_EQ(sliced.losses.size(), done);
    ASSERT_EQ(trainer.position().global_step, done);
    // Right after RunSteps the parameters are those of the last step reported:
    // they changed, and evaluating (which shares the step slots) changes nothing.
    std::vector<float> parameters = trainer.plan().ReadParameters();
    EXPECT_NE(parameters, previous);
    const nn::EvalResult eval = trainer.Evaluate(dataset);
    EXPECT_TRUE(std::isfinite(eval.loss));
    EXPECT_EQ(trainer.plan().ReadParameters(), parameters);
    previous = parameters;
  }
  ASSERT_EQ(done, kSteps);
  sliced.parameters = trainer.plan().ReadParameters();
  sliced.position = trainer.position();
  ExpectSameRun(whole, sliced);
}

TEST_F(VulkanTest, RingStopRequestedDuringAStepReportsEveryStepThatRan) {
  const data::Dataset dataset = RandomDataset(64, 5, 3);
  const TrainedRun whole = TrainInOneCall(context(), pipelines(), dataset, 3);
  nn::Trainer trainer(context(), pipelines(), RingModel(), RingConfig(3), &dataset, nullptr);
  TrainedRun stopped;
  trainer.RunSteps(kSteps, [&](const nn::StepReport& r) {
    stopped.Record(r);
    if (r.global_step == 0) trainer.RequestStop();  // the second submission is in flight by now
  });
  EXPECT_EQ(trainer.submissions_in_flight(), 0u);
  // Whatever was submitted ran and was reported, in order; position and parameters agree with it.
  ASSERT_GE(stopped.losses.size(), 3u);
  ASSERT_LT(stopped.losses.size(), kSteps);
  EXPECT_EQ(stopped.losses.size() % 3, 0u);
  EXPECT_EQ(trainer.position().global_step, stopped.losses.size());
  const uint32_t ran = static_cast<uint32_t>(stopped.losses.size());
  // The rest, then compare with the uninterrupted run.
  trainer.RunSteps(kSteps - ran, [&](const nn::StepReport& r) { stopped.Record(r); });
  stopped.parameters = trainer.plan().ReadParameters();
  stopped.position = trainer.position();
  ExpectSameRun(whole, stopped);
}

TEST_F(VulkanTest, RingDivergenceNamesTheFirstDivergedStepAndLeavesNothingInFlight) {
  // One sample of overflowing features makes its batch's loss non-finite: with
  // shuffle off and batch 8, sample 8 * k + 1 is in step k + 1.
  for (uint32_t diverging_step : {5u, 3u, 7u}) {  // in bank 0 (bank 1 in flight), bank 1 (bank 0 in flight), last
    SCOPED_TRACE("diverging step " + std::to_string(diverging_step));
    data::Dataset dataset = RandomDataset(64, 5, 3);
    const uint32_t sample = 8 * (diverging_step - 1) + 1;
    for (uint32_t f = 0; f < 5; ++f) dataset.features_f32[sample * 5 + f] = std::numeric_limits<float>::max();
    nn::TrainConfig config = RingConfig(2);
    config.shuffle = false;
    auto trainer = std::make_unique<nn::Trainer>(context(), pipelines(), RingModel(), config, &dataset, nullptr);
    std::vector<uint64_t> reported;
    try {
      trainer->RunSteps(8, [&](const nn::StepReport& r) { reported.push_back(r.global_step); });
      FAIL() << "no divergence";
    } catch (const nn::DivergenceError& e) {
      const std::string message = e.what();
      const std::string expected = "Training diverged at epoch 1, step " + std::to_string(diverging_step) + " (step " +
                                   std::to_string(diverging_step) + " overall)";
      EXPECT_NE(message.find(expected), std::string::npos) << message;
    }
    EXPECT_EQ(trainer->submissions_in_flight(), 0u);
    // Reported: the submissions before the diverged one (2 steps each), nothing after.
    const uint64_t first_of_diverged = (diverging_step - 1) / 2 * 2;
    ASSERT_EQ(reported.size(), first_of_diverged);
    for (size_t i = 0; i < reported.size(); ++i) EXPECT_EQ(reported[i], i);
    EXPECT_EQ(trainer->position().global_step, first_of_diverged);
    trainer.reset();  // destroyed at once: the validation layer would flag work left in flight
  }
}

}  // namespace
}  // namespace ts
