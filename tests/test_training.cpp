// The Plan and the Trainer end to end on the device: gradients against finite
// differences for every layer and loss, learning, checkpoints and resume,
// divergence, and the memory check.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "compute/data/registry.h"
#include "compute/data/synthetic.h"
#include "compute/nn/checkpoint.h"
#include "compute/nn/presets.h"
#include "compute/nn/trainer.h"
#include "support/test_data.h"
#include "support/vulkan_test.h"

namespace ts {
namespace {

using testing::VulkanTest;

#define EXPECT_CONTAINS(text, part) EXPECT_NE(std::string(text).find(part), std::string::npos) << (text)

nn::ModelDesc Model(const std::string& layers) { return testing::TestModel(layers); }
using testing::RandomDataset;

nn::TrainConfig Config(kernels::OptimizerKind optimizer, double lr, uint32_t batch) {
  nn::TrainConfig c;
  c.optimizer = optimizer;
  c.learning_rate = lr;
  c.batch_size = batch;
  c.epochs = 1000;
  c.shuffle = false;
  c.validation_fraction = 0;
  c.steps_per_submit = 3;
  return c;
}

// Gradient check for one model: the gradient one training step computes
// (read back before the update changes nothing it depends on) against central
// differences of the evaluation loss, over every parameter of small tensors.
void CheckGradients(vk::Context& context, vk::PipelineCache& pipelines, const nn::ModelDesc& model, uint32_t outputs,
                    uint32_t classes, double eps) {
  const uint32_t batch = 6;
  data::Dataset dataset = RandomDataset(batch, 3, classes, outputs * 31 + classes);
  nn::TrainConfig config = Config(kernels::OptimizerKind::kSgd, 1e-30, batch);  // the step leaves parameters as they are
  nn::Trainer trainer(context, pipelines, model, config, &dataset, nullptr);
  std::vector<float> start = trainer.plan().ReadParameters();
  trainer.RunSteps(1, [](const nn::StepReport&) {});
  std::vector<float> analytic = trainer.plan().ReadGradients();
  trainer.plan().WriteParameters(start);
  ASSERT_EQ(analytic.size(), start.size());
  double worst = 0;
  for (size_t i = 0; i < start.size(); ++i) {
    std::vector<float> shifted = start;
    shifted[i] = start[i] + static_cast<float>(eps);
    trainer.plan().WriteParameters(shifted);
    double plus = trainer.Evaluate(dataset).loss;
    shifted[i] = start[i] - static_cast<float>(eps);
    trainer.plan().WriteParameters(shifted);
    double minus = trainer.Evaluate(dataset).loss;
    double numeric = (plus - minus) / (2 * eps);
    // fp32 forward passes: the loss carries ~1e-7 relative noise, which the
    // difference quotient magnifies by 1/(2 eps).
    double tolerance = 2e-2 * std::abs(numeric) + 3e-4;
    worst = std::max(worst, std::abs(analytic[i] - numeric) / tolerance);
    EXPECT_NEAR(analytic[i], numeric, tolerance) << "parameter " << i << " of " << nn::ArchitectureSignature(model);
  }
  trainer.plan().WriteParameters(start);
  ::testing::Test::RecordProperty("worst_error_over_tolerance", std::to_string(worst));
}

TEST_F(VulkanTest, GradientsMatchFiniteDifferencesForEveryActivation) {
  for (const char* activation : {"relu", "leaky_relu", "sigmoid", "tanh", "gelu"}) {
    SCOPED_TRACE(activation);
    std::string a = std::string(R"({"type": ")") + activation + R"("})";
    nn::ModelDesc model = Model(R"({"type": "input", "shape": [3]}, {"type": "dense", "units": 4}, )" + a +
                                R"(, {"type": "dense", "units": 3}, )" + a +
                                R"(, {"type": "dense", "units": 3}, {"type": "softmax_cross_entropy"})");
    CheckGradients(context(), pipelines(), model, 3, 3, std::string(activation) == "relu" ? 1e-3 : 1e-2);
  }
}

TEST_F(VulkanTest, GradientsMatchFiniteDifferencesForEveryLoss) {
  for (const char* loss : {"softmax_cross_entropy", "mse", "bce_with_logits"}) {
    SCOPED_TRACE(loss);
    nn::ModelDesc model = Model(R"({"type": "input", "shape": [3]}, {"type": "dense", "units": 5}, {"type": "tanh"},
      {"type": "dense", "units": 3}, {"type": ")" + std::string(loss) + R"("})");
    CheckGradients(context(), pipelines(), model, 3, 3, 1e-2);
  }
  // One output: BCE with 0/1 labels, a dense layer without bias, a standalone activation.
  nn::ModelDesc single = Model(R"({"type": "input", "shape": [3]}, {"type": "dense", "units": 4, "bias": false},
    {"type": "sigmoid"}, {"type": "tanh"}, {"type": "dense", "units": 1}, {"type": "bce_with_logits"})");
  CheckGradients(context(), pipelines(), single, 1, 2, 1e-2);
}

TEST_F(VulkanTest, PlanDispatchesAndMemoryAreConsistent) {
  nn::ModelDesc model = Model(R"({"type": "input", "shape": [1, 4, 4]}, {"type": "flatten"},
    {"type": "dense", "units": 7}, {"type": "relu"}, {"type": "dense", "units": 5}, {"type": "softmax"})");
  nn::PlanOptions options;
  options.batch = 9;
  options.slots = 2;
  std::unique_ptr<nn::Plan> plan = nn::Plan::Compile(context(), pipelines(), model, options);
  EXPECT_EQ(plan->parameter_count(), 16u * 7 + 7 + 7u * 5 + 5);
  EXPECT_EQ(plan->input_features(), 16u);
  EXPECT_EQ(plan->output_features(), 5u);
  // Forward: 2 matmuls + 2 bias/activation; loss; backward: 2 bias grads, 2 dW, 1 dX; update; metrics.
  EXPECT_EQ(plan->train_step().size(), 4u + 1 + 5 + 1 + 1);
  EXPECT_EQ(plan->train_step().size(), plan->train_roles().size());
  EXPECT_EQ(plan->eval_step().size(), 4u + 1 + 1);
  EXPECT_GT(plan->memory().parameters, 0u);
  EXPECT_EQ(plan->memory().optimizer_state, 2 * plan->memory().parameters);  // Adam: m and v
  for (const vk::Dispatch& d : plan->train_step()) {
    EXPECT_FALSE(d.label.empty());
    EXPECT_GE(d.cost.bytes_read + d.cost.bytes_written, 4.0) << d.label;
  }
  std::vector<float> values(plan->parameter_count());
  for (size_t i = 0; i < values.size(); ++i) values[i] = 0.001f * float(i);
  plan->WriteParameters(values);
  EXPECT_EQ(plan->ReadParameters(), values);
}

TEST_F(VulkanTest, InitialisationIsSeededAndScaled) {
  nn::ModelDesc model = Model(R"({"type": "input", "shape": [200]}, {"type": "dense", "units": 100}, {"type": "relu"},
    {"type": "dense", "units": 10}, {"type": "softmax"})");
  nn::PlanOptions options;
  std::unique_ptr<nn::Plan> plan = nn::Plan::Compile(context(), pipelines(), model, options);
  plan->InitializeParameters(7);
  std::vector<float> a = plan->ReadParameters();
  plan->InitializeParameters(7);
  EXPECT_EQ(plan->ReadParameters(), a);
  plan->InitializeParameters(8);
  EXPECT_NE(plan->ReadParameters(), a);
  // dense_1.weight: He uniform, bound sqrt(6/200); dense_1.bias: zeros.
  double bound = std::sqrt(6.0 / 200), max_abs = 0;
  for (size_t i = 0; i < 200 * 100; ++i) max_abs = std::max<double>(max_abs, std::abs(a[i]));
  EXPECT_LE(max_abs, bound);
  EXPECT_GT(max_abs, 0.9 * bound);
  for (size_t i = 200 * 100; i < 200 * 100 + 100; ++i) EXPECT_EQ(a[i], 0.0f);
}

TEST_F(VulkanTest, SpiralPresetReaches97PercentTrainingAccuracy) {
  nn::ModelDesc model = nn::LoadModelOrPreset("spiral-mlp");
  nn::TrainConfig config = nn::ParseTrainConfig(model.training, "spiral-mlp");
  data::DataSplit split = data::LoadDataSpec(config.data);
  nn::Trainer trainer(context(), pipelines(), model, config, &split.train, nullptr);
  while (!trainer.finished()) trainer.RunEpoch([](const nn::StepReport&) {});
  nn::EvalResult train = trainer.Evaluate(split.train);
  nn::EvalResult test = trainer.Evaluate(split.test);
  RecordProperty("train_accuracy", std::to_string(train.accuracy));
  RecordProperty("test_accuracy", std::to_string(test.accuracy));
  std::printf("spiral: train accuracy %.4f, test accuracy %.4f\n", train.accuracy, test.accuracy);
  EXPECT_GE(train.accuracy, 0.97);
  uint64_t total = 0;
  for (uint64_t n : train.confusion) total += n;
  EXPECT_EQ(total, split.train.count());
}

TEST_F(VulkanTest, EvaluationCountsEverySampleOfAPartialLastBatch) {
  nn::ModelDesc model = Model(R"({"type": "input", "shape": [3]}, {"type": "dense", "units": 4},
    {"type": "softmax"})");
  data::Dataset dataset = RandomDataset(37, 3, 4, 5);
  nn::Trainer trainer(context(), pipelines(), model, Config(kernels::OptimizerKind::kAdam, 0.01, 8), nullptr, nullptr);
  nn::EvalResult all = trainer.Evaluate(dataset);
  EXPECT_EQ(all.samples, 37u);
  uint64_t total = 0;
  for (uint64_t n : all.confusion) total += n;
  EXPECT_EQ(total, 37u);
  // The same loss, one sample at a time.
  double sum = 0;
  for (uint32_t i = 0; i < 37; ++i) {
    std::vector<uint32_t> one = {i};
    sum += trainer.Evaluate(data::Subset(dataset, one)).loss;
  }
  EXPECT_NEAR(all.loss, sum / 37, 1e-5 * std::abs(all.loss) + 1e-6);
}

TEST_F(VulkanTest, DatasetsLargerThanOneBufferAreSplitIntoChunks) {
  data::Dataset dataset = RandomDataset(37, 3, 4, 6);  // 444 bytes of float32 features
  EXPECT_EQ(nn::DeviceDataset(context(), dataset).feature_buffers(), 1u);
  // 12 bytes per sample: 120-byte chunks hold 8 samples (a multiple of 4): 5 buffers, over the limit of 4.
  try {
    nn::DeviceDataset too_many(context(), dataset, 120);
    ADD_FAILURE() << "5 chunks should be refused";
  } catch (const Error& e) {
    EXPECT_CONTAINS(e.what(), "at most 4");
  }
  nn::DeviceDataset chunked(context(), dataset, 200);  // 16 samples per buffer: 3 buffers
  EXPECT_EQ(chunked.feature_buffers(), 3u);
  EXPECT_EQ(chunked.device_bytes(), 37u * 4 + 16 * 12 * 2 + 5 * 12 + 4);  // labels; chunks (the last padded by 4 bytes)
}

TEST_F(VulkanTest, AugmentationNeedsImagesAndChangesTheBatches) {
  data::Dataset vectors = RandomDataset(40, 16, 4, 8);
  nn::TrainConfig config = Config(kernels::OptimizerKind::kSgd, 0.01, 8);
  config.augment_crop_padding = 2, config.augment_flip = true;
  nn::ModelDesc flat = Model(R"({"type": "input", "shape": [16]}, {"type": "dense", "units": 4}, {"type": "softmax"})");
  try {
    nn::Trainer trainer(context(), pipelines(), flat, config, &vectors, nullptr);
    ADD_FAILURE() << "augmenting vectors should be refused";
  } catch (const Error& e) {
    EXPECT_CONTAINS(e.what(), "needs images");
  }
  data::Dataset images = vectors;
  images.sample_shape = {1, 4, 4};
  nn::ModelDesc image_model =
      Model(R"({"type": "input", "shape": [1, 4, 4]}, {"type": "flatten"}, {"type": "dense", "units": 4}, {"type": "softmax"})");
  config.shuffle = false;
  std::vector<float> losses[2];
  for (int augmented = 0; augmented < 2; ++augmented) {
    nn::TrainConfig c = config;
    if (!augmented) c.augment_crop_padding = 0, c.augment_flip = false;
    nn::Trainer trainer(context(), pipelines(), image_model, c, &images, nullptr);
    trainer.RunSteps(3, [&](const nn::StepReport& r) { losses[augmented].push_back(r.loss); });
  }
  ASSERT_EQ(losses[0].size(), 3u);
  EXPECT_EQ(losses[0][0] == losses[1][0] && losses[0][1] == losses[1][1] && losses[0][2] == losses[1][2], false)
      << "augmented batches should differ from the plain ones";
}

TEST_F(VulkanTest, CheckpointResumeReproducesTheUninterruptedRun) {
  nn::ModelDesc model = Model(R"({"type": "input", "shape": [3]}, {"type": "dense", "units": 16}, {"type": "relu"},
    {"type": "dense", "units": 3}, {"type": "softmax"})");
  data::Dataset dataset = RandomDataset(200, 3, 3, 11);
  for (kernels::OptimizerKind optimizer : {kernels::OptimizerKind::kMomentum, kernels::OptimizerKind::kAdamW}) {
    nn::TrainConfig config = Config(optimizer, 0.02, 16);
    config.shuffle = true;
    config.epochs = 3;
    config.hyper.weight_decay = 0.01f;
    config.schedule.kind = nn::ScheduleKind::kCosine;
    std::vector<float> straight, resumed;
    {
      nn::Trainer trainer(context(), pipelines(), model, config, &dataset, nullptr);
      while (!trainer.finished()) trainer.RunEpoch([&](const nn::StepReport& r) { straight.push_back(r.loss); });
    }
    std::string path = ::testing::TempDir() + "/resume.ckpt";
    {
      nn::Trainer trainer(context(), pipelines(), model, config, &dataset, nullptr);
      trainer.RunEpoch([&](const nn::StepReport& r) { resumed.push_back(r.loss); });
      nn::SaveCheckpoint(path, nn::CaptureCheckpoint(trainer));
    }
    nn::Checkpoint loaded = nn::LoadCheckpoint(path);
    EXPECT_EQ(loaded.position.epoch, 1u);
    {
      nn::Trainer trainer(context(), pipelines(), model, config, &dataset, nullptr);
      trainer.plan().InitializeParameters(99);  // the checkpoint must override whatever is there
      nn::RestoreCheckpoint(trainer, loaded, path);
      while (!trainer.finished()) trainer.RunEpoch([&](const nn::StepReport& r) { resumed.push_back(r.loss); });
    }
    ASSERT_EQ(straight.size(), resumed.size());
    for (size_t i = 0; i < straight.size(); ++i) EXPECT_EQ(straight[i], resumed[i]) << "step " << i;
  }
}

TEST_F(VulkanTest, CheckpointRoundTripAndMismatches) {
  nn::ModelDesc model = Model(R"({"type": "input", "shape": [3]}, {"type": "dense", "units": 4}, {"type": "softmax"})");
  data::Dataset dataset = RandomDataset(40, 3, 4, 3);
  nn::Trainer trainer(context(), pipelines(), model, Config(kernels::OptimizerKind::kAdam, 0.01, 8), &dataset, nullptr);
  trainer.RunSteps(4, [](const nn::StepReport&) {});
  std::string path = ::testing::TempDir() + "/roundtrip.ckpt";
  nn::SaveCheckpoint(path, nn::CaptureCheckpoint(trainer));
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  nn::Checkpoint loaded = nn::LoadCheckpoint(path);
  EXPECT_EQ(loaded.parameters, trainer.plan().ReadParameters());
  EXPECT_EQ(loaded.optimizer_state, trainer.plan().ReadOptimizerState());
  EXPECT_EQ(loaded.position.global_step, 4u);

  // Another architecture that still fits the data's 4 classes (a model with more outputs than classes is refused).
  nn::ModelDesc other = Model(R"({"type": "input", "shape": [3]}, {"type": "dense", "units": 5}, {"type": "relu"},
    {"type": "dense", "units": 4}, {"type": "softmax"})");
  nn::Trainer wrong(context(), pipelines(), other, Config(kernels::OptimizerKind::kAdam, 0.01, 8), &dataset, nullptr);
  try {
    nn::RestoreCheckpoint(wrong, loaded, path);
    FAIL();
  } catch (const Error& e) {
    EXPECT_CONTAINS(e.what(), "this checkpoint is for another model");
    EXPECT_CONTAINS(e.what(), "dense 5");
  }
  nn::Trainer sgd(context(), pipelines(), model, Config(kernels::OptimizerKind::kSgd, 0.01, 8), &dataset, nullptr);
  try {
    nn::RestoreCheckpoint(sgd, loaded, path);
    FAIL();
  } catch (const Error& e) {
    EXPECT_CONTAINS(e.what(), "Resume with the optimizer the checkpoint was trained with (adam)");
  }
}

TEST_F(VulkanTest, DivergenceIsReportedWithTheStep) {
  nn::ModelDesc model = Model(R"({"type": "input", "shape": [3]}, {"type": "dense", "units": 8}, {"type": "relu"},
    {"type": "dense", "units": 3}, {"type": "softmax"})");
  data::Dataset dataset = RandomDataset(64, 3, 3, 13);
  nn::Trainer trainer(context(), pipelines(), model, Config(kernels::OptimizerKind::kSgd, 1e30, 8), &dataset, nullptr);
  try {
    trainer.RunSteps(8, [](const nn::StepReport&) {});
    FAIL() << "lr 1e30 did not diverge";
  } catch (const nn::DivergenceError& e) {
    EXPECT_CONTAINS(e.what(), "Training diverged at epoch 1, step");
    EXPECT_CONTAINS(e.what(), "lower learning rate than 1e+30");
  }
}

TEST_F(VulkanTest, DispatchTimesAreSampledAndDoNotChangeTraining) {
  nn::ModelDesc model = Model(R"({"type": "input", "shape": [3]}, {"type": "dense", "units": 8}, {"type": "relu"},
    {"type": "dense", "units": 3}, {"type": "softmax"})");
  data::Dataset dataset = RandomDataset(64, 3, 3, 23);
  nn::TrainConfig config = Config(kernels::OptimizerKind::kAdam, 0.01, 8);
  config.steps_per_submit = 2;
  auto run = [&](double interval, std::vector<nn::StepReport>& reports) {
    nn::Trainer trainer(context(), pipelines(), model, config, &dataset, nullptr);
    trainer.set_timing_interval(interval);
    trainer.RunSteps(8, [&](const nn::StepReport& r) { reports.push_back(r); });
    return trainer.plan().ReadParameters();
  };
  std::vector<nn::StepReport> every, sampled;
  const std::vector<float> every_parameters = run(0, every), sampled_parameters = run(1e9, sampled);
  ASSERT_EQ(every.size(), 8u);
  ASSERT_EQ(sampled.size(), 8u);
  for (size_t i = 0; i < 8; ++i) {
    // The first step may compile the pipelines: it reports no times (Trainer::set_timing_interval).
    EXPECT_EQ(every[i].dispatch_ns.empty(), i == 0) << i;
    // Only the first submission (2 steps) is timed when the interval is long.
    EXPECT_EQ(sampled[i].dispatch_ns.empty(), i != 1) << i;
    EXPECT_EQ(sampled[i].loss, every[i].loss) << i;  // timestamps change nothing the GPU computes
  }
  EXPECT_EQ(sampled_parameters, every_parameters);
}

TEST_F(VulkanTest, StepReportsCarryPerDispatchTimes) {
  nn::ModelDesc model = Model(R"({"type": "input", "shape": [3]}, {"type": "dense", "units": 8}, {"type": "gelu"},
    {"type": "dense", "units": 3}, {"type": "softmax"})");
  data::Dataset dataset = RandomDataset(64, 3, 3, 17);
  nn::Trainer trainer(context(), pipelines(), model, Config(kernels::OptimizerKind::kAdam, 0.01, 8), &dataset, nullptr);
  trainer.set_timing_interval(0);  // every submission timed
  std::vector<nn::StepReport> reports;
  trainer.RunSteps(5, [&](const nn::StepReport& r) { reports.push_back(r); });
  ASSERT_EQ(reports.size(), 5u);
  // The first step dispatches each pipeline for the first time: a driver may
  // compile it then, so that step's times are not reported as the kernels'.
  EXPECT_TRUE(reports[0].dispatch_ns.empty());
  for (size_t i = 1; i < reports.size(); ++i) {
    EXPECT_EQ(reports[i].global_step, i);
    ASSERT_EQ(reports[i].dispatch_ns.size(), trainer.step_dispatches().size());
    for (double ns : reports[i].dispatch_ns) EXPECT_GT(ns, 0.0);
  }
  EXPECT_EQ(trainer.step_dispatches().front().role.pass, nn::Pass::kData);
  EXPECT_EQ(trainer.step_dispatches().back().role.pass, nn::Pass::kMetrics);
}

}  // namespace
}  // namespace ts
