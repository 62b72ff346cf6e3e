// Parallelism. Data: the ring all-reduce against a double-precision sum, and
// N replicas (logical devices, each with the validation layer on) training
// what one device trains at the same global batch: the same losses and, after
// 20 steps, the same parameters up to the order of the floating-point sums.
// Tensor: a dense layer split by output columns gives the unsplit layer's output.
// Pipeline: K stages and M micro-batches, GPipe and 1F1B, train what the unsplit
// model trains (losses and parameters), each stage in its schedule's order.
#include <gtest/gtest.h>

#include <cmath>
#include <mutex>
#include <random>

#include <nlohmann/json.hpp>

#include "compute/common/error.h"
#include "compute/nn/trainer.h"
#include "compute/parallel/all_reduce.h"
#include "compute/parallel/data_parallel.h"
#include "compute/parallel/pipeline.h"
#include "compute/parallel/scaling.h"
#include "compute/parallel/tensor_parallel.h"
#include "support/cli.h"
#include "support/test_data.h"
#include "support/vulkan_test.h"

namespace ts {
namespace {

using testing::VulkanTest;

TEST(RingAllReduceTest, EveryReplicaEndsWithTheScaledSumBitForBit) {
  std::mt19937 random(11);
  std::uniform_real_distribution<float> value(-3, 3);
  for (uint32_t replicas : {1u, 2u, 3u, 4u, 7u}) {
    for (uint64_t count : {1ull, 3ull, 5ull, 64ull, 1001ull}) {
      std::vector<std::vector<float>> buffers(replicas, std::vector<float>(count + 2));
      for (auto& b : buffers)
        for (float& v : b) v = value(random);
      std::vector<double> expected(count, 0.0);
      for (auto& b : buffers)
        for (uint64_t i = 0; i < count; ++i) expected[i] += b[i];
      std::vector<float> guard_before(buffers[0].end() - 2, buffers[0].end());
      std::vector<float*> views;
      for (auto& b : buffers) views.push_back(b.data());
      const float scale = 1.0f / float(replicas);
      parallel::AllReduceTraffic traffic = parallel::RingAllReduce(views, count, scale);
      for (uint32_t r = 0; r < replicas; ++r) {
        for (uint64_t i = 0; i < count; ++i) {
          ASSERT_NEAR(buffers[r][i], expected[i] * scale, 1e-5 * (1 + std::abs(expected[i])))
              << replicas << " replicas, " << count << " values, replica " << r << " element " << i;
          ASSERT_EQ(buffers[r][i], buffers[0][i]) << "replicas must agree bit for bit";
        }
      }
      EXPECT_EQ(std::vector<float>(buffers[0].end() - 2, buffers[0].end()), guard_before) << "wrote past count";
      EXPECT_EQ(traffic.rounds, 2 * (replicas - 1));
      // Replica 0 sends every chunk but its own once in each phase: 2 (N - 1) / N of the buffer, give or take a chunk's rounding.
      const double ideal = 2.0 * (replicas - 1) / replicas * count * 4;
      EXPECT_NEAR(double(traffic.bytes_sent_per_replica), ideal, 2.0 * 4 * (replicas - 1) + 8);
    }
  }
}

nn::ModelDesc ParallelModel() {
  return nn::ParseModel(R"({"name": "dp", "layers": [{"type": "input", "shape": [7]},
    {"type": "dense", "units": 40}, {"type": "relu"}, {"type": "dense", "units": 33}, {"type": "tanh"},
    {"type": "dense", "units": 5}, {"type": "softmax"}]})", "data-parallel model");
}

nn::TrainConfig ParallelConfig(uint32_t batch) {
  nn::TrainConfig c;
  c.optimizer = kernels::OptimizerKind::kAdam;
  c.learning_rate = 0.01;
  c.batch_size = batch;
  c.epochs = 3;
  c.validation_fraction = 0;
  c.autotune = false;  // the same kernels on every device
  c.seed = 5;
  return c;
}

