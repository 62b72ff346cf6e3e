#include "compute/interop/torch_replay.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "compute/common/error.h"
#include "compute/common/file_write.h"
#include "compute/common/json_read.h"
#include "compute/nn/trainer.h"
#include "compute/common/shell_quote.h"

namespace ts::interop {
namespace {

namespace fs = std::filesystem;

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A private folder for the twin's scripts, spec and result; removed when done.
struct ScratchFolder {
  fs::path path;
  ScratchFolder() {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/tensorscope-parity-XXXXXX";
    if (!mkdtemp(pattern.data())) throw Error("cannot create a temporary folder for the PyTorch replay (" + pattern + ").");
    path = pattern;
  }
  ~ScratchFolder() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
};

}  // namespace

bool TorchAvailable(const std::string& python, std::string* why) {
  const std::string command = ShellQuote(python) + " -c 'import torch, numpy' > /dev/null 2>&1";
  if (std::system(command.c_str()) == 0) return true;
  if (why)
    *why = python + " cannot import torch and numpy: install them with sudo apt-get install python3-torch python3-numpy";
  return false;
}

ReplayResult ReplayInPytorch(vk::Context& context, vk::PipelineCache& pipelines, nn::ModelDesc model,
                             nn::TrainConfig config, const data::Dataset& train, uint32_t steps,
                             const std::string& python) {
  std::string why;
  if (!TorchAvailable(python, &why)) throw Error("the PyTorch replay needs PyTorch: " + why + ".");
  ReplayResult result;
  for (nn::LayerDesc& layer : model.layers)
    if (layer.kind == nn::LayerKind::kDropout && layer.rate > 0) {
      layer.rate = 0;
      result.changes.push_back(layer.name + ": dropout rate 0 (the two sides would draw different masks)");
    }
  if (config.shuffle) result.changes.push_back("batches in dataset order (no shuffle)");
  if (config.schedule.kind != nn::ScheduleKind::kConstant || config.schedule.warmup_epochs > 0)
    result.changes.push_back("a constant learning rate of " + std::to_string(config.learning_rate) + " (no schedule)");
  if (config.augment_crop_padding || config.augment_flip) result.changes.push_back("no augmentation");
  config.shuffle = false;
  config.schedule = {};
  config.augment_crop_padding = 0;
  config.augment_flip = false;
  config.validation_fraction = 0;

  nn::Trainer trainer(context, pipelines, model, config, &train, nullptr);
  const std::vector<float> parameters = trainer.plan().ReadParameters();
  const std::vector<float> statistics = trainer.plan().ReadStatistics();
  trainer.RunSteps(steps, [&](const nn::StepReport& r) { result.ours.push_back(r.loss); });

  // Only the rows the steps read: batches run in order, from the start again after each epoch.
  const size_t batch = config.batch_size, per_epoch = train.count() / batch;
  const size_t rows = steps >= per_epoch ? train.count() : size_t(steps) * batch;
  const size_t features = train.feature_size();
  std::vector<float> x(rows * features);
  for (size_t i = 0; i < rows; ++i)
    for (size_t j = 0; j < features; ++j) x[i * features + j] = train.normalized(i, j);
  const char* kinds[] = {"sgd", "momentum", "adam", "adamw"};
  const nlohmann::json spec = {
      {"model", nn::ModelToJson(model)},
      {"optimizer",
       {{"kind", kinds[static_cast<int>(config.optimizer)]}, {"lr", config.learning_rate},
        {"momentum", config.hyper.momentum}, {"nesterov", config.hyper.nesterov},
        {"weight_decay", config.hyper.weight_decay}, {"beta1", config.hyper.beta1}, {"beta2", config.hyper.beta2},
        {"eps", config.hyper.epsilon}}},
      {"parameters", parameters},
      {"statistics", statistics},
      {"features", x},
      {"labels", std::vector<uint32_t>(train.labels.begin(), train.labels.begin() + rows)},
      {"batch_size", batch},
      {"steps", result.ours.size()}};

  ScratchFolder scratch;
  for (const char* name : {"torch_mlp.py", "torch_cnn.py"}) WriteFileAtomically((scratch.path / name).string(), EmbeddedScript(name));
  const std::string spec_path = (scratch.path / "spec.json").string(), out_path = (scratch.path / "out.json").string();
  const std::string err_path = (scratch.path / "stderr.txt").string();
  WriteFileAtomically(spec_path, DumpJson(spec, spec_path));
  const std::string command = ShellQuote(python) + " " + ShellQuote((scratch.path / "torch_cnn.py").string()) + " " +
                              ShellQuote(spec_path) + " " + ShellQuote(out_path) + " 2> " + ShellQuote(err_path);
  const int status = std::system(command.c_str());
  if (status != 0) throw Error("the PyTorch replay failed (status " + std::to_string(status) + "):\n" + ReadText(err_path));
  const nlohmann::json out = ParseJson(ReadText(out_path), out_path);
  if (!out.is_object() || !out.contains("losses") || !out["losses"].is_array())
    throw Error(out_path + ": the PyTorch replay wrote no \"losses\" list.");
  for (const nlohmann::json& loss : out["losses"]) result.theirs.push_back(loss.is_number() ? loss.get<double>() : NAN);
  result.torch_version = out.value("torch", std::string("?"));
  if (result.theirs.size() != result.ours.size())
    throw Error("the PyTorch replay ran " + std::to_string(result.theirs.size()) + " steps, Tensorscope " +
                std::to_string(result.ours.size()) + ".");
  for (size_t s = 0; s < result.ours.size(); ++s) {
    const double relative = std::abs(result.ours[s] - result.theirs[s]) / std::max(std::abs(result.theirs[s]), 1e-6);
    result.relative.push_back(std::isnan(relative) ? INFINITY : relative);
    if (!(result.relative.back() <= result.worst)) result.worst = result.relative.back(), result.worst_step = s;
  }
  return result;
}

}  // namespace ts::interop
