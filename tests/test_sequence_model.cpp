// Sequence models end to end: the GPT layers in a model file (shapes,
// parameter counts, the errors a person gets), character-level text data,
// finite-difference gradients of a whole GPT through the plan (both attention
// paths, tied and untied heads), training that learns, text generation, and
// the command line (train --max-steps, sample). Kernels are tested on their
// own in test_layernorm, test_attention and test_embedding; PyTorch parity in
// test_gpt_parity.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "compute/data/registry.h"
#include "compute/data/text.h"
#include "compute/interop/onnx_export.h"
#include "compute/interop/pytorch_export.h"
#include "compute/nn/checkpoint.h"
#include "compute/nn/generate.h"
#include "compute/nn/model.h"
#include "compute/nn/presets.h"
#include "compute/nn/tensor_table.h"
#include "compute/nn/trainer.h"
#include "compute/reference/attention.h"
#include "compute/reference/embedding.h"
#include "compute/reference/layernorm.h"
#include "support/cli.h"
#include "support/temp_files.h"
#include "support/test_data.h"
#include "support/vulkan_test.h"

namespace ts {
namespace {

using testing::ThrowsErrorWith;

std::string GptModel(uint32_t tokens, uint32_t vocab, uint32_t width, uint32_t heads, uint32_t blocks,
                     const std::string& attention, bool tied) {
  std::string layers = R"({"type": "input", "shape": [)" + std::to_string(tokens) + R"(]},
    {"type": "embedding", "vocab": )" + std::to_string(vocab) + R"(, "units": )" + std::to_string(width) + "}";
  for (uint32_t b = 0; b < blocks; ++b)
    layers += R"(, {"type": "transformer_block", "heads": )" + std::to_string(heads) + R"(, "attention": ")" +
              attention + R"("})";
  layers += R"(, {"type": "layer_norm", "name": "ln_f"}, {"type": "dense", "name": "head", "units": )" +
            std::to_string(vocab) + (tied ? R"(, "tied": true, "bias": false})" : "}") +
            R"(, {"type": "softmax_cross_entropy"})";
  return R"({"format": "tensorscope-model", "version": 1, "name": "gpt", "layers": [)" + layers + "]}";
}

TEST(SequenceModel, CharGptPresetHasNanoGptsShapeAndParameterCount) {
  nn::ModelDesc model = nn::LoadModelOrPreset("char-gpt");
  std::vector<nn::LayerShape> shapes = nn::InferShapes(model);
  EXPECT_EQ(nn::TokensPerSample(model), 64u);
  EXPECT_EQ(shapes[1].output, (std::vector<uint32_t>{64, 128}));
  EXPECT_EQ(shapes[shapes.size() - 2].output, (std::vector<uint32_t>{64, 73}));
  uint64_t parameters = 0;
  for (const nn::LayerShape& s : shapes) parameters += s.parameters;
  // nanoGPT: wte + wpe + per block 12 C^2 + 13 C + ln_f (2C); the tied head adds nothing.
  const uint64_t c = 128;
  EXPECT_EQ(parameters, 73 * c + 64 * c + 4 * (12 * c * c + 13 * c) + 2 * c);
  nn::ModelTensors tensors = nn::ListModelTensors(model);
  uint64_t listed = 0;
  for (const nn::ParameterTensor& t : tensors.parameters) listed += t.count;
  EXPECT_EQ(listed, parameters);
  EXPECT_EQ(tensors.parameters[0].name, "embedding.token_weight");
  EXPECT_EQ(tensors.parameters[2].name, "block_1.ln_1.weight");
  // A round trip through JSON keeps every field.
  nn::ModelDesc again = nn::ModelFromJson(nn::ModelToJson(model), "round trip");
  EXPECT_EQ(nn::ModelToJson(again).dump(), nn::ModelToJson(model).dump());
}

