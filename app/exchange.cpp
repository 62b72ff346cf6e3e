#include "app/exchange.h"

#include <cstdio>
#include <cstring>
#include <filesystem>

#include "app/arguments.h"
#include "app/commands.h"
#include "app/run_logs.h"
#include "compute/common/error.h"
#include "compute/common/file_write.h"
#include "compute/data/registry.h"
#include "compute/interop/onnx_export.h"
#include "compute/interop/onnx_import.h"
#include "compute/interop/pytorch_export.h"
#include "compute/interop/torch_replay.h"
#include "compute/nn/checkpoint.h"
#include "compute/nn/presets.h"
#include "compute/nn/trainer.h"

namespace ts::app {
namespace {

// "-o PATH" is "--output PATH".
std::vector<std::string> WithLongOutput(std::vector<std::string> words) {
  for (std::string& word : words)
    if (word == "-o") word = "--output";
  return words;
}

bool IsCheckpointFile(const std::string& path) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) return false;
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (!file) return false;
  char magic[8] = {};
  const bool is = std::fread(magic, 1, 8, file) == 8 && std::memcmp(magic, nn::kCheckpointMagic, 8) == 0;
  std::fclose(file);
  return is;
}

// A checkpoint as it is, or a model (file or preset) with the weights its
// seed initialises on the device.
nn::Checkpoint LoadCheckpointOrModel(const std::string& name, const Arguments& args) {
  if (IsCheckpointFile(name)) return nn::LoadCheckpoint(name);
  nn::Checkpoint c;
  c.model = nn::LoadModelOrPreset(name);
  nn::TrainConfig config = nn::ParseTrainConfig(c.model.training, name + ": training");
  if (auto seed = args.PositiveInt("seed")) config.seed = *seed;
  config.autotune = false;  // only the initialisation runs
  std::unique_ptr<vk::Context> context = MakeContext(args);
  vk::PipelineCache pipelines(*context);
  nn::Trainer trainer(*context, pipelines, c.model, config, nullptr, nullptr);
  c = nn::CaptureCheckpoint(trainer);
  if (ValidationExitCode(*context, 0) != 0) throw Error("the validation layer reported messages (above).");
  std::printf("%s is a model, not a checkpoint: exporting its initial weights (seed %llu).\n", name.c_str(),
              static_cast<unsigned long long>(config.seed));
  return c;
}

}  // namespace

int RunExport(const std::vector<std::string>& words) {
  Arguments args(WithLongOutput(words), {"device", "format", "output", "seed", "data"}, {"validate", "help"});
  if (args.positional().size() != 1)
    throw Error("export needs one checkpoint or model: tensorscope export CHECKPOINT_OR_MODEL --format onnx|pytorch -o PATH.");
  const std::string format = args.String("format").value_or("");
  if (format != "onnx" && format != "pytorch")
    throw Error("--format: expected onnx or pytorch, found \"" + format + "\".");
  const std::optional<std::string> output = args.String("output");
  if (!output || output->empty()) throw Error("export needs -o PATH (the file or folder to write).");
  if (format == "onnx") CheckOutputDestination("-o", *output);
  if (format == "pytorch" && std::filesystem::exists(*output) && !std::filesystem::is_directory(*output))
    throw Error("-o " + *output + ": is a file; --format pytorch writes a folder.");
  const nn::Checkpoint c = LoadCheckpointOrModel(args.positional()[0], args);
  if (format == "onnx") {
    WriteFileAtomically(*output, interop::ExportOnnx(c.model, c.parameters, c.statistics));
    std::printf("ONNX (opset %lld): %s\n  input \"input\" (batch x %s), output \"%s\"; %zu parameters\n",
                static_cast<long long>(interop::kOnnxOpset), output->c_str(), nn::ShapeString(c.model.layers[0].shape).c_str(),
                interop::OnnxOutputName(c.model), c.parameters.size());
    return 0;
  }
  // The data as `train` splits it: the training set less the validation share, the test set.
  const nn::TrainConfig config = nn::ParseTrainConfig(c.config, args.positional()[0] + ": training config");
  const std::string spec = args.String("data").value_or(config.data);
  if (spec.empty()) throw Error(args.positional()[0] + " names no dataset; pass --data.");
  data::DataSplit split = data::LoadDataSpec(spec);
  data::Dataset train = std::move(split.train), validation;
  if (config.validation_fraction > 0)
    std::tie(train, validation) = data::SplitValidation(train, config.validation_fraction, config.seed);
  nn::Checkpoint exported = c;
  if (args.Has("data")) exported.config["data"] = spec;
  interop::ExportPytorch(exported, {&train, &validation, &split.test, spec}, *output);
  std::printf("PyTorch: %s (model.py, weights.bin + manifest.json, config.json, data/ with %zu train, %zu validation, "
              "%zu test samples, train.py, README.md)\nTrain it:\n  cd %s && python3 -m torch.distributed.run "
              "--standalone --nproc_per_node=2 --redirects 2 --tee 2 train.py\n",
              output->c_str(), train.count(), validation.count(), split.test.count(), output->c_str());
  return 0;
}

