// TrainingSession: the worker thread driven by commands and observed through
// events, as the GUI uses it. Event order, Pause/Step/Start/Stop/Reset,
// mid-run setting changes that keep the parameters, divergence and bad setups
// that leave the session usable, snapshots that match Trainer::Predict, and a
// Poll() that never waits for the device.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <numeric>
#include <optional>
#include <thread>

#include "compute/data/registry.h"
#include "compute/nn/checkpoint.h"
#include "compute/nn/presets.h"
#include "compute/nn/session.h"
#include "support/test_data.h"
#include "support/vulkan_test.h"
#include "ui/widgets/drawing_canvas.h"

namespace ts {
namespace {

using testing::VulkanTest;
using Kind = nn::SessionEvent::Kind;
using State = nn::SessionState;
using Clock = std::chrono::steady_clock;

#define EXPECT_CONTAINS(text, part) EXPECT_NE(std::string(text).find(part), std::string::npos) << (text)

constexpr double kTimeoutSeconds = 120;

nn::ModelDesc Model(const std::string& layers) { return testing::TestModel(layers); }

// 2 -> 16 relu -> 16 tanh -> 3: two hidden layers of different activations.
nn::ModelDesc SpiralModel() {
  return Model(R"({"type": "input", "shape": [2]}, {"type": "dense", "units": 16}, {"type": "relu"},
    {"type": "dense", "units": 16}, {"type": "tanh"}, {"type": "dense", "units": 3}, {"type": "softmax"})");
}

// 300 spiral points: 240 to train on (15 batches of 16), 60 to validate, 75 to test.
nn::SessionSetup SpiralSetup(uint32_t epochs) {
  data::DataSplit split = data::LoadDataSpec("spiral:samples=300");
  auto [train, validation] = data::SplitValidation(split.train, 0.2, 1);
  nn::SessionSetup setup;
  setup.model = SpiralModel();
  setup.config.optimizer = kernels::OptimizerKind::kAdam;
  setup.config.learning_rate = 0.01;
  setup.config.batch_size = 16;
  setup.config.epochs = epochs;
  setup.config.steps_per_submit = 4;
  setup.train = std::make_shared<const data::Dataset>(std::move(train));
  setup.validation = std::make_shared<const data::Dataset>(std::move(validation));
  setup.test = std::make_shared<const data::Dataset>(std::move(split.test));
  setup.boundary_resolution = 16;
  return setup;
}

bool IsState(const nn::SessionEvent& e, State state) { return e.kind == Kind::kStateChanged && e.state == state; }

// Collects a session's events, polling as a UI frame loop would, and times every Poll().
class EventLog {
 public:
  explicit EventLog(nn::TrainingSession& session) : session_(session) {}

  void PollOnce() {
    auto start = Clock::now();
    std::vector<nn::SessionEvent> batch = session_.Poll();
    double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    max_poll_ms_ = std::max(max_poll_ms_, ms);
    ++polls_;
    for (nn::SessionEvent& e : batch) events_.push_back(std::move(e));
  }

  // Polls until an event after the cursor matches; moves the cursor past it.
  std::optional<nn::SessionEvent> WaitFor(const std::function<bool(const nn::SessionEvent&)>& match,
                                          double timeout_seconds = kTimeoutSeconds) {
    auto deadline = Clock::now() + std::chrono::duration<double>(timeout_seconds);
    for (;;) {
      for (; cursor_ < events_.size(); ++cursor_)
        if (match(events_[cursor_])) return events_[cursor_++];
      if (Clock::now() > deadline) return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      PollOnce();
    }
  }
  std::optional<nn::SessionEvent> WaitForState(State state) {
    return WaitFor([state](const nn::SessionEvent& e) { return IsState(e, state); });
  }
  std::optional<nn::SessionEvent> WaitForKind(Kind kind) {
    return WaitFor([kind](const nn::SessionEvent& e) { return e.kind == kind; });
  }
  std::optional<nn::SessionEvent> WaitForStep(uint64_t global_step) {
    return WaitFor([=](const nn::SessionEvent& e) { return e.kind == Kind::kStep && e.step.global_step >= global_step; });
  }
  // Polls for `seconds` more, keeping whatever arrives.
  void Drain(double seconds) {
    WaitFor([](const nn::SessionEvent&) { return false; }, seconds);
  }

  const std::vector<nn::SessionEvent>& events() const { return events_; }
  size_t cursor() const { return cursor_; }
  std::vector<nn::StepReport> Steps(size_t from = 0) const {
    std::vector<nn::StepReport> steps;
    for (size_t i = from; i < events_.size(); ++i)
      if (events_[i].kind == Kind::kStep) steps.push_back(events_[i].step);
    return steps;
  }
  std::vector<std::string> Errors() const {
    std::vector<std::string> errors;
    for (const nn::SessionEvent& e : events_)
      if (e.kind == Kind::kError) errors.push_back(e.message);
    return errors;
  }
  double max_poll_ms() const { return max_poll_ms_; }
  size_t polls() const { return polls_; }

