#version 450
// Backward of embedding.comp, the token-embedding gradient, one column per
// lane (embedding_back_vec4.comp: four). The body, its tiling and why it is
// deterministic: embedding_back_impl.glsl.
#define EMB_VALUE float
#define EMB_WIDTH 1u
#include "embedding_back_impl.glsl"
