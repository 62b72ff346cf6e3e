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

// Where each head of each transformer block attends for a prompt: the
// softmax weights of its causal attention, read from the device.
struct AttentionMaps {
  std::vector<std::string> tokens;  // the prompt's characters (the last T when longer)
  uint32_t layers = 0;              // transformer blocks, in model order
  uint32_t heads = 0;               // per block
  std::vector<std::string> layer_names;
  // [layer][head][query][key], tokens.size() squared per head: row q sums to
  // 1 over keys 0..q (causal; keys after q are 0).
  std::vector<float> weights;
  float at(uint32_t layer, uint32_t head, size_t query, size_t key) const {
    const size_t n = tokens.size();
    return weights[((size_t(layer) * heads + head) * n + query) * n + key];
  }
};

// A generation in progress (TextGenerator::Begin / Advance): kept between
// calls so a caller can draw a few tokens at a time.
struct GenerationState {
  SampleOptions options;
  std::vector<uint32_t> ids;  // the prompt's tokens and those drawn so far
  std::string text;           // the prompt followed by what was drawn
  uint32_t drawn = 0;
  uint64_t rng = 1;
  bool done() const { return drawn >= options.tokens; }
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

  // The same, a few tokens at a time: Begin checks the options and encodes
  // the prompt (ts::Error naming the character not in the vocabulary);
  // Advance draws at most `max_tokens` more and returns how many it drew.
  GenerationState Begin(const std::string& prompt, const SampleOptions& options) const;
  uint32_t Advance(GenerationState& state, uint32_t max_tokens);

  // Replaces the weights (Plan::ReadParameters order, same model), so one
  // generator can follow a training run.
  void SetParameters(const std::vector<float>& parameters);

  // The attention weights of every block and head for `prompt` (its last T
  // characters; at least one). The generator's plan runs the plain attention
  // path, which keeps the T x T probabilities these are read from.
  AttentionMaps Attention(const std::string& prompt);

  // The next-token probabilities after `context` (token ids, at most T are used).
  std::vector<float> NextTokenProbabilities(const std::vector<uint32_t>& context);

  const data::Vocabulary& vocabulary() const { return vocabulary_; }
  uint32_t context_length() const { return context_; }

 private:
  std::vector<float> RunWindow(const std::vector<uint32_t>& context, size_t& used);  // the last T tokens

  ModelDesc model_;  // with every block on the plain attention path
  data::Vocabulary vocabulary_;
  uint32_t context_ = 0;
  std::unique_ptr<Trainer> trainer_;
  data::Dataset window_;  // one sample: the current context
};

// Draws a token from `probabilities` with temperature and top-k (exposed for tests).
uint32_t DrawToken(std::vector<float> probabilities, float temperature, uint32_t top_k, uint64_t& rng_state);

}  // namespace ts::nn
