#include "ui/controller.h"

#include <algorithm>
#include <cmath>

#include "compute/common/error.h"
#include "compute/data/registry.h"
#include "ui/project.h"
#include "ui/widgets/insight_charts.h"

namespace ts::ui {
namespace {

// Averaging weight for the per-kernel times shown live: smooth enough to read,
// quick enough to follow a change.
constexpr double kDispatchTimeWeight = 0.1;
constexpr double kTrainingSubmissionSeconds = 0.006;  // about a third of an idle frame on lavapipe
// The decision boundary's grid: 48 x 48 points, drawn smoothly shaded, looks the
// same as 64 x 64 and takes half the device time to evaluate.
constexpr uint32_t kBoundaryResolution = 48;

void AddPoint(Series& series, double x, double y) {
  series.x.push_back(x);
  series.y.push_back(y);
}

// The bandwidth chart's history is thinned past this many steps (every other one dropped).
constexpr size_t kBandwidthHistory = 4096;

// Groups the step's dispatches by kernel family for the bandwidth chart.
void GroupDispatchesByFamily(InsightView& insight, const std::vector<nn::DispatchInfo>& dispatches) {
  std::vector<std::string> families;
  std::vector<size_t> family_of(dispatches.size());
  for (size_t i = 0; i < dispatches.size(); ++i) {
    auto it = std::find(families.begin(), families.end(), dispatches[i].kernel);
    if (it == families.end()) it = families.insert(families.end(), dispatches[i].kernel);
    family_of[i] = static_cast<size_t>(it - families.begin());
  }
  if (families == insight.families && family_of == insight.family_of_dispatch) return;
  insight.families = std::move(families);
  insight.family_of_dispatch = std::move(family_of);
  insight.bandwidth_x.clear();
  insight.bandwidth_by_family.assign(insight.families.size(), {});
  insight.rows.clear();
  insight.rows_built_at = -1e9;
}

// One step's achieved bandwidth, split by kernel family: each family's bytes
// over the whole step's GPU time (so the stack adds up to the step's GB/s).
void RecordBandwidth(InsightView& insight, const std::vector<nn::DispatchInfo>& dispatches, const nn::StepReport& step) {
  if (dispatches.size() != step.dispatch_ns.size() || insight.family_of_dispatch.size() != dispatches.size()) return;
  double step_ns = 0;
  for (double ns : step.dispatch_ns) step_ns += ns;
  if (!(step_ns > 0)) return;
  std::vector<double> bytes(insight.families.size(), 0.0);
  for (size_t i = 0; i < dispatches.size(); ++i)
    bytes[insight.family_of_dispatch[i]] += double(dispatches[i].cost.bytes_read + dispatches[i].cost.bytes_written);
  insight.bandwidth_x.push_back(double(step.global_step + 1));
  for (size_t f = 0; f < bytes.size(); ++f) insight.bandwidth_by_family[f].push_back(bytes[f] / step_ns);
  ThinHistory(insight.bandwidth_x, insight.bandwidth_by_family, kBandwidthHistory);
}

}  // namespace

void ClearTrainingHistory(TrainingView& view) {
  view.train_loss = view.train_accuracy = view.validation_loss = view.validation_accuracy = {};
  view.markers.clear();
  view.last_step.reset();
  view.last_epoch.reset();
  view.last_test.reset();
  view.dispatch_ns.clear();
  view.samples_per_second = view.eta_seconds = 0;
}

void ApplySessionEvents(AppState& state, const std::vector<nn::SessionEvent>& events) {
  TrainingView& view = state.training;
  for (const nn::SessionEvent& event : events) {
    switch (event.kind) {
      case nn::SessionEvent::Kind::kStateChanged:
        view.state = event.state;
        if (state.session) view.dispatches = state.session->step_dispatches();
        GroupDispatchesByFamily(state.insight, view.dispatches);
        break;
      case nn::SessionEvent::Kind::kStep: {
        const nn::StepReport& r = event.step;
        double x = double(r.global_step + 1);
        AddPoint(view.train_loss, x, r.loss);
        AddPoint(view.train_accuracy, x, r.accuracy);
        // Untimed submissions' steps carry no dispatch times (Trainer::set_timing_interval).
        if (!r.dispatch_ns.empty() && view.dispatch_ns.size() != r.dispatch_ns.size()) view.dispatch_ns = r.dispatch_ns;
        for (size_t i = 0; i < r.dispatch_ns.size(); ++i)
          view.dispatch_ns[i] += kDispatchTimeWeight * (r.dispatch_ns[i] - view.dispatch_ns[i]);
        if (r.wall_seconds > 0) {
          double rate = state.project.training.batch_size / r.wall_seconds;
          view.samples_per_second = view.samples_per_second == 0 ? rate : 0.9 * view.samples_per_second + 0.1 * rate;
        }
        view.last_step = r;
        RecordBandwidth(state.insight, view.dispatches, r);
        state.insight.plan_memory = event.plan_memory;
        state.insight.dataset_bytes = event.dataset_bytes;
        if (r.profile) {
          // A traced submission has workgroup records; a plain profile has none.
          if (!r.profile->trace.empty()) {
            state.insight.trace = r.profile;
            state.insight.trace_step = r.global_step;
            state.insight.trace_requested = false;
          } else {
            state.insight.profile = r.profile;
            state.insight.profile_step = r.global_step;
          }
        }
        break;
      }
      case nn::SessionEvent::Kind::kEpoch: {
        view.last_epoch = event.epoch;
        if (event.test) state.inside.test_mistakes = event.test_mistakes;
        double x = view.last_step ? double(view.last_step->global_step + 1) : 0.0;
        if (event.epoch.validation) {
          AddPoint(view.validation_loss, x, event.epoch.validation->loss);
          AddPoint(view.validation_accuracy, x, event.epoch.validation->accuracy);
        }
        if (event.test) view.last_test = event.test;
        break;
      }
      case nn::SessionEvent::Kind::kSnapshot:
        view.snapshot = event.snapshot;
        break;
      case nn::SessionEvent::Kind::kSettingChanged:
        view.markers.push_back({double(event.step.global_step), event.message});
        break;
      case nn::SessionEvent::Kind::kCheckpointSaved:
        state.Notify(Notice::Level::kInfo, "Checkpoint saved: " + event.message);
        break;
      case nn::SessionEvent::Kind::kError:
        view.state = event.state;
        state.Notify(Notice::Level::kError, event.message);
        state.insight.trace_requested = false;  // e.g. a trace asked of a device without a shader clock
        break;
      case nn::SessionEvent::Kind::kPrediction:
        // Answers come in order; one from before the canvas was cleared is dropped.
        if (event.prediction && event.prediction->request >= state.inside.canvas_first_answer)
          state.inside.canvas_prediction = event.prediction;
        break;
      case nn::SessionEvent::Kind::kCeilings:
        state.insight.ceilings = event.ceilings;
        state.insight.measuring = false;
        state.insight.rows_built_at = -1e9;  // % of peak and the bound change
        break;
      case nn::SessionEvent::Kind::kExperiment:
        if (event.experiment) state.insight.experiments.push_back(*event.experiment);
        state.insight.experiment_running = false;
        break;
    }
  }
  if (view.last_step && view.samples_per_second > 0) {
    const nn::TrainConfig& config = state.project.training;
    double done = double(view.last_step->epoch) * view.steps_per_epoch + view.last_step->step_in_epoch + 1;
    double total = double(config.epochs) * view.steps_per_epoch;
    view.eta_seconds = std::max(0.0, total - done) * config.batch_size / view.samples_per_second;
  }
}

void UpdateFromSession(AppState& state) {
  if (state.session) ApplySessionEvents(state, state.session->Poll());
}

void MeasureCeilings(AppState& state, bool remeasure) {
  if (!state.session || state.insight.measuring) return;
  state.session->MeasureCeilings(remeasure);
  state.insight.measuring = true;
}

void SendInsideRequest(AppState& state, const nn::InsideRequest& request) {
  InsideView& inside = state.inside;
  if (!state.session || inside.sent == request) return;
  state.session->SetInsideViews(request);
  inside.sent = request;
}

void PredictCanvas(AppState& state, std::vector<uint8_t> pixels, double now) {
  InsideView& inside = state.inside;
  if (!state.session || !inside.probe_data) return;
  const data::Dataset& like = *inside.probe_data;
  auto input = std::make_shared<data::Dataset>();
  input->name = "drawing";
  input->sample_shape = like.sample_shape;
  input->num_classes = like.num_classes;
  input->class_names = like.class_names;
  input->format = data::FeatureFormat::kUint8;
  input->scale = like.scale;  // normalised as the data the network learnt from
  input->offset = like.offset;
  input->features_u8 = pixels;
  input->labels = {0};
  inside.canvas_input = std::move(pixels);
  inside.canvas_sent_at = now;
  inside.canvas_sent_step = state.training.snapshot ? state.training.snapshot->global_step : 0;
  state.session->PredictInput(std::move(input), ++inside.canvas_request);
}

void LoadProjectData(AppState& state) {
  try {
    std::string spec = DataSpecFor(state.project.data);
    // An image folder is resized to what the model takes (when its input is an image).
    if (state.project.data.kind == "images" && state.model && state.model->layers[0].shape.size() == 3) {
      const std::vector<uint32_t>& shape = state.model->layers[0].shape;
      spec += ":size=" + std::to_string(shape[2]) + "x" + std::to_string(shape[1]) + ",channels=" +
              std::to_string(shape[0]) + ",test_fraction=" + std::to_string(state.project.data.test_fraction) +
              ",seed=" + std::to_string(state.project.data.seed);
    }
    data::DataSplit split = data::LoadDataSpec(spec);
    // Points the user added by clicking join the training set.
    for (const DataChoice::AddedPoint& p : state.project.data.added_points) {
      if (split.train.format != data::FeatureFormat::kFloat32 || split.train.feature_size() != 2) break;
      split.train.features_f32.push_back(p.x);
      split.train.features_f32.push_back(p.y);
      split.train.labels.push_back(std::min(p.label, split.train.num_classes - 1));
    }
    state.train_data = std::make_shared<const data::Dataset>(std::move(split.train));
    state.test_data = std::make_shared<const data::Dataset>(std::move(split.test));
    state.data_error.clear();
  } catch (const Error& e) {
    state.data_error = e.what();
    state.Notify(Notice::Level::kError, e.what());
  }
}

std::string WhyTrainingIsDisabled(const AppState& state) {
  if (!state.session) return "No Vulkan device is available.";
  if (!state.model) return state.model_error.empty() ? "The model is not valid." : state.model_error;
  if (!state.data_error.empty()) return "The dataset could not be loaded: " + state.data_error;
  if (!state.train_data || state.train_data->count() == 0) return "No training data is loaded.";
  uint64_t inputs = nn::ShapeElements(state.model->layers[0].shape);
  if (state.train_data->feature_size() != inputs)
    return "The model's input layer takes " + std::to_string(inputs) + " values, but the dataset's samples have " +
           std::to_string(state.train_data->feature_size()) + " (shape " +
           nn::ShapeString(state.train_data->sample_shape) + ").";
  uint64_t outputs = state.model->layers.size() >= 2 ? nn::InferShapes(*state.model)[state.model->layers.size() - 2].output[0] : 0;
  bool single_output = outputs == 1 && state.model->layers.back().loss != kernels::LossKind::kSoftmaxCrossEntropy;
  if (single_output ? state.train_data->num_classes > 2 : state.train_data->num_classes > outputs)
    return "The model ends in " + std::to_string(outputs) + " output(s), but the dataset has " +
           std::to_string(state.train_data->num_classes) + " classes: set the last dense layer's units to " +
           std::to_string(state.train_data->num_classes) + ".";
  if (state.train_data->count() < state.project.training.batch_size)
    return "The batch size (" + std::to_string(state.project.training.batch_size) + ") is larger than the training set (" +
           std::to_string(state.train_data->count()) + " samples).";
  return "";
}

void StartTraining(AppState& state) {
  if (!WhyTrainingIsDisabled(state).empty()) return;
  nn::SessionSetup setup;
  setup.model = *state.model;
  setup.config = state.project.training;
  const data::Dataset& all = *state.train_data;
  if (setup.config.validation_fraction > 0 && all.count() >= 10) {
    auto [train, validation] = data::SplitValidation(all, setup.config.validation_fraction, setup.config.seed);
    setup.train = std::make_shared<const data::Dataset>(std::move(train));
    setup.validation = std::make_shared<const data::Dataset>(std::move(validation));
  } else {
    setup.train = state.train_data;
  }
  setup.test = state.test_data && state.test_data->count() ? state.test_data : nullptr;
  // The window shares the device's queue with training: submissions of a few
  // milliseconds let a frame in soon (measured on lavapipe: p50 47 ms at 16
  // steps of the spiral MLP per submission, 14 ms at 4).
  setup.submission_seconds = kTrainingSubmissionSeconds;
  setup.boundary_resolution = kBoundaryResolution;
  state.training.steps_per_epoch = static_cast<uint32_t>(setup.train->count() / setup.config.batch_size);
  ClearTrainingHistory(state.training);
  state.training.validation_data = setup.validation;
  // The worker probes the same set (see nn::InsideSnapshot).
  state.inside.probe_data = setup.test ? setup.test : setup.validation ? setup.validation : setup.train;
  state.inside.test_mistakes.clear();
  state.inside.canvas_prediction.reset();
  state.inside.canvas_sent_step = 0;
  state.session->Load(std::move(setup));
  state.session->Start();
}

}  // namespace ts::ui
