// Plain double-precision CPU versions of the elementwise kernel families
// (bias + activation, losses, metrics, optimizers, batch gather): what the
// tests compare the GPU against, and what the UI's CPU-versus-GPU view runs.
// Written for reading, not speed. Inputs are doubles so finite-difference
// checks can perturb them finely; ToDouble converts a float tensor.
//
// Shapes are row-major; each function's comment gives them once.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "compute/kernels/activation.h"
#include "compute/kernels/loss.h"
#include "compute/kernels/optimizer.h"

namespace ts::reference {

std::vector<double> ToDouble(std::span<const float> values);

// ---- Bias + activation (bias_act.comp, bias_act_back.comp) ----

// act(z). GELU is the exact form z * Phi(z).
double Activate(kernels::Activation activation, double z, double leaky_slope);
// d act / dz at z, where y = act(z). Like PyTorch (and the kernel), sigmoid
// and tanh use y, and ReLU's derivative at 0 is 0.
double ActivationDerivative(kernels::Activation activation, double z, double y, double leaky_slope);

struct BiasActivationOutput {
  std::vector<double> pre;  // (rows, cols): input + bias
  std::vector<double> out;  // (rows, cols): act(pre)
};
// pre: (rows, cols); bias: (cols), or empty for none.
BiasActivationOutput BiasActivationForward(std::span<const double> pre, std::span<const double> bias, uint32_t rows,
                                           uint32_t cols, kernels::Activation activation, double leaky_slope);

struct BiasActivationGradients {
  std::vector<double> grad_pre;   // (rows, cols): grad_out * act'(pre)
  std::vector<double> grad_bias;  // (cols): column sums of grad_pre
};
// grad_out, pre, out: (rows, cols); out = act(pre) from the forward pass.
BiasActivationGradients BiasActivationBackward(std::span<const double> grad_out, std::span<const double> pre,
                                               std::span<const double> out, uint32_t rows, uint32_t cols,
                                               kernels::Activation activation, double leaky_slope);

// ---- Losses and metrics (loss.comp, metrics.comp) ----

struct LossOutput {
  std::vector<double> row_loss;       // (rows)
  std::vector<double> row_correct;    // (rows): 1 or 0
  std::vector<double> grad_logits;    // (rows, cols): d(row_loss)/d(logits) * grad_scale
  std::vector<double> probabilities;  // (rows, cols): softmax, sigmoid or the logits (MSE)
};
// logits: (rows, cols); labels: (rows). Same definitions as kernels/loss.h,
// including a NaN row loss for a label outside [0, cols) (where cols > 1, or
// always for cross-entropy).
LossOutput Loss(kernels::LossKind kind, std::span<const double> logits, std::span<const uint32_t> labels,
                uint32_t rows, uint32_t cols, double grad_scale);

struct Metrics {
  double mean_loss = 0;   // over the valid rows; 0 when there are none
  double correct = 0;     // count of valid rows predicted right
  double valid_rows = 0;
  bool non_finite = false;  // some valid row's loss (or their sum) is NaN or Inf
};
// row_loss, row_correct: (rows); only the first min(valid_rows, rows) count.
Metrics ComputeMetrics(std::span<const double> row_loss, std::span<const double> row_correct, uint32_t valid_rows);

// ---- Optimizers (optimizer.comp) ----

struct OptimizerState {
  std::vector<double> params;  // (count)
  std::vector<double> state1;  // (count): momentum buffer or Adam m; empty for SGD
  std::vector<double> state2;  // (count): Adam v; empty otherwise
};
// One step in place, with the rules of kernels/optimizer.h (PyTorch's).
// bias_correction1/2 = 1 - beta^t, as the kernel reads them from StepParams.
void OptimizerStep(kernels::OptimizerKind kind, const kernels::OptimizerHyper& hyper, double learning_rate,
                   double bias_correction1, double bias_correction2, std::span<const double> grads,
                   OptimizerState& state);

// ---- Batch gather (gather.comp) ----

struct GatherInput {
  bool features_u8 = false;
  std::span<const uint8_t> features_u8_data;  // (dataset count, feature_size) when features_u8
  std::span<const float> features_f32_data;   // (dataset count, feature_size) otherwise
  std::span<const uint32_t> labels;           // (dataset count)
  std::span<const uint32_t> permutation;      // sample indices of the epoch
  uint32_t batch_offset = 0;                  // StepParams::batch_offset
  uint32_t rows = 0, feature_size = 0;
  double scale = 1.0, offset = 0.0;
};
struct GatherOutput {
  std::vector<double> batch_x;          // (rows, feature_size)
  std::vector<uint32_t> batch_labels;   // (rows)
};
// Rows past the end of the permutation repeat the batch's first sample.
GatherOutput Gather(const GatherInput& input);

}  // namespace ts::reference
