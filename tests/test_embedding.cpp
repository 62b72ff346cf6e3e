// The GPT input kernels (compute/kernels/embedding.h) against their
// double-precision references (compute/reference/embedding.h): token +
// position embedding forward and backward, and the text-window gather.
// Bounds are those of tests/support/kernel_test.h unless a test says why.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include "compute/kernels/embedding.h"
#include "compute/reference/elementwise.h"
#include "compute/reference/embedding.h"
#include "shaders/embedding.h"
#include "shaders/init.h"
#include "shaders/step_params.h"
#include "support/kernel_test.h"
#include "support/vulkan_test.h"

namespace ts {
namespace {

using kernels::TensorRef;
using kernels::WholeBuffer;
using reference::ToDouble;
using namespace kernel_tests;

struct EmbeddingShape {
  uint32_t batch, tokens, vocab, width;  // B, T, V, C
  uint32_t rows() const { return batch * tokens; }
};
std::string Describe(const EmbeddingShape& s) {
  std::string text = "B";  // (appended: GCC 12 warns falsely about "literal" + std::string)
  text += std::to_string(s.batch) + " T" + std::to_string(s.tokens) + " V" + std::to_string(s.vocab) + " C" +
          std::to_string(s.width);
  return text;
}
// Ones everywhere, odd and prime sizes that divide no workgroup or tile, a
// char-level GPT's layer, a vocabulary of several tiles with a narrow width.
// C % 4 == 0 takes the vec4 shaders (also at the smallest such width, 4).
const EmbeddingShape kShapes[] = {{1, 1, 1, 1}, {3, 5, 7, 9}, {4, 64, 65, 128}, {2, 33, 300, 17}, {5, 3, 11, 4}};
// For the backward besides kShapes: more rows than a lane scans in one loop
// chunk (16384; lavapipe ends a loop after 65535 iterations) and a batch
// longer than one chunk for the position gradient (T = 1).
const EmbeddingShape kLongShapes[] = {{20000, 1, 3, 5}, {8, 2500, 65, 7}, {2, 9000, 5, 8}};

class EmbeddingTest : public KernelTest {
 protected:
  // Token ids as a gathered batch holds them: float32 values.
  static std::vector<float> FloatIds(const std::vector<uint32_t>& tokens) {
    return std::vector<float>(tokens.begin(), tokens.end());
  }
  std::vector<float> RunForward(const EmbeddingShape& s, const std::vector<uint32_t>& tokens,
                                const std::vector<float>& wte, const std::vector<float>& wpe,
                                const std::vector<float>* float_tokens = nullptr) {
    vk::Buffer tokens_buffer = float_tokens ? MakeBuffer(*float_tokens, "tokens") : MakeBuffer(tokens, "tokens");
    vk::Buffer wte_buffer = MakeBuffer(wte, "wte"), wpe_buffer = MakeBuffer(wpe, "wpe");
    vk::Buffer y = MakePoisonedBuffer(size_t(s.rows()) * s.width, "y");
    kernels::EmbeddingArgs args{WholeBuffer(tokens_buffer), WholeBuffer(wte_buffer), WholeBuffer(wpe_buffer),
                                WholeBuffer(y), s.rows(), s.tokens, s.vocab, s.width, float_tokens != nullptr};
    vk::Dispatch d = kernels::EmbeddingDispatch(pipelines(), args);
    EXPECT_EQ(d.pipeline->shader_name(), s.width % 4 == 0 ? "embedding_vec4" : "embedding");
    Run({std::move(d)});
    return Read<float>(y, size_t(s.rows()) * s.width);
  }

