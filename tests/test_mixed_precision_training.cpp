// Mixed precision in a whole plan: fp16 training of the spiral preset reaches
// its target beside fp32 on the same seed; activations and their traffic take
// half the bytes; an overflow is skipped (the weights untouched) and the scale
// halves until the steps go through; a CNN (conv2d, batch norm, pooling)
// trains beside fp32; gradient clipping clips the unscaled gradients;
// sequence models, which have no fp16 kernels, are
// refused by name.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "compute/data/registry.h"
#include "compute/nn/model.h"
#include "compute/nn/presets.h"
#include "compute/nn/train_config.h"
#include "compute/nn/trainer.h"
#include "support/vulkan_test.h"

namespace ts {
namespace {

using testing::VulkanTest;

class MixedPrecisionTrainingTest : public VulkanTest {
 protected:
  void SetUp() override {
    VulkanTest::SetUp();
    if (!context().info().fp16_storage) GTEST_SKIP() << kernels::Fp16Unavailable(context().info());
  }
};

TEST_F(MixedPrecisionTrainingTest, SpiralPresetReaches95PercentInFp16BesideFp32) {
  nn::ModelDesc model = nn::LoadModelOrPreset("spiral-mlp");
  nn::TrainConfig config = nn::ParseTrainConfig(model.training, "spiral-mlp");
  data::DataSplit split = data::LoadDataSpec(config.data);
  double accuracy[2] = {0, 0};
  for (nn::Precision precision : {nn::Precision::kFp32, nn::Precision::kFp16}) {
    config.precision = precision;
    nn::Trainer trainer(context(), pipelines(), model, config, &split.train, nullptr);
    float last_scale = 0;
    uint64_t skipped = 0;
    while (!trainer.finished()) trainer.RunEpoch([&](const nn::StepReport& r) {
      last_scale = r.loss_scale;
      skipped += r.skipped;
    });
    nn::EvalResult test = trainer.Evaluate(split.test);
    accuracy[precision == nn::Precision::kFp16] = test.accuracy;
    std::printf("spiral-mlp %s: test accuracy %.4f, last loss scale %g, %llu steps skipped\n",
                nn::PrecisionName(precision), test.accuracy, last_scale, static_cast<unsigned long long>(skipped));
    if (precision == nn::Precision::kFp32) {
      EXPECT_EQ(last_scale, 1.0f);
    } else {
      EXPECT_GE(last_scale, 1.0f);
    }
  }
  EXPECT_GE(accuracy[1], 0.95);
  EXPECT_GE(accuracy[1], accuracy[0] - 0.03);
}

// Clipping by global norm in fp16 clips the unscaled gradients, as torch
// does after GradScaler.unscale_: the first step's norm, loss and the loss
// curve match fp32 with the same clip, and the spiral still trains.
TEST_F(MixedPrecisionTrainingTest, GradientClippingInFp16ClipsTheUnscaledGradients) {
  nn::ModelDesc model = nn::LoadModelOrPreset("spiral-mlp");
  nn::TrainConfig config = nn::ParseTrainConfig(model.training, "spiral-mlp");
  config.grad_clip = 0.5f;  // below the early norms: every early step is clipped
  config.epochs = 20;
  data::DataSplit split = data::LoadDataSpec(config.data);
  std::vector<nn::StepReport> reports[2];
  double accuracy[2] = {0, 0};
  for (nn::Precision precision : {nn::Precision::kFp32, nn::Precision::kFp16}) {
    config.precision = precision;
    nn::Trainer trainer(context(), pipelines(), model, config, &split.train, nullptr);
    const int p = precision == nn::Precision::kFp16;
    while (!trainer.finished()) trainer.RunEpoch([&](const nn::StepReport& r) { reports[p].push_back(r); });
    accuracy[p] = trainer.Evaluate(split.test).accuracy;
    std::printf("spiral-mlp %s, clip 0.5: first norm %.5f, test accuracy %.4f\n", nn::PrecisionName(precision),
                reports[p][0].grad_norm, accuracy[p]);
  }
  ASSERT_EQ(reports[0].size(), reports[1].size());
  EXPECT_GT(reports[0][0].grad_norm, config.grad_clip);
  EXPECT_NEAR(reports[1][0].grad_norm, reports[0][0].grad_norm, 0.01 * reports[0][0].grad_norm);
  for (size_t i = 0; i < 5; ++i) EXPECT_NEAR(reports[1][i].loss, reports[0][i].loss, 0.01 * reports[0][i].loss) << i;
  EXPECT_FALSE(reports[1][0].skipped);
  EXPECT_GE(accuracy[1], accuracy[0] - 0.03);
}

TEST_F(MixedPrecisionTrainingTest, Fp16HalvesActivationMemoryAndTheirTraffic) {
  nn::ModelDesc model = nn::LoadModelOrPreset("mnist-mlp");
  nn::PlanOptions options;
  options.batch = 64;
  options.slots = 1;
  options.autotune = false;
  std::unique_ptr<nn::Plan> fp32 = nn::Plan::Compile(context(), pipelines(), model, options);
  options.precision = nn::Precision::kFp16;
  std::unique_ptr<nn::Plan> fp16 = nn::Plan::Compile(context(), pipelines(), model, options);
  // Every activation halves but the per-row loss and correctness (fp32).
  const uint64_t row_results = 2 * 4 * options.batch;
  EXPECT_EQ((fp16->memory().activations - row_results) * 2, fp32->memory().activations - row_results);
  EXPECT_EQ(fp16->memory().activation_gradients * 2, fp32->memory().activation_gradients);
  EXPECT_EQ(fp16->memory().parameters, fp16->memory().gradients * 3 / 2);  // + the fp16 weight copy
  // Master gradients stay fp32; only the tensors' alignment padding may grow
  // (fp16 offsets must be aligned at half the byte offset).
  const uint64_t padding = 2 * context().info().min_storage_buffer_offset_alignment * fp16->parameters().size();
  EXPECT_GE(fp16->memory().gradients, fp32->memory().gradients);
  EXPECT_LE(fp16->memory().gradients, fp32->memory().gradients + padding);
  // Each forward matmul moves half the bytes: fp16 X, W and Z.
  auto bytes_of = [](const nn::Plan& plan, const std::string& label) {
    for (const vk::Dispatch& d : plan.train_step())
      if (d.label == label) return d.cost.bytes_read + d.cost.bytes_written;
    ADD_FAILURE() << "no dispatch labelled " << label;
    return 0.0;
  };
  for (const nn::LayerDesc& layer : model.layers)
    if (layer.kind == nn::LayerKind::kDense) {
      const std::string label = layer.name + " forward: Z = X W";
      EXPECT_EQ(bytes_of(*fp16, label) * 2, bytes_of(*fp32, label)) << label;
      EXPECT_EQ(fp16->kernel_choice(label) != nullptr, true);
    }
  // The same parameters in, the same predictions out (to fp16 rounding).
  std::vector<float> parameters = fp32->ReadParameters();
  fp16->WriteParameters(parameters);
  EXPECT_EQ(fp16->ReadParameters(), parameters);
}

TEST_F(MixedPrecisionTrainingTest, AnOverflowIsSkippedAndTheScaleHalvesUntilStepsGoThrough) {
  nn::ModelDesc model = nn::LoadModelOrPreset("spiral-mlp");
  nn::TrainConfig config = nn::ParseTrainConfig(model.training, "spiral-mlp");
  config.precision = nn::Precision::kFp16;
  config.loss_scale.init_scale = std::ldexp(1.0f, 40);  // 2^40: the loss gradient overflows fp16
  config.steps_per_submit = 1;
  config.epochs = 1;
  data::DataSplit split = data::LoadDataSpec(config.data);
  nn::Trainer trainer(context(), pipelines(), model, config, &split.train, nullptr);
  const std::vector<float> initial = trainer.plan().ReadParameters();
  std::vector<nn::StepReport> reports;
  trainer.RunEpoch([&](const nn::StepReport& r) { reports.push_back(r); });
  ASSERT_GT(reports.size(), 20u);
  EXPECT_TRUE(reports[0].skipped);
  EXPECT_EQ(reports[0].loss_scale, std::ldexp(1.0f, 40));
  uint32_t skipped = 0;
  for (size_t i = 0; i < reports.size() && reports[i].skipped; ++i) {
    EXPECT_EQ(reports[i].loss_scale, std::ldexp(1.0f, 40 - int(i))) << "step " << i;
    ++skipped;
  }
  std::printf("skipped the first %u steps; the first step taken used a loss scale of %g\n", skipped,
              double(reports[skipped].loss_scale));
  EXPECT_GE(skipped, 10u);  // 2^40 / batch 64 * a gradient of ~1 is far past 65504
  EXPECT_LT(skipped, reports.size());
  for (size_t i = skipped; i < reports.size(); ++i) EXPECT_FALSE(reports[i].skipped) << "step " << i;
  EXPECT_NE(trainer.plan().ReadParameters(), initial);
  EXPECT_EQ(trainer.plan().loss_scale_state().second, skipped);
  EXPECT_LT(reports.back().loss, reports[skipped].loss);
}

// A CNN with every layer kind fp16 covers beyond the MLP's (conv2d, batch
// norm, max and average pooling, global average pooling), on the same seed
// and data in both precisions: the first losses agree to fp16 rounding, the
// convolution, batch-norm and pooling dispatches move half the bytes, and the
// trained accuracies are within 5 points.
TEST_F(MixedPrecisionTrainingTest, ConvolutionalModelTrainsInFp16BesideFp32) {
  nn::ModelDesc model = nn::ParseModel(R"({"layers": [
    {"type": "input", "shape": [1, 28, 28]},
    {"type": "conv2d", "filters": 8, "kernel": 3, "padding": "same"}, {"type": "batch_norm"}, {"type": "relu"},
    {"type": "max_pool2d", "size": 2},
    {"type": "conv2d", "filters": 16, "kernel": 3, "padding": "same"}, {"type": "relu"},
    {"type": "avg_pool2d", "size": 2},
    {"type": "conv2d", "filters": 32, "kernel": 3, "stride": 2}, {"type": "relu"},
    {"type": "global_avg_pool"}, {"type": "dense", "units": 8}, {"type": "softmax_cross_entropy"}],
    "training": {"data": "shapes:samples=1600,test_samples=1000", "optimizer": "adam", "learning_rate": 0.002,
                 "batch_size": 32, "epochs": 12, "seed": 3}})", "fp16 cnn");
  nn::TrainConfig config = nn::ParseTrainConfig(model.training, "fp16 cnn");
  config.autotune = false;
  data::DataSplit split = data::LoadDataSpec(config.data);
  double accuracy[2] = {0, 0}, last_epoch_loss[2] = {0, 0};
  std::vector<float> losses[2];
  for (nn::Precision precision : {nn::Precision::kFp32, nn::Precision::kFp16}) {
    config.precision = precision;
    const int p = precision == nn::Precision::kFp16;
    nn::Trainer trainer(context(), pipelines(), model, config, &split.train, nullptr);
    uint64_t skipped = 0;
    while (!trainer.finished()) trainer.RunEpoch([&](const nn::StepReport& r) {
      losses[p].push_back(r.loss);
      skipped += r.skipped;
    });
    accuracy[p] = trainer.Evaluate(split.test).accuracy;
    const size_t per_epoch = losses[p].size() / config.epochs;
    for (size_t i = losses[p].size() - per_epoch; i < losses[p].size(); ++i) last_epoch_loss[p] += losses[p][i];
    last_epoch_loss[p] /= double(per_epoch);
    std::printf("cnn %s: first loss %.5f, last epoch's mean loss %.4f, test accuracy %.4f, %llu steps skipped\n",
                nn::PrecisionName(precision), losses[p][0], last_epoch_loss[p], accuracy[p],
                static_cast<unsigned long long>(skipped));
  }
  // The same initial weights and batch: only fp16 storage differs.
  EXPECT_NEAR(losses[1][0], losses[0][0], 0.01 * losses[0][0]);
  // Training curves that diverge only as two runs of slightly different
  // arithmetic do (measured fp32 / fp16: 0.439 / 0.432 at 256 bits, 0.438 / 0.429 at 512).
  EXPECT_NEAR(last_epoch_loss[1], last_epoch_loss[0], 0.1 * last_epoch_loss[0]);
  EXPECT_GE(accuracy[0], 0.7);  // it learns (8 classes: chance is 0.125)
  EXPECT_GE(accuracy[1], 0.7);
  EXPECT_GE(accuracy[1], accuracy[0] - 0.05);  // of 1000 test samples

