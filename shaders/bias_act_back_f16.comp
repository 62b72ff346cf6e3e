#version 450
// bias_act_back.comp over fp16 storage (mixed precision): grad_out, pre, out
// and grad_pre are float16_t; the bias-gradient sums are fp32 (the master
// gradients), and so is the arithmetic.
#extension GL_EXT_shader_16bit_storage : require
#define BA_VALUE float
#define BA_STORED float16_t
#define BA_WIDTH 1u
#define ACTIVATION_BACKWARD ActivationBackward
#include "bias_act_back_impl.glsl"
