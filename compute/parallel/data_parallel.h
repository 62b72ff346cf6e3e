// Data-parallel training: N replicas of one model, each on its own Vulkan
// device, each step's global batch split among them, gradients averaged by a
// ring all-reduce, the same update applied everywhere (PyTorch's
// DistributedDataParallel, on one host).
//
// A replica is a Plan (with its own parameters, gradients and optimizer state)
// and the training set on its device. Its step is cut into submissions:
// gather + forward + loss; then the backward pass in segments, each ending when
// one bucket of parameter gradients is complete (buckets are filled from the
// last layer back, as DDP fills them) and copying that bucket to host-visible
// staging; then copying the averaged gradients back, the update and metrics.
// While a replica's device runs the next backward segment, the host all-reduces
// the bucket that is ready: communication overlaps the backward pass.
//
// Devices: one physical device per replica where the machine has enough; else
// N logical devices (separate VkDevice and queue) on one physical device, which
// share its cores: "simulated on one device", and results say so.
//
// Equivalence: with the same seed, N replicas at global batch B compute what
// one device computes at batch B (each replica takes B / N consecutive
// samples of the global batch; the mean of the replicas' mean gradients is the
// batch's mean gradient), up to the order of the floating-point sums. Batch
// norm normalises over each replica's B / N samples (DDP without SyncBatchNorm);
// running statistics are replica 0's. Dropout masks and augmentation draws
// differ from one device's, as they do between DDP ranks.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "compute/data/dataset.h"
#include "compute/nn/model.h"
#include "compute/nn/train_config.h"
#include "compute/nn/trainer.h"
#include "compute/vk/context.h"

namespace ts::parallel {

// Vulkan contexts for `replicas` replicas: one per physical device when
// `options.device_index` is -1 and the machine has that many (ordered as
// vk::ChooseDefaultDevice ranks them), else `replicas` logical devices on the
// device the options choose. `description` says which, in a sentence.
struct ReplicaContexts {
  std::vector<std::unique_ptr<vk::Context>> contexts;
  bool simulated = false;  // several replicas share one physical device
  std::string description;
  std::vector<vk::Context*> pointers() const;
};
ReplicaContexts CreateReplicaContexts(uint32_t replicas, const vk::ContextOptions& options);

enum class PhaseKind { kForward, kBackward, kAllReduce, kUpdate };
const char* PhaseKindName(PhaseKind kind);  // "forward + loss", "backward", "all-reduce", "update"

// One bar of a step's Gantt chart, on the host's steady clock (ns).
struct PhaseEvent {
  PhaseKind kind = PhaseKind::kForward;
  uint32_t replica = 0;
  int bucket = -1;        // backward and all-reduce: the bucket; -1 otherwise
  double start_ns = 0, end_ns = 0;
};

// A gradient bucket: consecutive parameter tensors (from the last back).
struct Bucket {
  std::vector<std::string> tensors;  // nn::ParameterTensor::name, in the order filled
  uint64_t first_float = 0, end_float = 0;  // the range they span in the gradient buffer
  uint64_t bytes = 0;                       // of gradients (without padding)
};

// One training step, as the Gantt chart shows it.
struct ParallelStepTimeline {
  uint64_t global_step = 0;
  std::vector<PhaseEvent> events;   // every replica's phases; an all-reduce has one event per replica
  double start_ns = 0, end_ns = 0;  // the step's first submission and last completion
  uint64_t bytes_sent_per_replica = 0;
  // Device phases are the devices' timestamps placed on the host clock
  // (VK_EXT_calibrated_timestamps); false: the host's view (submission to completion).
  bool device_clock = false;
};

// Where one replica's time went in a step, ms: its device phases summed by
// kind, the host's all-reduce time, and how long its device waited between
// the end of its backward pass and its update (the all-reduce not hidden).
struct StepPhases {
  double forward_ms = 0, backward_ms = 0, update_ms = 0, all_reduce_ms = 0, waited_ms = 0;
};
StepPhases SummarizePhases(const ParallelStepTimeline& timeline, uint32_t replica = 0);

struct DataParallelOptions {
  // DDP's bucket_cap_mb, scaled to the models here: a tensor that would take
  // a bucket past this many bytes of gradients starts the next bucket.
  uint64_t bucket_bytes = 256 * 1024;
};

class DataParallelTrainer {
 public:
  // `contexts`: one per replica (2 or more; see CreateReplicaContexts), kept
  // alive by the caller. `config.batch_size` is the global batch; it must split
  // evenly over the replicas (throws ts::Error otherwise, and when the data do
  // not fit the model). Every replica starts from replica 0's initial weights.
  DataParallelTrainer(std::vector<vk::Context*> contexts, const nn::ModelDesc& model, const nn::TrainConfig& config,
                      const data::Dataset* train, const data::Dataset* validation,
                      const DataParallelOptions& options = {});
  ~DataParallelTrainer();

