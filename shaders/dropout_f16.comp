#version 450
// dropout.comp over fp16 storage (mixed precision): in and out are float16_t.
#extension GL_EXT_shader_16bit_storage : require
#define DROPOUT_STORED float16_t
#include "dropout_impl.glsl"