TEST(SequenceModel, BadSequenceModelsAreRefusedNamingTheLayer) {
  EXPECT_TRUE(ThrowsErrorWith([] { nn::InferShapes(nn::ParseModel(GptModel(8, 10, 30, 4, 1, "auto", true), "m")); },
                              {"layers[2]", "width 30", "4 heads"}));
  std::string untied_wrong = GptModel(8, 10, 16, 2, 1, "plain", true);
  untied_wrong.replace(untied_wrong.find(R"("units": 10, "tied")"), 11, R"("units": 11)");
  EXPECT_TRUE(ThrowsErrorWith([&] { nn::InferShapes(nn::ParseModel(untied_wrong, "m")); },
                              {"tied to the embedding", "units 10"}));
  const char* flatten_after = R"({"format": "tensorscope-model", "version": 1, "layers": [
      {"type": "input", "shape": [8]}, {"type": "embedding", "vocab": 5, "units": 4}, {"type": "flatten"},
      {"type": "dense", "units": 5}, {"type": "softmax_cross_entropy"}]})";
  EXPECT_TRUE(ThrowsErrorWith([&] { nn::InferShapes(nn::ParseModel(flatten_after, "m")); },
                              {"layers[2]", "cannot follow an embedding"}));
  const char* block_first = R"({"format": "tensorscope-model", "version": 1, "layers": [
      {"type": "input", "shape": [8, 4]}, {"type": "transformer_block"},
      {"type": "dense", "units": 5}, {"type": "softmax_cross_entropy"}]})";
  EXPECT_TRUE(ThrowsErrorWith([&] { nn::InferShapes(nn::ParseModel(block_first, "m")); },
                              {"layers[1]", "embedding layer"}));
  const char* bad_attention = R"({"format": "tensorscope-model", "version": 1, "layers": [
      {"type": "input", "shape": [8]}, {"type": "embedding", "vocab": 5, "units": 4},
      {"type": "transformer_block", "attention": "fast"}, {"type": "dense", "units": 5},
      {"type": "softmax_cross_entropy"}]})";
  EXPECT_TRUE(ThrowsErrorWith([&] { nn::ParseModel(bad_attention, "m"); }, {"layers[2].attention", "'fused'"}));
}

// ONNX and PyTorch export do not write sequence layers yet: a GPT is refused
// whole, naming the layer, before any file is written (never exported without its blocks).
TEST(SequenceModel, ExportRefusesSequenceModelsNamingTheLayer) {
  const nn::ModelDesc model = nn::ParseModel(GptModel(8, 10, 16, 2, 1, "plain", false), "gpt");
  uint64_t count = 0;
  for (const nn::LayerShape& shape : nn::InferShapes(model)) count += shape.parameters;
  const std::vector<float> parameters(count, 0.0f);
  EXPECT_TRUE(ThrowsErrorWith([&] { interop::ExportOnnx(model, parameters, {}); },
                              {"embedding layer 'embedding_1'", "cannot be exported to ONNX"}));
  EXPECT_TRUE(ThrowsErrorWith([&] { interop::PytorchModelSource(model); }, {"cannot be exported to PyTorch"}));
  nn::Checkpoint checkpoint;
  checkpoint.model = model;
  checkpoint.parameters = parameters;
  const std::string folder = ::testing::TempDir() + "/tensorscope_gpt_export_refused";
  std::filesystem::remove_all(folder);
  EXPECT_TRUE(ThrowsErrorWith([&] { interop::ExportPytorch(checkpoint, {}, folder); }, {"PyTorch"}));
  EXPECT_FALSE(std::filesystem::exists(folder));
}

class TextDataTest : public testing::TempDirTest {};

TEST_F(TextDataTest, WindowsHoldTheNextCharacterAsLabels) {
  const std::string text = "héllo wörld, hello world!\n";  // two-byte characters count once
  const std::string path = WriteText("tiny.txt", text + text + text + text);
  data::DataSplit split = data::LoadDataSpec("text:" + path + ":context=8,val_fraction=0.25");
  const data::Dataset& train = split.train;
  EXPECT_EQ(train.labels_per_sample, 8u);
  EXPECT_EQ(train.sample_shape, (std::vector<uint32_t>{8}));
  ASSERT_GE(train.count(), 2u);
  EXPECT_EQ(train.num_classes, train.class_names.size());
  const std::vector<char32_t> characters = data::DecodeUtf8(text + text + text + text, path);
  data::Vocabulary vocabulary{train.class_names};
  const std::vector<uint32_t> ids = vocabulary.Encode(text + text + text + text, "text");
  for (size_t w = 0; w < train.count(); ++w)
    for (uint32_t t = 0; t < 8; ++t) {
      EXPECT_EQ(train.features_f32[w * 8 + t], float(ids[w * 8 + t]));
      EXPECT_EQ(train.labels[w * 8 + t], ids[w * 8 + t + 1]);
    }
  EXPECT_EQ(vocabulary.Decode(std::vector<uint32_t>(ids.begin(), ids.begin() + 6)), "héllo ");
  EXPECT_TRUE(split.test.count() >= 1);
}

