#version 450
// The loss heads, one invocation per row (grid-stride over rows), each fused
// with its gradient and the row's correctness (argmax on the device):
//   row_loss[r], row_correct[r] (0 or 1), grad_logits[r][:] (scaled by
//   grad_scale), probabilities[r][:].
// See compute/kernels/loss.h for the formulas; they match PyTorch's
// CrossEntropyLoss, MSELoss and BCEWithLogitsLoss. The target of a row is
// one-hot(label), or the label as a number when cols == 1 (MSE, BCE). A label
// outside [0, cols) otherwise gives a NaN row loss, so the metrics flag the bad data;
// its gradient then uses an all-zero target.
#include "loss.h"
#include "math.glsl"

layout(local_size_x_id = 0) in;                       // workgroup size: specialization constant 0
layout(constant_id = 1) const uint kLoss = LOSS_SOFTMAX_CROSS_ENTROPY;

layout(std430, binding = 0) readonly buffer Logits { float logits[]; };          // (rows, cols)
layout(std430, binding = 1) readonly buffer Labels { uint labels[]; };           // (rows)
layout(std430, binding = 2) writeonly buffer RowLoss { float row_loss[]; };      // (rows)
layout(std430, binding = 3) writeonly buffer RowCorrect { float row_correct[]; };// (rows)
layout(std430, binding = 4) writeonly buffer GradLogits { float grad_logits[]; };// (rows, cols)
layout(std430, binding = 5) writeonly buffer Probabilities { float probabilities[]; };  // (rows, cols)
layout(push_constant) uniform Push { LossParams p; };

float Target(uint j, uint label) { return p.cols == 1u ? float(label) : (j == label ? 1.0 : 0.0); }

void main() {
  const float kNaN = uintBitsToFloat(0x7fc00000u);
  uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  for (uint r = gl_GlobalInvocationID.x; r < p.rows; r += stride) {
    uint base = r * p.cols;
    uint label = labels[r];
    bool label_valid = label < p.cols || (p.cols == 1u && kLoss != LOSS_SOFTMAX_CROSS_ENTROPY);

    // Argmax (first index of the largest logit, as torch.argmax) and the max.
    float max_logit = logits[base];
    uint argmax = 0u;
    for (uint j = 1u; j < p.cols; ++j) {
      float x = logits[base + j];
      if (x > max_logit) {
        max_logit = x;
        argmax = j;
      }
    }

    // Compensated (Kahan) sums; `precise` keeps the compensation from being simplified away.
    precise float sum = 0.0, compensation = 0.0;
    float loss, correct;
    if (kLoss == LOSS_SOFTMAX_CROSS_ENTROPY) {
      // log-sum-exp shifted by the max: every exp argument is <= 0.
      for (uint j = 0u; j < p.cols; ++j) {
        precise float term = exp(logits[base + j] - max_logit) - compensation;
        precise float next = sum + term;
        compensation = (next - sum) - term;
        sum = next;
      }
      // -log softmax[label] = (max - x[label]) + log(sum), summed in the order that keeps precision.
      loss = label_valid ? (max_logit - logits[base + label]) + PreciseLog(sum) : kNaN;
      correct = argmax == label ? 1.0 : 0.0;
      float inv_sum = 1.0 / sum;
      for (uint j = 0u; j < p.cols; ++j) {
        float probability = exp(logits[base + j] - max_logit) * inv_sum;
        if (p.write_probabilities != 0u) probabilities[base + j] = probability;
        if (p.write_grad != 0u) grad_logits[base + j] = (probability - (j == label ? 1.0 : 0.0)) * p.grad_scale;
      }
    } else {
      // MSE and BCE: means over the columns of per-element terms.
      float inv_cols = 1.0 / float(p.cols);
      for (uint j = 0u; j < p.cols; ++j) {
        float x = logits[base + j];
        float t = Target(j, label);
        float element_loss, element_grad, shown;  // shown: the "probabilities" output
        if (kLoss == LOSS_MEAN_SQUARED_ERROR) {
          float diff = x - t;
          element_loss = diff * diff;
          element_grad = 2.0 * diff;
          shown = x;
        } else {
          // max(x, 0) - x t + log(1 + exp(-|x|)): PyTorch's stable form, finite for any finite x.
          shown = Sigmoid(x);
          element_loss = max(x, 0.0) - x * t + Log1p(exp(-abs(x)));
          element_grad = shown - t;
        }
        precise float term = element_loss - compensation;
        precise float next = sum + term;
        compensation = (next - sum) - term;
        sum = next;
        if (p.write_probabilities != 0u) probabilities[base + j] = shown;
        if (p.write_grad != 0u) grad_logits[base + j] = element_grad * inv_cols * p.grad_scale;
      }
      loss = label_valid ? sum * inv_cols : kNaN;
      if (p.cols == 1u) {
        float x = logits[base];
        bool right = kLoss == LOSS_MEAN_SQUARED_ERROR ? floor(x + 0.5) == float(label)
                                                      : uint(x > 0.0 ? 1u : 0u) == label;
        correct = right ? 1.0 : 0.0;
      } else {
        correct = argmax == label ? 1.0 : 0.0;
      }
    }
    row_loss[r] = loss;
    row_correct[r] = correct;
  }
}
