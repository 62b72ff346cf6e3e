// pool.comp / pool_back.comp: MaxPool2D, AvgPool2D and GlobalAveragePool over
// NHWC tensors (batch, height, width, channels; channels innermost).
//
// Forward, per output element (n, oy, ox, c), over the window rows
// oy*stride_h - pad_top + [0, window_h) and columns ox*stride_w - pad_left + [0, window_w):
//   kMax:     out = max of the window's in-bounds inputs (padding acts as -inf);
//             argmax = the flat NHWC index of that input. Ties go to the first
//             in row-major window order and NaN wins, as PyTorch.
//   kAverage: out = sum of the in-bounds inputs / (window_h * window_w): padded
//             zeros count in the divisor (PyTorch's count_include_pad=True default).
// Output size is floored (PyTorch's ceil_mode=False):
//   out_height = (height + pad_top + pad_bottom - window_h) / stride_h + 1
// Backward is a gather over input elements (each sums the windows covering
// it), deterministic and correct for overlapping windows (stride < window):
//   kMax:     grad_in[i] = sum of grad_out[o] over windows o with argmax[o] == i
//   kAverage: grad_in[i] = sum of grad_out[o] over covering windows / (window_h * window_w)
// GlobalAveragePool (N, H, W, C) -> (N, C) is kAverage with the whole image as
// its window (GlobalAveragePoolShape); its (N, 1, 1, C) output is (N, C).
// pool_vec4.comp / pool_back_vec4.comp compute the same results four
// channels per invocation where channels % 4 == 0 (PoolCanUseVec4).
// Mixed precision: input/output and grad_out/grad_in may be fp16
// (TensorRef::half(), both of a pass alike); argmax is always uint32. fp16
// passes run pool_f16.comp / pool_back_f16.comp (scalar: fp16 loads, fp32
// arithmetic and sums, one rounding to fp16 on store; Inf and NaN propagate).
#pragma once

#include <cstdint>
#include <string>

#include "compute/kernels/tensor_ref.h"

namespace ts::kernels {

enum class PoolKind : uint32_t { kMax = 0, kAverage = 1 };

const char* PoolName(PoolKind kind);  // "max_pool", "avg_pool"

struct PoolShape {
  uint32_t batch = 1, height = 1, width = 1, channels = 1;  // the input (N, H, W, C)
  uint32_t window_h = 1, window_w = 1;
  uint32_t stride_h = 1, stride_w = 1;
  uint32_t pad_top = 0, pad_bottom = 0, pad_left = 0, pad_right = 0;  // PyTorch's padding=p is p on every side

  uint32_t out_height() const;  // 0 when the padded input is smaller than the window
  uint32_t out_width() const;
  uint64_t input_count() const { return uint64_t(batch) * height * width * channels; }
  uint64_t output_count() const { return uint64_t(batch) * out_height() * out_width() * channels; }
};

// The shape of a global average pool over an (N, H, W, C) input: output (N, 1, 1, C).
PoolShape GlobalAveragePoolShape(uint32_t batch, uint32_t height, uint32_t width, uint32_t channels);

// Why `shape` cannot be pooled, as a sentence for the user; empty when it can.
// Requires nonzero sizes, windows and strides; padding smaller than the window
// on every side (so every window overlaps the input, and max never returns the
// padding's -inf; PyTorch requires padding <= window / 2); an output of at
// least 1 x 1; and tensors of fewer than 2^32 elements (32-bit indices).
std::string PoolShapeProblem(const PoolShape& shape);

// Which shaders run: pool.comp / pool_back.comp handle any channel count, one
// channel at a time; pool_vec4.comp / pool_back_vec4.comp four consecutive
// channels per step, reading through uniform texel buffers (vectorised on
// lavapipe, where storage-buffer loads go lane by lane) and writing vec4s
// (PoolCanUseVec4 must hold). kAuto: vec4 wherever it can.
enum class PoolPath { kAuto, kScalar, kVec4 };

struct PoolArgs {
  PoolKind kind = PoolKind::kMax;
  PoolShape shape;
  TensorRef input;   // (N, H, W, C) read; fp32 or fp16
  TensorRef output;  // (N, OH, OW, C) write; the precision of input
  TensorRef argmax;  // (N, OH, OW, C) uint32 write: kMax only (empty for kAverage)
  PoolPath path = PoolPath::kAuto;
  // Invocations per workgroup (a specialization constant; the grid strides
  // over the pixels whatever it is). 0: 256, within the device's limits.
  uint32_t workgroup_size = 0;
};
vk::Dispatch PoolDispatch(vk::PipelineCache& pipelines, const PoolArgs& args);

struct PoolBackwardArgs {
  PoolKind kind = PoolKind::kMax;
  PoolShape shape;
  TensorRef grad_out;  // (N, OH, OW, C) read: dL/d(output); fp32 or fp16
  TensorRef argmax;    // (N, OH, OW, C) uint32 read: from the forward; kMax only
  TensorRef grad_in;   // (N, H, W, C) write: dL/d(input), every element written; the precision of grad_out
  PoolPath path = PoolPath::kAuto;
  uint32_t workgroup_size = 0;  // as PoolArgs::workgroup_size
};
vk::Dispatch PoolBackwardDispatch(vk::PipelineCache& pipelines, const PoolBackwardArgs& args);

// Whether the vec4 shaders can run this pass on `context`'s device:
// channels % 4 == 0, every tensor's offset and slot stride a multiple of 16
// bytes, and each tensor the pass reads (input; grad_out and, for kMax,
// argmax) fits a texel view of 16-byte texels (TexelViewFits). Never for
// fp16 tensors (kVec4 with them is a programmer error).
bool PoolCanUseVec4(const vk::Context& context, const PoolArgs& args);
bool PoolCanUseVec4(const vk::Context& context, const PoolBackwardArgs& args);

}  // namespace ts::kernels