  nn::PlanOptions options;
  options.batch = 16;
  options.slots = 1;
  options.autotune = false;
  std::unique_ptr<nn::Plan> fp32 = nn::Plan::Compile(context(), pipelines(), model, options);
  options.precision = nn::Precision::kFp16;
  std::unique_ptr<nn::Plan> fp16 = nn::Plan::Compile(context(), pipelines(), model, options);
  auto bytes_with = [](const nn::Plan& plan, const std::string& kernel) {
    double activation_bytes = 0;
    for (const vk::Dispatch& d : plan.train_step())
      if (d.kernel == kernel) activation_bytes += d.cost.bytes_read + d.cost.bytes_written;
    return activation_bytes;
  };
  for (const char* kernel : {"conv2d", "conv2d_back_data", "pool", "pool_back"}) {
    SCOPED_TRACE(kernel);
    EXPECT_GT(bytes_with(*fp32, kernel), 0);
    // Activations halve; the parameters' fp32 gradients and max pooling's argmax do not.
    EXPECT_LT(bytes_with(*fp16, kernel), 0.8 * bytes_with(*fp32, kernel));
  }
  EXPECT_LT(bytes_with(*fp16, "batchnorm"), 0.6 * bytes_with(*fp32, "batchnorm"));
}

TEST_F(MixedPrecisionTrainingTest, SequenceModelsAreRefusedByLayer) {
  nn::ModelDesc model = nn::LoadModelOrPreset("char-gpt");
  nn::PlanOptions options;
  options.batch = 4;
  options.slots = 1;
  options.precision = nn::Precision::kFp16;
  try {
    nn::Plan::Compile(context(), pipelines(), model, options);
    ADD_FAILURE() << "a sequence model compiled in fp16";
  } catch (const Error& e) {
    const std::string expected = "layers[1] '" + model.layers[1].name + "' (embedding) has no fp16 kernels";
    EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("fp32"), std::string::npos) << e.what();
  }
  nn::TrainConfig config;
  config.precision = nn::Precision::kFp16;
  config.replicas = 2;
  EXPECT_THROW(nn::ValidateTrainConfig(config), Error);
  EXPECT_THROW(nn::ParseTrainConfig(nlohmann::json::parse(R"({"precision": "fp8"})"), "t"), Error);
  EXPECT_THROW(nn::ParseTrainConfig(nlohmann::json::parse(R"({"loss_scale": {"init": 2}})"), "t"), Error);
}

}  // namespace
}  // namespace ts
