#include "compute/kernels/init.h"

#include <cassert>
#include <cmath>
#include <numbers>
#include <string>

#include "compute/kernels/dispatch_helpers.h"
#include "compute/vk/context.h"
#include "shaders/init.h"

namespace ts::kernels {
namespace {

// Which distribution a kind draws from, and its scale (the uniform's limit or
// the normal's standard deviation), in double precision.
struct Distribution {
  uint32_t shape;  // gpu::INIT_DISTRIBUTION_*
  double scale;
};

Distribution DistributionOf(InitKind kind, uint32_t fan_in, uint32_t fan_out) {
  const double in = std::max(1u, fan_in), in_out = double(std::max(1u, fan_in)) + std::max(1u, fan_out);
  switch (kind) {
    case InitKind::kZeros: return {gpu::INIT_DISTRIBUTION_ZEROS, 0.0};
    case InitKind::kHeUniform: return {gpu::INIT_DISTRIBUTION_UNIFORM, std::sqrt(6.0 / in)};
    case InitKind::kHeNormal: return {gpu::INIT_DISTRIBUTION_NORMAL, std::sqrt(2.0 / in)};
    case InitKind::kXavierUniform: return {gpu::INIT_DISTRIBUTION_UNIFORM, std::sqrt(6.0 / in_out)};
    case InitKind::kXavierNormal: return {gpu::INIT_DISTRIBUTION_NORMAL, std::sqrt(2.0 / in_out)};
    case InitKind::kOnes: return {gpu::INIT_DISTRIBUTION_CONSTANT, 1.0};
    case InitKind::kNormal002: return {gpu::INIT_DISTRIBUTION_NORMAL, 0.02};
  }
  return {gpu::INIT_DISTRIBUTION_ZEROS, 0.0};
}

// FLOPs per element, counting each add, multiply, conversion and
// transcendental (log, sqrt, cos) as 1 and an FMA as 2 (the integer hash is
// not floating-point work).
double FlopsPerElement(uint32_t shape) {
  if (shape == gpu::INIT_DISTRIBUTION_UNIFORM) return 4;  // convert, scale to [0, 1), 2u - 1, * limit
  if (shape == gpu::INIT_DISTRIBUTION_NORMAL) return 9;   // 2 converts, 2 scales, log, * -2, sqrt, cos, 2 multiplies
  return 0;
}

}  // namespace

const char* InitName(InitKind kind) {
  switch (kind) {
    case InitKind::kZeros: return "zeros";
    case InitKind::kHeUniform: return "he_uniform";
    case InitKind::kHeNormal: return "he_normal";
    case InitKind::kXavierUniform: return "xavier_uniform";
    case InitKind::kXavierNormal: return "xavier_normal";
    case InitKind::kOnes: return "ones";
    case InitKind::kNormal002: return "normal_0.02";
  }
  return "unknown";
}

vk::Dispatch InitDispatch(vk::PipelineCache& pipelines, const InitArgs& args) {
  assert(args.params.count >= args.count && "params must hold count floats");
  const Distribution distribution = DistributionOf(args.kind, args.fan_in, args.fan_out);
  const vk::DeviceInfo& info = pipelines.context().info();
  const uint32_t group_size = LimitedGroupSize(info, 256);
  gpu::InitParams params{args.count, distribution.shape, float(distribution.scale), args.seed};

  vk::Dispatch d;
  d.kernel = "init";
  d.label = std::string(InitName(args.kind)) + " init";
  d.pipeline = &pipelines.Get("init", {{0, group_size}});
  d.bindings = {args.params.Bind(vk::Access::kWrite)};
  d.SetPushConstants(params);
  d.workgroups = {GridStrideGroups(info, args.count, group_size), 1, 1};
  // Reads nothing (values come from the hash); writes every element once.
  d.cost.flops = double(args.count) * FlopsPerElement(distribution.shape);
  d.cost.bytes_read = 0;
  d.cost.bytes_written = 4.0 * args.count;
  return d;
}

double InitValue(InitKind kind, uint32_t seed, uint32_t index, uint32_t fan_in, uint32_t fan_out) {
  const Distribution distribution = DistributionOf(kind, fan_in, fan_out);
  constexpr double kTwoToMinus24 = 1.0 / 16777216.0;
  if (distribution.shape == gpu::INIT_DISTRIBUTION_UNIFORM) {
    double u = double(gpu::InitRandomBits(seed, 0, index) >> 8) * kTwoToMinus24;  // [0, 1)
    return distribution.scale * (2.0 * u - 1.0);
  }
  if (distribution.shape == gpu::INIT_DISTRIBUTION_NORMAL) {  // Box-Muller, as init.comp
    double u1 = double((gpu::InitRandomBits(seed, 0, index) >> 8) + 1) * kTwoToMinus24;  // (0, 1]
    double u2 = double(gpu::InitRandomBits(seed, 1, index) >> 8) * kTwoToMinus24;        // [0, 1)
    return distribution.scale * std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
  }
  if (distribution.shape == gpu::INIT_DISTRIBUTION_CONSTANT) return distribution.scale;
  return 0.0;
}

}  // namespace ts::kernels