// Contexts with the validation layer on, their messages collected.
struct ValidatedContexts {
  std::mutex mutex;
  std::vector<std::string> messages;
  parallel::ReplicaContexts replicas;
  explicit ValidatedContexts(uint32_t n) {
    vk::ContextOptions options;
    options.validation = true;
    options.on_validation_message = [this](const std::string& m) {
      std::lock_guard<std::mutex> lock(mutex);
      messages.push_back(m);
    };
    replicas = parallel::CreateReplicaContexts(n, options);
  }
  void ExpectNoMessages() {
    std::lock_guard<std::mutex> lock(mutex);
    for (const std::string& m : messages) ADD_FAILURE() << "validation: " << m;
  }
};

struct TrainingRun {
  std::vector<float> losses, accuracies, parameters;
};

TrainingRun TrainOneDevice(vk::Context& context, vk::PipelineCache& pipelines, const data::Dataset& data,
                   const nn::TrainConfig& config, uint32_t steps) {
  nn::Trainer trainer(context, pipelines, ParallelModel(), config, &data, nullptr);
  TrainingRun run;
  trainer.RunSteps(steps, [&](const nn::StepReport& r) {
    run.losses.push_back(r.loss);
    run.accuracies.push_back(r.accuracy);
  });
  run.parameters = trainer.plan().ReadParameters();
  return run;
}

void ExpectSameTraining(const TrainingRun& one, const TrainingRun& many, const std::string& what) {
  ASSERT_EQ(one.losses.size(), many.losses.size()) << what;
  for (size_t i = 0; i < one.losses.size(); ++i) {
    EXPECT_NEAR(many.losses[i], one.losses[i], 1e-4 * (1 + std::abs(one.losses[i]))) << what << ", step " << i;
    EXPECT_NEAR(many.accuracies[i], one.accuracies[i], 1e-6) << what << ", step " << i;
  }
  ASSERT_EQ(one.parameters.size(), many.parameters.size());
  double worst = 0;
  for (size_t i = 0; i < one.parameters.size(); ++i)
    worst = std::max(worst, std::abs(double(many.parameters[i]) - one.parameters[i]) / (1e-2 + std::abs(one.parameters[i])));
  // Adam divides by sqrt(v): a gradient summed in another order moves a weight by
  // a few ulps of its step, and that compounds over 20 steps.
  EXPECT_LT(worst, 1e-3) << what << ": parameters after " << one.losses.size() << " steps";
}

