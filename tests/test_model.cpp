// ModelDesc and TrainConfig: JSON round trip, shape inference, and the messages
// a person sees for every kind of bad model file.
#include <gtest/gtest.h>

#include <zlib.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "compute/common/error.h"
#include "compute/common/json_read.h"
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

// ---- Hostile files: nesting, numbers, sizes, long values, special files.

// `depth` levels of [ around 1.
std::string Nested(size_t depth) { return std::string(depth, '[') + "1" + std::string(depth, ']'); }

TEST(JsonRead, NestingBeyondTheLimitNamesTheByte) {
  EXPECT_NO_THROW(ParseJson(Nested(kMaxJsonDepth), "ok.json"));
  std::string message;
  try {
    ParseJson(" " + Nested(kMaxJsonDepth + 1), "deep.json");
  } catch (const Error& e) {
    message = e.what();
  }
  EXPECT_CONTAINS(message, "deep.json: nested deeper than 64 levels at byte 66 (line 1, column 66)");
  // Too many values: refused where the limit is passed, with the field.
  std::string values = "[0";
  for (uint64_t i = 1; i < kMaxJsonValues; ++i) values += ",0";
  try {
    ParseJson(values + "]", "many.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_CONTAINS(e.what(), "many.json: holds more than 200000 values (the next one at [199999])");
  }
  // Brackets inside strings are text, not nesting.
  EXPECT_NO_THROW(ParseJson("{\"a\": \"" + std::string(1000, '[') + "\\\"\"}", "strings.json"));
}

TEST(ModelErrors, DeepNestingAnywhereIsRefusedNotACrash) {
  // 60000 levels used to crash (a recursive dump() while building a message).
  const std::string deep = Nested(60000);
  for (const std::string& text :
       {R"({"layers": )" + deep + "}", R"({"layers": [{"type": "input", "shape": [2]}], "training": {"learning_rate": )" +
                                           deep + "}}"}) {
    std::string message = ParseError(text);
    EXPECT_CONTAINS(message, "model.json: nested deeper than 64 levels at byte");
  }
  try {
    ParseTrainConfig(ParseJson(R"({"learning_rate": )" + Nested(10) + "}", "t.json"), "t.json: training");
    FAIL();
  } catch (const Error& e) {
    EXPECT_CONTAINS(e.what(), "t.json: training.learning_rate: expected a number, found array [[[[");
    EXPECT_LT(std::string(e.what()).size(), 200u);
  }
}

TEST(ModelErrors, NumberOutOfRangeNamesTheField) {
  std::string message = ParseError(R"({"layers": [{"type": "input", "shape": [2]}, {"type": "dense", "units": 1e99999},
    {"type": "softmax"}]})");
  EXPECT_CONTAINS(message, "model.json: layers[1].units: number out of range at byte");
  EXPECT_CONTAINS(message, "found 1e99999");
  EXPECT_EQ(message.find("json.exception"), std::string::npos) << message;
  EXPECT_CONTAINS(ParseError(R"({"layers": [{"type": "input", "shape": [2]}, {"type": "dense", "units": 1e300},
    {"type": "softmax"}]})"), "layers[1].units: expected a positive integer, found number 1e+300");
  EXPECT_CONTAINS(ParseError(R"({"layers": [{"type": "input", "shape": [2]}, {"type": "dense", "units": 3}, tru]})"),
                  "not valid JSON at byte 80 (line 1, column 80), in layers[2]: syntax error");
}

TEST(ModelErrors, LongValuesAreCutInMessages) {
  const std::string huge(1 << 20, 'x');
  for (const std::string& text : {R"({"layers": [{"type": ")" + huge + R"("}]})",
                                  R"({"layers": [{"type": "input", "shape": [2], ")" + huge + R"(": 1}]})",
                                  R"({"layers": [{"type": "input", "shape": [2], "name": ")" + huge + R"("}]})",
                                  R"({"layers": [{"type": "input", "shape": [")" + huge + R"("]}]})",
                                  R"({"format": ")" + huge + R"("})", "[\"" + huge + "\"]", "\"" + huge}) {
    std::string message = ParseError(text);
    EXPECT_FALSE(message.empty());
    EXPECT_LT(message.size(), 400u) << message.substr(0, 400);
  }
}

