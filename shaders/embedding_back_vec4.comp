#version 450
// embedding_back.comp with four columns per lane (vec4 loads, stores and
// shared slots), for C % 4 == 0 and 16-byte aligned tensors.
#define EMB_VALUE vec4
#define EMB_WIDTH 4u
#include "embedding_back_impl.glsl"
