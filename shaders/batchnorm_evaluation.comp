#version 450
// BatchNorm forward, phase EVALUATION: evaluation, with the running statistics.
// One channel per lane; the body is batchnorm_impl.glsl.
#define BN_VALUE float
#define BN_WIDTH 1u
#define BN_PHASE BATCHNORM_PHASE_EVALUATION
#include "batchnorm_impl.glsl"
