#version 450
// BatchNorm forward, phase STATISTICS: training, split: each row block's mean and M2 to the workspace.
// One channel per lane; the body is batchnorm_impl.glsl.
#define BN_VALUE float
#define BN_WIDTH 1u
#define BN_PHASE BATCHNORM_PHASE_STATISTICS
#include "batchnorm_impl.glsl"
