#include "ui/project.h"

#include "ui/project_internal.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <regex>
#include <set>

#include "compute/common/error.h"
#include "compute/data/synthetic.h"
#include "compute/nn/presets.h"

namespace ts::ui {
namespace {

using nlohmann::json;
using namespace detail;


// A whole number >= 1 typed by the user, or nullopt with a sentence saying why not.
// `what` names the field ("units", "dimension 2 of the shape").
std::optional<uint32_t> ParsePositiveCount(const std::string& typed, const std::string& what, const char* example,
                                           std::string* error) {
  std::string text = Trim(typed);
  if (text.empty()) {
    *error = what + " is empty; type a whole number of at least 1, e.g. " + example + ".";
    return std::nullopt;
  }
  bool negative = text[0] == '-';
  std::string digits = (text[0] == '-' || text[0] == '+') ? text.substr(1) : text;
  if (digits.empty() || !std::all_of(digits.begin(), digits.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    *error = what + " must be a whole number, e.g. " + example + "; found \"" + typed + "\".";
    return std::nullopt;
  }
  if (negative || std::all_of(digits.begin(), digits.end(), [](char c) { return c == '0'; })) {
    *error = what + " must be at least 1; found " + text + ".";
    return std::nullopt;
  }
  if (digits.size() > 10 || std::stoull(digits) > 0x7fffffffULL) {
    *error = what + " is too large (at most 2147483647); found " + text + ".";
    return std::nullopt;
  }
  return static_cast<uint32_t>(std::stoull(digits));
}

// "2", "1x28x28" (also "1 x 28 x 28", "1,28,28"): 1 to 4 dimensions, each >= 1.
std::optional<std::vector<uint32_t>> ParseShape(const std::string& typed, std::string* error) {
  std::vector<std::string> parts(1);
  for (char c : typed) {
    if (c == 'x' || c == 'X' || c == ',' || c == '*') parts.emplace_back();
    else parts.back() += c;
  }
  if (parts.size() > 4) {
    *error = "shape has " + std::to_string(parts.size()) + " dimensions; at most 4 are allowed (e.g. 1x28x28).";
    return std::nullopt;
  }
  std::vector<uint32_t> shape;
  for (size_t i = 0; i < parts.size(); ++i) {
    std::string what = parts.size() == 1 ? "shape" : "dimension " + std::to_string(i + 1) + " of the shape \"" + typed + "\"";
    std::optional<uint32_t> value = ParsePositiveCount(parts[i], what, parts.size() == 1 ? "2 or 1x28x28" : "28", error);
    if (!value) return std::nullopt;
    shape.push_back(*value);
  }
  return shape;
}

std::optional<float> ParseSlope(const std::string& typed, std::string* error) {
  std::string text = Trim(typed);
  char* end = nullptr;
  double value = text.empty() ? 0.0 : std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(value)) {
    *error = "slope must be a number in [0, 1), e.g. 0.01; found \"" + typed + "\".";
    return std::nullopt;
  }
  if (!(value >= 0.0 && value < 1.0)) {
    *error = "slope must be in [0, 1) (0 is a ReLU; 1 would be no activation); found " + text + ".";
    return std::nullopt;
  }
  return static_cast<float>(value);
}

// "3" (3 x 3) or "3x5" (height x width), each >= 1 (>= 0 when zero is allowed, for padding).
std::optional<std::array<uint32_t, 2>> ParsePair(const std::string& typed, const std::string& what, bool zero_allowed,
                                                 std::string* error) {
  std::vector<std::string> parts(1);
  for (char c : typed) {
    if (c == 'x' || c == 'X' || c == ',' || c == '*') parts.emplace_back();
    else parts.back() += c;
  }
  if (parts.size() > 2) {
    *error = what + " takes one number or height x width (e.g. 3 or 3x5); found \"" + typed + "\".";
    return std::nullopt;
  }
  std::array<uint32_t, 2> pair{};
  for (size_t i = 0; i < parts.size(); ++i) {
    std::string text = Trim(parts[i]);
    if (zero_allowed && !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c == '0'; })) {
      pair[i] = 0;
      continue;
    }
    std::optional<uint32_t> value = ParsePositiveCount(text, what, zero_allowed ? "0 or 1" : "3 or 3x5", error);
    if (!value) return std::nullopt;
    pair[i] = *value;
  }
  if (parts.size() == 1) pair[1] = pair[0];
  return pair;
}