TEST_F(VulkanTest, DataParallelTrainsWhatOneDeviceTrainsAtTheSameGlobalBatch) {
  const data::Dataset data = testing::RandomDataset(600, 7, 5, 21);
  for (uint32_t replicas : {2u, 3u}) {
    const nn::TrainConfig config = ParallelConfig(replicas == 2 ? 32 : 48);
    const TrainingRun one = TrainOneDevice(context(), pipelines(), data, config, 20);
    ValidatedContexts contexts(replicas);
    parallel::DataParallelOptions options;
    options.bucket_bytes = 512;  // several buckets, so the backward pass is cut and overlapped
    parallel::DataParallelTrainer trainer(contexts.replicas.pointers(), ParallelModel(), config, &data, nullptr, options);
    EXPECT_EQ(trainer.simulated(), contexts.replicas.simulated);
    ASSERT_GE(trainer.buckets().size(), 3u);
    TrainingRun many;
    std::vector<parallel::ParallelStepTimeline> timelines;
    trainer.RunSteps(20, [&](const nn::StepReport& r) {
      many.losses.push_back(r.loss);
      many.accuracies.push_back(r.accuracy);
      timelines.push_back(trainer.last_timeline());
    });
    many.parameters = trainer.primary().plan().ReadParameters();
    ExpectSameTraining(one, many, std::to_string(replicas) + " replicas");

    // The timeline: per replica a forward, backward segments and an update, in
    // order and inside the step; one all-reduce per bucket and replica.
    const parallel::ParallelStepTimeline& t = timelines.back();
    EXPECT_EQ(t.global_step, 19u);
    size_t all_reduces = 0;
    for (uint32_t r = 0; r < replicas; ++r) {
      double previous_end = 0;
      std::vector<parallel::PhaseKind> kinds;
      for (const parallel::PhaseEvent& e : t.events) {
        if (e.replica != r) continue;
        EXPECT_LE(e.start_ns, e.end_ns);
        EXPECT_GE(e.start_ns, t.start_ns - 1e6);  // calibration is good to well under a millisecond
        EXPECT_LE(e.end_ns, t.end_ns + 1e6);
        if (e.kind == parallel::PhaseKind::kAllReduce) {
          ++all_reduces;
          continue;
        }
        EXPECT_GE(e.start_ns, previous_end - 1e5) << "device phases overlap on replica " << r;
        previous_end = e.end_ns;
        kinds.push_back(e.kind);
      }
      ASSERT_GE(kinds.size(), 3u);
      EXPECT_EQ(kinds.front(), parallel::PhaseKind::kForward);
      EXPECT_EQ(kinds.back(), parallel::PhaseKind::kUpdate);
    }
    EXPECT_EQ(all_reduces, trainer.buckets().size() * replicas);
    const double ideal = 2.0 * (replicas - 1) / replicas * trainer.gradient_bytes();
    EXPECT_NEAR(double(t.bytes_sent_per_replica), ideal, 0.01 * ideal);
    contexts.ExpectNoMessages();
  }
}

TEST_F(VulkanTest, DataParallelRefusesABatchThatDoesNotSplitAndRestoresFromPrimary) {
  const data::Dataset data = testing::RandomDataset(100, 7, 5, 3);
  ValidatedContexts contexts(2);
  nn::TrainConfig config = ParallelConfig(33);
  try {
    parallel::DataParallelTrainer trainer(contexts.replicas.pointers(), ParallelModel(), config, &data, nullptr);
    FAIL() << "a batch of 33 over 2 replicas was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("does not split evenly over 2 replicas"), std::string::npos) << e.what();
  }
  config.batch_size = 20;
  parallel::DataParallelTrainer trainer(contexts.replicas.pointers(), ParallelModel(), config, &data, nullptr);
  EXPECT_EQ(trainer.steps_per_epoch(), 5u);
  // A checkpoint restored into the primary reaches every replica: after a
  // broadcast of zero weights, a step's loss is that of a model that outputs
  // equal probabilities over 5 classes.
  nn::Plan& plan = trainer.primary().plan();
  plan.WriteParameters(std::vector<float>(plan.parameter_count(), 0.0f));
  trainer.BroadcastFromPrimary();
  float loss = 0;
  trainer.RunSteps(1, [&](const nn::StepReport& r) { loss = r.loss; });
  EXPECT_NEAR(loss, std::log(5.0f), 1e-5);
  EXPECT_EQ(trainer.position().global_step, 1u);
  contexts.ExpectNoMessages();
}

