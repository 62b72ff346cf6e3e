#version 450
// conv2d.comp over fp16 storage (mixed precision): X, W (the fp16 weight copy)
// and Y are float16_t, every sum is fp32. Needs storageBuffer16BitAccess
// (VK_KHR_16bit_storage); no fp16 arithmetic.
#extension GL_EXT_shader_16bit_storage : require
#define CONV2D_FP16 1
#include "conv2d_impl.glsl"
