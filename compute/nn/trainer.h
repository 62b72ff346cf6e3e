// Trainer: runs a Plan over datasets that live on the device.
//
// Each training step is: gather the batch from the resident dataset in the
// epoch's shuffled order, forward, loss and gradient, backward, one fused
// optimizer update, metrics. Steps are recorded `steps_per_submit` at a time
// into one command buffer (only the small StepParams buffer differs between
// steps), and loss/accuracy are read back once per submission, not per step.
//
// Submissions form a ring of two banks (Trainer::kBanks) of step slots: while
// the GPU runs one submission, the next is already queued behind it, and the
// host reads the older one's results and writes the parameters of the one
// after. Each bank's command buffer is recorded once per step count and
// replayed.
//
// A Trainer is used from one thread at a time; RequestStop() may be called from
// any thread.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <tuple>
#include <optional>
#include <string>
#include <vector>

#include "compute/common/error.h"
#include "compute/data/dataset.h"
#include "compute/nn/plan.h"
#include "compute/nn/train_config.h"
#include "compute/profile/timeline.h"
#include "compute/vk/sequence.h"

namespace ts::nn {

// Training-time augmentation of image batches (see TrainConfig); zero: none.
struct GatherAugment {
  uint32_t crop_padding = 0;
  bool flip = false;
  uint32_t seed = 0;
};

// A dataset uploaded to the device: features (uint8 or float32), labels.
// Features larger than one buffer may be (maxStorageBufferRange, or
// `max_chunk_bytes` when set, for tests) are split into up to 4 buffers of
// whole samples; the gather kernel reads across them.
class DeviceDataset {
 public:
  DeviceDataset(vk::Context& context, const data::Dataset& dataset, uint64_t max_chunk_bytes = 0);
  const data::Dataset& host() const { return *host_; }
  uint32_t count() const { return static_cast<uint32_t>(host_->count()); }
  uint64_t device_bytes() const;
  size_t feature_buffers() const { return features_.size(); }
  // The dispatch that gathers the batch of `plan`'s current step slot in the
  // order given by `permutation` (a uint32 index buffer).
  // Throws ts::Error when `augment` asks for augmentation of data that are not images.
  vk::Dispatch GatherDispatch(vk::PipelineCache& pipelines, const Plan& plan, const vk::Buffer& permutation,
                              const GatherAugment& augment = {}) const;

