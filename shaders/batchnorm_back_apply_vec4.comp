#version 450
// BatchNorm backward, phase APPLY: split: add up the blocks' sums, grad_x of a row block.
// Four channels per lane (vec4 loads: C % 4 == 0, 16-byte aligned tensors); the body is batchnorm_back_impl.glsl.
#define BN_VALUE vec4
#define BN_WIDTH 4u
#define BN_PHASE BATCHNORM_PHASE_APPLY
#include "batchnorm_back_impl.glsl"
