// ModelDesc and TrainConfig: JSON round trip, shape inference, and the messages
// a person sees for every kind of bad model file.
#include <gtest/gtest.h>

#include <filesystem>

#include "compute/common/error.h"
#include "compute/nn/checkpoint.h"
#include "compute/nn/model.h"
#include "compute/nn/presets.h"
#include "compute/nn/train_config.h"

namespace ts::nn {
namespace {

// The message of the ts::Error that parsing `json` throws ("" if none).
std::string ParseError(const std::string& json) {
  try {
    ParseModel(json, "model.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

#define EXPECT_CONTAINS(text, part) EXPECT_NE(std::string(text).find(part), std::string::npos) << (text)

const char* kSpiral = R"({"format": "tensorscope-model", "version": 1, "name": "s", "layers": [
  {"type": "input", "shape": [2]}, {"type": "dense", "units": 16}, {"type": "relu"},
  {"type": "dense", "units": 3}, {"type": "softmax_cross_entropy"}]})";

TEST(Model, ParsesNamesAndInfersShapes) {
  ModelDesc model = ParseModel(kSpiral, "model.json");
  ASSERT_EQ(model.layers.size(), 5u);
  EXPECT_EQ(model.layers[1].name, "dense_1");
  EXPECT_EQ(model.layers[3].name, "dense_2");
  std::vector<LayerShape> shapes = InferShapes(model);
  EXPECT_EQ(shapes[1].output, std::vector<uint32_t>{16});
  EXPECT_EQ(shapes[1].parameters, 2u * 16 + 16);
  EXPECT_EQ(shapes[3].parameters, 16u * 3 + 3);
  EXPECT_EQ(shapes[1].flops_per_sample, 2u * 2 * 16 + 16);
}

TEST(Model, JsonRoundTrip) {
  ModelDesc model = ParseModel(kSpiral, "model.json");
  ModelDesc again = ParseModel(ModelToJson(model).dump(), "again.json");
  EXPECT_EQ(ModelToJson(model), ModelToJson(again));
  EXPECT_EQ(ArchitectureSignature(model), "input 2 > dense 16 > relu > dense 3 > softmax_cross_entropy");
}

TEST(Model, SaveIsAtomicAndLoadable) {
  std::string path = ::testing::TempDir() + "/saved_model.json";
  ModelDesc model = ParseModel(kSpiral, "model.json");
  SaveModel(model, path);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  EXPECT_EQ(ModelToJson(LoadModel(path)), ModelToJson(model));
}

TEST(Model, EveryPresetParses) {
  ASSERT_GE(BuiltInPresets().size(), 3u);
  for (const Preset& preset : BuiltInPresets()) {
    ModelDesc model = ParseModel(preset.json, preset.name);
    TrainConfig config = ParseTrainConfig(model.training, preset.name);
    EXPECT_FALSE(config.data.empty()) << preset.name;
  }
  EXPECT_NO_THROW(LoadModelOrPreset("spiral-mlp"));
  EXPECT_THROW(LoadModelOrPreset("no-such-preset"), Error);
}

TEST(ModelErrors, MalformedJsonNamesTheByte) {
  std::string message = ParseError(R"({"layers": [ {"type": "input", )");
  EXPECT_CONTAINS(message, "model.json");
  EXPECT_CONTAINS(message, "not valid JSON at byte");
}

TEST(ModelErrors, TruncatedJson) {
  std::string text = kSpiral;
  EXPECT_CONTAINS(ParseError(text.substr(0, text.size() / 2)), "not valid JSON at byte");
}

TEST(ModelErrors, UnknownLayerType) {
  std::string message = ParseError(R"({"layers": [{"type": "input", "shape": [2]}, {"type": "dense2", "units": 3},
    {"type": "softmax"}]})");
  EXPECT_CONTAINS(message, "layers[1].type");
  EXPECT_CONTAINS(message, "unknown layer type 'dense2'");
  EXPECT_CONTAINS(message, "known types: input");
}

