#include "compute/kernels/dropout.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <string>

#include "compute/kernels/dispatch_helpers.h"
#include "compute/vk/context.h"
#include "shaders/dropout.h"
#include "shaders/step_params.h"

namespace ts::kernels {
namespace {

vk::Dispatch MakeDropout(vk::PipelineCache& pipelines, const DropoutArgs& args, const char* label) {
  const bool reads_step_params = !args.step_params.empty();
  assert(args.drop_probability >= 0.0f && args.drop_probability <= 1.0f && "p must be in [0, 1]");
  assert(args.input.count >= args.count && "input must hold count floats");
  assert(args.output.count >= args.count && "output must hold count floats");
  assert((!reads_step_params || args.step_params.size_bytes() >= sizeof(gpu::StepParams)) &&
         "step_params must hold one StepParams");

  // fp16 storage (mixed precision): input and output float16_t.
  const bool half = args.input.half();
  assert(args.output.half() == half && "input and output must have the same precision");
  const double element_bytes = half ? 2 : 4;
  const vk::DeviceInfo& info = pipelines.context().info();
  const uint32_t group_size = LimitedGroupSize(info, 256);
  gpu::DropoutParams params{args.count, DropoutThreshold(args.drop_probability), DropoutScale(args.drop_probability),
                            args.seed, args.step, reads_step_params ? 1u : 0u};
  vk::Dispatch d;
  d.kernel = "dropout";
  d.label = label;
  d.pipeline = &pipelines.Get(half ? "dropout_f16" : "dropout", {{0, group_size}});
  d.bindings = {args.input.Bind(vk::Access::kRead), args.output.Bind(vk::Access::kWrite),
                reads_step_params ? args.step_params.Bind(vk::Access::kRead) : vk::UnusedBinding()};
  d.SetPushConstants(params);
  d.workgroups = {GridStrideGroups(info, args.count, group_size), 1, 1};
  // One multiply per element (the hash is integer work). Minimum traffic: the
  // input read once, the output written once; the mask is recomputed, not read.
  d.cost.flops = double(args.count);
  d.cost.bytes_read = element_bytes * args.count;
  d.cost.bytes_written = element_bytes * args.count;
  return d;
}

}  // namespace

vk::Dispatch DropoutDispatch(vk::PipelineCache& pipelines, const DropoutArgs& args) {
  return MakeDropout(pipelines, args, "dropout forward");
}

vk::Dispatch DropoutBackwardDispatch(vk::PipelineCache& pipelines, const DropoutArgs& args) {
  return MakeDropout(pipelines, args, "dropout backward");
}

uint32_t DropoutThreshold(float drop_probability) {
  double p = std::clamp(double(drop_probability), 0.0, 1.0);
  return uint32_t(std::llround(p * 16777216.0));  // 2^24: p = 1 gives a threshold no 24-bit value reaches
}

float DropoutScale(float drop_probability) {
  return drop_probability >= 1.0f ? 0.0f : float(1.0 / (1.0 - double(drop_probability)));
}

bool DropoutKeeps(uint32_t seed, uint32_t step, uint32_t index, float drop_probability) {
  return gpu::DropoutKeeps(seed, step, index, DropoutThreshold(drop_probability));
}

}  // namespace ts::kernels
