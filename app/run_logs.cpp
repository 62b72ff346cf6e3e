#include "app/run_logs.h"

#include <cstdio>

#include "compute/common/error.h"
#include "compute/common/file_write.h"
#include "compute/common/number_text.h"

namespace ts::app {
namespace {

std::string Number(double value) { return FullPrecision(value); }

// Text (labels_per_sample T > 1): a row per position, its input token and the next one.
void WriteSequencePredictions(const std::string& path, const data::Dataset& dataset, const std::vector<float>& outputs,
                              uint32_t outputs_per_sample) {
  const uint32_t tokens = dataset.labels_per_sample;
  const size_t rows = dataset.count() * size_t(tokens);
  if (outputs.size() != rows * outputs_per_sample || dataset.feature_size() != tokens ||
      dataset.format != data::FeatureFormat::kFloat32)
    throw Error(path + ": expected " + std::to_string(rows * outputs_per_sample) + " outputs (" +
                std::to_string(dataset.count()) + " windows of " + std::to_string(tokens) + " positions), found " +
                std::to_string(outputs.size()) + "; nothing written.");
  std::string text = "index,position,input,label";
  for (uint32_t k = 0; k < outputs_per_sample; ++k) text += ",p" + std::to_string(k);
  text += "\n";
  for (size_t row = 0; row < rows; ++row) {
    text += std::to_string(row / tokens) + "," + std::to_string(row % tokens) + "," +
            std::to_string(static_cast<uint32_t>(dataset.features_f32[row])) + "," + std::to_string(dataset.labels[row]);
    const float* p = outputs.data() + row * outputs_per_sample;
    for (uint32_t k = 0; k < outputs_per_sample; ++k) text += "," + Number(p[k]);
    text += "\n";
  }
  WriteFileAtomically(path, text);
}

}  // namespace

void WritePredictions(const std::string& path, const data::Dataset& dataset, const std::vector<float>& outputs,
                      uint32_t outputs_per_sample, bool single_sigmoid) {
  if (dataset.labels_per_sample > 1) {
    WriteSequencePredictions(path, dataset, outputs, outputs_per_sample);
    return;
  }
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
