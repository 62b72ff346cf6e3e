#include "compute/kernels/matmul.h"

#include "compute/common/error.h"
#include "compute/kernels/dispatch_helpers.h"

#include <algorithm>
#include <cassert>
#include <string>

#include "compute/vk/context.h"
#include "shaders/matmul.h"

namespace ts::kernels {
namespace {

// Specialization-constant ids of matmul.comp.
enum SpecId : uint32_t {
  kGroupCols = 0, kGroupRows = 1, kVariant = 2, kRowsPerInvocation = 3, kColsPerInvocation = 4, kTileDepth = 5,
  kShareA = 6, kTransposeA = 7, kTransposeB = 8, kVec4A = 9, kVec4B = 10, kAccumulate = 11, kTexelA = 12,
  kTexelB = 13, kHalfC = 14,
};

// Register-blocked: at most this many invocations along x share their loads
// of A through subgroup shuffles (see matmul.comp).
constexpr uint32_t kMaxShareWidth = 16;

uint32_t SharedMemoryBytes(const MatmulTiling& t) {
  // Two staged tiles, each row padded by one word (see matmul.comp).
  return 4 * t.tile_depth * (t.group_rows * t.rows_per_invocation + 1 + t.group_cols * t.cols_per_invocation + 1);
}

// The minimum traffic: every element of A and B read once, C written once
// (and read once when accumulating). Tiles re-read A and B from caches, so a
// measured bandwidth from these figures is a lower bound on the real one.
void SetMatmulCost(vk::Dispatch& d, const MatmulArgs& args) {
  const double m = args.m, n = args.n, k = args.k;
  d.cost.flops = 2.0 * m * n * k + (args.accumulate ? m * n : 0.0);
  const double ab_bytes = args.a.element_bytes, c_bytes = args.c.element_bytes;
  d.cost.bytes_read = ab_bytes * (m * k + k * n) + (args.accumulate ? c_bytes * m * n : 0.0);
  d.cost.bytes_written = c_bytes * m * n;
}

// Cooperative-matrix variant: the shared memory of matmul_coopmat.comp (its
// op(A) and op(B) slices in fp16 and the fp32 tile of C, rows padded as there).
uint32_t CooperativeSharedMemoryBytes(const MatmulTiling& t) {
  const uint32_t bm = t.group_rows * t.rows_per_invocation, bn = t.group_cols * t.cols_per_invocation;
  return 2 * bm * (t.tile_depth + 8) + 2 * t.tile_depth * (bn + 8) + 4 * bm * (bn + 4);
}

// Specialization-constant ids of matmul_coopmat.comp.
enum CooperativeSpecId : uint32_t {
  kCoopGroupSize = 0, kCoopSubgroupsM = 1, kCoopSubgroupsN = 2, kCoopTilesM = 3, kCoopTilesN = 4, kCoopDepth = 5,
  kCoopTransposeA = 6, kCoopTransposeB = 7, kCoopAccumulate = 8, kCoopHalfC = 9,
};
constexpr uint32_t kCooperativeTile = 16;  // the one matrix shape used: 16 x 16 x 16

// Halves the larger workgroup dimension.
void HalveGroup(MatmulTiling& t) {
  if (t.group_cols >= t.group_rows && t.group_cols > 1)
    t.group_cols /= 2;
  else
    t.group_rows /= 2;
}

// Whether `tensor` can be read as vec4s along rows of `row_length` floats: its
// binding (in every slot) starts on a 16-byte boundary and rows are whole vec4s.
bool Vec4Aligned(const TensorRef& tensor, uint32_t row_length) {
  return tensor.offset_bytes % 16 == 0 && tensor.slot_stride_bytes % 16 == 0 && row_length % 4 == 0;
}

}  // namespace

uint32_t SoftwareGroupWidth(const vk::DeviceInfo& device) {
  return device.is_software() && device.subgroup_size >= 4 ? std::min(device.subgroup_size, 64u) : 8u;
}

uint32_t MatmulShareWidth(const vk::DeviceInfo& device, const MatmulTiling& t) {
  // Each share group must lie inside one subgroup: subgroups are runs of
  // consecutive invocations (as on every driver we know), so a subgroup size
  // and a workgroup width that are multiples of the share width suffice.
  for (uint32_t share = kMaxShareWidth; share > 1; share /= 2)
    if (device.subgroup_size >= share && device.subgroup_size % share == 0 && t.group_cols % share == 0 &&
        t.rows_per_invocation % share == 0)
      return share;
  return 1;
}

MatmulVariant DefaultMatmulVariant(const vk::DeviceInfo& device) {
  return device.is_software() ? MatmulVariant::kRegisterBlocked : MatmulVariant::kSharedTiled;
}

MatmulTiling ChooseMatmulTiling(const vk::DeviceInfo& device, const MatmulArgs& /*args*/, MatmulVariant variant,
                                const MatmulTiling& requested) {
  // One default tiling per variant, whatever the shape: every pipeline costs
  // lavapipe 0.5-1.5 s of LLVM compilation, so a model should need few. Edge
  // tiles of small matrices waste some work instead; their dispatches are
  // short anyway.
  MatmulTiling t;
  if (variant == MatmulVariant::kCooperativeMatrix) {
    // 2 x 2 subgroups, each 32 x 32 of C (2 x 2 matrices): 64 x 64 tiles of
    // C, 32 deep, about 26 KB of shared memory.
    t = {2, 2, 32, 32, 32};
  } else if (variant == MatmulVariant::kRegisterBlocked) {
    // One subgroup (lavapipe's SIMD width: 8 lanes at 256 bits, 16 at 512)
    // per workgroup; each invocation computes 32 x 4 outputs and shares its
    // loads of A with the rest of the subgroup. The fastest tiling measured on
    // lavapipe that compiles in about a second. A narrower workgroup than the
    // subgroup would leave lanes idle (half of them at 512 bits).
    t = {SoftwareGroupWidth(device), 1, 32, 4, 1};
  } else {
    // 16 x 16 invocations with 4 x 4 outputs each: 64 x 64 tiles of C, 16 deep.
    t = {16, 16, 4, 4, 16};
  }

  if (requested.group_cols) t.group_cols = requested.group_cols;
  if (requested.group_rows) t.group_rows = requested.group_rows;
  if (requested.rows_per_invocation) t.rows_per_invocation = requested.rows_per_invocation;
  if (requested.cols_per_invocation) t.cols_per_invocation = requested.cols_per_invocation;
  if (requested.tile_depth) t.tile_depth = requested.tile_depth;

  if (variant == MatmulVariant::kCooperativeMatrix) {
    // Whole 16 x 16 matrices; a workgroup of whole subgroups within the
    // device's limits and shared memory.
    auto whole = [](uint32_t& v) { v = std::max(kCooperativeTile, v / kCooperativeTile * kCooperativeTile); };
    whole(t.rows_per_invocation), whole(t.cols_per_invocation), whole(t.tile_depth);
    const uint32_t subgroup = std::max(device.subgroup_size, 1u);
    while (t.group_cols * t.group_rows > 1 && t.group_cols * t.group_rows * subgroup > device.max_workgroup_invocations)
      HalveGroup(t);
    while (CooperativeSharedMemoryBytes(t) > device.max_shared_memory_bytes && t.tile_depth > kCooperativeTile)
      t.tile_depth /= 2, whole(t.tile_depth);
    while (CooperativeSharedMemoryBytes(t) > device.max_shared_memory_bytes && t.group_cols * t.group_rows > 1)
      HalveGroup(t);
    return t;
  }

  // Fit the device: workgroup size, then shared memory.
  while (t.group_cols * t.group_rows > device.max_workgroup_invocations || t.group_cols > device.max_workgroup_size[0] ||
         t.group_rows > device.max_workgroup_size[1])
    HalveGroup(t);
  if (variant == MatmulVariant::kSharedTiled)
    while (SharedMemoryBytes(t) > device.max_shared_memory_bytes && t.tile_depth > 1) t.tile_depth /= 2;
  return t;
}

std::string MatmulVariantUnavailable(const vk::DeviceInfo& device, const MatmulArgs& args, MatmulVariant variant) {
  if (variant != MatmulVariant::kCooperativeMatrix) return "";
  if (!args.a.half() || !args.b.half())
    return "the cooperative-matrix (tensor-core) matmul multiplies fp16 matrices; this one is fp32";
  if (!device.cooperative_matrix_fp16)
    return "'" + device.name + "' has no usable cooperative matrices (tensor cores): the kernel needs " +
           "VK_NV_cooperative_matrix with 16x16x16 fp16 x fp16 + fp32 subgroup matrices, shaderFloat16 and " +
           "vulkanMemoryModel";
  return "";
}

namespace {

// The cooperative-matrix variant's dispatch (see matmul_coopmat.comp).
vk::Dispatch CooperativeMatmulDispatch(vk::PipelineCache& pipelines, const MatmulArgs& args, const MatmulTiling& t) {
  const vk::DeviceInfo& device = pipelines.context().info();
  assert(t.rows_per_invocation % kCooperativeTile == 0 && t.cols_per_invocation % kCooperativeTile == 0 &&
         t.tile_depth % kCooperativeTile == 0 && "cooperative matmul: tiles are whole 16 x 16 matrices");
  assert(CooperativeSharedMemoryBytes(t) <= device.max_shared_memory_bytes &&
         "cooperative matmul: the tiles exceed the device's shared memory");
  vk::SpecConstants spec{
      {kCoopGroupSize, t.group_cols * t.group_rows * device.subgroup_size},
      {kCoopSubgroupsM, t.group_rows},
      {kCoopSubgroupsN, t.group_cols},
      {kCoopTilesM, t.rows_per_invocation / kCooperativeTile},
      {kCoopTilesN, t.cols_per_invocation / kCooperativeTile},
      {kCoopDepth, t.tile_depth},
      {kCoopTransposeA, args.transpose_a},
      {kCoopTransposeB, args.transpose_b},
      {kCoopAccumulate, args.accumulate},
      {kCoopHalfC, args.c.half()},
  };
  vk::Dispatch d;
  d.pipeline = &pipelines.Get("matmul_coopmat", spec);
  d.bindings = {args.a.Bind(vk::Access::kRead), args.b.Bind(vk::Access::kRead),
                args.c.Bind(args.accumulate ? vk::Access::kReadWrite : vk::Access::kWrite)};
  d.workgroups = {vk::DivideRoundUp(args.n, t.group_cols * t.cols_per_invocation),
                  vk::DivideRoundUp(args.m, t.group_rows * t.rows_per_invocation), 1};
  return d;
}

}  // namespace

vk::Dispatch MatmulDispatch(vk::PipelineCache& pipelines, const MatmulArgs& args, MatmulVariant variant,
                            const MatmulTiling& requested) {
  const uint64_t m = args.m, n = args.n, k = args.k;
  assert(m > 0 && n > 0 && "matmul needs a non-empty C");
  assert(args.a.count >= m * k && "matmul: A holds fewer than M*K floats");
  assert(args.b.count >= k * n && "matmul: B holds fewer than K*N floats");
  assert(args.c.count >= m * n && "matmul: C holds fewer than M*N floats");
  // fp16 storage (mixed precision): A and B fp16, C fp16 or fp32, fp32 sums.
  const bool half = args.a.half();
  assert(args.b.half() == half && "matmul: A and B must have the same precision");
  assert((half || !args.c.half()) && "matmul: an fp16 C needs fp16 A and B");
  const vk::DeviceInfo& device = pipelines.context().info();
  if (variant == MatmulVariant::kCooperativeMatrix) {
    const std::string unavailable = MatmulVariantUnavailable(device, args, variant);
    if (!unavailable.empty()) throw Error("matmul: " + unavailable + ".");
    vk::Dispatch d = CooperativeMatmulDispatch(pipelines, args, ChooseMatmulTiling(device, args, variant, requested));
    d.kernel = "matmul";
    d.label = std::string("matmul ") + (args.transpose_a ? "A^T" : "A") + (args.transpose_b ? " B^T" : " B") + " " +
              std::to_string(m) + "x" + std::to_string(n) + "x" + std::to_string(k) + " (tensor cores)";
    gpu::MatmulParams params{args.m, args.n, args.k};
    d.SetPushConstants(params);
    SetMatmulCost(d, args);
    return d;
  }
  // matmul.comp declares the shuffle capability (used to share loads of A).
  Require(device.subgroup_shuffle, "The matrix-multiply kernel needs subgroup shuffles in compute shaders, which '" +
                                       device.name + "' does not support. Choose another device with --device.");
  MatmulTiling t = ChooseMatmulTiling(device, args, variant, requested);
  assert(t.group_cols && t.group_rows && t.rows_per_invocation && t.cols_per_invocation && t.tile_depth &&
         "matmul: tiling fields must be positive");
  assert((variant != MatmulVariant::kSharedTiled || SharedMemoryBytes(t) <= device.max_shared_memory_bytes) &&
         "matmul: the requested tiles exceed the device's shared memory");

  bool register_blocked = variant == MatmulVariant::kRegisterBlocked;
  // A's stored rows run along K (M when transposed), B's along N (K when
  // transposed). Rows along M (N) are read 4 rows (columns) of C at a time, so
  // an invocation's block must hold whole groups of 4.
  bool vec4_a = register_blocked && Vec4Aligned(args.a, args.transpose_a ? args.m : args.k) &&
                (!args.transpose_a || t.rows_per_invocation % 4 == 0);
  bool vec4_b = register_blocked && Vec4Aligned(args.b, args.transpose_b ? args.k : args.n) &&
                (args.transpose_b || t.cols_per_invocation % 4 == 0);
  const uint32_t share_a = register_blocked ? MatmulShareWidth(device, t) : 1;
  // Texel views where the loads are vec4s (see MatmulArgs::reads); measured on
  // lavapipe at 1024^3: 3-4x faster than storage-buffer loads at 256 and at
  // 512 bits.
  auto texel = [&](bool vec4, const TensorRef& tensor) {
    if (!vec4 || half || args.reads == MatmulArgs::Reads::kStorage) return false;
    if (args.reads == MatmulArgs::Reads::kAuto)
      return Vec4TexelReadsPay(device, pipelines.context().physical_device(), tensor);
    return TexelViewFits(pipelines.context().physical_device(), tensor, 16);
  };
  const bool texel_a = texel(vec4_a, args.a), texel_b = texel(vec4_b, args.b);
  vk::SpecConstants spec{
      {kGroupCols, t.group_cols},
      {kGroupRows, t.group_rows},
      {kVariant, register_blocked ? 0u : 1u},
      {kRowsPerInvocation, t.rows_per_invocation},
      {kColsPerInvocation, t.cols_per_invocation},
      // Unused by the other variant: fixed there, so that it gets one pipeline.
      {kTileDepth, register_blocked ? 1u : t.tile_depth},
      {kShareA, share_a},
      {kTransposeA, args.transpose_a},
      {kTransposeB, args.transpose_b},
      {kVec4A, vec4_a},
      {kVec4B, vec4_b},
      {kAccumulate, args.accumulate},
      {kTexelA, texel_a},
      {kTexelB, texel_b},
  };
  if (half) spec[kHalfC] = args.c.half();
  gpu::MatmulParams params{args.m, args.n, args.k};

  vk::Dispatch d;
  d.kernel = "matmul";
  d.label = std::string("matmul ") + (args.transpose_a ? "A^T" : "A") + (args.transpose_b ? " B^T" : " B") + " " +
            std::to_string(m) + "x" + std::to_string(n) + "x" + std::to_string(k);
  d.pipeline = &pipelines.Get(half ? "matmul_f16" : "matmul", spec);
  // C is read only when accumulating; the sequence derives barriers from these.
  d.bindings = {args.a.Bind(vk::Access::kRead), args.b.Bind(vk::Access::kRead),
                args.c.Bind(args.accumulate ? vk::Access::kReadWrite : vk::Access::kWrite),
                Vec4TexelBinding(args.a, texel_a), Vec4TexelBinding(args.b, texel_b)};
  d.SetPushConstants(params);
  d.workgroups = {vk::DivideRoundUp(n, t.group_cols * t.cols_per_invocation),
                  vk::DivideRoundUp(m, t.group_rows * t.rows_per_invocation), 1};
  SetMatmulCost(d, args);
  return d;
}

}  // namespace ts::kernels
