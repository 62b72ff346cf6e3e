#include "compute/nn/session.h"

#include "compute/nn/boundary.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <numeric>
#include <optional>
#include <variant>

#include "compute/common/error.h"
#include "compute/data/registry.h"
#include "compute/nn/boundary.h"
#include "compute/nn/checkpoint.h"
#include "compute/nn/loss_watch.h"

namespace ts::nn {
namespace {

using Clock = std::chrono::steady_clock;

// Snapshots are rate-limited so that they stay a small share of training time.
constexpr auto kBoundarySnapshotInterval = std::chrono::milliseconds(250);
constexpr auto kParameterSnapshotInterval = std::chrono::milliseconds(500);
constexpr uint32_t kMaxBoundaryResolution = 1024;
// The inside views' probe passes (one sample, a batch of kProbeBatch) run at
// most once a second while training, and rarer when they are slow, so that
// they take at most 1/kInsideShare of the worker's time.
constexpr auto kInsideInterval = std::chrono::milliseconds(1000);
constexpr double kInsideShare = 20;
constexpr uint32_t kProbeBatch = 32;
constexpr uint32_t kHistogramBins = 40;

struct LoadCommand { SessionSetup setup; uint64_t run = 0; };
struct StartCommand {};
struct PauseCommand {};
struct StepCommand {};
struct StopCommand {};
struct ResetCommand { uint64_t run = 0; };
struct UnloadCommand { uint64_t run = 0; };
struct SetConfigCommand { TrainConfig config; };
struct SetLearningRateCommand { double learning_rate; };
struct SetOptimizerCommand { kernels::OptimizerKind optimizer; };
struct SetBatchSizeCommand { uint32_t batch_size; };
struct SaveCheckpointCommand { std::string path; };
struct SetInsideCommand { InsideRequest request; };
struct PredictInputCommand {
  std::shared_ptr<const data::Dataset> samples;
  uint64_t request = 0;
};
struct ProfileCommand {};
struct TraceCommand {};
struct CeilingsCommand { bool remeasure = false; };
struct ExperimentCommand { profile::ExperimentRequest request; };
using Command = std::variant<LoadCommand, StartCommand, PauseCommand, StepCommand, StopCommand, ResetCommand,
                             UnloadCommand, SetConfigCommand,
                             SetLearningRateCommand, SetOptimizerCommand, SetBatchSizeCommand, SaveCheckpointCommand,
                             SetInsideCommand, PredictInputCommand, ProfileCommand, TraceCommand, CeilingsCommand,
                             ExperimentCommand>;

template <typename... Handlers>
struct Overloaded : Handlers... {
  using Handlers::operator()...;
};

std::string FormatNumber(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", value);
  return text;
}

std::string Where(const TrainPosition& position) {
  return "epoch " + std::to_string(position.epoch + 1) + ", step " + std::to_string(position.step_in_epoch + 1);
}

// A session's steps are watched live (the GPU panel): every submission is
// timed. Sampled timing measured wrong there on lavapipe: with a window
// drawing on the same queue, the timed submission after untimed ones put
// tens of milliseconds into single dispatches (spiral: a 54 ms "step" of
// 0.5 ms kernels), where timing every submission gives the plain figures.
void TimeEverySubmission(Trainer& trainer) { trainer.set_timing_interval(0); }

// Layers that write a tensor of their own (Plan::ReadLayerOutput is not empty).
bool HasOwnOutput(LayerKind kind) {
  return kind != LayerKind::kInput && kind != LayerKind::kFlatten && kind != LayerKind::kLoss;
}

// The most confidently wrong answers among `outputs` (count x outputs, as
// Trainer::Predict gives them), decided as Trainer::Evaluate decides.
std::vector<SamplePrediction> ConfidentMistakes(const data::Dataset& dataset, const std::vector<float>& outputs,
                                                uint32_t output_count, size_t most) {
  std::vector<SamplePrediction> mistakes;
  const size_t count = std::min(dataset.count(), outputs.size() / std::max<uint32_t>(output_count, 1));
  for (size_t i = 0; i < count; ++i) {
    const float* p = outputs.data() + i * output_count;
    uint32_t predicted = output_count == 1 ? (p[0] > 0.5f ? 1u : 0u)
                                           : static_cast<uint32_t>(std::max_element(p, p + output_count) - p);
    float confidence = output_count == 1 ? (predicted ? p[0] : 1 - p[0]) : p[predicted];
    if (predicted != dataset.labels[i]) mistakes.push_back({i, dataset.labels[i], predicted, confidence});
  }
  auto more_confident = [](const SamplePrediction& a, const SamplePrediction& b) {
    return a.confidence != b.confidence ? a.confidence > b.confidence : a.index < b.index;
  };
  const size_t kept = std::min(most, mistakes.size());
  std::partial_sort(mistakes.begin(), mistakes.begin() + kept, mistakes.end(), more_confident);
  mistakes.resize(kept);
  return mistakes;
}

}  // namespace

Histogram MakeHistogram(std::span<const float> values, uint32_t bins) {
  Histogram h;
  h.total = values.size();
  float low = INFINITY, high = -INFINITY;
  double sum = 0, sum_squares = 0;
  uint64_t finite = 0;
  for (float v : values) {
    if (!std::isfinite(v)) continue;
    ++finite;
    sum += v;
    sum_squares += double(v) * v;
    if (v == 0.0f) {
      ++h.zeros;
      continue;
    }
    low = std::min(low, v);
    high = std::max(high, v);
  }
  if (finite > 0) {
    h.mean = sum / double(finite);
    h.std = std::sqrt(std::max(0.0, sum_squares / double(finite) - h.mean * h.mean));
  }
  if (finite == h.zeros) return h;  // nothing but zeros (or nothing)
  h.min = low;
  h.max = high;
  h.counts.assign(std::max(bins, 1u), 0);
  const double width = (double(high) - low) / h.counts.size();
  for (float v : values) {
    if (!std::isfinite(v) || v == 0.0f) continue;
    size_t bin = width > 0 ? static_cast<size_t>((double(v) - low) / width) : 0;
    ++h.counts[std::min(bin, h.counts.size() - 1)];
  }
  return h;
}

const char* SessionStateName(SessionState state) {
  switch (state) {
    case SessionState::kEmpty: return "empty";
    case SessionState::kReady: return "ready";
    case SessionState::kRunning: return "running";
    case SessionState::kPaused: return "paused";
    case SessionState::kFinished: return "finished";
    case SessionState::kFailed: return "failed";
  }
  return "?";
}

struct TrainingSession::Worker {
  Worker(vk::Context& context, vk::PipelineCache& pipelines) : context(context), pipelines(pipelines) {
    thread = std::thread([this] { Run(); });
  }

