#version 450
// optimizer_vec4.comp reading params, gradients and state through texel
// buffers (writes stay storage-buffer stores): for drivers whose storage loads
// are slow, lavapipe's among them. Same update, same bits.
#extension GL_EXT_samplerless_texture_functions : require
#include "optimizer.h"
#include "step_params.h"

#define OPT_VALUE vec4
#define OPT_WIDTH 4u
#define OPT_TEXEL_READS 1
#include "optimizer_impl.glsl"
