#include "compute/kernels/optimizer.h"

#include <cassert>
#include <vector>
#include <string>

#include "compute/kernels/dispatch_helpers.h"
#include "compute/vk/context.h"
#include "shaders/optimizer.h"
#include "shaders/mixed_precision.h"
#include "shaders/step_params.h"

namespace ts::kernels {
namespace {

static_assert(uint32_t(OptimizerKind::kSgd) == gpu::OPTIMIZER_SGD &&
              uint32_t(OptimizerKind::kMomentum) == gpu::OPTIMIZER_MOMENTUM &&
              uint32_t(OptimizerKind::kAdam) == gpu::OPTIMIZER_ADAM &&
              uint32_t(OptimizerKind::kAdamW) == gpu::OPTIMIZER_ADAMW,
              "shaders/optimizer.h and OptimizerKind must agree");

// FLOPs per parameter, counting each add, multiply, divide and sqrt as 1 and an
// FMA as 2, as written in optimizer.comp.
double FlopsPerParameter(OptimizerKind kind, bool nesterov, bool weight_decay) {
  double decay = weight_decay ? 2 : 0;  // g += wd * p, or p *= 1 - lr * wd (AdamW)
  switch (kind) {
    case OptimizerKind::kSgd: return decay + 2;                          // p -= lr * g
    case OptimizerKind::kMomentum: return decay + 2 + (nesterov ? 2 : 0) + 2;  // buf FMA; nesterov FMA; update
    case OptimizerKind::kAdam:
    case OptimizerKind::kAdamW:
      // m: 1 - b1, mul, FMA (4); v: 1 - b2, 2 mul, FMA (5); sqrt v, sqrt bc2, divide,
      // add eps (4); lr / bc1, m / denominator, mul, subtract (4).
      return decay + 17;
  }
  return 0;
}

}  // namespace

const char* OptimizerName(OptimizerKind kind) {
  switch (kind) {
    case OptimizerKind::kSgd: return "sgd";
    case OptimizerKind::kMomentum: return "momentum";
    case OptimizerKind::kAdam: return "adam";
    case OptimizerKind::kAdamW: return "adamw";
  }
  return "unknown";
}

uint32_t OptimizerStateCount(OptimizerKind kind) {
  switch (kind) {
    case OptimizerKind::kSgd: return 0;
    case OptimizerKind::kMomentum: return 1;
    case OptimizerKind::kAdam:
    case OptimizerKind::kAdamW: return 2;
  }
  return 0;
}

vk::Dispatch OptimizerDispatch(vk::PipelineCache& pipelines, const OptimizerArgs& args) {
  const uint32_t states = OptimizerStateCount(args.kind);
  assert(args.params.count >= args.count && args.grads.count >= args.count && "params and grads hold count floats");
  assert((states < 1 || args.state1.count >= args.count) && "this optimizer keeps state1 (count floats)");
  assert((states < 2 || args.state2.count >= args.count) && "this optimizer keeps state2 (count floats)");
  assert(args.step_params.count * 4 >= sizeof(gpu::StepParams) && "step_params must hold one StepParams");

  const vk::DeviceInfo& info = pipelines.context().info();
  const uint32_t group_size = LimitedGroupSize(info, 256);
  // Four parameters per invocation step when every view allows vec4 access.
  auto aligned = [](const TensorRef& t) { return t.empty() || t.offset_bytes % 16 == 0; };
  const bool vec4 = args.count % 4 == 0 && aligned(args.params) && aligned(args.grads) &&
                    (states < 1 || aligned(args.state1)) && (states < 2 || aligned(args.state2));
  std::vector<TensorRef> read = {args.params, args.grads};
  if (states >= 1) read.push_back(args.state1);
  if (states >= 2) read.push_back(args.state2);
  const bool texel_possible = vec4 && std::all_of(read.begin(), read.end(), [&](const TensorRef& t) {
    return TexelViewFits(pipelines.context().physical_device(), t, 16);
  });
  const bool amp = !args.loss_scale.empty();
  assert((!amp || vec4) && "the loss-scaled update runs on vec4s");
  assert((!amp || (args.params_half.half() && args.params_half.count >= args.count)) &&
         "the loss-scaled update writes an fp16 copy of the parameters");
  const bool texel = !amp && texel_possible && (args.reads == OptimizerArgs::Reads::kTexel ||
                                        (args.reads == OptimizerArgs::Reads::kAuto && info.is_software()));
  assert((args.reads != OptimizerArgs::Reads::kTexel || texel) && "texel reads need vec4 views that fit");
  const OptimizerHyper& h = args.hyper;
  const bool nesterov = args.kind == OptimizerKind::kMomentum && h.nesterov;
  gpu::OptimizerParams params{args.count, h.momentum, h.beta1, h.beta2, h.epsilon, h.weight_decay};

  vk::Dispatch d;
  d.kernel = "optimizer";
  d.label = std::string(OptimizerName(args.kind)) + (nesterov ? " (nesterov)" : "") + (amp ? " step (loss-scaled)" : " step");
  d.pipeline = &pipelines.Get(amp     ? "optimizer_amp"
                              : texel ? "optimizer_vec4_texel"
                              : vec4  ? "optimizer_vec4"
                                      : "optimizer",
                              {{0, group_size}, {1, uint32_t(args.kind)}, {2, nesterov ? 1u : 0u}});
  d.bindings = {args.params.Bind(vk::Access::kReadWrite),
                args.grads.Bind(vk::Access::kRead),
                states >= 1 ? args.state1.Bind(vk::Access::kReadWrite) : vk::UnusedBinding(),
                states >= 2 ? args.state2.Bind(vk::Access::kReadWrite) : vk::UnusedBinding(),
                args.step_params.Bind(vk::Access::kRead)};
  if (amp) {
    d.bindings.push_back(args.loss_scale.Bind(vk::Access::kRead));
    d.bindings.push_back(args.params_half.Bind(vk::Access::kWrite));
  }
  if (texel)  // the read tensors again, as texel views
    for (const TensorRef& t : {args.params, args.grads, states >= 1 ? args.state1 : TensorRef{},
                               states >= 2 ? args.state2 : TensorRef{}})
      d.bindings.push_back(t.empty() ? vk::UnusedBinding() : TexelRead(t, VK_FORMAT_R32G32B32A32_SFLOAT, 16));
  d.SetPushConstants(params);
  d.workgroups = {GridStrideGroups(info, vec4 ? args.count / 4 : args.count, group_size), 1, 1};
  // Minimum traffic: params, grads and each state read once; params and each
  // state written once; plus the StepParams.
  double n = double(args.count);
  d.cost.flops = n * FlopsPerParameter(args.kind, nesterov, h.weight_decay != 0.0f);
  d.cost.bytes_read = 4 * n * (2 + states) + sizeof(gpu::StepParams) + (amp ? sizeof(gpu::LossScaleState) : 0);
  d.cost.bytes_written = 4 * n * (1 + states) + (amp ? 2 * n : 0);
  return d;
}

}  // namespace ts::kernels
