#include "app/sample_command.h"

#include <cstdio>

#include "app/commands.h"
#include "compute/common/error.h"
#include "compute/nn/checkpoint.h"
#include "compute/nn/generate.h"
#include "compute/nn/train_config.h"
#include "compute/vk/pipeline.h"

namespace ts::app {

int RunSample(const std::string& checkpoint_path, const Arguments& args) {
  nn::Checkpoint checkpoint = nn::LoadCheckpoint(checkpoint_path);
  const nn::TrainConfig config = nn::ParseTrainConfig(checkpoint.config, checkpoint_path + ": training config");
  if (config.vocabulary.empty())
    throw Error(checkpoint_path + " holds no vocabulary: only a sequence model trained on text (e.g. `tensorscope "
                "train char-gpt --save CKPT`) can generate text.");
  nn::SampleOptions options;
  if (auto v = args.PositiveInt("tokens")) options.tokens = *v;
  if (auto v = args.Number("temperature")) {
    if (!(*v > 0)) throw Error("--temperature: expected a positive number, found " + std::to_string(*v) + ".");
    options.temperature = static_cast<float>(*v);
  }
  if (auto v = args.PositiveInt("top-k")) options.top_k = *v;
  if (auto v = args.PositiveInt("seed")) options.seed = *v;
  const std::string prompt = args.String("prompt").value_or("");

  std::unique_ptr<vk::Context> context = MakeContext(args);
  vk::PipelineCache pipelines(*context);
  nn::TextGenerator generator(*context, pipelines, checkpoint.model, data::Vocabulary{config.vocabulary},
                              checkpoint.parameters);
  std::fputs(prompt.c_str(), stdout);
  generator.Generate(prompt, options, [](const std::string& piece) {
    std::fputs(piece.c_str(), stdout);
    std::fflush(stdout);
  });
  std::fputs("\n", stdout);
  return ValidationExitCode(*context, 0);
}

}  // namespace ts::app
