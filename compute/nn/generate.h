// Text generation from a character-level sequence model (a GPT trained on
// text:PATH or kjv): the prompt is encoded with the model's vocabulary, then
// one token at a time is drawn from softmax(logits / temperature), optionally
// among the top-k only, and appended, as nanoGPT's generate().
//
// The plan has a fixed context of T positions. The last T tokens (fewer at
// the start) sit at positions 0.. and the next token's distribution is read at
// the last one: attention is causal, so the padding after it changes nothing.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "compute/data/text.h"
#include "compute/nn/model.h"
#include "compute/nn/trainer.h"

namespace ts::nn {

struct SampleOptions {
  uint32_t tokens = 200;      // characters to generate
  float temperature = 1.0f;   // > 0; lower: more conservative
  uint32_t top_k = 0;         // 0: all tokens; else only the k likeliest
  uint64_t seed = 1;
};

class TextGenerator {
 public:
  // `parameters` in Plan::ReadParameters order (a checkpoint's). Throws
  // ts::Error when the model is not a sequence model or the vocabulary does
  // not match its embedding.
  TextGenerator(vk::Context& context, vk::PipelineCache& pipelines, const ModelDesc& model,
                const data::Vocabulary& vocabulary, const std::vector<float>& parameters);
  ~TextGenerator();

  // The prompt followed by `options.tokens` generated characters (the prompt
  // may be empty: generation starts from the first token, usually "\n").
  // `on_token` (optional) sees each new character as it is drawn.
  std::string Generate(const std::string& prompt, const SampleOptions& options,
                       const std::function<void(const std::string&)>& on_token = {});

  // The next-token probabilities after `context` (token ids, at most T are used).
  std::vector<float> NextTokenProbabilities(const std::vector<uint32_t>& context);

  const data::Vocabulary& vocabulary() const { return vocabulary_; }
  uint32_t context_length() const { return context_; }

 private:
  data::Vocabulary vocabulary_;
  uint32_t context_ = 0;
  std::unique_ptr<Trainer> trainer_;
  data::Dataset window_;  // one sample: the current context
};

// Draws a token from `probabilities` with temperature and top-k (exposed for tests).
uint32_t DrawToken(std::vector<float> probabilities, float temperature, uint32_t top_k, uint64_t& rng_state);

}  // namespace ts::nn
