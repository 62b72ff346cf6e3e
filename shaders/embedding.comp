#version 450
// A GPT's input layer, token plus learned position embedding, one column per
// lane (embedding_vec4.comp: four). The body: embedding_impl.glsl.
#define EMB_VALUE float
#define EMB_WIDTH 1u
#include "embedding_impl.glsl"
