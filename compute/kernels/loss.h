// loss.comp: the loss heads, each fused with its gradient and with the
// per-row correctness used for accuracy (argmax on the device).
//
// For (rows x cols) logits and one uint32 label per row, writes per row:
//   row_loss[r]    = the row's loss
//   row_correct[r] = 1.0 if the prediction is the label, else 0.0
//   grad_logits    = d(mean over rows of row_loss)/d(logits) * (rows * grad_scale)
//                    i.e. pass grad_scale = 1/rows for the batch mean
//   probabilities  = softmax (cross-entropy) or sigmoid (BCE) or the outputs (MSE), when asked
// Losses (all numerically stable):
//   kSoftmaxCrossEntropy: -log softmax(logits)[label]; prediction = argmax.
//   kMeanSquaredError: mean over cols of (logit - target)^2, target = one-hot(label)
//                      (cols == 1: target = label as a number); prediction = argmax
//                      (cols == 1: round(output)).
//   kBinaryCrossEntropyWithLogits: mean over cols of BCE(sigmoid(logit), target), target as
//                      for MSE; prediction = logit > 0 (cols == 1) or argmax.
// These match PyTorch's CrossEntropyLoss, MSELoss and BCEWithLogitsLoss with
// reduction='mean'. A label outside [0, cols) (where it must be a class index)
// gives a NaN row loss, so the metrics flag the bad data.
#pragma once

#include <cstdint>

#include "compute/kernels/tensor_ref.h"

namespace ts::kernels {

enum class LossKind : uint32_t { kSoftmaxCrossEntropy = 0, kMeanSquaredError = 1, kBinaryCrossEntropyWithLogits = 2 };

const char* LossName(LossKind kind);  // "softmax_cross_entropy", "mse", "bce_with_logits"

struct LossArgs {
  LossKind kind = LossKind::kSoftmaxCrossEntropy;
  TensorRef logits;         // (rows, cols) read
  TensorRef labels;         // (rows) uint32 read
  TensorRef row_loss;       // (rows) write
  TensorRef row_correct;    // (rows) write, 0.0 or 1.0
  TensorRef grad_logits;    // (rows, cols) write; empty = evaluation, no gradient
  TensorRef probabilities;  // (rows, cols) write; empty = not needed
  uint32_t rows = 0, cols = 0;
  float grad_scale = 1.0f;  // 1 / batch size for a batch mean
  // Mixed precision: fp16 logits (logits.element_bytes == 2) and grad_logits
  // pick loss_f16.comp, which also multiplies the gradient by the loss scale
  // held in this LossScaleState (shaders/mixed_precision.h); required then.
  TensorRef loss_scale;
};
vk::Dispatch LossDispatch(vk::PipelineCache& pipelines, const LossArgs& args);

// metrics.comp: sums one step's row_loss and row_correct over the first
// step.valid_rows rows (padding rows of a partial batch are ignored) and writes
// result[0] = mean loss, result[1] = correct count, result[2] = valid rows
// (as floats), result[3] = 0 if the loss is finite, 1 if it is NaN or Inf.
struct MetricsArgs {
  TensorRef row_loss;      // (rows) read
  TensorRef row_correct;   // (rows) read
  TensorRef step_params;   // one StepParams (see shaders/step_params.h) read
  TensorRef result;        // (4) write
  uint32_t rows = 0;
};
vk::Dispatch MetricsDispatch(vk::PipelineCache& pipelines, const MetricsArgs& args);

}  // namespace ts::kernels