// A number in [low, high) (or [low, high] when `inclusive`).
std::optional<float> ParseFraction(const std::string& typed, const std::string& what, double low, double high,
                                   bool inclusive, const char* example, std::string* error) {
  std::string text = Trim(typed);
  char* end = nullptr;
  double value = text.empty() ? 0.0 : std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(value)) {
    *error = what + " must be a number, e.g. " + example + "; found \"" + typed + "\".";
    return std::nullopt;
  }
  if (value < low || value > high || (!inclusive && value == high)) {
    *error = what + " must be in [" + FormatNumber(float(low)) + ", " + FormatNumber(float(high)) + (inclusive ? "]" : ")") +
             "; found " + text + ".";
    return std::nullopt;
  }
  return static_cast<float>(value);
}

std::string PairText(const std::array<uint32_t, 2>& pair) {
  return pair[0] == pair[1] ? std::to_string(pair[0]) : std::to_string(pair[0]) + "x" + std::to_string(pair[1]);
}

std::optional<kernels::InitKind> ParseInitName(const std::string& name) {
  for (kernels::InitKind kind : {kernels::InitKind::kZeros, kernels::InitKind::kHeUniform, kernels::InitKind::kHeNormal,
                                 kernels::InitKind::kXavierUniform, kernels::InitKind::kXavierNormal, kernels::InitKind::kOnes,
                                 kernels::InitKind::kNormal002})
    if (name == kernels::InitName(kind)) return kind;
  return std::nullopt;
}

constexpr const char* kKnownInits = "zeros, ones, he_uniform, he_normal, xavier_uniform, xavier_normal, normal_0.02";

// The row's init (empty: the layer's default); false with *error when the name is unknown.
bool ReadInit(const LayerEdit& edit, nn::LayerDesc& layer, std::string* error) {
  if (edit.init.empty()) return true;
  layer.init = ParseInitName(edit.init);
  if (!layer.init) *error = "unknown init '" + edit.init + "'; known: " + kKnownInits + ".";
  return layer.init.has_value();
}

const char* AttentionName(nn::AttentionChoice choice) {
  return choice == nn::AttentionChoice::kPlain ? "plain" : choice == nn::AttentionChoice::kFused ? "fused" : "auto";
}


}  // namespace

namespace detail {

// The name each row gets when it has none: its type and its position among
// the rows of that type ("dense_2" for the second dense row), as nn::ParseModel
// numbers them. A name another row was given explicitly gets a suffix ("dense_1_2").
std::vector<std::string> ResolvedNames(const std::vector<LayerEdit>& layers) {
  std::set<std::string> taken;
  for (const LayerEdit& layer : layers)
    if (!Trim(layer.name).empty()) taken.insert(Trim(layer.name));
  std::map<std::string, int> counts;
  std::vector<std::string> names;
  for (const LayerEdit& layer : layers) {
    std::string type = CanonicalTypeName(layer.type);
    std::string base = type + "_" + std::to_string(++counts[type]);
    if (!Trim(layer.name).empty()) {
      names.push_back(Trim(layer.name));
      continue;
    }
    std::string name = base;
    for (int suffix = 2; taken.count(name); ++suffix) name = base + "_" + std::to_string(suffix);
    taken.insert(name);
    names.push_back(name);
  }
  return names;
}

// Clears names a layer would get by default anyway, so they renumber as rows move.
void ClearDefaultNames(std::vector<LayerEdit>& layers) {
  std::vector<LayerEdit> unnamed = layers;
  for (LayerEdit& layer : unnamed) layer.name.clear();
  std::vector<std::string> defaults = ResolvedNames(unnamed);
  for (size_t i = 0; i < layers.size(); ++i)
    if (layers[i].name == defaults[i]) layers[i].name.clear();
}

std::string RowLabel(const std::vector<LayerEdit>& layers, size_t i) {
  return "layers[" + std::to_string(i) + "] (" + CanonicalTypeName(layers[i].type) + ")";
}


}  // namespace detail

// ---- Conversions -----------------------------------------------------------