TEST(ModelErrors, UnknownParameter) {
  std::string message = ParseError(R"({"layers": [{"type": "input", "shape": [2]}, {"type": "dense", "unit": 3},
    {"type": "softmax"}]})");
  // 'units' is missing, reported first.
  EXPECT_CONTAINS(message, "layers[1]");
  EXPECT_CONTAINS(message, "'units' is missing");
  message = ParseError(R"({"layers": [{"type": "input", "shape": [2]}, {"type": "dense", "units": 3, "activation": "relu"},
    {"type": "softmax"}]})");
  EXPECT_CONTAINS(message, "layers[1].activation");
  EXPECT_CONTAINS(message, "unknown parameter 'activation'");
}

TEST(ModelErrors, ZeroOrNegativeSizes) {
  EXPECT_CONTAINS(ParseError(R"({"layers": [{"type": "input", "shape": [2]}, {"type": "dense", "units": 0},
    {"type": "softmax"}]})"), "layers[1].units: expected a positive integer, found number 0");
  EXPECT_CONTAINS(ParseError(R"({"layers": [{"type": "input", "shape": [2]}, {"type": "dense", "units": -5},
    {"type": "softmax"}]})"), "found number -5");
  EXPECT_CONTAINS(ParseError(R"({"layers": [{"type": "input", "shape": [0]}, {"type": "dense", "units": 2},
    {"type": "softmax"}]})"), "layers[0].shape[0]: expected a positive integer");
  EXPECT_CONTAINS(ParseError(R"({"layers": [{"type": "input", "shape": [2]}, {"type": "dense", "units": "ten"},
    {"type": "softmax"}]})"), "found string \"ten\"");
}

TEST(ModelErrors, ImpossibleShapes) {
  std::string message = ParseError(R"({"layers": [{"type": "input", "shape": [1, 28, 28]}, {"type": "dense", "units": 10},
    {"type": "softmax"}]})");
  EXPECT_CONTAINS(message, "layers[1] (dense 'dense_1') expects a vector input");
  EXPECT_CONTAINS(message, "produces 1x28x28");
  EXPECT_CONTAINS(message, "Add a flatten layer");
  EXPECT_CONTAINS(ParseError(R"({"layers": [{"type": "input", "shape": [2]}, {"type": "dense", "units": 1},
    {"type": "softmax"}]})"), "needs at least 2 classes");
  EXPECT_CONTAINS(ParseError(R"({"layers": [{"type": "dense", "units": 3}, {"type": "softmax"}]})"),
                  "first layer must be an input layer");
  EXPECT_CONTAINS(ParseError(R"({"layers": [{"type": "input", "shape": [2]}, {"type": "dense", "units": 3}]})"),
                  "last layer must be a loss head");
  EXPECT_CONTAINS(ParseError(R"({"layers": [{"type": "input", "shape": [2]}, {"type": "softmax"},
    {"type": "dense", "units": 3}, {"type": "softmax"}]})"), "must be the last layer");
}

TEST(ModelErrors, WrongVersionAndFormat) {
  EXPECT_CONTAINS(ParseError(R"({"format": "tensorscope-model", "version": 7, "layers": []})"), "version 1");
  EXPECT_CONTAINS(ParseError(R"({"format": "keras", "layers": []})"), "expected \"tensorscope-model\"");
  EXPECT_CONTAINS(ParseError(R"([1, 2, 3])"), "expected an object");
}

TEST(ModelErrors, DuplicateNames) {
  EXPECT_CONTAINS(ParseError(R"({"layers": [{"type": "input", "shape": [2]}, {"type": "dense", "units": 3, "name": "a"},
    {"type": "relu", "name": "a"}, {"type": "dense", "units": 3}, {"type": "softmax"}]})"), "two layers are named 'a'");
}

