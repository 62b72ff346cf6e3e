#include "compute/kernels/embedding.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cassert>
#include <initializer_list>

#include "compute/kernels/dispatch_helpers.h"
#include "compute/vk/context.h"
#include "shaders/embedding.h"
#include "shaders/step_params.h"

namespace ts::kernels {
namespace {

constexpr uint32_t kWorkgroupSize = 256;
// Lanes along a row's columns (or a window's positions): 32 contiguous floats
// are a GPU subgroup's coalesced 128 bytes and four of lavapipe's 8-wide SIMD
// chunks; more columns grid-stride over x workgroups.
constexpr uint32_t kMaxColumnLanes = 32;
// lavapipe runs a workgroup on one thread: the forward's workgroups each take
// several samples, so fewer start up.
constexpr uint32_t kSoftwareSamplesPerWorkgroup = 8;

// embedding_back.comp's tile: X column lanes x Y row lanes, kVocabTile token
// ids, Y * kVocabTile * X shared values (float or vec4).
// - GPUs: 32 x 8 lanes and small vocabulary tiles, so that a char-level
//   vocabulary still makes a grid of tens of workgroups (each scans every
//   row's token; the gradient rows are read once in all).
// - lavapipe runs a workgroup on one thread and loads storage buffers lane by
//   lane: one 8-wide chunk of columns (X = 8, Y = 1) and a vocabulary tile as
//   large as kSharedBudget allows, so a row's token is loaded by as few
//   workgroups as possible (one for a char-level vocabulary: up to 512 ids
//   a tile, 128 with vec4).
struct TokenTile {
  uint32_t x = 1, y = 1, vocab_tile = 1;
};
constexpr uint32_t kSharedBudget = 16384;         // bytes of partial sums per workgroup
constexpr uint32_t kTargetTokenWorkgroups = 64;   // GPUs: vocabulary tiles shrink until the grid has this many

// `lanes`: column lanes of a row (C, or C / 4 for vec4); `value_bytes`: 4 or 16.
TokenTile ChooseTokenTile(const vk::DeviceInfo& info, uint32_t vocab, uint32_t lanes, uint32_t value_bytes,
                          const EmbeddingBackwardTuning& tuning) {
  TokenTile tile;
  const bool software = info.is_software();
  const uint32_t group_size = LimitedGroupSize(info, kWorkgroupSize);
  tile.x = tuning.column_lanes
               ? LimitedGroupSize(info, tuning.column_lanes)
               : std::min({std::bit_ceil(std::max(lanes, 1u)), software ? 8u : kMaxColumnLanes, group_size});
  tile.y = tuning.row_lanes ? tuning.row_lanes : software ? 1 : group_size / tile.x;
  tile.y = std::max(1u, std::min({tile.y, LimitedGroupSize(info, kWorkgroupSize * 4) / tile.x,
                                  info.max_workgroup_size[1]}));
  const uint32_t shared_bytes = std::min(kSharedBudget, info.max_shared_memory_bytes);
  while (tile.y > 1 && tile.x * tile.y * value_bytes > shared_bytes) tile.y /= 2;
  const uint32_t most = std::max(1u, shared_bytes / (value_bytes * tile.x * tile.y));
  uint32_t wanted = most;
  if (tuning.vocab_tile) {
    wanted = tuning.vocab_tile;
  } else if (!software) {
    const uint32_t column_tiles = (lanes + tile.x - 1) / tile.x;
    const uint32_t vocab_tiles = std::max(1u, (kTargetTokenWorkgroups + column_tiles - 1) / column_tiles);
    wanted = (vocab + vocab_tiles - 1) / vocab_tiles;
  }
  tile.vocab_tile = std::clamp(std::min(wanted, std::max(vocab, 1u)), 1u, most);
  return tile;
}

// A 2D workgroup shape for a (columns x rows) grid: up to kMaxColumnLanes
// lanes along columns, the rest of the workgroup along rows (no more than
// there are rows).
std::array<uint32_t, 2> GridShape(const vk::DeviceInfo& info, uint32_t columns, uint32_t rows) {
  const uint32_t group_size = LimitedGroupSize(info, kWorkgroupSize);
  const uint32_t x = std::min({std::bit_ceil(std::max(columns, 1u)), kMaxColumnLanes, group_size});
  const uint32_t y = std::min({group_size / x, std::bit_floor(info.max_workgroup_size[1]),
                               std::bit_ceil(std::max(rows, 1u))});
  return {x, y};
}

// Whether the _vec4 shaders can run: four columns per lane need C % 4 == 0
// and every float tensor's view (offset and slot stride) 16-byte aligned.
bool UseVec4(uint32_t width, std::initializer_list<TensorRef> tensors) {
  if (width == 0 || width % 4 != 0) return false;
  for (const TensorRef& t : tensors)
    if (!Aligned(t, 16)) return false;
  return true;
}

void CheckShape(uint32_t rows, uint32_t tokens_per_sample, uint32_t vocab, uint32_t width) {
  assert(tokens_per_sample > 0 && rows % tokens_per_sample == 0 && "rows must be a multiple of tokens_per_sample");
  assert(uint64_t(rows) * width < (uint64_t(1) << 32) && uint64_t(vocab) * width < (uint64_t(1) << 32) &&
         "the shaders index elements with 32 bits");
  (void)rows, (void)tokens_per_sample, (void)vocab, (void)width;
}

}  // namespace

vk::Dispatch EmbeddingDispatch(vk::PipelineCache& pipelines, const EmbeddingArgs& args) {
  const uint32_t C = args.width, T = args.tokens_per_sample;
  CheckShape(args.rows, T, args.vocab, C);
  assert(args.tokens.count >= args.rows && "tokens must hold rows ids");
  assert(args.wte.count >= uint64_t(args.vocab) * C && "wte must hold vocab x C floats");
  assert(args.wpe.count >= uint64_t(T) * C && "wpe must hold T x C floats");
  assert(args.y.count >= uint64_t(args.rows) * C && "y must hold rows x C floats");

  const vk::DeviceInfo& info = pipelines.context().info();
  const bool vec4 = UseVec4(C, {args.wte, args.wpe, args.y});
  const uint32_t lanes = vec4 ? C / 4 : C;
  const auto [x, y] = GridShape(info, lanes, T);
  vk::Dispatch d;
  d.kernel = "embedding";
  d.label = "embedding forward";
  d.pipeline = &pipelines.Get(vec4 ? "embedding_vec4" : "embedding", {{0, x}, {1, y}});
  d.bindings = {args.tokens.Bind(vk::Access::kRead), args.wte.Bind(vk::Access::kRead),
                args.wpe.Bind(vk::Access::kRead), args.y.Bind(vk::Access::kWrite)};
  d.SetPushConstants(gpu::EmbeddingParams{args.rows, T, args.vocab, C, args.float_tokens ? 1u : 0u});
  // Column lanes (x) x positions (y) x samples (z: a workgroup loops over
  // kSoftwareSamplesPerWorkgroup of them on lavapipe, one on GPUs).
  const uint32_t samples_per_group = info.is_software() ? kSoftwareSamplesPerWorkgroup : 1;
  d.workgroups = {GridStrideGroups(info, lanes, x, 0), GridStrideGroups(info, T, y, 1),
                  GridStrideGroups(info, args.rows / T, samples_per_group, 2)};
  // One add per element. Minimum traffic: the tokens; the wte rows a batch can
  // use (at most one per row) and wpe once each; y written once.
  const double n = double(args.rows) * C;
  d.cost.flops = n;
  d.cost.bytes_read = 4.0 * args.rows + 4.0 * std::min(args.vocab, args.rows) * C + 4.0 * T * C;
  d.cost.bytes_written = 4 * n;
  return d;
}

std::vector<vk::Dispatch> EmbeddingBackwardDispatches(vk::PipelineCache& pipelines, const EmbeddingBackwardArgs& args) {
  const uint32_t C = args.width, T = args.tokens_per_sample;
  CheckShape(args.rows, T, args.vocab, C);
  assert(args.tokens.count >= args.rows && "tokens must hold rows ids");
  assert(args.grad_y.count >= uint64_t(args.rows) * C && "grad_y must hold rows x C floats");
  assert(args.grad_wte.count >= uint64_t(args.vocab) * C && "grad_wte must hold vocab x C floats");
  assert(args.grad_wpe.count >= uint64_t(T) * C && "grad_wpe must hold T x C floats");

  const vk::DeviceInfo& info = pipelines.context().info();
  const gpu::EmbeddingParams params{args.rows, T, args.vocab, C, args.float_tokens ? 1u : 0u};
  const double n = double(args.rows) * C;
  const double table = double(args.vocab) * C;
  std::vector<vk::Dispatch> dispatches;

  // dwte: the two dispatches touch different outputs, so they may overlap.
  const bool vec4 = UseVec4(C, {args.grad_y, args.grad_wte, args.grad_wpe});
  const uint32_t lanes = vec4 ? C / 4 : C;
  const TokenTile tile = ChooseTokenTile(info, args.vocab, lanes, vec4 ? 16 : 4, args.tuning);
  vk::Dispatch token;
  token.kernel = "embedding";
  token.label =
      args.accumulate_token_gradient ? "embedding backward (token, accumulate)" : "embedding backward (token)";
  token.pipeline = &pipelines.Get(vec4 ? "embedding_back_vec4" : "embedding_back",
                                  {{0, tile.x}, {1, tile.y}, {2, tile.vocab_tile},
                                   {3, args.accumulate_token_gradient ? 1u : 0u}});
  token.bindings = {args.tokens.Bind(vk::Access::kRead), args.grad_y.Bind(vk::Access::kRead),
                    args.grad_wte.Bind(vk::Access::kReadWrite)};
  token.SetPushConstants(params);
  token.workgroups = {GridStrideGroups(info, lanes, tile.x, 0), GridStrideGroups(info, args.vocab, tile.vocab_tile, 1), 1};
  // One add per gradient element (and one per table element when accumulating).
  // Minimum traffic: tokens and dy once; dwte written (and read when accumulating).
  token.cost.flops = n + (args.accumulate_token_gradient ? table : 0);
  token.cost.bytes_read = 4.0 * args.rows + 4 * n + (args.accumulate_token_gradient ? 4 * table : 0);
  token.cost.bytes_written = 4 * table;
  dispatches.push_back(std::move(token));

  const auto [x, y] = GridShape(info, lanes, T);
  vk::Dispatch position;
  position.kernel = "embedding";
  position.label = "embedding backward (position)";
  position.pipeline =
      &pipelines.Get(vec4 ? "embedding_back_position_vec4" : "embedding_back_position", {{0, x}, {1, y}});
  position.bindings = {args.grad_y.Bind(vk::Access::kRead), args.grad_wpe.Bind(vk::Access::kWrite)};
  position.SetPushConstants(params);
  position.workgroups = {GridStrideGroups(info, lanes, x, 0), GridStrideGroups(info, T, y, 1), 1};
  // One add per gradient element; dy read once, dwpe written once.
  position.cost.flops = n;
  position.cost.bytes_read = 4 * n;
  position.cost.bytes_written = 4.0 * T * C;
  dispatches.push_back(std::move(position));
  return dispatches;
}

vk::Dispatch TextGatherDispatch(vk::PipelineCache& pipelines, const TextGatherArgs& args) {
  const uint32_t T = args.tokens_per_sample;
  const uint64_t elements = uint64_t(args.rows) * T;
  assert(T > 0 && args.span > T && "a window needs T + 1 tokens of the span");
  assert(uint64_t(args.first) + args.span <= args.corpus.count && "the span must lie inside the corpus");
  assert(args.step_params.size_bytes() >= sizeof(gpu::StepParams) && "step_params must hold one StepParams");
  assert(args.input.count >= elements && args.labels.count >= elements && "input and labels hold rows x T ids");
  assert(elements < (uint64_t(1) << 32) && "the shader indexes elements with 32 bits");

  const vk::DeviceInfo& info = pipelines.context().info();
  const auto [x, y] = GridShape(info, T, args.rows);
  vk::Dispatch d;
  d.kernel = "gather_text";
  d.label = args.random ? "gather text (random windows)" : "gather text (sequential windows)";
  d.pipeline = &pipelines.Get("gather_text", {{0, x}, {1, y}});
  d.bindings = {args.corpus.Bind(vk::Access::kRead), args.step_params.Bind(vk::Access::kRead),
                args.input.Bind(vk::Access::kWrite), args.labels.Bind(vk::Access::kWrite)};
  d.SetPushConstants(gpu::TextGatherParams{args.rows, T, args.first, args.span, args.random ? 1u : 0u, args.seed});
  d.workgroups = {GridStrideGroups(info, T, x, 0), GridStrideGroups(info, args.rows, y, 1), 1};
  // No floating-point work. Minimum traffic: each window's T + 1 tokens and
  // the StepParams read; inputs and labels written.
  d.cost.flops = 0;
  d.cost.bytes_read = 4.0 * args.rows * (T + 1) + sizeof(gpu::StepParams);
  d.cost.bytes_written = 8.0 * elements;
  return d;
}

uint32_t TextWindowStart(const TextGatherArgs& args, uint32_t adam_step, uint32_t batch_offset, uint32_t row) {
  return gpu::TextWindowStartOf(args.first, args.span, args.tokens_per_sample, args.random ? 1u : 0u, args.seed,
                                adam_step, batch_offset, row);
}

}  // namespace ts::kernels
