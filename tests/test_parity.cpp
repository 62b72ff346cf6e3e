// Training parity with PyTorch: small MLPs trained for 100 steps by the Vulkan
// Trainer and by torch.nn (tests/parity/torch_mlp.py) from the same initial
// weights on the same batches. The loss of every step must agree to 1e-4
// relative, and the final parameters to 1e-3 of each tensor's largest value.
//
// The cases cover the activations (relu, tanh, gelu, sigmoid, leaky_relu), the
// three loss heads, every optimizer (SGD, momentum with weight decay, Nesterov,
// Adam, AdamW), a dense layer without bias, uint8 features normalised by the
// gather kernel behind a flatten layer, batch sizes that do not divide the
// matmul tiles, and submissions of 7 steps that straddle epoch boundaries.
//
// Skipped (with a message) when /usr/bin/python3 cannot import torch.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "compute/data/dataset.h"
#include "compute/nn/model.h"
#include "compute/nn/trainer.h"
#include "support/vulkan_test.h"

namespace ts {
namespace {

using kernels::OptimizerKind;
using nlohmann::json;
using testing::VulkanTest;

constexpr const char* kPython = "/usr/bin/python3";
constexpr uint32_t kSteps = 100;
constexpr double kLossTolerance = 1e-4;       // relative, every step
constexpr double kParameterTolerance = 1e-3;  // of each tensor's largest |value|

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Whether /usr/bin/python3 can import torch (checked once per process).
bool TorchAvailable() {
  static const bool available = [] {
    std::string command = std::string(kPython) + " -c 'import torch, numpy' > /dev/null 2>&1";
    return std::system(command.c_str()) == 0;
  }();
  return available;
}

struct ParityCase {
  std::string name;
  std::string layers;           // the model's "layers" JSON array
  OptimizerKind optimizer = OptimizerKind::kAdam;
  kernels::OptimizerHyper hyper;
  double learning_rate = 1e-3;
  uint32_t batch = 16;
  uint32_t samples = 320;       // a multiple of batch: torch cycles through whole batches too
  std::vector<uint32_t> sample_shape = {10};
  uint32_t classes = 5;
  bool uint8_features = false;  // stored as uint8, normalised by scale on the device
};

// Random features; labels from a fixed random linear map of the features (so
// there is something to learn), in [0, classes).
data::Dataset MakeDataset(const ParityCase& c, std::mt19937_64& rng) {
  data::Dataset d;
  d.name = "parity-" + c.name;
  d.sample_shape = c.sample_shape;
  d.num_classes = c.classes;
  size_t features = d.feature_size();
  std::vector<float> x = testing::RandomFloats(rng, c.samples * features);
  if (c.uint8_features) {
    d.format = data::FeatureFormat::kUint8;
    d.scale = 1.0f / 255.0f;
    d.features_u8.resize(x.size());
    for (size_t i = 0; i < x.size(); ++i) d.features_u8[i] = static_cast<uint8_t>(std::lround((x[i] + 1) * 127.5f));
  } else {
    d.format = data::FeatureFormat::kFloat32;
    d.features_f32 = x;
  }
  std::vector<float> projection = testing::RandomFloats(rng, features * c.classes);
  d.labels.assign(c.samples, 0);  // the samples count (count() is the labels') before they are read
  for (uint32_t i = 0; i < c.samples; ++i) {
    uint32_t best = 0;
    double best_score = -1e30;
    for (uint32_t k = 0; k < c.classes; ++k) {
      double score = 0;
      for (size_t j = 0; j < features; ++j) score += d.normalized(i, j) * projection[j * c.classes + k];
      if (score > best_score) best_score = score, best = k;
    }
    d.labels[i] = best;
  }
  return d;
}

json OptimizerJson(const ParityCase& c) {
  return {{"kind", kernels::OptimizerName(c.optimizer)},
          {"lr", c.learning_rate},
          {"momentum", c.hyper.momentum},
          {"nesterov", c.hyper.nesterov},
          {"weight_decay", c.hyper.weight_decay},
          {"beta1", c.hyper.beta1},
          {"beta2", c.hyper.beta2},
          {"eps", c.hyper.epsilon}};
}

struct RunResult {
  std::vector<float> losses;
  std::vector<float> parameters;
};

class ParityTest : public VulkanTest {
 protected:
  void SetUp() override {
    VulkanTest::SetUp();
    if (!TorchAvailable())
      GTEST_SKIP() << "PyTorch parity skipped: " << kPython
                   << " cannot import torch and numpy (install python3-torch and python3-numpy).";
  }

  // Trains `c` on both sides and compares every step's loss and the final parameters.
  void Check(const ParityCase& c) {
    SCOPED_TRACE(c.name);
    std::mt19937_64 rng = testing::MakeRng();
    data::Dataset dataset = MakeDataset(c, rng);
    std::string model_text = R"({"format": "tensorscope-model", "version": 1, "name": ")" + c.name +
                             R"(", "layers": )" + c.layers + "}";
    nn::ModelDesc model = nn::ParseModel(model_text, c.name);