TEST_F(TextDataTest, BadTextIsRefusedNamingTheByte) {
  const std::string bad = WriteBytes("bad.txt", {'a', 'b', 0xc3, 0x28, 'c'});
  EXPECT_TRUE(ThrowsErrorWith([&] { data::LoadDataSpec("text:" + bad); }, {"bad.txt", "byte 2", "0xc3"}));
  const std::string cut = WriteBytes("cut.txt", {'a', 0xe2, 0x82});
  EXPECT_TRUE(ThrowsErrorWith([&] { data::LoadDataSpec("text:" + cut); }, {"byte 1", "cuts short"}));
  const std::string good = WriteText("good.txt", testing::EnglishLikeText());
  EXPECT_TRUE(ThrowsErrorWith([&] { data::LoadDataSpec("text:" + good + ":context=0"); }, {"context"}));
  EXPECT_TRUE(ThrowsErrorWith([&] { data::LoadDataSpec("text:" + good + ":window=3"); }, {"unknown option"}));
  EXPECT_TRUE(ThrowsErrorWith([&] { data::LoadDataSpec("text:" + PathOf("missing.txt")); }, {"missing.txt"}));
}

TEST(TextData, TheBuiltInCorpusIsTheKingJamesBible) {
  if (!std::filesystem::exists(data::kBibleProgram)) GTEST_SKIP() << "bible-kjv is not installed";
  data::DataSplit split = data::LoadDataSpec("kjv");
  EXPECT_EQ(split.train.num_classes, 73u);  // what the char-gpt preset's vocab says
  EXPECT_GT(split.train.count(), 50000u);
  data::Vocabulary vocabulary{split.train.class_names};
  std::vector<uint32_t> first(split.train.features_f32.begin(), split.train.features_f32.begin() + 64);
  EXPECT_NE(vocabulary.Decode(first).find("In the beginning God created"), std::string::npos);
}

class SequenceTrainingTest : public testing::VulkanTest {
 protected:
  data::Dataset Windows(const std::string& text, uint32_t tokens, data::Vocabulary* vocabulary_out = nullptr) {
    const std::vector<char32_t> characters = data::DecodeUtf8(text, "text");
    std::vector<char32_t> distinct(characters);
    std::sort(distinct.begin(), distinct.end());
    distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
    data::Vocabulary vocabulary;
    for (char32_t c : distinct) vocabulary.tokens.push_back(data::EncodeUtf8(c));
    if (vocabulary_out) *vocabulary_out = vocabulary;
    return data::TextWindows(vocabulary.Encode(text, "text"), vocabulary, tokens, "text");
  }