TEST_F(VulkanTest, TensorParallelDenseLayerGivesTheUnsplitOutput) {
  // Odd sizes: no split, workgroup or tile divides them.
  struct Case {
    uint32_t devices, batch, inputs, outputs;
    kernels::Activation activation;
  };
  for (const Case& c : {Case{2, 37, 53, 71, kernels::Activation::kRelu}, Case{3, 5, 130, 3, kernels::Activation::kTanh},
                        Case{2, 64, 256, 512, kernels::Activation::kGelu}}) {
    ValidatedContexts contexts(c.devices);
    const parallel::TensorParallelResult r = parallel::RunTensorParallelDense(
        contexts.replicas.pointers(), c.batch, c.inputs, c.outputs, c.activation, 40 + c.outputs);
    const std::string what = std::to_string(c.devices) + " devices, " + std::to_string(c.batch) + "x" +
                             std::to_string(c.inputs) + " -> " + std::to_string(c.outputs);
    ASSERT_EQ(r.first_column.size(), c.devices + 1u) << what;
    EXPECT_EQ(r.first_column.front(), 0u);
    EXPECT_EQ(r.first_column.back(), c.outputs);
    EXPECT_LE(r.max_split_difference, 1e-6) << what;  // NaN-poisoned outputs would give infinity
    EXPECT_LT(r.max_reference_error, 1e-5) << what;
    EXPECT_EQ(r.events.size(), 2u * c.devices) << what;
    const uint32_t first_share = r.first_column[1];
    EXPECT_EQ(r.bytes_received_per_device, uint64_t(c.batch) * (c.outputs - first_share) * 4) << what;
    contexts.ExpectNoMessages();
  }
  ValidatedContexts three(3);
  EXPECT_THROW(parallel::RunTensorParallelDense(three.replicas.pointers(), 4, 4, 2, kernels::Activation::kRelu, 1), Error);
}

TEST(PipelineScheduleTest, OneForwardOneBackwardWarmsUpDrainsAndKeepsFewMicroBatchesAlive) {
  using Op = std::pair<bool, uint32_t>;
  const std::vector<Op> stage0 = parallel::StageOrder(parallel::PipelineSchedule::kOneForwardOneBackward, 0, 4, 6);
  const std::vector<Op> expected0 = {{true, 0}, {true, 1}, {true, 2}, {true, 3}, {false, 0}, {true, 4},
                                     {false, 1}, {true, 5}, {false, 2}, {false, 3}, {false, 4}, {false, 5}};
  EXPECT_EQ(stage0, expected0);
  const std::vector<Op> last = parallel::StageOrder(parallel::PipelineSchedule::kOneForwardOneBackward, 3, 4, 6);
  for (uint32_t m = 0; m < 6; ++m) {
    EXPECT_EQ(last[2 * m], Op(true, m));
    EXPECT_EQ(last[2 * m + 1], Op(false, m));
  }
  for (uint32_t stages : {1u, 2u, 5u})
    for (uint32_t micro : {1u, 3u, 8u})
      for (uint32_t s = 0; s < stages; ++s)
        for (auto schedule : {parallel::PipelineSchedule::kGPipe, parallel::PipelineSchedule::kOneForwardOneBackward}) {
          const std::vector<Op> order = parallel::StageOrder(schedule, s, stages, micro);
          ASSERT_EQ(order.size(), 2u * micro);
          // Every micro-batch once each way, its forward before its backward; 1F1B: at most stages - s alive.
          std::vector<int> seen(micro, 0);
          int alive = 0, most_alive = 0;
          for (const Op& op : order) {
            if (op.first) {
              EXPECT_EQ(seen[op.second]++, 0);
              most_alive = std::max(most_alive, ++alive);
            } else {
              EXPECT_EQ(seen[op.second]++, 1);
              --alive;
            }
          }
          if (schedule == parallel::PipelineSchedule::kOneForwardOneBackward) {
            EXPECT_LE(most_alive, int(std::min(stages - s, micro)));
          }
        }
}

nn::ModelDesc PipelineModel() {
  return nn::ParseModel(R"({"name": "pipe", "layers": [{"type": "input", "shape": [7]},
    {"type": "dense", "units": 40}, {"type": "relu"}, {"type": "dense", "units": 33}, {"type": "tanh"},
    {"type": "dense", "units": 17, "bias": false}, {"type": "gelu"},
    {"type": "dense", "units": 5}, {"type": "softmax"}]})", "pipeline model");
}

