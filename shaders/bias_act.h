// Push constants and activation codes of bias_act.comp and bias_act_back.comp
// (shared by GLSL and C++).
#ifndef TENSORSCOPE_SHADERS_BIAS_ACT_H
#define TENSORSCOPE_SHADERS_BIAS_ACT_H
#include "shared_types.h"
TS_SHADER_NAMESPACE_BEGIN

// Values of the activation specialization constant (= kernels::Activation).
const uint ACTIVATION_IDENTITY = 0u;
const uint ACTIVATION_RELU = 1u;
const uint ACTIVATION_LEAKY_RELU = 2u;
const uint ACTIVATION_SIGMOID = 3u;
const uint ACTIVATION_TANH = 4u;
const uint ACTIVATION_GELU = 5u;

struct BiasActParams {
  uint rows;
  uint cols;
  uint has_bias;     // 1: pre += bias (written back); 0: bias is not read
  uint write_out;    // 1: out = act(pre); 0: out is not written (identity in place)
  float leaky_slope;
};
TS_CHECK_PUSH_LAYOUT(BiasActParams, 5)

struct BiasActBackParams {
  uint rows;
  uint cols;
  uint write_grad_pre;   // 0 only for identity without a grad_pre tensor
  uint write_grad_bias;  // 1: grad_bias = column sums of grad_pre
  float leaky_slope;
};
TS_CHECK_PUSH_LAYOUT(BiasActBackParams, 5)

TS_SHADER_NAMESPACE_END
#endif
