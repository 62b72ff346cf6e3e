#version 450
// BatchNorm forward, phase EVALUATION: evaluation, with the running statistics.
// fp16 storage (mixed precision): x and y are f16vec4, the rest and the arithmetic fp32.
// Four channels per lane (f16vec4 loads: C % 4 == 0, 16-byte aligned tensors); the body is batchnorm_impl.glsl.
#extension GL_EXT_shader_16bit_storage : require
#define BN_VALUE vec4
#define BN_STORED f16vec4
#define BN_WIDTH 4u
#define BN_PHASE BATCHNORM_PHASE_EVALUATION
#include "batchnorm_impl.glsl"
