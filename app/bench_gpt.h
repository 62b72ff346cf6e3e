// The "gpt" request of `tensorscope bench --serve`: training throughput of a
// sequence model (the char-gpt preset by default) in tokens per second,
// compared by tests/bench/bench.py with the same GPT written out in PyTorch.
//
//   {"op": "gpt", "model": "char-gpt", "batch": 12, "steps": 32, "seed": 1, "data": "auto" | "kjv" | "random"}
//       Trains the model (a preset or a model file with an embedding: input [T], vocab V) with its
//       "training" section's optimizer and settings (char-gpt: AdamW lr 1e-3, betas 0.9/0.99,
//       weight decay 0.1 on weights and embeddings only, grad clip 1.0), except: the batch is
//       "batch" (default: the model's), the learning rate stays constant (no schedule, as the
//       peer), there is no validation split, and "seed" initialises the parameters and the
//       shuffle. Data: "kjv" = the built-in corpus (King James Bible, cut into windows of T
//       characters; its vocabulary must be the model's V), "random" = 4096 windows of token ids
//       drawn uniformly from [0, V) (nothing to learn: the loss stays near ln V), "auto" = kjv
//       when /usr/bin/bible is installed, else random.
//       The trainer of each (model, batch, seed, data) is built once (plan compiled, kernels
//       autotuned, data uploaded) and warmed up by 2 submissions of untimed steps; later
//       requests continue training it, so every request measures steady-state steps.
//       -> {"model", "data" (which ran), "batch", "context" (T), "vocab", "steps", "train_s"
//           (wall time of the `steps` steps), "tokens" (batch * T * steps), "tokens_per_s",
//           "ms_per_step", "gpu_step_s" (mean GPU time of a step, over the steps the trainer
//           timed), "loss_initial" (the first step's loss after initialisation), "loss_first" and
//           "loss_last" (this request's first and last step), "steps_trained" (all steps so far,
//           warm-up included), "parameters", "dispatch_ms" ({kernel: mean GPU ms per step})}
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <tuple>

#include <nlohmann/json.hpp>

#include "compute/data/dataset.h"

namespace ts::vk {
class Context;
class PipelineCache;
}  // namespace ts::vk

namespace ts::nn {
class Trainer;
}

namespace ts::app {

class GptBench {
 public:
  GptBench(vk::Context& context, vk::PipelineCache& pipelines);
  ~GptBench();

  // Answers one "gpt" request (above); throws ts::Error for a bad one.
  nlohmann::json Run(const nlohmann::json& request);

 private:
  struct TrainedModel;  // one model in training: its trainer and what the warm-up saw
  // Token windows of `context` ids from [0, vocab): "kjv" or "random".
  const data::Dataset& Windows(const std::string& kind, uint32_t context, uint32_t vocab);

  vk::Context& context_;
  vk::PipelineCache& pipelines_;
  std::map<std::tuple<std::string, uint32_t, uint32_t>, data::Dataset> windows_;  // (kind, context, vocab)
  // By (model, batch, seed, data kind); a few kept warm at a time.
  std::map<std::tuple<std::string, uint32_t, uint64_t, std::string>, std::unique_ptr<TrainedModel>> models_;
};

}  // namespace ts::app