    nn::TrainConfig config;
    config.optimizer = c.optimizer;
    config.hyper = c.hyper;
    config.learning_rate = c.learning_rate;
    config.batch_size = c.batch;
    config.epochs = 1000;  // RunSteps stops after kSteps
    config.seed = 7;
    config.validation_fraction = 0;
    config.shuffle = false;
    config.steps_per_submit = 7;  // submissions straddle epoch ends and do not divide 100

    auto start = std::chrono::steady_clock::now();
    nn::Trainer trainer(context(), pipelines(), model, config, &dataset, nullptr);
    const std::vector<float> initial = trainer.plan().ReadParameters();
    RunResult ours;
    trainer.RunSteps(kSteps, [&](const nn::StepReport& r) {
      EXPECT_EQ(r.global_step, ours.losses.size());
      ours.losses.push_back(r.loss);
    });
    ASSERT_EQ(ours.losses.size(), kSteps);
    ours.parameters = trainer.plan().ReadParameters();

    double ours_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    start = std::chrono::steady_clock::now();
    RunResult torch = RunTorch(c, model, dataset, initial);
    double torch_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ASSERT_EQ(torch.losses.size(), kSteps);
    ASSERT_EQ(torch.parameters.size(), ours.parameters.size());

    double worst_loss = 0;
    size_t worst_step = 0;
    int failures = 0;
    for (size_t s = 0; s < kSteps; ++s) {
      double a = ours.losses[s], b = torch.losses[s];
      double relative = std::abs(a - b) / std::max(std::abs(b), 1e-6);
      if (!(relative <= worst_loss)) worst_loss = relative, worst_step = s;
      if (!(relative <= kLossTolerance) && failures++ < 5)
        ADD_FAILURE() << "step " << s << ": loss " << a << ", PyTorch " << b << " (relative difference " << relative
                      << " > " << kLossTolerance << ")";
    }

    double worst_parameter = 0;
    std::string worst_tensor;
    size_t at = 0;
    for (const nn::ParameterTensor& p : trainer.plan().parameters()) {
      double largest = 1e-12, diff = 0;
      for (size_t i = at; i < at + p.count; ++i) {
        largest = std::max(largest, double(std::abs(torch.parameters[i])));
        double d = std::abs(double(ours.parameters[i]) - torch.parameters[i]);
        diff = std::isnan(d) ? INFINITY : std::max(diff, d);
      }
      double relative = diff / largest;
      EXPECT_LE(relative, kParameterTolerance)
          << p.name << ": max |difference| " << diff << " against max |value| " << largest;
      if (relative >= worst_parameter) worst_parameter = relative, worst_tensor = p.name;
      at += p.count;
    }
    std::printf("[ parity   ] %-28s loss %.4f -> %.4f, max loss rel. diff %.2e (step %zu), "
                "max param rel. diff %.2e (%s); %.1f s ours, %.1f s torch\n",
                c.name.c_str(), torch.losses.front(), torch.losses.back(), worst_loss, worst_step, worst_parameter,
                worst_tensor.c_str(), ours_s, torch_s);
    // Training must actually have moved the loss, or the comparison proves little.
    EXPECT_LT(torch.losses.back(), torch.losses.front()) << "the reference run did not learn";
  }

 private:
  RunResult RunTorch(const ParityCase& c, const nn::ModelDesc& model, const data::Dataset& dataset,
                     const std::vector<float>& initial) {
    std::vector<float> features(dataset.count() * dataset.feature_size());
    for (size_t i = 0; i < dataset.count(); ++i)
      for (size_t j = 0; j < dataset.feature_size(); ++j) features[i * dataset.feature_size() + j] = dataset.normalized(i, j);
    json spec = {{"model", nn::ModelToJson(model)},
                 {"optimizer", OptimizerJson(c)},
                 {"parameters", initial},
                 {"features", features},
                 {"feature_size", dataset.feature_size()},
                 {"labels", dataset.labels},
                 {"batch_size", c.batch},
                 {"steps", kSteps}};
    std::string base = ::testing::TempDir() + "tensorscope_parity_" + c.name;
    std::string spec_path = base + "_spec.json", out_path = base + "_torch.json", err_path = base + "_stderr.txt";
    std::remove(out_path.c_str());
    {
      std::ofstream out(spec_path, std::ios::binary);
      out << spec.dump();
    }
    std::string command = std::string(kPython) + " '" TENSORSCOPE_SOURCE_DIR "/tests/parity/torch_mlp.py' '" +
                          spec_path + "' '" + out_path + "' 2> '" + err_path + "'";
    int code = std::system(command.c_str());
    if (code != 0) {
      ADD_FAILURE() << "torch_mlp.py failed (status " << code << "):\n" << ReadText(err_path);
      return {};
    }
    json out = json::parse(ReadText(out_path));
    RunResult result;
    for (const json& v : out.at("losses")) result.losses.push_back(v.get<float>());
    for (const json& v : out.at("parameters")) result.parameters.push_back(v.get<float>());
    std::remove(spec_path.c_str());
    std::remove(out_path.c_str());
    std::remove(err_path.c_str());
    return result;
  }
};

