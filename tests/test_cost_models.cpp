// Every kernel's declared cost (vk::Cost: FLOPs, bytes read, bytes written)
// against the same figures worked out by hand from the shape, at a few shapes
// including odd ones. The profiler's GFLOP/s, GB/s, intensity and roofline
// verdicts are only as honest as these declarations.
//
// Conventions (see vk::Cost): an FMA counts 2 FLOPs; bytes are the minimum
// traffic, every tensor a kernel must touch read or written once (4 bytes a
// float or index, 1 a uint8 feature); re-reads that caches serve are not
// counted.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "compute/kernels/activation.h"
#include "compute/kernels/batchnorm.h"
#include "compute/kernels/conv2d.h"
#include "compute/kernels/copy.h"
#include "compute/kernels/dropout.h"
#include "compute/kernels/gather.h"
#include "compute/kernels/init.h"
#include "compute/kernels/loss.h"
#include "compute/kernels/matmul.h"
#include "compute/kernels/optimizer.h"
#include "compute/kernels/pool.h"
#include "shaders/step_params.h"
#include "support/vulkan_test.h"

namespace ts {
namespace {

using kernels::TensorRef;

class CostTest : public testing::VulkanTest {
 protected:
  // A buffer of `count` 4-byte elements (never run: only the dispatch is built).
  TensorRef Ref(uint64_t count) {
    buffers_.push_back(std::make_unique<vk::Buffer>(context(), std::max<uint64_t>(count, 1) * 4, "cost test"));
    return {buffers_.back().get(), 0, count};
  }
  TensorRef StepParams() { return Ref(sizeof(gpu::StepParams) / 4); }
  std::vector<std::unique_ptr<vk::Buffer>> buffers_;
};

void ExpectCost(const vk::Cost& declared, double flops, double read, double written, const std::string& what) {
  EXPECT_DOUBLE_EQ(declared.flops, flops) << what << ": FLOPs";
  EXPECT_DOUBLE_EQ(declared.bytes_read, read) << what << ": bytes read";
  EXPECT_DOUBLE_EQ(declared.bytes_written, written) << what << ": bytes written";
}

const double kStepParamsBytes = sizeof(gpu::StepParams);

// ---- matmul: C (M x N) = op(A) (M x K) op(B) (K x N) ---------------------------
// flops = 2MKN (+ MN adds when accumulating); reads 4(MK + KN) (+ 4MN); writes 4MN.
TEST_F(CostTest, MatmulAndItsBackwardForms) {
  for (auto [m, n, k] : {std::tuple{64u, 128u, 784u}, {7u, 13u, 5u}, {1u, 1u, 1u}, {33u, 10u, 129u}})
    for (kernels::MatmulVariant variant : {kernels::MatmulVariant::kRegisterBlocked, kernels::MatmulVariant::kSharedTiled})
      for (int form = 0; form < 4; ++form) {
        const bool ta = form == 1, tb = form == 2, accumulate = form == 3;
        kernels::MatmulArgs a{Ref(uint64_t(m) * k), Ref(uint64_t(k) * n), Ref(uint64_t(m) * n), m, n, k, ta, tb, accumulate};
        const vk::Dispatch d = kernels::MatmulDispatch(pipelines(), a, variant);
        const double M = m, N = n, K = k;
        ExpectCost(d.cost, 2 * M * K * N + (accumulate ? M * N : 0), 4 * (M * K + K * N + (accumulate ? M * N : 0)),
                   4 * M * N, d.label);
      }
}

// ---- conv2d: N x H x W x Cin -> N x OH x OW x Cout, KH x KW taps ----------------
// flops = 2 N OH OW Cout KH KW Cin for each of the three forms (padding taps included);
// forward reads X and W, writes Y; backward data reads dY and W, writes dX;
// backward filter reads X and dY, writes dW.
TEST_F(CostTest, Conv2DForwardAndBothBackwardForms) {
  struct Shape { uint32_t n, h, w, cin, cout, kh, kw, stride; kernels::Conv2DPadding padding; };
  for (const Shape& s : {Shape{2, 28, 28, 1, 32, 3, 3, 1, kernels::Conv2DPadding::kValid},
                         Shape{3, 13, 11, 5, 7, 3, 2, 2, kernels::Conv2DPadding::kSame},
                         Shape{1, 9, 9, 4, 3, 5, 5, 1, kernels::Conv2DPadding::kExplicit}}) {
    kernels::Conv2DGeometry g;
    g.batch = s.n, g.in_height = s.h, g.in_width = s.w, g.in_channels = s.cin, g.out_channels = s.cout;
    g.kernel_height = s.kh, g.kernel_width = s.kw, g.stride_h = g.stride_w = s.stride;
    g = kernels::ResolveConv2DPadding(g, s.padding, 1, 2);
    const double oh = g.out_height, ow = g.out_width;
    if (s.padding == kernels::Conv2DPadding::kValid) {
      EXPECT_EQ(oh, (s.h - s.kh) / s.stride + 1);
    }
    if (s.padding == kernels::Conv2DPadding::kSame) {
      EXPECT_EQ(oh, (s.h + s.stride - 1) / s.stride);
    }
    const double x = double(s.n) * s.h * s.w * s.cin, y = double(s.n) * oh * ow * s.cout,
                 w = double(s.kh) * s.kw * s.cin * s.cout;
    const double flops = 2.0 * s.n * oh * ow * s.cout * s.kh * s.kw * s.cin;
    const TensorRef X = Ref(uint64_t(x)), Y = Ref(uint64_t(y)), W = Ref(uint64_t(w));
    for (kernels::Conv2DVariant v : {kernels::Conv2DVariant::kImplicitGemm, kernels::Conv2DVariant::kDirect}) {
      const vk::Dispatch f = kernels::Conv2DDispatch(pipelines(), {X, W, Y, g}, v);
      ExpectCost(f.cost, flops, 4 * (x + w), 4 * y, "conv2d forward " + kernels::Conv2DDescription(g));
    }
    ExpectCost(kernels::Conv2DBackwardDataDispatch(pipelines(), {Y, W, X, g}).cost, flops, 4 * (y + w), 4 * x,
               "conv2d backward data");
    ExpectCost(kernels::Conv2DBackwardFilterDispatch(pipelines(), {X, Y, W, g}).cost, flops, 4 * (x + y), 4 * w,
               "conv2d backward filter");
  }
}

// ---- pooling: window KH x KW over N x H x W x C -> N x OH x OW x C -------------
// max forward: one compare per tap (flops = out * taps); reads X; writes Y and the argmax (2 x 4 out).
// avg forward: one add per tap and one scale per output; reads X; writes Y.
// max backward: one add per output into dX; reads dY and argmax; writes every dX.
// avg backward: one add per (output, tap), one per input (clearing); reads dY; writes dX.
TEST_F(CostTest, PoolingForwardAndBackward) {
  auto pool_shape = [](uint32_t n, uint32_t h, uint32_t w, uint32_t c, uint32_t k, uint32_t stride, uint32_t pad) {
    kernels::PoolShape s;
    s.batch = n, s.height = h, s.width = w, s.channels = c, s.window_h = s.window_w = k, s.stride_h = s.stride_w = stride;
    s.pad_top = s.pad_bottom = s.pad_left = s.pad_right = pad;
    return s;
  };
  for (const kernels::PoolShape& s : {pool_shape(2, 26, 26, 32, 2, 2, 0), pool_shape(3, 7, 9, 5, 3, 2, 1),
                                      kernels::GlobalAveragePoolShape(4, 5, 3, 6)}) {
    ASSERT_EQ(kernels::PoolShapeProblem(s), "");
    const double in = double(s.batch) * s.height * s.width * s.channels;
    const double out = double(s.batch) * s.out_height() * s.out_width() * s.channels;
    const double taps = double(s.window_h) * s.window_w;
    const TensorRef X = Ref(uint64_t(in)), Y = Ref(uint64_t(out)), arg = Ref(uint64_t(out));
    // The same declared cost on either path (vec4 where channels % 4 == 0).
    using kernels::PoolPath;
    for (PoolPath path : s.channels % 4 == 0 ? std::vector<PoolPath>{PoolPath::kScalar, PoolPath::kVec4}
                                             : std::vector<PoolPath>{PoolPath::kScalar}) {
      const std::string p = path == PoolPath::kVec4 ? " (vec4)" : " (scalar)";
      ExpectCost(kernels::PoolDispatch(pipelines(), {kernels::PoolKind::kMax, s, X, Y, arg, path}).cost, out * taps,
                 4 * in, 2 * 4 * out, "max pool forward" + p);
      ExpectCost(kernels::PoolDispatch(pipelines(), {kernels::PoolKind::kAverage, s, X, Y, {}, path}).cost,
                 out * taps + out, 4 * in, 4 * out, "avg pool forward" + p);
      ExpectCost(kernels::PoolBackwardDispatch(pipelines(), {kernels::PoolKind::kMax, s, Y, arg, X, path}).cost, out,
                 2 * 4 * out, 4 * in, "max pool backward" + p);
      ExpectCost(kernels::PoolBackwardDispatch(pipelines(), {kernels::PoolKind::kAverage, s, Y, {}, X, path}).cost,
                 out * taps + in, 4 * out, 4 * in, "avg pool backward" + p);
    }
  }
}

// ---- bias + activation over a (rows, cols) matrix, n = rows * cols ----------------
// FLOPs per element of each activation, forward / backward (see activation.cpp):
//   identity 0/0, relu 1/1 (max; select), leaky 2/2, sigmoid 5/3, tanh 7/3, gelu 30/36.
// forward: n bias adds + n * act; reads pre (4n) and bias (4 cols); writes pre back
//   when biased (4n) and out when there is an activation (4n).
// backward: n * act' + n adds into the bias sums; reads dY and whichever of pre
//   (relu, leaky, gelu) or out (sigmoid, tanh) the derivative needs; writes dZ
//   (unless identity) and the bias's partial sums (cols per row block).
TEST_F(CostTest, BiasActivationForwardAndBackward) {
  using A = kernels::Activation;
  const std::vector<std::tuple<A, double, double, int>> acts = {
      {A::kIdentity, 0, 0, 0}, {A::kRelu, 1, 1, 1},  {A::kLeakyRelu, 2, 2, 1},
      {A::kSigmoid, 5, 3, 2},  {A::kTanh, 7, 3, 2},  {A::kGelu, 30, 36, 1}};  // 1: reads pre, 2: reads out
  for (auto [rows, cols] : {std::pair{64u, 128u}, {37u, 5u}, {1000u, 10u}}) {
    const double n = double(rows) * cols;
    const TensorRef pre = Ref(uint64_t(n)), out = Ref(uint64_t(n)), bias = Ref(cols), grad = Ref(uint64_t(n)),
                    grad_pre = Ref(uint64_t(n)), grad_bias = Ref(cols);
    const uint64_t workspace_count = kernels::BiasActivationBackwardWorkspaceCount(rows, cols);
    const TensorRef workspace = workspace_count ? Ref(workspace_count) : TensorRef{};
    for (auto [act, forward_flops, backward_flops, reads] : acts) {
      const std::string what = std::string(kernels::ActivationName(act)) + " " + std::to_string(rows) + "x" +
                               std::to_string(cols);
      for (bool with_bias : {true, false}) {
        if (!with_bias && act == A::kIdentity) continue;  // nothing to do
        const bool write_out = act != A::kIdentity;
        kernels::BiasActivationArgs f{pre, with_bias ? bias : TensorRef{}, write_out ? out : TensorRef{}, rows, cols, act};
        ExpectCost(kernels::BiasActivationDispatch(pipelines(), f).cost,
                   (with_bias ? n : 0) + (write_out ? n * forward_flops : 0), 4 * n + (with_bias ? 4.0 * cols : 0),
                   (with_bias ? 4 * n : 0) + (write_out ? 4 * n : 0), what + " forward");
      }
      // Backward with a bias gradient, as a plan records it (split over row blocks when there are many rows).
      kernels::BiasActivationBackwardArgs b{grad, pre, out, act == A::kIdentity ? TensorRef{} : grad_pre, grad_bias,
                                            rows, cols, act};
      b.workspace = workspace;
      const std::vector<vk::Dispatch> back = kernels::BiasActivationBackwardDispatches(pipelines(), b);
      const double read = 4 * n * (1 + (reads ? 1 : 0));
      const double dz = act == A::kIdentity ? 0 : 4 * n;
      if (back.size() == 2) {
        const double partials = double(workspace_count);  // cols per row block
        ExpectCost(back[0].cost, n * backward_flops + n, read, dz + 4 * partials, what + " backward (row blocks)");
        ExpectCost(back[1].cost, partials, 4 * partials, 4.0 * cols, what + " backward (combine)");
      } else {
        ASSERT_EQ(back.size(), 1u);
        ExpectCost(back[0].cost, n * backward_flops + n, read, dz + 4.0 * cols, what + " backward");
      }
    }
  }
}

// ---- batch norm over (rows, C), n = rows * C ---------------------------------------
// evaluation: y = (x - mean) * (gamma * inv_std) + beta: 3 FLOPs per element plus
//   12 per channel (inv_std and the folded scale and shift); reads x, gamma, beta,
//   running mean and variance (4n + 16C); writes y (4n).
// training, one dispatch: + the statistics' 5 per element; also writes the running
//   statistics and the saved mean and inverse std (16C).
// backward, one dispatch: 11 per element + 4 per channel; reads dY, x (8n) and gamma,
//   saved mean, saved inv std (12C); writes dX (4n), d(gamma), d(beta) (8C).
TEST_F(CostTest, BatchNormForwardAndBackward) {
  for (auto [rows, c] : {std::pair{64u, 16u}, {5u, 3u}, {4096u, 7u}}) {
    const double n = double(rows) * c, C = c;
    const TensorRef x = Ref(uint64_t(n)), y = Ref(uint64_t(n)), gamma = Ref(c), beta = Ref(c), mean = Ref(c), var = Ref(c),
                    saved_mean = Ref(c), saved_inv_std = Ref(c), grad_y = Ref(uint64_t(n)), grad_x = Ref(uint64_t(n)),
                    grad_gamma = Ref(c), grad_beta = Ref(c);
    const std::string what = std::to_string(rows) + "x" + std::to_string(c);
    kernels::BatchNormArgs eval{x, gamma, beta, mean, var, {}, {}, y, rows, c, false};
    ExpectCost(kernels::BatchNormDispatch(pipelines(), eval).cost, 3 * n + 12 * C, 4 * n + 16 * C, 4 * n,
               "batchnorm evaluation " + what);
    kernels::BatchNormArgs train{x, gamma, beta, mean, var, saved_mean, saved_inv_std, y, rows, c, true};
    ExpectCost(kernels::BatchNormDispatch(pipelines(), train).cost, 8 * n + 12 * C, 4 * n + 16 * C, 4 * n + 16 * C,
               "batchnorm training " + what);
    kernels::BatchNormBackwardArgs back{grad_y, x, gamma, saved_mean, saved_inv_std, grad_x, grad_gamma, grad_beta, rows, c};
    ExpectCost(kernels::BatchNormBackwardDispatch(pipelines(), back).cost, 11 * n + 4 * C, 8 * n + 12 * C, 4 * n + 8 * C,
               "batchnorm backward " + what);
    // Split over row blocks: the statistics / sums pass writes 2 partial sums per
    // (block, channel); the second pass reads all of them in every block.
    if (const uint64_t workspace = kernels::BatchNormWorkspaceCount(rows, c); workspace > 0) {
      const double blocks = kernels::BatchNormRowBlocks(rows), partials = 2 * blocks * C;
      EXPECT_EQ(double(workspace), partials);
      train.workspace = Ref(workspace);
      const auto forward = kernels::BatchNormDispatches(pipelines(), train);
      ASSERT_EQ(forward.size(), 2u);
      ExpectCost(forward[0].cost, 5 * n, 4 * n, 4 * partials, "batchnorm statistics " + what);
      ExpectCost(forward[1].cost, 3 * n + 12 * C + 3 * partials, 4 * n + 16 * C + 4 * partials * blocks, 4 * n + 16 * C,
                 "batchnorm normalise " + what);
      back.workspace = train.workspace;
      const auto backward = kernels::BatchNormBackwardDispatches(pipelines(), back);
      ASSERT_EQ(backward.size(), 2u);
      ExpectCost(backward[0].cost, 5 * n, 8 * n + 8 * C, 4 * partials, "batchnorm backward sums " + what);
      ExpectCost(backward[1].cost, 6 * n + 4 * C + partials, 8 * n + 12 * C + 4 * partials * blocks, 4 * n + 8 * C,
                 "batchnorm backward apply " + what);
    }
  }
}

// ---- dropout over `count` elements ----------------------------------------------
// one multiply (or select) per element; reads X, writes Y (the step counter read is
// 16 bytes, not counted). The backward applies the same mask to dY.
TEST_F(CostTest, Dropout) {
  for (uint32_t count : {1000u, 7u, 4097u}) {
    const TensorRef in = Ref(count), out = Ref(count);
    const double n = count;
    kernels::DropoutArgs a{in, out, count, 0.3f, 5, 0, StepParams()};
    ExpectCost(kernels::DropoutDispatch(pipelines(), a).cost, n, 4 * n, 4 * n, "dropout forward");
    ExpectCost(kernels::DropoutBackwardDispatch(pipelines(), a).cost, n, 4 * n, 4 * n, "dropout backward");
  }
}

// ---- loss over (rows, cols) logits, n = rows * cols ---------------------------------
// FLOPs per logit: softmax cross-entropy 9, MSE 7, BCE with logits 15 (see loss.cpp);
// reads the logits (4n) and labels (4 rows); writes each row's loss and correctness
// (8 rows) and the gradient (training, 4n) or the probabilities (evaluation, 4n).
// metrics: a sum of rows losses and of rows correct (2 rows FLOPs); reads both (8 rows)
// and the step parameters; writes 4 floats.
TEST_F(CostTest, LossAndMetrics) {
  using L = kernels::LossKind;
  for (auto [rows, cols] : {std::pair{64u, 10u}, {33u, 3u}, {5u, 1u}})
    for (auto [kind, per_logit] : {std::pair{L::kSoftmaxCrossEntropy, 9.0}, {L::kMeanSquaredError, 7.0},
                                   {L::kBinaryCrossEntropyWithLogits, 15.0}}) {
      const double n = double(rows) * cols, r = rows;
      const TensorRef logits = Ref(uint64_t(n)), labels = Ref(rows), loss = Ref(rows), correct = Ref(rows),
                      grad = Ref(uint64_t(n)), probabilities = Ref(uint64_t(n));
      const std::string what = std::string(kernels::LossName(kind)) + " " + std::to_string(rows) + "x" + std::to_string(cols);
      ExpectCost(kernels::LossDispatch(pipelines(), {kind, logits, labels, loss, correct, grad, {}, rows, cols}).cost,
                 n * per_logit, 4 * n + 4 * r, 8 * r + 4 * n, what + " training");
      ExpectCost(kernels::LossDispatch(pipelines(), {kind, logits, labels, loss, correct, {}, probabilities, rows, cols}).cost,
                 n * per_logit, 4 * n + 4 * r, 8 * r + 4 * n, what + " evaluation");
      ExpectCost(kernels::MetricsDispatch(pipelines(), {loss, correct, StepParams(), Ref(4), rows}).cost, 2 * r,
                 8 * r + kStepParamsBytes, 16, "metrics");
    }
}

// ---- optimizer over `count` parameters -------------------------------------------
// FLOPs per parameter: sgd 2 (p -= lr g), momentum 4 (buf = mu buf + g; p -= lr buf),
// nesterov +2, adam / adamw 17 (see optimizer.cpp), weight decay +2;
// reads p, g and each state tensor plus the step parameters; writes p and each state.
TEST_F(CostTest, OptimizerEachKind) {
  using O = kernels::OptimizerKind;
  for (uint32_t count : {1000u, 12u, 65540u})
    for (auto [kind, per_parameter, states] : {std::tuple{O::kSgd, 2.0, 0}, {O::kMomentum, 4.0, 1}, {O::kAdam, 17.0, 2},
                                               {O::kAdamW, 17.0, 2}})
      for (bool decay : {false, true})
        for (bool nesterov : {false, true}) {
          if (nesterov && kind != O::kMomentum) continue;
          const double n = count;
          kernels::OptimizerArgs a{kind, Ref(count), Ref(count), states > 0 ? Ref(count) : TensorRef{},
                                   states > 1 ? Ref(count) : TensorRef{}, StepParams(), count};
          a.hyper.weight_decay = decay ? 0.01f : 0.0f;
          a.hyper.nesterov = nesterov;
          const double flops = n * (per_parameter + (decay ? 2 : 0) + (nesterov ? 2 : 0));
          ExpectCost(kernels::OptimizerDispatch(pipelines(), a).cost, flops, 4 * n * (2 + states) + kStepParamsBytes,
                     4 * n * (1 + states), std::string(kernels::OptimizerName(kind)) + (decay ? " with decay" : "") +
                                               (nesterov ? " nesterov" : ""));
        }
}

// ---- gather: a batch of `rows` samples of `features` values -----------------------
// scale and offset per value (2 FLOPs); reads the features (1 byte each for uint8,
// 4 for float), each row's permutation entry and label (8 rows) and the step
// parameters; writes the batch (4 per value) and its labels (4 rows).
TEST_F(CostTest, Gather) {
  for (auto [rows, features] : {std::pair{64u, 784u}, {5u, 3u}, {33u, 2u}})
    for (bool u8 : {false, true}) {
      const uint32_t samples = 100;
      const double n = double(rows) * features, r = rows;
      kernels::GatherArgs a;
      a.features = Ref(u8 ? (uint64_t(samples) * features + 3) / 4 : uint64_t(samples) * features);
      a.features_u8 = u8;
      a.labels = Ref(samples);
      a.permutation = Ref(samples);
      a.step_params = StepParams();
      a.batch_x = Ref(uint64_t(n));
      a.batch_labels = Ref(rows);
      a.rows = rows, a.feature_size = features, a.permutation_count = samples;
      ExpectCost(kernels::GatherDispatch(pipelines(), a).cost, 2 * n, n * (u8 ? 1 : 4) + 8 * r + kStepParamsBytes,
                 4 * n + 4 * r, std::string("gather ") + (u8 ? "uint8 " : "float ") + std::to_string(rows));
    }
}

// ---- copy and init ------------------------------------------------------------------
// copy: no FLOPs, reads and writes every byte. init: uniform 4 FLOPs per value
// (convert, scale, 2u - 1, * limit), normal 9 (Box-Muller), zeros / ones 0; reads nothing,
// writes every value.
TEST_F(CostTest, CopyAndInit) {
  for (uint32_t count : {1000u, 5u, 4099u}) {
    const double n = count;
    // The copy moves float4s: its ranges are whole float4s (it asserts so).
    const uint32_t copied = count / 4 * 4;
    ExpectCost(kernels::CopyDispatch(pipelines(), Ref(copied), Ref(copied)).cost, 0, 4.0 * copied, 4.0 * copied, "copy");
    using I = kernels::InitKind;
    for (auto [kind, per_value] : {std::pair{I::kZeros, 0.0}, {I::kOnes, 0.0}, {I::kHeUniform, 4.0}, {I::kXavierUniform, 4.0},
                                   {I::kHeNormal, 9.0}, {I::kXavierNormal, 9.0}})
      ExpectCost(kernels::InitDispatch(pipelines(), {Ref(count), count, kind, 7, 3, 1}).cost, n * per_value, 0, 4 * n,
                 std::string("init ") + kernels::InitName(kind));
  }
}

}  // namespace
}  // namespace ts
