#version 450
// embedding.comp with four columns per lane (vec4 loads and stores), for
// C % 4 == 0 and 16-byte aligned tensors.
#define EMB_VALUE vec4
#define EMB_WIDTH 4u
#include "embedding_impl.glsl"
