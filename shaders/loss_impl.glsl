// The body of loss.comp (fp32) and loss_f16.comp (LOSS_FP16: fp16 logits and
// gradient, scaled by the loss scaler); see loss.comp.
#include "loss.h"
#include "math.glsl"

layout(local_size_x_id = 0) in;                       // workgroup size: specialization constant 0
layout(constant_id = 1) const uint kLoss = LOSS_SOFTMAX_CROSS_ENTROPY;

#ifdef LOSS_FP16
// Mixed precision (loss_f16.comp): logits and their gradient are float16_t,
// and the gradient is multiplied by the loss scaler's scale as well (the
// losses, probabilities and every sum stay fp32).
#include "mixed_precision.h"
layout(std430, binding = 0) readonly buffer Logits { float16_t logits_[]; };          // (rows, cols)
layout(std430, binding = 4) writeonly buffer GradLogits { float16_t grad_logits[]; }; // (rows, cols)
layout(std430, binding = 6) readonly buffer Scale { LossScaleState loss_scale; };
#define LOGIT(i) float(logits_[i])
#define GRAD_STORED float16_t
#define LOSS_SCALE loss_scale.scale
#else
layout(std430, binding = 0) readonly buffer Logits { float logits_[]; };              // (rows, cols)
layout(std430, binding = 4) writeonly buffer GradLogits { float grad_logits[]; };     // (rows, cols)
#define LOGIT(i) logits_[i]
#define GRAD_STORED float
#define LOSS_SCALE 1.0
#endif
layout(std430, binding = 1) readonly buffer Labels { uint labels[]; };           // (rows)
layout(std430, binding = 2) writeonly buffer RowLoss { float row_loss[]; };      // (rows)
layout(std430, binding = 3) writeonly buffer RowCorrect { float row_correct[]; };// (rows)
layout(std430, binding = 5) writeonly buffer Probabilities { float probabilities[]; };  // (rows, cols)
layout(push_constant) uniform Push { LossParams p; };

float Target(uint j, uint label) { return p.cols == 1u ? float(label) : (j == label ? 1.0 : 0.0); }

void main() {
  const float kNaN = uintBitsToFloat(0x7fc00000u);
  uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  const float grad_scale = p.grad_scale * LOSS_SCALE;
  for (uint r = gl_GlobalInvocationID.x; r < p.rows; r += stride) {
    uint base = r * p.cols;
    uint label = labels[r];
    bool label_valid = label < p.cols || (p.cols == 1u && kLoss != LOSS_SOFTMAX_CROSS_ENTROPY);

    // Argmax (first index of the largest logit, as torch.argmax) and the max.
    float max_logit = LOGIT(base);
    uint argmax = 0u;
    for (uint j = 1u; j < p.cols; ++j) {
      float x = LOGIT(base + j);
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
        precise float term = exp(LOGIT(base + j) - max_logit) - compensation;
        precise float next = sum + term;
        compensation = (next - sum) - term;
        sum = next;
      }
      // -log softmax[label] = (max - x[label]) + log(sum), summed in the order that keeps precision.
      loss = label_valid ? (max_logit - LOGIT(base + label)) + PreciseLog(sum) : kNaN;
      correct = argmax == label ? 1.0 : 0.0;
      float inv_sum = 1.0 / sum;
      for (uint j = 0u; j < p.cols; ++j) {
        float probability = exp(LOGIT(base + j) - max_logit) * inv_sum;
        if (p.write_probabilities != 0u) probabilities[base + j] = probability;
        if (p.write_grad != 0u) grad_logits[base + j] = GRAD_STORED((probability - (j == label ? 1.0 : 0.0)) * grad_scale);
      }
    } else {
      // MSE and BCE: means over the columns of per-element terms.
      float inv_cols = 1.0 / float(p.cols);
      for (uint j = 0u; j < p.cols; ++j) {
        float x = LOGIT(base + j);
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
        if (p.write_grad != 0u) grad_logits[base + j] = GRAD_STORED(element_grad * inv_cols * grad_scale);
      }
      loss = label_valid ? sum * inv_cols : kNaN;
      if (p.cols == 1u) {
        float x = LOGIT(base);
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
