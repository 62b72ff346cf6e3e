#version 450
// LayerNorm backward, grad_x (see layernorm_back_impl.glsl and compute/kernels/layernorm.h):
// four floats per load, for cols % 4 == 0 and 16-byte aligned views.
#define LN_VALUE vec4
#define LN_WIDTH 4u
#include "layernorm_back_impl.glsl"
