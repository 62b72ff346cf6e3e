// Project files, the LayerEdit -> ModelDesc conversion with per-row errors,
// data specs, the memory estimate, and the model panel and network diagram run
// headless (an ImGui context with a built font atlas and no renderer; input is
// set directly on ImGuiIO, as ImGui 1.86 has no input event queue).
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <string>
#include <tuple>
#include <vector>

#include "imgui.h"
#include "compute/common/error.h"
#include "compute/nn/model.h"
#include "compute/nn/presets.h"
#include "compute/nn/train_config.h"
#include "ui/panels/model_panel.h"
#include "ui/project.h"
#include "ui/widgets/network_diagram.h"

namespace ts::ui {
namespace {

namespace fs = std::filesystem;

// A fresh directory per test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::temp_directory_path() /
            ("tensorscope_test_project_" + std::string(info->name()) + "_" + std::to_string(getpid()));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

// The message of the ts::Error `action` throws ("" when it throws none).
std::string ErrorOf(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

::testing::AssertionResult ContainsAll(const std::string& text, std::initializer_list<std::string> parts) {
  for (const std::string& part : parts)
    if (text.find(part) == std::string::npos)
      return ::testing::AssertionFailure() << "\"" << text << "\" does not contain \"" << part << "\"";
  return ::testing::AssertionSuccess();
}

std::vector<std::string> Types(const Project& project) {
  std::vector<std::string> types;
  for (const LayerEdit& layer : project.layers) types.push_back(layer.type);
  return types;
}

Project MakeProject(std::vector<LayerEdit> layers) {
  Project project;
  project.layers = std::move(layers);
  return project;
}

// ---- Project files -----------------------------------------------------------

TEST(ProjectFile, SaveThenLoadGivesTheSameProject) {
  TempDir dir;
  Project project = DefaultProject();
  project.name = "round trip";
  project.layers[1].name = "hidden";
  project.layers[1].bias = false;
  project.layers[1].init = "xavier_normal";
  project.layers[2].type = "leaky_relu";
  project.layers[2].slope = "0.2";
  project.training.optimizer = kernels::OptimizerKind::kMomentum;
  project.training.learning_rate = 0.05;
  project.training.batch_size = 17;
  project.training.schedule.kind = nn::ScheduleKind::kCosine;
  project.data = {.kind = "moons", .samples = 321, .classes = 2, .noise = 0.05f, .seed = 9, .test_fraction = 0.3f};
  project.data.added_points = {{0.5f, -0.25f, 1}, {-1.0f, 1.0f, 0}};

  const std::string path = dir / "p.tsproj.json";
  SaveProject(project, path);
  Project loaded = LoadProject(path);
  EXPECT_EQ(ProjectToJson(loaded), ProjectToJson(project));
  EXPECT_EQ(loaded.name, "round trip");
  ASSERT_EQ(loaded.layers.size(), project.layers.size());
  EXPECT_EQ(loaded.layers[1].name, "hidden");
  EXPECT_FALSE(loaded.layers[1].bias);
  EXPECT_EQ(loaded.layers[1].init, "xavier_normal");
  EXPECT_EQ(loaded.layers[2].slope, "0.2");
  EXPECT_EQ(loaded.layers[3].name, "");  // default names stay implicit
  EXPECT_EQ(nn::TrainConfigToJson(loaded.training), nn::TrainConfigToJson(project.training));
  EXPECT_EQ(loaded.data.kind, "moons");
  EXPECT_EQ(loaded.data.samples, 321u);
  EXPECT_FLOAT_EQ(loaded.data.test_fraction, 0.3f);
  ASSERT_EQ(loaded.data.added_points.size(), 2u);
  EXPECT_FLOAT_EQ(loaded.data.added_points[0].y, -0.25f);
  EXPECT_EQ(loaded.data.added_points[0].label, 1u);

  // The model section is a model file as nn::ModelToJson writes it.
  nlohmann::json saved = nlohmann::json::parse(nn::ReadFile(path));
  nn::ModelDesc model = nn::ParseModel(saved["model"].dump(), "model section");
  EXPECT_EQ(saved["model"], nn::ModelToJson(model));
}

// Every field of a sequence model's rows (embedding, transformer blocks with
// their heads, MLP ratio, attention and epsilon, a tied head) and its text data
// survives saving and reopening: the reopened project is the same project.
TEST(ProjectFile, CharGptProjectRoundTripsEveryField) {
  TempDir dir;
  nn::ModelDesc model = nn::LoadModelOrPreset("char-gpt");
  Project project = ProjectFromModel(model, nn::ParseTrainConfig(model.training, "char-gpt: training"));
  EXPECT_EQ(project.data.kind, "kjv");
  EXPECT_EQ(project.data.context, 64u);
  ASSERT_EQ(project.layers.size(), 9u);
  EXPECT_EQ(project.layers[1].vocab, "73");
  EXPECT_EQ(project.layers[1].units, "128");
  EXPECT_EQ(project.layers[2].heads, "4");
  EXPECT_TRUE(project.layers[7].tied);
  project.layers[1].init = "normal_0.02";
  project.layers[3].attention = "fused";
  project.layers[3].mlp_ratio = "2";
  project.layers[3].epsilon = "1e-06";
  project.layers[4].heads = "x";  // invalid: kept as typed
  project.layers[6].epsilon = "0.0001";
  project.data.test_fraction = 0.05f;

  const std::string path = dir / "gpt.tsproj.json";
  SaveProject(project, path);
  Project loaded = LoadProject(path);
  EXPECT_EQ(ProjectToJson(loaded), ProjectToJson(project));
  ASSERT_EQ(loaded.layers.size(), project.layers.size());
  for (size_t i = 0; i < project.layers.size(); ++i) {
    SCOPED_TRACE("row " + std::to_string(i));
    const LayerEdit &a = loaded.layers[i], &b = project.layers[i];
    EXPECT_EQ(std::tie(a.type, a.name, a.units, a.init, a.epsilon, a.vocab, a.heads, a.mlp_ratio, a.attention, a.tied, a.bias),
              std::tie(b.type, b.name, b.units, b.init, b.epsilon, b.vocab, b.heads, b.mlp_ratio, b.attention, b.tied, b.bias));
  }
  EXPECT_EQ(nn::TrainConfigToJson(loaded.training), nn::TrainConfigToJson(project.training));
  EXPECT_EQ(DataSpecFor(loaded.data), "kjv:context=64,val_fraction=0.05");

  loaded.layers[4].heads = "4";
  std::string error;
  std::optional<nn::ModelDesc> built = BuildModel(loaded, &error);
  ASSERT_TRUE(built) << error;
  EXPECT_EQ(built->layers[1].init, kernels::InitKind::kNormal002);
  EXPECT_EQ(built->layers[3].attention, nn::AttentionChoice::kFused);
  EXPECT_EQ(built->layers[3].mlp_ratio, 2u);
  EXPECT_FLOAT_EQ(built->layers[3].epsilon, 1e-6f);
  EXPECT_FLOAT_EQ(built->layers[6].epsilon, 1e-4f);
  EXPECT_TRUE(built->layers[7].tied);
  EXPECT_EQ(nn::TokensPerSample(*built), 64u);
}

TEST(ProjectFile, InvalidTypedValuesSurviveSaveAndLoad) {
  TempDir dir;
  Project project = MakeProject({{.type = "input", .shape = "1x0"}, {.type = "dense", .units = "abc"},
                                 {.type = "leaky_relu", .slope = "2"}, {.type = "mse"}});
  SaveProject(project, dir / "bad.tsproj.json");
  Project loaded = LoadProject(dir / "bad.tsproj.json");
  EXPECT_EQ(loaded.layers[0].shape, "1x0");
  EXPECT_EQ(loaded.layers[1].units, "abc");
  EXPECT_EQ(loaded.layers[2].slope, "2");
  EXPECT_FALSE(BuildModel(loaded, nullptr));
  EXPECT_FALSE(loaded.layers[1].error.empty());
}

TEST(ProjectFile, MalformedJsonNamesTheFileAndByte) {
  TempDir dir;
  const std::string path = dir / "broken.tsproj.json";
  WriteText(path, "{\"format\": \"tensorscope-project\", \"version\": 1,, \"name\": \"x\"}");
  EXPECT_TRUE(ContainsAll(ErrorOf([&] { LoadProject(path); }), {path, "not valid JSON", "byte 48"}));
}

TEST(ProjectFile, TruncatedFileNamesTheFileAndByte) {
  TempDir dir;
  const std::string path = dir / "cut.tsproj.json";
  std::string text = ProjectToJson(DefaultProject()).dump(2);
  WriteText(path, text.substr(0, text.size() / 2));
  EXPECT_TRUE(ContainsAll(ErrorOf([&] { LoadProject(path); }), {path, "not valid JSON", "byte "}));
}

TEST(ProjectFile, WrongFieldTypesNameTheField) {
  nlohmann::json good = ProjectToJson(DefaultProject());
  auto error_with = [&](const std::function<void(nlohmann::json&)>& change) {
    nlohmann::json broken = good;
    change(broken);
    return ErrorOf([&] { ParseProject(broken.dump(), "p.tsproj.json"); });
  };
  EXPECT_TRUE(ContainsAll(error_with([](auto& j) { j["data"]["samples"] = "many"; }),
                          {"p.tsproj.json", "data.samples", "whole number", "\"many\""}));
  EXPECT_TRUE(ContainsAll(error_with([](auto& j) { j["data"]["kind"] = "faces"; }), {"data.kind", "faces", "spiral"}));
  EXPECT_TRUE(ContainsAll(error_with([](auto& j) { j["data"]["test_fraction"] = 1.5; }), {"data.test_fraction", "[0, 1)"}));
  EXPECT_TRUE(ContainsAll(error_with([](auto& j) { j["data"]["added_points"] = nlohmann::json::array({nlohmann::json::array({0.1, 0.2})}); }), {"data.added_points[0]"}));
  EXPECT_TRUE(ContainsAll(error_with([](auto& j) { j["model"]["layers"][1]["units"] = true; }), {"model.layers[1].units"}));
  EXPECT_TRUE(ContainsAll(error_with([](auto& j) { j["model"]["layers"][2]["type"] = "conv9d"; }),
                          {"model.layers[2].type", "conv9d"}));
  EXPECT_TRUE(ContainsAll(error_with([](auto& j) { j["training"]["batch_size"] = 0; }), {"training", "batch_size"}));
  EXPECT_TRUE(ContainsAll(error_with([](auto& j) { j["colour"] = "blue"; }), {"colour", "unknown field"}));
  EXPECT_TRUE(ContainsAll(error_with([](auto& j) { j["name"] = 5; }), {"p.tsproj.json: name", "expected a string"}));
}

TEST(ProjectFile, WrongVersionOrFormatIsRefused) {
  nlohmann::json project = ProjectToJson(DefaultProject());
  project["version"] = 2;
  EXPECT_TRUE(ContainsAll(ErrorOf([&] { ParseProject(project.dump(), "new.tsproj.json"); }),
                          {"new.tsproj.json", "version", "reads project version 1", "2"}));
  project["version"] = 1;
  project["format"] = "something-else";
  EXPECT_TRUE(ContainsAll(ErrorOf([&] { ParseProject(project.dump(), "f.json"); }), {"f.json", "format", "something-else"}));
  project.erase("format");
  EXPECT_TRUE(ContainsAll(ErrorOf([&] { ParseProject(project.dump(), "f.json"); }), {"f.json", "'format' is missing"}));
  EXPECT_TRUE(ContainsAll(ErrorOf([&] { LoadProject("/nonexistent/p.tsproj.json"); }), {"/nonexistent/p.tsproj.json"}));
}

TEST(ProjectFile, AModelFileOpensAsAProject) {
  TempDir dir;
  for (const nn::Preset& preset : nn::BuiltInPresets()) {
    SCOPED_TRACE(preset.name);
    WriteText(dir / "model.json", preset.json);
    Project project = LoadProject(dir / "model.json");
    nn::ModelDesc expected = nn::ParseModel(preset.json, "preset");
    EXPECT_EQ(project.name, expected.name);
    EXPECT_EQ(project.layers.size(), expected.layers.size());
    EXPECT_TRUE(BuildModel(project, nullptr));
  }
}

TEST(ProjectFile, SaveIsAtomicAndCreatesFolders) {
  TempDir dir;
  const std::string path = dir / "nested/deeper/p.tsproj.json";
  SaveProject(DefaultProject(), path);
  SaveProject(DefaultProject(), path);  // replacing an existing file
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(fs::path(path).parent_path())) files.push_back(entry.path().filename());
  EXPECT_EQ(files, std::vector<std::string>{"p.tsproj.json"});  // no .tmp left behind
  EXPECT_NO_THROW(LoadProject(path));
}

TEST(ProjectFile, AutosavePathFollowsXdgDataHome) {
  const char* xdg = std::getenv("XDG_DATA_HOME");
  const char* home = std::getenv("HOME");
  const std::string saved_xdg = xdg ? xdg : "", saved_home = home ? home : "";
  setenv("XDG_DATA_HOME", "/tmp/xdg-test", 1);
  EXPECT_EQ(AutosavePath(), "/tmp/xdg-test/tensorscope/autosave.tsproj.json");
  setenv("XDG_DATA_HOME", "", 1);
  setenv("HOME", "/home/someone", 1);
  EXPECT_EQ(AutosavePath(), "/home/someone/.local/share/tensorscope/autosave.tsproj.json");
  if (xdg) setenv("XDG_DATA_HOME", saved_xdg.c_str(), 1);
  else unsetenv("XDG_DATA_HOME");
  if (home) setenv("HOME", saved_home.c_str(), 1);
}

TEST(ProjectFile, AutosaverWritesChangesAndStartupRestoresThem) {
  TempDir dir;
  const std::string path = dir / "state/autosave.tsproj.json";
  AppState state;
  LoadStartupProject(state, path);  // no autosave yet: the default project
  EXPECT_EQ(state.project.name, "spiral-mlp");
  EXPECT_TRUE(state.model.has_value());

  Autosaver autosaver(path, 3.0);
  EXPECT_TRUE(autosaver.Tick(state, 0.0));    // first write
  EXPECT_FALSE(autosaver.Tick(state, 10.0));  // nothing changed
  state.project.layers[1].units = "12";
  state.project_path = "/somewhere/mine.tsproj.json";
  state.dirty = true;
  EXPECT_FALSE(autosaver.Tick(state, 11.0));  // too soon after the last check
  EXPECT_TRUE(autosaver.Tick(state, 13.5));
  state.project.name = "renamed";
  EXPECT_TRUE(autosaver.Flush(state));  // on exit: at once

  AppState restarted;
  LoadStartupProject(restarted, path);
  EXPECT_EQ(restarted.project.name, "renamed");
  EXPECT_EQ(restarted.project.layers[1].units, "12");
  EXPECT_EQ(restarted.project_path, "/somewhere/mine.tsproj.json");
  EXPECT_TRUE(restarted.dirty);
  EXPECT_TRUE(restarted.model.has_value());

  WriteText(path, "{ broken");
  AppState after_crash;
  LoadStartupProject(after_crash, path);  // falls back to the default, with a notice
  EXPECT_EQ(after_crash.project.name, "spiral-mlp");
  ASSERT_FALSE(after_crash.notices.empty());
  EXPECT_TRUE(ContainsAll(after_crash.notices.back().text, {path, "byte"}));
}

// ---- Conversions ---------------------------------------------------------------

TEST(BuildModel, DefaultProjectIsTheSpiralMlp) {
  Project project = DefaultProject();
  EXPECT_EQ(project.name, "spiral-mlp");
  EXPECT_EQ(Types(project),
            (std::vector<std::string>{"input", "dense", "relu", "dense", "relu", "dense", "softmax_cross_entropy"}));
  EXPECT_EQ(project.layers[1].units, "32");
  EXPECT_EQ(project.layers[5].units, "3");
  EXPECT_EQ(project.data.kind, "spiral");
  EXPECT_EQ(DataSpecFor(project.data), "spiral:samples=900,classes=3,noise=0.2,seed=1");
  EXPECT_EQ(project.training.batch_size, 32u);
  std::string error = "stale";
  std::optional<nn::ModelDesc> model = BuildModel(project, &error);
  ASSERT_TRUE(model) << error;
  EXPECT_EQ(error, "");
  EXPECT_EQ(model->layers[1].name, "dense_1");
  EXPECT_EQ(nn::InferShapes(*model).back().output, std::vector<uint32_t>{3});
  EXPECT_EQ(model->training["data"], "spiral:samples=900,classes=3,noise=0.2,seed=1");
}

TEST(BuildModel, EveryPresetConvertsBackToTheSameModel) {
  for (const nn::Preset& preset : nn::BuiltInPresets()) {
    SCOPED_TRACE(preset.name);
    nn::ModelDesc model = nn::ParseModel(preset.json, preset.name);
    Project project = ProjectFromModel(model, nn::ParseTrainConfig(model.training, "training"));
    std::optional<nn::ModelDesc> built = BuildModel(project, nullptr);
    ASSERT_TRUE(built);
    nlohmann::json a = nn::ModelToJson(*built), b = nn::ModelToJson(model);
    a.erase("training"), b.erase("training");
    EXPECT_EQ(a, b);
  }
}

// The error BuildModel sets on row `row` of a model with `layers`.
std::string RowError(std::vector<LayerEdit> layers, size_t row) {
  Project project = MakeProject(std::move(layers));
  std::string error;
  EXPECT_FALSE(BuildModel(project, &error));
  EXPECT_FALSE(error.empty());
  for (size_t i = 0; i < project.layers.size(); ++i)
    if (i != row) {
      EXPECT_EQ(project.layers[i].error, "") << "row " << i;
    }
  return project.layers[row].error;
}

std::vector<LayerEdit> Mlp(const std::string& units) {
  return {{.type = "input", .shape = "2"}, {.type = "dense", .units = units}, {.type = "relu"},
          {.type = "dense", .units = "3"}, {.type = "softmax_cross_entropy"}};
}

TEST(BuildModel, InvalidUnitsAreExplainedOnTheirRow) {
  EXPECT_TRUE(ContainsAll(RowError(Mlp("abc"), 1), {"units", "whole number", "\"abc\""}));
  EXPECT_TRUE(ContainsAll(RowError(Mlp("0"), 1), {"units", "at least 1", "found 0"}));
  EXPECT_TRUE(ContainsAll(RowError(Mlp("-3"), 1), {"units", "at least 1", "-3"}));
  EXPECT_TRUE(ContainsAll(RowError(Mlp(""), 1), {"units", "empty"}));
  EXPECT_TRUE(ContainsAll(RowError(Mlp("1.5"), 1), {"whole number"}));
  EXPECT_TRUE(ContainsAll(RowError(Mlp("99999999999"), 1), {"too large"}));
  Project ok = MakeProject(Mlp(" 12 "));  // surrounding spaces are fine
  EXPECT_TRUE(BuildModel(ok, nullptr));
}

TEST(BuildModel, InvalidShapesAndSlopesAreExplainedOnTheirRow) {
  auto with_input = [](const std::string& shape) {
    std::vector<LayerEdit> layers = Mlp("8");
    layers[0].shape = shape;
    return layers;
  };
  EXPECT_TRUE(ContainsAll(RowError(with_input("1x0"), 0), {"dimension 2", "\"1x0\"", "at least 1"}));
  EXPECT_TRUE(ContainsAll(RowError(with_input("two"), 0), {"shape", "\"two\""}));
  EXPECT_TRUE(ContainsAll(RowError(with_input("1x2x3x4x5"), 0), {"at most 4"}));
  std::vector<LayerEdit> leaky = Mlp("8");
  leaky[2] = {.type = "leaky_relu", .slope = "1"};
  EXPECT_TRUE(ContainsAll(RowError(leaky, 2), {"slope", "[0, 1)"}));
  leaky[2].slope = "steep";
  EXPECT_TRUE(ContainsAll(RowError(leaky, 2), {"slope", "\"steep\""}));
  leaky[2].slope = "0.1";
  Project ok = MakeProject(leaky);
  std::optional<nn::ModelDesc> model = BuildModel(ok, nullptr);
  ASSERT_TRUE(model);
  EXPECT_FLOAT_EQ(model->layers[2].leaky_slope, 0.1f);
}

TEST(BuildModel, DenseAfterAnImageWithoutFlattenMarksTheDenseRow) {
  std::vector<LayerEdit> layers = {{.type = "input", .shape = "1x28x28"}, {.type = "dense", .units = "128"},
                                   {.type = "relu"}, {.type = "dense", .units = "10"}, {.type = "softmax_cross_entropy"}};
  EXPECT_TRUE(ContainsAll(RowError(layers, 1), {"layers[1]", "1x28x28", "flatten"}));
  layers.insert(layers.begin() + 1, LayerEdit{.type = "flatten"});
  Project fixed = MakeProject(layers);
  EXPECT_TRUE(BuildModel(fixed, nullptr));
  for (const LayerEdit& layer : fixed.layers) EXPECT_EQ(layer.error, "");
}

TEST(BuildModel, StructuralAndNamingErrors) {
  std::vector<LayerEdit> layers = Mlp("8");
  layers[1].name = "same";
  layers[3].name = "same";
  EXPECT_TRUE(ContainsAll(RowError(layers, 3), {"'same'", "layers[1]", "unique"}));
  layers = Mlp("8");
  layers.pop_back();  // no loss head: the message names no row
  Project project = MakeProject(layers);
  std::string error;
  EXPECT_FALSE(BuildModel(project, &error));
  EXPECT_TRUE(ContainsAll(error, {"loss head"}));
  Project empty;
  EXPECT_FALSE(BuildModel(empty, &error));
  EXPECT_TRUE(ContainsAll(error, {"no layers"}));
  // Default names number rows by type, as nn::ParseModel does, and step
  // around a name the user gave another row.
  layers = Mlp("8");
  layers[1].name = "first";
  Project named = MakeProject(layers);
  std::optional<nn::ModelDesc> model = BuildModel(named, nullptr);
  ASSERT_TRUE(model);
  EXPECT_EQ(model->layers[3].name, "dense_2");
  layers[1].name = "";
  layers[3].name = "dense_1";
  Project renamed = MakeProject(layers);
  model = BuildModel(renamed, nullptr);
  ASSERT_TRUE(model);
  EXPECT_EQ(model->layers[1].name, "dense_1_2");
  EXPECT_EQ(model->layers[3].name, "dense_1");
}

TEST(BuildModel, EveryLayerTypeConvertsToItsOwnTypeName) {
  for (const char* type : {"input", "flatten", "dense", "relu", "leaky_relu", "sigmoid", "tanh", "gelu", "conv2d",
                           "max_pool2d", "avg_pool2d", "global_avg_pool", "dropout", "batch_norm", "embedding",
                           "layer_norm", "transformer_block", "softmax_cross_entropy", "mse", "bce_with_logits"}) {
    std::string error;
    std::optional<nn::LayerDesc> layer = LayerFromEdit({.type = type}, &error);
    ASSERT_TRUE(layer) << type << ": " << error;
    EXPECT_EQ(layer->TypeName(), type);
  }
  std::string error;
  EXPECT_FALSE(LayerFromEdit({.type = "conv3d"}, &error));
  EXPECT_TRUE(ContainsAll(error, {"conv3d"}));
  EXPECT_FALSE(LayerFromEdit({.type = "dense", .init = "orthogonal"}, &error));
  EXPECT_TRUE(ContainsAll(error, {"init", "orthogonal", "he_uniform"}));
}

TEST(BuildModel, ConvolutionLayersParseWhatTheUserTyped) {
  std::string error;
  std::optional<nn::LayerDesc> conv =
      LayerFromEdit({.type = "conv2d", .filters = "16", .kernel = "3x5", .stride = "2", .padding = "1x2"}, &error);
  ASSERT_TRUE(conv) << error;
  EXPECT_EQ(conv->filters, 16u);
  EXPECT_EQ(conv->kernel, (std::array<uint32_t, 2>{3, 5}));
  EXPECT_EQ(conv->stride, (std::array<uint32_t, 2>{2, 2}));
  EXPECT_EQ(conv->padding, nn::PaddingMode::kExplicit);
  EXPECT_EQ(conv->pad, (std::array<uint32_t, 2>{1, 2}));
  conv = LayerFromEdit({.type = "conv2d", .padding = "same"}, &error);
  ASSERT_TRUE(conv) << error;
  EXPECT_EQ(conv->padding, nn::PaddingMode::kSame);
  EXPECT_FALSE(LayerFromEdit({.type = "conv2d", .padding = "full"}, &error));
  EXPECT_TRUE(ContainsAll(error, {"padding", "valid", "same", "full"}));
  EXPECT_FALSE(LayerFromEdit({.type = "conv2d", .kernel = "0"}, &error));
  EXPECT_TRUE(ContainsAll(error, {"kernel", "at least 1"}));
  std::optional<nn::LayerDesc> pool = LayerFromEdit({.type = "avg_pool2d", .kernel = "3", .padding = "1"}, &error);
  ASSERT_TRUE(pool) << error;
  EXPECT_EQ(pool->pool, kernels::PoolKind::kAverage);
  EXPECT_EQ(pool->stride, (std::array<uint32_t, 2>{3, 3}));  // a pool's stride defaults to its window
  EXPECT_EQ(pool->pad, (std::array<uint32_t, 2>{1, 1}));
  EXPECT_FALSE(LayerFromEdit({.type = "dropout", .rate = "1"}, &error));
  EXPECT_TRUE(ContainsAll(error, {"rate", "[0, 1)"}));
}

TEST(BuildModel, CnnPresetRoundTripsThroughTheProject) {
  for (const nn::Preset& preset : nn::BuiltInPresets()) {
    SCOPED_TRACE(preset.name);
    nn::ModelDesc model = nn::ParseModel(preset.json, preset.name);
    Project project = ProjectFromModel(model, nn::ParseTrainConfig(model.training, preset.name));
    std::optional<nn::ModelDesc> built = BuildModel(project, nullptr);
    ASSERT_TRUE(built);
    EXPECT_EQ(nn::ModelToJson(*built)["layers"], nn::ModelToJson(model)["layers"]);
  }
}

TEST(BuildModel, PartialShapesStopAtTheFirstBadRow) {
  std::vector<LayerEdit> layers = Mlp("8");
  Project project = MakeProject(layers);
  std::vector<std::optional<nn::LayerShape>> shapes = PartialLayerShapes(project);
  ASSERT_EQ(shapes.size(), 5u);
  for (const auto& shape : shapes) EXPECT_TRUE(shape);
  EXPECT_EQ(shapes[1]->parameters, 2u * 8 + 8);
  EXPECT_EQ(shapes[1]->flops_per_sample, 2u * 2 * 8 + 8);

  project.layers[3].units = "x";
  shapes = PartialLayerShapes(project);
  EXPECT_TRUE(shapes[2]);
  EXPECT_EQ(shapes[2]->output, std::vector<uint32_t>{8});
  EXPECT_FALSE(shapes[3]);
  EXPECT_FALSE(shapes[4]);

  project = MakeProject({{.type = "input", .shape = "1x4x4"}, {.type = "dense", .units = "3"}, {.type = "mse"}});
  shapes = PartialLayerShapes(project);
  ASSERT_TRUE(shapes[0]);
  EXPECT_EQ(shapes[0]->output, (std::vector<uint32_t>{1, 4, 4}));
  EXPECT_FALSE(shapes[1]);  // InferShapes rejects it: dense after an image
}

TEST(DataSpec, EveryKindGivesARegistrySpec) {
  DataChoice data;
  EXPECT_EQ(DataSpecFor(data), "spiral:samples=900,classes=3,noise=0.2,seed=1");
  data.kind = "xor";
  data.samples = 400;
  EXPECT_EQ(DataSpecFor(data), "xor:samples=400,noise=0.2,seed=1");  // always 2 classes
  data.kind = "blobs";
  data.test_fraction = 0.5f;
  EXPECT_EQ(DataSpecFor(data), "blobs:samples=400,classes=3,noise=0.2,seed=1,test_samples=400");
  EXPECT_EQ(DataSpecFor({.kind = "mnist"}), "mnist");
  EXPECT_EQ(DataSpecFor({.kind = "fashion-mnist"}), "fashion-mnist");
  EXPECT_EQ(DataSpecFor({.kind = "iris", .seed = 4, .test_fraction = 0.25f}), "iris:test_fraction=0.25,seed=4");
  EXPECT_EQ(DataSpecFor({.kind = "csv", .path = "data/points.csv"}), "data/points.csv:test_fraction=0.2,seed=1");
  EXPECT_EQ(DataSpecFor({.kind = "csv", .path = "C:/odd:path.csv"}), "C:/odd:path.csv");
}

TEST(DataSpec, SpecsFromModelFilesBecomeDataChoices) {
  DataChoice spiral = DataChoiceFromSpec("spiral:samples=900,classes=3,noise=0.2");
  EXPECT_EQ(spiral.kind, "spiral");
  EXPECT_EQ(spiral.samples, 900u);
  EXPECT_EQ(spiral.classes, 3u);
  EXPECT_FLOAT_EQ(spiral.noise, 0.2f);
  EXPECT_FLOAT_EQ(spiral.test_fraction, 0.2f);
  DataChoice moons = DataChoiceFromSpec("moons");  // the registry's defaults
  EXPECT_EQ(moons.samples, 600u);
  EXPECT_EQ(moons.classes, 2u);
  EXPECT_EQ(DataChoiceFromSpec("mnist").kind, "mnist");
  DataChoice iris = DataChoiceFromSpec("iris:test_fraction=0.3,seed=7");
  EXPECT_EQ(iris.kind, "iris");
  EXPECT_FLOAT_EQ(iris.test_fraction, 0.3f);
  EXPECT_EQ(iris.seed, 7u);
  DataChoice csv = DataChoiceFromSpec("data/x.csv");
  EXPECT_EQ(csv.kind, "csv");
  EXPECT_EQ(csv.path, "data/x.csv");
  for (const char* spec : {"spiral:samples=123,classes=4,noise=0.3,seed=5", "xor:samples=50,noise=0.1,seed=2", "mnist",
                           "wine:test_fraction=0.4,seed=3", "data/y.csv:test_fraction=0.1,seed=2"})
    EXPECT_EQ(DataSpecFor(DataChoiceFromSpec(spec)), spec);
}

TEST(DataSpec, TextSpecsBecomeDataChoicesAndBack) {
  DataChoice kjv = DataChoiceFromSpec("kjv");
  EXPECT_EQ(kjv.kind, "kjv");
  EXPECT_EQ(kjv.context, 64u);
  EXPECT_FLOAT_EQ(kjv.test_fraction, 0.1f);
  EXPECT_EQ(DataSpecFor(kjv), "kjv:context=64");
  DataChoice text = DataChoiceFromSpec("text:/data/a:b.txt:context=32,val_fraction=0.05");
  EXPECT_EQ(text.kind, "text");
  EXPECT_EQ(text.path, "/data/a:b.txt");  // a ':' in the path stays in it
  EXPECT_EQ(text.context, 32u);
  EXPECT_FLOAT_EQ(text.test_fraction, 0.05f);
  EXPECT_EQ(DataChoiceFromSpec("text:notes.csv").kind, "text");  // not a CSV set
  EXPECT_EQ(DataChoiceFromSpec("text:notes.csv").path, "notes.csv");
  for (const char* spec : {"kjv:context=64", "kjv:context=8,val_fraction=0.3", "text:book.txt:context=128",
                           "text:/data/a:b.txt:context=32,val_fraction=0.05"})
    EXPECT_EQ(DataSpecFor(DataChoiceFromSpec(spec)), spec);
  EXPECT_EQ(DefaultDataChoice("text").path, "");
  EXPECT_EQ(DefaultDataChoice("kjv").context, 64u);
}

TEST(MemoryEstimate, CountsParametersStateAndActivations) {
  Project project = MakeProject(Mlp("8"));  // 2 -> 8 -> relu -> 3 -> loss
  std::vector<std::optional<nn::LayerShape>> shapes = PartialLayerShapes(project);
  const uint64_t parameters = (2 * 8 + 8) + (8 * 3 + 3);
  nn::MemoryUse adam = EstimateTrainingMemory(shapes, 10, kernels::OptimizerKind::kAdam);
  EXPECT_EQ(adam.parameters, parameters * 4);
  EXPECT_EQ(adam.gradients, parameters * 4);
  EXPECT_EQ(adam.optimizer_state, parameters * 4 * 2);
  EXPECT_EQ(adam.activations, (8 + 8 + 3 + 3) * 10 * 4u);
  EXPECT_EQ(adam.activation_gradients, adam.activations);
  EXPECT_EQ(adam.batch, (2 * 10 + 10) * 4u);
  EXPECT_EQ(EstimateTrainingMemory(shapes, 10, kernels::OptimizerKind::kSgd).optimizer_state, 0u);
  EXPECT_EQ(EstimateTrainingMemory(shapes, 10, kernels::OptimizerKind::kMomentum).optimizer_state, parameters * 4);
}

TEST(LayerEdits, InsertMoveDuplicateRemove) {
  AppState state;
  state.project = MakeProject(Mlp("8"));
  EXPECT_EQ(InsertLayer(state, -1, "tanh"), 4u);  // before the loss head
  EXPECT_TRUE(state.dirty);
  EXPECT_EQ(InsertLayer(state, 0, "dense"), 1u);  // after the input
  EXPECT_EQ(Types(state.project), (std::vector<std::string>{"input", "dense", "dense", "relu", "dense", "tanh",
                                                            "softmax_cross_entropy"}));
  EXPECT_TRUE(state.model);  // dense 16 -> dense 8 is fine
  MoveLayer(state, 5, 3);
  EXPECT_EQ(state.project.layers[3].type, "tanh");
  DuplicateLayer(state, 1);
  EXPECT_EQ(state.project.layers[2].type, "dense");
  RemoveLayer(state, 0);
  EXPECT_FALSE(state.model);  // no input layer any more
  EXPECT_FALSE(state.model_error.empty());
  RemoveLayer(state, 100);  // out of range: ignored
  EXPECT_EQ(state.project.layers.size(), 7u);
}

// ---- Headless ImGui --------------------------------------------------------------

class HeadlessImGui : public ::testing::Test {
 protected:
  void SetUp() override {
    ImGui::CreateContext();
    ImGuiIO& io = ImGui::GetIO();
    io.DisplaySize = ImVec2(1400, 900);
    io.IniFilename = nullptr;
    io.BackendFlags |= ImGuiBackendFlags_RendererHasVtxOffset;  // as the Vulkan backend (large meshes)
    unsigned char* pixels = nullptr;
    int width = 0, height = 0;
    io.Fonts->GetTexDataAsRGBA32(&pixels, &width, &height);
  }
  void TearDown() override { ImGui::DestroyContext(); }

