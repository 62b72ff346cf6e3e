#include "compute/parallel/data_parallel.h"

#include <algorithm>
#include <cassert>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <optional>
#include <set>

#include "compute/common/error.h"
#include "compute/nn/data_fit.h"
#include "compute/parallel/all_reduce.h"
#include "compute/vk/check.h"
#include "compute/vk/sequence.h"

namespace ts::parallel {
namespace {

// Shader writes and earlier copies finished before a copy reads or writes.
void RecordToTransferBarrier(VkCommandBuffer cb) {
  VkMemoryBarrier barrier{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  barrier.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
  barrier.dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
  vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                       VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1, &barrier, 0, nullptr, 0, nullptr);
}

// The tensors of `bucket` as copy regions (the same offsets in the gradient
// buffer and its staging mirror; padding between tensors is not copied).
void AppendRegions(const std::vector<nn::ParameterTensor>& parameters, const Bucket& bucket,
                   std::vector<VkBufferCopy>& regions) {
  for (const nn::ParameterTensor& p : parameters)
    if (p.offset >= bucket.first_float && p.offset + p.count <= bucket.end_float && p.count > 0)
      regions.push_back({p.offset * 4, p.offset * 4, p.count * 4});
}

}  // namespace

std::vector<vk::Context*> ReplicaContexts::pointers() const {
  std::vector<vk::Context*> result;
  for (const auto& c : contexts) result.push_back(c.get());
  return result;
}

ReplicaContexts CreateReplicaContexts(uint32_t replicas, const vk::ContextOptions& options) {
  if (replicas == 0) throw Error("replicas: expected 1 or more, found 0.");
  ReplicaContexts result;
  std::vector<vk::DeviceInfo> devices = vk::ListDevices();
  // Distinct physical devices only when there are enough of the best kind: a
  // GPU paired with a software driver would leave every step waiting for the slower one.
  std::vector<uint32_t> same_kind;
  if (options.device_index < 0 && !devices.empty()) {
    const uint32_t best = vk::ChooseDefaultDevice(devices, nullptr);
    for (const vk::DeviceInfo& d : devices)
      if (d.type == devices[best].type) same_kind.push_back(d.index);
  }
  if (replicas > 1 && same_kind.size() >= replicas) {
    for (uint32_t r = 0; r < replicas; ++r) {
      vk::ContextOptions one = options;
      one.device_index = static_cast<int>(same_kind[r]);
      result.contexts.push_back(vk::Context::Create(one));
    }
    result.description = std::to_string(replicas) + " devices: " + result.contexts[0]->info().name + " and " +
                         std::to_string(replicas - 1) + " more of its kind";
  } else {
    for (uint32_t r = 0; r < replicas; ++r) result.contexts.push_back(vk::Context::Create(options));
    result.simulated = replicas > 1;
    result.description = replicas == 1 ? "1 device: " + result.contexts[0]->info().name
                                       : std::to_string(replicas) + " devices simulated on one (" +
                                             result.contexts[0]->info().name +
                                             "): a logical device and queue each, sharing its cores";
  }
  return result;
}

StepPhases SummarizePhases(const ParallelStepTimeline& t, uint32_t replica) {
  StepPhases phases;
  double backward_end = t.start_ns, update_start = t.end_ns;
  for (const PhaseEvent& e : t.events) {
    if (e.replica != replica) continue;
    const double ms = (e.end_ns - e.start_ns) * 1e-6;
    switch (e.kind) {
      case PhaseKind::kForward: phases.forward_ms += ms; break;
      case PhaseKind::kBackward: phases.backward_ms += ms, backward_end = std::max(backward_end, e.end_ns); break;
      case PhaseKind::kAllReduce: phases.all_reduce_ms += ms; break;
      case PhaseKind::kUpdate: phases.update_ms += ms, update_start = e.start_ns; break;
    }
  }
  phases.waited_ms = std::max(0.0, update_start - backward_end) * 1e-6;
  return phases;
}

const char* PhaseKindName(PhaseKind kind) {
  switch (kind) {
    case PhaseKind::kForward: return "forward + loss";
    case PhaseKind::kBackward: return "backward";
    case PhaseKind::kAllReduce: return "all-reduce";
    case PhaseKind::kUpdate: return "update";
  }
  return "?";
}

struct DataParallelTrainer::Replica {
  vk::Context* context = nullptr;
  std::unique_ptr<vk::PipelineCache> pipelines;
  std::unique_ptr<nn::Trainer> trainer;  // compiles the plan at the local batch; evaluates (replica 0)
  std::unique_ptr<nn::DeviceDataset> data;
  std::unique_ptr<vk::Buffer> permutation;
  std::unique_ptr<vk::Buffer> staging;  // host-visible mirror of the gradient buffer
  vk::UniqueCommandPool pool;
  std::vector<vk::UniqueFence> fences;  // per submission of a step: the segments, then the update
  std::vector<bool> in_flight;
  vk::UniqueQueryPool queries;          // a start and an end timestamp per submission
  std::optional<vk::ClockCalibration> calibration;
  std::vector<vk::Sequence> sequences;  // per submission
  std::vector<VkCommandBuffer> commands;

