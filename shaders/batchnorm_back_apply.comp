#version 450
// BatchNorm backward, phase APPLY: split: add up the blocks' sums, grad_x of a row block.
// One channel per lane; the body is batchnorm_back_impl.glsl.
#define BN_VALUE float
#define BN_WIDTH 1u
#define BN_PHASE BATCHNORM_PHASE_APPLY
#include "batchnorm_back_impl.glsl"