TEST_F(VulkanTest, PipelineTrainsWhatTheUnsplitModelTrains) {
  const data::Dataset data = testing::RandomDataset(600, 7, 5, 31);
  nn::TrainConfig config = ParallelConfig(48);
  const uint32_t steps = 8;
  nn::Trainer unsplit(context(), pipelines(), PipelineModel(), config, &data, nullptr);
  const std::vector<float> initial = unsplit.plan().ReadParameters();
  std::vector<float> losses;
  unsplit.RunSteps(steps, [&](const nn::StepReport& r) { losses.push_back(r.loss); });
  const std::vector<float> trained = unsplit.plan().ReadParameters();

  struct Case {
    uint32_t stages, micro_batches;
    parallel::PipelineSchedule schedule;
  };
  for (const Case& c : {Case{2, 4, parallel::PipelineSchedule::kGPipe},
                        Case{3, 6, parallel::PipelineSchedule::kOneForwardOneBackward},
                        Case{4, 3, parallel::PipelineSchedule::kOneForwardOneBackward}}) {
    const std::string what = std::to_string(c.stages) + " stages, " + std::to_string(c.micro_batches) +
                             " micro-batches, " + parallel::PipelineScheduleName(c.schedule);
    ValidatedContexts contexts(c.stages);
    parallel::PipelineTrainer pipeline(contexts.replicas.pointers(), PipelineModel(), config, data, c.micro_batches,
                                       c.schedule, initial);
    size_t layers = 0;
    for (const auto& stage : pipeline.stage_layers()) {
      EXPECT_FALSE(stage.empty()) << what;
      layers += stage.size();
    }
    EXPECT_EQ(layers, 4u) << what;
    for (uint32_t i = 0; i < steps; ++i) {
      const parallel::PipelineStep step = pipeline.Step();
      EXPECT_NEAR(step.loss, losses[i], 1e-5 * (1 + std::abs(losses[i]))) << what << ", step " << i;
      ASSERT_EQ(step.events.size(), 2u * c.stages * c.micro_batches) << what;
      EXPECT_DOUBLE_EQ(step.ideal_bubble, double(c.stages - 1) / double(c.micro_batches + c.stages - 1));
      EXPECT_GE(step.measured_bubble, 0.0);
      EXPECT_LT(step.measured_bubble, 1.0);
      // Each stage ran its operations in its schedule's order, one at a time.
      for (uint32_t s = 0; s < c.stages; ++s) {
        std::vector<std::pair<bool, uint32_t>> ran;
        double previous_end = 0;
        for (const parallel::PipelineEvent& e : step.events)
          if (e.stage == s) {
            ran.push_back({e.forward, e.micro_batch});
            EXPECT_GE(e.start_ns, previous_end);
            previous_end = e.end_ns;
          }
        EXPECT_EQ(ran, parallel::StageOrder(c.schedule, s, c.stages, c.micro_batches)) << what << ", stage " << s;
      }
    }
    const std::vector<float> parameters = pipeline.ReadParameters();
    ASSERT_EQ(parameters.size(), trained.size());
    double worst = 0;
    for (size_t i = 0; i < trained.size(); ++i)
      worst = std::max(worst, std::abs(double(parameters[i]) - trained[i]) / (1e-2 + std::abs(trained[i])));
    EXPECT_LT(worst, 1e-3) << what << ": parameters after " << steps << " steps";
    contexts.ExpectNoMessages();
  }
  // What a pipeline cannot run is named.
  ValidatedContexts two(2);
  const nn::ModelDesc dropout = nn::ParseModel(R"({"name": "d", "layers": [{"type": "input", "shape": [7]},
    {"type": "dense", "units": 8}, {"type": "dropout", "rate": 0.5}, {"type": "dense", "units": 5},
    {"type": "softmax"}]})", "dropout model");
  try {
    parallel::PipelineTrainer p(two.replicas.pointers(), dropout, config, data, 4, parallel::PipelineSchedule::kGPipe);
    ADD_FAILURE() << "a dropout layer was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("layers[2]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(parallel::PipelineTrainer(two.replicas.pointers(), PipelineModel(), config, data, 5,
                                         parallel::PipelineSchedule::kGPipe),
               Error);  // 48 rows do not split into 5 micro-batches
}

