// TrainingSession's worker: the commands it takes, its state and its steps.
// Internal to compute/nn/session*.cpp (session.cpp: commands and training;
// session_inside.cpp: the inside views and predictions; session_text.cpp:
// samples and attention maps of sequence models); not an API.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <limits>
#include <numeric>
#include <optional>
#include <variant>

#include "compute/common/error.h"
#include "compute/data/registry.h"
#include "compute/nn/boundary.h"
#include "compute/nn/checkpoint.h"
#include "compute/nn/loss_watch.h"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "compute/nn/session.h"
#include "compute/parallel/data_parallel.h"

namespace ts::nn {
namespace session_internal {

using Clock = std::chrono::steady_clock;

inline constexpr uint32_t kMaxBoundaryResolution = 1024;
// The inside views' probe passes: one sample, and a batch of kProbeBatch.
inline constexpr uint32_t kProbeBatch = 32;
// How long a timed submission waits for a window's frame in progress to end.
inline constexpr auto kTimingPatience = std::chrono::milliseconds(100);
inline constexpr uint32_t kHistogramBins = 40;
// Characters a sample in progress gets per worker turn (one batch-1 forward
// pass each, about 0.1 s for char-gpt on lavapipe), between training turns:
// while training, as many as take kSampleShare of the last training turn's
// time (so sampling costs training at most a third of its speed), within
// these bounds; otherwise the most.
inline constexpr uint32_t kLeastSampleTokensPerTurn = 4, kMostSampleTokensPerTurn = 16;
inline constexpr double kSampleShare = 0.5;

struct LoadCommand { SessionSetup setup; uint64_t run = 0; };

// What a run trains with: one Trainer, or data-parallel replicas and the
// logical devices of replicas 1..N-1.
struct RunTrainers {
  std::unique_ptr<Trainer> single;
  std::vector<std::unique_ptr<vk::Context>> replica_contexts;
  std::unique_ptr<parallel::DataParallelTrainer> replicas;
  Trainer* primary() const { return replicas ? &replicas->primary() : single.get(); }
};
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
struct SetForcedVariantCommand { ForcedVariant variant; };
struct SetInsideCommand { InsideRequest request; };
struct SetWatchCommand { WatchSettings watch; };
struct PredictInputCommand {
  std::shared_ptr<const data::Dataset> samples;
  uint64_t request = 0;
};
struct SampleCommand { SampleRequest request; };
struct AttentionCommand { AttentionRequest request; };
struct ProfileCommand {};
struct TraceCommand {};
struct CeilingsCommand { bool remeasure = false; };
struct ExperimentCommand { profile::ExperimentRequest request; };
using Command = std::variant<LoadCommand, StartCommand, PauseCommand, StepCommand, StopCommand, ResetCommand,
                             UnloadCommand, SetConfigCommand,
                             SetLearningRateCommand, SetOptimizerCommand, SetBatchSizeCommand, SaveCheckpointCommand,
                             SetInsideCommand, SetWatchCommand, PredictInputCommand, ProfileCommand, TraceCommand, CeilingsCommand,
                             ExperimentCommand, SetForcedVariantCommand, SampleCommand, AttentionCommand>;

template <typename... Handlers>
struct Overloaded : Handlers... {
  using Handlers::operator()...;
};
// clang before 17 deduces an aggregate's template arguments only with a guide.
template <typename... Handlers>
Overloaded(Handlers...) -> Overloaded<Handlers...>;

inline std::string FormatNumber(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", value);
  return text;
}

inline std::string Where(const TrainPosition& position) {
  return "epoch " + std::to_string(position.epoch + 1) + ", step " + std::to_string(position.step_in_epoch + 1);
}

// The worker decides which submissions are timed (WatchSettings::timing_interval),
// so that it can clear the device for them first (TimingGate): the trainer
// times the next submission, or none.
inline void TimeNextSubmission(Trainer& trainer, bool timed) {
  trainer.set_timing_interval(timed ? 0.0 : std::numeric_limits<double>::infinity());
}

// Layers that write a tensor of their own (Plan::ReadLayerOutput is not empty).
inline bool HasOwnOutput(LayerKind kind) {
  return kind != LayerKind::kInput && kind != LayerKind::kFlatten && kind != LayerKind::kLoss;
}

// The most confidently wrong answers among `outputs` (count x outputs, as
// Trainer::Predict gives them), decided as Trainer::Evaluate decides.
inline std::vector<SamplePrediction> ConfidentMistakes(const data::Dataset& dataset, const std::vector<float>& outputs,
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

}  // namespace session_internal

// The worker's code reads the helpers above unqualified (this header is only
// included by the session's own .cpp files).
using namespace session_internal;

struct TrainingSession::Worker {
  Worker(vk::Context& context, vk::PipelineCache& pipelines, TimingGate& gate, vk::ContextOptions replica_options)
      : context(context), pipelines(pipelines), gate(gate), replica_options(std::move(replica_options)) {
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
  std::function<void()> notify;  // SetEventNotifier's

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
  TimingGate& gate;
  SessionSetup setup;
  WatchSettings watch;                  // setup.watch, or SetWatch's since
  Clock::time_point last_timed{};       // the last timed submission's start
  bool profile_pending = false;         // a profile was asked for and has not run yet
  ForcedVariant forced_variant = ForcedVariant::kNone;  // SetForcedVariant's, for every trainer built
  // The run's trainer: one on this device, or (TrainConfig::replicas > 1)
  // data-parallel replicas, replica 0 on this device and the others on logical
  // devices of their own; `trainer` is then replica 0's (for evaluation,
  // snapshots, checkpoints). Null when nothing is loaded.
  vk::ContextOptions replica_options;
  RunTrainers run_trainers;
  Trainer* trainer = nullptr;
  parallel::DataParallelTrainer* replicas = nullptr;
  // Builds the trainers for `config` (throws ts::Error as Trainer does).
  RunTrainers BuildTrainers(const SessionSetup& run_setup, const TrainConfig& config);
  // Makes `built` the run's trainers (the old ones are freed).
  void UseTrainers(RunTrainers built);
  // The run's configuration: the global batch and the replicas, not replica 0's share.
  const TrainConfig& RunConfig() const { return replicas ? replicas->config() : trainer->config(); }
  uint32_t StepsPerEpoch() const { return replicas ? replicas->steps_per_epoch() : trainer->steps_per_epoch(); }
  // 2D models: the outputs on the boundary grid, refreshed with each snapshot.
  std::unique_ptr<BoundaryEvaluator> boundary;
  SessionState state = SessionState::kEmpty;  // published_state, without the lock
  struct EpochProgress {                      // the current epoch's steps so far
    double loss_sum = 0, accuracy_sum = 0, seconds = 0;
    uint32_t steps = 0;
    uint64_t samples = 0;
  } progress;
  Clock::time_point last_snapshot{};
  double last_snapshot_seconds = 0;  // host time the last timed snapshot took (without the inside views)
  Clock::time_point last_test_time{};  // the last test-set evaluation's end
  double last_test_seconds = 0;        // and how long it took
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

  // Text (session_text.cpp): the run's generator, built at the first request
  // and dropped at Load, Reset and Unload, and the sample being drawn.
  std::unique_ptr<TextGenerator> text_generator;
  std::optional<SampleRequest> sample_request;  // set while a sample is being drawn
  GenerationState sample_state;
  uint64_t sample_step = 0;                     // the parameters' step when it started
  double seconds_per_token = 0;                 // measured drawing (0: not yet)
  double training_turn_seconds = 0;             // the last training turn's host time
  // Whether text work is waiting (the worker does not sleep then); read by Run under `mutex`.
  bool text_pending = false;

  std::thread thread;  // last: starts once everything above exists

  void Run();
  // steps_per_submit, or fewer when WatchSettings::submission_seconds asks for
  // submissions of about that length (the window shares the one queue).
  uint32_t StepsForNextSubmission() const {
    const uint32_t most = replicas ? 1 : trainer->config().steps_per_submit;  // replicas: one step at a time
    // A traced submission reports its second step (the first may compile pipelines).
    if (trace_pending) return std::min(most, 2u);
    const double seconds = watch.submission_seconds;
    if (seconds <= 0 || seconds_per_step <= 0) return seconds > 0 ? 1 : most;
    return std::clamp(static_cast<uint32_t>(seconds / seconds_per_step), 1u, most);
  }
  // Trains `submissions` submissions of up to `submission_steps` steps, the
  // next submitted before the previous is waited for (timed ones alone on the
  // device; see TimingGate).
  void TrainWatched(uint32_t submission_steps, uint32_t submissions);
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
  void SetForcedVariant(ForcedVariant variant);
  void SaveCheckpoint(const std::string& path);
  void SetInside(const InsideRequest& request);
  void PredictInput(const std::shared_ptr<const data::Dataset>& samples, uint64_t request);
  void RequestProfile(bool trace) {
    if (!RequireTrainer(trace ? "record a trace" : "profile a step")) return;
    if (replicas) {
      ReportError(std::string(trace ? "Traces" : "Profiles") + " time one device's kernels; this run trains " +
                  std::to_string(replicas->replicas()) + " data-parallel replicas. Set replicas to 1 for GPU insight "
                  "(Training > Parallelism... shows the replicas' timeline).");
      return;
    }
    trace ? trainer->RequestTrace() : trainer->RequestProfile();
    trace_pending |= trace;
    profile_pending = true;
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
  // Text: builds the generator when missing (throws ts::Error saying why it cannot).
  TextGenerator& TextGeneratorForRun();
  void StartSample(const SampleRequest& request);
  void AdvanceSample();  // one turn's characters of the sample in progress, and its answer
  void AnswerAttention(const AttentionRequest& request);
  void EmitSample(std::string text, bool done, std::string error);
  void ForgetText() {
    text_generator.reset();
    sample_request.reset();
    sample_state = {};
    seconds_per_token = 0;  // another model, another rate
    std::lock_guard lock(mutex);
    text_pending = false;
  }
  void ForgetInsideProbes() {
    sample_probe.reset();
    batch_probe.reset();
    probe_batch = {};
    inside_failed = false;
    last_inside.reset();
  }

  // Runs up to `submissions` x `submission_steps` steps (never past the end of
  // the epoch), then reports the steps, the epoch when it ended, and the end
  // of training.
  void TrainSubmissions(uint32_t submission_steps, uint32_t submissions);
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
    std::function<void()> wake;
    {
      std::lock_guard lock(mutex);
      if (event.kind != SessionEvent::Kind::kStep) wake = notify;
      events.push_back(std::move(event));
    }
    if (wake) wake();
  }
  void SetState(SessionState next, std::string why) {
    state = next;
    SessionEvent event = Event(SessionEvent::Kind::kStateChanged, std::move(why));
    std::function<void()> wake;
    {
      std::lock_guard lock(mutex);
      published_state = next;
      events.push_back(std::move(event));
      wake = notify;
    }
    if (wake) wake();
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

}  // namespace ts::nn
