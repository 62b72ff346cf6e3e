// TrainingSession: a Trainer on its own worker thread, driven by commands and
// observed through events, so a user interface never waits for the GPU.
//
// The UI thread calls the command methods (they only enqueue and return) and
// Poll() once per frame (it never blocks on the GPU: it swaps out the events
// the worker queued). The worker owns the Trainer and everything on the device.
// It trains a turn of two submissions (of TrainConfig::steps_per_submit steps,
// or fewer: WatchSettings::submission_seconds), the second submitted before the
// first is waited for, and applies the queued commands between turns, so Pause,
// Stop and setting changes take effect within two submissions.
#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "compute/data/dataset.h"
#include "compute/nn/generate.h"
#include "compute/nn/model.h"
#include "compute/nn/train_config.h"
#include "compute/nn/trainer.h"
#include "compute/profile/ceilings.h"
#include "compute/profile/experiment.h"

namespace ts::nn {

struct Checkpoint;

enum class SessionState { kEmpty, kReady, kRunning, kPaused, kFinished, kFailed };
const char* SessionStateName(SessionState state);  // "empty", "ready", "running", ...

// What the worker spends on being watched, besides training: how it sizes
// submissions, how often it times one, and how often it sends snapshots.
struct WatchSettings {
  // > 0: size each submission to take about this long (measured host time per
  // step, at most config.steps_per_submit steps), so a window sharing the
  // device's queue never waits long behind training. 0: always steps_per_submit.
  double submission_seconds = 0;
  // Per-dispatch timestamps in one turn of the worker's submissions (two, the
  // second submitted before the first is waited for) every this many seconds
  // (0: in every submission). On lavapipe each timestamp ends the driver's batch.
  double timing_interval = 0;
  // While training, snapshots (parameters; the decision boundary and neuron
  // maps of 2D models) come at most every `snapshot_interval` seconds (twice
  // that without a boundary), the inside views at most every
  // `inside_interval`; and rarer when they are slow, so that together they
  // take at most `visual_share` of the worker's time.
  double snapshot_interval = 0.25;
  double inside_interval = 1.0;
  double visual_share = 0.1;
  // The test set's evaluation (accuracy, confusion matrix, confident
  // mistakes) at every epoch end; false: only when it fits in visual_share
  // (and always after the last epoch). A test set as large as an epoch
  // otherwise nearly doubles the work (MNIST: 10 000 test, 54 000 train).
  bool test_every_epoch = true;
  bool operator==(const WatchSettings&) const = default;
};

// Lets a timed submission run alone on the device. A window that draws with
// the same device brackets each frame with FrameBegin / FrameEnd; before a
// timed submission the worker waits for the frame in progress to end and
// holds the next one until the submission completes. On a CPU driver a frame
// drawn at the same time takes cores from the kernels, and its time would be
// measured as theirs. Without frames (no window) it never waits.
class TimingGate {
 public:
  // Window thread: waits while a timed submission runs (at most `patience`).
  void FrameBegin(std::chrono::milliseconds patience = std::chrono::milliseconds(100));
  void FrameEnd();
  // Worker: holds frames back; waits (at most `patience`) for the frame in
  // progress to end. Returns false when it did not end in time (the
  // submission is then not alone; the caller may time it anyway or not).
  bool Close(std::chrono::milliseconds patience);
  void Open();

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool frame_active_ = false, closed_ = false;
};

// What to train. The datasets are shared read-only with the worker.
struct SessionSetup {
  ModelDesc model;
  TrainConfig config;
  std::shared_ptr<const data::Dataset> train, validation, test;  // validation and test may be null
  // For 2D inputs: the decision boundary is evaluated on a resolution x
  // resolution grid over [x0, x1] x [y0, y1] (by the network, on the device),
  // at the centres of the grid's cells. 1 to 1024.
  uint32_t boundary_resolution = 64;
  std::array<float, 4> boundary_extent{-1.2f, 1.2f, -1.2f, 1.2f};
  // How closely the run is watched (a window's choice; the defaults suit a
  // program that reads every event). TrainingSession::SetWatch changes it live.
  WatchSettings watch;
  // Optional: a checkpoint of this model to continue from (parameters,
  // optimizer state and position); the session then starts out stopped
  // (kFinished) at the checkpoint's position. `resume_source` names it in messages.
  std::shared_ptr<const Checkpoint> resume;
  std::string resume_source;
};

// What the "inside" views (feature maps, activation and gradient histograms,
// predictions of chosen samples) ask the worker for: each view turns on only
// the probe pass it shows, and with both off the worker runs none.
struct InsideRequest {
  bool sample_pass = false;       // the chosen sample alone: feature maps and its prediction
  bool batch_statistics = false;  // the probe batch: histograms and dead units; weight gradients
  uint64_t sample = 0;            // index into the probe set (see InsideSnapshot)
  bool enabled() const { return sample_pass || batch_statistics; }
  bool operator==(const InsideRequest&) const = default;
};

// Counts of the non-zero values of a tensor in `counts.size()` equal bins
// over [min, max]; exact zeros are counted apart (a ReLU makes many of them,
// and one bin holding most values would flatten the rest of the histogram).
struct Histogram {
  float min = 0, max = 0;        // the range of the non-zero finite values (equal when there are none)
  std::vector<uint32_t> counts;  // non-zero values per bin; empty when there are none
  uint64_t zeros = 0;            // values exactly 0
  uint64_t total = 0;            // every value (non-finite ones too)
  double mean = 0, std = 0;      // over the finite values, zeros included
};
// The histogram of `values` with `bins` bins (at least 1).
Histogram MakeHistogram(std::span<const float> values, uint32_t bins);

// What the inside views show, computed on the worker from one moment's
// parameters. The probe set is SessionSetup::test, else validation, else train.
struct InsideSnapshot {
  uint64_t global_step = 0;
  // With InsideRequest::sample_pass (else empty): one sample of the probe set,
  // run alone through the network (evaluation mode).
  uint64_t sample = 0;                      // the index asked for, clamped to the set
  uint64_t probe_set_samples = 0;           // how many samples the probe set has
  uint32_t sample_label = 0;
  std::vector<float> sample_outputs;        // what Trainer::Predict gives for it (probabilities)
  // Every layer with an image-shaped (C x H x W) output of its own: conv2d
  // (before its activation), activations, pools, batch norm, dropout.
  struct FeatureMap {
    std::string name, type;                 // "relu_1", "relu"
    size_t layer = 0;                       // index into ModelDesc::layers
    uint32_t channels = 0, height = 0, width = 0;
    std::vector<float> values;              // (height, width, channels), as Plan::ReadLayerOutput gives
  };
  std::vector<FeatureMap> feature_maps;
  // With InsideRequest::batch_statistics (else empty): per layer with an
  // output tensor, over a fixed probe batch (the first probe_batch samples of
  // the probe set, evaluation mode).
  uint32_t probe_batch = 0;
  struct LayerStatistics {
    std::string name, type;
    size_t layer = 0;
    std::vector<uint32_t> shape;            // per sample, as InferShapes gives
    Histogram activations;                  // the layer's outputs
    // ReLU layers: a unit is a neuron (vector outputs) or a channel (image
    // outputs, every position); it is dead when it outputs exactly 0 for
    // every sample of the probe batch.
    bool relu = false;
    uint32_t units = 0, dead_units = 0;
    // Layers with a weight: the gradient of the loss with respect to it
    // (dL/dW), from the last training step's batch. Empty name: no weight.
    std::string gradient_of;                // e.g. "conv2d_1.weight"
    Histogram weight_gradients;
  };
  std::vector<LayerStatistics> layers;
  double seconds = 0;  // host time spent computing this (device work included)
};

// A view of the network at one moment: sent while training as often as
// WatchSettings allows (epoch ends included, so short epochs do not multiply
// the cost), and after Load, Reset, Step, Pause, Stop, a setting change and
// the end of training.
struct Snapshot {
  uint64_t global_step = 0;
  std::vector<ParameterTensor> layout;   // names, shapes, offsets into `parameters` (packed)
  std::vector<float> parameters;         // Plan::ReadParameters order
  // 2D models only: class probabilities on the boundary grid, row-major
  // [y][x][class] (resolution^2 x classes), and per hidden layer the
  // activations on the same grid: hidden[layer][y][x][unit]. Row y = 0 is
  // boundary_extent's y0. A single-output BCE model gives {1 - p, p}; an MSE
  // model gives its raw outputs.
  uint32_t boundary_resolution = 0;
  uint32_t classes = 0;
  std::vector<float> boundary;
  // The hidden layers are those before the last dense layer that make a tensor
  // of their own: activation layers, and dense layers with no activation after them.
  struct HiddenLayer {
    std::string name;
    size_t layer = 0;  // index into ModelDesc::layers
    uint32_t units = 0;
    std::vector<float> activations;
  };
  std::vector<HiddenLayer> hidden;
  // While the inside views are on (TrainingSession::SetInsideViews): computed
  // while training as often as WatchSettings allows (a snapshot in between
  // carries the previous one); at once when the request changes or training
  // pauses. Null while off.
  std::shared_ptr<const InsideSnapshot> inside;
  double seconds = 0;  // host time spent making this snapshot (device work included)
};

// The answer to TrainingSession::PredictInput.
struct InputPrediction {
  uint64_t request = 0;         // as given to PredictInput
  uint64_t global_step = 0;     // the parameters' step
  std::vector<float> outputs;   // per sample: what Trainer::Predict gives (probabilities)
  std::string error;            // why there are no outputs ("" when there are)
};

// Text from a sequence model while it trains (TrainingSession::RequestSample):
// the worker draws `options.tokens` characters after `prompt` with the
// parameters as they are when the request starts, a few per turn between
// training submissions, and answers with the growing text each turn.
struct SampleRequest {
  std::string prompt;       // characters of the run's vocabulary; "" starts from a line break
  SampleOptions options;    // length, temperature, top-k, seed
  uint64_t request = 0;     // the caller's number, given back in the answer
};
struct SampleAnswer {
  SampleRequest request;    // as asked
  uint64_t global_step = 0; // the parameters' step (the training steps they had seen)
  std::string text;         // the prompt followed by the characters drawn so far
  bool done = false;        // every character is drawn (or there was an error)
  std::string error;        // why there is no sample ("" when there is one); done is then true
};

// Where each head of each block attends for a prompt (TrainingSession::RequestAttention).
struct AttentionRequest {
  std::string prompt;       // at least one character of the vocabulary; its last T are used
  uint64_t request = 0;
};
struct AttentionAnswer {
  AttentionRequest request;
  uint64_t global_step = 0; // the parameters' step
  AttentionMaps maps;       // empty when there is an error
  std::string error;
};

struct SessionEvent {
  enum class Kind {
    kStateChanged,  // state, message (why)
    kStep,          // step
    kEpoch,         // epoch (with validation), test (if a test set was given and its
                    // evaluation was due: WatchSettings::test_every_epoch)
    kSnapshot,      // snapshot
    kSettingChanged,  // message describes it; step.global_step says where (a marker on the curves)
    kCheckpointSaved, // message: the path written
    kError,         // message; state: kFailed when training broke (divergence), else what is
                    // left (kEmpty after a failed Load; unchanged after a rejected command)
    kPrediction,    // prediction (the answer to PredictInput)
    kCeilings,      // ceilings (after MeasureCeilings)
    kExperiment,    // experiment (the answer to RunExperiment)
    kWarning,       // message: something the user should know that did not stop training
                    // (e.g. the loss rising tenfold: nn::LossWatch)
    kSample,        // sample (a chunk of the answer to RequestSample: the text so far)
    kAttention,     // attention (the answer to RequestAttention)
  };
  Kind kind = Kind::kStateChanged;
  // The run it belongs to: the number that the Load, Reset or Unload before it
  // returned. Events of an earlier run may still be queued when a new one
  // starts; a window drops them.
  uint64_t run = 0;
  SessionState state = SessionState::kEmpty;
  std::string message;
  StepReport step;
  EpochSummary epoch;
  std::optional<EvalResult> test;
  // kEpoch with a test set: the wrong answers given with the highest
  // confidence, most confident first (at most kMistakesShown).
  static constexpr size_t kMistakesShown = 16;
  std::vector<SamplePrediction> test_mistakes;
  std::shared_ptr<const Snapshot> snapshot;
  std::shared_ptr<const InputPrediction> prediction;
  std::shared_ptr<const profile::CachedCeilings> ceilings;
  std::shared_ptr<const profile::ExperimentResult> experiment;
  std::shared_ptr<const SampleAnswer> sample;
  std::shared_ptr<const AttentionAnswer> attention;
  // kStep: the plan's device memory (the plan's categories and the resident datasets).
  MemoryUse plan_memory;
  uint64_t dataset_bytes = 0;
};

class TrainingSession {
 public:
  // `replica_options`: how to create the logical devices of data-parallel
  // replicas 1..N-1 (TrainConfig::replicas; replica 0 trains on `context`).
  TrainingSession(vk::Context& context, vk::PipelineCache& pipelines, vk::ContextOptions replica_options = {});
  // Stops the worker after the submission in flight; a SaveCheckpoint asked
  // for before is still written.
  ~TrainingSession();
  TrainingSession(const TrainingSession&) = delete;
  TrainingSession& operator=(const TrainingSession&) = delete;

