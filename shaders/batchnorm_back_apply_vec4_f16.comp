#version 450
// BatchNorm backward, phase APPLY: split: add up the blocks' sums, grad_x of a row block.
// fp16 storage (mixed precision): grad_y, x and grad_x are f16vec4, the rest and the arithmetic fp32.
// Four channels per lane (f16vec4 loads: C % 4 == 0, 16-byte aligned tensors); the body is batchnorm_back_impl.glsl.
#extension GL_EXT_shader_16bit_storage : require
#define BN_VALUE vec4
#define BN_STORED f16vec4
#define BN_WIDTH 4u
#define BN_PHASE BATCHNORM_PHASE_APPLY
#include "batchnorm_back_impl.glsl"