  void Frame(const std::function<void()>& draw) {
    ImGui::GetIO().DeltaTime = 1.0f / 60;
    ImGui::NewFrame();
    draw();
    ImGui::Render();
  }
};

// A snapshot of a 2 -> 8 -> relu -> 3 model, packed as the trainer sends it.
nn::Snapshot FakeSnapshot(uint32_t resolution) {
  nn::Snapshot snapshot;
  snapshot.layout = {{"dense_1.weight", {2, 8}, 0, 16}, {"dense_1.bias", {8}, 64, 8},
                     {"dense_2.weight", {8, 3}, 128, 24}, {"dense_2.bias", {3}, 192, 3}};
  for (int i = 0; i < 51; ++i) snapshot.parameters.push_back(static_cast<float>(i % 7) - 3.0f);
  snapshot.boundary_resolution = resolution;
  snapshot.classes = 3;
  snapshot.boundary.assign(resolution * resolution * 3, 1.0f / 3);
  nn::Snapshot::HiddenLayer hidden{.name = "relu_1", .layer = 2, .units = 8};
  for (uint32_t i = 0; i < resolution * resolution * 8; ++i) hidden.activations.push_back(static_cast<float>(i % 11) * 0.1f);
  snapshot.hidden.push_back(hidden);
  return snapshot;
}

nn::ModelDesc BuiltModel(std::vector<LayerEdit> layers) {
  Project project = MakeProject(std::move(layers));
  std::string error;
  std::optional<nn::ModelDesc> model = BuildModel(project, &error);
  EXPECT_TRUE(model) << error;
  return model.value_or(nn::ModelDesc{});
}

TEST(NetworkDiagram, FindsPackedWeightsAndHiddenMaps) {
  nn::Snapshot snapshot = FakeSnapshot(4);
  std::optional<WeightView> second = FindWeights(snapshot, "dense_2.weight", 8, 3);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->values.data(), snapshot.parameters.data() + 24);  // 16 + 8 before it, not the padded 128
  EXPECT_EQ(second->w(1, 2), snapshot.parameters[24 + 1 * 3 + 2]);
  EXPECT_FALSE(FindWeights(snapshot, "dense_2.weight", 3, 8));  // wrong shape: a stale snapshot
  EXPECT_FALSE(FindWeights(snapshot, "dense_9.weight", 8, 3));
  snapshot.parameters.resize(30);
  EXPECT_FALSE(FindWeights(snapshot, "dense_2.weight", 8, 3));  // runs past the data
  EXPECT_TRUE(FindHiddenLayer(snapshot, "relu_1", 8));
  EXPECT_FALSE(FindHiddenLayer(snapshot, "relu_1", 7));