  // The gradient of the batch loss through the whole plan against central
  // differences of the evaluated loss, for a few elements of every tensor.
  void CheckGradients(const std::string& attention, bool tied) {
    SCOPED_TRACE(attention + (tied ? ", tied head" : ", untied head"));
    data::Dataset all = Windows(testing::EnglishLikeText(), 7);
    data::Dataset batch = data::Subset(all, std::vector<uint32_t>{3, 11, 40});
    nn::ModelDesc model = nn::ParseModel(GptModel(7, all.num_classes, 12, 3, 2, attention, tied), "gpt");
    nn::TrainConfig config;
    config.optimizer = kernels::OptimizerKind::kSgd;
    config.learning_rate = 1e-30;  // the step leaves the weights (almost) where they are
    config.batch_size = 3;
    config.shuffle = false;
    config.validation_fraction = 0;
    config.autotune = false;
    config.seed = 5;
    nn::Trainer trainer(context(), pipelines(), model, config, &batch, nullptr);
    std::vector<float> parameters = trainer.plan().ReadParameters();
    // Larger weights than GPT-2's init, so that every path carries a gradient well above rounding.
    std::mt19937_64 rng = testing::MakeRng();
    std::vector<float> noise = testing::RandomFloats(rng, parameters.size(), -0.3f, 0.3f);
    for (size_t i = 0; i < parameters.size(); ++i) parameters[i] += noise[i];
    trainer.plan().WriteParameters(parameters);
    trainer.RunSteps(1, [](const nn::StepReport&) {});
    const std::vector<float> gradients = trainer.plan().ReadGradients();
    auto loss_at = [&](size_t index, float value) {
      std::vector<float> changed = parameters;
      changed[index] = value;
      trainer.plan().WriteParameters(changed);
      return trainer.Evaluate(batch).loss;
    };
    size_t at = 0, checked = 0;
    for (const nn::ParameterTensor& tensor : trainer.plan().parameters()) {
      for (size_t k = 0; k < 3; ++k) {
        const size_t index = at + (k * 7919 + 13) % tensor.count;
        const float h = 1e-2f;
        const double numeric = (loss_at(index, parameters[index] + h) - loss_at(index, parameters[index] - h)) / (2 * h);
        EXPECT_NEAR(gradients[index], numeric, 2e-3 + 0.03 * std::abs(numeric))
            << tensor.name << " element " << index - at;
        ++checked;
      }
      at += tensor.count;
    }
    EXPECT_GT(checked, 30u);
  }
};

TEST_F(SequenceTrainingTest, WholeModelGradientsMatchFiniteDifferencesPlainTied) { CheckGradients("plain", true); }
TEST_F(SequenceTrainingTest, WholeModelGradientsMatchFiniteDifferencesFusedUntied) { CheckGradients("fused", false); }

TEST_F(SequenceTrainingTest, ATinyGptLearnsTheTextAndGeneratesFromIt) {
  data::Vocabulary vocabulary;
  data::Dataset train = Windows(testing::EnglishLikeText(), 16, &vocabulary);
  nn::ModelDesc model = nn::ParseModel(GptModel(16, train.num_classes, 32, 4, 2, "auto", true), "gpt");
  nn::TrainConfig config;
  config.optimizer = kernels::OptimizerKind::kAdamW;
  config.learning_rate = 3e-3;
  config.hyper.weight_decay = 0.1f;
  config.decay_biases_and_norms = false;
  config.grad_clip = 1.0f;
  config.batch_size = 8;
  config.epochs = 100;
  config.max_steps = 300;
  config.validation_fraction = 0;
  config.autotune = false;
  nn::Trainer trainer(context(), pipelines(), model, config, &train, nullptr);
  std::vector<float> losses;
  float norm = 0;
  while (!trainer.finished())
    trainer.RunEpoch([&](const nn::StepReport& r) {
      losses.push_back(r.loss);
      norm = r.grad_norm;
    });
  ASSERT_EQ(losses.size(), 300u);  // the step cap, not the epochs
  EXPECT_GT(norm, 0.0f);           // clipping reports the norm
  const double first = losses.front(), last = losses.back();
  std::printf("[ learning ] loss %.3f -> %.3f (ln V = %.3f)\n", first, last, std::log(double(train.num_classes)));
  EXPECT_NEAR(first, std::log(double(train.num_classes)), 0.3);  // uniform at init (GPT-2's small weights)
  EXPECT_LT(last, 1.2);  // the sentences repeat: a 2-block GPT learns most of them

  // Generation from the trained weights: only the vocabulary's characters, as many as asked.
  nn::TextGenerator generator(context(), pipelines(), model, vocabulary, trainer.plan().ReadParameters());
  nn::SampleOptions options;
  options.tokens = 40;
  options.top_k = 3;
  const std::string text = generator.Generate("The quick", options);
  ASSERT_EQ(data::DecodeUtf8(text, "generated").size(), 9u + 40u);
  EXPECT_EQ(text.rfind("The quick", 0), 0u);
  std::printf("[ sample   ] %s\n", text.c_str());
  // Greedy decoding continues the memorised sentence.
  options.top_k = 1;
  options.tokens = 8;
  EXPECT_EQ(generator.Generate("The quick brown f", options).substr(0, 21), "The quick brown fox j");
}

