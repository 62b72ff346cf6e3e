#version 450
// BatchNorm forward, phase EVALUATION: evaluation, with the running statistics.
// Four channels per lane (vec4 loads: C % 4 == 0, 16-byte aligned tensors); the body is batchnorm_impl.glsl.
#define BN_VALUE vec4
#define BN_WIDTH 4u
#define BN_PHASE BATCHNORM_PHASE_EVALUATION
#include "batchnorm_impl.glsl"