int RunImport(const std::vector<std::string>& words) {
  Arguments args(WithLongOutput(words), {"output", "model-json"}, {"help"});
  if (args.positional().size() != 1) throw Error("import needs one ONNX file: tensorscope import MODEL.onnx -o CHECKPOINT.");
  const std::optional<std::string> output = args.String("output");
  if (!output || output->empty()) throw Error("import needs -o CHECKPOINT (the checkpoint to write).");
  const std::string model_json =
      args.String("model-json").value_or(std::filesystem::path(*output).replace_extension(".json").string());
  if (model_json == *output) throw Error("-o " + *output + ": the model JSON would overwrite it; pass --model-json FILE.");
  CheckOutputDestination("-o", *output);
  CheckOutputDestination("--model-json", model_json);

  const nn::Checkpoint c = interop::ImportedCheckpoint(interop::ImportOnnxFile(args.positional()[0]));
  nn::SaveCheckpoint(*output, c);
  nn::SaveModel(c.model, model_json);
  std::printf("Imported %s: %s\n  %zu parameters, %zu running statistics\nCheckpoint: %s\nModel: %s\n"
              "Evaluate or train it further:\n  tensorscope eval %s --data SPEC\n"
              "  tensorscope train %s --resume %s --data SPEC --epochs N\n",
              args.positional()[0].c_str(), nn::ArchitectureSignature(c.model).c_str(), c.parameters.size(),
              c.statistics.size(), output->c_str(), model_json.c_str(), output->c_str(), model_json.c_str(),
              output->c_str());
  return 0;
}

int RunParity(const std::vector<std::string>& words) {
  Arguments args(words, {"device", "steps", "data", "batch", "lr", "optimizer", "seed", "python"}, {"validate", "help"});
  if (args.positional().size() != 1)
    throw Error("parity needs one model (a .json file or a preset name): tensorscope parity MODEL [--steps N].");
  const std::string name = args.positional()[0];
  const nn::ModelDesc model = nn::LoadModelOrPreset(name);
  nn::TrainConfig config = nn::ParseTrainConfig(model.training, name + ": training");
  if (auto v = args.String("data")) config.data = *v;
  if (auto v = args.PositiveInt("batch")) config.batch_size = *v;
  if (auto v = args.Number("lr")) config.learning_rate = *v;
  if (auto v = args.String("optimizer")) config.optimizer = nn::ParseOptimizerName(*v, "--optimizer");
  if (auto v = args.PositiveInt("seed")) config.seed = *v;
  config.autotune = false;  // the replay is short; measuring kernels would take longer
  nn::ValidateTrainConfig(config);
  if (config.data.empty()) throw Error(name + " names no dataset; pass --data.");
  const uint32_t steps = args.PositiveInt("steps").value_or(50);
  const std::string python = args.String("python").value_or("/usr/bin/python3");
  std::string why;
  if (!interop::TorchAvailable(python, &why)) throw Error(why + ".");

  data::DataSplit split = data::LoadDataSpec(config.data);
  std::unique_ptr<vk::Context> context = MakeContext(args);
  vk::PipelineCache pipelines(*context);
  std::printf("Replaying %u steps of %s (%s) on %s, batch %u, %s lr %g, in Tensorscope and in PyTorch...\n", steps,
              model.name.c_str(), nn::ArchitectureSignature(model).c_str(), config.data.c_str(), config.batch_size,
              kernels::OptimizerName(config.optimizer), config.learning_rate);
  const interop::ReplayResult r =
      interop::ReplayInPytorch(*context, pipelines, model, config, split.train, steps, python);
  for (const std::string& change : r.changes) std::printf("  for the replay: %s\n", change.c_str());
  std::printf("%6s %16s %16s %12s\n", "step", "tensorscope", "pytorch", "rel. diff");
  for (size_t s = 0; s < r.ours.size(); ++s)
    std::printf("%6zu %16.9g %16.9g %12.3g\n", s + 1, r.ours[s], r.theirs[s], r.relative[s]);
  const bool agree = r.worst <= interop::kReplayTolerance;
  std::printf("Verdict: %s. Largest relative difference %.3g at step %zu (tolerance %g); PyTorch %s.\n",
              agree ? "the two agree to fp32 rounding" : "the two DIFFER", r.worst, r.worst_step + 1,
              interop::kReplayTolerance, r.torch_version.c_str());
  return ValidationExitCode(*context, agree ? 0 : 3);
}

}  // namespace ts::app
