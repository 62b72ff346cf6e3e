// Causal multi-head self-attention, both paths (plain: P materialised;
// fused: flash-attention style), forward and backward, against the
// double-precision reference (compute/reference/attention.h), whose backward
// is itself checked by finite differences. Bounds are those of
// tests/support/kernel_test.h unless a test says why it differs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "compute/kernels/attention.h"
#include "compute/reference/attention.h"
#include "compute/reference/elementwise.h"
#include "support/kernel_test.h"
#include "support/vulkan_test.h"

namespace ts {
namespace {

using kernels::AttentionPath;
using kernels::AttentionShape;
using kernels::WholeBuffer;
using reference::ToDouble;
using namespace kernel_tests;

const AttentionPath kPaths[] = {AttentionPath::kPlain, AttentionPath::kFused};
// {B, T, H, D}: one token; sizes that divide no tile (odd, prime); the model's
// shape; T past one 64-row block; D = 128 (the largest head the model allows:
// 128-float rows in the fused path's registers).
const AttentionShape kShapes[] = {{1, 1, 1, 1},  {2, 5, 1, 3},   {3, 17, 2, 7},
                                  {2, 64, 4, 32}, {1, 70, 3, 16}, {2, 33, 2, 128}};

std::string Describe(AttentionPath path, const AttentionShape& s) {
  return std::string(kernels::AttentionPathName(path)) + " B" + std::to_string(s.batch) + " T" +
         std::to_string(s.tokens) + " H" + std::to_string(s.heads) + " D" + std::to_string(s.head_dim);
}

double DefaultScale(const AttentionShape& s) { return 1.0 / std::sqrt(double(s.head_dim)); }
size_t QkvCount(const AttentionShape& s) { return s.rows() * 3 * s.width(); }
size_t YCount(const AttentionShape& s) { return s.rows() * s.width(); }

std::vector<float> ToFloat(const std::vector<double>& values) { return {values.begin(), values.end()}; }

// Scores are rounded to float before the softmax; near |S| ~ 100 that is
// 4e-6 absolute, which the exponential turns into the same relative error in P.
double LargeScoreBound(double ref) { return 1e-4 * std::max(1.0, std::abs(ref)); }

struct ForwardResult {
  std::vector<float> y, probabilities, log_sum_exp;  // probabilities: plain; log_sum_exp: fused
};
struct BackwardInputs {
  std::vector<float> qkv, y, grad_y, probabilities, log_sum_exp;
};

class AttentionTest : public KernelTest {
 protected:
  // The forward pass into poisoned y and P (plain) or lse (fused).
  ForwardResult RunForward(AttentionPath path, const AttentionShape& s, const std::vector<float>& qkv, float scale) {
    vk::Buffer qkv_buffer = MakeBuffer(qkv), y = MakePoisonedBuffer(YCount(s));
    vk::Buffer probabilities = MakePoisonedBuffer(s.score_count()), lse = MakePoisonedBuffer(s.row_stat_count());
    kernels::AttentionArgs args;
    args.path = path, args.shape = s, args.scale = scale;
    args.qkv = WholeBuffer(qkv_buffer), args.y = WholeBuffer(y);
    if (path == AttentionPath::kPlain) args.probabilities = WholeBuffer(probabilities);
    else args.log_sum_exp = WholeBuffer(lse);
    Run(kernels::AttentionDispatches(pipelines(), args));
    ForwardResult result{ReadAll(y), {}, {}};
    if (path == AttentionPath::kPlain) result.probabilities = ReadAll(probabilities);
    else result.log_sum_exp = ReadAll(lse);
    return result;
  }

  // The backward pass into a poisoned grad_qkv, with poisoned scratch.
  std::vector<float> RunBackward(AttentionPath path, const AttentionShape& s, const BackwardInputs& in, float scale) {
    vk::Buffer qkv = MakeBuffer(in.qkv), y = MakeBuffer(in.y), grad_y = MakeBuffer(in.grad_y);
    vk::Buffer probabilities = MakeBuffer(path == AttentionPath::kPlain ? in.probabilities : std::vector<float>{0});
    vk::Buffer lse = MakeBuffer(path == AttentionPath::kFused ? in.log_sum_exp : std::vector<float>{0});
    vk::Buffer row_dot = MakePoisonedBuffer(s.row_stat_count()), grad_scores = MakePoisonedBuffer(s.score_count());
    vk::Buffer grad_qkv = MakePoisonedBuffer(QkvCount(s));
    kernels::AttentionBackwardArgs args;
    args.path = path, args.shape = s, args.scale = scale;
    args.qkv = WholeBuffer(qkv), args.y = WholeBuffer(y), args.grad_y = WholeBuffer(grad_y);
    args.grad_qkv = WholeBuffer(grad_qkv);
    if (path == AttentionPath::kPlain) {
      args.probabilities = WholeBuffer(probabilities), args.grad_scores = WholeBuffer(grad_scores);
    } else {
      args.log_sum_exp = WholeBuffer(lse), args.row_dot = WholeBuffer(row_dot);
    }
    Run(kernels::AttentionBackwardDispatches(pipelines(), args));
    return ReadAll(grad_qkv);
  }