// The attention maps are the device's softmax weights: the first block's
// against a double-precision forward of embedding, ln_1, the qkv projection
// and causal attention, on a model trained with the fused path (the
// generator runs the plain one, which keeps them).
TEST_F(SequenceTrainingTest, AttentionMapsAreTheBlocksSoftmaxWeights) {
  data::Vocabulary vocabulary;
  data::Dataset train = Windows(testing::EnglishLikeText(), 16, &vocabulary);
  const uint32_t width = 24, heads = 3, tokens = 16;
  nn::ModelDesc model = nn::ParseModel(GptModel(tokens, train.num_classes, width, heads, 2, "fused", false), "gpt");
  nn::TrainConfig config;
  config.batch_size = 4;
  config.validation_fraction = 0;
  config.autotune = false;
  nn::Trainer trainer(context(), pipelines(), model, config, &train, nullptr);
  std::vector<float> parameters = trainer.plan().ReadParameters();
  std::mt19937_64 rng = testing::MakeRng();
  const std::vector<float> noise = testing::RandomFloats(rng, parameters.size(), -0.4f, 0.4f);
  for (size_t i = 0; i < parameters.size(); ++i) parameters[i] += noise[i];  // attention far from uniform
  nn::TextGenerator generator(context(), pipelines(), model, vocabulary, parameters);

  const std::string prompt = "The quick brown fox jumps";  // longer than T: the last 16 characters
  const nn::AttentionMaps maps = generator.Attention(prompt);
  const size_t n = tokens;
  ASSERT_EQ(maps.layers, 2u);
  ASSERT_EQ(maps.heads, heads);
  ASSERT_EQ(maps.tokens.size(), n);
  std::string shown;
  for (const std::string& t : maps.tokens) shown += t;
  EXPECT_EQ(shown, prompt.substr(prompt.size() - n));
  ASSERT_EQ(maps.weights.size(), 2 * heads * n * n);
  for (uint32_t l = 0; l < maps.layers; ++l)
    for (uint32_t h = 0; h < heads; ++h)
      for (size_t q = 0; q < n; ++q) {
        double sum = 0;
        for (size_t k = 0; k < n; ++k) {
          if (k > q) {
            EXPECT_EQ(maps.at(l, h, q, k), 0.0f);
          }
          sum += maps.at(l, h, q, k);
        }
        EXPECT_NEAR(sum, 1.0, 1e-5) << "layer " << l << " head " << h << " query " << q;
      }

  // The first block in double precision.
  auto tensor = [&](const std::string& suffix, size_t layer) {
    for (const nn::ParameterTensor& t : trainer.plan().parameters())
      if (t.layer == layer && t.name.ends_with(suffix))
        return std::vector<double>(parameters.begin() + std::ptrdiff_t(t.offset),
                                   parameters.begin() + std::ptrdiff_t(t.offset + t.count));
    ADD_FAILURE() << "no tensor " << suffix << " in layer " << layer;
    return std::vector<double>{};
  };
  std::vector<uint32_t> ids = vocabulary.Encode(prompt.substr(prompt.size() - n), "prompt");
  const uint32_t vocab = model.layers[1].vocab;
  const std::vector<double> x = reference::EmbeddingForward(ids, tensor(".token_weight", 1), tensor(".position_weight", 1),
                                                            uint32_t(n), tokens, vocab, width);
  const reference::LayerNormOutput ln =
      reference::LayerNormForward(x, tensor("ln_1.weight", 2), tensor("ln_1.bias", 2), uint32_t(n), width, 1e-5);
  const std::vector<double> w = tensor("attn.qkv.weight", 2), b = tensor("attn.qkv.bias", 2);
  std::vector<double> qkv(n * 3 * width);
  for (size_t r = 0; r < n; ++r)
    for (size_t j = 0; j < 3 * width; ++j) {
      double acc = b[j];
      for (size_t k = 0; k < width; ++k) acc += ln.y[r * width + k] * w[k * 3 * width + j];
      qkv[r * 3 * width + j] = acc;
    }
  const kernels::AttentionShape shape{1, uint32_t(n), heads, width / heads};
  const reference::AttentionForwardOutput expected =
      reference::AttentionForward(qkv, shape, 1.0 / std::sqrt(double(width / heads)));
  double largest = 0;
  for (uint32_t h = 0; h < heads; ++h)
    for (size_t q = 0; q < n; ++q)
      for (size_t k = 0; k <= q; ++k) {
        const double want = expected.probabilities[(h * n + q) * n + k];
        largest = std::max(largest, want);
        EXPECT_NEAR(maps.at(0, h, q, k), want, 2e-5 + 1e-4 * want) << "head " << h << " query " << q << " key " << k;
      }
  EXPECT_GT(largest, 0.5);  // some query attends sharply: the check is not of uniform rows

  // Drawing a few tokens at a time gives the same text as Generate.
  nn::SampleOptions options;
  options.tokens = 23;
  options.top_k = 5;
  options.seed = 9;
  nn::GenerationState state = generator.Begin("A small", options);
  while (!state.done()) EXPECT_LE(generator.Advance(state, 4), 4u);
  EXPECT_EQ(state.text, generator.Generate("A small", options));

  // New weights are used at once.
  std::vector<float> zeros(parameters.size(), 0.0f);
  generator.SetParameters(zeros);
  const nn::AttentionMaps uniform = generator.Attention("The");
  EXPECT_NEAR(uniform.at(1, 0, 2, 0), 1.0f / 3.0f, 1e-6);  // zero weights: every earlier key alike

  EXPECT_TRUE(ThrowsErrorWith([&] { generator.Attention(""); }, {"at least one character"}));
  EXPECT_TRUE(ThrowsErrorWith([&] { generator.Attention("Th~"); }, {"the prompt", "\"~\""}));
}

