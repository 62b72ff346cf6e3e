// Push constants and loss codes of loss.comp (shared by GLSL and C++).
#ifndef TENSORSCOPE_SHADERS_LOSS_H
#define TENSORSCOPE_SHADERS_LOSS_H
#include "shared_types.h"
TS_SHADER_NAMESPACE_BEGIN

// Values of the loss-kind specialization constant (= kernels::LossKind).
const uint LOSS_SOFTMAX_CROSS_ENTROPY = 0u;
const uint LOSS_MEAN_SQUARED_ERROR = 1u;
const uint LOSS_BCE_WITH_LOGITS = 2u;

struct LossParams {
  uint rows;
  uint cols;
  float grad_scale;           // grad_logits = d(row_loss)/d(logits) * grad_scale
  uint write_grad;            // 0: evaluation, grad_logits is not written
  uint write_probabilities;   // 0: probabilities is not written
};
TS_CHECK_PUSH_LAYOUT(LossParams, 5)

TS_SHADER_NAMESPACE_END
#endif