TEST(ModelErrors, LayerCountAndSizesAreBounded) {
  std::string layers = R"({"type": "input", "shape": [2]})";
  for (size_t i = 0; i < kMaxModelLayers; ++i) layers += R"(, {"type": "relu"})";
  std::string message = ParseError(R"({"layers": [)" + layers + R"(, {"type": "softmax"}]})");
  EXPECT_CONTAINS(message, "1002 layers; a model may have at most 1000");
  // Four huge extents multiply past 2^64 (to 0): refused, not wrapped around.
  EXPECT_CONTAINS(ParseError(R"({"layers": [{"type": "input", "shape": [65536, 65536, 65536, 65536]},
    {"type": "flatten"}, {"type": "dense", "units": 2}, {"type": "softmax"}]})"),
                  "produces 65536x65536x65536x65536 per sample, more than 2147483647 elements");
  EXPECT_CONTAINS(ParseError(R"({"layers": [{"type": "input", "shape": [2147483647]},
    {"type": "dense", "units": 2147483647}, {"type": "softmax"}]})"), "a model may have at most 17179869184");
}

TEST(ModelErrors, SpecialFilesAreRefusedByName) {
  using Case = std::pair<std::string, std::string>;
  for (const auto& [path, kind] : std::vector<Case>{{"/dev/zero", "a character device"}, {"/tmp", "a folder"}}) {
    try {
      LoadModel(path);
      FAIL() << path;
    } catch (const Error& e) {
      EXPECT_CONTAINS(e.what(), path + ": expected a model file, found " + kind);
    }
    try {
      LoadCheckpoint(path);
      FAIL() << path;
    } catch (const Error& e) {
      EXPECT_CONTAINS(e.what(), path + ": expected a Tensorscope checkpoint, found " + kind);
    }
  }
}

