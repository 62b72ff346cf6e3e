#version 450
// conv2d_back_data.comp over fp16 storage (mixed precision): dY, W (the fp16
// weight copy) and dX are float16_t, every sum is fp32. Needs
// storageBuffer16BitAccess (VK_KHR_16bit_storage); no fp16 arithmetic.
#extension GL_EXT_shader_16bit_storage : require
#define CONV2D_FP16 1
#include "conv2d_back_data_impl.glsl"
