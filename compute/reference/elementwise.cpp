#include "compute/reference/elementwise.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>
#include <numbers>

namespace ts::reference {

using kernels::Activation;
using kernels::LossKind;
using kernels::OptimizerKind;

std::vector<double> ToDouble(std::span<const float> values) { return {values.begin(), values.end()}; }

// ---- Bias + activation ----

double Activate(Activation activation, double z, double leaky_slope) {
  switch (activation) {
    case Activation::kIdentity: return z;
    case Activation::kRelu: return z > 0 ? z : 0.0;
    case Activation::kLeakyRelu: return z > 0 ? z : leaky_slope * z;
    case Activation::kSigmoid: return 1.0 / (1.0 + std::exp(-z));
    case Activation::kTanh: return std::tanh(z);
    case Activation::kGelu: return 0.5 * z * std::erfc(-z / std::numbers::sqrt2);
  }
  return z;
}

double ActivationDerivative(Activation activation, double z, double y, double leaky_slope) {
  switch (activation) {
    case Activation::kIdentity: return 1.0;
    case Activation::kRelu: return z > 0 ? 1.0 : 0.0;
    case Activation::kLeakyRelu: return z > 0 ? 1.0 : leaky_slope;
    case Activation::kSigmoid: return y * (1.0 - y);
    case Activation::kTanh: return 1.0 - y * y;
    case Activation::kGelu: {
      double density = std::exp(-0.5 * z * z) / std::sqrt(2.0 * std::numbers::pi);
      return 0.5 * std::erfc(-z / std::numbers::sqrt2) + z * density;
    }
  }
  return 1.0;
}

BiasActivationOutput BiasActivationForward(std::span<const double> pre, std::span<const double> bias, uint32_t rows,
                                           uint32_t cols, Activation activation, double leaky_slope) {
  BiasActivationOutput result;
  result.pre.resize(size_t(rows) * cols);
  result.out.resize(size_t(rows) * cols);
  for (uint32_t r = 0; r < rows; ++r) {
    for (uint32_t c = 0; c < cols; ++c) {
      size_t i = size_t(r) * cols + c;
      result.pre[i] = pre[i] + (bias.empty() ? 0.0 : bias[c]);
      result.out[i] = Activate(activation, result.pre[i], leaky_slope);
    }
  }
  return result;
}

BiasActivationGradients BiasActivationBackward(std::span<const double> grad_out, std::span<const double> pre,
                                               std::span<const double> out, uint32_t rows, uint32_t cols,
                                               Activation activation, double leaky_slope) {
  BiasActivationGradients result;
  result.grad_pre.resize(size_t(rows) * cols);
  result.grad_bias.assign(cols, 0.0);
  for (uint32_t r = 0; r < rows; ++r) {
    for (uint32_t c = 0; c < cols; ++c) {
      size_t i = size_t(r) * cols + c;
      double z = pre.empty() ? 0.0 : pre[i], y = out.empty() ? 0.0 : out[i];
      result.grad_pre[i] = grad_out[i] * ActivationDerivative(activation, z, y, leaky_slope);
      result.grad_bias[c] += result.grad_pre[i];
    }
  }
  return result;
}

// ---- Losses and metrics ----

namespace {

size_t ArgMax(std::span<const double> row) {
  size_t best = 0;  // the first of equal maxima, as torch.argmax
  for (size_t j = 1; j < row.size(); ++j)
    if (row[j] > row[best]) best = j;
  return best;
}

double Sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

}  // namespace

LossOutput Loss(LossKind kind, std::span<const double> logits, std::span<const uint32_t> labels, uint32_t rows,
                uint32_t cols, double grad_scale) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  LossOutput result;
  result.row_loss.resize(rows);
  result.row_correct.resize(rows);
  result.grad_logits.resize(size_t(rows) * cols);
  result.probabilities.resize(size_t(rows) * cols);
  for (uint32_t r = 0; r < rows; ++r) {
    std::span<const double> x = logits.subspan(size_t(r) * cols, cols);
    double* grad = &result.grad_logits[size_t(r) * cols];
    double* shown = &result.probabilities[size_t(r) * cols];
    const uint32_t label = labels[r];
    const bool scalar_target = cols == 1 && kind != LossKind::kSoftmaxCrossEntropy;
    const bool label_valid = label < cols || scalar_target;
    auto target = [&](uint32_t j) { return scalar_target ? double(label) : (j == label ? 1.0 : 0.0); };
    const size_t argmax = ArgMax(x);
    bool correct = argmax == label;

    if (kind == LossKind::kSoftmaxCrossEntropy) {
      double max_logit = x[argmax], sum = 0;
      for (double v : x) sum += std::exp(v - max_logit);
      double log_sum_exp = max_logit + std::log(sum);
      result.row_loss[r] = label_valid ? log_sum_exp - x[label] : nan;
      for (uint32_t j = 0; j < cols; ++j) {
        shown[j] = std::exp(x[j] - log_sum_exp);
        grad[j] = (shown[j] - target(j)) * grad_scale;
      }
    } else if (kind == LossKind::kMeanSquaredError) {
      double sum = 0;
      for (uint32_t j = 0; j < cols; ++j) {
        double diff = x[j] - target(j);
        sum += diff * diff;
        grad[j] = 2.0 * diff / cols * grad_scale;
        shown[j] = x[j];
      }
      result.row_loss[r] = label_valid ? sum / cols : nan;
      if (cols == 1) correct = std::floor(x[0] + 0.5) == double(label);
    } else {  // binary cross-entropy on logits, PyTorch's stable form
      double sum = 0;
      for (uint32_t j = 0; j < cols; ++j) {
        double t = target(j);
        sum += std::max(x[j], 0.0) - x[j] * t + std::log1p(std::exp(-std::abs(x[j])));
        shown[j] = Sigmoid(x[j]);
        grad[j] = (shown[j] - t) / cols * grad_scale;
      }
      result.row_loss[r] = label_valid ? sum / cols : nan;
      if (cols == 1) correct = (x[0] > 0 ? 1u : 0u) == label;
    }
    result.row_correct[r] = correct ? 1.0 : 0.0;
  }
  return result;
}

