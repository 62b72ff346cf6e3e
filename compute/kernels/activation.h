// bias_act{,_vec4}.comp / bias_act_back{,_vec4}.comp (+ bias_act_back_combine.comp):
// bias add fused with an activation, and its backward fused with the
// bias-gradient reduction over the batch.
//
// Forward, for a (rows x cols) matrix whose row r is sample r (or, for a
// convolution, output pixel r of an NHWC tensor):
//   pre[r][c] += bias[c]            (in place; pre then holds the pre-activation Z)
//   out[r][c]  = act(pre[r][c])
// Backward:
//   grad_pre[r][c] = grad_out[r][c] * act'(pre[r][c])
//   grad_bias[c]   = sum over r of grad_pre[r][c]
//
// Both run on a 2D grid (column groups x rows), so no invocation divides an
// index. When cols % 4 == 0 and every tensor view (offset and slot stride) is
// 16-byte aligned, the _vec4 shaders move four columns per load and store.
// The bias gradient is deterministic: every sum is taken in a fixed order.
#pragma once

#include <cstdint>
#include <vector>

#include "compute/kernels/tensor_ref.h"

namespace ts::kernels {

enum class Activation : uint32_t { kIdentity = 0, kRelu = 1, kLeakyRelu = 2, kSigmoid = 3, kTanh = 4, kGelu = 5 };

// "identity", "relu", "leaky_relu", "sigmoid", "tanh", "gelu" (GELU is the exact erf form, as PyTorch's default).
const char* ActivationName(Activation activation);

// How the vec4 shaders read their (rows, cols) inputs.
enum class BiasActivationReads : uint32_t {
  kAuto,     // texel on software devices (measured faster on lavapipe), storage elsewhere
  kStorage,  // storage-buffer loads
  kTexel,    // uniform texel buffers (RGBA32F): the views must be 16-byte aligned to the
             // device's minTexelBufferOffsetAlignment and fit maxTexelBufferElements (else
             // storage), and their buffers need VK_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER_BIT,
             // which every vk::Buffer made with BufferUse::kDevice has
};

// Layout choices of the bias_act kernels. The defaults (kAuto, 0) pick what
// measured fastest for the kind of device (see activation.cpp); tests and
// benchmarks may force one. Sizes are rounded down to powers of two within the
// device's limits.
struct BiasActivationTuning {
  BiasActivationReads reads = BiasActivationReads::kAuto;
  uint32_t workgroup_size = 0;       // invocations per workgroup; 0 = default (256; the backward
                                     // on a software device: one subgroup)
  uint32_t rows_per_invocation = 0;  // forward, and backward without a bias: about this many
                                     // rows per lane; 0 = default (16 software, 4 otherwise)
};

struct BiasActivationArgs {
  TensorRef pre;   // (rows, cols) read-write: X W on entry, X W + bias on exit
  TensorRef bias;  // (cols); empty = no bias
  TensorRef out;   // (rows, cols) write; empty only for kIdentity (pre is the output)
  uint32_t rows = 0, cols = 0;
  Activation activation = Activation::kIdentity;
  float leaky_slope = 0.01f;
  BiasActivationTuning tuning;
};
vk::Dispatch BiasActivationDispatch(vk::PipelineCache& pipelines, const BiasActivationArgs& args);

struct BiasActivationBackwardArgs {
  TensorRef grad_out;   // (rows, cols) read: dL/d(out)
  TensorRef pre;        // (rows, cols) read: Z from the forward pass
  TensorRef out;        // (rows, cols) read: act(Z), used where the derivative is cheaper from it
  TensorRef grad_pre;   // (rows, cols) write: dL/dZ; empty only for kIdentity (dZ is grad_out)
  TensorRef grad_bias;  // (cols) write: column sums of dL/dZ; empty = no bias
  uint32_t rows = 0, cols = 0;
  Activation activation = Activation::kIdentity;
  float leaky_slope = 0.01f;
  // Optional scratch for the bias gradient: BiasActivationBackwardWorkspaceCount(rows, cols)
  // floats (partial column sums per row block), used by BiasActivationBackwardDispatches
  // only. Size it once per layer from that function and give it a view of its own
  // (nothing else may be in flight in it during the backward; between steps it may be
  // reused); empty = one workgroup row reduces all rows of its columns.
  TensorRef workspace;
  BiasActivationTuning tuning;
};

// Floats of workspace that let BiasActivationBackwardDispatches split the
// bias-gradient reduction over row blocks: blocks * cols, where blocks grows
// with rows (at least 256 rows a block, at most 64 blocks), or 0 where one
// block is enough (rows <= 256). Depends on the shape only, not the device.
uint64_t BiasActivationBackwardWorkspaceCount(uint32_t rows, uint32_t cols);

// The backward as a plan records it. With a bias gradient, a workspace of at
// least BiasActivationBackwardWorkspaceCount(rows, cols) floats and more than
// one row block: two dispatches, the activation gradient with each row
// block's partial column sums written to the workspace, then
// bias_act_back_combine adding them, block by block, into grad_bias. Otherwise
// one dispatch, as BiasActivationBackwardDispatch.
std::vector<vk::Dispatch> BiasActivationBackwardDispatches(vk::PipelineCache& pipelines,
                                                           const BiasActivationBackwardArgs& args);

// The backward as one dispatch, ignoring args.workspace: with a bias gradient,
// one workgroup row reduces all rows of its columns (fine for small batches;
// for many rows, e.g. a convolution's N*OH*OW, BiasActivationBackwardDispatches
// with a workspace spreads the rows over far more workgroups).
vk::Dispatch BiasActivationBackwardDispatch(vk::PipelineCache& pipelines, const BiasActivationBackwardArgs& args);

}  // namespace ts::kernels