  nn::Plan& plan() { return trainer->plan(); }
  void WaitAll() noexcept {
    for (size_t i = 0; i < fences.size(); ++i)
      if (in_flight[i]) {
        VkFence fence = fences[i].get();
        vkWaitForFences(context->device(), 1, &fence, VK_TRUE, UINT64_MAX);
        in_flight[i] = false;
      }
  }
};

DataParallelTrainer::DataParallelTrainer(std::vector<vk::Context*> contexts, const nn::ModelDesc& model,
                                         const nn::TrainConfig& config, const data::Dataset* train,
                                         const data::Dataset* validation, const DataParallelOptions& options)
    : config_(config), options_(options) {
  nn::ValidateTrainConfig(config);
  const uint32_t n = static_cast<uint32_t>(contexts.size());
  if (n == 0) throw Error("Data-parallel training needs at least one replica.");
  if (config.batch_size % n != 0 || config.batch_size < n)
    throw Error("The global batch " + std::to_string(config.batch_size) + " does not split evenly over " +
                std::to_string(n) + " replicas; choose a batch that is a multiple of " + std::to_string(n) + ".");
  if (train == nullptr) throw Error("Data-parallel training needs a training set.");
  if (train->count() < config.batch_size)
    throw Error("The training set '" + train->name + "' has " + std::to_string(train->count()) +
                " samples, fewer than the batch size " + std::to_string(config.batch_size) + ". Use a smaller batch.");
  if (std::optional<nn::DataFitProblem> problem =
          nn::CheckDataFit(model, train->sample_shape, train->num_classes, train->name, nn::FitRule::kTraining))
    throw Error("The model '" + model.name + "' does not fit the training data: layers[" +
                std::to_string(problem->layer) + "] " + problem->message);
  steps_per_epoch_ = static_cast<uint32_t>(train->count() / config.batch_size);
  for (uint32_t r = 0; r < n; ++r)
    for (uint32_t s = 0; s < r; ++s)
      if (contexts[r]->info().index == contexts[s]->info().index) simulated_ = true;

  nn::TrainConfig local = config;
  local.batch_size = config.batch_size / n;
  local.steps_per_submit = 1;  // one step slot: each step waits for its all-reduce
  for (uint32_t r = 0; r < n; ++r) {
    auto replica = std::make_unique<Replica>();
    replica->context = contexts[r];
    replica->pipelines = std::make_unique<vk::PipelineCache>(*contexts[r]);
    replica->trainer = std::make_unique<nn::Trainer>(*contexts[r], *replica->pipelines, model, local, nullptr,
                                                     r == 0 ? validation : nullptr);
    replica->data = std::make_unique<nn::DeviceDataset>(*contexts[r], *train);
    replica->permutation = std::make_unique<vk::Buffer>(*contexts[r], uint64_t(train->count()) * 4, "epoch order");
    const vk::Buffer& gradients = replica->plan().gradient_buffer();
    replica->staging = std::make_unique<vk::Buffer>(*contexts[r], gradients.size(), "gradient staging (all-reduce)",
                                                    vk::BufferUse::kStaging);
    std::fill_n(static_cast<std::byte*>(replica->staging->mapped()), gradients.size(), std::byte{0});
    replicas_.push_back(std::move(replica));
  }

  const nn::Plan& plan0 = replicas_[0]->plan();
  // Buckets, from the last parameter tensor back.
  const std::vector<nn::ParameterTensor>& parameters = plan0.parameters();
  Bucket open;
  auto close = [&] {
    if (!open.tensors.empty()) buckets_.push_back(open);
    open = Bucket{};
  };
  for (auto it = parameters.rbegin(); it != parameters.rend(); ++it) {
    // A tensor that would overflow the bucket starts the next one (a big
    // tensor gets a bucket of its own), as DDP fills them.
    if (!open.tensors.empty() && open.bytes + it->count * 4 > options_.bucket_bytes) close();
    if (open.tensors.empty()) open.first_float = it->offset, open.end_float = it->offset + it->count;
    open.tensors.push_back(it->name);
    open.first_float = std::min(open.first_float, it->offset);
    open.end_float = std::max(open.end_float, it->offset + it->count);
    open.bytes += it->count * 4;
  }
  close();

  // The dispatch list: the gather, then the plan's step. Where the update is,
  // where the backward pass starts, and after which dispatch each bucket is complete.
  const std::vector<nn::DispatchRole>& roles = plan0.train_roles();
  size_t update = roles.size(), first_backward = roles.size();
  for (size_t i = 0; i < roles.size(); ++i) {
    if (roles[i].pass == nn::Pass::kUpdate && update == roles.size()) update = i;
    if (roles[i].pass == nn::Pass::kBackward && first_backward == roles.size()) first_backward = i;
  }
  if (update == roles.size()) throw Error("The plan of '" + model.name + "' has no update dispatch.");
  PlanSegments(plan0, update + 1, std::min(first_backward, update) + 1);

  for (uint32_t r = 0; r < n; ++r) {
    Replica& rep = *replicas_[r];
    vk::Context& c = *rep.context;
    const nn::GatherAugment augment{config.augment_crop_padding, config.augment_flip,
                                    static_cast<uint32_t>(config.seed * 2246822519u + 7 + r * 977u)};
    std::vector<vk::Dispatch> step = {rep.data->GatherDispatch(*rep.pipelines, rep.plan(), *rep.permutation, augment)};
    step.insert(step.end(), rep.plan().train_step().begin(), rep.plan().train_step().end());
    for (const Segment& segment : segments_)
      rep.sequences.emplace_back(c, std::vector<vk::Dispatch>(step.begin() + segment.begin, step.begin() + segment.end));
    rep.sequences.emplace_back(c, std::vector<vk::Dispatch>(step.begin() + update_index_, step.end()));

    const uint32_t submissions = static_cast<uint32_t>(rep.sequences.size());
    rep.pool = vk::MakeCommandPool(c);
    for (uint32_t i = 0; i < submissions; ++i) rep.fences.push_back(vk::MakeFence(c));
    rep.in_flight.assign(submissions, false);
    const bool timestamps = c.info().timestamp_valid_bits > 0;
    if (timestamps) {
      VkQueryPoolCreateInfo query{VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO};
      query.queryType = VK_QUERY_TYPE_TIMESTAMP;
      query.queryCount = 2 * submissions;
      VkQueryPool query_pool = VK_NULL_HANDLE;
      vk::Check(vkCreateQueryPool(c.device(), &query, nullptr, &query_pool), "vkCreateQueryPool");
      rep.queries = vk::UniqueQueryPool(c.device(), query_pool);
      rep.calibration = c.CalibrateClocks();
    }

    // Record every submission once; each step replays them.
    VkCommandBufferAllocateInfo allocate{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
    allocate.commandPool = rep.pool.get();
    allocate.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    allocate.commandBufferCount = submissions;
    rep.commands.resize(submissions);
    vk::Check(vkAllocateCommandBuffers(c.device(), &allocate, rep.commands.data()), "vkAllocateCommandBuffers");
    const VkBuffer gradient = rep.plan().gradient_buffer().handle(), staging = rep.staging->handle();
    for (uint32_t i = 0; i < submissions; ++i) {
      VkCommandBuffer cb = rep.commands[i];
      VkCommandBufferBeginInfo begin{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
      vk::Check(vkBeginCommandBuffer(cb, &begin), "vkBeginCommandBuffer");
      if (rep.queries) {
        vkCmdResetQueryPool(cb, rep.queries.get(), 2 * i, 2);
        vkCmdWriteTimestamp(cb, VK_PIPELINE_STAGE_ALL_COMMANDS_BIT, rep.queries.get(), 2 * i);
      }
      const bool is_update = i + 1 == submissions;
      if (is_update) {
        // The averaged gradients, written by the host into staging, replace the replica's own.
        std::vector<VkBufferCopy> regions;
        for (const Bucket& bucket : buckets_) AppendRegions(rep.plan().parameters(), bucket, regions);
        RecordToTransferBarrier(cb);
        if (!regions.empty()) vkCmdCopyBuffer(cb, staging, gradient, uint32_t(regions.size()), regions.data());
        vk::RecordTransferToComputeBarrier(cb);
      }
      rep.sequences[i].Record(cb, 0, /*timed=*/false);
      if (!is_update && !segments_[i].buckets_ready.empty()) {
        std::vector<VkBufferCopy> regions;
        for (int b : segments_[i].buckets_ready) AppendRegions(rep.plan().parameters(), buckets_[b], regions);
        RecordToTransferBarrier(cb);
        if (!regions.empty()) vkCmdCopyBuffer(cb, gradient, staging, uint32_t(regions.size()), regions.data());
      }
      vk::RecordComputeToHostBarrier(cb);
      if (rep.queries) vkCmdWriteTimestamp(cb, VK_PIPELINE_STAGE_ALL_COMMANDS_BIT, rep.queries.get(), 2 * i + 1);
      vk::Check(vkEndCommandBuffer(cb), "vkEndCommandBuffer");
    }
  }
  BroadcastFromPrimary();
}

DataParallelTrainer::~DataParallelTrainer() {
  for (auto& replica : replicas_) replica->WaitAll();
}

void DataParallelTrainer::PlanSegments(const nn::Plan& plan, size_t update_index, size_t first_backward) {
  // Indices here count the gather (dispatch 0) in front of the plan's step.
  update_index_ = update_index;
  const std::vector<vk::Dispatch>& step = plan.train_step();
  const vk::Buffer* gradients = &plan.gradient_buffer();
  // A bucket no dispatch writes (none should) is taken as ready at the end.
  std::vector<size_t> ready(buckets_.size(), update_index - 1);
  for (size_t i = 0; i + 1 < update_index; ++i) {
    for (const vk::Binding& binding : step[i].bindings) {
      if (binding.buffer != gradients || binding.access == vk::Access::kRead) continue;
      const uint64_t begin = binding.offset / 4;
      const uint64_t end = binding.size == 0 ? gradients->size() / 4 : (binding.offset + binding.size) / 4;
      for (size_t b = 0; b < buckets_.size(); ++b)
        if (begin < buckets_[b].end_float && end > buckets_[b].first_float) ready[b] = std::max(ready[b], i + 1);
    }
  }
  // Segment ends (exclusive, in the list with the gather): the forward pass's,
  // each bucket's completion, and the update's start.
  std::set<size_t> ends = {first_backward, update_index};
  for (size_t r : ready) ends.insert(std::min(r + 1, update_index));
  size_t begin = 0;
  for (size_t end : ends) {
    if (end <= begin) continue;
    Segment segment;
    segment.begin = begin;
    segment.end = end;
    segment.kind = end <= first_backward ? PhaseKind::kForward : PhaseKind::kBackward;
    segments_.push_back(segment);
    begin = end;
  }
  for (size_t b = 0; b < buckets_.size(); ++b)
    for (Segment& segment : segments_)
      if (std::min(ready[b] + 1, update_index) <= segment.end && std::min(ready[b] + 1, update_index) > segment.begin) {
        segment.buckets_ready.push_back(static_cast<int>(b));
        break;
      }
}

uint64_t DataParallelTrainer::gradient_bytes() const {
  uint64_t bytes = 0;
  for (const Bucket& b : buckets_) bytes += b.bytes;
  return bytes;
}

void DataParallelTrainer::set_position(const nn::TrainPosition& position) {
  position_ = position;
  replicas_[0]->trainer->set_position(position);
}

uint64_t DataParallelTrainer::dataset_device_bytes() const {
  uint64_t bytes = 0;
  for (const auto& replica : replicas_) bytes += replica->data->device_bytes();
  return bytes;
}

nn::Trainer& DataParallelTrainer::primary() {
  replicas_[0]->trainer->set_position(position_);
  return *replicas_[0]->trainer;
}

void DataParallelTrainer::BroadcastFromPrimary() {
  nn::Plan& source = replicas_[0]->plan();
  position_ = replicas_[0]->trainer->position();
  const std::vector<float> parameters = source.ReadParameters();
  const std::vector<std::vector<float>> state = source.ReadOptimizerState();
  const std::vector<float> statistics = source.ReadStatistics();
  for (size_t r = 1; r < replicas_.size(); ++r) {
    nn::Plan& plan = replicas_[r]->plan();
    plan.WriteParameters(parameters);
    plan.WriteOptimizerState(state);
    plan.WriteStatistics(statistics);
  }
}

void DataParallelTrainer::RunSteps(uint32_t max_steps, const std::function<void(const nn::StepReport&)>& on_step) {
  stop_requested_ = false;
  // A GPU's timestamp clock drifts from the host's by parts per million: align them again now and then.
  if (vk::SteadyNowNs() - calibrated_ns_ > 10e9) {
    for (auto& replica : replicas_)
      if (replica->queries) replica->calibration = replica->context->CalibrateClocks();
    calibrated_ns_ = vk::SteadyNowNs();
  }
  for (uint32_t i = 0; i < max_steps && !finished() && !stop_requested_; ++i) RunStep(on_step);
}

nn::EpochSummary DataParallelTrainer::RunEpoch(const std::function<void(const nn::StepReport&)>& on_step) {
  nn::EpochSummary summary;
  summary.epoch = position_.epoch;
  const double start = vk::SteadyNowNs();
  double loss = 0, accuracy = 0;
  uint32_t steps = 0;
  const uint32_t epoch = position_.epoch;
  stop_requested_ = false;
  while (!finished() && position_.epoch == epoch && !stop_requested_) {
    RunStep([&](const nn::StepReport& r) {
      loss += r.loss, accuracy += r.accuracy, ++steps;
      on_step(r);
    });
  }
  summary.seconds = (vk::SteadyNowNs() - start) * 1e-9;
  summary.samples = uint64_t(steps) * config_.batch_size;
  if (steps) summary.train_loss = loss / steps, summary.train_accuracy = accuracy / steps;
  if (position_.epoch != epoch) summary.validation = primary().EvaluateValidation();
  return summary;
}

void DataParallelTrainer::RunStep(const std::function<void(const nn::StepReport&)>& on_step) {
  const uint32_t n = replicas();
  const uint32_t local_batch = config_.batch_size / n;
  const nn::TrainPosition first = position_;
  if (permutation_epoch_ != first.epoch) {
    std::vector<uint32_t> order =
        nn::EpochOrder(replicas_[0]->data->count(), config_.seed, first.epoch, config_.shuffle);
    for (auto& replica : replicas_) replica->permutation->UploadVector(std::span<const uint32_t>(order));
    permutation_epoch_ = first.epoch;
  }
  nn::StepReport report;
  report.epoch = first.epoch;
  report.step_in_epoch = first.step_in_epoch;
  report.global_step = first.global_step;
  report.learning_rate = config_.LearningRateAt(first.epoch + double(first.step_in_epoch) / steps_per_epoch_);
  const uint64_t t = first.global_step + 1;
  for (uint32_t r = 0; r < n; ++r) {
    gpu::StepParams& p = replicas_[r]->plan().step_params_slot(0);
    p.batch_offset = first.step_in_epoch * config_.batch_size + r * local_batch;
    p.valid_rows = local_batch;
    p.adam_step = static_cast<uint32_t>(t);
    p.learning_rate = static_cast<float>(report.learning_rate);
    p.bias_correction1 = static_cast<float>(1.0 - std::pow(double(config_.hyper.beta1), double(t)));
    p.bias_correction2 = static_cast<float>(1.0 - std::pow(double(config_.hyper.beta2), double(t)));
  }

  ParallelStepTimeline timeline;
  timeline.global_step = first.global_step;
  const size_t submissions = segments_.size() + 1;
  std::vector<std::vector<double>> submitted(n, std::vector<double>(submissions)), completed = submitted;
  auto submit = [&](uint32_t r, size_t i) {
    Replica& rep = *replicas_[r];
    VkFence fence = rep.fences[i].get();
    vk::Check(vkResetFences(rep.context->device(), 1, &fence), "vkResetFences");
    submitted[r][i] = vk::SteadyNowNs();
    rep.context->Submit(rep.commands[i], fence);
    rep.in_flight[i] = true;
  };
  auto wait = [&](uint32_t r, size_t i) {
    Replica& rep = *replicas_[r];
    VkFence fence = rep.fences[i].get();
    vk::Check(vkWaitForFences(rep.context->device(), 1, &fence, VK_TRUE, UINT64_MAX),
              "vkWaitForFences (data-parallel step, replica " + std::to_string(r) + ")");
    rep.in_flight[i] = false;
    completed[r][i] = vk::SteadyNowNs();
  };
  try {
    timeline.start_ns = vk::SteadyNowNs();
    for (uint32_t r = 0; r < n; ++r)
      for (size_t i = 0; i < segments_.size(); ++i) submit(r, i);
    // As each segment completes on every replica, all-reduce the buckets it
    // finished while the devices go on with the next segment.
    for (size_t i = 0; i < segments_.size(); ++i) {
      for (uint32_t r = 0; r < n; ++r) wait(r, i);
      for (int b : segments_[i].buckets_ready) {
        const Bucket& bucket = buckets_[b];
        const double start = vk::SteadyNowNs();
        std::vector<float*> views;
        for (auto& replica : replicas_)
          views.push_back(static_cast<float*>(replica->staging->mapped()) + bucket.first_float);
        AllReduceTraffic traffic =
            RingAllReduce(views, bucket.end_float - bucket.first_float, 1.0f / static_cast<float>(n));
        timeline.bytes_sent_per_replica += traffic.bytes_sent_per_replica;
        const double end = vk::SteadyNowNs();
        for (uint32_t r = 0; r < n; ++r) timeline.events.push_back({PhaseKind::kAllReduce, r, b, start, end});
      }
    }
    for (uint32_t r = 0; r < n; ++r) submit(r, submissions - 1);
    for (uint32_t r = 0; r < n; ++r) wait(r, submissions - 1);
  } catch (...) {
    for (auto& replica : replicas_) replica->WaitAll();
    throw;
  }
  timeline.end_ns = vk::SteadyNowNs();

  // Each replica's phases: its device timestamps on the host clock, or the host's view.
  timeline.device_clock = true;
  for (auto& replica : replicas_)
    if (!replica->queries || !replica->calibration) timeline.device_clock = false;
  for (uint32_t r = 0; r < n; ++r) {
    Replica& rep = *replicas_[r];
    std::vector<uint64_t> ticks(2 * submissions, 0);
    if (timeline.device_clock)
      vk::Check(vkGetQueryPoolResults(rep.context->device(), rep.queries.get(), 0, uint32_t(ticks.size()),
                                      ticks.size() * 8, ticks.data(), 8, VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT),
                "vkGetQueryPoolResults (data-parallel step)");
    const double period = rep.context->info().timestamp_period_ns;
    for (size_t i = 0; i < submissions; ++i) {
      PhaseEvent event;
      event.replica = r;
      event.kind = i + 1 == submissions ? PhaseKind::kUpdate : segments_[i].kind;
      if (event.kind == PhaseKind::kBackward && !segments_[i].buckets_ready.empty())
        event.bucket = segments_[i].buckets_ready.front();
      if (timeline.device_clock) {
        auto to_host = [&](uint64_t tick) { return double(tick) * period - rep.calibration->device_ns + rep.calibration->host_ns; };
        event.start_ns = to_host(ticks[2 * i]);
        event.end_ns = to_host(ticks[2 * i + 1]);
      } else {
        event.start_ns = i == 0 ? submitted[r][0] : std::max(submitted[r][i], completed[r][i - 1]);
        event.end_ns = completed[r][i];
      }
      timeline.events.push_back(event);
    }
  }

  double loss_sum = 0, correct = 0, rows = 0;
  bool non_finite = false;
  for (auto& replica : replicas_) {
    const std::array<float, 4> result = replica->plan().result_slot(0);
    loss_sum += double(result[0]) * result[2];
    correct += result[1];
    rows += result[2];
    non_finite = non_finite || result[3] != 0.0f || !std::isfinite(result[0]);
  }
  report.loss = static_cast<float>(rows > 0 ? loss_sum / rows : 0.0);
  report.accuracy = static_cast<float>(rows > 0 ? correct / rows : 0.0);
  report.wall_seconds = (timeline.end_ns - timeline.start_ns) * 1e-9;
  if (non_finite || !std::isfinite(report.loss)) {
    char lr[32];
    std::snprintf(lr, sizeof lr, "%g", report.learning_rate);
    throw nn::DivergenceError("Training diverged at epoch " + std::to_string(report.epoch + 1) + ", step " +
                              std::to_string(report.step_in_epoch + 1) + " (step " +
                              std::to_string(report.global_step + 1) + " overall, " + std::to_string(n) +
                              " replicas): the loss became " + (std::isnan(report.loss) ? "NaN" : "infinite") +
                              ". Try a lower learning rate than " + lr + ".");
  }
  timeline_ = std::move(timeline);
  position_.global_step += 1;
  position_.step_in_epoch += 1;
  if (position_.step_in_epoch >= steps_per_epoch_) {
    position_.step_in_epoch = 0;
    ++position_.epoch;
  }
  replicas_[0]->trainer->set_position(position_);
  on_step(report);
}

}  // namespace ts::parallel