 private:
  const data::Dataset* host_;
  std::vector<std::unique_ptr<vk::Buffer>> features_;  // chunks of samples_per_chunk_ samples
  std::unique_ptr<vk::Buffer> labels_;
  uint32_t samples_per_chunk_ = 0;
};

// Static facts about one dispatch of a step (the same every step).
struct DispatchInfo {
  std::string kernel, label;
  DispatchRole role;
  vk::Cost cost;
  std::array<uint32_t, 3> workgroups{}, local_size{};
  std::string shader;                // the pipeline's shader, e.g. "bias_act_vec4"
  uint32_t shared_memory_bytes = 0;  // per workgroup, from the shader (after specialization)
  // Registers per invocation when the driver reports them
  // (VK_KHR_pipeline_executable_properties); 0: not reported.
  double registers = 0;
  // Matmul and conv2d dispatches only (Plan::kernel_choice): the kernel variant
  // used (kernels::MatmulCandidate::name(), kernels::Conv2DVariantName()),
  // how it was chosen ("default", "forced" or "autotuned"), why a forced
  // variant was not used (KernelChoice::not_applied; "" when none), and when
  // autotuned every correct candidate's measured median GPU time, (name, ns).
  std::string variant, variant_choice, variant_not_applied;
  std::vector<std::pair<std::string, double>> alternatives_ns;
  // Matmul, conv2d and pool dispatches (Plan::problem): the shapes they
  // compute, for "try it"; nothing set for others.
  kernels::KernelProblem problem;
  uint64_t invocations() const {
    return uint64_t(workgroups[0]) * workgroups[1] * workgroups[2] * local_size[0] * local_size[1] * local_size[2];
  }
};

// A profiled submission (Trainer::RequestProfile / RequestTrace).
struct StepProfile {
  profile::StepTimeline timeline;       // the whole submission, host and device
  // Per dispatch of one step: compute-shader invocations counted by the
  // pipeline-statistics query (empty when the device has no such query).
  std::vector<uint64_t> measured_invocations;
  // Trace mode only: per dispatch of the traced step, its workgroups' shader-clock
  // records. A traced submission runs up to two steps and reports the last, so
  // pipelines compiled on first use do not distort it.
  std::vector<vk::DispatchTrace> trace;
  uint64_t traced_step = 0;  // the global step traced
  // Trace mode only: the traced step's GPU time and the mean untraced step's
  // before it (the overhead of tracing is their ratio).
  double traced_step_ns = 0, untraced_step_ns = 0;
};

struct StepReport {
  uint32_t epoch = 0;            // counted from 0
  uint32_t step_in_epoch = 0;    // counted from 0
  uint64_t global_step = 0;      // counted from 0
  double learning_rate = 0;
  float loss = 0;                // batch mean
  float accuracy = 0;            // fraction of the batch predicted right
  // Mixed precision (Precision::kFp16): the loss scale this step used, and
  // whether it was skipped because its gradients overflowed (the scale then
  // halves). 1 and false in fp32.
  float loss_scale = 1;
  bool skipped = false;
  // With gradient clipping (TrainConfig::grad_clip): the gradients' global
  // norm before clipping; 0 otherwise.
  float grad_norm = 0;
  std::vector<double> dispatch_ns;  // per DispatchInfo, GPU time; empty when the submission was not timed (Trainer::set_timing_interval) and for the trainer's first step
  double wall_seconds = 0;       // host time of the step (its share of the submission)
  // Set on the first step of a profiled submission (see Trainer::RequestProfile).
  std::shared_ptr<const StepProfile> profile;
};

// One sample's prediction, kept so a user can watch the same few samples
// change their answer from epoch to epoch.
struct SamplePrediction {
  uint64_t index = 0;       // into the evaluated dataset
  uint32_t label = 0;       // true class
  uint32_t predicted = 0;   // arg max of the outputs (threshold 0.5 for one output)
  float confidence = 0;     // the predicted class's probability
};

struct EvalResult {
  double loss = 0, accuracy = 0;
  uint64_t samples = 0;
  uint32_t classes = 0;
  std::vector<uint64_t> confusion;  // classes x classes, [true label][predicted]
  // kExamplesShown samples spread evenly over the dataset (the same ones on every call).
  static constexpr uint32_t kExamplesShown = 8;
  std::vector<SamplePrediction> examples;
};

struct EpochSummary {
  uint32_t epoch = 0;
  double train_loss = 0, train_accuracy = 0;  // means over the epoch's steps
  std::optional<EvalResult> validation;
  double seconds = 0;
  uint64_t samples = 0;
};

struct TrainPosition {
  uint32_t epoch = 0;
  uint32_t step_in_epoch = 0;
  uint64_t global_step = 0;
};

// Thrown when the loss becomes NaN or infinite.
class DivergenceError : public Error {
 public:
  using Error::Error;
};

class Trainer {
 public:
  // Banks of steps_per_submit step slots each (in the Plan, the training
  // sequence and its timestamp queries): consecutive submissions alternate
  // between them, so this many may be in flight at once.
  static constexpr uint32_t kBanks = 2;

  // Compiles the plan, uploads the datasets and initialises the parameters
  // from config.seed. Throws ts::Error when the data does not fit the model.
  // `train` may be null for a trainer that only evaluates. `forced_variant`:
  // GPU insight's "force variant" (PlanOptions::forced_variant).
  Trainer(vk::Context& context, vk::PipelineCache& pipelines, const ModelDesc& model, const TrainConfig& config,
          const data::Dataset* train, const data::Dataset* validation,
          ForcedVariant forced_variant = ForcedVariant::kNone);
  ~Trainer();

  Plan& plan() { return *plan_; }
  const Plan& plan() const { return *plan_; }
  const TrainConfig& config() const { return config_; }
  // Changes the base learning rate (the schedule scales from it) from the next
  // step on; parameters, optimizer state and position are untouched.
  void set_learning_rate(double learning_rate);
  const std::vector<DispatchInfo>& step_dispatches() const { return step_info_; }
  uint32_t steps_per_epoch() const { return steps_per_epoch_; }
  const TrainPosition& position() const { return position_; }
  void set_position(const TrainPosition& position) { position_ = position; }
  bool finished() const {
    return position_.epoch >= config_.epochs || (config_.max_steps > 0 && position_.global_step >= config_.max_steps);
  }