  EXPECT_TRUE(UsesNeuronView(BuiltModel(Mlp("8"))));
  EXPECT_FALSE(UsesNeuronView(BuiltModel(Mlp("64"))));
  EXPECT_FALSE(UsesNeuronView(BuiltModel(Mlp("8")), {.force_block_diagram = true}));
}

// The panel placed as the app places it (the panel leaves placement to the app).
void DrawPlacedModelPanel(AppState& state) {
  ImGui::SetNextWindowPos(ImVec2(0, 0), ImGuiCond_FirstUseEver);
  ImGui::SetNextWindowSize(ImVec2(480, 880), ImGuiCond_FirstUseEver);
  DrawModelPanel(state);
}

TEST_F(HeadlessImGui, ModelPanelDrawsEveryKindOfProject) {
  AppState state;
  state.project = DefaultProject();
  RebuildModel(state);
  for (int frame = 0; frame < 3; ++frame) Frame([&] { DrawPlacedModelPanel(state); });

  state.project = ProjectFromModel(nn::LoadModelOrPreset("mnist-mlp"), {});
  RebuildModel(state);
  for (int frame = 0; frame < 3; ++frame) Frame([&] { DrawPlacedModelPanel(state); });

  state.project.layers[2].units = "-3";  // an invalid row and a structural error
  state.project.layers.erase(state.project.layers.begin() + 1);
  RebuildModel(state);
  EXPECT_FALSE(state.model);
  for (int frame = 0; frame < 3; ++frame) Frame([&] { DrawPlacedModelPanel(state); });

  state.project.layers.clear();  // nothing at all
  state.model.reset();
  state.model_error.clear();
  for (int frame = 0; frame < 3; ++frame) Frame([&] { DrawPlacedModelPanel(state); });
  EXPECT_FALSE(state.model_error.empty());  // the panel rebuilt it
}

TEST_F(HeadlessImGui, DiagramDrawsSmallAndLargeModelsWithAndWithoutSnapshots) {
  const nn::ModelDesc small = BuiltModel(Mlp("8"));
  const nn::ModelDesc large = nn::LoadModelOrPreset("mnist-mlp");
  const nn::Snapshot snapshot = FakeSnapshot(16);
  nn::Snapshot stale = FakeSnapshot(16);
  stale.layout[0].shape = {3, 8};  // from another model
  // Sweep the mouse over the window so the neuron and box tooltips are drawn too.
  for (int frame = 0; frame < 40; ++frame) {
    ImGui::GetIO().MousePos = ImVec2(20.0f + (frame % 8) * 70.0f, 40.0f + (frame / 8) * 60.0f);
    Frame([&] {
      ImGui::SetNextWindowPos(ImVec2(0, 0));
      ImGui::SetNextWindowSize(ImVec2(620, 880));
      ImGui::Begin("diagram");
      DrawNetworkDiagram(small, frame % 3 == 0 ? nullptr : frame % 3 == 1 ? &snapshot : &stale, ImVec2(600, 300),
                         {.id = "small"});
      DrawNetworkDiagram(large, &snapshot, ImVec2(0, 200), {.id = "large", .highlight_layer = 2});
      DrawNetworkDiagram(small, &snapshot, ImVec2(120, 80), {.id = "boxes", .highlight_layer = 1, .force_block_diagram = true});
      DrawNetworkDiagram(nn::ModelDesc{}, nullptr, ImVec2(0, 0), {.id = "empty"});
      ImGui::End();
    });
  }
}

TEST_F(HeadlessImGui, ClickingAPaletteButtonAddsALayer) {
  AppState state;
  state.project = DefaultProject();
  RebuildModel(state);
  Frame([&] { DrawPlacedModelPanel(state); });
  ImVec2 min, max;
  ASSERT_TRUE(PaletteButtonRect("tanh", &min, &max));
  const ImVec2 centre((min.x + max.x) / 2, (min.y + max.y) / 2);
  ImGuiIO& io = ImGui::GetIO();
  const size_t before = state.project.layers.size();
  io.MousePos = centre;  // hover, press, release: ImGui buttons fire on release
  Frame([&] { DrawPlacedModelPanel(state); });
  io.MouseDown[0] = true;
  Frame([&] { DrawPlacedModelPanel(state); });
  io.MouseDown[0] = false;
  Frame([&] { DrawPlacedModelPanel(state); });
  ASSERT_EQ(state.project.layers.size(), before + 1);
  EXPECT_EQ(state.project.layers[before - 1].type, "tanh");  // just before the loss head
  EXPECT_EQ(state.project.layers.back().type, "softmax_cross_entropy");
  EXPECT_TRUE(state.dirty);
  EXPECT_TRUE(state.model);
}

TEST_F(HeadlessImGui, DiscardPromptProceedsAtOnceWhenNothingIsUnsaved) {
  AppState state;
  state.project = DefaultProject();
  DiscardChoice clean = DiscardChoice::kPending, dirty = DiscardChoice::kProceed;
  Frame([&] { clean = ConfirmDiscardChanges(state, "quit"); });
  EXPECT_EQ(clean, DiscardChoice::kProceed);
  state.dirty = true;
  for (int frame = 0; frame < 2; ++frame) Frame([&] { dirty = ConfirmDiscardChanges(state, "quit"); });
  EXPECT_EQ(dirty, DiscardChoice::kPending);  // waiting for the user
  EXPECT_EQ(WindowTitle(state), "Tensorscope \xE2\x80\x94 spiral-mlp*");
}

}  // namespace
}  // namespace ts::ui
