#include "compute/nn/trainer.h"

#include "compute/nn/data_fit.h"

#include <algorithm>
#include <cassert>
#include <cctype>
#include <chrono>
#include <memory>
#include <cmath>
#include <numeric>
#include <random>

#include "compute/common/error.h"
#include "compute/kernels/gather.h"
#include "shaders/gather.h"
#include "compute/vk/check.h"

namespace ts::nn {
namespace {

using Clock = std::chrono::steady_clock;

// Packs a dataset's features for upload: uint8 rows padded to whole uint32 words.
std::vector<std::byte> FeatureBytes(const data::Dataset& dataset) {
  const std::byte* begin = dataset.format == data::FeatureFormat::kUint8
                               ? reinterpret_cast<const std::byte*>(dataset.features_u8.data())
                               : reinterpret_cast<const std::byte*>(dataset.features_f32.data());
  size_t size = dataset.format == data::FeatureFormat::kUint8 ? dataset.features_u8.size()
                                                              : dataset.features_f32.size() * 4;
  std::vector<std::byte> bytes(begin, begin + size);
  bytes.resize((bytes.size() + 3) / 4 * 4 + 4, std::byte{0});
  return bytes;
}

// Registers per invocation from the driver's pipeline statistics, 0 when it
// reports none. Drivers name it differently ("Register Count", "VGPRs", ...).
double ReportedRegisters(const vk::Pipeline& pipeline) {
  for (const vk::ExecutableStatistic& statistic : pipeline.executable_statistics()) {
    std::string name = statistic.name;
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    bool registers = name.find("register") != std::string::npos || name.find("vgpr") != std::string::npos;
    if (registers && name.find("spill") == std::string::npos) return statistic.value;
  }
  return 0;
}

std::vector<DispatchInfo> DescribeDispatches(const vk::Sequence& sequence, const std::vector<DispatchRole>& roles,
                                             const Plan* plan) {
  std::vector<DispatchInfo> infos;
  for (size_t i = 0; i < sequence.dispatches().size(); ++i) {
    const vk::Dispatch& d = sequence.dispatches()[i];
    DispatchInfo info{d.kernel, d.label, roles[i], d.cost, d.workgroups, d.pipeline->local_size()};
    info.shader = d.pipeline->shader_name();
    info.shared_memory_bytes = d.pipeline->shared_memory_bytes();
    info.registers = ReportedRegisters(*d.pipeline);
    if (const KernelChoice* choice = plan ? plan->kernel_choice(d.label) : nullptr) {
      info.variant = choice->variant;
      info.variant_choice = KernelChoiceHowName(choice->how);
      info.variant_not_applied = choice->not_applied;
      info.alternatives_ns = choice->alternatives_ns;
    }
    if (const kernels::KernelProblem* problem = plan ? plan->problem(d.label) : nullptr) info.problem = *problem;
    infos.push_back(std::move(info));
  }
  return infos;
}

// Steps in a traced submission (the last one's trace is reported).
constexpr uint32_t kTracedSteps = 2;

}  // namespace

std::vector<uint32_t> EpochOrder(uint32_t count, uint64_t seed, uint32_t epoch, bool shuffle) {
  std::vector<uint32_t> order(count);
  std::iota(order.begin(), order.end(), 0u);
  if (!shuffle) return order;
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + epoch + 1);
  // Fisher-Yates with our own bounded draw (std::uniform_int_distribution
  // differs between standard libraries).
  for (uint32_t i = count; i > 1; --i) {
    uint64_t j = rng() % i;
    std::swap(order[i - 1], order[j]);
  }
  return order;
}

