// Shared by ui/project.cpp (conversions), ui/project_file.cpp (files) and
// ui/data_choice.cpp: the layer types a row may have, the file formats' names
// and small text helpers. Not part of the ui library's API.
#pragma once

#include <cctype>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "compute/common/json_read.h"
#include "compute/common/number_text.h"
#include "compute/data/synthetic.h"
#include "compute/kernels/activation.h"
#include "compute/kernels/loss.h"
#include "compute/nn/model.h"
#include "ui/app_state.h"

namespace ts::ui::detail {

using nlohmann::json;

inline constexpr const char* kProjectFormat = "tensorscope-project";
inline constexpr const char* kModelFormat = "tensorscope-model";
inline constexpr float kDefaultTestFraction = 0.2f;  // the registry's default: a test set of samples / 4

struct LayerType {
  const char* name;
  nn::LayerKind kind;
  kernels::Activation activation;
  kernels::LossKind loss;
};

// The layer types a row may have (the ModelDesc names; "softmax" is read as an alias).
inline const LayerType kLayerTypes[] = {
    {"input", nn::LayerKind::kInput, kernels::Activation::kIdentity, {}},
    {"flatten", nn::LayerKind::kFlatten, kernels::Activation::kIdentity, {}},
    {"dense", nn::LayerKind::kDense, kernels::Activation::kIdentity, {}},
    {"relu", nn::LayerKind::kActivation, kernels::Activation::kRelu, {}},
    {"leaky_relu", nn::LayerKind::kActivation, kernels::Activation::kLeakyRelu, {}},
    {"sigmoid", nn::LayerKind::kActivation, kernels::Activation::kSigmoid, {}},
    {"tanh", nn::LayerKind::kActivation, kernels::Activation::kTanh, {}},
    {"gelu", nn::LayerKind::kActivation, kernels::Activation::kGelu, {}},
    {"conv2d", nn::LayerKind::kConv2D, kernels::Activation::kIdentity, {}},
    {"max_pool2d", nn::LayerKind::kPool2D, kernels::Activation::kIdentity, {}},
    {"avg_pool2d", nn::LayerKind::kPool2D, kernels::Activation::kIdentity, {}},
    {"global_avg_pool", nn::LayerKind::kGlobalAvgPool, kernels::Activation::kIdentity, {}},
    {"dropout", nn::LayerKind::kDropout, kernels::Activation::kIdentity, {}},
    {"batch_norm", nn::LayerKind::kBatchNorm, kernels::Activation::kIdentity, {}},
    {"embedding", nn::LayerKind::kEmbedding, kernels::Activation::kIdentity, {}},
    {"layer_norm", nn::LayerKind::kLayerNorm, kernels::Activation::kIdentity, {}},
    {"transformer_block", nn::LayerKind::kTransformerBlock, kernels::Activation::kIdentity, {}},
    {"softmax_cross_entropy", nn::LayerKind::kLoss, {}, kernels::LossKind::kSoftmaxCrossEntropy},
    {"mse", nn::LayerKind::kLoss, {}, kernels::LossKind::kMeanSquaredError},
    {"bce_with_logits", nn::LayerKind::kLoss, {}, kernels::LossKind::kBinaryCrossEntropyWithLogits},
};

inline constexpr const char* kDataKinds[] = {"spiral", "circles", "xor",    "blobs", "moons", "mnist",  "fashion-mnist",
                                      "iris",   "wine",    "digits", "csv",   "idx",   "shapes", "cifar10", "images",
                                      "text",   "kjv"};
// The text data's default share held out as the test set (compute/data/text.cpp's val_fraction).
inline constexpr float kDefaultTextValFraction = 0.1f;

// Character-level text (compute/data/text.h): samples are windows of token ids.
inline bool IsTextKind(const std::string& kind) { return kind == "text" || kind == "kjv"; }

inline const LayerType* FindLayerType(const std::string& name) {
  for (const LayerType& type : kLayerTypes)
    if (name == type.name) return &type;
  return nullptr;
}

inline std::string CanonicalTypeName(const std::string& name) { return name == "softmax" ? "softmax_cross_entropy" : name; }

inline bool IsSyntheticKind(const std::string& kind) { return data::ParseSyntheticKind(kind).has_value(); }
inline bool IsSklearnKind(const std::string& kind) { return kind == "iris" || kind == "wine" || kind == "digits"; }

inline std::string FormatNumber(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", value);
  return text;
}

inline std::string Trim(const std::string& text) {
  size_t begin = 0, end = text.size();
  while (begin < end && std::isspace(static_cast<unsigned char>(text[begin]))) ++begin;
  while (end > begin && std::isspace(static_cast<unsigned char>(text[end - 1]))) --end;
  return text.substr(begin, end - begin);
}

// The value's type and a short excerpt (however large or deep it is).
inline std::string Describe(const json& value) { return DescribeJson(value); }

// A float as the user typed it, for JSON (0.2f is written 0.2).
inline double AsTyped(float value) { return ShortestDouble(value); }

// The name each row gets when it has none ("dense_2" for the second dense row).
std::vector<std::string> ResolvedNames(const std::vector<LayerEdit>& layers);
// Clears names a layer would get by default anyway, so they renumber as rows move.
void ClearDefaultNames(std::vector<LayerEdit>& layers);
// "layers[2] (dense)": how messages name a row.
std::string RowLabel(const std::vector<LayerEdit>& layers, size_t i);

}  // namespace ts::ui::detail
