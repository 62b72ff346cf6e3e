#version 450
// BatchNorm backward, phase FUSED: in one dispatch: the sums, then grad_x.
// fp16 storage (mixed precision): grad_y, x and grad_x are float16_t, the rest and the arithmetic fp32.
// One channel per lane; the body is batchnorm_back_impl.glsl.
#extension GL_EXT_shader_16bit_storage : require
#define BN_VALUE float
#define BN_STORED float16_t
#define BN_WIDTH 1u
#define BN_PHASE BATCHNORM_PHASE_FUSED
#include "batchnorm_back_impl.glsl"