DeviceDataset::DeviceDataset(vk::Context& context, const data::Dataset& dataset, uint64_t max_chunk_bytes)
    : host_(&dataset) {
  Require(dataset.count() > 0, "Dataset '" + dataset.name + "' has no samples.");
  std::vector<std::byte> features = FeatureBytes(dataset);
  // One buffer when it fits the device's range, else chunks of whole samples
  // (a multiple of 4 samples, so every chunk starts on a word of uint8 data).
  const uint64_t limit = std::min<uint64_t>(max_chunk_bytes ? max_chunk_bytes : UINT64_MAX,
                                            context.info().max_storage_buffer_range);
  const uint64_t sample_bytes = dataset.feature_size() * (dataset.format == data::FeatureFormat::kUint8 ? 1 : 4);
  if (features.size() <= limit) {
    samples_per_chunk_ = static_cast<uint32_t>(dataset.count());
  } else {
    samples_per_chunk_ = static_cast<uint32_t>(limit / sample_bytes / 4 * 4);
    Require(samples_per_chunk_ > 0, "Dataset '" + dataset.name + "': one sample (" + vk::FormatBytes(sample_bytes) +
                                        ") does not fit a device buffer (" + vk::FormatBytes(limit) + ").");
  }
  const uint64_t chunks = (dataset.count() + samples_per_chunk_ - 1) / samples_per_chunk_;
  if (chunks > gpu::GATHER_MAX_CHUNKS)
    throw Error("Dataset '" + dataset.name + "' needs " + vk::FormatBytes(features.size()) + " of device memory in " +
                std::to_string(chunks) + " buffers of at most " + vk::FormatBytes(limit) + " ('" +
                context.info().name + "'s maxStorageBufferRange); at most " + std::to_string(gpu::GATHER_MAX_CHUNKS) +
                " are supported. Use a subset of the data.");
  for (uint64_t c = 0; c < chunks; ++c) {
    const uint64_t begin = c * samples_per_chunk_ * sample_bytes;
    const uint64_t end = c + 1 == chunks ? features.size() : begin + uint64_t(samples_per_chunk_) * sample_bytes;
    std::string name = dataset.name + " features";
    if (chunks > 1) name.append(" ").append(std::to_string(c + 1));
    features_.push_back(std::make_unique<vk::Buffer>(context, end - begin, name));
    features_.back()->Upload(std::span<const std::byte>(features).subspan(begin, end - begin));
  }
  labels_ = std::make_unique<vk::Buffer>(context, dataset.labels.size() * 4, dataset.name + " labels");
  labels_->UploadVector(std::span<const uint32_t>(dataset.labels));
}

uint64_t DeviceDataset::device_bytes() const {
  uint64_t bytes = labels_->size();
  for (const auto& chunk : features_) bytes += chunk->size();
  return bytes;
}

vk::Dispatch DeviceDataset::GatherDispatch(vk::PipelineCache& pipelines, const Plan& plan,
                                           const vk::Buffer& permutation, const GatherAugment& augment) const {
  kernels::GatherArgs args;
  if (augment.crop_padding > 0 || augment.flip) {
    const std::vector<uint32_t>& shape = host_->sample_shape;
    Require(shape.size() == 3, "Augmentation (random crop, flip) needs images, but '" + host_->name +
                                   "' has samples of shape " + ShapeString(shape) + ".");
    args.channels = shape[0], args.height = shape[1], args.width = shape[2];
    args.crop_padding = augment.crop_padding, args.flip = augment.flip, args.augment_seed = augment.seed;
  }
  args.features = kernels::WholeBuffer(*features_[0]);
  for (size_t c = 1; c < features_.size(); ++c) args.extra_features.push_back(kernels::WholeBuffer(*features_[c]));
  args.samples_per_chunk = samples_per_chunk_;
  args.features_u8 = host_->format == data::FeatureFormat::kUint8;
  args.labels = kernels::WholeBuffer(*labels_);
  args.permutation = {&permutation, 0, count()};
  args.step_params = plan.step_params();
  args.batch_x = plan.batch_input();
  args.batch_labels = plan.batch_labels();
  args.rows = plan.batch();
  args.labels_per_sample = host_->labels_per_sample;
  args.feature_size = static_cast<uint32_t>(host_->feature_size());
  args.permutation_count = count();
  args.scale = host_->scale;
  args.offset = host_->offset;
  vk::Dispatch d = kernels::GatherDispatch(pipelines, args);
  d.label = "gather batch from " + host_->name;
  return d;
}

struct Trainer::EvalProgram {
  std::unique_ptr<DeviceDataset> data;
  std::unique_ptr<vk::Buffer> order;  // identity: evaluation visits every sample once
  std::unique_ptr<vk::Sequence> sequence;
  std::map<uint32_t, VkCommandBuffer> commands;
};

