// The window's run, without a window: which data and which run a project
// means (ui/run.h), the data-fit rule shared by the GUI, the CLI and the
// Trainer, the loss watch, Open's handling of checkpoints and foreign files,
// numbers saved as typed, and the run history kept across a restart.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "compute/common/number_text.h"
#include "compute/data/synthetic.h"
#include "compute/interop/onnx_export.h"
#include "compute/nn/checkpoint.h"
#include "compute/nn/data_fit.h"
#include "compute/nn/loss_watch.h"
#include "compute/nn/presets.h"
#include "compute/nn/train_config.h"
#include "support/temp_files.h"
#include "ui/project.h"
#include "ui/controller.h"
#include "ui/run.h"
#include "ui/run_history.h"

namespace ts {
namespace {

nn::ModelDesc Model(const std::string& layers) {
  return nn::ParseModel(R"({"name": "m", "layers": [)" + layers + "]}", "test model");
}

TEST(DataFit, OutputsMustEqualTheClassesWhenTraining) {
  nn::ModelDesc model = Model(R"({"type": "input", "shape": [2]}, {"type": "dense", "units": 8}, {"type": "relu"},
                                 {"type": "dense", "units": 16}, {"type": "softmax"})");
  auto problem = nn::CheckDataFit(model, {2}, 3, "spiral:train");
  ASSERT_TRUE(problem);
  EXPECT_EQ(problem->layer, 3u);
  EXPECT_EQ(problem->message, "dense_2 has 16 outputs, the data 'spiral:train' has 3 classes: set its units to 3.");
  // Fewer outputs than classes, too.
  EXPECT_TRUE(nn::CheckDataFit(model, {2}, 17, "d"));
  EXPECT_FALSE(nn::CheckDataFit(model, {2}, 16, "d"));
  // Evaluating a set with fewer classes than outputs is fine; a prediction checks only the input.
  EXPECT_FALSE(nn::CheckDataFit(model, {2}, 3, "d", nn::FitRule::kEvaluation));
  EXPECT_TRUE(nn::CheckDataFit(model, {2}, 17, "d", nn::FitRule::kEvaluation));
  EXPECT_FALSE(nn::CheckDataFit(model, {2}, 1, "d", nn::FitRule::kPrediction));
}

TEST(DataFit, TheInputLayerNamesBothShapes) {
  nn::ModelDesc model = Model(R"({"type": "input", "shape": [2]}, {"type": "dense", "units": 8}, {"type": "softmax"})");
  auto problem = nn::CheckDataFit(model, {1, 28, 28}, 8, "shapes:train");
  ASSERT_TRUE(problem);
  EXPECT_EQ(problem->layer, 0u);
  EXPECT_NE(problem->message.find("takes inputs of shape 2 (2 values), the data 'shapes:train' has samples of shape "
                                  "1x28x28 (784 values)"),
            std::string::npos)
      << problem->message;
  // The same values in another shape fit (a flat input of 784 takes 1x28x28 images).
  nn::ModelDesc flat = Model(R"({"type": "input", "shape": [784]}, {"type": "dense", "units": 8}, {"type": "softmax"})");
  EXPECT_FALSE(nn::CheckDataFit(flat, {1, 28, 28}, 8, "shapes:train"));
}

TEST(DataFit, ASingleOutputTakesTwoClasses) {
  nn::ModelDesc model =
      Model(R"({"type": "input", "shape": [2]}, {"type": "dense", "units": 1}, {"type": "bce_with_logits"})");
  EXPECT_FALSE(nn::CheckDataFit(model, {2}, 2, "xor"));
  auto problem = nn::CheckDataFit(model, {2}, 3, "spiral");
  ASSERT_TRUE(problem);
  EXPECT_NE(problem->message.find("1 output"), std::string::npos) << problem->message;
}

TEST(LossWatch, WarnsOnceWhenTheLossRisesTenfoldAndAgainAfterItFell) {
  nn::LossWatch watch(100);
  uint64_t step = 0;
  for (int i = 0; i < 50; ++i) EXPECT_FALSE(watch.Add(step++, 0.1));
  std::optional<std::string> warning;
  for (int i = 0; i < 100 && !warning; ++i) warning = watch.Add(step++, 2.0);
  ASSERT_TRUE(warning);
  EXPECT_NE(warning->find("The loss is rising"), std::string::npos) << *warning;
  EXPECT_NE(warning->find("learning rate may be too high"), std::string::npos) << *warning;
  for (int i = 0; i < 20; ++i) EXPECT_FALSE(watch.Add(step++, 5.0)) << "warned twice";
  // Back down, then up again: a second warning.
  for (int i = 0; i < 60; ++i) watch.Add(step++, 0.1);
  warning.reset();
  for (int i = 0; i < 100 && !warning; ++i) warning = watch.Add(step++, 3.0);
  EXPECT_TRUE(warning);
}

TEST(LossWatch, AFallingOrNoisyLossIsQuiet) {
  nn::LossWatch watch(50);
  uint64_t step = 0;
  for (int i = 0; i < 500; ++i) {
    double loss = 2.0 / (1 + i * 0.05) * (i % 2 ? 1.6 : 0.6);  // falls, with a factor-of-2.7 wobble
    EXPECT_FALSE(watch.Add(step++, loss)) << i;
  }
  // A rise slower than the window is not "tenfold over an epoch".
  nn::LossWatch slow(20);
  double loss = 0.01;
  for (int i = 0; i < 400; ++i, loss *= 1.02) EXPECT_FALSE(slow.Add(i, loss)) << i;
  // Near a perfect fit a tenfold rise is noise: 3e-5 to 3e-4 says nothing.
  nn::LossWatch fitted(25);
  for (int i = 0; i < 50; ++i) EXPECT_FALSE(fitted.Add(i, 3e-5)) << i;
  for (int i = 50; i < 150; ++i) EXPECT_FALSE(fitted.Add(i, 3e-4)) << i;
  EXPECT_FALSE(watch.Add(step++, std::nan("")));
}

TEST(LossWatch, SpikesNearAPerfectFitAreQuiet) {
  // A long spiral run with Adam: the loss sits near 1e-4 and a batch now and
  // then jumps to 0.1-0.5, sometimes two or three in a row. A running mean
  // rose past 0.01 and tenfold its low at each one (a 100 000-epoch run in the
  // window warned "the loss is rising" while it showed a loss of 0.002).
  nn::LossWatch watch(25);
  uint64_t step = 0;
  for (int i = 0; i < 2000; ++i) {
    const int phase = i % 40;
    const double loss = phase == 10 ? 0.5 : phase == 25 || phase == 26 || phase == 27 ? 0.2 : 1e-4 * (1 + i % 3);
    EXPECT_FALSE(watch.Add(step++, loss)) << "step " << i << ", loss " << loss;
  }
  // Tens of epochs in (spiral: loss 1.1 at the start), some stretches of
  // batches are harder than others: their median goes from 0.001 to 0.02,
  // tenfold and above 0.01, but a twentieth of where the run started.
  nn::LossWatch fitting(25);
  for (int i = 0; i < 15; ++i) EXPECT_FALSE(fitting.Add(i, 1.1));
  for (int i = 15; i < 1000; ++i) EXPECT_FALSE(fitting.Add(i, i % 25 < 12 ? 0.001 : 0.02)) << "step " << i;
  // The same run going wrong: most batches rise, and it says so.
  std::optional<std::string> warning;
  for (int i = 0; i < 40 && !warning; ++i) warning = watch.Add(step++, i % 4 ? 0.3 : 1e-4);
  EXPECT_TRUE(warning);
}

TEST(NumberText, FloatsAreWrittenAsTyped) {
  EXPECT_EQ(ShortestDouble(0.2f), 0.2);
  EXPECT_EQ(ShortestDouble(1e-5f), 1e-5);
  EXPECT_EQ(ShortestDouble(0.15f), 0.15);
  ui::Project project = ui::DefaultProject();
  project.data.noise = 0.2f;
  project.data.test_fraction = 0.3f;
  project.training.hyper.weight_decay = 0.0005f;
  project.training.hyper.momentum = 0.95f;
  const std::string text = ui::ProjectToJson(project).dump();
  EXPECT_NE(text.find("\"noise\":0.2,"), std::string::npos) << text;
  EXPECT_NE(text.find("\"test_fraction\":0.3}"), std::string::npos) << text;
  EXPECT_NE(text.find("\"weight_decay\":0.0005"), std::string::npos) << text;
  EXPECT_NE(text.find("\"momentum\":0.95"), std::string::npos) << text;
  EXPECT_EQ(text.find("0000000"), std::string::npos) << text;
}

TEST(DataChoice, APickedDataSetStartsFromItsOwnDefaults) {
  ui::DataChoice shapes = ui::DefaultDataChoice("shapes");
  EXPECT_EQ(shapes.kind, "shapes");
  EXPECT_EQ(shapes.samples, 10000u);
  EXPECT_EQ(shapes.classes, 8u);
  ui::DataChoice spiral = ui::DefaultDataChoice("spiral");  // what a bare "spiral" spec generates
  EXPECT_EQ(spiral.samples, data::SyntheticOptions{}.samples);
  EXPECT_EQ(spiral.classes, 3u);
  EXPECT_EQ(ui::DefaultDataChoice("xor").classes, 2u);
  EXPECT_EQ(ui::DefaultDataChoice("csv").path, "");
}

TEST(RunIdentity, EditsThatChangeTheRunChangeIt) {
  ui::AppState state;
  state.project = ui::DefaultProject();
  ui::RebuildModel(state);
  const ui::RunIdentity before = ui::CurrentRunIdentity(state);
  EXPECT_FALSE(before.model.empty());
  // The learning rate, epochs and optimizer are settings of the same run.
  state.project.training.learning_rate = 0.5;
  state.project.training.epochs = 99;
  EXPECT_EQ(ui::CurrentRunIdentity(state), before);
  // The name is not part of the run either.
  state.project.name = "renamed";
  ui::RebuildModel(state);
  EXPECT_EQ(ui::CurrentRunIdentity(state), before);
  // Data, a clicked point, the seed and the model are.
  ui::AppState other = state;
  other.project.data = ui::DefaultDataChoice("shapes");
  EXPECT_NE(ui::CurrentRunIdentity(other), before);
  other = state;
  other.project.data.added_points.push_back({0.1f, 0.2f, 1});
  EXPECT_NE(ui::CurrentRunIdentity(other), before);
  other = state;
  other.project.training.seed = 7;
  EXPECT_NE(ui::CurrentRunIdentity(other), before);
  other = state;
  other.project.layers[1].units = "17";
  ui::RebuildModel(other);
  EXPECT_NE(ui::CurrentRunIdentity(other), before);
  // An image folder's test split and seed are the data's, whatever the model's input
  // (the panel's test split once changed nothing for a flat input, nor reloaded the data).
  for (const char* input : {"784", "1x28x28"}) {
    SCOPED_TRACE(input);
    other = state;
    other.project.data = ui::DefaultDataChoice("images");
    other.project.data.path = "/data/pets";
    other.project.layers[0].shape = input;
    ui::RebuildModel(other);
    const std::string spec = ui::LoadedDataSpec(other);
    EXPECT_NE(spec.find("test_fraction=0.2,seed=1"), std::string::npos) << spec;
    ui::AppState resplit = other;
    resplit.project.data.test_fraction = 0.3f;
    EXPECT_NE(ui::DataLoadKey(resplit), ui::DataLoadKey(other));
    EXPECT_NE(ui::LoadedDataSpec(resplit).find("test_fraction=0.3,"), std::string::npos) << ui::LoadedDataSpec(resplit);
  }
}

TEST(RunIdentity, EditsAreLockedOnlyWhileTraining) {
  ui::AppState state;
  for (auto s : {nn::SessionState::kEmpty, nn::SessionState::kReady, nn::SessionState::kFinished,
                 nn::SessionState::kFailed}) {
    state.training.state = s;
    EXPECT_EQ(ui::WhyEditsAreLocked(state), "") << nn::SessionStateName(s);
  }
  state.training.state = nn::SessionState::kRunning;
  EXPECT_NE(ui::WhyEditsAreLocked(state).find("Stop it to change the model or the data"), std::string::npos);
  state.training.state = nn::SessionState::kPaused;
  EXPECT_NE(ui::WhyEditsAreLocked(state), "");
}

class OpenFile : public testing::TempDirTest {};

TEST_F(OpenFile, AFileThatIsNoProjectSaysWhatWasExpectedAndFound) {
  const std::string png = WriteBytes("picture.png", {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0});
  EXPECT_TRUE(testing::ThrowsErrorWith([&] { ui::OpenProjectFile(png); },
                                       {"picture.png", "not a Tensorscope project, model or checkpoint",
                                        "TSCKPT01", "found \"\\x89PNG"}));
  const std::string empty = WriteText("empty.tsproj.json", "");
  EXPECT_TRUE(testing::ThrowsErrorWith([&] { ui::OpenProjectFile(empty); }, {"empty.tsproj.json", "an empty file"}));
  // Malformed JSON names the byte, without nlohmann's raw "[json.exception...]" text.
  const std::string broken = WriteText("broken.tsproj.json", "{\"format\": \"tensorscope-project\", \"version\": 1,,}");
  try {
    ui::OpenProjectFile(broken);
    FAIL() << "no error";
  } catch (const Error& e) {
    std::string message = e.what();
    EXPECT_NE(message.find("broken.tsproj.json: not valid JSON at byte"), std::string::npos) << message;
    EXPECT_EQ(message.find("json.exception"), std::string::npos) << message;
  }
  EXPECT_TRUE(testing::ThrowsErrorWith([&] { ui::OpenProjectFile(PathOf("missing.ckpt")); },
                                       {"missing.ckpt", "cannot be opened"}));
}

TEST_F(OpenFile, ACheckpointOpensAsItsModelWithItsNetwork) {
  nn::ModelDesc model = nn::LoadModelOrPreset("spiral-mlp");
  nn::TrainConfig config = nn::ParseTrainConfig(model.training, "preset: training");
  config.learning_rate = 0.02;
  nn::Checkpoint checkpoint;
  checkpoint.model = model;
  checkpoint.config = nn::TrainConfigToJson(config);
  checkpoint.position = {2, 0, 50};
  checkpoint.parameters.assign(1251, 0.5f);
  checkpoint.optimizer_state.assign(2, std::vector<float>(1251, 0.0f));
  const std::string path = PathOf("run.ckpt");
  nn::SaveCheckpoint(path, checkpoint);
  ui::OpenedFile opened = ui::OpenProjectFile(path);
  ASSERT_TRUE(opened.checkpoint);
  EXPECT_EQ(opened.project_path, "") << "Save must not overwrite the checkpoint with a project";
  EXPECT_EQ(opened.project.training.learning_rate, 0.02);
  EXPECT_EQ(opened.project.layers.size(), model.layers.size());
  EXPECT_NE(opened.note.find("Opened the checkpoint"), std::string::npos) << opened.note;
  EXPECT_NE(opened.note.find("epoch 3"), std::string::npos) << opened.note;
  EXPECT_EQ(opened.checkpoint->position.global_step, 50u);
}

TEST_F(OpenFile, ProjectsAndModelsOpenAsBefore) {
  const std::string project_path = PathOf("a.tsproj.json");
  ui::SaveProject(ui::DefaultProject(), project_path);
  ui::OpenedFile project = ui::OpenProjectFile(project_path);
  EXPECT_EQ(project.project_path, project_path);
  EXPECT_FALSE(project.checkpoint);
  std::string preset_json;
  for (const nn::Preset& preset : nn::BuiltInPresets())
    if (std::string(preset.name) == "spiral-mlp") preset_json = preset.json;
  const std::string model_path = WriteText("m.json", preset_json);
  ui::OpenedFile model = ui::OpenProjectFile(model_path);
  EXPECT_EQ(model.project_path, "");
  EXPECT_EQ(ui::ProjectNameFromPath("/x/my model.tsproj.json"), "my model");
  EXPECT_EQ(ui::ProjectNameFromPath("net.json"), "net");
}

// An ONNX file of `model` with every parameter 0.25 (the window's Open reads it).
size_t ParameterCount(const nn::ModelDesc& model) {
  size_t count = 0;
  for (const nn::LayerShape& shape : nn::InferShapes(model)) count += shape.parameters;
  return count;
}
std::string OnnxOf(const nn::ModelDesc& model) {
  return interop::ExportOnnx(model, std::vector<float>(ParameterCount(model), 0.25f), {});
}

TEST_F(OpenFile, AnOnnxModelOpensAsItsImportWithDataThatFitsIt) {
  const nn::ModelDesc spiral = nn::LoadModelOrPreset("spiral-mlp");
  const std::string path = WriteText("spiral net.onnx", OnnxOf(spiral));
  ui::OpenedFile opened = ui::OpenProjectFile(path);
  ASSERT_TRUE(opened.checkpoint);
  EXPECT_EQ(opened.project_path, "") << "Save must not overwrite the ONNX file with a project";
  EXPECT_EQ(opened.project.name, "spiral net");
  EXPECT_EQ(nn::ArchitectureSignature(opened.checkpoint->model), nn::ArchitectureSignature(spiral));
  EXPECT_EQ(opened.checkpoint->parameters, std::vector<float>(ParameterCount(spiral), 0.25f));
  EXPECT_EQ(opened.checkpoint->position.global_step, 0u);
  EXPECT_EQ(opened.project.training.optimizer, nn::TrainConfig{}.optimizer) << "the CLI import's defaults";
  EXPECT_EQ(opened.project.data.kind, "spiral");
  EXPECT_EQ(opened.project.data.classes, 3u);
  EXPECT_NE(opened.note.find("Imported the ONNX model"), std::string::npos) << opened.note;

  // Four inputs and three classes: iris, the built-in set that fits.
  nn::ModelDesc four = spiral;
  four.layers[0].shape = {4};
  opened = ui::OpenProjectFile(WriteText("four.onnx", OnnxOf(four)));
  EXPECT_EQ(opened.project.data.kind, "iris") << opened.note;

  // The window's loaded data is kept when the model fits it.
  ui::AppState window;
  window.project.data = ui::DataChoiceFromSpec("wine");
  auto wine_like = std::make_shared<data::Dataset>();
  wine_like->name = "other:train";
  wine_like->sample_shape = {4};
  wine_like->num_classes = 3;
  wine_like->format = data::FeatureFormat::kFloat32;
  wine_like->features_f32.assign(8, 0.0f);
  wine_like->labels = {0, 1};
  window.train_data = wine_like;
  opened = ui::OpenProjectFile(PathOf("four.onnx"), &window);
  EXPECT_EQ(opened.project.data.kind, "wine") << opened.note;
  EXPECT_NE(opened.note.find("the data loaded before (other:train)"), std::string::npos) << opened.note;
}

TEST_F(OpenFile, AnOnnxModelWithUnsupportedNodesIsRefusedByName) {
  std::string bytes = OnnxOf(nn::LoadModelOrPreset("spiral-mlp"));
  // Selu (an ONNX op the importer does not take) in place of Relu: the same length keeps the protobuf valid.
  for (size_t at = bytes.find("Relu"); at != std::string::npos; at = bytes.find("Relu", at)) bytes.replace(at, 4, "Selu");
  const std::string path = WriteText("selu.onnx", bytes);
  EXPECT_TRUE(testing::ThrowsErrorWith([&] { ui::OpenProjectFile(path); },
                                       {"selu.onnx", "not supported (nothing was imported)", "Selu"}));
  EXPECT_TRUE(testing::ThrowsErrorWith([&] { ui::OpenProjectFile(WriteText("junk.onnx", "not protobuf \xff\xff")); },
                                       {"junk.onnx", "not an ONNX model"}));
}

TEST(WindowTitle, NamesTheProjectAndItsFile) {
  ui::AppState state;
  state.project.name = "spiral-mlp";
  EXPECT_EQ(ui::WindowTitle(state), "Tensorscope \xE2\x80\x94 spiral-mlp");
  state.project_path = "/home/me/projects/spiral.tsproj.json";
  state.dirty = true;
  EXPECT_EQ(ui::WindowTitle(state), "Tensorscope \xE2\x80\x94 spiral-mlp (spiral.tsproj.json)*");
}

TEST(RunHistory, RoundTripsCurvesMarkersAndResults) {
  ui::AppState state;
  ui::TrainingView& view = state.training;
  view.identity = ui::RunIdentity{"model", "data"};
  view.steps_per_epoch = 25;
  view.train_samples = 810;
  view.train_loss = {{1, 2, 3}, {1.1, 0.9, 0.7}};
  view.train_accuracy = {{1, 2, 3}, {0.3, 0.5, 0.6}};
  view.validation_loss = {{3}, {0.8}};
  view.validation_accuracy = {{3}, {0.55}};
  view.markers = {{2, "lr 0.01 -> 0.001"}};
  nn::StepReport step;
  step.epoch = 1;
  step.step_in_epoch = 4;
  step.global_step = 29;
  step.loss = 0.7f;
  step.accuracy = 0.6f;
  step.learning_rate = 0.001;
  view.last_step = step;
  nn::EvalResult test;
  test.loss = 0.5;
  test.accuracy = 0.75;
  test.samples = 4;
  test.classes = 2;
  test.confusion = {2, 0, 1, 1};
  test.examples = {{0, 1, 1, 0.9f}, {3, 0, 1, 0.6f}};
  view.last_test = test;
  nn::EpochSummary epoch;
  epoch.epoch = 0;
  epoch.train_loss = 0.9;
  epoch.validation = test;
  view.last_epoch = epoch;
  state.inside.test_mistakes = {{3, 0, 1, 0.6f}};

  nlohmann::json history = ui::RunHistoryToJson(state);
  ui::AppState restored;
  ui::ApplyRunHistory(nlohmann::json::parse(history.dump()), restored, "last-run.json");
  const ui::TrainingView& again = restored.training;
  EXPECT_EQ(again.train_loss.y, view.train_loss.y);
  EXPECT_EQ(again.validation_accuracy.x, view.validation_accuracy.x);
  ASSERT_EQ(again.markers.size(), 1u);
  EXPECT_EQ(again.markers[0].label, "lr 0.01 -> 0.001");
  ASSERT_TRUE(again.last_step);
  EXPECT_EQ(again.last_step->global_step, 29u);
  EXPECT_EQ(again.last_step->loss, 0.7f);
  ASSERT_TRUE(again.last_test);
  EXPECT_EQ(again.last_test->confusion, test.confusion);
  ASSERT_EQ(again.last_test->examples.size(), 2u);
  EXPECT_EQ(again.last_test->examples[1].confidence, 0.6f);
  ASSERT_TRUE(again.last_epoch && again.last_epoch->validation);
  EXPECT_EQ(again.steps_per_epoch, 25u);
  EXPECT_EQ(restored.inside.test_mistakes.size(), 1u);

  history["curves"]["train_loss"] = {{1, "x"}};
  EXPECT_TRUE(testing::ThrowsErrorWith([&] { ui::ApplyRunHistory(history, restored, "last-run.json"); },
                                       {"last-run.json", "curves.train_loss"}));
}

}  // namespace
}  // namespace ts
