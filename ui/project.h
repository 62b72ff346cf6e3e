// Project files and the conversions between what the user edits (Project, with
// its LayerEdit rows kept as typed) and what the compute side runs (ModelDesc,
// TrainConfig, a data spec).
//
// Project file (JSON, version 1; files Tensorscope writes end in ".tsproj.json"):
//   {
//     "format": "tensorscope-project", "version": 1, "name": "spiral-mlp",
//     "model":    { ... },   // a model as nn::ModelToJson writes it (see compute/nn/model.h);
//                            // a field the user left invalid (units "abc") is kept as the typed string
//     "training": { ... },   // nn::TrainConfigToJson (see compute/nn/train_config.h)
//     "data": {"kind": "spiral", "samples": 900, "classes": 3, "noise": 0.2, "seed": 1,
//              "test_fraction": 0.2, "path": "", "context": 64, "added_points": [[x, y, label], ...]},
//              // text, kjv: context = characters per window, test_fraction = the text's val_fraction
//     "session": {"path": "...", "dirty": true}   // optional; only autosaves carry it
//   }
// A model file ("format": "tensorscope-model") opens as a project too.
//
// Autosave rule: the app calls Autosaver::Tick every frame (it writes
// AutosavePath() a few seconds after the project last changed) and
// Autosaver::Flush on exit; on start it calls LoadStartupProject, which reopens
// the autosave when there is one and otherwise gives DefaultProject().
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "compute/nn/checkpoint.h"
#include "compute/nn/model.h"
#include "compute/nn/train_config.h"
#include "ui/app_state.h"

