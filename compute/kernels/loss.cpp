#include "compute/kernels/loss.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <string>

#include "compute/kernels/dispatch_helpers.h"
#include "compute/vk/context.h"
#include "shaders/loss.h"
#include "shaders/metrics.h"
#include "shaders/step_params.h"

namespace ts::kernels {
namespace {

static_assert(uint32_t(LossKind::kSoftmaxCrossEntropy) == gpu::LOSS_SOFTMAX_CROSS_ENTROPY &&
              uint32_t(LossKind::kMeanSquaredError) == gpu::LOSS_MEAN_SQUARED_ERROR &&
              uint32_t(LossKind::kBinaryCrossEntropyWithLogits) == gpu::LOSS_BCE_WITH_LOGITS,
              "shaders/loss.h and LossKind must agree");

// FLOPs per logit, counting each add, multiply, divide, compare/select and
// transcendental (exp, log) as 1: approximate instruction counts of loss.comp
// (the per-row log and divisions are left out; they are one per row).
double FlopsPerLogit(LossKind kind) {
  switch (kind) {
    case LossKind::kSoftmaxCrossEntropy: return 9;  // argmax compare; sub, exp, add; sub, exp, mul; sub, mul
    case LossKind::kMeanSquaredError: return 7;     // argmax compare; sub, square, add; 3 multiplies (gradient)
    case LossKind::kBinaryCrossEntropyWithLogits:
      return 15;  // argmax compare; sigmoid (abs, exp, add, divide); max, mul, sub, exp, log1p, add; sub, 2 mul
  }
  return 0;
}

}  // namespace

const char* LossName(LossKind kind) {
  switch (kind) {
    case LossKind::kSoftmaxCrossEntropy: return "softmax_cross_entropy";
    case LossKind::kMeanSquaredError: return "mse";
    case LossKind::kBinaryCrossEntropyWithLogits: return "bce_with_logits";
  }
  return "unknown";
}

vk::Dispatch LossDispatch(vk::PipelineCache& pipelines, const LossArgs& args) {
  const uint64_t elements = uint64_t(args.rows) * args.cols;
  const bool write_grad = !args.grad_logits.empty();
  const bool write_probabilities = !args.probabilities.empty();
  assert(args.cols > 0 && "a loss needs at least one column");
  assert(args.logits.count >= elements && "logits must hold rows x cols floats");
  assert(args.labels.count >= args.rows && args.row_loss.count >= args.rows && args.row_correct.count >= args.rows &&
         "labels, row_loss and row_correct hold one value per row");
  assert((!write_grad || args.grad_logits.count >= elements) && "grad_logits must hold rows x cols floats");
  assert((!write_probabilities || args.probabilities.count >= elements) && "probabilities must hold rows x cols floats");
  assert(elements < (uint64_t(1) << 32) && "the shader indexes elements with 32 bits");

  const bool half = args.logits.half();
  assert((!write_grad || args.grad_logits.half() == half) && "logits and their gradient must have the same precision");
  assert((!half || !args.loss_scale.empty()) && "the fp16 loss head needs the loss scaler's state");
  const double element_bytes = half ? 2 : 4;

  // One invocation per row; small groups so a batch of a few hundred rows
  // still spreads over several workgroups.
  const vk::DeviceInfo& info = pipelines.context().info();
  const uint32_t group_size = LimitedGroupSize(info, 64);
  gpu::LossParams params{args.rows, args.cols, args.grad_scale, write_grad ? 1u : 0u, write_probabilities ? 1u : 0u};

  vk::Dispatch d;
  d.kernel = "loss";
  d.label = std::string(LossName(args.kind)) + (write_grad ? " loss + gradient" : " loss");
  d.pipeline = &pipelines.Get(half ? "loss_f16" : "loss", {{0, group_size}, {1, uint32_t(args.kind)}});
  d.bindings = {args.logits.Bind(vk::Access::kRead),
                args.labels.Bind(vk::Access::kRead),
                args.row_loss.Bind(vk::Access::kWrite),
                args.row_correct.Bind(vk::Access::kWrite),
                write_grad ? args.grad_logits.Bind(vk::Access::kWrite) : vk::UnusedBinding(),
                write_probabilities ? args.probabilities.Bind(vk::Access::kWrite) : vk::UnusedBinding()};
  if (half) d.bindings.push_back(args.loss_scale.Bind(vk::Access::kRead));
  d.SetPushConstants(params);
  d.workgroups = {GridStrideGroups(info, args.rows, group_size), 1, 1};
  // Minimum traffic: logits and labels read once; the per-row results, the
  // gradient and the probabilities written once.
  double n = double(elements), rows = double(args.rows);
  d.cost.flops = n * FlopsPerLogit(args.kind);
  d.cost.bytes_read = element_bytes * n + 4 * rows;
  d.cost.bytes_written = 8 * rows + (write_grad ? element_bytes * n : 0) + (write_probabilities ? 4 * n : 0);
  return d;
}

vk::Dispatch MetricsDispatch(vk::PipelineCache& pipelines, const MetricsArgs& args) {
  assert(args.row_loss.count >= args.rows && args.row_correct.count >= args.rows && "one value per row");
  assert(args.step_params.count * 4 >= sizeof(gpu::StepParams) && "step_params must hold one StepParams");
  assert(args.result.count >= 4 && "result holds 4 floats");

  // A single workgroup: the sum is one value, and batches are small enough
  // that a second reduction pass would cost more than it saves. No wider than
  // the batch: idle lanes would still take part in every level of the tree.
  const vk::DeviceInfo& info = pipelines.context().info();
  const uint32_t group_size = LimitedGroupSize(info, std::min(256u, std::bit_ceil(std::max(args.rows, 8u))));
  gpu::MetricsParams params{args.rows};

  vk::Dispatch d;
  d.kernel = "metrics";
  d.label = "metrics";
  d.pipeline = &pipelines.Get("metrics", {{0, group_size}});
  d.bindings = {args.row_loss.Bind(vk::Access::kRead), args.row_correct.Bind(vk::Access::kRead),
                args.step_params.Bind(vk::Access::kRead), args.result.Bind(vk::Access::kWrite)};
  d.SetPushConstants(params);
  d.workgroups = {1, 1, 1};
  // Two adds per row (loss and correct count), counted for every row since
  // valid_rows is only known on the device. Reads both per-row arrays and the
  // StepParams; writes 4 floats.
  double rows = double(args.rows);
  d.cost.flops = 2 * rows;
  d.cost.bytes_read = 8 * rows + sizeof(gpu::StepParams);
  d.cost.bytes_written = 16;
  return d;
}

}  // namespace ts::kernels
