// Push constants of the LayerNorm shaders (shared by GLSL and C++):
// layernorm.comp (forward), layernorm_back.comp (dx), layernorm_back_params.comp
// (dgamma and dbeta per row block) and layernorm_back_combine.comp.
#ifndef TENSORSCOPE_SHADERS_LAYERNORM_H
#define TENSORSCOPE_SHADERS_LAYERNORM_H
#include "shared_types.h"
TS_SHADER_NAMESPACE_BEGIN

struct LayerNormParams {
  uint rows;
  uint cols;
  float epsilon;
  uint save_statistics;  // 1: write mean and rstd per row (training)
};
TS_CHECK_PUSH_LAYOUT(LayerNormParams, 4)

struct LayerNormBackParams {
  uint rows;
  uint cols;
  uint has_add;  // 1: grad_x = dx + add
};
TS_CHECK_PUSH_LAYOUT(LayerNormBackParams, 3)

struct LayerNormParamGradParams {
  uint rows;
  uint cols;
  uint rows_per_block;  // workgroup row b sums rows [b * rows_per_block, (b + 1) * rows_per_block)
  uint split;           // 1: partial sums to the workspace, (2, blocks, cols); 0: to grad_gamma, grad_beta
};
TS_CHECK_PUSH_LAYOUT(LayerNormParamGradParams, 4)

// layernorm_back_combine.comp: grad_gamma[c] = sum_b ws[0][b][c], grad_beta[c] = sum_b ws[1][b][c].
struct LayerNormCombineParams {
  uint cols;
  uint blocks;
};
TS_CHECK_PUSH_LAYOUT(LayerNormCombineParams, 2)

TS_SHADER_NAMESPACE_END
#endif
