#version 450
// pool.comp over fp16 storage (mixed precision): input and output are
// float16_t, argmax uint32, the arithmetic fp32 (max copies an input exactly).
#extension GL_EXT_shader_16bit_storage : require
#define POOL_STORED float16_t
#include "pool_impl.glsl"
