// TrainingSession: a Trainer on its own worker thread, driven by commands and
// observed through events, so a user interface never waits for the GPU.
//
// The UI thread calls the command methods (they only enqueue and return) and
// Poll() once per frame (it never blocks on the GPU: it swaps out the events
// the worker queued). The worker owns the Trainer and everything on the device.
// It trains one submission (TrainConfig::steps_per_submit steps) at a time and
// applies the queued commands between submissions, so Pause, Stop and setting
// changes take effect within one submission.
#pragma once

#include <array>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "compute/data/dataset.h"
#include "compute/nn/model.h"
#include "compute/nn/train_config.h"
#include "compute/nn/trainer.h"

namespace ts::nn {

enum class SessionState { kEmpty, kReady, kRunning, kPaused, kFinished, kFailed };
const char* SessionStateName(SessionState state);  // "empty", "ready", "running", ...

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
  // > 0: size each submission to take about this long (measured host time per
  // step, at most config.steps_per_submit steps), so a window sharing the
  // device's queue never waits long behind training. 0: always steps_per_submit.
  double submission_seconds = 0;
};

// A view of the network at one moment: sent while training at most every
// 250 ms (500 ms for models without a boundary; epoch ends included, so short
// epochs do not multiply the cost), and after Load, Reset, Step, Pause, Stop,
// a setting change and the end of training.
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
  double seconds = 0;  // host time spent making this snapshot (device work included)
};

struct SessionEvent {
  enum class Kind {
    kStateChanged,  // state, message (why)
    kStep,          // step
    kEpoch,         // epoch (with validation), test (if a test set was given)
    kSnapshot,      // snapshot
    kSettingChanged,  // message describes it; step.global_step says where (a marker on the curves)
    kCheckpointSaved, // message: the path written
    kError,         // message; state: kFailed when training broke (divergence), else what is
                    // left (kEmpty after a failed Load; unchanged after a rejected command)
  };
  Kind kind = Kind::kStateChanged;
  SessionState state = SessionState::kEmpty;
  std::string message;
  StepReport step;
  EpochSummary epoch;
  std::optional<EvalResult> test;
  std::shared_ptr<const Snapshot> snapshot;
};

class TrainingSession {
 public:
  TrainingSession(vk::Context& context, vk::PipelineCache& pipelines);
  // Stops the worker after the submission in flight; a SaveCheckpoint asked
  // for before is still written.
  ~TrainingSession();
  TrainingSession(const TrainingSession&) = delete;
  TrainingSession& operator=(const TrainingSession&) = delete;

  // Builds the Trainer for `setup` (compiles the plan, uploads the data,
  // initialises parameters); replaces what was there. Errors arrive as kError.
  void Load(SessionSetup setup);
  void Start();   // train until the configured epochs are done, or Pause/Stop
  void Pause();
  void Step();    // one batch, then paused
  void Stop();    // stop and keep the parameters (state kFinished; Start continues)
  void Reset();   // re-initialise parameters and position (state kReady); keeps the settings
  // Mid-run changes, kept by Reset; each emits kSettingChanged so the curves
  // get a marker. Parameters and position are kept.
  void SetLearningRate(double learning_rate);           // keeps optimizer state
  void SetOptimizer(kernels::OptimizerKind optimizer);  // resets optimizer state
  // Recompiles; keeps optimizer state, and resumes the current epoch at the
  // batch (of the new size) that holds the first sample not yet trained on.
  void SetBatchSize(uint32_t batch_size);
  // Writes a checkpoint (atomically) from the worker; errors arrive as kError.
  void SaveCheckpoint(const std::string& path);

  // Everything that happened since the last call. Never blocks on the GPU.
  std::vector<SessionEvent> Poll();
  SessionState state() const;
  // The dispatches of one training step (empty until loaded).
  std::vector<DispatchInfo> step_dispatches() const;

 private:
  struct Worker;
  std::unique_ptr<Worker> worker_;
};

}  // namespace ts::nn
