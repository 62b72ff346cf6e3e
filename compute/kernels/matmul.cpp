#include "compute/kernels/matmul.h"

#include "compute/common/error.h"

#include <cassert>
#include <string>

#include "compute/vk/context.h"
#include "shaders/matmul.h"

namespace ts::kernels {
namespace {

// Specialization-constant ids of matmul.comp.
enum SpecId : uint32_t {
  kGroupCols = 0, kGroupRows = 1, kVariant = 2, kRowsPerInvocation = 3, kColsPerInvocation = 4, kTileDepth = 5,
  kShareA = 6, kTransposeA = 7, kTransposeB = 8, kVec4A = 9, kVec4B = 10, kAccumulate = 11,
};

// Register-blocked: invocations along x that share their loads of A through
// subgroup shuffles (see matmul.comp).
constexpr uint32_t kShareWidth = 8;

uint32_t SharedMemoryBytes(const MatmulTiling& t) {
  // Two staged tiles, each row padded by one word (see matmul.comp).
  return 4 * t.tile_depth * (t.group_rows * t.rows_per_invocation + 1 + t.group_cols * t.cols_per_invocation + 1);
}

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
  if (variant == MatmulVariant::kRegisterBlocked) {
    // One subgroup of 8 (lavapipe's SIMD width) per workgroup; each invocation
    // computes 32 x 4 outputs and shares its loads of A with the other 7. The
    // fastest tiling measured on lavapipe that compiles in about a second.
    t = {8, 1, 32, 4, 1};
  } else {
    // 16 x 16 invocations with 4 x 4 outputs each: 64 x 64 tiles of C, 16 deep.
    t = {16, 16, 4, 4, 16};
  }

  if (requested.group_cols) t.group_cols = requested.group_cols;
  if (requested.group_rows) t.group_rows = requested.group_rows;
  if (requested.rows_per_invocation) t.rows_per_invocation = requested.rows_per_invocation;
  if (requested.cols_per_invocation) t.cols_per_invocation = requested.cols_per_invocation;
  if (requested.tile_depth) t.tile_depth = requested.tile_depth;

  // Fit the device: workgroup size, then shared memory.
  while (t.group_cols * t.group_rows > device.max_workgroup_invocations || t.group_cols > device.max_workgroup_size[0] ||
         t.group_rows > device.max_workgroup_size[1])
    HalveGroup(t);
  if (variant == MatmulVariant::kSharedTiled)
    while (SharedMemoryBytes(t) > device.max_shared_memory_bytes && t.tile_depth > 1) t.tile_depth /= 2;
  return t;
}

vk::Dispatch MatmulDispatch(vk::PipelineCache& pipelines, const MatmulArgs& args, MatmulVariant variant,
                            const MatmulTiling& requested) {
  const uint64_t m = args.m, n = args.n, k = args.k;
  assert(m > 0 && n > 0 && "matmul needs a non-empty C");
  assert(args.a.count >= m * k && "matmul: A holds fewer than M*K floats");
  assert(args.b.count >= k * n && "matmul: B holds fewer than K*N floats");
  assert(args.c.count >= m * n && "matmul: C holds fewer than M*N floats");
  const vk::DeviceInfo& device = pipelines.context().info();
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
  // Sharing needs each group of kShareWidth invocations along x inside one
  // subgroup: subgroups are runs of consecutive invocations (as on every
  // driver we know), so a subgroup size and a workgroup width that are
  // multiples of the share width suffice.
  bool share = register_blocked && device.subgroup_size >= kShareWidth && device.subgroup_size % kShareWidth == 0 &&
               t.group_cols % kShareWidth == 0 && t.rows_per_invocation % kShareWidth == 0;
  uint32_t share_a = share ? kShareWidth : 1;
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
  };
  gpu::MatmulParams params{args.m, args.n, args.k};

  vk::Dispatch d;
  d.kernel = "matmul";
  d.label = std::string("matmul ") + (args.transpose_a ? "A^T" : "A") + (args.transpose_b ? " B^T" : " B") + " " +
            std::to_string(m) + "x" + std::to_string(n) + "x" + std::to_string(k);
  d.pipeline = &pipelines.Get("matmul", spec);
  // C is read only when accumulating; the sequence derives barriers from these.
  d.bindings = {args.a.Bind(vk::Access::kRead), args.b.Bind(vk::Access::kRead),
                args.c.Bind(args.accumulate ? vk::Access::kReadWrite : vk::Access::kWrite)};
  d.SetPushConstants(params);
  d.workgroups = {vk::DivideRoundUp(n, t.group_cols * t.cols_per_invocation),
                  vk::DivideRoundUp(m, t.group_rows * t.rows_per_invocation), 1};
  // The minimum traffic: every element of A and B read once, C written once
  // (and read once when accumulating). Tiles re-read A and B from caches, so a
  // measured bandwidth from these figures is a lower bound on the real one.
  d.cost.flops = 2.0 * double(m) * double(n) * double(k) + (args.accumulate ? double(m * n) : 0.0);
  d.cost.bytes_read = 4.0 * double(m * k + k * n + (args.accumulate ? m * n : 0));
  d.cost.bytes_written = 4.0 * double(m * n);
  return d;
}

}  // namespace ts::kernels