  // Runs up to `max_steps` steps (fewer if training finishes); one submission
  // never spans two epochs, so each epoch starts with its own shuffled order.
  // Up to kBanks submissions are in flight at once (the next is submitted
  // before the previous is waited for); on_step is called for each step, in
  // order, after its submission completes, possibly while the next one runs.
  // On return every step run has completed and been reported. Throws
  // DivergenceError when a loss is NaN or infinite, naming the first such step;
  // nothing is left in flight, and no step of or after that submission is reported.
  // `submission_steps` (1 to steps_per_submit; 0: steps_per_submit) sizes
  // each submission: a window sharing the queue asks for short ones.
  void RunSteps(uint32_t max_steps, const std::function<void(const StepReport&)>& on_step,
                uint32_t submission_steps = 0);
  // Runs the rest of the current epoch, then evaluates on the validation set.
  EpochSummary RunEpoch(const std::function<void(const StepReport&)>& on_step);
  // Loss, accuracy and confusion matrix of the current parameters on `dataset`.
  EvalResult Evaluate(const data::Dataset& dataset);
  // The same on the validation set given at construction (its device copy is
  // kept); nullopt when there is none.
  std::optional<EvalResult> EvaluateValidation();
  // Model outputs for every sample of `dataset`: (count, outputs) row-major,
  // softmax / sigmoid probabilities or raw outputs (MSE), as the loss head gives.
  // The device copy of the last dataset predicted is kept for the next call
  // with the same (unchanged) dataset object.
  std::vector<float> Predict(const data::Dataset& dataset);
  // Evaluate(), also appending every sample's outputs (as Predict gives them)
  // to `outputs`: one pass over the set for both.
  EvalResult EvaluateWithOutputs(const data::Dataset& dataset, std::vector<float>& outputs);
  // Predict() for a small set whose contents may change between calls (a
  // drawing, one chosen sample): uploaded afresh, nothing kept for next time.
  std::vector<float> PredictOnce(const data::Dataset& dataset);

  // Profiles the next submission: its timeline (a timestamp before and after
  // each dispatch, the host's moments) and invocation counts from pipeline
  // statistics; the result rides on that submission's first StepReport.
  // Builds the instrumented step first, so an error (ts::Error) reaches the caller, not the training.
  void RequestProfile();
  // Runs the next submission (two steps at most) in trace mode (every workgroup's
  // start and end from the shader clock); throws ts::Error when the device has
  // no shader clock (or a shader has no traced build). Implies RequestProfile.
  void RequestTrace();
  // Device memory the trainer holds beyond the plan: the resident datasets.
  uint64_t dataset_device_bytes() const;

  // Per-dispatch GPU timestamps are recorded in one training submission every
  // `seconds` (the first always; 0: every submission). Timestamps cost: on
  // lavapipe each one ends the driver's batch, a fifth of a small model's step
  // (MNIST MLP batch 64: ~41k vs ~50k samples/s). StepReport::dispatch_ns is
  // empty for the steps of untimed submissions and for the trainer's first
  // step (it may compile the pipelines). Profiles and traces are timed.
  static constexpr double kDefaultTimingIntervalSeconds = 0.25;
  void set_timing_interval(double seconds) { timing_interval_seconds_ = seconds; }

  // Safe from any thread: RunSteps/RunEpoch submit nothing more and return
  // once the submissions in flight have completed (and been reported).
  void RequestStop() { stop_requested_ = true; }
  bool stop_requested() const { return stop_requested_; }
  // Submissions on the device not yet waited for; 0 whenever no method of this trainer is running.
  uint32_t submissions_in_flight() const {
    uint32_t n = 0;
    for (bool b : fence_in_flight_) n += b ? 1 : 0;
    return n;
  }

