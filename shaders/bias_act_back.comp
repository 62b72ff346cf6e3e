#version 450
// Backward of bias_act.comp, fused with the bias-gradient reduction:
//   grad_pre[r][c] = grad_out[r][c] * act'(pre[r][c])
//   grad_bias[c]   = sum over r of grad_pre[r][c]
// One column per lane; bias_act_back_vec4{,_texel}.comp move four. The body,
// its grid, the reduction (per row block, then bias_act_back_combine.comp) and
// the specialization constants are in bias_act_back_impl.glsl.
#define BA_VALUE float
#define BA_WIDTH 1u
#define ACTIVATION_BACKWARD ActivationBackward
#include "bias_act_back_impl.glsl"