  // ---- Shared with the UI thread; guarded by `mutex`. The worker never holds
  // it while the device works, so Poll() and the commands return at once.
  mutable std::mutex mutex;
  std::condition_variable wake;  // a command arrived, or quit
  std::deque<Command> commands;
  std::vector<SessionEvent> events;
  SessionState published_state = SessionState::kEmpty;
  std::vector<DispatchInfo> published_dispatches;
  bool quit = false;

  void Post(Command command) {
    {
      std::lock_guard lock(mutex);
      commands.push_back(std::move(command));
    }
    wake.notify_one();
  }
  // For requests where only the newest matters: drops a queued one of the same kind.
  template <typename Request>
  void PostReplacing(Request request) {
    {
      std::lock_guard lock(mutex);
      std::erase_if(commands, [](const Command& c) { return std::holds_alternative<Request>(c); });
      commands.push_back(std::move(request));
    }
    wake.notify_one();
  }

  // ---- The worker thread's own.
  vk::Context& context;
  vk::PipelineCache& pipelines;
  SessionSetup setup;
  std::unique_ptr<Trainer> trainer;
  // 2D models: the outputs on the boundary grid, refreshed with each snapshot.
  std::unique_ptr<BoundaryEvaluator> boundary;
  SessionState state = SessionState::kEmpty;  // published_state, without the lock
  struct EpochProgress {                      // the current epoch's steps so far
    double loss_sum = 0, accuracy_sum = 0, seconds = 0;
    uint32_t steps = 0;
    uint64_t samples = 0;
  } progress;
  Clock::time_point last_snapshot{};
  double seconds_per_step = 0;  // recent host time per training step (0: not measured yet)
  LossWatch loss_watch{1};      // renewed for each run (its window: an epoch's steps)
  uint64_t run = 0;             // the run number of the last Load, Reset or Unload (SessionEvent::run)
  bool trace_pending = false;   // a trace was asked for and the traced submission has not run yet
  // The inside views: the same network compiled for one sample and for the
  // probe batch, evaluation only, built when first asked for; they get the
  // training plan's parameters (and batch-norm statistics) before each use.
  InsideRequest inside_request;
  std::unique_ptr<Trainer> sample_probe, batch_probe;
  data::Dataset probe_batch;  // the first kProbeBatch samples of the probe set (stays put: Predict keeps its copy)
  bool inside_failed = false;  // the probes could not be built; reported once per Load
  std::shared_ptr<const InsideSnapshot> last_inside;
  InsideRequest last_inside_request;
  Clock::time_point last_inside_time{};

  std::thread thread;  // last: starts once everything above exists

  void Run();
  // steps_per_submit, or fewer when SessionSetup::submission_seconds asks for
  // submissions of about that length (the window shares the one queue).
  uint32_t StepsForNextSubmission() const {
    const uint32_t most = trainer->config().steps_per_submit;
    // A traced submission reports its second step (the first may compile pipelines).
    if (trace_pending) return std::min(most, 2u);
    if (setup.submission_seconds <= 0 || seconds_per_step <= 0) return setup.submission_seconds > 0 ? 1 : most;
    return std::clamp(static_cast<uint32_t>(setup.submission_seconds / seconds_per_step), 1u, most);
  }
  void Execute(Command& command);
  void Load(SessionSetup next);
  void Start();
  void Pause();
  void Step();
  void Stop();
  void Reset();
  void Unload();
  void SetConfig(const TrainConfig& config);
  void SetLearningRate(double learning_rate);
  void SetOptimizer(kernels::OptimizerKind optimizer);
  void SetBatchSize(uint32_t batch_size);
  void SaveCheckpoint(const std::string& path);
  void SetInside(const InsideRequest& request);
  void PredictInput(const std::shared_ptr<const data::Dataset>& samples, uint64_t request);
  void RequestProfile(bool trace) {
    if (!RequireTrainer(trace ? "record a trace" : "profile a step")) return;
    trace ? trainer->RequestTrace() : trainer->RequestProfile();
    trace_pending |= trace;
  }
  void MeasureCeilings(bool remeasure) {
    SessionEvent event = Event(SessionEvent::Kind::kCeilings);
    event.ceilings = std::make_shared<profile::CachedCeilings>(profile::LoadOrMeasureCeilings(context, pipelines, remeasure));
    Emit(std::move(event));
  }
  void RunExperiment(const profile::ExperimentRequest& request) {
    SessionEvent event = Event(SessionEvent::Kind::kExperiment);
    event.experiment = std::make_shared<profile::ExperimentResult>(profile::RunWorkgroupExperiment(context, pipelines, request));
    Emit(std::move(event));
  }

