// TrainingSession's text views of a sequence model (compute/nn/session_text.cpp):
// samples drawn a few characters per worker turn while training goes on, a
// newer request replacing an older one, attention maps whose rows are causal
// softmax weights, and the errors a person gets (a character outside the
// vocabulary, a model that is not a sequence model, no vocabulary, no model).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "compute/data/text.h"
#include "compute/nn/model.h"
#include "compute/nn/session.h"
#include "support/session_support.h"
#include "support/test_data.h"
#include "support/vulkan_test.h"

namespace ts {
namespace {

using testing::EventLog;
using testing::VulkanTest;
using Kind = nn::SessionEvent::Kind;
using State = nn::SessionState;

#define EXPECT_CONTAINS(text, part) EXPECT_NE(std::string(text).find(part), std::string::npos) << (text)

constexpr uint32_t kContext = 16;

std::string GptModel(uint32_t vocab) {
  std::string layers = R"({"type": "input", "shape": [)" + std::to_string(kContext) + R"(]},
    {"type": "embedding", "vocab": )" + std::to_string(vocab) + R"(, "units": 24})";
  for (int b = 0; b < 2; ++b) layers += R"(, {"type": "transformer_block", "heads": 3})";
  layers += R"(, {"type": "layer_norm", "name": "ln_f"}, {"type": "dense", "name": "head", "units": )" +
            std::to_string(vocab) + R"(, "tied": true, "bias": false}, {"type": "softmax_cross_entropy"})";
  return R"({"format": "tensorscope-model", "version": 1, "name": "gpt", "layers": [)" + layers + "]}";
}

// A 2-block GPT on the text's 16-character windows, with the text's vocabulary
// (as the window's run gives it), trained for many epochs (it never finishes here).
nn::SessionSetup TextSetup(bool with_vocabulary = true) {
  const std::string text = testing::EnglishLikeText();
  std::vector<char32_t> distinct = data::DecodeUtf8(text, "text");
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  data::Vocabulary vocabulary;
  for (char32_t c : distinct) vocabulary.tokens.push_back(data::EncodeUtf8(c));
  data::Dataset windows = data::TextWindows(vocabulary.Encode(text, "text"), vocabulary, kContext, "text");
  nn::SessionSetup setup;
  setup.model = nn::ParseModel(GptModel(windows.num_classes), "gpt");
  setup.config.optimizer = kernels::OptimizerKind::kAdamW;
  setup.config.learning_rate = 3e-3;
  setup.config.batch_size = 8;
  setup.config.epochs = 1000;
  setup.config.steps_per_submit = 2;
  setup.config.validation_fraction = 0;
  setup.config.autotune = false;
  if (with_vocabulary) setup.config.vocabulary = vocabulary.tokens;
  setup.train = std::make_shared<const data::Dataset>(std::move(windows));
  return setup;
}

// The answers to sample request `request` in `log`, in order.
std::vector<nn::SampleAnswer> AnswersTo(const EventLog& log, uint64_t request) {
  std::vector<nn::SampleAnswer> answers;
  for (const nn::SessionEvent& e : log.events())
    if (e.kind == Kind::kSample && e.sample->request.request == request) answers.push_back(*e.sample);
  return answers;
}

std::optional<nn::SessionEvent> WaitForSampleDone(EventLog& log, uint64_t request, double timeout = 180) {
  return log.WaitFor(
      [&](const nn::SessionEvent& e) { return e.kind == Kind::kSample && e.sample->request.request == request && e.sample->done; },
      timeout);
}

std::optional<nn::SessionEvent> WaitForAttention(EventLog& log, uint64_t request) {
  return log.WaitFor([&](const nn::SessionEvent& e) {
    return e.kind == Kind::kAttention && e.attention->request.request == request;
  });
}

nn::SampleRequest Sample(const std::string& prompt, uint32_t tokens, uint64_t request) {
  nn::SampleRequest r;
  r.prompt = prompt;
  r.options.tokens = tokens;
  r.options.top_k = 5;
  r.options.seed = request;
  r.request = request;
  return r;
}

// While training runs, a sample arrives in chunks of growing text, training
// steps come between the chunks, and the last chunk holds the prompt and as
// many vocabulary characters as asked, with the parameters' step.
TEST_F(VulkanTest, SessionSamplesArriveInChunksWhileTrainingGoesOn) {
  nn::SessionSetup setup = TextSetup();
  const std::set<std::string> vocabulary(setup.config.vocabulary.begin(), setup.config.vocabulary.end());
  nn::TrainingSession session(context(), pipelines());
  EventLog log(session);
  session.Load(setup);
  session.Start();
  ASSERT_TRUE(log.WaitForStep(3));
  const std::string prompt = "The quick";
  const uint32_t tokens = 50;
  session.RequestSample(Sample(prompt, tokens, 1));
  auto done = WaitForSampleDone(log, 1);
  ASSERT_TRUE(done);
  session.Pause();
  ASSERT_TRUE(log.WaitForState(State::kPaused));
  EXPECT_TRUE(log.Errors().empty()) << log.Errors().front();

  const std::vector<nn::SampleAnswer> answers = AnswersTo(log, 1);
  ASSERT_GE(answers.size(), 3u);  // 50 characters, about a dozen a turn
  std::string previous = prompt;
  for (const nn::SampleAnswer& a : answers) {
    EXPECT_TRUE(a.error.empty()) << a.error;
    EXPECT_EQ(a.text.rfind(previous, 0), 0u) << "each chunk extends the last: '" << previous << "' -> '" << a.text << "'";
    EXPECT_GT(a.text.size(), previous.size());
    EXPECT_EQ(a.global_step, answers.front().global_step);  // one set of weights for the whole sample
    previous = a.text;
  }
  EXPECT_GE(answers.front().global_step, 3u);
  const nn::SampleAnswer& last = answers.back();
  EXPECT_TRUE(last.done);
  const std::vector<char32_t> characters = data::DecodeUtf8(last.text, "sample");
  ASSERT_EQ(characters.size(), prompt.size() + tokens);
  for (char32_t c : characters) EXPECT_TRUE(vocabulary.count(data::EncodeUtf8(c))) << "not in the vocabulary: " << uint32_t(c);
  std::printf("[ sample   ] step %llu: %s\n", static_cast<unsigned long long>(last.global_step), last.text.c_str());

  // Training went on between the first chunk and the last: steps in between.
  std::vector<size_t> chunks;  // where the sample's answers are in the log
  const auto& events = log.events();
  for (size_t i = 0; i < events.size(); ++i)
    if (events[i].kind == Kind::kSample && events[i].sample->request.request == 1) chunks.push_back(i);
  size_t steps_between = 0;
  for (size_t i = chunks.front(); i < chunks.back(); ++i) steps_between += events[i].kind == Kind::kStep;
  EXPECT_GT(steps_between, 0u) << "training stalled while the sample was drawn";
}

// Paused, the worker still draws; a newer request replaces the one in
// progress, whose answers stop; the newer one completes.
TEST_F(VulkanTest, SessionNewerSampleRequestReplacesTheOneInProgress) {
  nn::TrainingSession session(context(), pipelines());
  EventLog log(session);
  session.Load(TextSetup());
  ASSERT_TRUE(log.WaitForState(State::kReady));
  session.RequestSample(Sample("A small", 400, 1));
  ASSERT_TRUE(log.WaitFor([](const nn::SessionEvent& e) { return e.kind == Kind::kSample; }));  // under way
  session.RequestSample(Sample("", 20, 2));
  auto done = WaitForSampleDone(log, 2);
  ASSERT_TRUE(done);
  log.Drain(0.5);
  EXPECT_EQ(done->sample->global_step, 0u);  // untrained weights
  EXPECT_EQ(data::DecodeUtf8(done->sample->text, "sample").size(), 20u);  // an empty prompt starts from a line break
  const auto& events = log.events();
  size_t first_of_newer = events.size();
  for (size_t i = 0; i < events.size(); ++i)
    if (events[i].kind == Kind::kSample && events[i].sample->request.request == 2) first_of_newer = std::min(first_of_newer, i);
  for (size_t i = first_of_newer; i < events.size(); ++i)
    if (events[i].kind == Kind::kSample) {
      EXPECT_EQ(events[i].sample->request.request, 2u) << "the replaced sample went on";
    }
  for (const nn::SampleAnswer& a : AnswersTo(log, 1)) EXPECT_FALSE(a.done);
  EXPECT_TRUE(log.Errors().empty());
}

// The maps: layers x heads of T x T (the prompt's last T characters), every
// row a softmax over the keys up to the query, zeros after it.
TEST_F(VulkanTest, SessionAttentionMapsAreCausalSoftmaxRows) {
  nn::TrainingSession session(context(), pipelines());
  EventLog log(session);
  session.Load(TextSetup());
  session.Step();
  session.Step();
  ASSERT_TRUE(log.WaitForStep(1));
  const std::string prompt = "Attention looks back at every";  // longer than T = 16
  session.RequestAttention({prompt, 7});
  auto event = WaitForAttention(log, 7);
  ASSERT_TRUE(event);
  const nn::AttentionAnswer& answer = *event->attention;
  ASSERT_TRUE(answer.error.empty()) << answer.error;
  EXPECT_EQ(answer.global_step, 2u);
  const nn::AttentionMaps& maps = answer.maps;
  ASSERT_EQ(maps.layers, 2u);
  ASSERT_EQ(maps.heads, 3u);
  ASSERT_EQ(maps.layer_names.size(), 2u);
  ASSERT_EQ(maps.tokens.size(), kContext);
  std::string shown;
  for (const std::string& t : maps.tokens) shown += t;
  EXPECT_EQ(shown, prompt.substr(prompt.size() - kContext));
  ASSERT_EQ(maps.weights.size(), size_t(2) * 3 * kContext * kContext);
  for (uint32_t l = 0; l < maps.layers; ++l)
    for (uint32_t h = 0; h < maps.heads; ++h)
      for (size_t q = 0; q < kContext; ++q) {
        double sum = 0;
        for (size_t k = 0; k < kContext; ++k) {
          const float w = maps.at(l, h, q, k);
          if (k > q) {
            EXPECT_EQ(w, 0.0f) << "a token looked ahead";
          }
          EXPECT_GE(w, 0.0f);
          sum += w;
        }
        EXPECT_NEAR(sum, 1.0, 1e-5) << "layer " << l << " head " << h << " query " << q;
      }
  // A short prompt: as many tokens as it has.
  session.RequestAttention({"The", 8});
  event = WaitForAttention(log, 8);
  ASSERT_TRUE(event);
  EXPECT_EQ(event->attention->maps.tokens.size(), 3u);
  EXPECT_EQ(event->attention->maps.weights.size(), size_t(2) * 3 * 3 * 3);
  EXPECT_TRUE(log.Errors().empty());
}

// What goes wrong comes back in the answer, named, and the run carries on.
TEST_F(VulkanTest, SessionTextErrorsComeBackInTheAnswer) {
  nn::TrainingSession session(context(), pipelines());
  EventLog log(session);
  // Nothing loaded.
  session.RequestSample(Sample("The", 5, 1));
  auto done = WaitForSampleDone(log, 1);
  ASSERT_TRUE(done);
  EXPECT_CONTAINS(done->sample->error, "load a model");

  session.Load(TextSetup());
  ASSERT_TRUE(log.WaitForState(State::kReady));
  // A character outside the vocabulary, named.
  session.RequestSample(Sample("The ~ fox", 5, 2));
  done = WaitForSampleDone(log, 2);
  ASSERT_TRUE(done);
  EXPECT_CONTAINS(done->sample->error, "\"~\"");
  EXPECT_CONTAINS(done->sample->error, "vocabulary");
  session.RequestAttention({"~", 3});
  auto maps = WaitForAttention(log, 3);
  ASSERT_TRUE(maps);
  EXPECT_CONTAINS(maps->attention->error, "\"~\"");
  EXPECT_EQ(maps->attention->maps.layers, 0u);
  session.RequestAttention({"", 4});
  maps = WaitForAttention(log, 4);
  ASSERT_TRUE(maps);
  EXPECT_CONTAINS(maps->attention->error, "at least one character");
  // A temperature that is not positive.
  nn::SampleRequest cold = Sample("The", 5, 3);
  cold.options.temperature = 0;
  session.RequestSample(cold);
  done = WaitForSampleDone(log, 3);
  ASSERT_TRUE(done);
  EXPECT_CONTAINS(done->sample->error, "temperature");
  // The run is fine: it trains, and samples.
  session.Step();
  ASSERT_TRUE(log.WaitForStep(0));
  session.RequestSample(Sample("The", 5, 4));
  done = WaitForSampleDone(log, 4);
  ASSERT_TRUE(done);
  EXPECT_TRUE(done->sample->error.empty()) << done->sample->error;
  EXPECT_EQ(done->sample->global_step, 1u);

  // A run without a vocabulary (it did not say what its tokens are).
  session.Load(TextSetup(/*with_vocabulary=*/false));
  ASSERT_TRUE(log.WaitForState(State::kReady));
  session.RequestSample(Sample("The", 5, 5));
  done = WaitForSampleDone(log, 5);
  ASSERT_TRUE(done);
  EXPECT_CONTAINS(done->sample->error, "no vocabulary");

  // A model that is not a sequence model.
  session.Load(testing::SpiralSessionSetup(
      testing::TestModel(R"({"type": "input", "shape": [2]}, {"type": "dense", "units": 8}, {"type": "relu"},
                            {"type": "dense", "units": 3}, {"type": "softmax"})"),
      5, false));
  ASSERT_TRUE(log.WaitForState(State::kReady));
  session.RequestSample(Sample("", 5, 6));
  done = WaitForSampleDone(log, 6);
  ASSERT_TRUE(done);
  EXPECT_CONTAINS(done->sample->error, "not a sequence model");
  session.RequestAttention({"ab", 9});
  maps = WaitForAttention(log, 9);
  ASSERT_TRUE(maps);
  EXPECT_CONTAINS(maps->attention->error, "not a sequence model");
  EXPECT_TRUE(log.Errors().empty()) << "text errors are answers, not session errors: " << log.Errors().front();
}

}  // namespace
}  // namespace ts