  uint32_t replicas() const { return static_cast<uint32_t>(replicas_.size()); }
  bool simulated() const { return simulated_; }
  const std::vector<Bucket>& buckets() const { return buckets_; }
  uint64_t gradient_bytes() const;  // one replica's gradients, without padding
  uint32_t steps_per_epoch() const { return steps_per_epoch_; }
  const nn::TrainPosition& position() const { return position_; }
  bool finished() const { return position_.epoch >= config_.epochs; }
  const nn::TrainConfig& config() const { return config_; }

  // Replica 0's trainer: its plan holds the model every replica holds; use it
  // to evaluate, predict and checkpoint. Its position follows this trainer's.
  // (It has no training sequence of its own: profiles, traces and its
  // step_dispatches() are for one-device training.)
  nn::Trainer& primary();
  // Changes the base learning rate from the next step on (as Trainer's).
  void set_learning_rate(double learning_rate) { config_.learning_rate = learning_rate; }
  void set_position(const nn::TrainPosition& position);
  // Device memory of the training sets the replicas hold (one copy each).
  uint64_t dataset_device_bytes() const;
  // Copies replica 0's parameters, optimizer state, running statistics (and
  // this trainer's position from its) to every replica: after restoring a checkpoint into primary().
  void BroadcastFromPrimary();

  // Runs up to `max_steps` steps (one submission chain per step; never past the
  // epoch's end). on_step gets each step's global-batch loss and accuracy; its
  // Gantt chart is last_timeline() during the call. Throws nn::DivergenceError
  // when a loss is NaN or infinite.
  void RunSteps(uint32_t max_steps, const std::function<void(const nn::StepReport&)>& on_step);
  // The rest of the current epoch, then validation on replica 0.
  nn::EpochSummary RunEpoch(const std::function<void(const nn::StepReport&)>& on_step);
  const ParallelStepTimeline& last_timeline() const { return timeline_; }
  // Safe from any thread: RunSteps returns after the step in progress.
  void RequestStop() { stop_requested_ = true; }

 private:
  struct Replica;
  void RunStep(const std::function<void(const nn::StepReport&)>& on_step);
  void PlanSegments(const nn::Plan& plan, size_t update_index, size_t first_backward);

  nn::TrainConfig config_;
  DataParallelOptions options_;
  bool simulated_ = false;
  std::vector<std::unique_ptr<Replica>> replicas_;
  std::vector<Bucket> buckets_;
  // Segments of the step before the update: [begin, end) of the dispatch list
  // (the gather first), and the buckets complete at each segment's end.
  struct Segment {
    size_t begin = 0, end = 0;
    PhaseKind kind = PhaseKind::kForward;
    std::vector<int> buckets_ready;
  };
  std::vector<Segment> segments_;
  size_t update_index_ = 0;  // in the dispatch list (the gather first)
  uint32_t steps_per_epoch_ = 0;
  nn::TrainPosition position_;
  uint32_t permutation_epoch_ = UINT32_MAX;
  ParallelStepTimeline timeline_;
  double calibrated_ns_ = -1e300;  // host clock of the replicas' last clock calibration
  std::atomic<bool> stop_requested_{false};
};

}  // namespace ts::parallel
