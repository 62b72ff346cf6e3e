// Push constants and optimizer codes of optimizer.comp (shared by GLSL and C++).
#ifndef TENSORSCOPE_SHADERS_OPTIMIZER_H
#define TENSORSCOPE_SHADERS_OPTIMIZER_H
#include "shared_types.h"
TS_SHADER_NAMESPACE_BEGIN

// Values of the optimizer-kind specialization constant (= kernels::OptimizerKind).
const uint OPTIMIZER_SGD = 0u;
const uint OPTIMIZER_MOMENTUM = 1u;
const uint OPTIMIZER_ADAM = 2u;
const uint OPTIMIZER_ADAMW = 3u;

// The hyper-parameters that stay fixed during training; the learning rate and
// Adam's bias corrections change every step and come from StepParams.
struct OptimizerParams {
  uint count;
  float momentum;
  float beta1;
  float beta2;
  float epsilon;
  float weight_decay;
};
TS_CHECK_PUSH_LAYOUT(OptimizerParams, 6)

TS_SHADER_NAMESPACE_END
#endif
