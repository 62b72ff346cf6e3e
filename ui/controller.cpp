#include "ui/controller.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "compute/common/error.h"
#include "compute/data/registry.h"
#include "ui/export_run.h"
#include "ui/panels/text_panel.h"
#include "ui/project.h"
#include "ui/run.h"
#include "ui/widgets/insight_charts.h"

namespace ts::ui {
namespace {

// Averaging weight for the per-kernel times shown live: smooth enough to read,
// quick enough to follow a change.
constexpr double kDispatchTimeWeight = 0.1;

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

// The training loss of the step that left the parameters at `step` (the
// curve's x is a step's global_step + 1); -1 when there is none (yet).
double LossAfter(const TrainingView& view, uint64_t step) {
  const Series& loss = view.train_loss;
  for (size_t i = loss.x.size(); i-- > 0;) {
    if (loss.x[i] == double(step)) return loss.y[i];
    if (loss.x[i] < double(step)) break;
  }
  return -1;
}

// A chunk of a sample: the sample it grows (a new one goes first; the oldest beyond kKept go).
void ApplySample(AppState& state, const nn::SampleAnswer& answer) {
  TextView& text = state.text;
  ForgetTextOfOtherRuns(state);
  auto it = std::find_if(text.samples.begin(), text.samples.end(),
                         [&](const TextView::Sample& s) { return s.request == answer.request.request; });
  if (it == text.samples.end()) {
    if (answer.request.request != text.requests) return;  // replaced by a newer request
    text.samples.push_front({answer.request.request, answer.global_step, -1, answer.request.prompt});
    if (text.samples.size() > TextView::kKept) text.samples.pop_back();
    it = text.samples.begin();
  }
  it->step = answer.global_step;
  if (it->loss < 0) it->loss = LossAfter(state.training, answer.global_step);
  it->text = answer.text;
  it->done = answer.done;
  it->error = answer.error;
}

void ApplyAttention(AppState& state, const std::shared_ptr<const nn::AttentionAnswer>& answer) {
  TextView& text = state.text;
  ForgetTextOfOtherRuns(state);
  if (!answer || answer->request.request != text.attention_requests) return;  // a newer one is on its way
  text.attention = answer;
  text.attention_pending = false;
  if (answer->error.empty()) {
    // Keep the picks inside what the new maps have.
    text.layer = std::clamp(text.layer, 0, std::max(0, int(answer->maps.layers) - 1));
    text.head = std::clamp(text.head, 0, std::max(0, int(answer->maps.heads) - 1));
    if (text.query >= int(answer->maps.tokens.size())) text.query = -1;
  }
}

}  // namespace

void ClearTrainingHistory(TrainingView& view) {
  view.train_loss = view.train_accuracy = view.validation_loss = view.validation_accuracy = {};
  view.loss_scale = {};
  view.skipped_steps = 0;
  view.markers.clear();
  view.last_step.reset();
  view.last_epoch.reset();
  view.last_test.reset();
  view.metrics = {};
  view.dispatch_ns.clear();
  view.samples_per_second = view.eta_seconds = 0;
  view.running_seconds = 0;
  view.steps_at_start = 0;
  view.epoch_finished_while_timed = false;
  view.warning.clear();
}

// Events that describe the session's network belong to one run; the others
// (ceilings, experiments, errors' text) are about the device or the request.
bool BelongsToRun(nn::SessionEvent::Kind kind) {
  using Kind = nn::SessionEvent::Kind;
  return kind != Kind::kCeilings && kind != Kind::kExperiment && kind != Kind::kError;
}

void UpdateEta(TrainingView& view, const nn::TrainConfig& config, double frame_seconds) {
  if (view.state == nn::SessionState::kRunning) view.running_seconds += frame_seconds;
  if (!view.last_step || view.steps_per_epoch == 0) return;
  const double done = double(view.last_step->epoch) * view.steps_per_epoch + view.last_step->step_in_epoch + 1;
  const double total = double(config.epochs) * view.steps_per_epoch;
  const double remaining = std::max(0.0, total - done);
  const double timed_steps = done - double(view.steps_at_start);
  if (view.epoch_finished_while_timed && timed_steps > 0 && view.running_seconds > 0) {
    // Measured while running: training, evaluation and epoch-end work together.
    view.eta_seconds = remaining * view.running_seconds / timed_steps;
  } else if (view.samples_per_second > 0) {
    view.eta_seconds = remaining * config.batch_size / view.samples_per_second;
  }
}

void ApplySessionEvents(AppState& state, const std::vector<nn::SessionEvent>& events) {
  TrainingView& view = state.training;
  for (const nn::SessionEvent& event : events) {
    if (BelongsToRun(event.kind) && event.run != view.session_run) continue;  // an earlier run's, still queued
    switch (event.kind) {
      case nn::SessionEvent::Kind::kStateChanged:
        if (event.state == nn::SessionState::kRunning && view.state != nn::SessionState::kRunning) {
          // A new stretch of running: the ETA's clock starts again from here.
          view.running_seconds = 0;
          view.steps_at_start = view.last_step ? view.last_step->global_step + 1 : 0;
          view.epoch_finished_while_timed = false;
        }
        view.state = event.state;
        if (state.session) view.dispatches = state.session->step_dispatches();
        GroupDispatchesByFamily(state.insight, view.dispatches);
        break;
      case nn::SessionEvent::Kind::kStep: {
        const nn::StepReport& r = event.step;
        double x = double(r.global_step + 1);
        AddPoint(view.train_loss, x, r.loss);
        AddPoint(view.train_accuracy, x, r.accuracy);
        if (state.project.training.precision == nn::Precision::kFp16) {
          AddPoint(view.loss_scale, x, r.loss_scale);
          view.skipped_steps += r.skipped ? 1 : 0;
        }
        // Untimed submissions' steps carry no dispatch times (Trainer::set_timing_interval).
        if (!r.dispatch_ns.empty() && (view.dispatch_ns_stale || view.dispatch_ns.size() != r.dispatch_ns.size())) {
          view.dispatch_ns = r.dispatch_ns;
          view.dispatch_ns_stale = false;
        }
        for (size_t i = 0; i < r.dispatch_ns.size(); ++i)
          view.dispatch_ns[i] += kDispatchTimeWeight * (r.dispatch_ns[i] - view.dispatch_ns[i]);
        if (r.wall_seconds > 0) {
          double rate = state.project.training.batch_size / r.wall_seconds;
          view.samples_per_second = view.samples_per_second == 0 ? rate : 0.9 * view.samples_per_second + 0.1 * rate;
        }
        view.last_step = r;
        view.metrics.AddStep(r, state.project.training.batch_size);
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
        if (view.state == nn::SessionState::kRunning) view.epoch_finished_while_timed = true;
        if (event.test) state.inside.test_mistakes = event.test_mistakes;
        double x = view.last_step ? double(view.last_step->global_step + 1) : 0.0;
        if (event.epoch.validation) {
          AddPoint(view.validation_loss, x, event.epoch.validation->loss);
          AddPoint(view.validation_accuracy, x, event.epoch.validation->accuracy);
        }
        if (event.test) view.last_test = event.test;
        // Where training stands after the epoch, as Trainer::position() gives it to the CLI's log.
        const nn::TrainPosition after{event.epoch.epoch + 1, 0, view.last_step ? view.last_step->global_step + 1 : 0};
        if (event.epoch.validation) view.metrics.AddEvaluation("validation", after, *event.epoch.validation);
        if (event.test) view.metrics.AddEvaluation("test", after, *event.test);
        break;
      }
      case nn::SessionEvent::Kind::kSnapshot:
        view.snapshot = event.snapshot;
        break;
      case nn::SessionEvent::Kind::kSettingChanged:
        view.markers.push_back({double(event.step.global_step), event.message});
        // A rebuilt plan (batch size, optimizer, forced variant) has other kernels and costs.
        if (state.session) view.dispatches = state.session->step_dispatches();
        GroupDispatchesByFamily(state.insight, view.dispatches);
        view.dispatch_ns_stale = true;
        // A new batch size changes the epoch's steps (the project's config is what the session now uses).
        if (view.train_samples && state.project.training.batch_size)
          view.steps_per_epoch = static_cast<uint32_t>(view.train_samples / state.project.training.batch_size);
        break;
      case nn::SessionEvent::Kind::kCheckpointSaved:
        if (!FinishExport(state, event.message)) state.Notify(Notice::Level::kInfo, "Checkpoint saved: " + event.message);
        break;
      case nn::SessionEvent::Kind::kWarning:
        view.warning = event.message;
        state.Notify(Notice::Level::kInfo, event.message);
        break;
      case nn::SessionEvent::Kind::kError:
        if (event.run == view.session_run) view.state = event.state;
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
      case nn::SessionEvent::Kind::kSample:
        if (event.sample) ApplySample(state, *event.sample);
        break;
      case nn::SessionEvent::Kind::kAttention:
        ApplyAttention(state, event.attention);
        break;
      case nn::SessionEvent::Kind::kExperiment:
        if (event.experiment) state.insight.experiments.push_back(*event.experiment);
        state.insight.experiment_running = false;
        break;
    }
  }
}

void UpdateFromSession(AppState& state, double frame_seconds) {
  if (state.session) ApplySessionEvents(state, state.session->Poll());
  UpdateEta(state.training, state.project.training, frame_seconds);
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

std::string LoadedDataSpec(const AppState& state) {
  std::string spec = DataSpecFor(state.project.data);
  if (state.project.data.kind != "images") return spec;
  // An image folder is split as the Data panel says, and resized to what the
  // model takes when its input is an image.
  spec += ":";
  if (state.model && state.model->layers[0].shape.size() == 3) {
    const std::vector<uint32_t>& shape = state.model->layers[0].shape;
    spec += "size=" + std::to_string(shape[2]) + "x" + std::to_string(shape[1]) + ",channels=" +
            std::to_string(shape[0]) + ",";
  }
  char split[64];
  std::snprintf(split, sizeof split, "test_fraction=%g,seed=%u", state.project.data.test_fraction,
                static_cast<unsigned>(state.project.data.seed));
  return spec + split;
}

void LoadProjectData(AppState& state) {
  state.loaded_data = DataLoadKey(state);
  if (state.project.data.kind == "text" && state.project.data.path.empty()) {  // just picked: no file yet
    state.train_data.reset();
    state.test_data.reset();
    state.data_error = "Type the path of a UTF-8 text file above and press Load.";
    return;
  }
  try {
    const std::string spec = LoadedDataSpec(state);
    data::DataSplit split = data::LoadDataSpec(spec);
    // Points the user added by clicking join the training set.
    for (const DataChoice::AddedPoint& p : state.project.data.added_points) {
      if (split.train.format != data::FeatureFormat::kFloat32 || split.train.feature_size() != 2 ||
          split.train.labels_per_sample != 1)
        break;
      split.train.features_f32.push_back(p.x);
      split.train.features_f32.push_back(p.y);
      split.train.labels.push_back(std::min(p.label, split.train.num_classes - 1));
    }
    state.train_data = std::make_shared<const data::Dataset>(std::move(split.train));
    state.test_data = std::make_shared<const data::Dataset>(std::move(split.test));
    state.data_error.clear();
  } catch (const Error& e) {
    // Nothing of the previous choice stays: the Data panel would name one set and the run use another.
    state.train_data.reset();
    state.test_data.reset();
    state.data_error = e.what();
    state.Notify(Notice::Level::kError, e.what());
  }
}

}  // namespace ts::ui