  struct Gradients {
    std::vector<float> grad_wte, grad_wpe;
  };
  // grad_wte starts as `initial_wte` (accumulate) or NaN (write); grad_wpe as NaN.
  Gradients RunBackward(const EmbeddingShape& s, const std::vector<uint32_t>& tokens,
                        const std::vector<float>& grad_y, bool accumulate, const std::vector<float>& initial_wte = {},
                        const kernels::EmbeddingBackwardTuning& tuning = {}, bool float_tokens = false) {
    vk::Buffer tokens_buffer = float_tokens ? MakeBuffer(FloatIds(tokens), "tokens") : MakeBuffer(tokens, "tokens");
    vk::Buffer grad_y_buffer = MakeBuffer(grad_y, "grad_y");
    const size_t table = size_t(s.vocab) * s.width, positions = size_t(s.tokens) * s.width;
    vk::Buffer grad_wte = accumulate ? MakeBuffer(initial_wte, "grad_wte") : MakePoisonedBuffer(table, "grad_wte");
    vk::Buffer grad_wpe = MakePoisonedBuffer(positions, "grad_wpe");
    kernels::EmbeddingBackwardArgs args{WholeBuffer(tokens_buffer), WholeBuffer(grad_y_buffer), WholeBuffer(grad_wte),
                                        WholeBuffer(grad_wpe), s.rows(), s.tokens, s.vocab, s.width, accumulate,
                                        float_tokens, tuning};
    std::vector<vk::Dispatch> dispatches = kernels::EmbeddingBackwardDispatches(pipelines(), args);
    for (const vk::Dispatch& d : dispatches) {
      EXPECT_FALSE(d.kernel.empty() || d.label.empty()) << "every dispatch names its kernel and role";
      EXPECT_GT(d.cost.bytes_read, 0) << d.label;
      EXPECT_GT(d.cost.bytes_written, 0) << d.label;
      EXPECT_EQ(d.pipeline->shader_name().ends_with("_vec4"), s.width % 4 == 0) << d.label;
    }
    Run(std::move(dispatches));
    return {Read<float>(grad_wte, table), Read<float>(grad_wpe, positions)};
  }
};

// Token-gradient tiles (column lanes x row lanes, token ids per tile), so
// that every device's shape runs here: the default, a GPU's at a char-level
// vocabulary (32 x 8, 5 ids), lavapipe's (8 x 1, a whole vocabulary), one
// invocation per workgroup, and tiles with many row lanes or few columns.
struct TuningCase {
  const char* name;
  kernels::EmbeddingBackwardTuning tuning;
};
const TuningCase kTunings[] = {{"default", {}},         {"32x8, 5 ids", {32, 8, 5}}, {"8x1, 512 ids", {8, 1, 512}},
                               {"1x1, 1 id", {1, 1, 1}}, {"8x4, 3 ids", {8, 4, 3}},   {"4x64, 2 ids", {4, 64, 2}}};

// Tokens with heavy repeats and gaps: half the rows hold token 0, the rest
// draw from the ids that are multiples of 3, so ids not divisible by 3 (for
// vocab > 1) never occur.
std::vector<uint32_t> RepeatingTokens(std::mt19937_64& rng, uint32_t rows, uint32_t vocab) {
  std::vector<uint32_t> tokens(rows);
  const uint32_t multiples_of_three = (vocab + 2) / 3;
  for (uint32_t& token : tokens) token = rng() % 2 == 0 ? 0u : uint32_t(rng() % multiples_of_three) * 3;
  return tokens;
}

// A sum of k float terms is held to 1e-6 of the sum of their magnitudes (a
// float accumulation's error grows with the terms' count and size; k reaches
// ~10^4 here), on top of the default bound.
std::vector<double> AbsSums(const std::vector<uint32_t>& tokens, const std::vector<float>& grad_y,
                            const EmbeddingShape& s, bool token_sums) {
  std::vector<double> abs_grad(grad_y.size());
  for (size_t i = 0; i < grad_y.size(); ++i) abs_grad[i] = std::abs(double(grad_y[i]));
  reference::EmbeddingGradients g =
      reference::EmbeddingBackward(tokens, abs_grad, s.rows(), s.tokens, s.vocab, s.width);
  return token_sums ? g.grad_wte : g.grad_wpe;
}
std::function<double(size_t, double)> SumBound(std::vector<double> abs_sums) {
  return [abs_sums = std::move(abs_sums)](size_t i, double ref) { return DefaultBound(ref) + 1e-6 * abs_sums[i]; };
}

// ---------------------------------------------------------------- forward

TEST_F(EmbeddingTest, ForwardMatchesReference) {
  auto rng = testing::MakeRng();
  for (const EmbeddingShape& s : kShapes) {
    SCOPED_TRACE(Describe(s));
    std::vector<uint32_t> tokens = RandomLabels(rng, s.rows(), s.vocab);
    std::vector<float> wte = testing::RandomFloats(rng, size_t(s.vocab) * s.width);
    std::vector<float> wpe = testing::RandomFloats(rng, size_t(s.tokens) * s.width);
    std::vector<float> y = RunForward(s, tokens, wte, wpe);
    ExpectAllNear(y, reference::EmbeddingForward(tokens, ToDouble(wte), ToDouble(wpe), s.rows(), s.tokens, s.vocab,
                                                 s.width),
                  "y");
  }
}

TEST_F(EmbeddingTest, TokenOutsideTheVocabularyGivesNaNInItsRowOnly) {
  auto rng = testing::MakeRng();
  const EmbeddingShape s{3, 5, 7, 9};
  std::vector<uint32_t> tokens = RandomLabels(rng, s.rows(), s.vocab);
  const std::set<uint32_t> bad_rows = {2, 9, 14};
  tokens[2] = s.vocab;  // the first id past the end
  tokens[9] = 0xffffffffu;
  tokens[14] = 1000;
  std::vector<float> wte = testing::RandomFloats(rng, size_t(s.vocab) * s.width);
  std::vector<float> wpe = testing::RandomFloats(rng, size_t(s.tokens) * s.width);
  std::vector<float> y = RunForward(s, tokens, wte, wpe);
  std::vector<double> ref =
      reference::EmbeddingForward(tokens, ToDouble(wte), ToDouble(wpe), s.rows(), s.tokens, s.vocab, s.width);
  ExpectAllNear(y, ref, "y");  // NaN expected exactly where the reference has it
  for (uint32_t r = 0; r < s.rows(); ++r)
    for (uint32_t c = 0; c < s.width; ++c)
      EXPECT_EQ(std::isnan(y[size_t(r) * s.width + c]), bad_rows.count(r) == 1) << "row " << r << " column " << c;
}

// A batch the dataset gather wrote holds float32 ids: the same rows as uint32
// ids, and a negative, fractional or NaN id is a bad token (its row NaN).
TEST_F(EmbeddingTest, FloatTokenIdsGiveTheSameOutputsAndGradients) {
  auto rng = testing::MakeRng();
  for (const EmbeddingShape& s : {EmbeddingShape{3, 5, 7, 9}, EmbeddingShape{4, 64, 65, 128}}) {
    SCOPED_TRACE(Describe(s));
    std::vector<uint32_t> tokens = RandomLabels(rng, s.rows(), s.vocab);
    std::vector<float> wte = testing::RandomFloats(rng, size_t(s.vocab) * s.width);
    std::vector<float> wpe = testing::RandomFloats(rng, size_t(s.tokens) * s.width);
    std::vector<float> ids = FloatIds(tokens);
    ids[1] = -1.0f;
    ids[4] = 2.5f;
    ids[6] = std::numeric_limits<float>::quiet_NaN();
    std::vector<uint32_t> as_uint = tokens;
    as_uint[1] = as_uint[4] = as_uint[6] = 0xffffffffu;  // what the bad floats mean
    ExpectAllNear(RunForward(s, tokens, wte, wpe, &ids),
                  reference::EmbeddingForward(as_uint, ToDouble(wte), ToDouble(wpe), s.rows(), s.tokens, s.vocab,
                                              s.width),
                  "y from float ids");
    std::vector<float> grad_y = testing::RandomFloats(rng, size_t(s.rows()) * s.width);
    Gradients from_floats = RunBackward(s, tokens, grad_y, false, {}, {}, /*float_tokens=*/true);
    Gradients from_uints = RunBackward(s, tokens, grad_y, false);
    EXPECT_EQ(from_floats.grad_wte, from_uints.grad_wte);
    EXPECT_EQ(from_floats.grad_wpe, from_uints.grad_wpe);
  }
}

// ---------------------------------------------------------------- backward

TEST_F(EmbeddingTest, BackwardWritesGradientsWithRepeatedAndAbsentTokens) {
  auto rng = testing::MakeRng();
  std::vector<EmbeddingShape> shapes(std::begin(kShapes), std::end(kShapes));
  shapes.insert(shapes.end(), std::begin(kLongShapes), std::end(kLongShapes));
  for (const EmbeddingShape& s : shapes) {
    for (const TuningCase& tuning : kTunings) {
      SCOPED_TRACE(Describe(s) + ", tile " + tuning.name);
      std::vector<uint32_t> tokens = RepeatingTokens(rng, s.rows(), s.vocab);
      std::vector<float> grad_y = testing::RandomFloats(rng, size_t(s.rows()) * s.width);
      Gradients gpu = RunBackward(s, tokens, grad_y, /*accumulate=*/false, {}, tuning.tuning);
      reference::EmbeddingGradients ref =
          reference::EmbeddingBackward(tokens, ToDouble(grad_y), s.rows(), s.tokens, s.vocab, s.width);
      ExpectAllNear(gpu.grad_wte, ref.grad_wte, "grad_wte", SumBound(AbsSums(tokens, grad_y, s, true)));
      ExpectAllNear(gpu.grad_wpe, ref.grad_wpe, "grad_wpe", SumBound(AbsSums(tokens, grad_y, s, false)));
      // Tokens no row holds get exactly zero (over the NaN poison).
      const std::set<uint32_t> present(tokens.begin(), tokens.end());
      size_t absent_checked = 0;
      for (uint32_t v = 0; v < s.vocab; ++v) {
        if (present.count(v)) continue;
        ++absent_checked;
        for (uint32_t c = 0; c < s.width; ++c)
          ASSERT_EQ(gpu.grad_wte[size_t(v) * s.width + c], 0.0f) << "absent token " << v << " column " << c;
      }
      if (s.vocab > 2) {
        EXPECT_GT(absent_checked, 0u) << "the shape should leave some tokens absent";
      }
    }
  }
}

TEST_F(EmbeddingTest, BackwardAccumulatesIntoTheTokenGradient) {
  auto rng = testing::MakeRng();
  std::vector<EmbeddingShape> shapes(std::begin(kShapes), std::end(kShapes));
  shapes.push_back(kLongShapes[1]);
  for (const EmbeddingShape& s : shapes) {
    for (const TuningCase& tuning : kTunings) {
      SCOPED_TRACE(Describe(s) + ", tile " + tuning.name);
      std::vector<uint32_t> tokens = RepeatingTokens(rng, s.rows(), s.vocab);
      std::vector<float> grad_y = testing::RandomFloats(rng, size_t(s.rows()) * s.width);
      // What a tied language-model head wrote before.
      std::vector<float> initial = testing::RandomFloats(rng, size_t(s.vocab) * s.width, -2, 2);
      Gradients gpu = RunBackward(s, tokens, grad_y, /*accumulate=*/true, initial, tuning.tuning);
      reference::EmbeddingGradients ref =
          reference::EmbeddingBackward(tokens, ToDouble(grad_y), s.rows(), s.tokens, s.vocab, s.width);
      std::vector<double> expected_wte(initial.size());
      for (size_t i = 0; i < initial.size(); ++i) expected_wte[i] = double(initial[i]) + ref.grad_wte[i];
      ExpectAllNear(gpu.grad_wte, expected_wte, "grad_wte (accumulated)", SumBound(AbsSums(tokens, grad_y, s, true)));
      ExpectAllNear(gpu.grad_wpe, ref.grad_wpe, "grad_wpe", SumBound(AbsSums(tokens, grad_y, s, false)));
      // Absent tokens keep what was there, bit for bit (x + 0 = x).
      const std::set<uint32_t> present(tokens.begin(), tokens.end());
      for (uint32_t v = 0; v < s.vocab; ++v)
        if (!present.count(v))
          for (uint32_t c = 0; c < s.width; ++c) {
            size_t i = size_t(v) * s.width + c;
            ASSERT_EQ(std::memcmp(&gpu.grad_wte[i], &initial[i], sizeof(float)), 0) << "absent token " << v;
          }
    }
  }
}

// No float atomics: the same inputs give the same bits, run after run.
TEST_F(EmbeddingTest, BackwardIsDeterministic) {
  auto rng = testing::MakeRng();
  const EmbeddingShape s = kLongShapes[1];
  std::vector<uint32_t> tokens = RepeatingTokens(rng, s.rows(), s.vocab);
  std::vector<float> grad_y = testing::RandomFloats(rng, size_t(s.rows()) * s.width);
  Gradients first = RunBackward(s, tokens, grad_y, false);
  for (int run = 0; run < 2; ++run) {
    Gradients again = RunBackward(s, tokens, grad_y, false);
    EXPECT_EQ(std::memcmp(first.grad_wte.data(), again.grad_wte.data(), first.grad_wte.size() * 4), 0);
    EXPECT_EQ(std::memcmp(first.grad_wpe.data(), again.grad_wpe.data(), first.grad_wpe.size() * 4), 0);
  }
}

// Rows whose token is outside the vocabulary (NaN rows in the forward) add to
// no token's gradient, and do add to their position's.
TEST_F(EmbeddingTest, BackwardSkipsTokensOutsideTheVocabulary) {
  auto rng = testing::MakeRng();
  const EmbeddingShape s{3, 5, 7, 9};
  std::vector<uint32_t> tokens = RandomLabels(rng, s.rows(), s.vocab);
  tokens[1] = s.vocab, tokens[7] = 0xffffffffu;
  std::vector<float> grad_y = testing::RandomFloats(rng, size_t(s.rows()) * s.width);
  Gradients gpu = RunBackward(s, tokens, grad_y, false);
  reference::EmbeddingGradients ref =
      reference::EmbeddingBackward(tokens, ToDouble(grad_y), s.rows(), s.tokens, s.vocab, s.width);
  ExpectAllNear(gpu.grad_wte, ref.grad_wte, "grad_wte");
  ExpectAllNear(gpu.grad_wpe, ref.grad_wpe, "grad_wpe");
}

// The reference backward against central differences of the reference
// forward, for L = sum(y * g): dL/dwte and dL/dwpe. L is linear, so the
// differences are exact but for rounding (~1e-16 |L| / h < 1e-8).
TEST_F(EmbeddingTest, ReferenceBackwardMatchesFiniteDifferences) {
  auto rng = testing::MakeRng();
  const double h = 1e-6;
  for (const EmbeddingShape& s : {EmbeddingShape{3, 5, 7, 9}, EmbeddingShape{2, 4, 3, 2}}) {
    SCOPED_TRACE(Describe(s));
    std::vector<uint32_t> tokens = RepeatingTokens(rng, s.rows(), s.vocab);
    std::vector<double> g = ToDouble(testing::RandomFloats(rng, size_t(s.rows()) * s.width));
    std::vector<double> wte = ToDouble(testing::RandomFloats(rng, size_t(s.vocab) * s.width));
    std::vector<double> wpe = ToDouble(testing::RandomFloats(rng, size_t(s.tokens) * s.width));
    auto loss = [&](const std::vector<double>& e, const std::vector<double>& p) {
      std::vector<double> y = reference::EmbeddingForward(tokens, e, p, s.rows(), s.tokens, s.vocab, s.width);
      return std::inner_product(y.begin(), y.end(), g.begin(), 0.0);
    };
    std::vector<double> numeric_wte(wte.size()), numeric_wpe(wpe.size());
    for (size_t i = 0; i < wte.size(); ++i) {
      std::vector<double> plus = wte, minus = wte;
      plus[i] += h, minus[i] -= h;
      numeric_wte[i] = (loss(plus, wpe) - loss(minus, wpe)) / (2 * h);
    }
    for (size_t i = 0; i < wpe.size(); ++i) {
      std::vector<double> plus = wpe, minus = wpe;
      plus[i] += h, minus[i] -= h;
      numeric_wpe[i] = (loss(wte, plus) - loss(wte, minus)) / (2 * h);
    }
    reference::EmbeddingGradients ref = reference::EmbeddingBackward(tokens, g, s.rows(), s.tokens, s.vocab, s.width);
    for (size_t i = 0; i < wte.size(); ++i) EXPECT_NEAR(ref.grad_wte[i], numeric_wte[i], 1e-7) << "wte " << i;
    for (size_t i = 0; i < wpe.size(); ++i) EXPECT_NEAR(ref.grad_wpe[i], numeric_wpe[i], 1e-7) << "wpe " << i;
  }
}

// ---------------------------------------------------------------- gather_text

struct TextCase {
  uint32_t rows, tokens, first, span;
};
std::string Describe(const TextCase& c) {
  std::string text = "rows ";
  text += std::to_string(c.rows) + " T " + std::to_string(c.tokens) + " span [" + std::to_string(c.first) + ", +" +
          std::to_string(c.span) + ")";
  return text;
}
constexpr uint32_t kCorpusCount = 1000;
// Odd sizes; T = 1; a span of exactly one window (T + 1 tokens); a span that
// ends at the corpus's end; more windows than fit the span sequentially (wraps).
const TextCase kTextCases[] = {{5, 7, 100, 300}, {3, 1, 0, 2}, {4, 8, 50, 9}, {33, 64, 17, 983}, {300, 3, 400, 200}};

class TextGatherTest : public KernelTest {
 protected:
  struct Batch {
    std::vector<uint32_t> input, labels;
  };
  Batch RunGather(const vk::Buffer& corpus, const kernels::TextGatherArgs& base, uint32_t adam_step,
                  uint32_t batch_offset) {
    gpu::StepParams step{};
    step.adam_step = adam_step;
    step.batch_offset = batch_offset;
    vk::Buffer step_buffer = MakeStepBuffer(step);
    const size_t n = size_t(base.rows) * base.tokens_per_sample;
    vk::Buffer input = MakePoisonedBuffer(n, "input"), labels = MakePoisonedBuffer(n, "labels");
    kernels::TextGatherArgs args = base;
    args.corpus = WholeBuffer(corpus);
    args.step_params = StepRef(step_buffer);
    args.input = WholeBuffer(input);
    args.labels = WholeBuffer(labels);
    vk::Dispatch d = kernels::TextGatherDispatch(pipelines(), args);
    EXPECT_EQ(d.kernel, "gather_text");
    EXPECT_GT(d.cost.bytes_read, 0);
    Run({std::move(d)});
    return {Read<uint32_t>(input, n), Read<uint32_t>(labels, n)};
  }
};

// Distinct values below 2^30 (never the NaN poison's bits), so a window read
// one token off cannot match.
std::vector<uint32_t> DistinctCorpus(std::mt19937_64& rng) {
  std::vector<uint32_t> corpus(kCorpusCount);
  std::iota(corpus.begin(), corpus.end(), 0u);
  for (uint32_t& value : corpus) value = value | uint32_t(rng() % (1u << 20)) << 10;  // i in the low 10 bits
  return corpus;
}

TEST_F(TextGatherTest, WindowsMatchTheCorpusAtTheirStarts) {
  auto rng = testing::MakeRng();
  std::vector<uint32_t> corpus = DistinctCorpus(rng);
  vk::Buffer corpus_buffer = MakeBuffer(corpus, "corpus");
  for (bool random : {true, false}) {
    for (const TextCase& c : kTextCases) {
      const uint32_t T = c.tokens;
      for (auto [adam_step, batch_offset] : {std::pair{1u, 0u}, std::pair{2u, 3u}, std::pair{1000u, 1234567u}}) {
        SCOPED_TRACE(std::string(random ? "random " : "sequential ") + Describe(c) + " step " +
                     std::to_string(adam_step) + " offset " + std::to_string(batch_offset));
        kernels::TextGatherArgs args;
        args.rows = c.rows, args.tokens_per_sample = T, args.first = c.first, args.span = c.span;
        args.random = random, args.seed = 12345;
        Batch gpu = RunGather(corpus_buffer, args, adam_step, batch_offset);
        reference::TextBatch ref = reference::GatherText(corpus, args, adam_step, batch_offset);
        EXPECT_EQ(gpu.input, ref.input);
        EXPECT_EQ(gpu.labels, ref.labels);
        const uint32_t windows = (c.span - 1) / T;
        for (uint32_t r = 0; r < c.rows; ++r) {
          const uint32_t start = kernels::TextWindowStart(args, adam_step, batch_offset, r);
          // The whole window, labels included, inside [first, first + span).
          ASSERT_GE(start, c.first);
          ASSERT_LE(start + T + 1, c.first + c.span);
          if (random) {
            EXPECT_EQ(start, c.first + gpu::InitRandomBits(12345 ^ gpu::TEXT_WINDOW_SEED_SALT, adam_step, r) %
                                           (c.span - T));
          } else {
            EXPECT_EQ(start, c.first + (batch_offset + r) % windows * T) << "row " << r;
          }
          for (uint32_t t = 0; t < T; ++t) {
            const size_t i = size_t(r) * T + t;
            ASSERT_EQ(gpu.input[i], corpus[start + t]) << "row " << r << " t " << t;
            ASSERT_EQ(gpu.labels[i], corpus[start + t + 1]) << "row " << r << " t " << t;
            if (t + 1 < T) {
              ASSERT_EQ(gpu.labels[i], gpu.input[i + 1]) << "labels are the inputs shifted by one";
            }
          }
        }
      }
    }
  }
}

TEST_F(TextGatherTest, RandomWindowsChangeWithTheStepAndSpreadOverTheSpan) {
  auto rng = testing::MakeRng();
  std::vector<uint32_t> corpus = DistinctCorpus(rng);
  vk::Buffer corpus_buffer = MakeBuffer(corpus, "corpus");
  kernels::TextGatherArgs args;
  args.rows = 256, args.tokens_per_sample = 4, args.first = 300, args.span = 500, args.random = true, args.seed = 7;
  Batch step1 = RunGather(corpus_buffer, args, 1, 0), step2 = RunGather(corpus_buffer, args, 2, 0);
  EXPECT_NE(step1.input, step2.input) << "a new step draws new windows";
  Batch again = RunGather(corpus_buffer, args, 1, 99);  // batch_offset plays no part in random windows
  EXPECT_EQ(step1.input, again.input);
  std::vector<uint32_t> starts;
  for (uint32_t r = 0; r < args.rows; ++r) starts.push_back(kernels::TextWindowStart(args, 1, 0, r));
  const auto [lowest, highest] = std::minmax_element(starts.begin(), starts.end());
  EXPECT_LT(*lowest, args.first + 50) << "windows should cover the span's start";
  EXPECT_GT(*highest, args.first + args.span - args.tokens_per_sample - 51) << "and its end";
  EXPECT_GT(std::set<uint32_t>(starts.begin(), starts.end()).size(), 150u) << "256 draws from 496 starts";
  kernels::TextGatherArgs other_seed = args;
  other_seed.seed = 8;
  EXPECT_NE(step1.input, RunGather(corpus_buffer, other_seed, 1, 0).input) << "the seed changes the windows";
}

TEST_F(TextGatherTest, SequentialWindowsWalkTheSpanAndWrap) {
  auto rng = testing::MakeRng();
  std::vector<uint32_t> corpus = DistinctCorpus(rng);
  vk::Buffer corpus_buffer = MakeBuffer(corpus, "corpus");
  kernels::TextGatherArgs args;
  args.rows = 6, args.tokens_per_sample = 10, args.first = 20, args.span = 101, args.random = false;
  // (101 - 1) / 10 = 10 whole windows: starts 20, 30, ..., 110 (its last label is corpus[120]).
  Batch first = RunGather(corpus_buffer, args, 1, 0);
  for (uint32_t r = 0; r < args.rows; ++r) EXPECT_EQ(first.input[r * 10], corpus[20 + 10 * r]);
  Batch next = RunGather(corpus_buffer, args, 2, 6);  // rows 6..11: windows 6..9, then 0 and 1
  const uint32_t expected_starts[] = {80, 90, 100, 110, 20, 30};
  for (uint32_t r = 0; r < args.rows; ++r) {
    EXPECT_EQ(next.input[r * 10], corpus[expected_starts[r]]) << "row " << r;
    EXPECT_EQ(next.labels[r * 10 + 9], corpus[expected_starts[r] + 10]) << "row " << r;
  }
  EXPECT_EQ(RunGather(corpus_buffer, args, 77, 0).input, first.input)
      << "adam_step plays no part in sequential windows";
}

}  // namespace
}  // namespace ts
