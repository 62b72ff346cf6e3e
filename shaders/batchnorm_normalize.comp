#version 450
// BatchNorm forward, phase NORMALIZE: training, split: combine the blocks' statistics, normalise a row block.
// One channel per lane; the body is batchnorm_impl.glsl.
#define BN_VALUE float
#define BN_WIDTH 1u
#define BN_PHASE BATCHNORM_PHASE_NORMALIZE
#include "batchnorm_impl.glsl"
