#version 450
// loss.comp for mixed precision: the logits and their gradient are float16_t,
// the gradient also multiplied by the loss scale (binding 6, the scaler's
// state); losses, probabilities and sums stay fp32.
#extension GL_EXT_shader_16bit_storage : require
#define LOSS_FP16 1
#include "loss_impl.glsl"
