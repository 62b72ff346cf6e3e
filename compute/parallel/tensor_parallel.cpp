#include "compute/parallel/tensor_parallel.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <memory>
#include <random>

#include "compute/common/error.h"
#include "compute/kernels/matmul.h"
#include "compute/vk/buffer.h"
#include "compute/vk/check.h"
#include "compute/vk/pipeline.h"
#include "compute/vk/sequence.h"

namespace ts::parallel {
namespace {

double Activate(kernels::Activation activation, double z) {
  switch (activation) {
    case kernels::Activation::kIdentity: return z;
    case kernels::Activation::kRelu: return z > 0 ? z : 0;
    case kernels::Activation::kLeakyRelu: return z > 0 ? z : 0.01 * z;
    case kernels::Activation::kSigmoid: return 1 / (1 + std::exp(-z));
    case kernels::Activation::kTanh: return std::tanh(z);
    case kernels::Activation::kGelu: return 0.5 * z * (1 + std::erf(z / std::sqrt(2.0)));
  }
  return z;
}

// One device's share of the layer: X whole, its columns of W and b, and Y's columns.
struct Shard {
  vk::Context* context = nullptr;
  std::unique_ptr<vk::PipelineCache> pipelines;
  std::unique_ptr<vk::Buffer> x, w, b, pre, y, gathered;
  std::unique_ptr<vk::Sequence> sequence;
  vk::UniqueCommandPool pool;
  VkCommandBuffer commands = VK_NULL_HANDLE;
  vk::UniqueFence fence;
};

std::unique_ptr<Shard> MakeShard(vk::Context& context, const std::vector<float>& x, const std::vector<float>& w,
                                 const std::vector<float>& b, uint32_t batch, uint32_t inputs, uint32_t first,
                                 uint32_t end, uint32_t outputs, kernels::Activation activation) {
  const uint32_t cols = end - first;
  auto s = std::make_unique<Shard>();
  s->context = &context;
  s->pipelines = std::make_unique<vk::PipelineCache>(context);
  std::vector<float> w_part(size_t(inputs) * cols), b_part(b.begin() + first, b.begin() + end);
  for (uint32_t i = 0; i < inputs; ++i)
    std::copy(w.begin() + size_t(i) * outputs + first, w.begin() + size_t(i) * outputs + end,
              w_part.begin() + size_t(i) * cols);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  auto make = [&](const std::vector<float>& values, const char* name) {
    auto buffer = std::make_unique<vk::Buffer>(context, values.size() * 4, name);
    buffer->UploadVector(std::span<const float>(values));
    return buffer;
  };
  s->x = make(x, "tensor parallel X");
  s->w = make(w_part, "tensor parallel W shard");
  s->b = make(b_part, "tensor parallel b shard");
  s->pre = make(std::vector<float>(size_t(batch) * cols, nan), "tensor parallel X W shard");
  s->y = make(std::vector<float>(size_t(batch) * cols, nan), "tensor parallel Y shard");
  s->gathered = make(std::vector<float>(size_t(batch) * outputs, nan), "tensor parallel Y (all-gathered)");
  kernels::MatmulArgs mm;
  mm.a = kernels::WholeBuffer(*s->x);
  mm.b = kernels::WholeBuffer(*s->w);
  mm.c = kernels::WholeBuffer(*s->pre);
  mm.m = batch, mm.n = cols, mm.k = inputs;
  kernels::BiasActivationArgs act;
  act.pre = kernels::WholeBuffer(*s->pre);
  act.bias = kernels::WholeBuffer(*s->b);
  act.out = kernels::WholeBuffer(*s->y);
  act.rows = batch, act.cols = cols;
  act.activation = activation;
  std::vector<vk::Dispatch> dispatches = {
      kernels::MatmulDispatch(*s->pipelines, mm, kernels::DefaultMatmulVariant(context.info())),
      kernels::BiasActivationDispatch(*s->pipelines, act)};
  s->sequence = std::make_unique<vk::Sequence>(context, std::move(dispatches));

  s->pool = vk::MakeCommandPool(context);
  VkCommandBufferAllocateInfo allocate{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
  allocate.commandPool = s->pool.get();
  allocate.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  allocate.commandBufferCount = 1;
  vk::Check(vkAllocateCommandBuffers(context.device(), &allocate, &s->commands), "vkAllocateCommandBuffers");
  VkCommandBufferBeginInfo begin{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  vk::Check(vkBeginCommandBuffer(s->commands, &begin), "vkBeginCommandBuffer");
  s->sequence->Record(s->commands, 0, /*timed=*/false);
  vk::RecordComputeToHostBarrier(s->commands);
  vk::Check(vkEndCommandBuffer(s->commands), "vkEndCommandBuffer");
  s->fence = vk::MakeFence(context);
  return s;
}

void Submit(Shard& s) {
  VkFence fence = s.fence.get();
  vk::Check(vkResetFences(s.context->device(), 1, &fence), "vkResetFences");
  s.context->Submit(s.commands, fence);
}

void Wait(Shard& s) {
  VkFence fence = s.fence.get();
  vk::Check(vkWaitForFences(s.context->device(), 1, &fence, VK_TRUE, UINT64_MAX), "vkWaitForFences (tensor parallel)");
}

}  // namespace

TensorParallelResult RunTensorParallelDense(const std::vector<vk::Context*>& contexts, uint32_t batch,
                                            uint32_t inputs, uint32_t outputs, kernels::Activation activation,
                                            uint64_t seed) {
  const uint32_t k = static_cast<uint32_t>(contexts.size());
  if (k == 0) throw Error("Tensor parallelism needs at least one device.");
  if (batch == 0 || inputs == 0 || outputs == 0) throw Error("Tensor parallelism: the layer's sizes must be positive.");
  if (outputs < k)
    throw Error("A dense layer of " + std::to_string(outputs) + " output columns cannot be split over " +
                std::to_string(k) + " devices.");
  TensorParallelResult r;
  r.devices = k, r.batch = batch, r.inputs = inputs, r.outputs = outputs;
  for (uint32_t d = 0; d <= k; ++d) r.first_column.push_back(uint32_t(uint64_t(outputs) * d / k));
  for (uint32_t d = 0; d < k; ++d)
    for (uint32_t e = 0; e < d; ++e)
      if (contexts[d]->info().index == contexts[e]->info().index) r.simulated = true;

  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> uniform(-1, 1);
  std::vector<float> x(size_t(batch) * inputs), w(size_t(inputs) * outputs), b(outputs);
  for (float& v : x) v = uniform(rng);
  const float scale = 1.0f / std::sqrt(float(inputs));
  for (float& v : w) v = uniform(rng) * scale;
  for (float& v : b) v = uniform(rng) * 0.1f;

  std::vector<std::unique_ptr<Shard>> shards;
  for (uint32_t d = 0; d < k; ++d)
    shards.push_back(MakeShard(*contexts[d], x, w, b, batch, inputs, r.first_column[d], r.first_column[d + 1], outputs,
                               activation));
  std::unique_ptr<Shard> whole = MakeShard(*contexts[0], x, w, b, batch, inputs, 0, outputs, outputs, activation);

  // Warm-up (pipelines compile on their first dispatch), then the timed run.
  for (auto& s : shards) Submit(*s);
  for (auto& s : shards) Wait(*s);
  Submit(*whole);
  Wait(*whole);

  const double start = vk::SteadyNowNs();
  std::vector<double> submitted(k);
  for (uint32_t d = 0; d < k; ++d) {
    submitted[d] = vk::SteadyNowNs();
    Submit(*shards[d]);
  }
  for (uint32_t d = 0; d < k; ++d) {
    Wait(*shards[d]);
    r.events.push_back({TensorParallelEvent::Kind::kCompute, d, submitted[d], vk::SteadyNowNs()});
  }
  // All-gather through the host: each device's columns into one Y, which every device receives.
  const double gather_start = vk::SteadyNowNs();
  std::vector<float> full(size_t(batch) * outputs);
  for (uint32_t d = 0; d < k; ++d) {
    const uint32_t first = r.first_column[d], cols = r.first_column[d + 1] - first;
    std::vector<float> part(size_t(batch) * cols);
    shards[d]->y->DownloadVector(std::span<float>(part));
    for (uint32_t row = 0; row < batch; ++row)
      std::copy(part.begin() + size_t(row) * cols, part.begin() + size_t(row + 1) * cols,
                full.begin() + size_t(row) * outputs + first);
  }
  for (auto& s : shards) s->gathered->UploadVector(std::span<const float>(full));
  const double gather_end = vk::SteadyNowNs();
  for (uint32_t d = 0; d < k; ++d) r.events.push_back({TensorParallelEvent::Kind::kAllGather, d, gather_start, gather_end});
  r.split_ms = (gather_end - start) * 1e-6;

  const double unsplit_start = vk::SteadyNowNs();
  Submit(*whole);
  Wait(*whole);
  r.unsplit_ms = (vk::SteadyNowNs() - unsplit_start) * 1e-6;
  std::vector<float> unsplit(size_t(batch) * outputs);
  whole->y->DownloadVector(std::span<float>(unsplit));

  for (auto& s : shards) {
    std::vector<float> gathered(size_t(batch) * outputs);
    s->gathered->DownloadVector(std::span<float>(gathered));
    for (size_t i = 0; i < gathered.size(); ++i) {
      const double difference = std::abs(double(gathered[i]) - unsplit[i]);
      r.max_split_difference = std::max(r.max_split_difference, std::isfinite(difference) ? difference : INFINITY);
    }
  }
  for (uint32_t row = 0; row < batch; ++row)
    for (uint32_t col = 0; col < outputs; ++col) {
      double z = b[col];
      for (uint32_t i = 0; i < inputs; ++i) z += double(x[size_t(row) * inputs + i]) * w[size_t(i) * outputs + col];
      const double expected = Activate(activation, z);
      const double error = std::abs(unsplit[size_t(row) * outputs + col] - expected) / (1 + std::abs(expected));
      r.max_reference_error = std::max(r.max_reference_error, std::isfinite(error) ? error : INFINITY);
    }
  uint32_t widest = 0;
  for (uint32_t d = 0; d < k; ++d) widest = std::max(widest, r.first_column[d + 1] - r.first_column[d]);
  r.weight_bytes_per_device = uint64_t(widest) * (inputs + 1) * 4;
  r.bytes_received_per_device = uint64_t(batch) * (outputs - (r.first_column[1] - r.first_column[0])) * 4;
  return r;
}

}  // namespace ts::parallel
