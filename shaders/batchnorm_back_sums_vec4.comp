#version 450
// BatchNorm backward, phase SUMS: split: each row block's two sums to the workspace.
// Four channels per lane (vec4 loads: C % 4 == 0, 16-byte aligned tensors); the body is batchnorm_back_impl.glsl.
#define BN_VALUE vec4
#define BN_WIDTH 4u
#define BN_PHASE BATCHNORM_PHASE_SUMS
#include "batchnorm_back_impl.glsl"