Trainer::Trainer(vk::Context& context, vk::PipelineCache& pipelines, const ModelDesc& model, const TrainConfig& config,
                 const data::Dataset* train, const data::Dataset* validation, ForcedVariant forced_variant)
    : context_(context), pipelines_(pipelines), config_(config) {
  ValidateTrainConfig(config);
  PlanOptions options;
  options.batch = config.batch_size;
  options.slots = kBanks * config.steps_per_submit;  // a bank of step slots per submission in flight
  options.optimizer = config.optimizer;
  options.hyper = config.hyper;
  options.seed = config.seed;
  options.autotune = config.autotune;
  options.precision = config.precision;
  options.loss_scale = config.loss_scale;
  options.grad_clip = config.grad_clip;
  options.decay_biases_and_norms = config.decay_biases_and_norms;
  options.forced_variant = forced_variant;
  plan_ = Plan::Compile(context, pipelines, model, options);
  if (train) {
    CheckDataFitsModel(*train, "training");
    if (train->count() < config.batch_size)
      throw Error("The training set '" + train->name + "' has " + std::to_string(train->count()) +
                  " samples, fewer than the batch size " + std::to_string(config.batch_size) + ". Use a smaller batch.");
    steps_per_epoch_ = static_cast<uint32_t>(train->count() / config.batch_size);
  }
  plan_->InitializeParameters(static_cast<uint32_t>(config.seed));

  command_pool_ = vk::MakeCommandPool(context);
  for (vk::UniqueFence& fence : fences_) fence = vk::MakeFence(context);

  if (train) {
    train_data_ = std::make_unique<DeviceDataset>(context, *train);
    permutation_ = std::make_unique<vk::Buffer>(context, uint64_t(train->count()) * 4, "epoch order");
    const GatherAugment augment{config.augment_crop_padding, config.augment_flip,
                                static_cast<uint32_t>(config.seed * 2246822519u + 7)};
    std::vector<vk::Dispatch> step = {train_data_->GatherDispatch(pipelines, *plan_, *permutation_, augment)};
    std::vector<DispatchRole> roles = {{-1, Pass::kData}};
    step.insert(step.end(), plan_->train_step().begin(), plan_->train_step().end());
    roles.insert(roles.end(), plan_->train_roles().begin(), plan_->train_roles().end());
    train_sequence_ = std::make_unique<vk::Sequence>(context, std::move(step), kBanks * config.steps_per_submit);
    step_info_ = DescribeDispatches(*train_sequence_, roles, plan_.get());
  }
  if (validation && validation->count() > 0) {
    CheckDataFitsModel(*validation, "validation");
    validation_ = MakeEvalProgram(*validation);
  }
}

Trainer::~Trainer() {
  // Submissions may still be in flight if an exception interrupted their wait. Only our own fences
  // are waited on: vkDeviceWaitIdle would touch the queue that other threads submit to.
  std::vector<VkFence> in_flight;
  for (uint32_t b = 0; b < kBanks; ++b)
    if (fence_in_flight_[b]) in_flight.push_back(fences_[b].get());
  if (!in_flight.empty())
    vkWaitForFences(context_.device(), static_cast<uint32_t>(in_flight.size()), in_flight.data(), VK_TRUE, UINT64_MAX);
}

void Trainer::CheckDataFitsModel(const data::Dataset& dataset, const std::string& role) const {
  const ModelDesc& model = plan_->model();
  const FitRule rule = role == "prediction"   ? FitRule::kPrediction
                       : role == "evaluation" ? FitRule::kEvaluation
                                              : FitRule::kTraining;
  if (std::optional<DataFitProblem> problem =
          CheckDataFit(model, dataset.sample_shape, dataset.num_classes, dataset.name, rule, dataset.labels_per_sample))
    throw Error("The model '" + model.name + "' does not fit the " + role + " data: layers[" +
                std::to_string(problem->layer) + "] " + problem->message);
}

