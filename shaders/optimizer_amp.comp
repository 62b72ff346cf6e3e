#version 450
// optimizer_vec4.comp for mixed precision (four parameters per step): reads
// the loss scaler's state, skips a step whose gradients overflowed and
// unscales the others (see optimizer_impl.glsl, OPT_LOSS_SCALE). Parameters,
// gradients and state stay fp32 (the master weights); each updated parameter
// is also written to the fp16 copy the forward pass reads (binding 6).
#extension GL_EXT_shader_16bit_storage : require
#include "optimizer.h"
#include "step_params.h"
#define OPT_VALUE vec4
#define OPT_HALF_VALUE f16vec4
#define OPT_WIDTH 4u
#define OPT_TEXEL_READS 0
#define OPT_LOSS_SCALE 1
#include "optimizer_impl.glsl"
