#version 450
// BatchNorm forward, phase STATISTICS: training, split: each row block's mean and M2 to the workspace.
// Four channels per lane (vec4 loads: C % 4 == 0, 16-byte aligned tensors); the body is batchnorm_impl.glsl.
#define BN_VALUE vec4
#define BN_WIDTH 4u
#define BN_PHASE BATCHNORM_PHASE_STATISTICS
#include "batchnorm_impl.glsl"
