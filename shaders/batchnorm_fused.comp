#version 450
// BatchNorm forward, phase FUSED: training in one dispatch: statistics, then normalisation.
// One channel per lane; the body is batchnorm_impl.glsl.
#define BN_VALUE float
#define BN_WIDTH 1u
#define BN_PHASE BATCHNORM_PHASE_FUSED
#include "batchnorm_impl.glsl"
