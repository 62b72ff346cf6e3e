// TrainingSession: a Trainer on its own worker thread, driven by commands and
// observed through events, so a user interface never waits for the GPU.
//
// The UI thread calls the command methods (they only enqueue and return) and
// Poll() once per frame (it never blocks on the GPU: it swaps out the events
// the worker queued). The worker owns the Trainer and everything on the device.
#pragma once

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
  // resolution grid over [x0, x1] x [y0, y1] (by the network, on the device).
  uint32_t boundary_resolution = 64;
  std::array<float, 4> boundary_extent{-1.2f, 1.2f, -1.2f, 1.2f};
};

// A view of the network at one moment, sent a few times a second while training.
struct Snapshot {
  uint64_t global_step = 0;
  std::vector<ParameterTensor> layout;   // names, shapes, offsets of `parameters`
  std::vector<float> parameters;         // Plan::ReadParameters order
  // 2D models only: class probabilities on the boundary grid, row-major
  // [y][x][class] (resolution^2 x classes), and per hidden layer the
  // activations on the same grid: hidden[layer][y][x][unit].
  uint32_t boundary_resolution = 0;
  uint32_t classes = 0;
  std::vector<float> boundary;
  struct HiddenLayer {
    std::string name;
    uint32_t units = 0;
    std::vector<float> activations;
  };
  std::vector<HiddenLayer> hidden;
};

struct SessionEvent {
  enum class Kind {
    kStateChanged,  // state, message (why)
    kStep,          // step
    kEpoch,         // epoch (with validation), test (if a test set was given)
    kSnapshot,      // snapshot
    kSettingChanged,  // message describes it; step.global_step says where (a marker on the curves)
    kError,         // message; the session is kFailed (divergence) or back to kReady (bad setup)
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
  ~TrainingSession();  // stops the worker after the submission in flight
  TrainingSession(const TrainingSession&) = delete;
  TrainingSession& operator=(const TrainingSession&) = delete;

  // Builds the Trainer for `setup` (compiles the plan, uploads the data,
  // initialises parameters); replaces what was there. Errors arrive as kError.
  void Load(SessionSetup setup);
  void Start();   // train until the configured epochs are done, or Pause/Stop
  void Pause();
  void Step();    // one batch, then paused
  void Stop();    // stop and keep the parameters (state kFinished)
  void Reset();   // re-initialise parameters and position (state kReady)
  // Mid-run changes; each emits kSettingChanged so the curves get a marker.
  void SetLearningRate(double learning_rate);
  void SetOptimizer(kernels::OptimizerKind optimizer);  // resets optimizer state
  void SetBatchSize(uint32_t batch_size);                // recompiles; keeps parameters
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