TEST(Sampling, DrawTokenHonoursTopKAndTemperature) {
  uint64_t rng = 3;
  const std::vector<float> p = {0.1f, 0.6f, 0.3f};
  for (int i = 0; i < 20; ++i) EXPECT_EQ(nn::DrawToken(p, 1.0f, 1, rng), 1u);
  int counts[3] = {};
  for (int i = 0; i < 3000; ++i) ++counts[nn::DrawToken(p, 1.0f, 2, rng)];
  EXPECT_EQ(counts[0], 0);                       // outside the top 2
  EXPECT_NEAR(counts[1] / 3000.0, 2.0 / 3, 0.04);  // 0.6 / (0.6 + 0.3)
  int cold = 0;
  for (int i = 0; i < 1000; ++i) cold += nn::DrawToken(p, 0.05f, 0, rng) == 1;
  EXPECT_GT(cold, 990);  // a low temperature is nearly greedy
}

class SequenceCliTest : public testing::TempDirTest {};

TEST_F(SequenceCliTest, TrainsCharGptWithAStepCapAndSamplesFromTheCheckpoint) {
  const std::string text = WriteText("book.txt", testing::EnglishLikeText());
  const std::string checkpoint = PathOf("gpt.ckpt");
  testing::CommandResult train = testing::RunTensorscope(
      "train char-gpt --data text:" + text + ":context=64,val_fraction=0.2 --max-steps 12 --batch 4 "
      "--validation-fraction 0.1 --no-autotune --validate --save " + checkpoint);
  ASSERT_EQ(train.exit_code, 0) << train.output;
  EXPECT_NE(train.output.find("distinct characters"), std::string::npos) << train.output;  // the vocab was fitted
  EXPECT_NE(train.output.find("val loss"), std::string::npos) << train.output;
  testing::CommandResult sample =
      testing::RunTensorscope("sample " + checkpoint + " --prompt 'The ' --tokens 30 --top-k 5 --seed 2 --validate");
  ASSERT_EQ(sample.exit_code, 0) << sample.output;
  EXPECT_EQ(sample.output.rfind("The ", 0), 0u) << sample.output;
  EXPECT_GE(sample.output.size(), 4u + 30u);
  testing::CommandResult bad = testing::RunTensorscope("sample " + checkpoint + " --prompt 'Zebra\xe2\x82\xac'");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.output.find("not in the model's vocabulary"), std::string::npos) << bad.output;
  testing::CommandResult mlp = testing::RunTensorscope("train spiral-mlp --data text:" + text + " --max-steps 2");
  EXPECT_NE(mlp.exit_code, 0);
  EXPECT_NE(mlp.output.find("embedding"), std::string::npos) << mlp.output;
}

}  // namespace
}  // namespace ts
