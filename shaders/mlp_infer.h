// Push constants and limits of mlp_infer.comp (shared by GLSL and C++).
#ifndef TENSORSCOPE_SHADERS_MLP_INFER_H
#define TENSORSCOPE_SHADERS_MLP_INFER_H
#include "shared_types.h"
TS_SHADER_NAMESPACE_BEGIN

// The kernel runs at most this many dense layers, each at most this wide.
const uint MLP_INFER_MAX_LAYERS = 4u;
const uint MLP_INFER_MAX_WIDTH = 64u;

// What follows the last dense layer (specialization constant 13).
const uint MLP_INFER_HEAD_IDENTITY = 0u;  // raw outputs (MSE)
const uint MLP_INFER_HEAD_SOFTMAX = 1u;   // class probabilities (softmax cross-entropy)
const uint MLP_INFER_HEAD_SIGMOID = 2u;   // p(class 1) (binary cross-entropy with logits)

struct MlpInferParams {
  uint points;  // rows of the input, one invocation each
  uint reserved0;
  uint reserved1;
  uint reserved2;
};
TS_CHECK_PUSH_LAYOUT(MlpInferParams, 4)

TS_SHADER_NAMESPACE_END
#endif
