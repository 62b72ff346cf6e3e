#version 450
#extension GL_EXT_samplerless_texture_functions : require
// bias_act_vec4.comp reading pre through a uniform texel buffer (RGBA32F)
// bound at 0, and writing it back through a storage buffer at 3.
#define BA_TEXEL_READS
#include "bias_act_vec4.glsl"
#include "bias_act_impl.glsl"