VkCommandBuffer Trainer::RecordSteps(const vk::Sequence& sequence, uint32_t first_slot, uint32_t steps, bool timed) {
  VkCommandBufferAllocateInfo allocate{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
  allocate.commandPool = command_pool_.get();
  allocate.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  allocate.commandBufferCount = 1;
  VkCommandBuffer cb = VK_NULL_HANDLE;
  vk::Check(vkAllocateCommandBuffers(context_.device(), &allocate, &cb), "vkAllocateCommandBuffers");
  VkCommandBufferBeginInfo begin{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  vk::Check(vkBeginCommandBuffer(cb, &begin), "vkBeginCommandBuffer");
  // Each slot's Record begins with a compute barrier, which also orders its first
  // dispatches after the submission queued before this one (same queue).
  for (uint32_t slot = first_slot; slot < first_slot + steps; ++slot) sequence.Record(cb, slot, timed);
  vk::RecordComputeToHostBarrier(cb);  // the host reads results after the fence
  vk::Check(vkEndCommandBuffer(cb), "vkEndCommandBuffer");
  return cb;
}

void Trainer::SubmitAndWait(VkCommandBuffer cb, const char* what) {
  assert(!fence_in_flight_[0] && "a training submission is still in flight");
  VkFence fence = fences_[0].get();
  vk::Check(vkResetFences(context_.device(), 1, &fence), "vkResetFences");
  context_.Submit(cb, fence);
  fence_in_flight_[0] = true;
  vk::Check(vkWaitForFences(context_.device(), 1, &fence, VK_TRUE, UINT64_MAX), std::string("vkWaitForFences (") + what + ")");
  fence_in_flight_[0] = false;
}

struct Trainer::Submission {
  uint32_t bank = 0;
  uint32_t first_slot = 0;  // of the sequence and of the plan's step slots
  uint32_t steps = 0;
  bool profiling = false, tracing = false;  // profiled submissions run alone (nothing else in flight)
  bool timed = true;                        // per-dispatch timestamps recorded (profiled ones always)
  bool first_steps = false;                 // the training sequence's first submission (see Trainer::Submit)
  bool submitted = false;
  const vk::Sequence* sequence = nullptr;
  VkCommandBuffer profiled_commands = VK_NULL_HANDLE;  // recorded for this submission only; freed after it
  std::vector<StepReport> reports;
  std::vector<profile::TimelineEvent> host_events;  // profiled only: the host's moments
  double prepare_start_ns = 0, submit_start_ns = 0, submitted_ns = 0;
};

namespace {

void Advance(TrainPosition& position, uint32_t steps, uint32_t steps_per_epoch) {
  position.global_step += steps;
  position.step_in_epoch += steps;
  if (position.step_in_epoch >= steps_per_epoch) {
    position.step_in_epoch = 0;
    ++position.epoch;
  }
}

}  // namespace

void Trainer::Submit(Submission& submission, const TrainPosition& first, uint32_t max_steps) {
  Submission& s = submission;
  auto host_event = [&](const char* name, const char* category, double start_ns) {
    if (s.profiling) s.host_events.push_back({name, category, profile::Lane::kHost, start_ns, vk::SteadyNowNs()});
  };
  s.prepare_start_ns = vk::SteadyNowNs();
  // The in-flight steps read the epoch's order: RunSteps drains them before a new epoch.
  if (permutation_epoch_ != first.epoch) {
    std::vector<uint32_t> order = EpochOrder(train_data_->count(), config_.seed, first.epoch, config_.shuffle);
    permutation_->UploadVector(std::span<const uint32_t>(order));
    permutation_epoch_ = first.epoch;
    host_event("upload the epoch's sample order", "upload", s.prepare_start_ns);
  }
  const uint32_t most = submission_steps_ ? std::min(submission_steps_, config_.steps_per_submit) : config_.steps_per_submit;
  s.steps = std::min({max_steps, most, steps_per_epoch_ - first.step_in_epoch});
  // Two traced steps, the second one reported: a driver may compile a pipeline
  // on its first dispatch (lavapipe does), which would show as a slow first
  // step. Both are real training steps: the traced kernels compute the same.
  if (s.tracing) s.steps = std::min(s.steps, kTracedSteps);
  // A profiled submission uses the instrumented sequence's slots from 0 (nothing else is in flight).
  s.first_slot = s.profiling ? 0 : s.bank * config_.steps_per_submit;
  const double params_start = vk::SteadyNowNs();
  s.reports.resize(s.steps);
  for (uint32_t i = 0; i < s.steps; ++i) {
    StepReport& r = s.reports[i];
    r.epoch = first.epoch;
    r.step_in_epoch = first.step_in_epoch + i;
    r.global_step = first.global_step + i;
    r.learning_rate = config_.LearningRateAt(r.epoch + double(r.step_in_epoch) / steps_per_epoch_);
    uint64_t t = r.global_step + 1;
    gpu::StepParams& p = plan_->step_params_slot(s.first_slot + i);
    p.batch_offset = r.step_in_epoch * config_.batch_size;
    p.valid_rows = config_.batch_size * plan_->tokens_per_sample();  // loss rows: every position of a sequence
    p.adam_step = static_cast<uint32_t>(t);
    p.learning_rate = static_cast<float>(r.learning_rate);
    p.bias_correction1 = static_cast<float>(1.0 - std::pow(double(config_.hyper.beta1), double(t)));
    p.bias_correction2 = static_cast<float>(1.0 - std::pow(double(config_.hyper.beta2), double(t)));
  }
  host_event("write step parameters (mapped memory)", "upload", params_start);

  const double record_start = vk::SteadyNowNs();
  VkCommandBuffer cb = VK_NULL_HANDLE;
  if (s.profiling) {
    s.sequence = &InstrumentedSequence(s.tracing);
    cb = s.profiled_commands = RecordSteps(*s.sequence, s.first_slot, s.steps);  // profiled submissions are rare
    host_event("record the command buffer", "host", record_start);
  } else {
    s.sequence = train_sequence_.get();
    s.first_steps = !train_sequence_used_;
    train_sequence_used_ = true;
    s.timed = s.prepare_start_ns - last_timed_submit_ns_ >= timing_interval_seconds_ * 1e9;
    if (s.timed) last_timed_submit_ns_ = s.prepare_start_ns;
    // Recorded once per bank, step count and timing, then replayed.
    VkCommandBuffer& cached = train_commands_[{s.bank, s.steps, s.timed}];
    if (cached == VK_NULL_HANDLE) cached = RecordSteps(*train_sequence_, s.first_slot, s.steps, s.timed);
    cb = cached;
  }
  assert(!fence_in_flight_[s.bank] && "the bank's previous submission is still in flight");
  VkFence fence = fences_[s.bank].get();
  vk::Check(vkResetFences(context_.device(), 1, &fence), "vkResetFences");
  s.submit_start_ns = vk::SteadyNowNs();
  context_.Submit(cb, fence);
  fence_in_flight_[s.bank] = true;
  s.submitted = true;
  s.submitted_ns = vk::SteadyNowNs();
}

void Trainer::CompleteOldest(std::deque<Submission>& in_flight, double& previous_end_ns,
                             const std::function<void(const StepReport&)>& on_step) {
  Submission& s = in_flight.front();
  VkFence fence = fences_[s.bank].get();
  vk::Check(vkWaitForFences(context_.device(), 1, &fence, VK_TRUE, UINT64_MAX),
            std::string("vkWaitForFences (") + (s.tracing ? "traced training step" : "training step") + ")");
  fence_in_flight_[s.bank] = false;
  const double wait_end = vk::SteadyNowNs();
  // The GPU worked on this submission from when it was submitted, or from when
  // the one queued before it completed, whichever came later.
  const double seconds = (wait_end - std::max(s.submit_start_ns, previous_end_ns)) * 1e-9;
  previous_end_ns = wait_end;
  if (s.profiling) {
    s.host_events.push_back({"submit", "host", profile::Lane::kHost, s.submit_start_ns, s.submitted_ns});
    s.host_events.push_back({"wait for the GPU", "host", profile::Lane::kHost, s.submitted_ns, wait_end});
  }

  const double readback_start = vk::SteadyNowNs();
  for (uint32_t i = 0; i < s.steps; ++i) {
    StepReport& r = s.reports[i];
    std::array<float, 4> result = plan_->result_slot(s.first_slot + i);
    r.loss = result[0];
    r.accuracy = result[2] > 0 ? result[1] / result[2] : 0.0f;
    std::tie(r.loss_scale, r.skipped) = plan_->loss_scale_slot(s.first_slot + i);
    r.grad_norm = plan_->grad_norm_slot(s.first_slot + i);
    // The sequence's first step dispatches each pipeline for the first time, and
    // a driver may compile it then (lavapipe does: 1.2 s for the spiral MLP's
    // step of 1.5 ms with a cold shader cache, 0.4 s in one kernel). Its times
    // would show the compiler as kernel time, so that step reports none.
    const bool compiling = s.first_steps && i == 0 && !s.profiling;
    if (s.timed && !compiling) r.dispatch_ns = s.sequence->ReadDispatchTimesNs(s.first_slot + i);
    r.wall_seconds = seconds / s.steps;
    if (result[3] != 0.0f || !std::isfinite(r.loss)) {
      char lr[32];
      std::snprintf(lr, sizeof lr, "%g", r.learning_rate);
      throw DivergenceError("Training diverged at epoch " + std::to_string(r.epoch + 1) + ", step " +
                            std::to_string(r.step_in_epoch + 1) + " (step " + std::to_string(r.global_step + 1) +
                            " overall): the loss became " + (std::isnan(r.loss) ? "NaN" : "infinite") +
                            ". Try a lower learning rate than " + lr + ".");
    }
  }
  if (s.profiling) {
    s.host_events.push_back({"read loss, accuracy and timestamps", "readback", profile::Lane::kHost, readback_start,
                             vk::SteadyNowNs()});
    auto result = std::make_shared<StepProfile>();
    if (s.prepare_start_ns - previous_submission_end_ns_ < 1e9)  // the same run: the GPU idled in between
      s.host_events.insert(s.host_events.begin(),
                           profile::TimelineEvent{"between submissions (GPU idle)", "gap", profile::Lane::kHost,
                                                  previous_submission_end_ns_, s.prepare_start_ns});
    result->timeline = BuildTimeline(*s.sequence, s.steps, std::move(s.host_events), s.submitted_ns);
    if (s.sequence->options().invocation_counts) result->measured_invocations = s.sequence->ReadInvocationCounts(0);
    if (s.tracing) {
      const uint32_t traced = s.steps - 1;
      result->trace = s.sequence->ReadWorkgroupTrace(s.first_slot + traced);
      result->traced_step = s.reports[traced].global_step;
      const std::vector<double>& times = s.reports[traced].dispatch_ns;
      result->traced_step_ns = std::accumulate(times.begin(), times.end(), 0.0);
      result->untraced_step_ns = last_untraced_step_ns_;
    }
    vkFreeCommandBuffers(context_.device(), command_pool_.get(), 1, &s.profiled_commands);
    s.profiled_commands = VK_NULL_HANDLE;
    s.reports[0].profile = std::move(result);
    profile_requested_ = false;
    trace_requested_ = false;
  } else if (s.timed) {
    double total = 0;
    uint32_t timed_steps = 0;
    for (const StepReport& r : s.reports) {
      total += std::accumulate(r.dispatch_ns.begin(), r.dispatch_ns.end(), 0.0);
      timed_steps += r.dispatch_ns.empty() ? 0 : 1;
    }
    if (timed_steps > 0) last_untraced_step_ns_ = total / timed_steps;
  }
  previous_submission_end_ns_ = vk::SteadyNowNs();

  Advance(position_, s.steps, steps_per_epoch_);
  std::vector<StepReport> reports = std::move(s.reports);
  in_flight.pop_front();
  for (const StepReport& r : reports) on_step(r);
}

void Trainer::Abandon(std::deque<Submission>& in_flight, bool count_steps) noexcept {
  for (Submission& s : in_flight) {
    if (fence_in_flight_[s.bank]) {
      VkFence fence = fences_[s.bank].get();
      if (vkWaitForFences(context_.device(), 1, &fence, VK_TRUE, UINT64_MAX) == VK_SUCCESS)
        fence_in_flight_[s.bank] = false;
    }
    if (s.profiled_commands != VK_NULL_HANDLE && !fence_in_flight_[s.bank]) {
      vkFreeCommandBuffers(context_.device(), command_pool_.get(), 1, &s.profiled_commands);
      s.profiled_commands = VK_NULL_HANDLE;
    }
    if (count_steps && s.submitted) Advance(position_, s.steps, steps_per_epoch_);
  }
  in_flight.clear();
}

void Trainer::RunSteps(uint32_t max_steps, const std::function<void(const StepReport&)>& on_step,
                       uint32_t submission_steps) {
  Require(train_data_ != nullptr, "This trainer was made for evaluation only; it has no training data.");
  assert(submission_steps <= config_.steps_per_submit && "a submission holds at most steps_per_submit steps");
  submission_steps_ = submission_steps;
  stop_requested_ = false;
  if (config_.max_steps > 0)  // the step cap, whatever the epochs
    max_steps = static_cast<uint32_t>(std::min<uint64_t>(
        max_steps, config_.max_steps > position_.global_step ? config_.max_steps - position_.global_step : 0));
  std::deque<Submission> in_flight;  // oldest first; at most kBanks, on distinct banks
  TrainPosition next = position_;    // the first step not yet submitted
  double previous_end_ns = -INFINITY;
  try {
    for (;;) {
      const bool more = max_steps > 0 && next.epoch < config_.epochs && !stop_requested_;
      const bool profiling = profile_requested_ || trace_requested_;
      // Wait for the oldest submission when there is nothing more to submit,
      // when both banks are busy, before a new epoch's order replaces the one
      // the in-flight steps read, and around a profiled submission (it runs alone).
      if (!in_flight.empty() && (!more || in_flight.size() == kBanks || profiling || in_flight.back().profiling ||
                                 permutation_epoch_ != next.epoch)) {
        CompleteOldest(in_flight, previous_end_ns, on_step);
        continue;
      }
      if (!more) break;
      Submission& s = in_flight.emplace_back();
      s.bank = in_flight.size() == 1 ? 0 : 1 - in_flight.front().bank;
      s.tracing = trace_requested_;
      s.profiling = profiling;
      Submit(s, next, max_steps);
      max_steps -= s.steps;
      Advance(next, s.steps, steps_per_epoch_);
    }
  } catch (const DivergenceError&) {
    Abandon(in_flight, false);  // the diverged submission and any after it: not counted, not reported
    throw;
  } catch (...) {
    Abandon(in_flight, true);
    throw;
  }
}

const vk::Sequence& Trainer::InstrumentedSequence(bool tracing) {
  std::unique_ptr<vk::Sequence>& sequence = tracing ? traced_sequence_ : profiled_sequence_;
  if (!sequence) {
    const vk::DeviceInfo& device = context_.info();
    if (tracing)
      Require(device.shader_clock && device.shader_device_clock,
              "Trace mode needs a device clock readable from shaders (VK_KHR_shader_clock with shaderDeviceClock), "
              "which the device '" + device.name + "' does not offer.");
    vk::SequenceOptions options;
    options.dispatch_intervals = device.timestamp_valid_bits > 0;
    options.invocation_counts = device.pipeline_statistics && !tracing;
    options.trace_workgroups = tracing;
    options.traced_pipelines = tracing ? &pipelines_ : nullptr;
    sequence = std::make_unique<vk::Sequence>(context_, train_sequence_->dispatches(),
                                              tracing ? kTracedSteps : config_.steps_per_submit, options);
  }
  return *sequence;
}

profile::StepTimeline Trainer::BuildTimeline(const vk::Sequence& sequence, uint32_t steps,
                                             std::vector<profile::TimelineEvent> host_events,
                                             double submitted_ns) const {
  profile::StepTimeline timeline;
  timeline.first_global_step = position_.global_step;
  timeline.steps = steps;
  timeline.events = std::move(host_events);
  if (sequence.options().dispatch_intervals) {
    std::vector<std::vector<vk::DispatchInterval>> intervals(steps);
    for (uint32_t s = 0; s < steps; ++s) intervals[s] = sequence.ReadDispatchIntervals(s);
    // Device timestamps onto the host clock: calibrated where the driver can,
    // else the first dispatch is placed at the moment of submission.
    double offset = 0;
    if (std::optional<vk::ClockCalibration> calibration = context_.CalibrateClocks()) {
      offset = calibration->host_ns - calibration->device_ns;
      timeline.clocks_calibrated = true;
    } else if (!intervals[0].empty()) {
      offset = submitted_ns - intervals[0][0].start_ns;
    }
    const std::vector<vk::Dispatch>& dispatches = sequence.dispatches();
    double previous_end = NAN;
    for (uint32_t s = 0; s < steps; ++s) {
      for (size_t i = 0; i < intervals[s].size(); ++i) {
        const vk::DispatchInterval& interval = intervals[s][i];
        if (std::isfinite(previous_end) && interval.start_ns > previous_end)
          timeline.events.push_back({"barrier and launch before " + dispatches[i].label, "barrier",
                                     profile::Lane::kDevice, previous_end + offset, interval.start_ns + offset,
                                     int(i), s});
        timeline.events.push_back({dispatches[i].label, "dispatch", profile::Lane::kDevice,
                                   interval.start_ns + offset, interval.end_ns + offset, int(i), s});
        previous_end = interval.end_ns;
      }
    }
  }
  double origin = INFINITY;
  for (const profile::TimelineEvent& event : timeline.events) origin = std::min(origin, event.start_ns);
  for (profile::TimelineEvent& event : timeline.events) event.start_ns -= origin, event.end_ns -= origin;
  std::stable_sort(timeline.events.begin(), timeline.events.end(),
                   [](const auto& a, const auto& b) { return a.start_ns < b.start_ns; });
  return timeline;
}

void Trainer::RequestProfile() {
  Require(train_sequence_ != nullptr, "This trainer was made for evaluation only; there is no training step to profile.");
  InstrumentedSequence(false);
  profile_requested_ = true;
}

void Trainer::RequestTrace() {
  Require(train_sequence_ != nullptr, "This trainer was made for evaluation only; there is no training step to trace.");
  InstrumentedSequence(true);
  trace_requested_ = true;
}

uint64_t Trainer::dataset_device_bytes() const {
  uint64_t bytes = train_data_ ? train_data_->device_bytes() + permutation_->size() : 0;
  if (validation_) bytes += validation_->data->device_bytes() + validation_->order->size();
  if (predict_program_) bytes += predict_program_->data->device_bytes() + predict_program_->order->size();
  return bytes;
}

EpochSummary Trainer::RunEpoch(const std::function<void(const StepReport&)>& on_step) {
  EpochSummary summary;
  summary.epoch = position_.epoch;
  auto start = Clock::now();
  double loss_sum = 0, accuracy_sum = 0;
  uint32_t steps = 0;
  RunSteps(steps_per_epoch_ - position_.step_in_epoch, [&](const StepReport& r) {
    loss_sum += r.loss;
    accuracy_sum += r.accuracy;
    ++steps;
    on_step(r);
  });
  summary.train_loss = steps ? loss_sum / steps : 0;
  summary.train_accuracy = steps ? accuracy_sum / steps : 0;
  summary.samples = uint64_t(steps) * config_.batch_size;
  if (validation_ && !stop_requested_) summary.validation = RunEvaluation(*validation_);
  summary.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return summary;
}

std::unique_ptr<Trainer::EvalProgram> Trainer::MakeEvalProgram(const data::Dataset& dataset) {
  auto program = std::make_unique<EvalProgram>();
  program->data = std::make_unique<DeviceDataset>(context_, dataset);
  program->order = std::make_unique<vk::Buffer>(context_, uint64_t(dataset.count()) * 4, dataset.name + " order");
  std::vector<uint32_t> order = EpochOrder(static_cast<uint32_t>(dataset.count()), 0, 0, false);
  program->order->UploadVector(std::span<const uint32_t>(order));
  std::vector<vk::Dispatch> step = {program->data->GatherDispatch(pipelines_, *plan_, *program->order)};
  step.insert(step.end(), plan_->eval_step().begin(), plan_->eval_step().end());
  program->sequence = std::make_unique<vk::Sequence>(context_, std::move(step), config_.steps_per_submit);
  return program;
}

void Trainer::set_learning_rate(double learning_rate) {
  TrainConfig changed = config_;
  changed.learning_rate = learning_rate;
  ValidateTrainConfig(changed);
  config_ = changed;
}

void Trainer::FreeCommands(EvalProgram& program) {
  for (auto& [steps, cb] : program.commands) vkFreeCommandBuffers(context_.device(), command_pool_.get(), 1, &cb);
  program.commands.clear();
}

EvalResult Trainer::Evaluate(const data::Dataset& dataset) {
  CheckDataFitsModel(dataset, "evaluation");
  std::unique_ptr<EvalProgram> program = MakeEvalProgram(dataset);
  EvalResult result = RunEvaluation(*program);
  FreeCommands(*program);
  return result;
}

std::optional<EvalResult> Trainer::EvaluateValidation() {
  if (!validation_) return std::nullopt;
  return RunEvaluation(*validation_);
}

std::vector<float> Trainer::Predict(const data::Dataset& dataset) {
  CheckDataFitsModel(dataset, "prediction");
  // The same dataset again (a decision-boundary grid, several times a second):
  // its device copy and recorded commands are reused.
  if (!predict_program_ || predict_dataset_ != &dataset || predict_count_ != dataset.count()) {
    if (predict_program_) FreeCommands(*predict_program_);
    predict_program_ = MakeEvalProgram(dataset);
    predict_dataset_ = &dataset;
    predict_count_ = dataset.count();
  }
  std::vector<float> outputs;
  outputs.reserve(dataset.count() * plan_->output_features());
  RunEvaluation(*predict_program_, &outputs);
  return outputs;
}

EvalResult Trainer::EvaluateWithOutputs(const data::Dataset& dataset, std::vector<float>& outputs) {
  CheckDataFitsModel(dataset, "evaluation");
  std::unique_ptr<EvalProgram> program = MakeEvalProgram(dataset);
  outputs.reserve(outputs.size() + dataset.count() * plan_->output_features());
  EvalResult result = RunEvaluation(*program, &outputs);
  FreeCommands(*program);
  return result;
}

std::vector<float> Trainer::PredictOnce(const data::Dataset& dataset) {
  std::vector<float> outputs;
  EvaluateWithOutputs(dataset, outputs);
  return outputs;
}

EvalResult Trainer::RunEvaluation(EvalProgram& program, std::vector<float>* outputs_out) {
  const data::Dataset& data = program.data->host();
  const uint32_t batch = plan_->batch(), outputs = plan_->output_features();
  // Rows of the results: samples, or every position of a sequence (T per sample).
  const uint32_t tokens = plan_->tokens_per_sample();
  const uint64_t units = uint64_t(data.count()) * tokens;
  EvalResult result;
  result.classes = std::max<uint32_t>(outputs, 2);
  result.confusion.assign(size_t(result.classes) * result.classes, 0);
  uint32_t batches = static_cast<uint32_t>((data.count() + batch - 1) / batch);
  double loss_sum = 0, correct = 0;
  // Sample k of the examples shown is at k * count / kExamplesShown.
  auto ExampleIndex = [](size_t k, size_t count) -> uint64_t {
    size_t shown = std::min<size_t>(EvalResult::kExamplesShown, count);
    return k < shown ? k * count / shown : UINT64_MAX;
  };
  uint64_t next_example = ExampleIndex(0, units);
  for (uint32_t first = 0; first < batches; first += config_.steps_per_submit) {
    uint32_t steps = std::min(config_.steps_per_submit, batches - first);
    for (uint32_t s = 0; s < steps; ++s) {
      gpu::StepParams& p = plan_->step_params_slot(s);
      p = {};
      p.batch_offset = (first + s) * batch;
      p.valid_rows = static_cast<uint32_t>(std::min<uint64_t>(batch, data.count() - p.batch_offset) * tokens);
    }
    VkCommandBuffer& cb = program.commands[steps];
    if (cb == VK_NULL_HANDLE) cb = RecordSteps(*program.sequence, 0, steps, /*timed=*/false);  // nothing reads its times
    SubmitAndWait(cb, "evaluation");
    for (uint32_t s = 0; s < steps; ++s) {
      std::array<float, 4> r = plan_->result_slot(s);
      loss_sum += double(r[0]) * r[2];
      correct += r[1];
      std::vector<float> probabilities = plan_->probabilities_slot(s);
      uint64_t offset = uint64_t(first + s) * batch * tokens;
      uint32_t valid = static_cast<uint32_t>(r[2]);
      if (outputs_out)
        outputs_out->insert(outputs_out->end(), probabilities.begin(), probabilities.begin() + size_t(valid) * outputs);
      for (uint32_t row = 0; row < valid; ++row) {
        const float* p = probabilities.data() + size_t(row) * outputs;
        uint32_t predicted = outputs == 1 ? (p[0] > 0.5f ? 1u : 0u)
                                          : static_cast<uint32_t>(std::max_element(p, p + outputs) - p);
        uint32_t label = data.labels[offset + row];
        if (label < result.classes) ++result.confusion[size_t(label) * result.classes + predicted];
        uint64_t index = offset + row;
        if (index == next_example) {
          float confidence = outputs == 1 ? (predicted ? p[0] : 1 - p[0]) : p[predicted];
          result.examples.push_back({index, label, predicted, confidence});
          next_example = ExampleIndex(result.examples.size(), units);
        }
      }
    }
  }
  result.samples = data.count();
  result.loss = loss_sum / double(units);  // per position in a sequence model (r[2] counts positions)
  result.accuracy = correct / double(units);
  return result;
}

}  // namespace ts::nn
