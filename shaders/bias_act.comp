#version 450
// Bias add fused with an activation, over a (rows x cols) row-major matrix:
//   pre[r][c] += bias[c]        (in place, when there is a bias)
//   out[r][c]  = act(pre[r][c]) (when there is an out tensor)
// One column per lane; bias_act_vec4{,_texel}.comp move four. The body, its
// grid and its specialization constants are in bias_act_impl.glsl.
#define BA_VALUE float
#define BA_WIDTH 1u
#define ACTIVATE Activate
#include "bias_act_impl.glsl"