 private:
  struct EvalProgram;
  struct Submission;  // one training submission, from its parameters to its readback
  void CheckDataFitsModel(const data::Dataset& dataset, const std::string& role) const;
  // A command buffer with slots [first_slot, first_slot + steps) of `sequence`,
  // ending in a host-read barrier.
  // `timed`: with the per-dispatch timestamps (see set_timing_interval).
  VkCommandBuffer RecordSteps(const vk::Sequence& sequence, uint32_t first_slot, uint32_t steps, bool timed = true);
  // Submits on bank 0's fence and waits (nothing else may be in flight).
  void SubmitAndWait(VkCommandBuffer command_buffer, const char* what);
  // Writes the step parameters of up to `max_steps` steps from `first` on into
  // `submission`'s bank (uploading the epoch's order first when it changes) and
  // submits them.
  void Submit(Submission& submission, const TrainPosition& first, uint32_t max_steps);
  // Waits for the oldest submission in flight, reads its results, advances
  // position_ and reports its steps (after removing it from `in_flight`).
  // `previous_end_ns`: when the host saw the submission before it complete.
  void CompleteOldest(std::deque<Submission>& in_flight, double& previous_end_ns,
                      const std::function<void(const StepReport&)>& on_step);
  // After an exception: waits for every submission in `in_flight` and frees
  // their profiled command buffers; counts their steps in position_ when
  // `count_steps` (they ran and changed the parameters). Never throws.
  void Abandon(std::deque<Submission>& in_flight, bool count_steps) noexcept;
  // The training step with timestamps around each dispatch and invocation
  // counts, or (tracing) in trace mode; built on first use.
  const vk::Sequence& InstrumentedSequence(bool tracing);
  profile::StepTimeline BuildTimeline(const vk::Sequence& sequence, uint32_t steps,
                                      std::vector<profile::TimelineEvent> host_events, double submitted_ns) const;
  // Also appends each sample's outputs to `outputs` when it is given.
  EvalResult RunEvaluation(EvalProgram& program, std::vector<float>* outputs = nullptr);
  std::unique_ptr<EvalProgram> MakeEvalProgram(const data::Dataset& dataset);
  void FreeCommands(EvalProgram& program);

  vk::Context& context_;
  vk::PipelineCache& pipelines_;
  TrainConfig config_;
  std::unique_ptr<Plan> plan_;
  std::unique_ptr<DeviceDataset> train_data_;
  std::unique_ptr<vk::Buffer> permutation_;
  uint32_t permutation_epoch_ = UINT32_MAX;  // epoch whose order permutation_ holds
  std::unique_ptr<vk::Sequence> train_sequence_;
  std::vector<DispatchInfo> step_info_;
  std::unique_ptr<EvalProgram> validation_;
  std::unique_ptr<EvalProgram> predict_program_;  // for Predict, with the dataset it holds
  const data::Dataset* predict_dataset_ = nullptr;
  size_t predict_count_ = 0;
  uint32_t steps_per_epoch_ = 0;
  TrainPosition position_;
  std::atomic<bool> stop_requested_{false};
  bool profile_requested_ = false, trace_requested_ = false;
  std::unique_ptr<vk::Sequence> profiled_sequence_, traced_sequence_;  // built on first use
  double previous_submission_end_ns_ = -1e18;  // host steady clock, for the gap before a submission
  double last_untraced_step_ns_ = 0;           // GPU time of a step in the last plain submission
  vk::UniqueCommandPool command_pool_;
  std::array<vk::UniqueFence, kBanks> fences_;                  // one per bank
  std::array<bool, kBanks> fence_in_flight_{};                  // submitted on fences_[b], not yet waited for
  std::map<std::tuple<uint32_t, uint32_t, bool>, VkCommandBuffer> train_commands_;  // by (bank, step count, timed)
  double timing_interval_seconds_ = kDefaultTimingIntervalSeconds;
  uint32_t submission_steps_ = 0;  // RunSteps's, while it runs (0: steps_per_submit)
  double last_timed_submit_ns_ = -1e18;  // host steady clock
  bool train_sequence_used_ = false;     // its first step (pipelines' first dispatches) reports no times
};

// The order of the training samples in `epoch`: a seeded Fisher-Yates shuffle
// (identity when shuffle is false). Deterministic across platforms.
std::vector<uint32_t> EpochOrder(uint32_t count, uint64_t seed, uint32_t epoch, bool shuffle);

}  // namespace ts::nn