// 10 -> dense 32 relu -> dense 16 tanh -> dense 5 -> softmax cross-entropy.
constexpr const char* kReluTanh = R"([
  {"type": "input", "shape": [10]},
  {"type": "dense", "units": 32}, {"type": "relu"},
  {"type": "dense", "units": 16}, {"type": "tanh"},
  {"type": "dense", "units": 5},
  {"type": "softmax_cross_entropy"}])";

ParityCase ReluTanh(const std::string& name, OptimizerKind optimizer, double lr) {
  ParityCase c;
  c.name = name;
  c.layers = kReluTanh;
  c.optimizer = optimizer;
  c.learning_rate = lr;
  return c;
}

TEST_F(ParityTest, ReluTanhCrossEntropyMomentumWeightDecay) {
  ParityCase c = ReluTanh("relu_tanh_ce_momentum", OptimizerKind::kMomentum, 0.05);
  c.hyper.momentum = 0.9f;
  c.hyper.weight_decay = 1e-3f;
  Check(c);
}

TEST_F(ParityTest, ReluTanhCrossEntropyNesterov) {
  ParityCase c = ReluTanh("relu_tanh_ce_nesterov", OptimizerKind::kMomentum, 0.05);
  c.hyper.momentum = 0.8f;
  c.hyper.nesterov = true;
  c.hyper.weight_decay = 5e-4f;
  Check(c);
}

TEST_F(ParityTest, ReluTanhCrossEntropyAdam) {
  ParityCase c = ReluTanh("relu_tanh_ce_adam", OptimizerKind::kAdam, 3e-3);
  Check(c);
}

TEST_F(ParityTest, ReluTanhCrossEntropyAdamW) {
  ParityCase c = ReluTanh("relu_tanh_ce_adamw", OptimizerKind::kAdamW, 3e-3);
  c.hyper.weight_decay = 0.05f;
  c.hyper.beta1 = 0.85f;
  c.hyper.beta2 = 0.99f;
  Check(c);
}

// gelu and sigmoid hidden layers, MSE against one-hot targets, Adam with L2
// weight decay (coupled, as torch.optim.Adam), batch 24 (not a tile multiple).
TEST_F(ParityTest, GeluSigmoidMseAdam) {
  ParityCase c;
  c.name = "gelu_sigmoid_mse_adam";
  c.layers = R"([
    {"type": "input", "shape": [10]},
    {"type": "dense", "units": 32}, {"type": "gelu"},
    {"type": "dense", "units": 16}, {"type": "sigmoid"},
    {"type": "dense", "units": 5},
    {"type": "mse"}])";
  c.optimizer = OptimizerKind::kAdam;
  c.learning_rate = 3e-3;
  c.hyper.weight_decay = 1e-3f;
  c.batch = 24;
  c.samples = 240;
  Check(c);
}

// One logit with BCE against a 0/1 label, a dense layer without bias, leaky
// relu, plain SGD.
TEST_F(ParityTest, LeakyReluBceWithLogitsSgd) {
  ParityCase c;
  c.name = "leaky_bce_sgd";
  c.layers = R"([
    {"type": "input", "shape": [10]},
    {"type": "dense", "units": 24, "bias": false}, {"type": "leaky_relu", "slope": 0.1},
    {"type": "dense", "units": 16}, {"type": "gelu"},
    {"type": "dense", "units": 1},
    {"type": "bce_with_logits"}])";
  c.optimizer = OptimizerKind::kSgd;
  c.learning_rate = 0.1;
  c.classes = 2;
  Check(c);
}

// MNIST in miniature: 1x6x6 uint8 images scaled by 1/255 on the device,
// flatten, 3 classes, BCE over one-hot targets, Nesterov momentum.
TEST_F(ParityTest, Uint8FlattenBceMomentum) {
  ParityCase c;
  c.name = "uint8_flatten_bce_momentum";
  c.layers = R"([
    {"type": "input", "shape": [1, 6, 6]},
    {"type": "flatten"},
    {"type": "dense", "units": 20}, {"type": "relu"},
    {"type": "dense", "units": 3},
    {"type": "bce_with_logits"}])";
  c.sample_shape = {1, 6, 6};
  c.classes = 3;
  c.uint8_features = true;
  c.optimizer = OptimizerKind::kMomentum;
  c.hyper.nesterov = true;
  c.learning_rate = 0.1;
  c.batch = 32;
  c.samples = 288;
  Check(c);
}

}  // namespace
}  // namespace ts
