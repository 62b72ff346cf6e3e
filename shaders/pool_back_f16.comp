#version 450
// pool_back.comp over fp16 storage (mixed precision): grad_out and grad_in are
// float16_t, argmax uint32, the sums fp32 (loss-scaled values; Inf and NaN propagate).
#extension GL_EXT_shader_16bit_storage : require
#define POOL_STORED float16_t
#include "pool_back_impl.glsl"
