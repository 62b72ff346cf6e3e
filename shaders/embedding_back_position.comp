#version 450
// Backward of embedding.comp, the position-embedding gradient, one column per
// lane (embedding_back_position_vec4.comp: four). The body:
// embedding_back_position_impl.glsl.
#define EMB_VALUE float
#define EMB_WIDTH 1u
#include "embedding_back_position_impl.glsl"
