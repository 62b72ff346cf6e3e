// The fused small-network inference kernel (mlp_infer.comp) against a
// double-precision CPU reference, FusedMlpInference against the model's own
// layer-by-layer forward pass, and the decision boundary's two paths.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "compute/kernels/mlp_infer.h"
#include "compute/nn/boundary.h"
#include "compute/nn/fused_mlp.h"
#include "compute/nn/trainer.h"
#include "compute/reference/elementwise.h"
#include "support/test_data.h"
#include "support/vulkan_test.h"

namespace ts {
namespace {

using kernels::Activation;
using kernels::MlpInferHead;

struct Network {
  std::vector<uint32_t> widths;
  std::vector<Activation> activations;
  MlpInferHead head;
};

// Outputs of the network for every row, in double precision.
std::vector<double> ReferenceForward(const Network& net, const std::vector<std::vector<float>>& weights,
                                     const std::vector<std::vector<float>>& biases, const std::vector<float>& inputs,
                                     uint32_t rows, float leaky_slope) {
  std::vector<double> result;
  for (uint32_t r = 0; r < rows; ++r) {
    std::vector<double> x(inputs.begin() + size_t(r) * net.widths[0], inputs.begin() + size_t(r + 1) * net.widths[0]);
    for (size_t l = 1; l < net.widths.size(); ++l) {
      const uint32_t in = net.widths[l - 1], out = net.widths[l];
      std::vector<double> y(out);
      for (uint32_t o = 0; o < out; ++o) {
        double sum = biases[l - 1].empty() ? 0.0 : biases[l - 1][o];
        for (uint32_t i = 0; i < in; ++i) sum += x[i] * double(weights[l - 1][size_t(i) * out + o]);
        y[o] = reference::Activate(net.activations[l - 1], sum, leaky_slope);
      }
      x = std::move(y);
    }
    if (net.head == MlpInferHead::kSoftmax) {
      const double top = *std::max_element(x.begin(), x.end());
      double total = 0;
      for (double& v : x) total += (v = std::exp(v - top));
      for (double& v : x) v /= total;
    } else if (net.head == MlpInferHead::kSigmoid) {
      for (double& v : x) v = 1.0 / (1.0 + std::exp(-v));
    }
    result.insert(result.end(), x.begin(), x.end());
  }
  return result;
}

class MlpInferTest : public testing::VulkanTest {
 protected:
  // Runs `net` on `rows` fresh random rows at each of `blockings` (rows per
  // invocation) and checks every output element against the reference.
  void CheckNetwork(const Network& net, uint32_t rows, std::vector<uint32_t> blockings, bool with_biases = true) {
    auto rng = testing::MakeRng(rows * 31 + net.widths.size());
    const float slope = 0.07f;
    std::vector<std::vector<float>> weights, biases;
    for (size_t l = 1; l < net.widths.size(); ++l) {
      const float scale = 1.5f / std::sqrt(float(net.widths[l - 1]));
      weights.push_back(testing::RandomFloats(rng, size_t(net.widths[l - 1]) * net.widths[l], -scale, scale));
      biases.push_back(with_biases ? testing::RandomFloats(rng, net.widths[l], -0.5f, 0.5f) : std::vector<float>{});
    }
    const std::vector<float> inputs = testing::RandomFloats(rng, size_t(rows) * net.widths[0], -2.0f, 2.0f);
    std::vector<std::span<const float>> weight_views(weights.begin(), weights.end()),
        bias_views(biases.begin(), biases.end());
    const std::vector<float> packed = kernels::MlpInferPackWeights(net.widths, weight_views, bias_views);
    ASSERT_EQ(packed.size(), kernels::MlpInferWeightCount(net.widths));
    const std::vector<double> expected = ReferenceForward(net, weights, biases, inputs, rows, slope);

    vk::Buffer input_buffer = MakeBuffer(inputs, "rows");
    vk::Buffer weight_buffer = MakeBuffer(packed, "packed weights");
    const size_t output_count = size_t(rows) * net.widths.back();
    for (uint32_t rows_per_invocation : blockings) {
      vk::Buffer outputs = MakePoisonedBuffer(output_count);
      kernels::MlpInferArgs args{kernels::WholeBuffer(input_buffer), kernels::WholeBuffer(weight_buffer),
                                 kernels::WholeBuffer(outputs), rows, net.widths, net.activations, slope, net.head,
                                 rows_per_invocation};
      Run({kernels::MlpInferDispatch(pipelines(), args)});
      const std::vector<float> got = Read<float>(outputs, output_count);
      size_t bad = 0;
      for (size_t i = 0; i < output_count; ++i) {
        const double bound = 2e-5 * std::max(1.0, std::abs(expected[i]));
        if (!(std::abs(double(got[i]) - expected[i]) <= bound) && bad++ < 5)
          ADD_FAILURE() << "rows per invocation " << rows_per_invocation << ", output " << i << " (row "
                        << i / net.widths.back() << "): got " << got[i] << ", expected " << expected[i];
      }
      EXPECT_EQ(bad, 0u) << "rows per invocation " << rows_per_invocation;
    }
  }
};

TEST_F(MlpInferTest, EveryOutputMatchesTheReferenceAtOddShapesAndEveryBlocking) {
  // Row counts that divide neither the workgroup (64) nor the rows per
  // invocation. Every blocking the tuner tries on the small networks; the
  // widest network (slow to compile when unrolled) at two.
  const std::vector<uint32_t> all = {1, 2, 4, 8, 16};
  CheckNetwork({{3, 5, 7, 2}, {Activation::kTanh, Activation::kLeakyRelu, Activation::kIdentity}, MlpInferHead::kSoftmax},
               37, all);
  CheckNetwork({{4, 1}, {Activation::kIdentity}, MlpInferHead::kSigmoid}, 130, all);
  CheckNetwork({{2, 6, 1}, {Activation::kSigmoid, Activation::kSigmoid}, MlpInferHead::kIdentity}, 1, {1, 3}, false);
  CheckNetwork({{2, 32, 32, 3}, {Activation::kRelu, Activation::kRelu, Activation::kIdentity}, MlpInferHead::kSoftmax},
               1001, {1, 3, 8});
  CheckNetwork({{5, 64, 9, 64, 6},
                {Activation::kGelu, Activation::kSigmoid, Activation::kRelu, Activation::kTanh},
                MlpInferHead::kIdentity},
               203, {1, 3});
}

TEST_F(MlpInferTest, DeclaredCostCountsTheMultiplyAddsAndTheTraffic) {
  vk::Buffer dummy(context(), 4096, "dummy");
  kernels::MlpInferArgs args{kernels::WholeBuffer(dummy), kernels::WholeBuffer(dummy), kernels::WholeBuffer(dummy),
                             10, {2, 3, 5}, {Activation::kRelu, Activation::kIdentity}, 0.01f, MlpInferHead::kSoftmax, 4};
  const vk::Dispatch d = kernels::MlpInferDispatch(pipelines(), args);
  EXPECT_DOUBLE_EQ(d.cost.flops, 10.0 * 2 * (2 * 3 + 3 * 5));
  EXPECT_DOUBLE_EQ(d.cost.bytes_read, 4.0 * (10 * 2 + (3 * 3 + 4 * 5)));  // rows, then weights and biases once
  EXPECT_DOUBLE_EQ(d.cost.bytes_written, 4.0 * 10 * 5);
  EXPECT_EQ(d.workgroups[0], 1u);  // ceil(10 / 4) invocations in one group of 64
  // Layout: 2 weight rows of ceil(3/4) = 1 vec4, a bias vec4; 3 rows of 2 vec4s, 2 bias vec4s.
  EXPECT_EQ(kernels::MlpInferWeightCount({2, 3, 5}), 4u * (3 * 1 + 4 * 2));
}

nn::ModelDesc Model(const std::string& layers) { return testing::TestModel(layers); }

TEST_F(MlpInferTest, FusedInferenceEqualsTheModelsOwnForwardPass) {
  const std::vector<std::string> models = {
      R"({"type": "input", "shape": [2]}, {"type": "dense", "units": 32}, {"type": "relu"},
         {"type": "dense", "units": 32}, {"type": "relu"}, {"type": "dense", "units": 3},
         {"type": "softmax_cross_entropy"})",
      R"({"type": "input", "shape": [2]}, {"type": "dense", "units": 9, "bias": false}, {"type": "tanh"},
         {"type": "dropout", "rate": 0.3}, {"type": "dense", "units": 1}, {"type": "bce_with_logits"})",
      R"({"type": "input", "shape": [3]}, {"type": "dense", "units": 6}, {"type": "leaky_relu", "slope": 0.2},
         {"type": "dense", "units": 2}, {"type": "mse"})"};
  for (const std::string& layers : models) {
    SCOPED_TRACE(layers);
    const nn::ModelDesc model = Model(layers);
    const uint32_t features = static_cast<uint32_t>(nn::ShapeElements(model.layers[0].shape));
    const nn::LayerDesc& last_dense = *std::find_if(model.layers.rbegin(), model.layers.rend(), [](const nn::LayerDesc& l) {
      return l.kind == nn::LayerKind::kDense;
    });
    const data::Dataset rows = testing::RandomDataset(777, features, std::max(2u, last_dense.units), features);
    nn::TrainConfig config;
    config.batch_size = 777;
    config.seed = 5;
    nn::Trainer trainer(context(), pipelines(), model, config, nullptr, nullptr);
    const std::vector<float> expected = trainer.Predict(rows);
    ASSERT_EQ(nn::FusedMlpInference::Unsupported(context(), model, rows.count()), "");
    nn::FusedMlpInference fused(context(), pipelines(), model, rows);
    const std::vector<float> got = fused.Run(trainer.plan().ReadParameters()).outputs;
    ASSERT_EQ(got.size(), expected.size());
    for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], expected[i], 2e-5 * std::max(1.0f, std::abs(expected[i]))) << i;
  }
}

