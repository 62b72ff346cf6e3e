#version 450
// bias_act.comp over fp16 storage (mixed precision): pre and out are
// float16_t, the bias fp32 (the master weights), the arithmetic fp32.
#extension GL_EXT_shader_16bit_storage : require
#define BA_VALUE float
#define BA_STORED float16_t
#define BA_WIDTH 1u
#define ACTIVATE Activate
#include "bias_act_impl.glsl"