Project ProjectFromModel(const nn::ModelDesc& model, const nn::TrainConfig& config) {
  Project project;
  project.name = model.name;
  for (const nn::LayerDesc& layer : model.layers) {
    LayerEdit edit;
    edit.type = layer.TypeName();
    edit.name = layer.name;
    if (layer.kind == nn::LayerKind::kInput) edit.shape = nn::ShapeString(layer.shape);
    if (layer.kind == nn::LayerKind::kDense) {
      edit.units = std::to_string(layer.units);
      edit.bias = layer.bias;
      edit.init = layer.init ? kernels::InitName(*layer.init) : "";
      edit.tied = layer.tied;
    }
    if (layer.kind == nn::LayerKind::kEmbedding) {
      edit.vocab = std::to_string(layer.vocab);
      edit.units = std::to_string(layer.units);
      edit.init = layer.init ? kernels::InitName(*layer.init) : "";
    }
    if (layer.kind == nn::LayerKind::kTransformerBlock) {
      edit.heads = std::to_string(layer.heads);
      edit.mlp_ratio = std::to_string(layer.mlp_ratio);
      edit.attention = AttentionName(layer.attention);
    }
    edit.slope = FormatNumber(layer.leaky_slope);
    if (layer.kind == nn::LayerKind::kConv2D) {
      edit.filters = std::to_string(layer.filters);
      edit.kernel = PairText(layer.kernel);
      edit.stride = layer.stride == std::array<uint32_t, 2>{1, 1} ? "" : PairText(layer.stride);
      edit.padding = layer.padding == nn::PaddingMode::kValid  ? "valid"
                     : layer.padding == nn::PaddingMode::kSame ? "same"
                                                               : PairText(layer.pad);
      edit.bias = layer.bias;
      edit.init = layer.init ? kernels::InitName(*layer.init) : "";
    }
    if (layer.kind == nn::LayerKind::kPool2D) {
      edit.kernel = PairText(layer.kernel);
      edit.stride = layer.stride == layer.kernel ? "" : PairText(layer.stride);
      edit.padding = PairText(layer.pad);
    }
    edit.rate = FormatNumber(layer.rate);
    edit.momentum = FormatNumber(layer.momentum);
    edit.epsilon = FormatNumber(layer.epsilon);
    project.layers.push_back(edit);
  }
  ClearDefaultNames(project.layers);
  project.training = config;
  if (!config.data.empty()) project.data = DataChoiceFromSpec(config.data);
  return project;
}

