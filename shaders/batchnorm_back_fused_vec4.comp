#version 450
// BatchNorm backward, phase FUSED: in one dispatch: the sums, then grad_x.
// Four channels per lane (vec4 loads: C % 4 == 0, 16-byte aligned tensors); the body is batchnorm_back_impl.glsl.
#define BN_VALUE vec4
#define BN_WIDTH 4u
#define BN_PHASE BATCHNORM_PHASE_FUSED
#include "batchnorm_back_impl.glsl"