double FinalTrainLoss(const std::string& output) {
  // "epoch 2/2  train loss 0.1234  acc ..."
  size_t at = output.rfind("train loss ");
  if (at == std::string::npos) return NAN;
  return std::stod(output.substr(at + 11));
}

TEST(DataParallelCliTest, TwoReplicasEndWithTheLossOfOne) {
  const std::string common = "train spiral-mlp --epochs 2 --batch 32 --seed 3 --no-autotune --validate";
  testing::CommandResult one = testing::RunTensorscope(common + " --replicas 1");
  testing::CommandResult two = testing::RunTensorscope(common + " --replicas 2");
  ASSERT_EQ(one.exit_code, 0) << one.output;
  ASSERT_EQ(two.exit_code, 0) << two.output;
  EXPECT_NE(two.output.find("2 devices simulated on one"), std::string::npos) << two.output;
  EXPECT_NE(two.output.find("all-reduce"), std::string::npos) << two.output;
  const double a = FinalTrainLoss(one.output), b = FinalTrainLoss(two.output);
  ASSERT_TRUE(std::isfinite(a) && std::isfinite(b)) << one.output << two.output;
  EXPECT_NEAR(b, a, 1e-3 * a) << "one device: " << a << ", two replicas: " << b;

  testing::CommandResult odd = testing::RunTensorscope("train spiral-mlp --epochs 1 --batch 33 --replicas 2");
  EXPECT_NE(odd.exit_code, 0);
  EXPECT_NE(odd.output.find("does not split evenly over 2 replicas"), std::string::npos) << odd.output;
}

// The JSON the Parallelism window reads from `bench --replicas | --pipeline | --tensor-parallel --json`.
TEST(ParallelBenchCliTest, EachModeAnswersTheJsonTheWindowReads) {
  testing::CommandResult replicas =
      testing::RunTensorscope("bench --replicas 2 --model spiral-mlp --steps 2 --rounds 1 --json 2>/dev/null");
  ASSERT_EQ(replicas.exit_code, 0) << replicas.output;
  const parallel::ScalingResult scaling = parallel::ScalingFromJson(nlohmann::json::parse(replicas.output));
  ASSERT_EQ(scaling.points.size(), 2u);
  EXPECT_EQ(scaling.points[1].replicas, 2u);
  EXPECT_GT(scaling.points[1].samples_per_second, 0);
  EXPECT_GT(scaling.trainer_samples_per_second, 0);
  EXPECT_FALSE(scaling.points[1].example.events.empty());

  testing::CommandResult pipeline = testing::RunTensorscope("bench --pipeline 2 --micro-batches 4 --steps 2 --json");
  ASSERT_EQ(pipeline.exit_code, 0) << pipeline.output;
  const nlohmann::json p = nlohmann::json::parse(pipeline.output);
  ASSERT_EQ(p.at("runs").size(), 2u);
  for (const nlohmann::json& run : p.at("runs")) {
    EXPECT_LT(run.at("max_relative_loss_difference").get<double>(), 1e-5) << run.dump();
    EXPECT_EQ(run.at("events").size(), 2u * 2 * 4);
  }

  testing::CommandResult tensor =
      testing::RunTensorscope("bench --tensor-parallel 2 --batch 5 --inputs 9 --outputs 7 --json");
  ASSERT_EQ(tensor.exit_code, 0) << tensor.output;
  const nlohmann::json t = nlohmann::json::parse(tensor.output);
  EXPECT_EQ(t.at("max_split_difference").get<double>(), 0.0);
  EXPECT_EQ(t.at("first_column"), nlohmann::json({0, 3, 7}));

  testing::CommandResult wrong = testing::RunTensorscope("bench --pipeline 2 --schedule zigzag");
  EXPECT_NE(wrong.exit_code, 0);
  EXPECT_NE(wrong.output.find("expected gpipe, 1f1b or both"), std::string::npos) << wrong.output;
}

}  // namespace
}  // namespace ts