std::optional<nn::LayerDesc> LayerFromEdit(const LayerEdit& edit, std::string* error) {
  const LayerType* type = FindLayerType(CanonicalTypeName(edit.type));
  if (!type) {
    *error = "unknown layer type '" + edit.type + "'.";
    return std::nullopt;
  }
  nn::LayerDesc layer;
  layer.kind = type->kind;
  layer.activation = type->activation;
  layer.loss = type->loss;
  layer.name = Trim(edit.name);
  switch (layer.kind) {
    case nn::LayerKind::kInput: {
      std::optional<std::vector<uint32_t>> shape = ParseShape(edit.shape, error);
      if (!shape) return std::nullopt;
      layer.shape = *shape;
      break;
    }
    case nn::LayerKind::kDense: {
      std::optional<uint32_t> units = ParsePositiveCount(edit.units, "units", "64", error);
      if (!units) return std::nullopt;
      layer.units = *units;
      layer.bias = edit.bias;
      layer.tied = edit.tied;
      if (!ReadInit(edit, layer, error)) return std::nullopt;
      break;
    }
    case nn::LayerKind::kEmbedding: {
      std::optional<uint32_t> vocab = ParsePositiveCount(edit.vocab, "vocab", "73", error);
      if (!vocab) return std::nullopt;
      std::optional<uint32_t> units = ParsePositiveCount(edit.units, "units (the width)", "128", error);
      if (!units) return std::nullopt;
      layer.vocab = *vocab;
      layer.units = *units;
      if (!ReadInit(edit, layer, error)) return std::nullopt;
      break;
    }
    case nn::LayerKind::kLayerNorm: {
      std::optional<float> epsilon = ParseFraction(edit.epsilon, "epsilon", 1e-12, 1, false, "1e-5", error);
      if (!epsilon) return std::nullopt;
      layer.epsilon = *epsilon;
      break;
    }
    case nn::LayerKind::kTransformerBlock: {
      std::optional<uint32_t> heads = ParsePositiveCount(edit.heads, "heads", "4", error);
      if (!heads) return std::nullopt;
      std::optional<uint32_t> ratio = ParsePositiveCount(edit.mlp_ratio, "mlp_ratio", "4", error);
      if (!ratio) return std::nullopt;
      if (*ratio > 64) {
        *error = "mlp_ratio must be at most 64 (the MLP's hidden width / the width); found " + Trim(edit.mlp_ratio) + ".";
        return std::nullopt;
      }
      const std::string attention = Trim(edit.attention);
      if (attention == "auto" || attention.empty()) layer.attention = nn::AttentionChoice::kAuto;
      else if (attention == "plain") layer.attention = nn::AttentionChoice::kPlain;
      else if (attention == "fused") layer.attention = nn::AttentionChoice::kFused;
      else {
        *error = "attention must be auto, plain or fused; found \"" + edit.attention + "\".";
        return std::nullopt;
      }
      std::optional<float> epsilon = ParseFraction(edit.epsilon, "epsilon", 1e-12, 1, false, "1e-5", error);
      if (!epsilon) return std::nullopt;
      layer.heads = *heads;
      layer.mlp_ratio = *ratio;
      layer.epsilon = *epsilon;
      break;
    }
    case nn::LayerKind::kActivation:
      if (layer.activation == kernels::Activation::kLeakyRelu) {
        std::optional<float> slope = ParseSlope(edit.slope, error);
        if (!slope) return std::nullopt;
        layer.leaky_slope = *slope;
      }
      break;
    case nn::LayerKind::kConv2D: {
      std::optional<uint32_t> filters = ParsePositiveCount(edit.filters, "filters", "32", error);
      if (!filters) return std::nullopt;
      layer.filters = *filters;
      std::optional<std::array<uint32_t, 2>> kernel = ParsePair(edit.kernel, "kernel", false, error);
      if (!kernel) return std::nullopt;
      layer.kernel = *kernel;
      if (!Trim(edit.stride).empty()) {
        std::optional<std::array<uint32_t, 2>> stride = ParsePair(edit.stride, "stride", false, error);
        if (!stride) return std::nullopt;
        layer.stride = *stride;
      }
      const std::string padding = Trim(edit.padding);
      if (padding == "valid" || padding.empty()) {
        layer.padding = nn::PaddingMode::kValid;
      } else if (padding == "same") {
        layer.padding = nn::PaddingMode::kSame;
      } else {
        std::string pad_error;
        std::optional<std::array<uint32_t, 2>> pad = ParsePair(padding, "padding", true, &pad_error);
        if (!pad) {
          *error = "padding must be valid, same, or zeros per side (e.g. 1 or 1x2); found \"" + edit.padding + "\".";
          return std::nullopt;
        }
        layer.padding = nn::PaddingMode::kExplicit;
        layer.pad = *pad;
      }
      layer.bias = edit.bias;
      if (!ReadInit(edit, layer, error)) return std::nullopt;
      break;
    }
    case nn::LayerKind::kPool2D: {
      layer.pool = edit.type == "avg_pool2d" ? kernels::PoolKind::kAverage : kernels::PoolKind::kMax;
      std::optional<std::array<uint32_t, 2>> size = ParsePair(edit.kernel, "size", false, error);
      if (!size) return std::nullopt;
      layer.kernel = *size;
      layer.stride = *size;
      if (!Trim(edit.stride).empty()) {
        std::optional<std::array<uint32_t, 2>> stride = ParsePair(edit.stride, "stride", false, error);
        if (!stride) return std::nullopt;
        layer.stride = *stride;
      }
      layer.padding = nn::PaddingMode::kExplicit;
      const std::string padding = Trim(edit.padding);
      std::optional<std::array<uint32_t, 2>> pad =
          ParsePair(padding.empty() || padding == "valid" ? "0" : padding, "padding", true, error);
      if (!pad) return std::nullopt;
      layer.pad = *pad;
      break;
    }
    case nn::LayerKind::kDropout: {
      std::optional<float> rate = ParseFraction(edit.rate, "rate (the drop probability)", 0, 1, false, "0.5", error);
      if (!rate) return std::nullopt;
      layer.rate = *rate;
      break;
    }
    case nn::LayerKind::kBatchNorm: {
      std::optional<float> momentum = ParseFraction(edit.momentum, "momentum", 0, 1, true, "0.1", error);
      if (!momentum) return std::nullopt;
      std::optional<float> epsilon = ParseFraction(edit.epsilon, "epsilon", 1e-12, 1, false, "1e-5", error);
      if (!epsilon) return std::nullopt;
      layer.momentum = *momentum;
      layer.epsilon = *epsilon;
      break;
    }
    default:
      break;
  }
  return layer;
}

