#version 450
// conv2d_back_filter.comp over fp16 storage (mixed precision): X and dY are
// float16_t; dW (the master weights' gradient) and every sum are fp32. Needs
// storageBuffer16BitAccess (VK_KHR_16bit_storage); no fp16 arithmetic.
#extension GL_EXT_shader_16bit_storage : require
#define CONV2D_FP16 1
#include "conv2d_back_filter_impl.glsl"
