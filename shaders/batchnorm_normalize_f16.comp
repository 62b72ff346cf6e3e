#version 450
// BatchNorm forward, phase NORMALIZE: training, split: combine the blocks' statistics, normalise a row block.
// fp16 storage (mixed precision): x and y are float16_t, the rest and the arithmetic fp32.
// One channel per lane; the body is batchnorm_impl.glsl.
#extension GL_EXT_shader_16bit_storage : require
#define BN_VALUE float
#define BN_STORED float16_t
#define BN_WIDTH 1u
#define BN_PHASE BATCHNORM_PHASE_NORMALIZE
#include "batchnorm_impl.glsl"