 private:
  nn::TrainingSession& session_;
  std::vector<nn::SessionEvent> events_;
  size_t cursor_ = 0;
  double max_poll_ms_ = 0;
  size_t polls_ = 0;
};

// Cell centres of the boundary grid, as the session lays them out.
data::Dataset GridPoints(uint32_t resolution, const std::array<float, 4>& extent) {
  data::Dataset grid;
  grid.name = "grid";
  grid.sample_shape = {2};
  grid.num_classes = 1;
  for (uint32_t y = 0; y < resolution; ++y)
    for (uint32_t x = 0; x < resolution; ++x) {
      grid.features_f32.push_back(extent[0] + (extent[1] - extent[0]) * (x + 0.5f) / resolution);
      grid.features_f32.push_back(extent[2] + (extent[3] - extent[2]) * (y + 0.5f) / resolution);
    }
  grid.labels.assign(size_t(resolution) * resolution, 0);
  return grid;
}

TEST(SessionStateNames, NameEveryState) {
  EXPECT_STREQ(nn::SessionStateName(State::kEmpty), "empty");
  EXPECT_STREQ(nn::SessionStateName(State::kReady), "ready");
  EXPECT_STREQ(nn::SessionStateName(State::kRunning), "running");
  EXPECT_STREQ(nn::SessionStateName(State::kPaused), "paused");
  EXPECT_STREQ(nn::SessionStateName(State::kFinished), "finished");
  EXPECT_STREQ(nn::SessionStateName(State::kFailed), "failed");
}

TEST_F(VulkanTest, SessionTrainsToTheEndWithOrderedEventsAndPollNeverWaits) {
  const uint32_t epochs = 30, steps_per_epoch = 15;
  nn::TrainingSession session(context(), pipelines());
  EventLog log(session);
  EXPECT_EQ(session.state(), State::kEmpty);
  EXPECT_TRUE(session.step_dispatches().empty());
  session.Load(SpiralSetup(epochs));
  ASSERT_TRUE(log.WaitForState(State::kReady));
  EXPECT_EQ(session.state(), State::kReady);
  EXPECT_FALSE(session.step_dispatches().empty());
  auto start = Clock::now();
  session.Start();
  ASSERT_TRUE(log.WaitForState(State::kFinished)) << "did not finish in time";
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  log.Drain(0.05);
  EXPECT_EQ(session.state(), State::kFinished);
  EXPECT_TRUE(log.Errors().empty()) << log.Errors().front();

  std::vector<State> transitions;
  for (const nn::SessionEvent& e : log.events())
    if (e.kind == Kind::kStateChanged) transitions.push_back(e.state);
  EXPECT_EQ(transitions, (std::vector<State>{State::kReady, State::kRunning, State::kFinished}));

  std::vector<nn::StepReport> steps = log.Steps();
  ASSERT_EQ(steps.size(), size_t(epochs) * steps_per_epoch);
  for (size_t i = 0; i < steps.size(); ++i) {
    EXPECT_EQ(steps[i].global_step, i);
    EXPECT_EQ(steps[i].epoch, i / steps_per_epoch);
    EXPECT_EQ(steps[i].step_in_epoch, i % steps_per_epoch);
  }

  std::vector<nn::SessionEvent> epoch_events;
  for (const nn::SessionEvent& e : log.events())
    if (e.kind == Kind::kEpoch) epoch_events.push_back(e);
  ASSERT_EQ(epoch_events.size(), epochs);
  for (uint32_t i = 0; i < epochs; ++i) {
    const nn::EpochSummary& summary = epoch_events[i].epoch;
    EXPECT_EQ(summary.epoch, i);
    EXPECT_EQ(summary.samples, uint64_t(steps_per_epoch) * 16);
    ASSERT_TRUE(summary.validation.has_value());
    EXPECT_EQ(summary.validation->samples, 60u);
    ASSERT_TRUE(epoch_events[i].test.has_value());
    EXPECT_EQ(epoch_events[i].test->samples, 75u);
  }
  double first = epoch_events.front().epoch.train_loss, last = epoch_events.back().epoch.train_loss;
  std::printf("loss: first epoch %.4f, last epoch %.4f; validation accuracy %.3f, test accuracy %.3f\n", first, last,
              epoch_events.back().epoch.validation->accuracy, epoch_events.back().test->accuracy);
  EXPECT_LT(last, 0.7 * first);

  std::shared_ptr<const nn::Snapshot> final_snapshot;
  size_t snapshots = 0;
  for (const nn::SessionEvent& e : log.events())
    if (e.kind == Kind::kSnapshot) final_snapshot = e.snapshot, ++snapshots;
  ASSERT_TRUE(final_snapshot);
  EXPECT_EQ(final_snapshot->global_step, steps.size());

  std::printf("%zu steps in %.2f s (%.0f steps/s), %zu snapshots; Poll(): max %.3f ms over %zu polls\n", steps.size(),
              seconds, steps.size() / seconds, snapshots, log.max_poll_ms(), log.polls());
  RecordProperty("max_poll_ms", std::to_string(log.max_poll_ms()));
  // Poll only swaps a vector under a briefly held lock (typically microseconds);
  // loose, because the machine is shared and noisy.
  EXPECT_LT(log.max_poll_ms(), 50.0);
}

TEST_F(VulkanTest, SessionPausesStepsOneBatchAndResumes) {
  nn::TrainingSession session(context(), pipelines());
  EventLog log(session);
  session.Load(SpiralSetup(1000));
  ASSERT_TRUE(log.WaitForState(State::kReady));
  session.Start();
  ASSERT_TRUE(log.WaitForStep(5));
  session.Pause();
  ASSERT_TRUE(log.WaitForState(State::kPaused));
  EXPECT_EQ(session.state(), State::kPaused);
  log.Drain(0.2);
  std::vector<nn::StepReport> before = log.Steps();
  ASSERT_FALSE(before.empty());
  uint64_t last = before.back().global_step;
  for (size_t i = 0; i < before.size(); ++i) EXPECT_EQ(before[i].global_step, i);
  for (size_t i = log.cursor(); i < log.events().size(); ++i)
    EXPECT_NE(log.events()[i].kind, Kind::kStep) << "a step ran after the pause";

  size_t mark = log.events().size();
  session.Step();
  ASSERT_TRUE(log.WaitForState(State::kPaused));
  log.Drain(0.1);
  std::vector<nn::StepReport> stepped = log.Steps(mark);
  ASSERT_EQ(stepped.size(), 1u);
  EXPECT_EQ(stepped[0].global_step, last + 1);

  mark = log.events().size();
  session.Start();
  ASSERT_TRUE(log.WaitForStep(last + 5));
  session.Stop();
  ASSERT_TRUE(log.WaitForState(State::kFinished));
  std::vector<nn::StepReport> resumed = log.Steps(mark);
  ASSERT_GE(resumed.size(), 3u);
  for (size_t i = 0; i < resumed.size(); ++i) EXPECT_EQ(resumed[i].global_step, last + 2 + i);
  EXPECT_TRUE(log.Errors().empty());
}

TEST_F(VulkanTest, SessionStopKeepsTheParametersAndSavesThem) {
  nn::TrainingSession session(context(), pipelines());
  EventLog log(session);
  session.Load(SpiralSetup(1000));
  auto loaded = log.WaitForKind(Kind::kSnapshot);
  ASSERT_TRUE(loaded);
  session.Start();
  ASSERT_TRUE(log.WaitForStep(10));
  session.Stop();
  ASSERT_TRUE(log.WaitForState(State::kFinished));
  auto stopped = log.WaitForKind(Kind::kSnapshot);
  ASSERT_TRUE(stopped);
  EXPECT_GE(stopped->snapshot->global_step, 11u);
  EXPECT_NE(stopped->snapshot->parameters, loaded->snapshot->parameters);

  std::string path = ::testing::TempDir() + "/session.ckpt";
  std::filesystem::remove(path);
  session.SaveCheckpoint(path);
  auto saved = log.WaitForKind(Kind::kCheckpointSaved);
  ASSERT_TRUE(saved);
  EXPECT_EQ(saved->message, path);
  nn::Checkpoint checkpoint = nn::LoadCheckpoint(path);
  EXPECT_EQ(checkpoint.parameters, stopped->snapshot->parameters);
  EXPECT_EQ(checkpoint.position.global_step, stopped->snapshot->global_step);

  // Start goes on from where Stop left off.
  size_t mark = log.events().size();
  session.Start();
  ASSERT_TRUE(log.WaitForStep(stopped->snapshot->global_step));
  EXPECT_EQ(log.Steps(mark).front().global_step, stopped->snapshot->global_step);

  session.SaveCheckpoint("/nonexistent-directory/session.ckpt");
  auto failed = log.WaitForKind(Kind::kError);
  ASSERT_TRUE(failed);
  EXPECT_CONTAINS(failed->message, "/nonexistent-directory/session.ckpt");
  EXPECT_EQ(failed->state, State::kRunning);  // a failed save does not disturb training
}

TEST_F(VulkanTest, SessionResetReinitialisesParametersAndPosition) {
  nn::TrainingSession session(context(), pipelines());
  EventLog log(session);
  session.Load(SpiralSetup(1000));
  auto initial = log.WaitForKind(Kind::kSnapshot);
  ASSERT_TRUE(initial);
  for (int i = 0; i < 3; ++i) session.Step();
  ASSERT_TRUE(log.WaitForStep(2));
  session.Reset();
  ASSERT_TRUE(log.WaitForState(State::kReady));
  auto reset = log.WaitForKind(Kind::kSnapshot);
  ASSERT_TRUE(reset);
  EXPECT_EQ(reset->snapshot->global_step, 0u);
  EXPECT_EQ(reset->snapshot->parameters, initial->snapshot->parameters);
  session.Step();
  auto first = log.WaitForKind(Kind::kStep);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->step.global_step, 0u);
  EXPECT_EQ(first->step.step_in_epoch, 0u);
}

// Stepping the session with a learning-rate change in the middle gives exactly
// the losses of a Trainer doing the same: parameters and Adam's state are kept.
TEST_F(VulkanTest, SessionLearningRateChangeKeepsParametersAndOptimizerState) {
  nn::SessionSetup setup = SpiralSetup(1000);
  std::vector<float> expected;
  {
    nn::Trainer reference(context(), pipelines(), setup.model, setup.config, setup.train.get(), nullptr);
    auto record = [&](const nn::StepReport& r) { expected.push_back(r.loss); };
    for (int i = 0; i < 5; ++i) reference.RunSteps(1, record);
    reference.set_learning_rate(0.003);
    for (int i = 0; i < 5; ++i) reference.RunSteps(1, record);
  }
  nn::TrainingSession session(context(), pipelines());
  EventLog log(session);
  session.Load(setup);
  for (int i = 0; i < 5; ++i) session.Step();
  session.SetLearningRate(0.003);
  for (int i = 0; i < 5; ++i) session.Step();
  ASSERT_TRUE(log.WaitForStep(9));
  auto changed = std::find_if(log.events().begin(), log.events().end(),
                              [](const nn::SessionEvent& e) { return e.kind == Kind::kSettingChanged; });
  ASSERT_NE(changed, log.events().end());
  EXPECT_EQ(changed->message, "lr 0.01 -> 0.003");
  EXPECT_EQ(changed->step.global_step, 5u);
  std::vector<nn::StepReport> steps = log.Steps();
  ASSERT_EQ(steps.size(), expected.size());
  for (size_t i = 0; i < steps.size(); ++i) {
    EXPECT_EQ(steps[i].global_step, i);
    EXPECT_EQ(steps[i].loss, expected[i]) << "step " << i;
    EXPECT_DOUBLE_EQ(steps[i].learning_rate, i < 5 ? 0.01 : 0.003);
  }

  // The same change while running: a marker, and the steps go on without a gap.
  size_t mark = log.events().size();
  session.Start();
  ASSERT_TRUE(log.WaitForStep(14));
  session.SetLearningRate(0.001);
  auto marker = log.WaitForKind(Kind::kSettingChanged);
  ASSERT_TRUE(marker);
  EXPECT_EQ(marker->message, "lr 0.003 -> 0.001");
  ASSERT_TRUE(log.WaitForStep(marker->step.global_step + 3));
  std::vector<nn::StepReport> running = log.Steps(mark);
  for (size_t i = 0; i < running.size(); ++i) {
    EXPECT_EQ(running[i].global_step, 10 + i);
    EXPECT_DOUBLE_EQ(running[i].learning_rate, running[i].global_step < marker->step.global_step ? 0.003 : 0.001);
  }
}

TEST_F(VulkanTest, SessionBatchSizeAndOptimizerChangesKeepParametersAndPosition) {
  nn::TrainingSession session(context(), pipelines());
  EventLog log(session);
  session.Load(SpiralSetup(1000));
  ASSERT_TRUE(log.WaitForState(State::kReady));
  std::vector<nn::DispatchInfo> dispatches16 = session.step_dispatches();
  session.Start();
  ASSERT_TRUE(log.WaitForStep(8));
  session.Pause();
  ASSERT_TRUE(log.WaitForState(State::kPaused));
  auto paused = log.WaitForKind(Kind::kSnapshot);
  ASSERT_TRUE(paused);
  const nn::Snapshot& before = *paused->snapshot;
  nn::StepReport last = log.Steps().back();
  ASSERT_EQ(last.global_step + 1, before.global_step);

  session.SetBatchSize(32);
  auto changed = log.WaitForKind(Kind::kSettingChanged);
  ASSERT_TRUE(changed);
  EXPECT_EQ(changed->message, "batch 16 -> 32");
  EXPECT_EQ(changed->step.global_step, before.global_step);
  auto rebuilt = log.WaitForKind(Kind::kSnapshot);
  ASSERT_TRUE(rebuilt);
  EXPECT_EQ(rebuilt->snapshot->parameters, before.parameters);
  EXPECT_EQ(rebuilt->snapshot->global_step, before.global_step);
  std::vector<nn::DispatchInfo> dispatches32 = session.step_dispatches();
  ASSERT_EQ(dispatches32.size(), dispatches16.size());
  EXPECT_EQ(dispatches32[1].cost.flops, 2 * dispatches16[1].cost.flops);  // dense_1's matmul over twice the rows

  // The next step continues the epoch at the batch of 32 holding the first unseen sample.
  size_t mark = log.events().size();
  session.Step();
  ASSERT_TRUE(log.WaitForStep(before.global_step));
  nn::StepReport next = log.Steps(mark).front();
  EXPECT_EQ(next.global_step, before.global_step);
  if (last.step_in_epoch + 1 == 15) {  // paused at the end of an epoch
    EXPECT_EQ(next.epoch, last.epoch + 1);
    EXPECT_EQ(next.step_in_epoch, 0u);
  } else {  // 240 samples: 7 batches of 32
    EXPECT_EQ(next.epoch, last.epoch);
    EXPECT_EQ(next.step_in_epoch, std::min((last.step_in_epoch + 1) * 16 / 32, 6u));
  }
  ASSERT_TRUE(log.WaitForState(State::kPaused));
  auto stepped = log.WaitForKind(Kind::kSnapshot);
  ASSERT_TRUE(stepped);

  session.SetOptimizer(kernels::OptimizerKind::kSgd);
  auto optimizer = log.WaitForKind(Kind::kSettingChanged);
  ASSERT_TRUE(optimizer);
  EXPECT_EQ(optimizer->message, "optimizer adam -> sgd");
  auto after_optimizer = log.WaitForKind(Kind::kSnapshot);
  ASSERT_TRUE(after_optimizer);
  EXPECT_EQ(after_optimizer->snapshot->parameters, stepped->snapshot->parameters);
  session.Start();
  ASSERT_TRUE(log.WaitForStep(before.global_step + 5));
  EXPECT_TRUE(log.Errors().empty());
}

TEST_F(VulkanTest, SessionDivergenceFailsAndTheSessionRecovers) {
  nn::TrainingSession session(context(), pipelines());
  EventLog log(session);
  nn::SessionSetup setup = SpiralSetup(1000);
  setup.config.optimizer = kernels::OptimizerKind::kSgd;
  setup.config.learning_rate = 1e30;
  session.Load(setup);
  session.Start();
  auto error = log.WaitForKind(Kind::kError);
  ASSERT_TRUE(error);
  EXPECT_CONTAINS(error->message, "Training diverged");
  EXPECT_EQ(error->state, State::kFailed);
  EXPECT_EQ(session.state(), State::kFailed);

  session.Start();  // refused until Reset
  auto refused = log.WaitForKind(Kind::kError);
  ASSERT_TRUE(refused);
  EXPECT_CONTAINS(refused->message, "Reset");
  EXPECT_EQ(refused->state, State::kFailed);

  session.SetLearningRate(0.01);
  session.Reset();
  ASSERT_TRUE(log.WaitForState(State::kReady));
  session.Start();
  ASSERT_TRUE(log.WaitForStep(20));
  EXPECT_EQ(session.state(), State::kRunning);

  session.Load(SpiralSetup(1000));
  ASSERT_TRUE(log.WaitForState(State::kReady));
}

TEST_F(VulkanTest, SessionReportsBadSetupsAndSurvives) {
  nn::TrainingSession session(context(), pipelines());
  EventLog log(session);
  session.Start();  // nothing loaded
  auto nothing = log.WaitForKind(Kind::kError);
  ASSERT_TRUE(nothing);
  EXPECT_CONTAINS(nothing->message, "load a model");
  EXPECT_EQ(nothing->state, State::kEmpty);

  nn::SessionSetup mismatch = SpiralSetup(5);
  mismatch.model = Model(R"({"type": "input", "shape": [3]}, {"type": "dense", "units": 3}, {"type": "softmax"})");
  session.Load(mismatch);
  auto shape = log.WaitForKind(Kind::kError);
  ASSERT_TRUE(shape);
  EXPECT_CONTAINS(shape->message, "input_1 takes inputs of shape 3 (3 values), the data 'spiral:train' has samples of shape 2");
  EXPECT_EQ(shape->state, State::kEmpty);

  nn::SessionSetup no_data = SpiralSetup(5);
  no_data.train = nullptr;
  session.Load(no_data);
  auto missing = log.WaitForKind(Kind::kError);
  ASSERT_TRUE(missing);
  EXPECT_CONTAINS(missing->message, "no training data");

  session.Load(SpiralSetup(1000));
  ASSERT_TRUE(log.WaitForState(State::kReady));
  session.SetBatchSize(100000);  // more than the 240 samples: rejected, the run is untouched
  auto batch = log.WaitForKind(Kind::kError);
  ASSERT_TRUE(batch);
  EXPECT_CONTAINS(batch->message, "fewer than the batch size 100000");
  EXPECT_EQ(batch->state, State::kReady);
  session.Start();
  ASSERT_TRUE(log.WaitForStep(3));
  EXPECT_EQ(session.state(), State::kRunning);
}

TEST_F(VulkanTest, SessionSnapshotBoundaryMatchesPredictAndHiddenLayersMatchTheCpu) {
  nn::SessionSetup setup = SpiralSetup(1000);
  setup.boundary_resolution = 12;
  nn::TrainingSession session(context(), pipelines());
  EventLog log(session);
  session.Load(setup);
  for (int i = 0; i < 3; ++i) session.Step();
  auto event = log.WaitFor([](const nn::SessionEvent& e) { return e.kind == Kind::kSnapshot && e.snapshot->global_step == 3; });
  ASSERT_TRUE(event);
  const nn::Snapshot& s = *event->snapshot;
  const uint32_t points = 12 * 12;
  ASSERT_EQ(s.boundary_resolution, 12u);
  ASSERT_EQ(s.classes, 3u);
  ASSERT_EQ(s.boundary.size(), size_t(points) * 3);
  for (uint32_t i = 0; i < points; ++i) {
    double sum = s.boundary[3 * i] + s.boundary[3 * i + 1] + s.boundary[3 * i + 2];
    EXPECT_NEAR(sum, 1.0, 1e-5) << "grid point " << i;
  }

  data::Dataset grid = GridPoints(12, setup.boundary_extent);
  nn::TrainConfig config = setup.config;
  config.batch_size = 50;  // a different batch than the session's probe: the outputs must not depend on it
  nn::Trainer reference(context(), pipelines(), setup.model, config, nullptr, nullptr);
  reference.plan().WriteParameters(s.parameters);
  std::vector<float> predicted = reference.Predict(grid);
  ASSERT_EQ(predicted.size(), s.boundary.size());
  for (size_t i = 0; i < predicted.size(); ++i) EXPECT_NEAR(s.boundary[i], predicted[i], 1e-5) << i;

  // Hidden layers: relu_1 and tanh_1 (the dense layers feed their activations).
  ASSERT_EQ(s.hidden.size(), 2u);
  EXPECT_EQ(s.hidden[0].name, "relu_1");
  EXPECT_EQ(s.hidden[0].layer, 2u);
  EXPECT_EQ(s.hidden[1].name, "tanh_1");
  EXPECT_EQ(s.hidden[1].layer, 4u);
  for (const nn::Snapshot::HiddenLayer& h : s.hidden) {
    EXPECT_EQ(h.units, 16u);
    EXPECT_EQ(h.activations.size(), size_t(points) * 16);
  }
  // relu_1 = relu(x W + b), from the snapshot's own parameters and layout.
  ASSERT_EQ(s.layout[0].name, "dense_1.weight");
  ASSERT_EQ(s.layout[1].name, "dense_1.bias");
  const float* w = s.parameters.data() + s.layout[0].offset;  // (2, 16)
  const float* b = s.parameters.data() + s.layout[1].offset;  // (16)
  for (uint32_t p = 0; p < points; ++p)
    for (uint32_t u = 0; u < 16; ++u) {
      float x = grid.features_f32[2 * p], y = grid.features_f32[2 * p + 1];
      float expected = std::max(0.0f, x * w[u] + y * w[16 + u] + b[u]);
      EXPECT_NEAR(s.hidden[0].activations[size_t(p) * 16 + u], expected, 1e-5) << "point " << p << " unit " << u;
    }
  size_t total = 0;
  for (const nn::ParameterTensor& t : s.layout) total += t.count;
  EXPECT_EQ(total, s.parameters.size());
}

TEST_F(VulkanTest, SessionSnapshotOfANonTwoDimensionalModelCarriesOnlyParameters) {
  auto rng = testing::MakeRng();
  data::Dataset dataset;
  dataset.name = "random";
  dataset.sample_shape = {3};
  dataset.num_classes = 2;
  dataset.features_f32 = testing::RandomFloats(rng, 64 * 3);
  for (uint32_t i = 0; i < 64; ++i) dataset.labels.push_back(i % 2);
  nn::SessionSetup setup;
  setup.model = Model(R"({"type": "input", "shape": [3]}, {"type": "dense", "units": 4}, {"type": "relu"},
    {"type": "dense", "units": 2}, {"type": "softmax"})");
  setup.config.batch_size = 8;
  setup.train = std::make_shared<const data::Dataset>(std::move(dataset));
  nn::TrainingSession session(context(), pipelines());
  EventLog log(session);
  session.Load(setup);
  auto event = log.WaitForKind(Kind::kSnapshot);
  ASSERT_TRUE(event);
  EXPECT_EQ(event->snapshot->parameters.size(), 3u * 4 + 4 + 4 * 2 + 2);
  EXPECT_EQ(event->snapshot->boundary_resolution, 0u);
  EXPECT_TRUE(event->snapshot->boundary.empty());
  EXPECT_TRUE(event->snapshot->hidden.empty());
  session.Start();
  ASSERT_TRUE(log.WaitForState(State::kFinished));
  EXPECT_TRUE(log.Errors().empty());
}

// The design note's budget: a 64 x 64 boundary of the spiral preset costs a
// few ms, a small share of the 250 ms between snapshots.
TEST_F(VulkanTest, SessionSnapshotCostAtTheDefaultResolution) {
  nn::ModelDesc model = nn::LoadModelOrPreset("spiral-mlp");
  nn::SessionSetup setup;
  setup.model = model;
  setup.config = nn::ParseTrainConfig(model.training, "spiral-mlp");
  setup.config.epochs = 1000;
  data::DataSplit split = data::LoadDataSpec(setup.config.data);
  setup.train = std::make_shared<const data::Dataset>(std::move(split.train));
  ASSERT_EQ(setup.boundary_resolution, 64u);
  nn::TrainingSession session(context(), pipelines());
  EventLog log(session);
  session.Load(setup);
  for (int i = 0; i < 10; ++i) session.Step();
  ASSERT_TRUE(log.WaitFor([](const nn::SessionEvent& e) { return e.kind == Kind::kSnapshot && e.snapshot->global_step == 10; }));
  std::vector<double> costs;
  for (const nn::SessionEvent& e : log.events())
    if (e.kind == Kind::kSnapshot) costs.push_back(e.snapshot->seconds * 1e3);
  std::sort(costs.begin(), costs.end());
  ASSERT_GE(costs.size(), 10u);
  const nn::Snapshot& last = *std::find_if(log.events().rbegin(), log.events().rend(), [](const nn::SessionEvent& e) {
                               return e.kind == Kind::kSnapshot;
                             })->snapshot;
  EXPECT_EQ(last.boundary.size(), 64u * 64 * 3);
  EXPECT_EQ(last.hidden.size(), 2u);

  // Training throughput for comparison.
  size_t mark = log.events().size();
  auto start = Clock::now();
  session.Start();
  log.Drain(2.0);
  session.Pause();
  ASSERT_TRUE(log.WaitForState(State::kPaused));
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  size_t steps = log.Steps(mark).size();
  double training_snapshot_ms = 0;
  size_t training_snapshots = 0;
  for (size_t i = mark; i < log.events().size(); ++i)
    if (log.events()[i].kind == Kind::kSnapshot) training_snapshot_ms += log.events()[i].snapshot->seconds * 1e3, ++training_snapshots;
  std::printf("64x64 snapshot of spiral-mlp: median %.2f ms, max %.2f ms; while training: %zu snapshots took %.0f ms of "
              "%.0f ms (%.1f%%), %zu steps (%.0f steps/s)\n",
              costs[costs.size() / 2], costs.back(), training_snapshots, training_snapshot_ms, seconds * 1e3,
              100 * training_snapshot_ms / (seconds * 1e3), steps, steps / seconds);
  RecordProperty("snapshot_ms_median", std::to_string(costs[costs.size() / 2]));
  EXPECT_LT(costs[costs.size() / 2], 100.0);
  EXPECT_LT(training_snapshot_ms, 0.25 * seconds * 1e3);
}

TEST_F(VulkanTest, SessionDestroyedWhileRunningReturnsPromptly) {
  auto session = std::make_unique<nn::TrainingSession>(context(), pipelines());
  EventLog log(*session);
  session->Load(SpiralSetup(1000));
  session->Start();
  ASSERT_TRUE(log.WaitForStep(10));
  auto start = Clock::now();
  session.reset();
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("destroying a running session took %.1f ms\n", seconds * 1e3);
  EXPECT_LT(seconds, 2.0);
}

// ---- The inside views -------------------------------------------------------------------------

// A small CNN on 12x12 shapes: conv2d_1 (4x10x10), relu_1, max_pool2d_1 (4x5x5),
// conv2d_2 (6x3x3), relu_2, flatten, dense_1 (8), relu_3, dense_2 (3), softmax.
// 192 training images (12 batches of 16), 40 test images.
nn::SessionSetup ShapesSetup(uint32_t epochs) {
  data::DataSplit split = data::LoadDataSpec("shapes:samples=192,classes=3,size=12,test_samples=40");
  nn::SessionSetup setup;
  setup.model = Model(R"({"type": "input", "shape": [1, 12, 12]}, {"type": "conv2d", "filters": 4, "kernel": 3},
    {"type": "relu"}, {"type": "max_pool2d", "size": 2}, {"type": "conv2d", "filters": 6, "kernel": 3},
    {"type": "relu"}, {"type": "flatten"}, {"type": "dense", "units": 8}, {"type": "relu"},
    {"type": "dense", "units": 3}, {"type": "softmax"})");
  setup.config.optimizer = kernels::OptimizerKind::kAdam;
  setup.config.learning_rate = 0.01;
  setup.config.batch_size = 16;
  setup.config.epochs = epochs;
  setup.config.steps_per_submit = 4;
  setup.train = std::make_shared<const data::Dataset>(std::move(split.train));
  setup.test = std::make_shared<const data::Dataset>(std::move(split.test));
  return setup;
}

// A trainer that only evaluates, with `parameters`, at `batch` samples.
std::unique_ptr<nn::Trainer> Reference(vk::Context& context, vk::PipelineCache& pipelines, const nn::SessionSetup& setup,
                                       uint32_t batch, const std::vector<float>& parameters) {
  nn::TrainConfig config = setup.config;
  config.batch_size = batch;
  auto trainer = std::make_unique<nn::Trainer>(context, pipelines, setup.model, config, nullptr, nullptr);
  trainer->plan().WriteParameters(parameters);
  return trainer;
}

std::shared_ptr<const nn::Snapshot> WaitForInside(EventLog& log, uint64_t step, uint64_t sample) {
  auto event = log.WaitFor([&](const nn::SessionEvent& e) {
    return e.kind == Kind::kSnapshot && e.snapshot->inside && e.snapshot->inside->global_step == step &&
           e.snapshot->inside->sample == sample;
  });
  return event ? event->snapshot : nullptr;
}

TEST(SessionHistogram, CountsNonZeroValuesInEqualBinsAndZerosApart) {
  const std::vector<float> values = {0, 0, 1, 2, 3, 4, NAN, -1};
  nn::Histogram h = nn::MakeHistogram(values, 5);
  EXPECT_EQ(h.total, 8u);
  EXPECT_EQ(h.zeros, 2u);
  EXPECT_EQ(h.min, -1.0f);
  EXPECT_EQ(h.max, 4.0f);
  EXPECT_EQ(h.counts, (std::vector<uint32_t>{1, 0, 1, 1, 2}));  // bins of width 1 from -1; 4 joins the last
  EXPECT_NEAR(h.mean, 9.0 / 7.0, 1e-12);                         // over the 7 finite values
  nn::Histogram zeros = nn::MakeHistogram(std::vector<float>(10, 0.0f), 5);
  EXPECT_TRUE(zeros.counts.empty());
  EXPECT_EQ(zeros.zeros, 10u);
  EXPECT_EQ(nn::MakeHistogram(std::vector<float>{}, 5).total, 0u);
  nn::Histogram one = nn::MakeHistogram(std::vector<float>{2.5f, 2.5f}, 3);  // a zero-width range: one bin takes all
  EXPECT_EQ(one.counts, (std::vector<uint32_t>{2, 0, 0}));
}

// The feature maps and prediction of the chosen sample are exactly a forward
// pass of that sample alone; the histograms count every value of the probe
// batch; the dead units and weight gradients match a reference run.
TEST_F(VulkanTest, SessionInsideViewsMatchForwardPassesOfTheSampleAndTheProbeBatch) {
  nn::SessionSetup setup = ShapesSetup(1000);
  const data::Dataset& test = *setup.test;
  nn::TrainingSession session(context(), pipelines());
  EventLog log(session);
  session.SetInsideViews({true, true, 7});
  session.Load(setup);
  session.Step();
  session.Step();
  auto snapshot = WaitForInside(log, 2, 7);
  ASSERT_TRUE(snapshot);
  const nn::InsideSnapshot& inside = *snapshot->inside;
  std::printf("inside views of a small CNN: %.1f ms\n", inside.seconds * 1e3);
  EXPECT_EQ(inside.probe_set_samples, test.count());
  EXPECT_EQ(inside.sample_label, test.labels[7]);

  // The sample alone, through a batch-1 reference with the snapshot's parameters.
  auto single = Reference(context(), pipelines(), setup, 1, snapshot->parameters);
  const uint32_t index = 7;
  std::vector<float> expected = single->Predict(data::Subset(test, std::span<const uint32_t>(&index, 1)));
  ASSERT_EQ(inside.sample_outputs.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_NEAR(inside.sample_outputs[i], expected[i], 1e-6);
  struct Expected { const char* name; size_t layer; uint32_t c, h, w; };
  const std::vector<Expected> maps = {{"conv2d_1", 1, 4, 10, 10}, {"relu_1", 2, 4, 10, 10},
                                      {"max_pool2d_1", 3, 4, 5, 5},  {"conv2d_2", 4, 6, 3, 3},
                                      {"relu_2", 5, 6, 3, 3}};
  ASSERT_EQ(inside.feature_maps.size(), maps.size());
  for (size_t m = 0; m < maps.size(); ++m) {
    const nn::InsideSnapshot::FeatureMap& map = inside.feature_maps[m];
    EXPECT_EQ(map.name, maps[m].name);
    EXPECT_EQ(map.layer, maps[m].layer);
    EXPECT_EQ(std::vector<uint32_t>({map.channels, map.height, map.width}),
              std::vector<uint32_t>({maps[m].c, maps[m].h, maps[m].w}));
    std::vector<float> reference = single->plan().ReadLayerOutput(map.layer);
    ASSERT_EQ(map.values.size(), size_t(maps[m].c) * maps[m].h * maps[m].w);
    ASSERT_EQ(map.values.size(), reference.size());
    for (size_t j = 0; j < reference.size(); ++j) EXPECT_NEAR(map.values[j], reference[j], 1e-5) << map.name << " " << j;
  }
  for (size_t j = 0; j < inside.feature_maps[0].values.size(); ++j)  // relu_1 = max(0, conv2d_1)
    EXPECT_EQ(inside.feature_maps[1].values[j], std::max(0.0f, inside.feature_maps[0].values[j]));

  // The probe batch: the first 32 test images; every value counted once.
  ASSERT_EQ(inside.probe_batch, 32u);
  std::vector<uint32_t> first(32);
  std::iota(first.begin(), first.end(), 0u);
  auto batch = Reference(context(), pipelines(), setup, 32, snapshot->parameters);
  batch->Predict(data::Subset(test, first));
  const std::vector<std::string> names = {"conv2d_1", "relu_1", "max_pool2d_1", "conv2d_2",
                                          "relu_2",   "dense_1", "relu_3",      "dense_2"};
  ASSERT_EQ(inside.layers.size(), names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    const auto& layer = inside.layers[i];
    EXPECT_EQ(layer.name, names[i]);
    const uint64_t values = 32 * nn::ShapeElements(layer.shape);
    const nn::Histogram& a = layer.activations;
    EXPECT_EQ(a.total, values) << layer.name;
    EXPECT_EQ(a.zeros + std::accumulate(a.counts.begin(), a.counts.end(), uint64_t{0}), values) << layer.name;
    std::vector<float> outputs = batch->plan().ReadLayerOutput(layer.layer);
    nn::Histogram reference = nn::MakeHistogram(outputs, static_cast<uint32_t>(a.counts.size()));
    EXPECT_EQ(a.counts, reference.counts) << layer.name;
    EXPECT_EQ(layer.relu, layer.type == "relu");
    if (layer.relu) {
      // Dead: zero for all 32 samples; per channel for image outputs, per neuron for vectors.
      const uint64_t features = nn::ShapeElements(layer.shape);
      const uint32_t units = layer.shape.size() == 3 ? layer.shape[0] : static_cast<uint32_t>(features);
      EXPECT_EQ(layer.units, units);
      uint32_t dead = 0;
      for (uint32_t u = 0; u < units; ++u) {
        bool alive = false;
        for (size_t j = u; j < outputs.size(); j += units) alive |= outputs[j] != 0.0f;
        dead += !alive;
      }
      EXPECT_EQ(layer.dead_units, dead) << layer.name;
    }
    const bool weighted = layer.type == "conv2d" || layer.type == "dense";
    EXPECT_EQ(layer.gradient_of, weighted ? layer.name + ".weight" : "");
  }

  // Weight gradients: those of the second training step, as a Trainer doing the same two steps has them.
  nn::Trainer twin(context(), pipelines(), setup.model, setup.config, setup.train.get(), nullptr);
  twin.RunSteps(1, [](const nn::StepReport&) {});
  twin.RunSteps(1, [](const nn::StepReport&) {});
  ASSERT_EQ(twin.plan().ReadParameters(), snapshot->parameters);
  const std::vector<float> gradients = twin.plan().ReadGradients();
  uint64_t offset = 0;
  size_t checked = 0;
  for (const nn::ParameterTensor& tensor : twin.plan().parameters()) {
    for (const auto& layer : inside.layers)
      if (layer.gradient_of == tensor.name) {
        nn::Histogram reference = nn::MakeHistogram(
            std::span<const float>(gradients).subspan(offset, tensor.count), 40);
        EXPECT_EQ(layer.weight_gradients.counts, reference.counts) << tensor.name;
        EXPECT_EQ(layer.weight_gradients.total, tensor.count);
        EXPECT_EQ(layer.weight_gradients.min, reference.min);
        ++checked;
      }
    offset += tensor.count;
  }
  EXPECT_EQ(checked, 4u);

  // Another sample while paused: a snapshot for it arrives without training.
  session.SetInsideViews({true, true, 3});
  auto other = WaitForInside(log, 2, 3);
  ASSERT_TRUE(other);
  EXPECT_EQ(other->inside->sample_label, test.labels[3]);
  // A sample past the end is clamped to the last one.
  session.SetInsideViews({true, true, 1000});
  ASSERT_TRUE(WaitForInside(log, 2, test.count() - 1));
  // Each view asks only for the pass it shows.
  session.SetInsideViews({true, false, 2});
  auto sample_only = WaitForInside(log, 2, 2);
  ASSERT_TRUE(sample_only);
  EXPECT_EQ(sample_only->inside->feature_maps.size(), maps.size());
  EXPECT_TRUE(sample_only->inside->layers.empty());
  session.SetInsideViews({false, true, 2});
  auto statistics_only = log.WaitFor([](const nn::SessionEvent& e) {
    return e.kind == Kind::kSnapshot && e.snapshot->inside && !e.snapshot->inside->layers.empty();
  });
  ASSERT_TRUE(statistics_only);
  EXPECT_TRUE(statistics_only->snapshot->inside->feature_maps.empty());
  EXPECT_TRUE(statistics_only->snapshot->inside->sample_outputs.empty());
  // Off: no more probe passes.
  session.SetInsideViews({false, false, 3});
  session.Step();
  auto off = log.WaitFor([](const nn::SessionEvent& e) { return e.kind == Kind::kSnapshot && e.snapshot->global_step == 3; });
  ASSERT_TRUE(off);
  EXPECT_FALSE(off->snapshot->inside);
  EXPECT_TRUE(log.Errors().empty());
}

// A drawing sent to the session gets the answer Trainer::Predict gives for the same input.
TEST_F(VulkanTest, SessionPredictInputMatchesPredictOnTheSameInput) {
  nn::SessionSetup setup = ShapesSetup(1000);
  nn::TrainingSession session(context(), pipelines());
  EventLog log(session);
  session.PredictInput(nullptr, 1);  // nothing loaded: an answer that says so, not a notice
  auto early = log.WaitForKind(Kind::kPrediction);
  ASSERT_TRUE(early);
  EXPECT_CONTAINS(early->prediction->error, "Load");
  session.Load(setup);
  for (int i = 0; i < 3; ++i) session.Step();
  auto stepped = log.WaitFor([](const nn::SessionEvent& e) { return e.kind == Kind::kSnapshot && e.snapshot->global_step == 3; });
  ASSERT_TRUE(stepped);

  // Two drawings, as the canvas makes them: bytes, normalised with the data's scale and offset.
  auto rng = testing::MakeRng();
  auto input = std::make_shared<data::Dataset>();
  input->name = "drawing";
  input->sample_shape = {1, 12, 12};
  input->num_classes = 3;
  input->format = data::FeatureFormat::kUint8;
  input->scale = setup.test->scale;
  input->offset = setup.test->offset;
  for (float v : testing::RandomFloats(rng, 2 * 144, 0.0f, 255.0f)) input->features_u8.push_back(static_cast<uint8_t>(v));
  input->labels = {0, 0};
  session.PredictInput(input, 42);
  auto answer = log.WaitForKind(Kind::kPrediction);
  ASSERT_TRUE(answer);
  const nn::InputPrediction& prediction = *answer->prediction;
  EXPECT_EQ(prediction.request, 42u);
  EXPECT_EQ(prediction.global_step, 3u);
  EXPECT_TRUE(prediction.error.empty()) << prediction.error;
  auto reference = Reference(context(), pipelines(), setup, 5, stepped->snapshot->parameters);  // another batch size: same answer
  std::vector<float> expected = reference->Predict(*input);
  ASSERT_EQ(prediction.outputs.size(), expected.size());
  ASSERT_EQ(expected.size(), 6u);
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_NEAR(prediction.outputs[i], expected[i], 1e-5) << i;

  // An input of the wrong shape: the answer carries the reason; the session is undisturbed.
  auto wrong = std::make_shared<data::Dataset>(*input);
  wrong->sample_shape = {1, 12, 11};
  wrong->features_u8.resize(2 * 132);
  session.PredictInput(wrong, 43);
  auto refused = log.WaitForKind(Kind::kPrediction);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->prediction->request, 43u);
  EXPECT_CONTAINS(refused->prediction->error, "takes inputs of shape 1x12x12");
  EXPECT_TRUE(refused->prediction->outputs.empty());

  // While training, a burst of requests: answers come in order and the newest is always answered.
  session.Start();
  for (uint64_t request = 100; request < 110; ++request) session.PredictInput(input, request);
  auto last = log.WaitFor([](const nn::SessionEvent& e) { return e.kind == Kind::kPrediction && e.prediction->request == 109; });
  ASSERT_TRUE(last);
  uint64_t previous = 0;
  for (const nn::SessionEvent& e : log.events())
    if (e.kind == Kind::kPrediction && e.prediction->request >= 100) {
      EXPECT_GT(e.prediction->request, previous);
      previous = e.prediction->request;
    }
  EXPECT_TRUE(log.Errors().empty());
}

// After each epoch: the test images answered wrong most confidently, as Predict on
// the same parameters ranks them.
TEST_F(VulkanTest, SessionEpochListsTheMostConfidentMistakes) {
  nn::SessionSetup setup = ShapesSetup(1);
  setup.config.learning_rate = 0.003;  // one epoch leaves mistakes to list
  nn::TrainingSession session(context(), pipelines());
  EventLog log(session);
  session.Load(setup);
  session.Start();
  auto epoch = log.WaitForKind(Kind::kEpoch);
  ASSERT_TRUE(epoch);
  ASSERT_TRUE(log.WaitForState(State::kFinished));
  auto final_snapshot = log.WaitForKind(Kind::kSnapshot);
  ASSERT_TRUE(final_snapshot);
  ASSERT_TRUE(epoch->test);
  const nn::EvalResult& result = *epoch->test;
  uint64_t wrong = result.samples;
  for (uint32_t c = 0; c < result.classes; ++c) wrong -= result.confusion[size_t(c) * result.classes + c];
  const std::vector<nn::SamplePrediction>& mistakes = epoch->test_mistakes;
  std::printf("test accuracy after one epoch %.3f: %llu wrong, %zu listed\n", result.accuracy,
              static_cast<unsigned long long>(wrong), mistakes.size());
  ASSERT_GT(wrong, 0u);
  EXPECT_EQ(mistakes.size(), std::min<uint64_t>(wrong, nn::SessionEvent::kMistakesShown));

  auto reference = Reference(context(), pipelines(), setup, 16, final_snapshot->snapshot->parameters);
  std::vector<float> outputs = reference->Predict(*setup.test);
  std::vector<nn::SamplePrediction> expected;
  for (uint64_t i = 0; i < setup.test->count(); ++i) {
    const float* p = outputs.data() + i * 3;
    uint32_t predicted = static_cast<uint32_t>(std::max_element(p, p + 3) - p);
    if (predicted != setup.test->labels[i]) expected.push_back({i, setup.test->labels[i], predicted, p[predicted]});
  }
  std::sort(expected.begin(), expected.end(), [](const auto& a, const auto& b) { return a.confidence > b.confidence; });
  for (size_t i = 0; i < mistakes.size(); ++i) {
    EXPECT_NE(mistakes[i].predicted, mistakes[i].label);
    if (i > 0) {
      EXPECT_GE(mistakes[i - 1].confidence, mistakes[i].confidence);
    }
    EXPECT_EQ(mistakes[i].index, expected[i].index) << i;
    EXPECT_EQ(mistakes[i].predicted, expected[i].predicted) << i;
    EXPECT_NEAR(mistakes[i].confidence, expected[i].confidence, 1e-5) << i;
  }
}

// What the inside views cost on the shapes-cnn preset while it trains: the
// probe passes run about once a second, so they should stay a small share of it.
TEST_F(VulkanTest, SessionInsideViewsCostOfShapesCnn) {
  nn::SessionSetup setup;
  setup.model = nn::LoadModelOrPreset("shapes-cnn");
  setup.config = nn::ParseTrainConfig(setup.model.training, "shapes-cnn");
  setup.config.batch_size = 32;
  setup.config.epochs = 1000;
  data::DataSplit split = data::LoadDataSpec("shapes:samples=512,test_samples=128");
  setup.train = std::make_shared<const data::Dataset>(std::move(split.train));
  setup.test = std::make_shared<const data::Dataset>(std::move(split.test));
  nn::TrainingSession session(context(), pipelines());
  EventLog log(session);
  session.Load(setup);
  session.Step();
  ASSERT_TRUE(log.WaitFor([](const nn::SessionEvent& e) { return e.kind == Kind::kSnapshot && e.snapshot->global_step == 1; }));
  // Each pass on its own, then both; the first request builds the probes.
  session.SetInsideViews({true, true, 0});
  ASSERT_TRUE(WaitForInside(log, 1, 0));
  auto median_ms = [&](bool sample_pass, bool batch_statistics) {
    std::vector<double> costs;
    for (uint64_t sample = 1; sample <= 5; ++sample) {
      session.SetInsideViews({sample_pass, batch_statistics, sample});
      auto snapshot = WaitForInside(log, 1, sample);
      if (!snapshot) return -1.0;
      costs.push_back(snapshot->inside->seconds * 1e3);
    }
    std::sort(costs.begin(), costs.end());
    return costs[costs.size() / 2];
  };
  const double sample_ms = median_ms(true, false), batch_ms = median_ms(false, true), both_ms = median_ms(true, true);
  std::printf("inside views of shapes-cnn, median: the sample alone %.1f ms, the probe batch of 32 %.1f ms, both %.1f ms\n",
              sample_ms, batch_ms, both_ms);
  RecordProperty("inside_sample_ms", std::to_string(sample_ms));
  RecordProperty("inside_batch_ms", std::to_string(batch_ms));
  ASSERT_GT(both_ms, 0.0);
  EXPECT_LT(both_ms, 1000.0);
}

// The canvas's preprocessing: MNIST's 20 x 20 box and centre of mass.
TEST(CanvasPreprocessing, FitsTheInkInATwentyPixelBoxCentredByMass) {
  ui::DrawingCanvas canvas;
  EXPECT_TRUE(canvas.empty());
  EXPECT_EQ(ui::CanvasToImage(canvas, 28, 28, true), std::vector<uint8_t>(784, 0));
  // A tall stroke in the top-left corner of the canvas.
  canvas.PaintSegment(ImVec2(15, 10), ImVec2(15, 60));
  EXPECT_FALSE(canvas.empty());
  std::vector<uint8_t> image = ui::CanvasToImage(canvas, 28, 28, true);
  int top = 28, bottom = -1, left = 28, right = -1;
  double mass = 0, mass_x = 0, mass_y = 0;
  for (int y = 0; y < 28; ++y)
    for (int x = 0; x < 28; ++x)
      if (uint8_t v = image[y * 28 + x]; v > 0) {
        top = std::min(top, y), bottom = std::max(bottom, y), left = std::min(left, x), right = std::max(right, x);
        mass += v, mass_x += v * (x + 0.5), mass_y += v * (y + 0.5);
      }
  EXPECT_EQ(bottom - top + 1, 20);  // the longer side fills the box
  EXPECT_LT(right - left + 1, 8);   // the aspect is kept
  EXPECT_NEAR(mass_x / mass, 14.0, 0.75);
  EXPECT_NEAR(mass_y / mass, 14.0, 0.75);
  EXPECT_EQ(*std::max_element(image.begin(), image.end()), 255);
  // Without centring, the stroke stays where it was drawn (left quarter, upper half).
  std::vector<uint8_t> plain = ui::CanvasToImage(canvas, 28, 28, false);
  for (int y = 0; y < 28; ++y)
    for (int x = 0; x < 28; ++x)
      if (plain[y * 28 + x] > 0) {
        EXPECT_TRUE(x < 7 && y < 19) << x << "," << y;
      }
  canvas.Clear();
  EXPECT_TRUE(canvas.empty());
}

}  // namespace
}  // namespace ts
