#version 450
// BatchNorm backward, phase FUSED: in one dispatch: the sums, then grad_x.
// One channel per lane; the body is batchnorm_back_impl.glsl.
#define BN_VALUE float
#define BN_WIDTH 1u
#define BN_PHASE BATCHNORM_PHASE_FUSED
#include "batchnorm_back_impl.glsl"