TEST(ModelErrors, MissingFile) {
  try {
    LoadModel("/nonexistent/model.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_CONTAINS(e.what(), "/nonexistent/model.json");
    EXPECT_CONTAINS(e.what(), "does not exist");
  }
}

TEST(TrainConfig, ParsesAndValidates) {
  TrainConfig config = ParseTrainConfig(nlohmann::json::parse(R"({"optimizer": "momentum", "learning_rate": 0.1,
    "batch_size": 8, "schedule": {"kind": "cosine", "warmup_epochs": 1}})"), "t");
  EXPECT_EQ(config.optimizer, kernels::OptimizerKind::kMomentum);
  EXPECT_EQ(config.batch_size, 8u);
  EXPECT_THROW(ParseTrainConfig(nlohmann::json::parse(R"({"optimizer": "rmsprop"})"), "t"), Error);
  EXPECT_THROW(ParseTrainConfig(nlohmann::json::parse(R"({"learning_rate": -1})"), "t"), Error);
  EXPECT_THROW(ParseTrainConfig(nlohmann::json::parse(R"({"batch_size": 0})"), "t"), Error);
  EXPECT_THROW(ParseTrainConfig(nlohmann::json::parse(R"({"learn_rate": 0.1})"), "t"), Error);
}

TEST(TrainConfig, Augmentation) {
  TrainConfig config = ParseTrainConfig(nlohmann::json::parse(R"({"augment": {"crop_padding": 4, "flip": true}})"), "t");
  EXPECT_EQ(config.augment_crop_padding, 4u);
  EXPECT_TRUE(config.augment_flip);
  TrainConfig again = ParseTrainConfig(TrainConfigToJson(config), "t");
  EXPECT_EQ(again.augment_crop_padding, 4u);
  EXPECT_TRUE(again.augment_flip);
  EXPECT_FALSE(TrainConfigToJson(TrainConfig{}).contains("augment"));
  try {
    ParseTrainConfig(nlohmann::json::parse(R"({"augment": {"crop_padding": -1}})"), "m.json: training");
    FAIL();
  } catch (const Error& e) {
    EXPECT_CONTAINS(e.what(), "m.json: training.augment.crop_padding");
    EXPECT_CONTAINS(e.what(), "0 to 64");
  }
  EXPECT_THROW(ParseTrainConfig(nlohmann::json::parse(R"({"augment": {"rotate": 10}})"), "t"), Error);
  EXPECT_THROW(ParseTrainConfig(nlohmann::json::parse(R"({"augment": {"flip": 1}})"), "t"), Error);
}

TEST(TrainConfig, Schedules) {
  TrainConfig config;
  config.learning_rate = 1.0;
  config.epochs = 10;
  EXPECT_DOUBLE_EQ(config.LearningRateAt(5.5), 1.0);
  config.schedule.kind = ScheduleKind::kStep;
  config.schedule.step_epochs = 3;
  config.schedule.gamma = 0.5;
  EXPECT_DOUBLE_EQ(config.LearningRateAt(2.9), 1.0);
  EXPECT_DOUBLE_EQ(config.LearningRateAt(3.0), 0.5);
  EXPECT_DOUBLE_EQ(config.LearningRateAt(6.5), 0.25);
  config.schedule = {};
  config.schedule.kind = ScheduleKind::kCosine;
  config.schedule.warmup_epochs = 2;
  EXPECT_NEAR(config.LearningRateAt(1.0), 0.5, 1e-6);    // half-way through warm-up
  EXPECT_NEAR(config.LearningRateAt(2.0), 1.0, 1e-6);    // warm-up done
  EXPECT_NEAR(config.LearningRateAt(6.0), 0.5, 1e-6);    // half-way through the cosine
  EXPECT_NEAR(config.LearningRateAt(10.0), 0.0, 1e-6);   // the end
}

}  // namespace
}  // namespace ts::nn