namespace ts::ui {

inline constexpr int kProjectVersion = 1;
inline constexpr const char* kProjectExtension = ".tsproj.json";

// ---- Files -----------------------------------------------------------------

nlohmann::json ProjectToJson(const Project& project);
// Parses project text. `source` names where it came from (a path) in messages.
// Throws ts::Error naming the source and, for malformed JSON, the byte offset;
// for schema errors the field ("data.samples") with what was expected and found.
Project ParseProject(const std::string& json_text, const std::string& source);
// Reads and parses a project (or model) file; throws ts::Error as ParseProject.
Project LoadProject(const std::string& path);
// Writes atomically (nn::WriteFileAtomically), creating missing parent
// directories; throws ts::Error naming the path when it cannot.
void SaveProject(const Project& project, const std::string& path);

// Where the app restores its working state from: ${XDG_DATA_HOME:-$HOME/.local/share}
// /tensorscope/autosave.tsproj.json, or "" when neither variable is set.
std::string AutosavePath();
// Where the app keeps the network it was training when it closed (beside the autosave).
std::string LastCheckpointPath();
// Where the app keeps that network's run (curves and results) beside it: "last-run.json".
std::string LastRunPath();

// What Open makes of a file: a project, a model (a new project), a
// checkpoint (a new project of its model and settings, whose network becomes
// the run) or an ONNX model (a name ending in ".onnx": imported as `tensorscope
// import` does, interop::ImportedCheckpoint, and then opened as that
// checkpoint; its data is DataForImportedModel's choice, `window` giving what
// the window has loaded). Anything else, or an ONNX file the importer refuses
// (its unsupported nodes listed), throws ts::Error naming the file, what was
// expected and what was found; nothing of it is kept.
struct OpenedFile {
  Project project;
  std::string project_path;  // where Save writes it; "" for a model or checkpoint (never overwritten)
  std::shared_ptr<const nn::Checkpoint> checkpoint;  // set when a checkpoint was opened
  std::string note;          // what was opened, for the user ("" for a plain project)
};
OpenedFile OpenProjectFile(const std::string& path, const AppState* window = nullptr);
// "mnist.tsproj.json" -> "mnist": a project's name from its file name.
std::string ProjectNameFromPath(const std::string& path);

// Keeps AutosavePath() (or `path`) up to date with the project being edited.
// The file also records state.project_path and state.dirty, so a restart
// continues exactly where the user was. Writes only when the content changed.
class Autosaver {
 public:
  explicit Autosaver(std::string path = AutosavePath(), double interval_seconds = 3.0)
      : path_(std::move(path)), interval_seconds_(interval_seconds) {}
  // Call once per frame with a monotonic clock (ImGui::GetTime()). Returns true
  // when it wrote the file. Errors are reported once through state.Notify.
  bool Tick(AppState& state, double now_seconds);
  // Writes now if anything changed since the last write (call on exit).
  bool Flush(AppState& state);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  double interval_seconds_;
  double last_check_ = -1e9;
  std::string last_written_;  // the JSON text last written, to skip unchanged saves
  bool reported_error_ = false;
};

// What the app opens on start: the autosave at `autosave_path` when it exists
// and loads (restoring project_path and dirty), else DefaultProject(). Fills
// state.project, project_path, dirty and rebuilds state.model. When the
// autosave exists but cannot be read, the default project opens and the error
// is raised as a notice (the broken file is left for the user to inspect).
// Temporaries of autosaves killed before their rename are removed first.
void LoadStartupProject(AppState& state, const std::string& autosave_path = AutosavePath());

// ---- Conversions -----------------------------------------------------------

// One LayerEdit per layer of `model`; training = config; data from config.data
// (see DataChoiceFromSpec). Names equal to the name a layer gets by default
// ("dense_1" for the first dense) are left empty, so inserting layers renumbers them.
Project ProjectFromModel(const nn::ModelDesc& model, const nn::TrainConfig& config);

// Converts one row without looking at its neighbours. Returns nullopt and sets
// *error (a sentence for the user, e.g. "units must be a whole number of at
// least 1, e.g. 64; found \"abc\".") when a field is invalid. Default names are
// not assigned here (see BuildModel).
std::optional<nn::LayerDesc> LayerFromEdit(const LayerEdit& edit, std::string* error);

// Validates every row (setting each LayerEdit::error, "" when fine), assigns
// default names, then checks the structure with nn::InferShapes; an error that
// names layers[i] is also set on that row. Returns the model (its "training"
// section = the project's config with data = DataSpecFor(project.data)), or
// nullopt with *error (may be null) describing the first problem.
std::optional<nn::ModelDesc> BuildModel(Project& project, std::string* error);

// Rebuilds state.model and state.model_error from state.project (call after every edit).
void RebuildModel(AppState& state);

// The spiral MLP preset ("spiral-mlp") with the spiral data set.
Project DefaultProject();

// Shapes of the rows that can be computed: a row after the first invalid one
// (or the row InferShapes rejects) gets nullopt. For live statistics while the
// model is being edited.
std::vector<std::optional<nn::LayerShape>> PartialLayerShapes(const Project& project);

// A compute/data/registry.h spec for the choice, e.g.
// "spiral:samples=900,classes=3,noise=0.2,seed=1", "mnist", "iris:test_fraction=0.2,seed=1",
// "data/x.csv:test_fraction=0.2,seed=1". Synthetic sets add test_samples when
// test_fraction differs from the registry's default (a test set of samples/4,
// i.e. 20% of all samples); xor and moons omit classes (always 2). Points the
// user added by clicking are not part of the spec: the app appends them to the
// training set itself. kind "idx" gives the images path as is. Text:
// "kjv:context=64", "text:book.txt:context=64,val_fraction=0.05" (val_fraction
// is test_fraction, written when it is not the loader's default 0.1).
std::string DataSpecFor(const DataChoice& data);
// The reverse, for specs read from model files: unknown options are ignored,
// fields not named keep DataChoice's defaults.
DataChoice DataChoiceFromSpec(const std::string& spec);
// The data an imported model (an ONNX file names none) starts with: the data
// `window` has loaded when the model fits it (as `--data` names it for the
// CLI's import), else for a sequence model the built-in text (kjv) in windows
// of its input length, else the first built-in set whose samples and classes fit
// it and is installed: spiral with as many classes for 2 inputs, iris (4 -> 3),
// wine (13 -> 3), digits (64 -> 10), MNIST, Fashion-MNIST, shapes (1x28x28),
// CIFAR-10 (3x32x32); else the window's data as it is (the Model panel then
// names the layer that does not fit, and the weights wait until the data
// chosen fits). *note says which and why.
DataChoice DataForImportedModel(const nn::ModelDesc& model, const AppState* window, std::string* note);
// The choice a data set starts with when it is picked: its own sample and
// class counts (shapes: 10000 images of 8 classes; spiral: 900 points of 3).
DataChoice DefaultDataChoice(const std::string& kind);

// "Tensorscope — spiral-mlp (spiral.tsproj.json)*": the project's name, its
// file's name once saved, "*" when there are unsaved changes; for the OS window title.
std::string WindowTitle(const AppState& state);

}  // namespace ts::ui
