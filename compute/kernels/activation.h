// bias_act.comp / bias_act_back.comp: bias add fused with an activation, and
// its backward fused with the bias-gradient reduction over the batch.
//
// Forward, for a (rows x cols) matrix whose row r is sample r:
//   pre[r][c] += bias[c]            (in place; pre then holds the pre-activation Z)
//   out[r][c]  = act(pre[r][c])
// Backward:
//   grad_pre[r][c] = grad_out[r][c] * act'(pre[r][c])
//   grad_bias[c]   = sum over r of grad_pre[r][c]
#pragma once

#include <cstdint>

#include "compute/kernels/tensor_ref.h"

namespace ts::kernels {

enum class Activation : uint32_t { kIdentity = 0, kRelu = 1, kLeakyRelu = 2, kSigmoid = 3, kTanh = 4, kGelu = 5 };

// "identity", "relu", "leaky_relu", "sigmoid", "tanh", "gelu" (GELU is the exact erf form, as PyTorch's default).
const char* ActivationName(Activation activation);

struct BiasActivationArgs {
  TensorRef pre;   // (rows, cols) read-write: X W on entry, X W + bias on exit
  TensorRef bias;  // (cols); empty = no bias
  TensorRef out;   // (rows, cols) write; empty only for kIdentity (pre is the output)
  uint32_t rows = 0, cols = 0;
  Activation activation = Activation::kIdentity;
  float leaky_slope = 0.01f;
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
};
vk::Dispatch BiasActivationBackwardDispatch(vk::PipelineCache& pipelines, const BiasActivationBackwardArgs& args);

}  // namespace ts::kernels