Metrics ComputeMetrics(std::span<const double> row_loss, std::span<const double> row_correct, uint32_t valid_rows) {
  Metrics metrics;
  const size_t valid = std::min<size_t>(valid_rows, row_loss.size());
  double sum = 0;
  for (size_t r = 0; r < valid; ++r) {
    sum += row_loss[r];
    metrics.correct += row_correct[r] > 0.5 ? 1 : 0;
    metrics.non_finite |= !std::isfinite(row_loss[r]);
  }
  metrics.non_finite |= !std::isfinite(sum);
  metrics.valid_rows = double(valid);
  metrics.mean_loss = valid > 0 ? sum / double(valid) : 0.0;
  return metrics;
}

// ---- Optimizers ----

void OptimizerStep(OptimizerKind kind, const kernels::OptimizerHyper& hyper, double learning_rate,
                   double bias_correction1, double bias_correction2, std::span<const double> grads,
                   OptimizerState& state) {
  const double lr = learning_rate, wd = hyper.weight_decay, mu = hyper.momentum;
  const double beta1 = hyper.beta1, beta2 = hyper.beta2, eps = hyper.epsilon;
  for (size_t i = 0; i < state.params.size(); ++i) {
    double& p = state.params[i];
    double g = grads[i];
    if (kind == OptimizerKind::kAdamW)
      p *= 1.0 - lr * wd;
    else
      g += wd * p;
    switch (kind) {
      case OptimizerKind::kSgd:
        p -= lr * g;
        break;
      case OptimizerKind::kMomentum: {
        double& buf = state.state1[i];
        buf = mu * buf + g;
        p -= lr * (hyper.nesterov ? g + mu * buf : buf);
        break;
      }
      case OptimizerKind::kAdam:
      case OptimizerKind::kAdamW: {
        double& m = state.state1[i];
        double& v = state.state2[i];
        m = beta1 * m + (1.0 - beta1) * g;
        v = beta2 * v + (1.0 - beta2) * g * g;
        double denominator = std::sqrt(v) / std::sqrt(bias_correction2) + eps;
        p -= (lr / bias_correction1) * m / denominator;
        break;
      }
    }
  }
}

// ---- Batch gather ----

GatherOutput Gather(const GatherInput& in) {
  assert(!in.permutation.empty());
  GatherOutput result;
  result.batch_x.resize(size_t(in.rows) * in.feature_size);
  result.batch_labels.resize(in.rows);
  const size_t first = std::min<size_t>(in.batch_offset, in.permutation.size() - 1);
  for (uint32_t r = 0; r < in.rows; ++r) {
    size_t position = size_t(in.batch_offset) + r;
    uint32_t sample = in.permutation[position < in.permutation.size() ? position : first];
    result.batch_labels[r] = in.labels[sample];
    for (uint32_t j = 0; j < in.feature_size; ++j) {
      size_t element = size_t(sample) * in.feature_size + j;
      double raw = in.features_u8 ? double(in.features_u8_data[element]) : double(in.features_f32_data[element]);
      result.batch_x[size_t(r) * in.feature_size + j] = raw * in.scale + in.offset;
    }
  }
  return result;
}

}  // namespace ts::reference