TEST_F(MlpInferTest, ModelsTheKernelCannotRunSayWhy) {
  auto reason = [&](const std::string& layers) {
    return nn::FusedMlpInference::Unsupported(context(), Model(layers), 100);
  };
  EXPECT_NE(reason(R"({"type": "input", "shape": [1, 6, 6]}, {"type": "conv2d", "filters": 2, "kernel": [3, 3]},
                      {"type": "flatten"}, {"type": "dense", "units": 2}, {"type": "softmax_cross_entropy"})")
                .find("'conv2d_1' is not a dense"), std::string::npos);
  EXPECT_NE(reason(R"({"type": "input", "shape": [2]}, {"type": "dense", "units": 65}, {"type": "dense", "units": 2},
                      {"type": "mse"})").find("65 wide"), std::string::npos);
  std::string five = R"({"type": "input", "shape": [2]})";
  for (int i = 0; i < 5; ++i) five += R"(, {"type": "dense", "units": 4})";
  EXPECT_NE(reason(five + R"(, {"type": "mse"})").find("5 dense layers"), std::string::npos);
  EXPECT_NE(reason(R"({"type": "input", "shape": [2]}, {"type": "dense", "units": 4}, {"type": "relu"}, {"type": "tanh"},
                      {"type": "dense", "units": 2}, {"type": "mse"})").find("does not follow a dense layer"),
            std::string::npos);
  EXPECT_THROW(nn::BoundaryEvaluator(context(), pipelines(),
                                     Model(R"({"type": "input", "shape": [2]}, {"type": "dense", "units": 70},
                                              {"type": "dense", "units": 2}, {"type": "mse"})"),
                                     nn::TrainConfig{}, 8, {-1, 1, -1, 1}, nn::BoundaryPath::kFused),
               Error);
}

TEST_F(MlpInferTest, BoundaryPathsAgreeAndTheHiddenLayersComeWithTheOutputs) {
  const nn::ModelDesc model = Model(R"({"type": "input", "shape": [2]}, {"type": "dense", "units": 16},
      {"type": "relu"}, {"type": "dense", "units": 8}, {"type": "tanh"}, {"type": "dense", "units": 1},
      {"type": "bce_with_logits"})");
  nn::TrainConfig config;
  config.seed = 11;
  nn::Trainer trainer(context(), pipelines(), model, config, nullptr, nullptr);
  const std::vector<float> parameters = trainer.plan().ReadParameters();
  const std::vector<float> statistics = trainer.plan().ReadStatistics();
  nn::BoundaryEvaluator fused(context(), pipelines(), model, config, 37, {-2, 2, -1, 1}, nn::BoundaryPath::kFused);
  nn::BoundaryEvaluator layered(context(), pipelines(), model, config, 37, {-2, 2, -1, 1},
                                nn::BoundaryPath::kLayerByLayer);
  EXPECT_TRUE(fused.fused());
  EXPECT_FALSE(layered.fused());
  const nn::BoundaryResult a = fused.Evaluate(parameters, statistics, false);
  const nn::BoundaryResult b = layered.Evaluate(parameters, statistics, false);
  EXPECT_TRUE(a.fused);
  EXPECT_FALSE(b.fused);
  ASSERT_EQ(a.classes, 2u);  // one logit, spelled out as {1 - p, p}
  ASSERT_EQ(a.probabilities.size(), 37u * 37u * 2u);
  ASSERT_EQ(b.probabilities.size(), a.probabilities.size());
  for (size_t i = 0; i < a.probabilities.size(); ++i) ASSERT_NEAR(a.probabilities[i], b.probabilities[i], 2e-6) << i;
  for (size_t i = 0; i < a.probabilities.size(); i += 2) ASSERT_NEAR(a.probabilities[i] + a.probabilities[i + 1], 1.0f, 1e-6);
  EXPECT_TRUE(a.hidden.empty());
  const nn::BoundaryResult c = fused.Evaluate(parameters, statistics, true);
  ASSERT_EQ(c.hidden.size(), 2u);  // the relu and tanh layers
  EXPECT_EQ(c.hidden[0].units, 16u);
  EXPECT_EQ(c.hidden[1].units, 8u);
  EXPECT_EQ(c.hidden[1].activations.size(), 37u * 37u * 8u);
  for (size_t i = 0; i < c.probabilities.size(); ++i) ASSERT_NEAR(c.probabilities[i], a.probabilities[i], 2e-6) << i;
}

TEST_F(MlpInferTest, LargeGridsChooseTheirBlockingByMeasuringCheckedCandidates) {
  const nn::ModelDesc model = Model(R"({"type": "input", "shape": [2]}, {"type": "dense", "units": 12},
      {"type": "relu"}, {"type": "dense", "units": 3}, {"type": "softmax_cross_entropy"})");
  nn::TrainConfig config;
  nn::Trainer trainer(context(), pipelines(), model, config, nullptr, nullptr);
  const data::Dataset grid = nn::BoundaryGrid(129, {-1, 1, -1, 1});  // 16641 rows: tuned
  ASSERT_GE(grid.count(), nn::FusedMlpInference::kTuneRows);
  nn::FusedMlpInference fused(context(), pipelines(), model, grid);
  const std::vector<float> first = fused.Run(trainer.plan().ReadParameters()).outputs;
  ASSERT_EQ(fused.tuning().size(), 5u);
  int chosen = 0;
  for (const auto& candidate : fused.tuning()) {
    EXPECT_LE(candidate.max_difference, 1e-6) << candidate.rows_per_invocation;
    EXPECT_GT(candidate.median_ms, 0.0);
    if (candidate.chosen) {
      ++chosen;
      EXPECT_EQ(candidate.rows_per_invocation, fused.rows_per_invocation());
    }
  }
  EXPECT_EQ(chosen, 1);
  EXPECT_EQ(fused.Run(trainer.plan().ReadParameters()).outputs, first);  // the chosen kernel, run again
}

}  // namespace
}  // namespace ts
