#version 450
// BatchNorm backward, phase SUMS: split: each row block's two sums to the workspace.
// One channel per lane; the body is batchnorm_back_impl.glsl.
#define BN_VALUE float
#define BN_WIDTH 1u
#define BN_PHASE BATCHNORM_PHASE_SUMS
#include "batchnorm_back_impl.glsl"
