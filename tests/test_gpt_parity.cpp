// Training parity with PyTorch for the GPT: a 2-block character model trained
// for 50 steps by the Vulkan Trainer and by a torch twin
// (tests/parity/torch_gpt.py: nanoGPT's Block with the attention written out)
// from the same initial parameters on the same windows of a generated UTF-8
// text. Every step's loss (1e-5 relative), the gradient norm where it is
// clipped (1e-4), and the final value of every parameter tensor (1e-3 of its
// largest |value|) must agree; measured on lavapipe: ~2e-7, ~3e-6 and ~3e-4.
// TS_GPT_PARITY_VERBOSE=1 prints every tensor's difference.
//
// Cases: nanoGPT's recipe (tied head without bias, AdamW with weight decay on
// weights and embeddings only, clipping to norm 1) with the plain and with
// the fused attention kernels; and an untied head with bias, mlp_ratio 2,
// 2 heads, Adam without clipping, an odd context (T = 13) and batch 5, one
// block on each attention path. Submissions of 7 steps straddle epoch ends.
//
// Skipped (with a message) when /usr/bin/python3 cannot import torch.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "compute/data/text.h"
#include "compute/nn/model.h"
#include "compute/nn/trainer.h"
#include "support/vulkan_test.h"

namespace ts {
namespace {

using kernels::OptimizerKind;
using nlohmann::json;
using testing::VulkanTest;

constexpr const char* kPython = "/usr/bin/python3";
constexpr uint32_t kSteps = 50;
constexpr double kLossTolerance = 1e-5;       // relative, every step
constexpr double kGradNormTolerance = 1e-4;   // relative, every step (clipped runs report the norm)
constexpr double kParameterTolerance = 1e-3;  // of each tensor's largest |value|
// A key bias's largest |value| after the run, as a fraction of kSteps * lr (what
// updates of ~lr each way would add up to; the other biases reach ~0.4 of it).
constexpr double kKeyBiasBound = 0.05;

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Whether /usr/bin/python3 can import torch (checked once per process).
bool TorchAvailable() {
  static const bool available = [] {
    std::string command = std::string(kPython) + " -c 'import torch, numpy' > /dev/null 2>&1";
    return std::system(command.c_str()) == 0;
  }();
  return available;
}

// About `bytes` of English-like sentences: capitals, punctuation, digits, a
// few accented words (multi-byte UTF-8), so ~30-60 distinct characters.
std::string MakeText(std::mt19937_64& rng, size_t bytes) {
  static const std::vector<std::string> subjects = {
      "The old sailor", "A quiet child", "My neighbour", "Every farmer", "The young queen", "Our teacher",
      "The café owner", "A tired doctor", "Half the village", "Jack", "The weaver's son", "Zoe"};
  static const std::vector<std::string> verbs = {"found", "carried", "painted", "watched", "mended", "sold",
                                                 "forgot", "wrapped", "baked", "quietly lifted", "juggled"};
  static const std::vector<std::string> objects = {"a brown box", "the heavy oars", "seven apples", "her naïve plan",
                                                   "the broken clock", "two jars of jam", "a map of the coast",
                                                   "the wax candles", "twelve eggs", "a velvet hat"};
  static const std::vector<std::string> endings = {"before dawn", "in the market", "near the river", "at 9 o'clock",
                                                   "with great care", "for 3 days", "without a word",
                                                   "under the bridge", "by the fire"};
  static const std::vector<std::string> stops = {".", ".", ".", "!", "?"};
  auto pick = [&](const std::vector<std::string>& words) -> const std::string& { return words[rng() % words.size()]; };
  std::string text;
  while (text.size() < bytes) {
    std::string sentence = pick(subjects) + " " + pick(verbs) + " " + pick(objects);
    if (rng() % 2) sentence += " " + pick(endings);
    if (rng() % 4 == 0) sentence += ", and " + pick(verbs) + " " + pick(objects);
    text += sentence + pick(stops) + (rng() % 5 == 0 ? "\n" : " ");
  }
  return text;
}

struct GptCase {
  std::string name;
  uint32_t tokens = 16;  // T
  uint32_t width = 32;   // C
  uint32_t heads = 4;
  uint32_t mlp_ratio = 4;
  std::vector<std::string> attention = {"plain", "plain"};  // per block
  bool tied = true;
  bool head_bias = false;
  uint32_t batch = 8;
  OptimizerKind optimizer = OptimizerKind::kAdamW;
  kernels::OptimizerHyper hyper;
  double learning_rate = 1e-3;
  bool decay_biases_and_norms = true;
  float grad_clip = 0.0f;
};

std::string ModelText(const GptCase& c, uint32_t vocab) {
  json layers = json::array();
  layers.push_back({{"type", "input"}, {"shape", {c.tokens}}});
  layers.push_back({{"type", "embedding"}, {"name", "embedding"}, {"vocab", vocab}, {"units", c.width}});
  for (size_t b = 0; b < c.attention.size(); ++b)
    layers.push_back({{"type", "transformer_block"},
                      {"name", "block_" + std::to_string(b + 1)},
                      {"heads", c.heads},
                      {"mlp_ratio", c.mlp_ratio},
                      {"attention", c.attention[b]}});
  layers.push_back({{"type", "layer_norm"}, {"name", "ln_f"}});
  layers.push_back({{"type", "dense"}, {"name", "lm_head"}, {"units", vocab}, {"tied", c.tied}, {"bias", c.head_bias}});
  layers.push_back({{"type", "softmax_cross_entropy"}});
  return json{{"format", "tensorscope-model"}, {"version", 1}, {"name", c.name}, {"layers", layers}}.dump();
}

// A stretch of the parameters compared on its own: a tensor, or one third
// (query, key, value) of a block's qkv bias.
struct Piece {
  std::string name;
  size_t begin = 0, count = 0;    // in ReadParameters()' values
  bool key_bias = false;
};

std::vector<Piece> ComparedPieces(const std::vector<nn::ParameterTensor>& tensors) {
  std::vector<Piece> pieces;
  size_t at = 0;
  for (const nn::ParameterTensor& p : tensors) {
    if (p.name.ends_with(".attn.qkv.bias")) {
      const size_t third = p.count / 3;
      const char* parts[] = {" (query)", " (key)", " (value)"};
      for (size_t k = 0; k < 3; ++k) pieces.push_back({p.name + parts[k], at + k * third, third, k == 1});
    } else {
      pieces.push_back({p.name, at, p.count, false});
    }
    at += p.count;
  }
  return pieces;
}

struct RunResult {
  std::vector<float> losses;
  std::vector<float> grad_norms;
  std::vector<float> parameters;
};

class GptParityTest : public VulkanTest {
 protected:
  void SetUp() override {
    VulkanTest::SetUp();
    if (!TorchAvailable())
      GTEST_SKIP() << "PyTorch GPT parity skipped: " << kPython
                   << " cannot import torch and numpy (install python3-torch and python3-numpy).";
  }

