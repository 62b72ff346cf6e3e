#version 450
// embedding_back_position.comp with four columns per lane (vec4 loads and
// stores), for C % 4 == 0 and 16-byte aligned tensors.
#define EMB_VALUE vec4
#define EMB_WIDTH 4u
#include "embedding_back_position_impl.glsl"
