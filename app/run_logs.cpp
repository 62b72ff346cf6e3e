#include "app/run_logs.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "compute/common/error.h"
#include "compute/common/file_write.h"

namespace ts::app {
namespace {

std::string Number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.9g", value);
  return text;
}

}  // namespace

MetricsLog::MetricsLog(std::string path) : path_(std::move(path)) {
  text_ = "kind,step,epoch,loss,accuracy,learning_rate,samples_per_second,gpu_ms,samples\n";
}

void MetricsLog::AddStep(const nn::StepReport& r, uint32_t batch) {
  double gpu_ns = 0;
  for (double ns : r.dispatch_ns) gpu_ns += ns;
  text_ += "train," + std::to_string(r.global_step + 1) + "," + std::to_string(r.epoch + 1) + "," + Number(r.loss) +
           "," + Number(r.accuracy) + "," + Number(r.learning_rate) + "," +
           (r.wall_seconds > 0 ? Number(batch / r.wall_seconds) : std::string()) + "," +
           (r.dispatch_ns.empty() ? std::string() : Number(gpu_ns / 1e6)) + "," + std::to_string(batch) + "\n";
}

void MetricsLog::AddEvaluation(const char* kind, const nn::TrainPosition& position, const nn::EvalResult& result) {
  text_ += std::string(kind) + "," + std::to_string(position.global_step) + "," + std::to_string(position.epoch) +
           "," + Number(result.loss) + "," + Number(result.accuracy) + ",,,," + std::to_string(result.samples) + "\n";
}

void MetricsLog::Save() const { WriteFileAtomically(path_, text_); }

void CheckOutputDestination(const std::string& flag, const std::string& path) {
  std::error_code error;
  const std::filesystem::path folder = std::filesystem::path(path).parent_path().empty()
                                           ? std::filesystem::path(".")
                                           : std::filesystem::path(path).parent_path();
  if (!std::filesystem::is_directory(folder, error))
    throw Error(flag + " " + path + ": the folder " + folder.string() + " does not exist; create it first.");
  if (access(folder.c_str(), W_OK) != 0)
    throw Error(flag + " " + path + ": cannot write into the folder " + folder.string() + " (permission denied).");
  if (std::filesystem::is_directory(path, error)) throw Error(flag + " " + path + ": is a folder; name a file.");
}

void WritePredictions(const std::string& path, const data::Dataset& dataset, const std::vector<float>& outputs,
                      uint32_t outputs_per_sample, bool single_sigmoid) {
  const bool image = dataset.sample_shape.size() == 3;
  const size_t features = image ? 0 : dataset.feature_size();
  const uint32_t classes = single_sigmoid ? 2 : outputs_per_sample;
  if (outputs.size() != dataset.count() * size_t(outputs_per_sample))
    throw Error(path + ": expected " + std::to_string(dataset.count() * size_t(outputs_per_sample)) +
                " outputs, found " + std::to_string(outputs.size()) + "; nothing written.");
  std::string text = "index";
  for (size_t j = 0; j < features; ++j) text += ",x" + std::to_string(j);
  text += ",label";
  for (uint32_t k = 0; k < classes; ++k) text += ",p" + std::to_string(k);
  text += "\n";
  for (size_t i = 0; i < dataset.count(); ++i) {
    text += std::to_string(i);
    for (size_t j = 0; j < features; ++j) text += "," + Number(dataset.normalized(i, j));
    text += "," + std::to_string(dataset.labels[i]);
    const float* row = outputs.data() + i * outputs_per_sample;
    if (single_sigmoid)
      text += "," + Number(1.0 - row[0]) + "," + Number(row[0]);
    else
      for (uint32_t k = 0; k < outputs_per_sample; ++k) text += "," + Number(row[k]);
    text += "\n";
  }
  WriteFileAtomically(path, text);
}

}  // namespace ts::app