  // Builds the Trainer for `setup` (compiles the plan, uploads the data,
  // initialises parameters); replaces what was there. Errors arrive as kError.
  // Returns the run number its events will carry (SessionEvent::run).
  uint64_t Load(SessionSetup setup);
  void Start();   // train until the configured epochs are done, or Pause/Stop
  void Pause();
  void Step();    // one batch, then paused
  void Stop();    // stop and keep the parameters (state kFinished; Start continues)
  // Re-initialise parameters and position (state kReady); keeps the settings.
  // Returns the run number its events will carry, as Load.
  uint64_t Reset();
  // Drop the model, its data and its device memory (state kEmpty). Returns a run number, as Load.
  uint64_t Unload();
  // Applies every setting of `config` that differs from the one in force
  // (learning rate, optimizer, batch size, epochs, schedule, weight decay,
  // seed, ...), keeping parameters and position, with one kSettingChanged
  // marker that lists the changes. More epochs let a finished run continue.
  void SetConfig(const TrainConfig& config);
  // Mid-run changes, kept by Reset; each emits kSettingChanged so the curves
  // get a marker. Parameters and position are kept.
  void SetLearningRate(double learning_rate);           // keeps optimizer state
  void SetOptimizer(kernels::OptimizerKind optimizer);  // resets optimizer state
  // Recompiles; keeps optimizer state, and resumes the current epoch at the
  // batch (of the new size) that holds the first sample not yet trained on.
  void SetBatchSize(uint32_t batch_size);
  // GPU insight's "force variant" (see ForcedVariant): recompiles the plan
  // between submissions with the matmul and conv2d kernels forced to
  // `variant` (kNone: back to the autotuner's and the kernels' own choices),
  // keeping parameters, optimizer state, statistics and position, so training
  // goes on as before. A kSettingChanged marker says how many dispatches the
  // variant was forced on and which kernels do not have it; each dispatch's
  // DispatchInfo::variant and variant_choice say what runs. Kept by Load,
  // Reset and the other rebuilds; without a model it applies at the next Load.
  void SetForcedVariant(ForcedVariant variant);
  // Writes a checkpoint (atomically) from the worker; errors arrive as kError.
  void SaveCheckpoint(const std::string& path);
  // Turns the inside views' probe passes on or off and picks their sample; a
  // snapshot with the new InsideSnapshot follows. A newer request replaces
  // one still queued (a dragged slider sends many).
  void SetInsideViews(const InsideRequest& request);
  // Runs `samples` (shaped and normalised like the training data: its own
  // scale and offset are applied) through the network as it is now; the
  // answer arrives as kPrediction. A newer request replaces one still queued.
  void PredictInput(std::shared_ptr<const data::Dataset> samples, uint64_t request);