  // Trains `c` on both sides and compares every step's loss (and clipped
  // gradient norm) and the final parameters.
  void Check(const GptCase& c) {
    SCOPED_TRACE(c.name);
    std::mt19937_64 rng = testing::MakeRng();
    const std::string text = MakeText(rng, 3000);
    const std::vector<char32_t> characters = data::DecodeUtf8(text, c.name);
    data::Vocabulary vocabulary;
    for (char32_t ch : std::set<char32_t>(characters.begin(), characters.end()))
      vocabulary.tokens.push_back(data::EncodeUtf8(ch));
    const uint32_t vocab = static_cast<uint32_t>(vocabulary.tokens.size());
    ASSERT_GE(vocab, 30u);
    ASSERT_LE(vocab, 60u);
    const data::Dataset dataset =
        data::TextWindows(vocabulary.Encode(text, c.name), vocabulary, c.tokens, "gpt-parity-" + c.name);
    ASSERT_GE(dataset.count(), c.batch);

    nn::ModelDesc model = nn::ParseModel(ModelText(c, vocab), c.name);
    nn::TrainConfig config;
    config.optimizer = c.optimizer;
    config.hyper = c.hyper;
    config.learning_rate = c.learning_rate;
    config.batch_size = c.batch;
    config.epochs = 1000;
    config.max_steps = kSteps;
    config.seed = 7;
    config.validation_fraction = 0;
    config.shuffle = false;
    config.steps_per_submit = 7;  // submissions straddle epoch ends and do not divide 50
    config.grad_clip = c.grad_clip;
    config.decay_biases_and_norms = c.decay_biases_and_norms;

    auto start = std::chrono::steady_clock::now();
    nn::Trainer trainer(context(), pipelines(), model, config, &dataset, nullptr);
    const std::vector<float> initial = trainer.plan().ReadParameters();
    RunResult ours;
    trainer.RunSteps(kSteps, [&](const nn::StepReport& r) {
      EXPECT_EQ(r.global_step, ours.losses.size());
      ours.losses.push_back(r.loss);
      ours.grad_norms.push_back(r.grad_norm);
    });
    ASSERT_EQ(ours.losses.size(), kSteps);
    ours.parameters = trainer.plan().ReadParameters();
    const double ours_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    start = std::chrono::steady_clock::now();
    RunResult torch = RunTorch(c, model, trainer.plan().parameters(), dataset, initial);
    const double torch_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ASSERT_EQ(torch.losses.size(), kSteps);
    ASSERT_EQ(torch.parameters.size(), ours.parameters.size());

    double worst_loss = 0, worst_norm = 0;
    size_t worst_step = 0, clipped_steps = 0;
    int failures = 0;
    for (size_t s = 0; s < kSteps; ++s) {
      const double a = ours.losses[s], b = torch.losses[s];
      const double relative = std::abs(a - b) / std::max(std::abs(b), 1e-6);
      if (!(relative <= worst_loss)) worst_loss = relative, worst_step = s;
      if (!(relative <= kLossTolerance) && failures++ < 5)
        ADD_FAILURE() << "step " << s << ": loss " << a << ", PyTorch " << b << " (relative difference " << relative
                      << " > " << kLossTolerance << ")";
      if (c.grad_clip > 0) {
        const double n = ours.grad_norms[s], m = torch.grad_norms[s];
        const double norm_relative = std::abs(n - m) / std::max(std::abs(m), 1e-6);
        clipped_steps += m > c.grad_clip;
        worst_norm = std::isnan(norm_relative) ? INFINITY : std::max(worst_norm, norm_relative);
        if (!(norm_relative <= kGradNormTolerance) && failures++ < 5)
          ADD_FAILURE() << "step " << s << ": gradient norm " << n << ", PyTorch " << m << " (relative difference "
                        << norm_relative << " > " << kGradNormTolerance << ")";
      }
    }

    // Every tensor against its largest |value|, except the key bias: softmax
    // ignores a constant added to a row of scores, so its exact gradient is 0
    // and Adam turns rounding noise into tiny updates that differ between the
    // sides. It is checked to stay near 0 instead (a real gradient moves it ~lr a step).
    const bool verbose = std::getenv("TS_GPT_PARITY_VERBOSE") != nullptr;
    double worst_parameter = 0, key_bias = 0;
    std::string worst_tensor;
    for (const Piece& piece : ComparedPieces(trainer.plan().parameters())) {
      double largest = 1e-12, ours_largest = 0, diff = 0;
      for (size_t i = piece.begin; i < piece.begin + piece.count; ++i) {
        largest = std::max(largest, double(std::abs(torch.parameters[i])));
        ours_largest = std::max(ours_largest, double(std::abs(ours.parameters[i])));
        const double d = std::abs(double(ours.parameters[i]) - torch.parameters[i]);
        diff = std::isnan(d) ? INFINITY : std::max(diff, d);
      }
      if (std::isnan(ours_largest)) ours_largest = INFINITY;
      const double relative = diff / largest;
      if (verbose)
        std::printf("  %-30s max |value| %.3e, max |difference| %.3e (%.2e)\n", piece.name.c_str(), largest, diff,
                    relative);
      if (piece.key_bias) {
        key_bias = std::max({key_bias, ours_largest, largest});
        continue;
      }
      EXPECT_LE(relative, kParameterTolerance)
          << piece.name << ": max |difference| " << diff << " against max |value| " << largest;
      if (relative >= worst_parameter) worst_parameter = relative, worst_tensor = piece.name;
    }
    const double key_bias_ratio = key_bias / (kSteps * c.learning_rate);
    EXPECT_LE(key_bias_ratio, kKeyBiasBound) << "a key bias grew to " << key_bias << ": its gradient is not 0";
    char clipping[96] = "no clipping";
    if (c.grad_clip > 0)
      std::snprintf(clipping, sizeof clipping, "grad-norm rel. diff %.2e (%zu steps clipped)", worst_norm,
                    clipped_steps);
    std::printf("[ parity   ] %-22s vocab %u, %zu windows: loss %.4f -> %.4f, max loss rel. diff %.2e (step %zu), %s, "
                "max param rel. diff %.2e (%s), |key bias| / (steps lr) %.1e; %.1f s ours, %.1f s torch\n",
                c.name.c_str(), vocab, dataset.count(), torch.losses.front(), torch.losses.back(), worst_loss,
                worst_step, clipping, worst_parameter, worst_tensor.c_str(), key_bias_ratio, ours_s, torch_s);
    // Training must actually have moved the loss, or the comparison proves little.
    EXPECT_LT(torch.losses.back(), torch.losses.front() - 0.1) << "the reference run did not learn";
    EXPECT_LT(ours.losses.back(), ours.losses.front() - 0.1) << "Tensorscope's run did not learn";
  }