  // SessionSetup::test, else validation, else train.
  const data::Dataset& ProbeSet() const {
    return setup.test ? *setup.test : setup.validation ? *setup.validation : *setup.train;
  }
  bool EnsureInsideProbes();
  void SyncProbe(Trainer& probe, const std::vector<float>& parameters, const std::vector<float>& statistics) {
    probe.plan().WriteParameters(parameters);
    probe.plan().WriteStatistics(statistics);
  }
  std::shared_ptr<const InsideSnapshot> ComputeInside(const std::vector<float>& parameters);
  void ComputeSamplePass(InsideSnapshot& inside, const std::vector<float>& parameters,
                         const std::vector<float>& statistics);
  void ComputeBatchStatistics(InsideSnapshot& inside, const std::vector<float>& parameters,
                              const std::vector<float>& statistics);
  void ForgetInsideProbes() {
    sample_probe.reset();
    batch_probe.reset();
    probe_batch = {};
    inside_failed = false;
    last_inside.reset();
  }

  // Runs up to `max_steps` steps (one submission at most, never past the end
  // of the epoch), then reports the steps, the epoch when it ended, and the
  // end of training.
  void TrainSubmission(uint32_t max_steps);
  void FinishEpoch(uint32_t epoch);
  // Builds a Trainer for `config` that continues where the current one is.
  void Rebuild(const TrainConfig& config, bool keep_optimizer_state);
  void SendSnapshot(bool force);
  bool RequireTrainer(const char* action);
  bool RequireTrainable(const char* action);

