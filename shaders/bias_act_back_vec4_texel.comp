#version 450
#extension GL_EXT_samplerless_texture_functions : require
// bias_act_back_vec4.comp reading grad_out, pre and out through uniform texel
// buffers (RGBA32F) bound at 0, 1 and 2.
#define BA_TEXEL_READS
#include "bias_act_vec4.glsl"
#include "bias_act_back_impl.glsl"
