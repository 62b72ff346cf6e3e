#include "app/bench_gpt.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <random>
#include <utility>
#include <vector>

#include "compute/common/error.h"
#include "compute/data/registry.h"
#include "compute/data/text.h"
#include "compute/nn/model.h"
#include "compute/nn/presets.h"
#include "compute/nn/train_config.h"
#include "compute/nn/trainer.h"

namespace ts::app {

using nlohmann::json;

namespace {

constexpr uint32_t kRandomWindows = 4096;  // 262144 tokens at T = 64: many batches before an epoch ends
constexpr uint32_t kMaxSteps = 100000;

// The vocabulary size of a sequence model: its embedding's; 0 when it has none.
uint32_t EmbeddingVocab(const nn::ModelDesc& model) {
  for (const nn::LayerDesc& layer : model.layers)
    if (layer.kind == nn::LayerKind::kEmbedding) return layer.vocab;
  return 0;
}

}  // namespace

struct GptBench::TrainedModel {
  std::unique_ptr<nn::Trainer> trainer;
  float loss_initial = 0;  // the first warm-up step's loss: the model at its initial parameters
};

GptBench::GptBench(vk::Context& context, vk::PipelineCache& pipelines) : context_(context), pipelines_(pipelines) {}

GptBench::~GptBench() = default;

const data::Dataset& GptBench::Windows(const std::string& kind, uint32_t context, uint32_t vocab) {
  auto key = std::make_tuple(kind, context, vocab);
  auto it = windows_.find(key);
  if (it != windows_.end()) return it->second;
  data::Dataset windows;
  if (kind == "kjv") {
    windows = std::move(data::LoadDataSpec("kjv:context=" + std::to_string(context)).train);
    Require(windows.num_classes == vocab, "gpt: the kjv text has " + std::to_string(windows.num_classes) +
                                              " distinct characters; the model's embedding takes " +
                                              std::to_string(vocab) + " tokens.");
  } else {
    // Uniform token ids: the same work per step as text, nothing to learn.
    std::mt19937_64 rng(2026);
    std::vector<uint32_t> ids(size_t(kRandomWindows) * context + 1);
    for (uint32_t& id : ids) id = static_cast<uint32_t>(rng() % vocab);
    data::Vocabulary vocabulary;
    for (uint32_t t = 0; t < vocab; ++t) vocabulary.tokens.push_back("token " + std::to_string(t));
    windows = data::TextWindows(ids, vocabulary, context, "random-tokens");
  }
  return windows_.emplace(key, std::move(windows)).first->second;
}

json GptBench::Run(const json& request) {
  const std::string model_name = request.value("model", "char-gpt");
  const nn::ModelDesc model = nn::LoadModelOrPreset(model_name);
  const uint32_t vocab = EmbeddingVocab(model), context = nn::TokensPerSample(model);
  Require(vocab > 0, "gpt: '" + model_name + "' has no embedding layer; the gpt request trains sequence models.");
  nn::TrainConfig config =
      nn::ParseTrainConfig(model.training.is_null() ? json::object() : model.training, model_name + ": training");
  const uint32_t batch = request.value("batch", config.batch_size);
  const uint32_t steps = request.value("steps", 32u);
  const uint64_t seed = request.value("seed", uint64_t(1));
  Require(batch >= 1 && batch <= 4096, "gpt: batch must be 1 to 4096.");
  Require(steps >= 1 && steps <= kMaxSteps, "gpt: steps must be 1 to " + std::to_string(kMaxSteps) + ".");
  std::string data_kind = request.value("data", "auto");
  if (data_kind == "auto") data_kind = std::filesystem::exists(data::kBibleProgram) ? "kjv" : "random";
  Require(data_kind == "kjv" || data_kind == "random", "gpt: data is auto, kjv or random; got \"" + data_kind + "\".");

  auto key = std::make_tuple(model_name, batch, seed, data_kind);
  auto it = models_.find(key);
  if (it == models_.end()) {
    if (models_.size() >= 4) models_.clear();  // each holds a plan and its buffers
    const data::Dataset& windows = Windows(data_kind, context, vocab);
    Require(windows.count() >= batch, "gpt: " + std::to_string(windows.count()) + " windows, fewer than a batch.");
    config.batch_size = batch;
    config.seed = seed;
    config.epochs = 1000000;  // never finishes: requests keep training it
    config.max_steps = 0;
    config.validation_fraction = 0;
    config.schedule = nn::Schedule{};  // a constant learning rate, as the peer's
    auto trained = std::make_unique<TrainedModel>();
    trained->trainer = std::make_unique<nn::Trainer>(context_, pipelines_, model, config, &windows, nullptr);
    bool first = true;
    trained->trainer->RunSteps(2 * config.steps_per_submit, [&](const nn::StepReport& r) {
      if (first) trained->loss_initial = r.loss;
      first = false;
    });  // warm-up: first submissions, both banks' command buffers recorded
    it = models_.emplace(key, std::move(trained)).first;
  }
  TrainedModel& trained = *it->second;
  nn::Trainer& trainer = *trained.trainer;

  const std::vector<nn::DispatchInfo>& dispatches = trainer.step_dispatches();
  std::vector<double> dispatch_ns(dispatches.size(), 0.0);
  double gpu_ns = 0;
  float loss_first = 0, loss_last = 0;
  uint32_t reported = 0, timed_steps = 0;  // timed: steps of the submissions the trainer timed (it samples)
  const auto start = std::chrono::steady_clock::now();
  trainer.RunSteps(steps, [&](const nn::StepReport& r) {
    if (reported++ == 0) loss_first = r.loss;
    loss_last = r.loss;
    timed_steps += r.dispatch_ns.empty() ? 0 : 1;
    for (size_t i = 0; i < r.dispatch_ns.size() && i < dispatch_ns.size(); ++i) {
      gpu_ns += r.dispatch_ns[i];
      dispatch_ns[i] += r.dispatch_ns[i];
    }
  });
  const double train_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  timed_steps = std::max(timed_steps, 1u);
  json per_kernel = json::object();  // by kernel family: the step has dozens of dispatches
  for (size_t i = 0; i < dispatches.size(); ++i)
    per_kernel[dispatches[i].kernel] = per_kernel.value(dispatches[i].kernel, 0.0) + dispatch_ns[i] * 1e-6 / timed_steps;
  const uint64_t tokens = uint64_t(batch) * context * steps;
  return {{"model", model_name},
          {"data", data_kind},
          {"batch", batch},
          {"context", context},
          {"vocab", vocab},
          {"steps", steps},
          {"train_s", train_s},
          {"tokens", tokens},
          {"tokens_per_s", double(tokens) / train_s},
          {"ms_per_step", train_s * 1e3 / steps},
          {"gpu_step_s", gpu_ns * 1e-9 / timed_steps},
          {"loss_initial", trained.loss_initial},
          {"loss_first", loss_first},
          {"loss_last", loss_last},
          {"steps_trained", trainer.position().global_step},
          {"parameters", trainer.plan().parameter_count()},
          {"dispatch_ms", per_kernel}};
}

}  // namespace ts::app
