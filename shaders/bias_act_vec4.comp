#version 450
// bias_act.comp with four columns per lane (vec4 loads and stores), for
// cols % 4 == 0 and 16-byte aligned tensors.
#include "bias_act_vec4.glsl"
#include "bias_act_impl.glsl"
