// Push constants and activation codes of bias_act{,_vec4}.comp,
// bias_act_back{,_vec4}.comp and bias_act_back_combine.comp (shared by GLSL and C++).
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
  uint cols;         // floats per row (a multiple of 4 for the _vec4 shader)
  uint has_bias;     // 1: pre += bias (written back); 0: bias is not read
  uint write_out;    // 1: out = act(pre); 0: out is not written (identity in place)
  float leaky_slope;
};
TS_CHECK_PUSH_LAYOUT(BiasActParams, 5)

struct BiasActBackParams {
  uint rows;
  uint cols;             // floats per row (a multiple of 4 for the _vec4 shader)
  uint write_grad_pre;   // 0 only for identity without a grad_pre tensor
  uint write_grad_bias;  // 1: column sums of grad_pre into binding 4
  float leaky_slope;
  uint rows_per_block;   // workgroup row b covers rows [b * rows_per_block, (b + 1) * rows_per_block)
};
TS_CHECK_PUSH_LAYOUT(BiasActBackParams, 6)

// bias_act_back_combine.comp: grad_bias[c] = sum over b of partials[b][c].
struct BiasActCombineParams {
  uint cols;
  uint blocks;
};
TS_CHECK_PUSH_LAYOUT(BiasActCombineParams, 2)

TS_SHADER_NAMESPACE_END
#endif
