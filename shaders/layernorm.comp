#version 450
// LayerNorm forward (see layernorm_impl.glsl and compute/kernels/layernorm.h):
// one float per load.
#define LN_VALUE float
#define LN_WIDTH 1u
#include "layernorm_impl.glsl"
