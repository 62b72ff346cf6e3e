#version 450
// batchnorm_back.comp with four channels per lane (vec4 loads), for C % 4 == 0
// and 16-byte aligned tensors. See batchnorm_back.comp for what it computes.
#define BN_VALUE vec4
#define BN_WIDTH 4u
#include "batchnorm_back_impl.glsl"