  // Text from a sequence model (a run on text, whose TrainConfig::vocabulary
  // decodes its tokens). RequestSample starts drawing a sample with the
  // parameters as they are then; kSample events bring the growing text, a few
  // characters per worker turn, between training submissions (4 to 16: as
  // many as take half as long as the last turn of training, so a long sample
  // slows training by at most a third and never stalls it; while paused or
  // stopped the worker just goes on drawing, 16 a turn), the last with done set. A newer request
  // replaces the one queued or in progress (whose answers then stop).
  // RequestAttention answers with kAttention: every block's and head's
  // attention weights for the prompt. The worker builds one nn::TextGenerator
  // per run on first use (it compiles a batch-1 plan: seconds on a CPU
  // driver) and drops it at Load, Reset and Unload. Problems come back in the
  // answer's `error`, never as a failed run: no model loaded, not a sequence
  // model, no vocabulary, a character of the prompt not in the vocabulary
  // (named), a bad temperature.
  void RequestSample(const SampleRequest& request);
  void RequestAttention(const AttentionRequest& request);

  // GPU insight. Profile the next submission (timeline, invocation counts: on
  // the next kStep's StepReport::profile); trace the next one (trace mode);
  // measure the device's ceilings (cached per device unless `remeasure`); run
  // a "try it" experiment. Each runs on the worker between submissions.
  void RequestProfile();
  void RequestTrace();
  void MeasureCeilings(bool remeasure);
  void RunExperiment(const profile::ExperimentRequest& request);

  // Changes how closely the run is watched (see WatchSettings); takes effect
  // before the next submission and is kept by Load (which sets its own) only
  // until then: Load's SessionSetup::watch replaces it.
  void SetWatch(const WatchSettings& watch);
  // The gate a window brackets its frames with (see TimingGate).
  TimingGate& timing_gate() { return timing_gate_; }
  // Called on the worker thread after it queues an event other than a
  // training step (state changes, snapshots, epochs, errors, answers): lets a
  // window that sleeps between frames wake up. Set it before Load.
  void SetEventNotifier(std::function<void()> notify);

  // Everything that happened since the last call. Never blocks on the GPU.
  std::vector<SessionEvent> Poll();
  SessionState state() const;
  // The dispatches of one training step (empty until loaded).
  std::vector<DispatchInfo> step_dispatches() const;

 private:
  struct Worker;
  TimingGate timing_gate_;  // before worker_: the worker uses it until it stops
  std::unique_ptr<Worker> worker_;
  uint64_t runs_ = 0;  // run numbers handed out (UI thread only)
};

}  // namespace ts::nn