  SessionEvent Event(SessionEvent::Kind kind, std::string message = {}) const {
    SessionEvent event;
    event.kind = kind;
    event.run = run;
    event.state = state;
    event.message = std::move(message);
    return event;
  }
  void Emit(SessionEvent event) {
    std::lock_guard lock(mutex);
    events.push_back(std::move(event));
  }
  void SetState(SessionState next, std::string why) {
    state = next;
    SessionEvent event = Event(SessionEvent::Kind::kStateChanged, std::move(why));
    std::lock_guard lock(mutex);
    published_state = next;
    events.push_back(std::move(event));
  }
  void ReportError(const std::string& message) { Emit(Event(SessionEvent::Kind::kError, message)); }
  // Training broke: keep the parameters for inspection; Reset or Load recovers.
  void Fail(const std::string& message) {
    SetState(SessionState::kFailed, "failed");
    ReportError(message);
  }
  // A marker at the current position, with the learning rate now in force.
  void EmitSettingChanged(std::string message) {
    SessionEvent event = Event(SessionEvent::Kind::kSettingChanged, std::move(message));
    const TrainPosition& position = trainer->position();
    event.step.epoch = position.epoch;
    event.step.step_in_epoch = position.step_in_epoch;
    event.step.global_step = position.global_step;
    event.step.learning_rate = trainer->config().learning_rate;
    Emit(std::move(event));
  }
  void PublishDispatches() {
    std::vector<DispatchInfo> dispatches = trainer ? trainer->step_dispatches() : std::vector<DispatchInfo>{};
    std::lock_guard lock(mutex);
    published_dispatches = std::move(dispatches);
  }
};

void TrainingSession::Worker::Run() {
  for (;;) {
    std::optional<Command> command;
    {
      std::unique_lock lock(mutex);
      // While training, only look for commands between submissions; otherwise sleep until one arrives.
      if (state != SessionState::kRunning) wake.wait(lock, [&] { return quit || !commands.empty(); });
      if (quit) {
        // Checkpoints asked for before quitting are still written (closing the
        // window keeps what was trained); every other command is dropped.
        std::erase_if(commands, [](const Command& c) { return !std::holds_alternative<SaveCheckpointCommand>(c); });
        if (commands.empty()) break;
      }
      if (!commands.empty()) {
        command = std::move(commands.front());
        commands.pop_front();
      }
    }
    if (command) {
      Execute(*command);
      continue;  // every queued command applies before the next submission
    }
    try {
      TrainSubmission(StepsForNextSubmission());
      trace_pending = false;
      if (state == SessionState::kRunning) SendSnapshot(false);
    } catch (const std::exception& e) {
      Fail(e.what());
    }
  }
  // Device objects go away on the thread that used them.
  ForgetInsideProbes();
  boundary.reset();
  trainer.reset();
}

void TrainingSession::Worker::Execute(Command& command) {
  try {
    std::visit(Overloaded{
                   [&](LoadCommand& c) { run = c.run; Load(std::move(c.setup)); },
                   [&](StartCommand&) { Start(); },
                   [&](PauseCommand&) { Pause(); },
                   [&](StepCommand&) { Step(); },
                   [&](StopCommand&) { Stop(); },
                   [&](ResetCommand& c) { run = c.run; Reset(); },
                   [&](UnloadCommand& c) { run = c.run; Unload(); },
                   [&](SetConfigCommand& c) { SetConfig(c.config); },
                   [&](SetLearningRateCommand& c) { SetLearningRate(c.learning_rate); },
                   [&](SetOptimizerCommand& c) { SetOptimizer(c.optimizer); },
                   [&](SetBatchSizeCommand& c) { SetBatchSize(c.batch_size); },
                   [&](SaveCheckpointCommand& c) { SaveCheckpoint(c.path); },
                   [&](SetInsideCommand& c) { SetInside(c.request); },
                   [&](PredictInputCommand& c) { PredictInput(c.samples, c.request); },
                   [&](ProfileCommand&) { RequestProfile(false); },
                   [&](TraceCommand&) { RequestProfile(true); },
                   [&](CeilingsCommand& c) { MeasureCeilings(c.remeasure); },
                   [&](ExperimentCommand& c) { RunExperiment(c.request); },
               },
               command);
  } catch (const DivergenceError& e) {
    Fail(e.what());
  } catch (const std::exception& e) {
    // A rejected command (bad setting, unwritable path): the session carries on as it was.
    ReportError(e.what());
  }
}

bool TrainingSession::Worker::RequireTrainer(const char* action) {
  if (trainer) return true;
  ReportError(std::string("Cannot ") + action + ": load a model and its data first.");
  return false;
}

bool TrainingSession::Worker::RequireTrainable(const char* action) {
  if (!RequireTrainer(action)) return false;
  if (state == SessionState::kFailed) {
    ReportError(std::string("Cannot ") + action + ": training failed. Reset (or load again) first.");
    return false;
  }
  if (trainer->finished()) {
    ReportError(std::string("Cannot ") + action + ": all " + std::to_string(trainer->config().epochs) +
                " epochs are done. Reset to train again.");
    return false;
  }
  return true;
}

void TrainingSession::Worker::Load(SessionSetup next) {
  // Free the previous run's device memory before building the next one.
  ForgetInsideProbes();
  boundary.reset();
  trainer.reset();
  setup = {};
  PublishDispatches();
  try {
    Require(next.train != nullptr, "Cannot load: there is no training data.");
    Require(next.boundary_resolution >= 1 && next.boundary_resolution <= kMaxBoundaryResolution,
            "The decision boundary resolution must be 1 to " + std::to_string(kMaxBoundaryResolution) + "; got " +
                std::to_string(next.boundary_resolution) + ".");
    trainer = std::make_unique<Trainer>(context, pipelines, next.model, next.config, next.train.get(),
                                        next.validation.get());
    TimeEverySubmission(*trainer);
    if (next.resume) RestoreCheckpoint(*trainer, *next.resume, next.resume_source);
    setup = std::move(next);
  } catch (const std::exception& e) {
    if (state != SessionState::kEmpty) SetState(SessionState::kEmpty, "load failed");
    ReportError(e.what());
    return;
  }
  if (TakesTwoFeatures(setup.model)) {
    try {
      boundary = std::make_unique<BoundaryEvaluator>(context, pipelines, setup.model, setup.config,
                                                     setup.boundary_resolution, setup.boundary_extent);
    } catch (const std::exception& e) {
      // Training does not need the boundary (e.g. a grid too large for the device).
      ReportError(std::string("The decision boundary is off: ") + e.what());
    }
  }
  PublishDispatches();
  progress = {};
  seconds_per_step = 0;
  loss_watch = LossWatch(trainer->steps_per_epoch());
  const std::string loaded = "loaded '" + setup.model.name + "': " + std::to_string(trainer->plan().parameter_count()) +
                             " parameters, " + std::to_string(trainer->steps_per_epoch()) + " steps per epoch";
  if (setup.resume)
    SetState(SessionState::kFinished, loaded + "; restored from " + setup.resume_source + " at " + Where(trainer->position()));
  else
    SetState(SessionState::kReady, loaded);
  SendSnapshot(true);
}

void TrainingSession::Worker::Start() {
  if (state == SessionState::kRunning || !RequireTrainable("start")) return;
  SetState(SessionState::kRunning, "training from " + Where(trainer->position()));
}

void TrainingSession::Worker::Pause() {
  if (state != SessionState::kRunning) return;
  SetState(SessionState::kPaused, "paused before " + Where(trainer->position()));
  SendSnapshot(true);
}

void TrainingSession::Worker::Step() {
  if (!RequireTrainable("step")) return;
  TrainSubmission(1);
  trace_pending = false;
  if (state == SessionState::kFinished) return;  // that was the last step; already reported
  SetState(SessionState::kPaused, "stepped; paused before " + Where(trainer->position()));
  SendSnapshot(true);
}

void TrainingSession::Worker::Stop() {
  if (state != SessionState::kRunning && state != SessionState::kPaused) return;
  SetState(SessionState::kFinished, "stopped before " + Where(trainer->position()));
  SendSnapshot(true);
}

void TrainingSession::Worker::Reset() {
  if (!RequireTrainer("reset")) return;
  trainer->plan().InitializeParameters(static_cast<uint32_t>(trainer->config().seed));  // also zeroes optimizer state
  trainer->set_position({});
  progress = {};
  seconds_per_step = 0;
  loss_watch = LossWatch(trainer->steps_per_epoch());
  last_inside.reset();
  SetState(SessionState::kReady, "reset");
  SendSnapshot(true);
}

void TrainingSession::Worker::Unload() {
  ForgetInsideProbes();
  boundary.reset();
  trainer.reset();
  setup = {};
  progress = {};
  PublishDispatches();
  if (state != SessionState::kEmpty) SetState(SessionState::kEmpty, "unloaded");
}

void TrainingSession::Worker::SetConfig(const TrainConfig& wanted) {
  if (!RequireTrainer("change the settings")) return;
  ValidateTrainConfig(wanted);
  const TrainConfig& now = trainer->config();
  std::vector<std::string> changes;
  auto note = [&](bool differs, const std::string& what, const std::string& before, const std::string& after) {
    if (differs) changes.push_back(what + " " + before + " -> " + after);
  };
  note(wanted.learning_rate != now.learning_rate, "lr", FormatNumber(now.learning_rate), FormatNumber(wanted.learning_rate));
  note(wanted.optimizer != now.optimizer, "optimizer", kernels::OptimizerName(now.optimizer),
       kernels::OptimizerName(wanted.optimizer));
  note(wanted.batch_size != now.batch_size, "batch", std::to_string(now.batch_size), std::to_string(wanted.batch_size));
  note(wanted.epochs != now.epochs, "epochs", std::to_string(now.epochs), std::to_string(wanted.epochs));
  note(TrainConfigToJson(wanted)["schedule"] != TrainConfigToJson(now)["schedule"], "schedule",
       TrainConfigToJson(now)["schedule"].dump(), TrainConfigToJson(wanted)["schedule"].dump());
  note(wanted.hyper.weight_decay != now.hyper.weight_decay, "weight decay", FormatNumber(now.hyper.weight_decay),
       FormatNumber(wanted.hyper.weight_decay));
  // Anything else (momentum, betas, augmentation, submission size): one note.
  TrainConfig compared = wanted;
  compared.learning_rate = now.learning_rate;
  compared.optimizer = now.optimizer;
  compared.batch_size = now.batch_size;
  compared.epochs = now.epochs;
  compared.schedule = now.schedule;
  compared.hyper.weight_decay = now.hyper.weight_decay;
  compared.data = now.data;
  if (TrainConfigToJson(compared) != TrainConfigToJson(now)) changes.push_back("other settings");
  if (changes.empty()) return;
  const bool only_rate = changes.size() == 1 && wanted.learning_rate != now.learning_rate;
  if (only_rate) {
    trainer->set_learning_rate(wanted.learning_rate);  // keeps the plan and the optimizer state
  } else {
    TrainConfig config = wanted;
    config.data = now.data;
    // A new optimizer's state means something else: it starts from zero.
    Rebuild(config, /*keep_optimizer_state=*/wanted.optimizer == now.optimizer);
  }
  std::string message;
  for (const std::string& change : changes) message += (message.empty() ? "" : ", ") + change;
  EmitSettingChanged(message);
  SendSnapshot(true);
}

void TrainingSession::Worker::SetLearningRate(double learning_rate) {
  if (!RequireTrainer("change the learning rate")) return;
  double before = trainer->config().learning_rate;
  if (learning_rate == before) return;
  trainer->set_learning_rate(learning_rate);
  EmitSettingChanged("lr " + FormatNumber(before) + " -> " + FormatNumber(learning_rate));
}

void TrainingSession::Worker::SetOptimizer(kernels::OptimizerKind optimizer) {
  if (!RequireTrainer("change the optimizer")) return;
  kernels::OptimizerKind before = trainer->config().optimizer;
  if (optimizer == before) return;
  TrainConfig config = trainer->config();
  config.optimizer = optimizer;
  Rebuild(config, /*keep_optimizer_state=*/false);  // the new optimizer's state means something else
  EmitSettingChanged(std::string("optimizer ") + kernels::OptimizerName(before) + " -> " +
                     kernels::OptimizerName(optimizer));
  SendSnapshot(true);
}

void TrainingSession::Worker::SetBatchSize(uint32_t batch_size) {
  if (!RequireTrainer("change the batch size")) return;
  uint32_t before = trainer->config().batch_size;
  if (batch_size == before) return;
  TrainConfig config = trainer->config();
  config.batch_size = batch_size;
  Rebuild(config, /*keep_optimizer_state=*/true);
  EmitSettingChanged("batch " + std::to_string(before) + " -> " + std::to_string(batch_size));
  SendSnapshot(true);
}

void TrainingSession::Worker::Rebuild(const TrainConfig& config, bool keep_optimizer_state) {
  // Built beside the current trainer, so a rejected setting leaves the run as it was.
  auto fresh = std::make_unique<Trainer>(context, pipelines, setup.model, config, setup.train.get(),
                                         setup.validation.get());
  TimeEverySubmission(*fresh);
  fresh->plan().WriteParameters(trainer->plan().ReadParameters());
  if (keep_optimizer_state) fresh->plan().WriteOptimizerState(trainer->plan().ReadOptimizerState());
  TrainPosition position = trainer->position();
  if (config.batch_size != trainer->config().batch_size) {
    // The epoch's sample order does not depend on the batch size, so carry on
    // from the batch holding the first sample not yet trained on.
    uint64_t trained = uint64_t(position.step_in_epoch) * trainer->config().batch_size;
    position.step_in_epoch = static_cast<uint32_t>(
        std::min<uint64_t>(trained / config.batch_size, fresh->steps_per_epoch() - 1));
  }
  fresh->set_position(position);
  seconds_per_step = 0;  // a new batch size: measure again
  trainer = std::move(fresh);
  PublishDispatches();
}

void TrainingSession::Worker::SaveCheckpoint(const std::string& path) {
  if (!RequireTrainer("save a checkpoint")) return;
  nn::SaveCheckpoint(path, CaptureCheckpoint(*trainer));
  Emit(Event(SessionEvent::Kind::kCheckpointSaved, path));
}

void TrainingSession::Worker::TrainSubmission(uint32_t max_steps) {
  const uint32_t epoch = trainer->position().epoch;
  const uint32_t batch_size = trainer->config().batch_size;
  // RunSteps would carry on into the next epoch; stop at its end to evaluate.
  max_steps = std::min(max_steps, trainer->steps_per_epoch() - trainer->position().step_in_epoch);
  std::vector<StepReport> reports;
  auto start = Clock::now();
  trainer->RunSteps(max_steps, [&](const StepReport& report) { reports.push_back(report); });
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  progress.seconds += seconds;
  if (!reports.empty()) {
    const double per_step = seconds / double(reports.size());
    seconds_per_step = seconds_per_step > 0 ? 0.7 * seconds_per_step + 0.3 * per_step : per_step;
  }
  for (const StepReport& report : reports) {
    if (std::optional<std::string> warning = loss_watch.Add(report.global_step, report.loss))
      Emit(Event(SessionEvent::Kind::kWarning, *warning));
    progress.loss_sum += report.loss;
    progress.accuracy_sum += report.accuracy;
    progress.steps += 1;
    progress.samples += batch_size;
  }
  {
    std::lock_guard lock(mutex);
    for (StepReport& report : reports) {
      SessionEvent event = Event(SessionEvent::Kind::kStep);
      event.step = std::move(report);
      event.plan_memory = trainer->plan().memory();
      event.dataset_bytes = trainer->dataset_device_bytes();
      events.push_back(std::move(event));
    }
  }
  if (trainer->position().epoch != epoch) FinishEpoch(epoch);
  if (trainer->finished()) {
    SetState(SessionState::kFinished, "finished " + std::to_string(trainer->config().epochs) + " epochs");
    SendSnapshot(true);
  }
}

void TrainingSession::Worker::FinishEpoch(uint32_t epoch) {
  auto start = Clock::now();
  SessionEvent event = Event(SessionEvent::Kind::kEpoch);
  EpochSummary& summary = event.epoch;
  summary.epoch = epoch;
  summary.train_loss = progress.steps ? progress.loss_sum / progress.steps : 0;
  summary.train_accuracy = progress.steps ? progress.accuracy_sum / progress.steps : 0;
  summary.samples = progress.samples;
  summary.validation = trainer->EvaluateValidation();
  if (setup.test) {
    try {
      std::vector<float> outputs;
      event.test = trainer->EvaluateWithOutputs(*setup.test, outputs);
      event.test_mistakes = ConfidentMistakes(*setup.test, outputs, trainer->plan().output_features(),
                                              SessionEvent::kMistakesShown);
    } catch (const DivergenceError&) {
      throw;
    } catch (const Error& e) {
      // A test set that does not fit the model should not stop the training.
      ReportError(std::string("The test set is left out: ") + e.what());
      setup.test.reset();
    }
  }
  summary.seconds = progress.seconds + std::chrono::duration<double>(Clock::now() - start).count();
  progress = {};
  Emit(std::move(event));
  SendSnapshot(false);
}

void TrainingSession::Worker::SendSnapshot(bool force) {
  if (!trainer) return;
  auto start = Clock::now();
  if (!force && start - last_snapshot < (boundary ? kBoundarySnapshotInterval : kParameterSnapshotInterval)) return;
  auto snapshot = std::make_shared<nn::Snapshot>();
  snapshot->global_step = trainer->position().global_step;
  snapshot->layout = trainer->plan().parameters();
  snapshot->parameters = trainer->plan().ReadParameters();
  // ReadParameters packs the tensors without the buffer's alignment padding:
  // make the offsets index `parameters`.
  uint64_t offset = 0;
  for (ParameterTensor& tensor : snapshot->layout) {
    tensor.offset = offset;
    offset += tensor.count;
  }
  if (boundary) {
    BoundaryResult grid = boundary->Evaluate(snapshot->parameters, trainer->plan().ReadStatistics(), /*with_hidden=*/true);
    snapshot->boundary_resolution = grid.resolution;
    snapshot->classes = grid.classes;
    snapshot->boundary = std::move(grid.probabilities);
    for (GridActivations& layer : grid.hidden)
      snapshot->hidden.push_back({std::move(layer.name), layer.layer, layer.units, std::move(layer.activations)});
  }
  if (inside_request.enabled()) {
    const auto interval = std::max<Clock::duration>(
        kInsideInterval, std::chrono::duration_cast<Clock::duration>(
                             std::chrono::duration<double>(last_inside ? kInsideShare * last_inside->seconds : 0)));
    const bool due = force || !last_inside || inside_request != last_inside_request ||
                     Clock::now() - last_inside_time >= interval;
    if (due) {
      try {
        last_inside = ComputeInside(snapshot->parameters);
      } catch (const std::exception& e) {
        // The views are a luxury: their failure must not stop the training.
        ForgetInsideProbes();
        inside_failed = true;
        ReportError(std::string("The inside views are off: ") + e.what());
      }
      last_inside_request = inside_request;
      last_inside_time = Clock::now();
    }
    snapshot->inside = last_inside;
  }
  last_snapshot = Clock::now();
  snapshot->seconds = std::chrono::duration<double>(last_snapshot - start).count();
  SessionEvent event = Event(SessionEvent::Kind::kSnapshot);
  event.snapshot = std::move(snapshot);
  Emit(std::move(event));
}

void TrainingSession::Worker::SetInside(const InsideRequest& request) {
  inside_request = request;
  if (request.enabled() && trainer) SendSnapshot(true);
}

bool TrainingSession::Worker::EnsureInsideProbes() {
  if (sample_probe && batch_probe) return true;
  if (inside_failed || !trainer) return false;
  try {
    const data::Dataset& set = ProbeSet();
    TrainConfig config = setup.config;
    config.steps_per_submit = 1;
    config.optimizer = kernels::OptimizerKind::kSgd;  // no optimizer state to allocate
    config.batch_size = 1;
    sample_probe = std::make_unique<Trainer>(context, pipelines, setup.model, config, nullptr, nullptr);
    std::vector<uint32_t> first(std::min<size_t>(kProbeBatch, set.count()));
    std::iota(first.begin(), first.end(), 0u);
    probe_batch = data::Subset(set, first);
    config.batch_size = static_cast<uint32_t>(first.size());
    batch_probe = std::make_unique<Trainer>(context, pipelines, setup.model, config, nullptr, nullptr);
    return true;
  } catch (const std::exception& e) {
    sample_probe.reset();
    batch_probe.reset();
    inside_failed = true;
    ReportError(std::string("The inside views are off: ") + e.what());
    return false;
  }
}

std::shared_ptr<const InsideSnapshot> TrainingSession::Worker::ComputeInside(const std::vector<float>& parameters) {
  const auto start = Clock::now();
  if (!EnsureInsideProbes()) return nullptr;
  const std::vector<float> statistics = trainer->plan().ReadStatistics();
  const data::Dataset& set = ProbeSet();
  auto inside = std::make_shared<InsideSnapshot>();
  inside->global_step = trainer->position().global_step;

  inside->probe_set_samples = set.count();
  inside->sample = std::min<uint64_t>(inside_request.sample, set.count() - 1);
  if (inside_request.sample_pass) ComputeSamplePass(*inside, parameters, statistics);
  if (inside_request.batch_statistics) ComputeBatchStatistics(*inside, parameters, statistics);
  inside->seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return inside;
}

void TrainingSession::Worker::ComputeSamplePass(InsideSnapshot& inside, const std::vector<float>& parameters,
                                                const std::vector<float>& statistics) {
  // The chosen sample alone: its prediction and every image-shaped layer output.
  const ModelDesc& model = setup.model;
  const std::vector<LayerShape> shapes = InferShapes(model);
  const uint32_t index = static_cast<uint32_t>(inside.sample);
  const data::Dataset one = data::Subset(ProbeSet(), std::span<const uint32_t>(&index, 1));
  inside.sample_label = one.labels[0];
  SyncProbe(*sample_probe, parameters, statistics);
  inside.sample_outputs = sample_probe->PredictOnce(one);
  for (size_t i = 0; i < model.layers.size(); ++i) {
    const std::vector<uint32_t>& shape = shapes[i].output;
    if (!HasOwnOutput(model.layers[i].kind) || shape.size() != 3 || shape[1] * shape[2] <= 1) continue;
    InsideSnapshot::FeatureMap map;
    map.name = model.layers[i].name;
    map.type = model.layers[i].TypeName();
    map.layer = i;
    map.channels = shape[0];
    map.height = shape[1];
    map.width = shape[2];
    map.values = sample_probe->plan().ReadLayerOutput(i);
    inside.feature_maps.push_back(std::move(map));
  }
}

void TrainingSession::Worker::ComputeBatchStatistics(InsideSnapshot& inside, const std::vector<float>& parameters,
                                                     const std::vector<float>& statistics) {
  // The probe batch: per-layer histograms and dead units.
  const ModelDesc& model = setup.model;
  const std::vector<LayerShape> shapes = InferShapes(model);
  SyncProbe(*batch_probe, parameters, statistics);
  batch_probe->Predict(probe_batch);
  inside.probe_batch = static_cast<uint32_t>(probe_batch.count());
  // Parameter gradients of the last training step, packed in parameters() order.
  const std::vector<float> gradients = trainer->plan().ReadGradients();
  std::vector<std::pair<const ParameterTensor*, uint64_t>> weights(model.layers.size(), {nullptr, 0});
  uint64_t packed = 0;
  for (const ParameterTensor& tensor : trainer->plan().parameters()) {
    if (tensor.name == model.layers[tensor.layer].name + ".weight") weights[tensor.layer] = {&tensor, packed};
    packed += tensor.count;
  }
  for (size_t i = 0; i < model.layers.size(); ++i) {
    const LayerDesc& layer = model.layers[i];
    if (!HasOwnOutput(layer.kind)) continue;
    InsideSnapshot::LayerStatistics stats;
    stats.name = layer.name;
    stats.type = layer.TypeName();
    stats.layer = i;
    stats.shape = shapes[i].output;
    const std::vector<float> values = batch_probe->plan().ReadLayerOutput(i);
    stats.activations = MakeHistogram(values, kHistogramBins);
    stats.relu = layer.kind == LayerKind::kActivation && layer.activation == kernels::Activation::kRelu;
    if (stats.relu) {
      const uint64_t features = ShapeElements(stats.shape);
      stats.units = static_cast<uint32_t>(stats.shape.size() == 3 ? stats.shape[0] : features);
      std::vector<char> alive(stats.units, 0);
      for (size_t j = 0; j < values.size(); ++j)
        if (values[j] != 0.0f) alive[(j % features) % stats.units] = 1;
      stats.dead_units = static_cast<uint32_t>(std::count(alive.begin(), alive.end(), 0));
    }
    if (const auto& [tensor, offset] = weights[i]; tensor) {
      stats.gradient_of = tensor->name;
      stats.weight_gradients =
          MakeHistogram(std::span<const float>(gradients).subspan(offset, tensor->count), kHistogramBins);
    }
    inside.layers.push_back(std::move(stats));
  }
}

void TrainingSession::Worker::PredictInput(const std::shared_ptr<const data::Dataset>& samples, uint64_t request) {
  auto answer = std::make_shared<InputPrediction>();
  answer->request = request;
  if (!trainer) {
    answer->error = "Load a model and its data first.";
  } else if (!samples || samples->count() == 0) {
    answer->error = "Nothing to predict.";
  } else if (EnsureInsideProbes()) {
    try {
      SyncProbe(*sample_probe, trainer->plan().ReadParameters(), trainer->plan().ReadStatistics());
      answer->global_step = trainer->position().global_step;
      answer->outputs = sample_probe->PredictOnce(*samples);
    } catch (const DivergenceError&) {
      throw;
    } catch (const Error& e) {
      answer->error = e.what();  // e.g. an input of the wrong shape: the answer says so, no notice
    }
  } else {
    answer->error = "The network could not be compiled for single samples.";
  }
  SessionEvent event = Event(SessionEvent::Kind::kPrediction);
  event.prediction = std::move(answer);
  Emit(std::move(event));
}

TrainingSession::TrainingSession(vk::Context& context, vk::PipelineCache& pipelines)
    : worker_(std::make_unique<Worker>(context, pipelines)) {}

TrainingSession::~TrainingSession() {
  {
    std::lock_guard lock(worker_->mutex);
    worker_->quit = true;
  }
  worker_->wake.notify_one();
  worker_->thread.join();  // the worker checks `quit` between submissions
}

uint64_t TrainingSession::Load(SessionSetup setup) {
  const uint64_t run = ++runs_;
  worker_->Post(LoadCommand{std::move(setup), run});
  return run;
}
void TrainingSession::Start() { worker_->Post(StartCommand{}); }
void TrainingSession::Pause() { worker_->Post(PauseCommand{}); }
void TrainingSession::Step() { worker_->Post(StepCommand{}); }
void TrainingSession::Stop() { worker_->Post(StopCommand{}); }
uint64_t TrainingSession::Reset() {
  const uint64_t run = ++runs_;
  worker_->Post(ResetCommand{run});
  return run;
}
uint64_t TrainingSession::Unload() {
  const uint64_t run = ++runs_;
  worker_->Post(UnloadCommand{run});
  return run;
}
void TrainingSession::SetConfig(const TrainConfig& config) { worker_->PostReplacing(SetConfigCommand{config}); }
void TrainingSession::SetLearningRate(double learning_rate) { worker_->Post(SetLearningRateCommand{learning_rate}); }
void TrainingSession::SetOptimizer(kernels::OptimizerKind optimizer) { worker_->Post(SetOptimizerCommand{optimizer}); }
void TrainingSession::SetBatchSize(uint32_t batch_size) { worker_->Post(SetBatchSizeCommand{batch_size}); }
void TrainingSession::SaveCheckpoint(const std::string& path) { worker_->Post(SaveCheckpointCommand{path}); }
void TrainingSession::SetInsideViews(const InsideRequest& request) { worker_->PostReplacing(SetInsideCommand{request}); }
void TrainingSession::PredictInput(std::shared_ptr<const data::Dataset> samples, uint64_t request) {
  worker_->PostReplacing(PredictInputCommand{std::move(samples), request});
}

void TrainingSession::RequestProfile() { worker_->PostReplacing(ProfileCommand{}); }
void TrainingSession::RequestTrace() { worker_->Post(TraceCommand{}); }
void TrainingSession::MeasureCeilings(bool remeasure) { worker_->PostReplacing(CeilingsCommand{remeasure}); }
void TrainingSession::RunExperiment(const profile::ExperimentRequest& request) {
  worker_->Post(ExperimentCommand{request});
}

std::vector<SessionEvent> TrainingSession::Poll() {
  std::vector<SessionEvent> events;
  std::lock_guard lock(worker_->mutex);
  events.swap(worker_->events);
  return events;
}

SessionState TrainingSession::state() const {
  std::lock_guard lock(worker_->mutex);
  return worker_->published_state;
}

std::vector<DispatchInfo> TrainingSession::step_dispatches() const {
  std::lock_guard lock(worker_->mutex);
  return worker_->published_dispatches;
}

}  // namespace ts::nn
