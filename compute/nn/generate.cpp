#include "compute/nn/generate.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "compute/common/error.h"
#include "compute/nn/checkpoint.h"

namespace ts::nn {

namespace {

// splitmix64: a small, seedable generator whose draws are the same everywhere.
double NextUniform(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return double(z >> 11) / double(uint64_t(1) << 53);
}

}  // namespace

uint32_t DrawToken(std::vector<float> probabilities, float temperature, uint32_t top_k, uint64_t& rng_state) {
  const size_t n = probabilities.size();
  // softmax(logits / T) = p^(1/T) renormalised; in logs to keep small p finite.
  std::vector<double> weights(n);
  double largest = -INFINITY;
  for (size_t i = 0; i < n; ++i) {
    weights[i] = probabilities[i] > 0 ? std::log(double(probabilities[i])) / temperature : -INFINITY;
    largest = std::max(largest, weights[i]);
  }
  if (top_k > 0 && top_k < n) {
    std::vector<double> sorted = weights;
    std::nth_element(sorted.begin(), sorted.begin() + (top_k - 1), sorted.end(), std::greater<double>());
    const double threshold = sorted[top_k - 1];
    for (double& w : weights)
      if (w < threshold) w = -INFINITY;
  }
  double total = 0;
  for (double& w : weights) total += (w = std::isfinite(w) ? std::exp(w - largest) : 0.0);
  if (!(total > 0)) return 0;
  double u = NextUniform(rng_state) * total;
  for (size_t i = 0; i < n; ++i) {
    if (u < weights[i]) return static_cast<uint32_t>(i);
    u -= weights[i];
  }
  for (size_t i = n; i-- > 0;)
    if (weights[i] > 0) return static_cast<uint32_t>(i);
  return 0;
}

TextGenerator::TextGenerator(vk::Context& context, vk::PipelineCache& pipelines, const ModelDesc& model,
                             const data::Vocabulary& vocabulary, const std::vector<float>& parameters)
    : model_(model), vocabulary_(vocabulary) {
  // The plain path keeps the attention probabilities that Attention reads.
  for (LayerDesc& layer : model_.layers)
    if (layer.kind == LayerKind::kTransformerBlock) layer.attention = AttentionChoice::kPlain;
  context_ = TokensPerSample(model);
  if (context_ <= 1)
    throw Error("the model '" + model.name + "' is not a sequence model (an input of T token ids and an embedding): "
                "it cannot generate text.");
  if (vocabulary_.tokens.size() < 2 || vocabulary_.tokens.size() > model.layers[1].vocab)
    throw Error("the model '" + model.name + "' has " + std::to_string(model.layers[1].vocab) +
                " tokens, and its vocabulary lists " + std::to_string(vocabulary_.tokens.size()) +
                ": the checkpoint's training config must carry the vocabulary of the text it trained on.");
  TrainConfig config;
  config.batch_size = 1;
  config.steps_per_submit = 1;
  config.autotune = false;
  trainer_ = std::make_unique<Trainer>(context, pipelines, model_, config, nullptr, nullptr);
  SetParameters(parameters);
  window_.name = "prompt";
  window_.sample_shape = {context_};
  window_.num_classes = static_cast<uint32_t>(vocabulary_.tokens.size());
  window_.labels_per_sample = context_;
  window_.features_f32.assign(context_, 0.0f);
  window_.labels.assign(context_, 0);
}

TextGenerator::~TextGenerator() = default;

void TextGenerator::SetParameters(const std::vector<float>& parameters) {
  Checkpoint checkpoint;
  checkpoint.model = model_;
  checkpoint.parameters = parameters;
  RestoreParameters(trainer_->plan(), checkpoint, "the generator's weights");
}

// The last T tokens of `context` at positions 0.. of the window.
std::vector<float> TextGenerator::RunWindow(const std::vector<uint32_t>& context, size_t& used) {
  used = std::min<size_t>(context.size(), context_);
  const size_t first = context.size() - used;
  std::fill(window_.features_f32.begin(), window_.features_f32.end(), 0.0f);
  for (size_t t = 0; t < used; ++t) window_.features_f32[t] = static_cast<float>(context[first + t]);
  return trainer_->PredictOnce(window_);
}

std::vector<float> TextGenerator::NextTokenProbabilities(const std::vector<uint32_t>& context) {
  size_t used = 0;
  const std::vector<float> outputs = RunWindow(context, used);
  const size_t vocab = trainer_->plan().output_features();
  const size_t position = used == 0 ? 0 : used - 1;
  std::vector<float> next(outputs.begin() + static_cast<std::ptrdiff_t>(position * vocab),
                          outputs.begin() + static_cast<std::ptrdiff_t>((position + 1) * vocab));
  next.resize(vocabulary_.tokens.size());  // tokens past the data's vocabulary are never drawn
  return next;
}

GenerationState TextGenerator::Begin(const std::string& prompt, const SampleOptions& options) const {
  Require(options.temperature > 0 && std::isfinite(options.temperature),
          "the temperature must be a positive number, found " + std::to_string(options.temperature) + ".");
  GenerationState state;
  state.options = options;
  state.rng = options.seed;
  state.text = prompt;
  state.ids = vocabulary_.Encode(prompt, "the prompt");
  if (state.ids.empty()) {
    // No prompt: start from a newline when the text has one, else the first token.
    auto newline = std::find(vocabulary_.tokens.begin(), vocabulary_.tokens.end(), "\n");
    state.ids.push_back(newline != vocabulary_.tokens.end() ? static_cast<uint32_t>(newline - vocabulary_.tokens.begin())
                                                           : 0);
  }
  return state;
}

uint32_t TextGenerator::Advance(GenerationState& state, uint32_t max_tokens) {
  uint32_t drawn = 0;
  for (; drawn < max_tokens && !state.done(); ++drawn, ++state.drawn) {
    const uint32_t token =
        DrawToken(NextTokenProbabilities(state.ids), state.options.temperature, state.options.top_k, state.rng);
    state.ids.push_back(token);
    state.text += vocabulary_.tokens[token];
  }
  return drawn;
}

std::string TextGenerator::Generate(const std::string& prompt, const SampleOptions& options,
                                    const std::function<void(const std::string&)>& on_token) {
  GenerationState state = Begin(prompt, options);
  while (!state.done()) {
    Advance(state, 1);
    if (on_token) on_token(vocabulary_.tokens[state.ids.back()]);
  }
  return state.text;
}

AttentionMaps TextGenerator::Attention(const std::string& prompt) {
  const std::vector<uint32_t> ids = vocabulary_.Encode(prompt, "the prompt");
  Require(!ids.empty(), "the attention maps need a prompt of at least one character.");
  size_t used = 0;
  RunWindow(ids, used);
  AttentionMaps maps;
  for (size_t t = ids.size() - used; t < ids.size(); ++t) maps.tokens.push_back(vocabulary_.tokens[ids[t]]);
  const size_t n = used, T = context_;
  for (size_t i = 0; i < model_.layers.size(); ++i) {
    const LayerDesc& layer = model_.layers[i];
    if (layer.kind != LayerKind::kTransformerBlock) continue;
    const std::vector<float> p = trainer_->plan().ReadAttentionProbabilities(i);  // (1, heads, T, T)
    Require(p.size() == size_t(layer.heads) * T * T, "the attention probabilities of '" + layer.name +
                                                         "' have " + std::to_string(p.size()) + " values, expected " +
                                                         std::to_string(size_t(layer.heads) * T * T) + ".");
    maps.heads = layer.heads;
    maps.layer_names.push_back(layer.name);
    ++maps.layers;
    for (size_t h = 0; h < layer.heads; ++h)
      for (size_t q = 0; q < n; ++q)
        for (size_t k = 0; k < n; ++k) maps.weights.push_back(k <= q ? p[(h * T + q) * T + k] : 0.0f);
  }
  return maps;
}

}  // namespace ts::nn
