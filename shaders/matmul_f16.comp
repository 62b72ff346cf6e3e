#version 450
// matmul.comp over fp16 storage (mixed precision): A and B are float16_t, C is
// float16_t or float (specialization constant 14, kHalfC), and every product is
// accumulated in fp32. Needs storageBuffer16BitAccess (VK_KHR_16bit_storage).
#extension GL_EXT_shader_16bit_storage : require
#define MATMUL_FP16 1
#include "matmul_impl.glsl"