TEST(TrainConfig, WrongTypesAreSentencesNamingTheField) {
  auto message = [](const char* text) {
    try {
      ParseTrainConfig(ParseJson(text, "m.json"), "m.json: training");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_CONTAINS(message(R"({"schedule": {"kind": 3}})"),
                  "m.json: training.schedule.kind: expected constant, step or cosine, found number 3");
  EXPECT_CONTAINS(message(R"({"data": ["spiral"]})"), "m.json: training.data: expected a dataset spec");
  EXPECT_CONTAINS(message(R"({"steps_per_submit": 1000000})"), "from 1 to 256, found 1000000");
  EXPECT_CONTAINS(message(R"([1, 2])"), "m.json: training: expected an object, found array [1, 2]");
  for (const char* text : {R"({"schedule": {"kind": 3}})", R"({"optimizer": {}})", R"({"augment": []})"})
    EXPECT_EQ(message(text).find("json.exception"), std::string::npos) << message(text);
}

TEST(TrainConfig, AnyDataPathSurvivesASave) {
  TrainConfig config;
  config.data = "/tmp/caf\xe9-latin1.csv";  // a Latin-1 file name: not UTF-8
  const nlohmann::json section = TrainConfigToJson(config);
  const std::string text = DumpJson(section, "ckpt");
  EXPECT_CONTAINS(text, "\"bytes_hex\"");
  EXPECT_EQ(ParseTrainConfig(ParseJson(text, "ckpt"), "ckpt").data, config.data);
  config.data = "spiral";
  EXPECT_EQ(TrainConfigToJson(config)["data"], "spiral");
  // A value written without that care is refused by name, not with nlohmann's type_error.316.
  nlohmann::json raw = {{"training", {{"data", "caf\xe9"}}}};
  try {
    DumpJson(raw, "out.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_CONTAINS(e.what(), "out.json: training.data is not valid UTF-8");
  }
}

// ---- Checkpoint headers: every field is checked, by every reader.

class CheckpointFile : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = ::testing::TempDir() + "/header_" + ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".ckpt";
    checkpoint_.model = ParseModel(kSpiral, "model.json");
    checkpoint_.config = TrainConfigToJson(TrainConfig{});  // adam: two state tensors
    checkpoint_.position = {2, 3, 40};
    uint64_t parameters = 0;  // the model's own count: the tensor table must match it
    for (const LayerShape& shape : InferShapes(checkpoint_.model)) parameters += shape.parameters;
    checkpoint_.parameters.assign(parameters, 0.5f);
    checkpoint_.optimizer_state.assign(2, std::vector<float>(parameters, 0.25f));
  }
  std::string Bytes() const {
    std::ifstream in(path_, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
  }
  // Writes `bytes` with a fresh CRC, so only the field under test is wrong.
  void WriteWithCrc(std::string bytes) const {
    const uint32_t crc = static_cast<uint32_t>(
        crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(bytes.size() - 4)));
    std::memcpy(bytes.data() + bytes.size() - 4, &crc, 4);
    std::ofstream(path_, std::ios::binary) << bytes;
  }
  std::string LoadError() const {
    try {
      LoadCheckpoint(path_);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }
  std::string path_;
  Checkpoint checkpoint_;
};

TEST_F(CheckpointFile, RoundTripWithoutBatchNormStatistics) {
  SaveCheckpoint(path_, checkpoint_);  // no statistics: an empty vector's data() is null
  Checkpoint loaded = LoadCheckpoint(path_);
  EXPECT_EQ(loaded.parameters, checkpoint_.parameters);
  EXPECT_EQ(loaded.optimizer_state, checkpoint_.optimizer_state);
  EXPECT_TRUE(loaded.statistics.empty());
  EXPECT_EQ(loaded.position.global_step, 40u);
}

TEST_F(CheckpointFile, ImpossibleHeaderFieldsAreRefused) {
  SaveCheckpoint(path_, checkpoint_);
  const std::string good = Bytes();
  auto with = [&](size_t offset, auto value) {
    std::string bytes = good;
    std::memcpy(bytes.data() + offset, &value, sizeof value);
    WriteWithCrc(bytes);
    return LoadError();
  };
  EXPECT_CONTAINS(with(44, uint32_t{0xffffffff}), "bytes 44-47 (epochs completed; the embedded config trains 5): "
                                                  "found 4294967295");
  EXPECT_CONTAINS(with(56, uint32_t{41}), "bytes 56-59 (step in the epoch");
  EXPECT_CONTAINS(with(48, uint64_t{4}), "bytes 48-55 (global step): found 4");
  EXPECT_CONTAINS(with(12, uint32_t{65}), "bytes 12-15 (header size): expected 72 for version 2, found 65");
  EXPECT_CONTAINS(with(32, uint64_t{1} << 40), "bytes 32-39 (parameter count)");
  EXPECT_CONTAINS(with(40, uint32_t{7}), "bytes 40-43 (optimizer state tensors): found 7");
  EXPECT_CONTAINS(with(16, uint64_t{1} << 62), "bytes 16-23 (model JSON size)");
}

TEST_F(CheckpointFile, EmbeddedConfigFollowsTheTrainingSectionRules) {
  checkpoint_.config = nlohmann::json::array({1, 2});
  SaveCheckpoint(path_, checkpoint_);
  EXPECT_CONTAINS(LoadError(), "(embedded training config, from byte");
  EXPECT_CONTAINS(LoadError(), "expected an object, found array [1, 2]");
  checkpoint_.config = TrainConfigToJson(TrainConfig{});
  checkpoint_.config["optimizer"] = "sgd";  // keeps no state, but the file holds two tensors
  SaveCheckpoint(path_, checkpoint_);
  EXPECT_CONTAINS(LoadError(), "found 2, but the embedded config's sgd keeps 0");
  checkpoint_.config = TrainConfigToJson(TrainConfig{});
  checkpoint_.config["learning_rate"] = nlohmann::json::parse(Nested(10));
  SaveCheckpoint(path_, checkpoint_);
  EXPECT_CONTAINS(LoadError(), "learning_rate: expected a number, found array");
}

TEST_F(CheckpointFile, DeepEmbeddedModelIsRefused) {
  SaveCheckpoint(path_, checkpoint_);
  std::string bytes = Bytes();
  uint64_t model_bytes;
  std::memcpy(&model_bytes, bytes.data() + 16, 8);
  const std::string deep = R"({"layers": )" + Nested(60000) + "}";
  bytes.replace(72, model_bytes, deep);
  model_bytes = deep.size();
  std::memcpy(bytes.data() + 16, &model_bytes, 8);
  WriteWithCrc(bytes);
  EXPECT_CONTAINS(LoadError(), "(embedded model, from byte 72): nested deeper than 64 levels");
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