  // Forward then backward in one submission (the backward reading the
  // forward's outputs), as a training step runs them. Returns y and grad_qkv,
  // and P or lse.
  struct StepResult {
    ForwardResult forward;
    std::vector<float> grad_qkv;
    std::vector<double> times_ns;
  };
  StepResult RunStep(AttentionPath path, const AttentionShape& s, const std::vector<float>& qkv_values,
                     const std::vector<float>& grad_y_values, float scale) {
    vk::Buffer qkv = MakeBuffer(qkv_values), grad_y = MakeBuffer(grad_y_values), y = MakePoisonedBuffer(YCount(s));
    vk::Buffer probabilities = MakePoisonedBuffer(s.score_count()), scratch = MakePoisonedBuffer(s.score_count());
    vk::Buffer lse = MakePoisonedBuffer(s.row_stat_count()), row_dot = MakePoisonedBuffer(s.row_stat_count());
    vk::Buffer grad_qkv = MakePoisonedBuffer(QkvCount(s));
    kernels::AttentionArgs forward;
    forward.path = path, forward.shape = s, forward.scale = scale;
    forward.qkv = WholeBuffer(qkv), forward.y = WholeBuffer(y);
    kernels::AttentionBackwardArgs backward;
    backward.path = path, backward.shape = s, backward.scale = scale;
    backward.qkv = WholeBuffer(qkv), backward.y = WholeBuffer(y), backward.grad_y = WholeBuffer(grad_y);
    backward.grad_qkv = WholeBuffer(grad_qkv);
    if (path == AttentionPath::kPlain) {
      forward.probabilities = backward.probabilities = WholeBuffer(probabilities);
      backward.grad_scores = WholeBuffer(scratch);
    } else {
      forward.log_sum_exp = backward.log_sum_exp = WholeBuffer(lse);
      backward.row_dot = WholeBuffer(row_dot);
    }
    std::vector<vk::Dispatch> dispatches = kernels::AttentionDispatches(pipelines(), forward);
    for (vk::Dispatch& d : kernels::AttentionBackwardDispatches(pipelines(), backward)) dispatches.push_back(std::move(d));
    StepResult result;
    result.times_ns = Run(std::move(dispatches));
    result.forward.y = ReadAll(y);
    if (path == AttentionPath::kPlain) result.forward.probabilities = ReadAll(probabilities);
    else result.forward.log_sum_exp = ReadAll(lse);
    result.grad_qkv = ReadAll(grad_qkv);
    return result;
  }
};

// ---------------------------------------------------------------- reference

// loss = sum(y * G) for a random G, so dloss/dy = G: the reference backward
// against central differences of the reference forward, every element of qkv.
TEST(AttentionReference, BackwardMatchesFiniteDifferences) {
  auto rng = testing::MakeRng();
  for (const AttentionShape& s : {AttentionShape{2, 4, 2, 3}, AttentionShape{1, 6, 1, 5}}) {
    SCOPED_TRACE(Describe(AttentionPath::kPlain, s));
    const double scale = 0.8;
    std::vector<double> qkv = ToDouble(testing::RandomFloats(rng, QkvCount(s), -1.5f, 1.5f));
    std::vector<double> g = ToDouble(testing::RandomFloats(rng, YCount(s)));
    auto loss = [&](const std::vector<double>& x) {
      std::vector<double> y = reference::AttentionForward(x, s, scale).y;
      double sum = 0;
      for (size_t i = 0; i < y.size(); ++i) sum += y[i] * g[i];
      return sum;
    };
    std::vector<double> analytic = reference::AttentionBackward(qkv, g, s, scale);
    const double h = 1e-5;  // truncation ~h^2, rounding ~1e-16 / h: both far below the bound
    for (size_t i = 0; i < qkv.size(); ++i) {
      std::vector<double> plus = qkv, minus = qkv;
      plus[i] += h, minus[i] -= h;
      double numeric = (loss(plus) - loss(minus)) / (2 * h);
      EXPECT_NEAR(analytic[i], numeric, 1e-8 * std::max(1.0, std::abs(numeric))) << "qkv[" << i << "]";
    }
  }
}

// The reference's own definitions: rows of P sum to 1, zeros above the
// diagonal, lse = log of the row's sum of exp(S).
TEST(AttentionReference, ProbabilitiesAreCausalAndNormalised) {
  auto rng = testing::MakeRng();
  const AttentionShape s{2, 7, 2, 4};
  std::vector<double> qkv = ToDouble(testing::RandomFloats(rng, QkvCount(s)));
  reference::AttentionForwardOutput out = reference::AttentionForward(qkv, s, DefaultScale(s));
  for (size_t row = 0; row < s.row_stat_count(); ++row) {
    const size_t i = row % s.tokens;
    double sum = 0;
    for (size_t j = 0; j < s.tokens; ++j) {
      double p = out.probabilities[row * s.tokens + j];
      if (j > i) {
        EXPECT_EQ(p, 0.0);
      }
      sum += p;
    }
    EXPECT_NEAR(sum, 1.0, 1e-12);
    EXPECT_TRUE(std::isfinite(out.log_sum_exp[row]));
  }
}

// ---------------------------------------------------------------- forward

TEST_F(AttentionTest, ForwardMatchesReference) {
  auto rng = testing::MakeRng();
  for (AttentionPath path : kPaths)
    for (const AttentionShape& s : kShapes) {
      SCOPED_TRACE(Describe(path, s));
      std::vector<float> qkv = testing::RandomFloats(rng, QkvCount(s), -1.5f, 1.5f);
      ForwardResult gpu = RunForward(path, s, qkv, 0.0f);  // 0: the default 1 / sqrt(D)
      reference::AttentionForwardOutput ref = reference::AttentionForward(ToDouble(qkv), s, DefaultScale(s));
      ExpectAllNear(gpu.y, ref.y, "y");
      if (path == AttentionPath::kPlain) {
        ExpectAllNear(gpu.probabilities, ref.probabilities, "P");
        size_t nonzero_masked = 0;
        for (size_t k = 0; k < gpu.probabilities.size(); ++k)
          if ((k % s.tokens) > (k / s.tokens) % s.tokens && gpu.probabilities[k] != 0.0f) ++nonzero_masked;
        EXPECT_EQ(nonzero_masked, 0u) << "P above the diagonal must be exactly 0";
      } else {
        ExpectAllNear(gpu.log_sum_exp, ref.log_sum_exp, "lse");
      }
    }
}

TEST_F(AttentionTest, ForwardHonoursAnExplicitScale) {
  auto rng = testing::MakeRng();
  const AttentionShape s{2, 11, 3, 6};
  std::vector<float> qkv = testing::RandomFloats(rng, QkvCount(s));
  reference::AttentionForwardOutput ref = reference::AttentionForward(ToDouble(qkv), s, double(1.7f));
  for (AttentionPath path : kPaths) {
    SCOPED_TRACE(kernels::AttentionPathName(path));
    ForwardResult gpu = RunForward(path, s, qkv, 1.7f);
    ExpectAllNear(gpu.y, ref.y, "y");
    if (path == AttentionPath::kFused) ExpectAllNear(gpu.log_sum_exp, ref.log_sum_exp, "lse");
  }
}

// ---------------------------------------------------------------- backward

// The backward alone, from the reference's forward outputs rounded to float
// (P with exact zeros above the diagonal, as the forward writes it).
TEST_F(AttentionTest, BackwardMatchesReference) {
  auto rng = testing::MakeRng();
  for (AttentionPath path : kPaths)
    for (const AttentionShape& s : kShapes) {
      SCOPED_TRACE(Describe(path, s));
      BackwardInputs in;
      in.qkv = testing::RandomFloats(rng, QkvCount(s), -1.5f, 1.5f);
      in.grad_y = testing::RandomFloats(rng, YCount(s));
      reference::AttentionForwardOutput forward = reference::AttentionForward(ToDouble(in.qkv), s, DefaultScale(s));
      in.y = ToFloat(forward.y), in.probabilities = ToFloat(forward.probabilities);
      in.log_sum_exp = ToFloat(forward.log_sum_exp);
      std::vector<float> gpu = RunBackward(path, s, in, 0.0f);
      ExpectAllNear(gpu, reference::AttentionBackward(ToDouble(in.qkv), ToDouble(in.grad_y), s, DefaultScale(s)),
                    "grad_qkv");
    }
}

// ---------------------------------------------------------------- both paths

// A training step's forward and backward on each path: the same results to
// float rounding, and the same bits when run again (no atomics).
TEST_F(AttentionTest, PathsAgreeAndAreDeterministic) {
  auto rng = testing::MakeRng();
  for (const AttentionShape& s : {AttentionShape{2, 64, 4, 32}, AttentionShape{3, 29, 2, 9}}) {
    SCOPED_TRACE(Describe(AttentionPath::kPlain, s));
    std::vector<float> qkv = testing::RandomFloats(rng, QkvCount(s), -1.5f, 1.5f);
    std::vector<float> grad_y = testing::RandomFloats(rng, YCount(s));
    StepResult plain = RunStep(AttentionPath::kPlain, s, qkv, grad_y, 0.0f);
    StepResult fused = RunStep(AttentionPath::kFused, s, qkv, grad_y, 0.0f);
    ExpectAllNear(fused.forward.y, ToDouble(plain.forward.y), "y fused vs plain");
    ExpectAllNear(fused.grad_qkv, ToDouble(plain.grad_qkv), "grad_qkv fused vs plain");
    // The fused lse reproduces the plain P: P_ij = exp(S_ij - lse_i).
    std::vector<double> expected_p(s.score_count(), 0.0);
    const size_t T = s.tokens, D = s.head_dim, C = s.width();
    for (size_t b = 0; b < s.batch; ++b)
      for (size_t h = 0; h < s.heads; ++h)
        for (size_t i = 0; i < T; ++i)
          for (size_t j = 0; j <= i; ++j) {
            double dot = 0;
            for (size_t d = 0; d < D; ++d)
              dot += double(qkv[(b * T + i) * 3 * C + h * D + d]) * qkv[(b * T + j) * 3 * C + C + h * D + d];
            const size_t row = (b * s.heads + h) * T + i;
            expected_p[row * T + j] = std::exp(DefaultScale(s) * dot - fused.forward.log_sum_exp[row]);
          }
    ExpectAllNear(plain.forward.probabilities, expected_p, "plain P vs exp(S - fused lse)");

    for (AttentionPath path : kPaths) {
      const StepResult& first = path == AttentionPath::kPlain ? plain : fused;
      StepResult again = RunStep(path, s, qkv, grad_y, 0.0f);
      EXPECT_EQ(again.forward.y, first.forward.y) << kernels::AttentionPathName(path) << ": y not deterministic";
      EXPECT_EQ(again.grad_qkv, first.grad_qkv) << kernels::AttentionPathName(path) << ": grad_qkv not deterministic";
    }
  }
}

// Scores around 80..120 (exp overflows float past 88.7): the softmax subtracts
// the row max (plain) or rescales online (fused), so every output stays finite.
TEST_F(AttentionTest, LargeScoresStayFinite) {
  const AttentionShape s{2, 13, 2, 4};
  const size_t T = s.tokens, D = s.head_dim, C = s.width();
  auto rng = testing::MakeRng();
  std::vector<float> qkv = testing::RandomFloats(rng, QkvCount(s), -0.5f, 0.5f);
  for (size_t b = 0; b < s.batch; ++b)
    for (size_t t = 0; t < T; ++t)
      for (size_t h = 0; h < s.heads; ++h) {
        qkv[(b * T + t) * 3 * C + h * D] = 10.0f;                                  // q . k ~ 10 k_0
        qkv[(b * T + t) * 3 * C + C + h * D] = 8.0f + 4.0f * float((t * 7) % T) / T;  // k_0 in [8, 12)
      }
  std::vector<float> grad_y = testing::RandomFloats(rng, YCount(s));
  reference::AttentionForwardOutput ref = reference::AttentionForward(ToDouble(qkv), s, 1.0);
  std::vector<double> ref_grad = reference::AttentionBackward(ToDouble(qkv), ToDouble(grad_y), s, 1.0);
  double max_lse = *std::max_element(ref.log_sum_exp.begin(), ref.log_sum_exp.end());
  EXPECT_GT(max_lse, 100.0) << "the test must push scores past float's exp range";
  auto bound = [](size_t, double ref) { return LargeScoreBound(ref); };
  for (AttentionPath path : kPaths) {
    SCOPED_TRACE(kernels::AttentionPathName(path));
    StepResult gpu = RunStep(path, s, qkv, grad_y, 1.0f);
    ExpectAllNear(gpu.forward.y, ref.y, "y", bound);
    if (path == AttentionPath::kPlain) ExpectAllNear(gpu.forward.probabilities, ref.probabilities, "P", bound);
    else ExpectAllNear(gpu.forward.log_sum_exp, ref.log_sum_exp, "lse", bound);
    ExpectAllNear(gpu.grad_qkv, ref_grad, "grad_qkv", bound);
  }
}

// The mask: a token's key and value reach no earlier position. Changing them
// leaves y (and P or lse) at earlier rows bit for bit, and dQ there too (dQ_i
// depends on keys j <= i only), while later rows do change.
TEST_F(AttentionTest, FutureKeysAndValuesChangeNothingEarlier) {
  const AttentionShape s{2, 21, 2, 8};
  const size_t T = s.tokens, C = s.width(), changed = 13;
  auto rng = testing::MakeRng();
  std::vector<float> qkv = testing::RandomFloats(rng, QkvCount(s));
  std::vector<float> grad_y = testing::RandomFloats(rng, YCount(s));
  std::vector<float> altered = qkv;
  for (size_t b = 0; b < s.batch; ++b)
    for (size_t c = C; c < 3 * C; ++c)  // every head's k and v of token `changed`
      altered[(b * T + changed) * 3 * C + c] = 40.0f * (float(rng() % 1000) / 1000.0f - 0.5f);
  for (AttentionPath path : kPaths) {
    SCOPED_TRACE(kernels::AttentionPathName(path));
    StepResult before = RunStep(path, s, qkv, grad_y, 0.0f), after = RunStep(path, s, altered, grad_y, 0.0f);
    size_t earlier_differences = 0, later_differences = 0;
    auto compare = [&](float x, float y, size_t token) {
      if (x == y) return;
      (token < changed ? earlier_differences : later_differences) += 1;
    };
    for (size_t row = 0; row < s.rows(); ++row)
      for (size_t c = 0; c < C; ++c) {
        compare(before.forward.y[row * C + c], after.forward.y[row * C + c], row % T);
        compare(before.grad_qkv[row * 3 * C + c], after.grad_qkv[row * 3 * C + c], row % T);  // dQ
      }
    if (path == AttentionPath::kPlain) {
      for (size_t k = 0; k < s.score_count(); ++k)
        compare(before.forward.probabilities[k], after.forward.probabilities[k], (k / T) % T);
    } else {
      for (size_t k = 0; k < s.row_stat_count(); ++k)
        compare(before.forward.log_sum_exp[k], after.forward.log_sum_exp[k], k % T);
    }
    EXPECT_EQ(earlier_differences, 0u) << "outputs before token " << changed << " changed";
    EXPECT_GT(later_differences, 0u) << "the change should reach token " << changed << " and later";
  }
}

// ---------------------------------------------------------------- timing

// Not a benchmark and not asserted: the GPU time of one forward + backward of
// each path at the model's shape, printed (and recorded as test properties) so
// the plan can pick a path by measuring later. Each dispatch's fastest of 5 runs.
TEST_F(AttentionTest, ReportsTimesAtTheModelShape) {
  const AttentionShape s{12, 64, 4, 32};
  auto rng = testing::MakeRng();
  std::vector<float> qkv = testing::RandomFloats(rng, QkvCount(s)), grad_y = testing::RandomFloats(rng, YCount(s));
  for (AttentionPath path : kPaths) {
    RunStep(path, s, qkv, grad_y, 0.0f);  // warm-up: the driver compiles the pipelines
    StepResult step = RunStep(path, s, qkv, grad_y, 0.0f);
    for (int repeat = 0; repeat < 4; ++repeat) {  // the fastest of 5: other work shares the device
      StepResult again = RunStep(path, s, qkv, grad_y, 0.0f);
      for (size_t k = 0; k < step.times_ns.size(); ++k) step.times_ns[k] = std::min(step.times_ns[k], again.times_ns[k]);
    }
    double forward_ns = 0, backward_ns = 0;
    const size_t forward_count = path == AttentionPath::kPlain ? 2 : 1;
    std::string per_dispatch;
    for (size_t k = 0; k < step.times_ns.size(); ++k) {
      (k < forward_count ? forward_ns : backward_ns) += step.times_ns[k];
      per_dispatch += (k ? ", " : "") + std::to_string(int(step.times_ns[k] / 1e3)) + " us";
    }
    std::printf("[ timing   ] attention %s B12 T64 H4 D32 on %s: forward %.1f us, backward %.1f us (%s)\n",
                kernels::AttentionPathName(path), context().info().name.c_str(), forward_ns / 1e3, backward_ns / 1e3,
                per_dispatch.c_str());
    const std::string name = kernels::AttentionPathName(path);
    RecordProperty(name + "_forward_us", std::to_string(forward_ns / 1e3));
    RecordProperty(name + "_backward_us", std::to_string(backward_ns / 1e3));
  }
}

}  // namespace
}  // namespace ts
