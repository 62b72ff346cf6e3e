#include "compute/kernels/attention.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <cmath>
#include <string>

#include "compute/common/error.h"
#include "compute/kernels/dispatch_helpers.h"
#include "compute/vk/context.h"
#include "shaders/attention.h"

namespace ts::kernels {
namespace {

// ---- Shapes, tiles, costs ----

float ResolvedScale(const AttentionShape& shape, float scale) {
  return scale != 0.0f ? scale : float(1.0 / std::sqrt(double(shape.head_dim)));
}

// Scores on or below the diagonal, all heads: the useful work of every pass.
double CausalPairs(const AttentionShape& shape) {
  return double(shape.batch) * shape.heads * double(shape.tokens) * (double(shape.tokens) + 1) / 2;
}

// attention.comp: cols x rows lanes, `chunk` reduction elements staged per step.
struct PlainTiles {
  uint32_t cols = 16, rows = 16, chunk = 16;
  uint64_t SharedBytes() const {
    return 4ull * (uint64_t(rows) * (chunk + 1) + uint64_t(chunk) * (cols + 1) + 2ull * rows * cols);
  }
};

// attention_fused.comp: one invocation per row, `rows` a workgroup, `block`
// rows of the other side staged per step.
struct FusedTiles {
  uint32_t rows = 64, block = 16, head_dim = 0;
  uint64_t SharedBytes() const { return 4ull * (2ull * block * head_dim + 2ull * block); }
};

bool GroupFits(const vk::DeviceInfo& info, uint32_t x, uint32_t y) {
  return x * y <= info.max_workgroup_invocations && x <= info.max_workgroup_size[0] &&
         y <= info.max_workgroup_size[1];
}

// 16 x 16 lanes (fewer rows for short sequences), halved until the device allows the group.
PlainTiles ChoosePlainTiles(const vk::DeviceInfo& info, const AttentionShape& shape) {
  PlainTiles tiles;
  tiles.rows = std::min(tiles.rows, std::bit_ceil(shape.tokens));
  while (!GroupFits(info, tiles.cols, tiles.rows) || tiles.SharedBytes() > info.max_shared_memory_bytes) {
    if (tiles.cols == 1 && tiles.rows == 1 && tiles.chunk == 1)
      throw Error("attention: the device allows no workgroup for the plain path");
    if (tiles.rows >= tiles.cols && tiles.rows > 1) tiles.rows /= 2;
    else if (tiles.cols > 1) tiles.cols /= 2;
    else tiles.chunk /= 2;
  }
  return tiles;
}

// 64 rows (16 on CPUs; fewer for short sequences) within the device's workgroup limits;
// blocks of 16 (fewer where D is large) within its shared memory.
FusedTiles ChooseFusedTiles(const vk::DeviceInfo& info, const AttentionShape& shape) {
  FusedTiles tiles;
  tiles.head_dim = shape.head_dim;
  // On CPU drivers a workgroup runs its SIMD vectors one after another, so
  // fewer rows waste less of the causal half (measured on lavapipe, loaded
  // machine: 16 rows about 1.5x faster than 64 at T = 64).
  if (info.is_software()) tiles.rows = 16;
  tiles.rows = std::min({tiles.rows, std::bit_ceil(shape.tokens), LimitedGroupSize(info, tiles.rows)});
  while (tiles.SharedBytes() > info.max_shared_memory_bytes) {
    if (tiles.block == 1)
      throw Error("attention: head_dim " + std::to_string(shape.head_dim) + " needs " +
                  std::to_string(tiles.SharedBytes()) + " bytes of shared memory for the fused path; '" + info.name +
                  "' allows " + std::to_string(info.max_shared_memory_bytes) + ". Use the plain path.");
    tiles.block /= 2;
  }
  return tiles;
}

void CheckShape(const AttentionShape& shape) {
  assert(shape.batch > 0 && shape.tokens > 0 && shape.heads > 0 && shape.head_dim > 0 && "attention: empty shape");
  // The shaders index with 32-bit integers.
  assert(shape.rows() * 3 * shape.width() < (1ull << 32) && shape.score_count() < (1ull << 32) &&
         "attention: tensors past 2^32 elements");
  (void)shape;
}

void CheckTensor(const TensorRef& t, uint64_t count, const char* what) {
  assert(t.buffer != nullptr && t.count >= count && t.element_bytes == 4 && "attention: tensor missing or too small");
  (void)t, (void)count, (void)what;
}

gpu::AttentionParams Params(const AttentionShape& shape, float scale) {
  return {shape.batch * shape.heads, shape.tokens, shape.heads, shape.head_dim, ResolvedScale(shape, scale)};
}

// Workgroups: x as given, y over row blocks, z over heads (grid-strided in the shader).
std::array<uint32_t, 3> Grid(const vk::DeviceInfo& info, const AttentionShape& shape, uint32_t x, uint32_t rows) {
  const uint32_t row_blocks = vk::DivideRoundUp(shape.tokens, rows);
  assert(x <= info.max_workgroup_count[0] && row_blocks <= info.max_workgroup_count[1] &&
         "attention: too many workgroups for the device");
  return {x, row_blocks, GridStrideGroups(info, uint64_t(shape.batch) * shape.heads, 1, 2)};
}

// ---- The plain path (attention.comp) ----

vk::Dispatch PlainDispatch(vk::PipelineCache& pipelines, const AttentionShape& shape, float scale, uint32_t mode,
                           const char* label, std::vector<vk::Binding> bindings) {
  const vk::DeviceInfo& info = pipelines.context().info();
  PlainTiles tiles = ChoosePlainTiles(info, shape);
  const bool row_pass = mode == gpu::ATTENTION_PLAIN_SCORES || mode == gpu::ATTENTION_PLAIN_GRAD_SCORES;
  // Columns are keys in the row passes, head dimensions in the matmul passes.
  const uint32_t columns = row_pass ? shape.tokens : shape.head_dim;
  tiles.cols = std::min(tiles.cols, std::bit_ceil(columns));
  const uint32_t column_tiles = vk::DivideRoundUp(columns, tiles.cols);
  vk::Dispatch d;
  d.kernel = "attention";
  d.label = label;
  d.pipeline = &pipelines.Get("attention", {{0, tiles.cols}, {1, tiles.rows}, {2, mode}, {3, tiles.chunk}});
  d.bindings = std::move(bindings);
  d.SetPushConstants(Params(shape, scale));
  const uint32_t x = row_pass ? 1 : mode == gpu::ATTENTION_PLAIN_GRAD_QKV ? 3 * column_tiles : column_tiles;
  d.workgroups = Grid(info, shape, x, tiles.rows);
  return d;
}

std::vector<vk::Dispatch> PlainForward(vk::PipelineCache& pipelines, const AttentionArgs& args) {
  const AttentionShape& s = args.shape;
  CheckTensor(args.probabilities, s.score_count(), "probabilities");
  const double pairs = CausalPairs(s), D = s.head_dim, activations = 4.0 * s.rows() * s.width();
  const vk::Binding unused = vk::UnusedBinding();
  vk::Dispatch scores = PlainDispatch(
      pipelines, s, args.scale, gpu::ATTENTION_PLAIN_SCORES, "attention scores + softmax",
      {args.qkv.Bind(vk::Access::kRead), unused, unused, unused, args.probabilities.Bind(vk::Access::kReadWrite)});
  // Q K^T over the causal half, ~5 per score for the softmax; Q and K read,
  // all of P written (zeros above the diagonal included).
  scores.cost = {2 * D * pairs + 5 * pairs, 2 * activations, 4.0 * s.score_count()};
  vk::Dispatch values = PlainDispatch(pipelines, s, args.scale, gpu::ATTENTION_PLAIN_VALUES, "attention P.V",
                                      {args.qkv.Bind(vk::Access::kRead), args.probabilities.Bind(vk::Access::kRead),
                                       unused, unused, args.y.Bind(vk::Access::kReadWrite)});
  // P V over the causal half: P's lower triangle and V read, y written.
  values.cost = {2 * D * pairs, 4 * pairs + activations, activations};
  return {std::move(scores), std::move(values)};
}

std::vector<vk::Dispatch> PlainBackward(vk::PipelineCache& pipelines, const AttentionBackwardArgs& args) {
  const AttentionShape& s = args.shape;
  CheckTensor(args.probabilities, s.score_count(), "probabilities");
  CheckTensor(args.grad_scores, s.score_count(), "grad_scores");
  const double pairs = CausalPairs(s), D = s.head_dim, activations = 4.0 * s.rows() * s.width();
  const vk::Binding unused = vk::UnusedBinding();
  vk::Dispatch grad_scores = PlainDispatch(
      pipelines, s, args.scale, gpu::ATTENTION_PLAIN_GRAD_SCORES, "attention backward dS",
      {args.qkv.Bind(vk::Access::kRead), args.probabilities.Bind(vk::Access::kRead),
       args.grad_y.Bind(vk::Access::kRead), unused, args.grad_scores.Bind(vk::Access::kReadWrite)});
  // dP = dy V^T, rowsum(P dP), dS = P (dP - rowsum): dy, V and P's lower
  // triangle read, all of dS written.
  grad_scores.cost = {2 * D * pairs + 4 * pairs, 2 * activations + 4 * pairs, 4.0 * s.score_count()};
  vk::Dispatch grad_qkv = PlainDispatch(
      pipelines, s, args.scale, gpu::ATTENTION_PLAIN_GRAD_QKV, "attention backward dQ dK dV",
      {args.qkv.Bind(vk::Access::kRead), args.probabilities.Bind(vk::Access::kRead),
       args.grad_y.Bind(vk::Access::kRead), args.grad_scores.Bind(vk::Access::kRead),
       args.grad_qkv.Bind(vk::Access::kReadWrite)});
  // Three (T x T causal) x (T x D) products: Q, K, dy and the lower triangles
  // of P and dS read, dqkv written.
  grad_qkv.cost = {3 * 2 * D * pairs, 3 * activations + 2 * 4 * pairs, 3 * activations};
  return {std::move(grad_scores), std::move(grad_qkv)};
}

// ---- The fused path (attention_fused.comp) ----

vk::Dispatch FusedDispatch(vk::PipelineCache& pipelines, const AttentionShape& shape, float scale, uint32_t mode,
                           const char* label, std::vector<vk::Binding> bindings) {
  const vk::DeviceInfo& info = pipelines.context().info();
  const FusedTiles tiles = ChooseFusedTiles(info, shape);
  vk::Dispatch d;
  d.kernel = "attention_fused";
  d.label = label;
  d.pipeline = &pipelines.Get("attention_fused",
                              {{0, tiles.rows}, {1, mode}, {2, tiles.head_dim}, {3, tiles.block}});
  assert(d.pipeline->shared_memory_bytes() <= tiles.SharedBytes() && "attention: shared-memory model out of date");
  d.bindings = std::move(bindings);
  d.SetPushConstants(Params(shape, scale));
  // x over row blocks, y over heads (grid-strided in the shader).
  const uint32_t row_blocks = vk::DivideRoundUp(shape.tokens, tiles.rows);
  assert(row_blocks <= info.max_workgroup_count[0] && "attention: too many workgroups for the device");
  d.workgroups = {row_blocks, GridStrideGroups(info, uint64_t(shape.batch) * shape.heads, 1, 1), 1};
  return d;
}

std::vector<vk::Dispatch> FusedForward(vk::PipelineCache& pipelines, const AttentionArgs& args) {
  const AttentionShape& s = args.shape;
  CheckTensor(args.log_sum_exp, s.row_stat_count(), "log_sum_exp");
  const double activations = 4.0 * s.rows() * s.width(), stats = 4.0 * s.row_stat_count();
  const vk::Binding unused = vk::UnusedBinding();
  vk::Dispatch forward = FusedDispatch(
      pipelines, s, args.scale, gpu::ATTENTION_FUSED_FORWARD, "attention fused forward",
      {args.qkv.Bind(vk::Access::kRead), unused, unused, unused, unused, args.y.Bind(vk::Access::kWrite),
       args.log_sum_exp.Bind(vk::Access::kWrite)});
  // Q, K, V read once each; y and lse written.
  forward.cost = {AttentionForwardFlops(s), 3 * activations, activations + stats};
  return {std::move(forward)};
}

std::vector<vk::Dispatch> FusedBackward(vk::PipelineCache& pipelines, const AttentionBackwardArgs& args) {
  const AttentionShape& s = args.shape;
  CheckTensor(args.y, s.rows() * s.width(), "y");
  CheckTensor(args.log_sum_exp, s.row_stat_count(), "log_sum_exp");
  CheckTensor(args.row_dot, s.row_stat_count(), "row_dot");
  const double pairs = CausalPairs(s), D = s.head_dim;
  const double activations = 4.0 * s.rows() * s.width(), stats = 4.0 * s.row_stat_count();
  const vk::Binding unused = vk::UnusedBinding();
  vk::Dispatch grad_q = FusedDispatch(
      pipelines, s, args.scale, gpu::ATTENTION_FUSED_GRAD_Q, "attention fused backward dQ",
      {args.qkv.Bind(vk::Access::kRead), args.y.Bind(vk::Access::kRead), args.grad_y.Bind(vk::Access::kRead),
       args.log_sum_exp.Bind(vk::Access::kRead), unused, args.grad_qkv.Bind(vk::Access::kWrite),
       args.row_dot.Bind(vk::Access::kWrite)});
  // row_dot (2 per element of y), then S, dP and dQ over the causal half and
  // ~4 per score (exp, dS); Q, K, V, dy, y and lse read; dQ and row_dot written.
  grad_q.cost = {2.0 * s.rows() * s.width() + 3 * 2 * D * pairs + 4 * pairs, 5 * activations + stats,
                 activations + stats};
  vk::Dispatch grad_kv = FusedDispatch(
      pipelines, s, args.scale, gpu::ATTENTION_FUSED_GRAD_KV, "attention fused backward dK dV",
      {args.qkv.Bind(vk::Access::kRead), unused, args.grad_y.Bind(vk::Access::kRead),
       args.log_sum_exp.Bind(vk::Access::kRead), args.row_dot.Bind(vk::Access::kRead),
       args.grad_qkv.Bind(vk::Access::kWrite), unused});
  // S, dP, dK and dV over the causal half, ~4 per score; Q, K, V, dy, lse and
  // row_dot read; dK and dV written.
  grad_kv.cost = {4 * 2 * D * pairs + 4 * pairs, 4 * activations + 2 * stats, 2 * activations};
  return {std::move(grad_q), std::move(grad_kv)};
}

}  // namespace

const char* AttentionPathName(AttentionPath path) {
  switch (path) {
    case AttentionPath::kPlain: return "plain";
    case AttentionPath::kFused: return "fused";
  }
  return "unknown";
}

std::vector<vk::Dispatch> AttentionDispatches(vk::PipelineCache& pipelines, const AttentionArgs& args) {
  const AttentionShape& s = args.shape;
  CheckShape(s);
  CheckTensor(args.qkv, s.rows() * 3 * s.width(), "qkv");
  CheckTensor(args.y, s.rows() * s.width(), "y");
  return args.path == AttentionPath::kPlain ? PlainForward(pipelines, args) : FusedForward(pipelines, args);
}

std::vector<vk::Dispatch> AttentionBackwardDispatches(vk::PipelineCache& pipelines, const AttentionBackwardArgs& args) {
  const AttentionShape& s = args.shape;
  CheckShape(s);
  CheckTensor(args.qkv, s.rows() * 3 * s.width(), "qkv");
  CheckTensor(args.grad_y, s.rows() * s.width(), "grad_y");
  CheckTensor(args.grad_qkv, s.rows() * 3 * s.width(), "grad_qkv");
  return args.path == AttentionPath::kPlain ? PlainBackward(pipelines, args) : FusedBackward(pipelines, args);
}

double AttentionForwardFlops(const AttentionShape& shape) {
  const double pairs = CausalPairs(shape);
  return 2 * 2 * double(shape.head_dim) * pairs + 5 * pairs;
}

}  // namespace ts::kernels
