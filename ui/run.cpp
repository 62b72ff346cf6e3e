#include "ui/run.h"

#include <cstdio>

#include "imgui.h"

#include "compute/common/error.h"
#include "compute/data/registry.h"
#include "compute/nn/data_fit.h"
#include "ui/controller.h"
#include "ui/project.h"

namespace ts::ui {
namespace {

// The window shares the device's queue with training: submissions of a few
// milliseconds let a frame in soon (measured on lavapipe: p50 47 ms at 16
// steps of the spiral MLP per submission, 14 ms at 4). With "train fast" the
// window draws a few times a second: the config's full submissions.
constexpr double kTrainingSubmissionSeconds = 0.006;
// Per-dispatch times for the GPU panel: one turn of submissions timed every
// 0.5 s (with "train fast" every 2 s), alone on the device (nn::TimingGate).
// Each timestamp ends lavapipe's batch, so timing every submission costs
// training throughput. (Sampled figures once read 290 ms a spiral step: the
// first, compiling step weighed in; the trainer no longer reports its times.)
constexpr double kTimingIntervalSeconds = 0.5;
constexpr double kFastTimingIntervalSeconds = 2.0;
// The decision boundary's grid: 48 x 48 points, drawn smoothly shaded, looks the
// same as 64 x 64 and takes half the device time to evaluate.
constexpr uint32_t kBoundaryResolution = 48;

std::string ModelKey(const nn::ModelDesc& model) {
  nlohmann::json json = nn::ModelToJson(model);
  json.erase("name");
  json.erase("training");
  return json.dump();
}

// nn::CheckDataFit for a training set (text: labels_per_sample > 1).
std::optional<nn::DataFitProblem> FitProblem(const nn::ModelDesc& model, const data::Dataset& data) {
  return nn::CheckDataFit(model, data.sample_shape, data.num_classes, data.name, nn::FitRule::kTraining,
                          data.labels_per_sample);
}

// Text just loaded: a sequence model takes its vocabulary (nn::FitVocabulary),
// changing the embedding's vocab and the head's units on their rows, as
// `tensorscope train` does. Other data, or a vocabulary that fits, changes nothing.
void FitTextVocabulary(AppState& state) {
  if (!state.model || !state.train_data || state.train_data->labels_per_sample <= 1) return;
  nn::ModelDesc fitted = *state.model;
  std::optional<std::string> note =
      nn::FitVocabulary(fitted, static_cast<uint32_t>(state.train_data->class_names.size()));
  if (!note || fitted.layers.size() != state.project.layers.size()) return;
  for (size_t i = 0; i < fitted.layers.size(); ++i) {
    const nn::LayerDesc &before = state.model->layers[i], &after = fitted.layers[i];
    if (after.kind == nn::LayerKind::kEmbedding && after.vocab != before.vocab)
      state.project.layers[i].vocab = std::to_string(after.vocab);
    if (after.kind == nn::LayerKind::kDense && after.units != before.units)
      state.project.layers[i].units = std::to_string(after.units);
  }
  state.dirty = true;
  RebuildModel(state);
  state.Notify(Notice::Level::kInfo, *note);
}

// The layer row that the last data-fit check marked, and its message, so the
// next check can take it back when the model or data changed.
struct FitMark {
  int row = -1;
  std::string message;
};
FitMark& LastFitMark() {
  static FitMark mark;
  return mark;
}

void MarkDataFit(AppState& state) {
  FitMark& mark = LastFitMark();
  if (mark.row >= 0 && size_t(mark.row) < state.project.layers.size() &&
      state.project.layers[mark.row].error == mark.message)
    state.project.layers[mark.row].error.clear();
  mark = {};
  if (!state.model || !state.train_data || state.train_data->count() == 0) return;
  std::optional<nn::DataFitProblem> problem = FitProblem(*state.model, *state.train_data);
  if (!problem || problem->layer >= state.project.layers.size()) return;
  LayerEdit& row = state.project.layers[problem->layer];
  if (!row.error.empty()) return;  // the row's own error comes first
  row.error = problem->message;
  mark = {static_cast<int>(problem->layer), problem->message};
}

// Builds what the session needs for a run of the project as it is now.
nn::SessionSetup MakeSetup(AppState& state) {
  nn::SessionSetup setup;
  setup.model = *state.model;
  setup.config = state.project.training;
  const data::Dataset& all = *state.train_data;
  // Text: the checkpoint keeps the vocabulary, so what the network writes can be decoded.
  if (all.labels_per_sample > 1) setup.config.vocabulary = all.class_names;
  if (setup.config.validation_fraction > 0 && all.count() >= 10) {
    auto [train, validation] = data::SplitValidation(all, setup.config.validation_fraction, setup.config.seed);
    setup.train = std::make_shared<const data::Dataset>(std::move(train));
    setup.validation = std::make_shared<const data::Dataset>(std::move(validation));
  } else {
    setup.train = state.train_data;
  }
  setup.test = state.test_data && state.test_data->count() ? state.test_data : nullptr;
  setup.watch = WatchFor(state);
  setup.boundary_resolution = kBoundaryResolution;
  return setup;
}

// Makes `setup` the run on screen: results cleared, its data kept with it, loaded.
void LoadRun(AppState& state, nn::SessionSetup setup) {
  ClearRunResults(state);
  TrainingView& view = state.training;
  view.identity = CurrentRunIdentity(state);
  view.steps_per_epoch = static_cast<uint32_t>(setup.train->count() / setup.config.batch_size);
  view.train_samples = setup.train->count();
  view.validation_data = setup.validation;
  view.test_data = setup.test;
  // The worker probes the same set (see nn::InsideSnapshot).
  state.inside.probe_data = setup.test ? setup.test : setup.validation ? setup.validation : setup.train;
  view.session_run = state.session->Load(std::move(setup));
}

}  // namespace

nn::WatchSettings WatchFor(const AppState& state) {
  nn::WatchSettings watch;
  if (state.train_fast) {
    watch.submission_seconds = 0;  // TrainConfig::steps_per_submit, as on the command line
    watch.timing_interval = kFastTimingIntervalSeconds;
    watch.snapshot_interval = 2.0;
    watch.inside_interval = 5.0;
    watch.visual_share = 0.02;
    watch.test_every_epoch = false;
  } else {
    watch.submission_seconds = kTrainingSubmissionSeconds;
    watch.timing_interval = kTimingIntervalSeconds;
    watch.snapshot_interval = 0.25;
    watch.inside_interval = 1.0;
    watch.visual_share = 0.1;
    watch.test_every_epoch = false;
  }
  return watch;
}

void SetTrainFast(AppState& state, bool fast) {
  state.train_fast = fast;
  if (state.session) state.session->SetWatch(WatchFor(state));
}

std::string DataLoadKey(const AppState& state) {
  // What is loaded: an image folder's split and size are in its spec.
  std::string key = LoadedDataSpec(state);
  for (const DataChoice::AddedPoint& p : state.project.data.added_points) {
    char point[64];
    std::snprintf(point, sizeof point, "|%.9g,%.9g,%u", p.x, p.y, p.label);
    key += point;
  }
  return key;
}

RunIdentity CurrentRunIdentity(const AppState& state) {
  const nn::TrainConfig& config = state.project.training;
  char split[64];
  std::snprintf(split, sizeof split, "|validation=%.9g|seed=%llu", config.validation_fraction,
                static_cast<unsigned long long>(config.seed));
  return {state.model ? ModelKey(*state.model) : "", DataLoadKey(state) + split};
}

bool RunIsActive(const AppState& state) {
  return state.training.state == nn::SessionState::kRunning || state.training.state == nn::SessionState::kPaused;
}

std::string DrawWhyEditsAreLocked(const AppState& state) {
  std::string locked = WhyEditsAreLocked(state);
  if (!locked.empty()) {
    ImGui::PushStyleColor(ImGuiCol_Text, ImVec4(1.0f, 0.7f, 0.35f, 1.0f));
    ImGui::TextWrapped("%s", locked.c_str());
    ImGui::PopStyleColor();
  }
  return locked;
}

std::string WhyEditsAreLocked(const AppState& state) {
  if (!RunIsActive(state)) return "";
  return std::string("Training is ") + (state.training.state == nn::SessionState::kRunning ? "running" : "paused") +
         ": Stop it to change the model or the data (a change starts a new run).";
}

void SyncRun(AppState& state) {
  if (DataLoadKey(state) != state.loaded_data) {
    LoadProjectData(state);
    FitTextVocabulary(state);
  }
  TrainingView& view = state.training;
  if (view.identity && *view.identity != CurrentRunIdentity(state)) EndRun(state);
  MarkDataFit(state);
  if (state.pending_checkpoint && !state.data_error.empty()) state.pending_checkpoint.reset();  // said already
  // An opened network waits while the data does not fit it (an import whose data is still to be chosen).
  if (state.pending_checkpoint && state.session && state.train_data &&
      !FitProblem(state.pending_checkpoint->model, *state.train_data)) {
    std::shared_ptr<const nn::Checkpoint> checkpoint = std::move(state.pending_checkpoint);
    try {
      RestoreRun(state, std::move(checkpoint), state.pending_checkpoint_source);
    } catch (const Error& e) {
      state.Notify(Notice::Level::kError, e.what());
    }
  }
}

namespace {

// What training produced, from curves to kernel times; the run's identity and data stay.
void ClearRunOutputs(AppState& state) {
  ClearTrainingHistory(state.training);
  TrainingView& view = state.training;
  view.snapshot.reset();
  ++view.run_id;
  InsideView& inside = state.inside;
  inside.test_mistakes.clear();
  inside.canvas_prediction.reset();
  inside.canvas_sent_step = 0;
  inside.canvas_first_answer = inside.canvas_request + 1;  // answers still on their way belong to the old run
  InsightView& insight = state.insight;
  insight.profile.reset();
  insight.trace.reset();
  insight.trace_requested = false;
  insight.rows.clear();
  insight.rows_built_at = -1e9;
  insight.families.clear();
  insight.family_of_dispatch.clear();
  insight.bandwidth_x.clear();
  insight.bandwidth_by_family.clear();
  insight.plan_memory = {};
  insight.dataset_bytes = 0;
  insight.experiments.clear();
}

}  // namespace

void ClearRunResults(AppState& state) {
  ClearRunOutputs(state);
  TrainingView& view = state.training;
  view.state = nn::SessionState::kEmpty;  // until the session says what the next run is
  view.identity.reset();
  view.validation_data.reset();
  view.test_data.reset();
  view.dispatches.clear();
  view.steps_per_epoch = 0;
  state.inside.probe_data.reset();
}

void ResetRun(AppState& state) {
  if (!state.session || state.training.state == nn::SessionState::kEmpty) return;
  ClearRunOutputs(state);
  state.training.session_run = state.session->Reset();
}

void EndRun(AppState& state) {
  const bool loaded = state.training.state != nn::SessionState::kEmpty;
  ClearRunResults(state);
  if (state.session && loaded) state.training.session_run = state.session->Unload();
}

std::string WhyTrainingIsDisabled(const AppState& state) {
  if (!state.session) return "No Vulkan device is available.";
  if (!state.model) return state.model_error.empty() ? "The model is not valid." : state.model_error;
  if (!state.data_error.empty()) return "The dataset could not be loaded: " + state.data_error;
  if (!state.train_data || state.train_data->count() == 0) return "No training data is loaded.";
  if (std::optional<nn::DataFitProblem> problem = FitProblem(*state.model, *state.train_data))
    return "layers[" + std::to_string(problem->layer) + "]: " + problem->message;
  if (state.train_data->count() < state.project.training.batch_size)
    return "The batch size (" + std::to_string(state.project.training.batch_size) + ") is larger than the training set (" +
           std::to_string(state.train_data->count()) + " samples).";
  return "";
}

std::string WhyContinueIsDisabled(const AppState& state) {
  const TrainingView& view = state.training;
  if (!state.session || !view.identity || view.state == nn::SessionState::kEmpty) return "There is no run to continue.";
  if (view.state == nn::SessionState::kRunning) return "The run is training.";
  if (view.state == nn::SessionState::kFailed) return "The run failed: Reset it or train anew.";
  if (view.identity != CurrentRunIdentity(state)) return "The project changed since the run started.";
  if (view.last_step && view.steps_per_epoch > 0) {
    const uint32_t epochs_done = view.last_step->epoch + (view.last_step->step_in_epoch + 1 >= view.steps_per_epoch);
    if (epochs_done >= state.project.training.epochs)
      return "All " + std::to_string(state.project.training.epochs) +
             " epochs are done: raise the epochs to continue training this network.";
  }
  return "";
}

void StartTraining(AppState& state) {
  if (!WhyTrainingIsDisabled(state).empty()) return;
  LoadRun(state, MakeSetup(state));
  state.session->Start();
}

void ContinueTraining(AppState& state) {
  if (!WhyContinueIsDisabled(state).empty()) return;
  state.session->SetConfig(state.project.training);
  state.session->Start();
}

void RestoreRun(AppState& state, std::shared_ptr<const nn::Checkpoint> checkpoint, const std::string& source) {
  if (std::string why = WhyTrainingIsDisabled(state); !why.empty())
    throw Error(source + ": cannot load the checkpoint into this project: " + why);
  std::string mine = nn::ArchitectureSignature(*state.model), theirs = nn::ArchitectureSignature(checkpoint->model);
  if (mine != theirs)
    throw Error(source + ": the checkpoint is for another architecture.\n  checkpoint: " + theirs +
                "\n  this project: " + mine + "\nOpen it as a project instead (Open...), or load one made for this model.");
  nn::SessionSetup setup = MakeSetup(state);
  setup.resume = std::move(checkpoint);
  setup.resume_source = source;
  LoadRun(state, std::move(setup));
}

}  // namespace ts::ui