std::optional<nn::ModelDesc> BuildModel(Project& project, std::string* error) {
  std::string first_error;
  auto fail = [&](const std::string& message) {
    if (first_error.empty()) first_error = message;
  };
  nn::ModelDesc model;
  model.name = project.name;
  std::vector<std::string> names = ResolvedNames(project.layers);
  std::map<std::string, size_t> first_use;
  for (size_t i = 0; i < project.layers.size(); ++i) {
    LayerEdit& edit = project.layers[i];
    edit.error.clear();
    std::optional<nn::LayerDesc> layer = LayerFromEdit(edit, &edit.error);
    if (layer && !first_use.emplace(names[i], i).second)
      edit.error = "the name '" + names[i] + "' is already used by layers[" + std::to_string(first_use[names[i]]) +
                   "]; names must be unique.";
    if (!edit.error.empty()) {
      fail(RowLabel(project.layers, i) + ": " + edit.error);
      continue;
    }
    layer->name = names[i];
    model.layers.push_back(*layer);
  }
  if (project.layers.empty()) fail("the model has no layers; add an input layer, a dense layer and a loss head.");
  if (first_error.empty()) {
    try {
      nn::InferShapes(model);
    } catch (const Error& e) {
      first_error = e.what();
      // Show the message on the row it names first (the layer at fault).
      std::smatch match;
      std::string message = e.what();
      if (std::regex_search(message, match, std::regex(R"(layers\[(\d+)\])"))) {
        size_t row = std::stoul(match[1].str());
        if (row < project.layers.size()) project.layers[row].error = message;
      }
    }
  }
  if (!first_error.empty()) {
    if (error) *error = first_error;
    return std::nullopt;
  }
  nn::TrainConfig config = project.training;
  config.data = DataSpecFor(project.data);
  model.training = nn::TrainConfigToJson(config);
  if (error) error->clear();
  return model;
}

void RebuildModel(AppState& state) {
  state.model = BuildModel(state.project, &state.model_error);
}

Project DefaultProject() {
  for (const nn::Preset& preset : nn::BuiltInPresets())
    if (std::string(preset.name) == "spiral-mlp") {
      std::string source = "preset 'spiral-mlp'";
      nn::ModelDesc model = nn::ParseModel(preset.json, source);
      return ProjectFromModel(model, nn::ParseTrainConfig(model.training, source + ": training"));
    }
  // The preset is embedded at build time, so this is only reached by a broken build.
  Project project;
  project.name = "spiral-mlp";
  project.layers = {{.type = "input", .shape = "2"}, {.type = "dense", .units = "64"}, {.type = "relu"},
                    {.type = "dense", .units = "64"}, {.type = "relu"}, {.type = "dense", .units = "3"},
                    {.type = "softmax_cross_entropy"}};
  return project;
}

std::vector<std::optional<nn::LayerShape>> PartialLayerShapes(const Project& project) {
  std::vector<std::optional<nn::LayerShape>> shapes(project.layers.size());
  nn::ModelDesc prefix;
  for (const LayerEdit& edit : project.layers) {
    std::string ignored;
    std::optional<nn::LayerDesc> layer = LayerFromEdit(edit, &ignored);
    if (!layer) break;
    prefix.layers.push_back(*layer);
  }
  // InferShapes needs a loss head at the end: close the prefix with flatten +
  // mse (neither can fail), and cut the prefix before any row it rejects.
  while (!prefix.layers.empty()) {
    nn::ModelDesc closed = prefix;
    size_t rows = prefix.layers.size();
    if (closed.layers.back().kind != nn::LayerKind::kLoss || rows != project.layers.size()) {
      closed.layers.push_back({.kind = nn::LayerKind::kFlatten});
      closed.layers.push_back({.kind = nn::LayerKind::kLoss, .loss = kernels::LossKind::kMeanSquaredError});
    }
    try {
      std::vector<nn::LayerShape> inferred = nn::InferShapes(closed);
      for (size_t i = 0; i < rows; ++i) shapes[i] = inferred[i];
      break;
    } catch (const Error& e) {
      std::smatch match;
      std::string message = e.what();
      if (!std::regex_search(message, match, std::regex(R"(layers\[(\d+)\])"))) break;
      size_t row = std::stoul(match[1].str());
      if (row >= rows) break;
      prefix.layers.resize(row);
    }
  }
  return shapes;
}

}  // namespace ts::ui