 private:
  RunResult RunTorch(const GptCase& c, const nn::ModelDesc& model, const std::vector<nn::ParameterTensor>& tensors,
                     const data::Dataset& dataset, const std::vector<float>& initial) {
    json tensor_list = json::array();
    for (const nn::ParameterTensor& p : tensors) tensor_list.push_back({{"name", p.name}, {"shape", p.shape}});
    std::vector<uint32_t> windows(dataset.features_f32.size());
    for (size_t i = 0; i < windows.size(); ++i) windows[i] = static_cast<uint32_t>(dataset.features_f32[i]);
    json spec = {{"model", nn::ModelToJson(model)},
                 {"tensors", tensor_list},
                 {"parameters", initial},
                 {"windows", windows},
                 {"labels", dataset.labels},
                 {"batch_size", c.batch},
                 {"steps", kSteps},
                 {"optimizer",
                  {{"kind", kernels::OptimizerName(c.optimizer)},
                   {"lr", c.learning_rate},
                   {"beta1", c.hyper.beta1},
                   {"beta2", c.hyper.beta2},
                   {"eps", c.hyper.epsilon},
                   {"weight_decay", c.hyper.weight_decay}}},
                 {"decay_biases_and_norms", c.decay_biases_and_norms},
                 {"grad_clip", c.grad_clip}};
    const std::string base = ::testing::TempDir() + "tensorscope_gpt_parity_" + c.name;
    const std::string spec_path = base + "_spec.json", out_path = base + "_torch.json", err_path = base + "_stderr.txt";
    std::remove(out_path.c_str());
    {
      std::ofstream out(spec_path, std::ios::binary);
      out << spec.dump();
    }
    const std::string command = std::string(kPython) + " '" TENSORSCOPE_SOURCE_DIR "/tests/parity/torch_gpt.py' '" +
                                spec_path + "' '" + out_path + "' 2> '" + err_path + "'";
    const int code = std::system(command.c_str());
    if (code != 0) {
      ADD_FAILURE() << "torch_gpt.py failed (status " << code << "):\n" << ReadText(err_path);
      return {};
    }
    const json out = json::parse(ReadText(out_path));
    RunResult result;
    for (const json& v : out.at("losses")) result.losses.push_back(v.get<float>());
    for (const json& v : out.at("grad_norms")) result.grad_norms.push_back(v.get<float>());
    for (const json& v : out.at("parameters")) result.parameters.push_back(v.get<float>());
    std::remove(spec_path.c_str());
    std::remove(out_path.c_str());
    std::remove(err_path.c_str());
    return result;
  }
};

// nanoGPT's recipe at toy size: tied head, AdamW (0.9, 0.99), weight decay 0.1
// on weights and embeddings only, gradients clipped to norm 1.
GptCase NanoGptRecipe(const std::string& name, const std::string& attention) {
  GptCase c;
  c.name = name;
  c.attention = {attention, attention};
  c.optimizer = OptimizerKind::kAdamW;
  c.hyper.beta1 = 0.9f;
  c.hyper.beta2 = 0.99f;
  c.hyper.weight_decay = 0.1f;
  c.decay_biases_and_norms = false;
  c.grad_clip = 1.0f;
  return c;
}

TEST_F(GptParityTest, TiedAdamWClippedPlainAttention) { Check(NanoGptRecipe("gpt_tied_adamw_plain", "plain")); }

TEST_F(GptParityTest, TiedAdamWClippedFusedAttention) { Check(NanoGptRecipe("gpt_tied_adamw_fused", "fused")); }

// An untied head with its own bias, a narrower MLP, 2 heads of 16, Adam
// without clipping, T = 13 and batch 5 (neither divides a tile); block 1 on
// the plain attention kernels, block 2 on the fused ones.
TEST_F(GptParityTest, UntiedBiasAdamOddContext) {
  GptCase c;
  c.name = "gpt_untied_adam_odd";
  c.tokens = 13;
  c.heads = 2;
  c.mlp_ratio = 2;
  c.attention = {"plain", "fused"};
  c.tied = false;
  c.head_bias = true;
  c.batch = 5;
  c.optimizer = OptimizerKind::kAdam;
  Check(c);
}

}  // namespace
}  // namespace ts
