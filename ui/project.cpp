#include "ui/project.h"

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
namespace fs = std::filesystem;

constexpr const char* kProjectFormat = "tensorscope-project";
constexpr const char* kModelFormat = "tensorscope-model";
constexpr float kDefaultTestFraction = 0.2f;  // the registry's default: a test set of samples / 4

struct LayerType {
  const char* name;
  nn::LayerKind kind;
  kernels::Activation activation;
  kernels::LossKind loss;
};

// The layer types a row may have (the ModelDesc names; "softmax" is read as an alias).
const LayerType kLayerTypes[] = {
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
    {"softmax_cross_entropy", nn::LayerKind::kLoss, {}, kernels::LossKind::kSoftmaxCrossEntropy},
    {"mse", nn::LayerKind::kLoss, {}, kernels::LossKind::kMeanSquaredError},
    {"bce_with_logits", nn::LayerKind::kLoss, {}, kernels::LossKind::kBinaryCrossEntropyWithLogits},
};

constexpr const char* kDataKinds[] = {"spiral", "circles", "xor",    "blobs", "moons", "mnist",  "fashion-mnist",
                                      "iris",   "wine",    "digits", "csv",   "idx",   "shapes", "cifar10", "images"};

const LayerType* FindLayerType(const std::string& name) {
  for (const LayerType& type : kLayerTypes)
    if (name == type.name) return &type;
  return nullptr;
}

std::string CanonicalTypeName(const std::string& name) { return name == "softmax" ? "softmax_cross_entropy" : name; }

bool IsSyntheticKind(const std::string& kind) { return data::ParseSyntheticKind(kind).has_value(); }
bool IsSklearnKind(const std::string& kind) { return kind == "iris" || kind == "wine" || kind == "digits"; }

std::string FormatNumber(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", value);
  return text;
}

std::string Trim(const std::string& text) {
  size_t begin = 0, end = text.size();
  while (begin < end && std::isspace(static_cast<unsigned char>(text[begin]))) ++begin;
  while (end > begin && std::isspace(static_cast<unsigned char>(text[end - 1]))) --end;
  return text.substr(begin, end - begin);
}

std::string Describe(const json& value) {
  std::string text = value.dump();
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return std::string(value.type_name()) + " " + text;
}

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
                                 kernels::InitKind::kXavierUniform, kernels::InitKind::kXavierNormal, kernels::InitKind::kOnes})
    if (name == kernels::InitName(kind)) return kind;
  return std::nullopt;
}

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

// Reads the fields of one JSON object, naming each field with its path
// ("file.tsproj.json: data.samples") in every message, and rejects unknown ones.
class FieldReader {
 public:
  FieldReader(const json& object, std::string source, std::string path)
      : object_(object), source_(std::move(source)), path_(std::move(path)) {
    if (!object.is_object()) throw Error(Where() + ": expected an object, found " + Describe(object) + ".");
  }
  const json* Find(const std::string& key) {
    known_.insert(key);
    auto it = object_.find(key);
    return it == object_.end() ? nullptr : &*it;
  }
  std::string Field(const std::string& key) const { return source_ + ": " + (path_.empty() ? "" : path_ + ".") + key; }
  std::string Where() const { return path_.empty() ? source_ : source_ + ": " + path_; }

  std::string String(const std::string& key, const std::string& fallback) {
    const json* value = Find(key);
    if (!value) return fallback;
    if (!value->is_string()) throw Error(Field(key) + ": expected a string, found " + Describe(*value) + ".");
    return value->get<std::string>();
  }
  uint32_t Count(const std::string& key, uint32_t fallback, uint32_t minimum) {
    const json* value = Find(key);
    if (!value) return fallback;
    if (!value->is_number_integer() || value->get<int64_t>() < minimum || value->get<int64_t>() > 0x7fffffff)
      throw Error(Field(key) + ": expected a whole number of at least " + std::to_string(minimum) + ", found " +
                  Describe(*value) + ".");
    return static_cast<uint32_t>(value->get<int64_t>());
  }
  double Number(const std::string& key, double fallback, double minimum, double below) {
    const json* value = Find(key);
    if (!value) return fallback;
    if (!value->is_number() || !(value->get<double>() >= minimum && value->get<double>() < below))
      throw Error(Field(key) + ": expected a number in [" + FormatNumber(minimum) + ", " + FormatNumber(below) +
                  "), found " + Describe(*value) + ".");
    return value->get<double>();
  }
  bool Bool(const std::string& key, bool fallback) {
    const json* value = Find(key);
    if (!value) return fallback;
    if (!value->is_boolean()) throw Error(Field(key) + ": expected true or false, found " + Describe(*value) + ".");
    return value->get<bool>();
  }
  // A field kept as typed text: a string as is, or a number/array written in its canonical text.
  template <typename ToText>
  std::string Typed(const std::string& key, const std::string& fallback, ToText to_text) {
    const json* value = Find(key);
    if (!value) return fallback;
    if (value->is_string()) return value->get<std::string>();
    std::optional<std::string> text = to_text(*value);
    if (!text) throw Error(Field(key) + ": unexpected " + Describe(*value) + ".");
    return *text;
  }
  void RejectUnknown(const std::string& what) {
    for (auto it = object_.begin(); it != object_.end(); ++it)
      if (!known_.count(it.key())) {
        std::string list;
        for (const std::string& k : known_) list += (list.empty() ? "" : ", ") + k;
        throw Error(Field(it.key()) + ": unknown field '" + it.key() + "' in " + what + "; known: " + list + ".");
      }
  }

 private:
  const json& object_;
  std::string source_, path_;
  std::set<std::string> known_;
};

// The "model" section, read leniently: a value the user left invalid was
// written as the typed string and comes back as that string.
std::vector<LayerEdit> ReadModelLayers(const json& model, const std::string& source, std::string* model_name) {
  FieldReader reader(model, source, "model");
  std::string format = reader.String("format", kModelFormat);
  if (format != kModelFormat)
    throw Error(reader.Field("format") + ": expected \"" + kModelFormat + "\", found \"" + format + "\".");
  if (const json* version = reader.Find("version"); version && (!version->is_number_integer() || *version != 1))
    throw Error(reader.Field("version") + ": expected model version 1, found " + Describe(*version) + ".");
  *model_name = reader.String("name", "");
  reader.Find("training");  // the project's own "training" section is authoritative
  const json* layers = reader.Find("layers");
  if (layers && !layers->is_array()) throw Error(reader.Field("layers") + ": expected a list of layers, found " + Describe(*layers) + ".");
  reader.RejectUnknown("the model");

  std::vector<LayerEdit> edits;
  for (size_t i = 0; layers && i < layers->size(); ++i) {
    FieldReader layer(layers->at(i), source, "model.layers[" + std::to_string(i) + "]");
    LayerEdit edit;
    const json* type = layer.Find("type");
    if (!type || !type->is_string())
      throw Error(layer.Where() + ": expected a \"type\" string, found " + (type ? Describe(*type) : "none") + ".");
    edit.type = CanonicalTypeName(type->get<std::string>());
    if (!FindLayerType(edit.type)) {
      std::string known;
      for (const LayerType& t : kLayerTypes) known += (known.empty() ? "" : ", ") + std::string(t.name);
      throw Error(layer.Field("type") + ": unknown layer type '" + edit.type + "'; known: " + known + ".");
    }
    edit.name = layer.String("name", "");
    edit.units = layer.Typed("units", edit.units, [](const json& v) -> std::optional<std::string> {
      if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
      return std::nullopt;
    });
    edit.shape = layer.Typed("shape", edit.shape, [](const json& v) -> std::optional<std::string> {
      if (!v.is_array()) return std::nullopt;
      std::string text;
      for (const json& d : v) {
        if (!d.is_number_integer()) return std::nullopt;
        text += (text.empty() ? "" : "x") + std::to_string(d.get<int64_t>());
      }
      return text;
    });
    edit.slope = layer.Typed("slope", edit.slope, [](const json& v) -> std::optional<std::string> {
      if (v.is_number()) return FormatNumber(v.get<float>());
      return std::nullopt;
    });
    edit.bias = layer.Bool("bias", true);
    edit.init = layer.String("init", "");
    // A pair is a number, [height, width], or the text the user left invalid.
    auto pair_text = [](const json& v) -> std::optional<std::string> {
      if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
      if (v.is_array() && v.size() == 2 && v[0].is_number_integer() && v[1].is_number_integer())
        return std::to_string(v[0].get<int64_t>()) + "x" + std::to_string(v[1].get<int64_t>());
      return std::nullopt;
    };
    auto number_text = [](const json& v) -> std::optional<std::string> {
      if (v.is_number()) return FormatNumber(v.get<float>());
      return std::nullopt;
    };
    edit.filters = layer.Typed("filters", edit.filters, [](const json& v) -> std::optional<std::string> {
      if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
      return std::nullopt;
    });
    const bool pool = edit.type == "max_pool2d" || edit.type == "avg_pool2d";
    if (pool) edit.kernel = edit.padding = "";
    edit.kernel = layer.Typed(pool ? "size" : "kernel", pool ? "2" : edit.kernel, pair_text);
    edit.stride = layer.Typed("stride", "", pair_text);
    edit.padding = layer.Typed("padding", pool ? "0" : edit.padding, [&](const json& v) -> std::optional<std::string> {
      if (v.is_string()) return v.get<std::string>();
      return pair_text(v);
    });
    edit.rate = layer.Typed("rate", edit.rate, number_text);
    edit.momentum = layer.Typed("momentum", edit.momentum, number_text);
    edit.epsilon = layer.Typed("epsilon", edit.epsilon, number_text);
    layer.RejectUnknown("a layer");
    edits.push_back(edit);
  }
  ClearDefaultNames(edits);
  return edits;
}

json LayersToJson(const std::vector<LayerEdit>& layers) {
  std::vector<std::string> names = ResolvedNames(layers);
  json list = json::array();
  for (size_t i = 0; i < layers.size(); ++i) {
    const LayerEdit& edit = layers[i];
    std::string ignored;
    if (std::optional<nn::LayerDesc> layer = LayerFromEdit(edit, &ignored)) {
      nn::ModelDesc one;
      layer->name = names[i];
      one.layers.push_back(*layer);
      list.push_back(nn::ModelToJson(one)["layers"][0]);
      continue;
    }
    // Invalid: keep what the user typed, so nothing is lost.
    json raw = {{"type", edit.type}, {"name", names[i]}};
    const LayerType* type = FindLayerType(CanonicalTypeName(edit.type));
    nn::LayerKind kind = type ? type->kind : nn::LayerKind::kDense;
    if (kind == nn::LayerKind::kInput) raw["shape"] = edit.shape;
    if (kind == nn::LayerKind::kDense) {
      raw["units"] = edit.units;
      if (!edit.bias) raw["bias"] = false;
      if (!edit.init.empty()) raw["init"] = edit.init;
    }
    if (type && type->activation == kernels::Activation::kLeakyRelu) raw["slope"] = edit.slope;
    if (kind == nn::LayerKind::kConv2D) {
      raw["filters"] = edit.filters;
      raw["kernel"] = edit.kernel;
      if (!Trim(edit.stride).empty()) raw["stride"] = edit.stride;
      raw["padding"] = edit.padding;
      if (!edit.bias) raw["bias"] = false;
      if (!edit.init.empty()) raw["init"] = edit.init;
    }
    if (kind == nn::LayerKind::kPool2D) {
      raw["size"] = edit.kernel;
      if (!Trim(edit.stride).empty()) raw["stride"] = edit.stride;
      raw["padding"] = edit.padding;
    }
    if (kind == nn::LayerKind::kDropout) raw["rate"] = edit.rate;
    if (kind == nn::LayerKind::kBatchNorm) raw["momentum"] = edit.momentum, raw["epsilon"] = edit.epsilon;
    list.push_back(raw);
  }
  return list;
}

json DataToJson(const DataChoice& data) {
  json points = json::array();
  for (const DataChoice::AddedPoint& p : data.added_points) points.push_back({p.x, p.y, p.label});
  return {{"kind", data.kind},   {"samples", data.samples},
          {"classes", data.classes}, {"noise", data.noise},
          {"seed", data.seed},   {"test_fraction", data.test_fraction},
          {"path", data.path},   {"added_points", points}};
}

DataChoice ReadData(const json& section, const std::string& source) {
  FieldReader reader(section, source, "data");
  DataChoice data;
  data.kind = reader.String("kind", data.kind);
  if (std::find_if(std::begin(kDataKinds), std::end(kDataKinds), [&](const char* k) { return data.kind == k; }) ==
      std::end(kDataKinds)) {
    std::string known;
    for (const char* k : kDataKinds) known += (known.empty() ? "" : ", ") + std::string(k);
    throw Error(reader.Field("kind") + ": unknown data set '" + data.kind + "'; known: " + known + ".");
  }
  data.samples = reader.Count("samples", data.samples, 1);
  data.classes = reader.Count("classes", data.classes, 1);
  data.noise = static_cast<float>(reader.Number("noise", data.noise, 0.0, 1e9));
  data.seed = reader.Count("seed", data.seed, 0);
  data.test_fraction = static_cast<float>(reader.Number("test_fraction", data.test_fraction, 0.0, 1.0));
  data.path = reader.String("path", data.path);
  if (const json* points = reader.Find("added_points")) {
    if (!points->is_array())
      throw Error(reader.Field("added_points") + ": expected a list of [x, y, label], found " + Describe(*points) + ".");
    for (size_t i = 0; i < points->size(); ++i) {
      const json& p = points->at(i);
      if (!p.is_array() || p.size() != 3 || !p[0].is_number() || !p[1].is_number() || !p[2].is_number_unsigned())
        throw Error(reader.Field("added_points") + "[" + std::to_string(i) + "]: expected [x, y, label] (label a whole number >= 0), found " +
                    Describe(p) + ".");
      data.added_points.push_back({p[0].get<float>(), p[1].get<float>(), p[2].get<uint32_t>()});
    }
  }
  reader.RejectUnknown("the data section");
  return data;
}

struct SessionInfo {
  std::string path;
  bool dirty = false;
};

Project ParseProjectText(const std::string& text, const std::string& source, SessionInfo* session) {
  json root;
  try {
    root = json::parse(text);
  } catch (const json::parse_error& e) {
    throw Error(source + ": not valid JSON at byte " + std::to_string(e.byte) + ": " + e.what());
  }
  FieldReader reader(root, source, "");
  const json* format = reader.Find("format");
  if (format && *format == kModelFormat) {
    // A model file: open it as a new project with its training section.
    nn::ModelDesc model = nn::ParseModel(text, source);
    return ProjectFromModel(model, nn::ParseTrainConfig(model.training, source + ": training"));
  }
  if (!format) throw Error(source + ": the field 'format' is missing; expected \"" + kProjectFormat + "\".");
  if (*format != kProjectFormat)
    throw Error(reader.Field("format") + ": expected \"" + kProjectFormat + "\" (or a \"" + kModelFormat +
                "\" model file), found " + Describe(*format) + ".");
  const json* version = reader.Find("version");
  if (!version) throw Error(source + ": the field 'version' is missing; expected " + std::to_string(kProjectVersion) + ".");
  if (!version->is_number_integer() || *version != kProjectVersion)
    throw Error(reader.Field("version") + ": this Tensorscope reads project version " + std::to_string(kProjectVersion) +
                ", found " + Describe(*version) + " (written by a newer Tensorscope?).");

  Project project;
  std::string model_name;
  if (const json* model = reader.Find("model")) project.layers = ReadModelLayers(*model, source, &model_name);
  project.name = reader.String("name", model_name.empty() ? project.name : model_name);
  if (const json* training = reader.Find("training"))
    project.training = nn::ParseTrainConfig(*training, source + ": training");
  if (const json* data = reader.Find("data")) project.data = ReadData(*data, source);
  if (const json* saved = reader.Find("session")) {
    FieldReader fields(*saved, source, "session");
    SessionInfo info{fields.String("path", ""), fields.Bool("dirty", false)};
    fields.RejectUnknown("the session section");
    if (session) *session = info;
  }
  reader.RejectUnknown("a project");
  return project;
}

std::string AutosaveText(const AppState& state) {
  json root = ProjectToJson(state.project);
  root["session"] = {{"path", state.project_path}, {"dirty", state.dirty}};
  return root.dump(2) + "\n";
}

void WriteWithDirectories(const std::string& path, const std::string& text) {
  fs::path parent = fs::path(path).parent_path();
  std::error_code error;
  if (!parent.empty()) fs::create_directories(parent, error);
  if (error) throw Error(path + ": cannot create the folder " + parent.string() + ": " + error.message() + ".");
  nn::WriteFileAtomically(path, text);
}

}  // namespace

// ---- Files -----------------------------------------------------------------

json ProjectToJson(const Project& project) {
  json model = {{"format", kModelFormat}, {"version", 1}, {"name", project.name}, {"layers", LayersToJson(project.layers)}};
  return {{"format", kProjectFormat}, {"version", kProjectVersion},
          {"name", project.name},     {"model", model},
          {"training", nn::TrainConfigToJson(project.training)}, {"data", DataToJson(project.data)}};
}

Project ParseProject(const std::string& json_text, const std::string& source) {
  return ParseProjectText(json_text, source, nullptr);
}

Project LoadProject(const std::string& path) { return ParseProject(nn::ReadFile(path), path); }

void SaveProject(const Project& project, const std::string& path) {
  WriteWithDirectories(path, ProjectToJson(project).dump(2) + "\n");
}

std::string AutosavePath() {
  const char* xdg = std::getenv("XDG_DATA_HOME");
  const char* home = std::getenv("HOME");
  fs::path base;
  if (xdg && *xdg) base = xdg;
  else if (home && *home) base = fs::path(home) / ".local" / "share";
  else return "";
  return (base / "tensorscope" / "autosave.tsproj.json").string();
}

std::string LastCheckpointPath() {
  std::string autosave = AutosavePath();
  return autosave.empty() ? "tensorscope-last.ckpt" : (fs::path(autosave).parent_path() / "last.ckpt").string();
}

bool Autosaver::Tick(AppState& state, double now_seconds) {
  if (now_seconds - last_check_ < interval_seconds_) return false;
  last_check_ = now_seconds;
  return Flush(state);
}

bool Autosaver::Flush(AppState& state) {
  if (path_.empty()) return false;
  std::string text = AutosaveText(state);
  if (text == last_written_) return false;
  try {
    WriteWithDirectories(path_, text);
    last_written_ = std::move(text);
    reported_error_ = false;
    return true;
  } catch (const Error& e) {
    if (!reported_error_) state.Notify(Notice::Level::kError, std::string("Autosave failed: ") + e.what());
    reported_error_ = true;  // one notice, not one every few seconds
    return false;
  }
}

void LoadStartupProject(AppState& state, const std::string& autosave_path) {
  state.project = DefaultProject();
  state.project_path.clear();
  state.dirty = false;
  std::error_code missing;
  if (!autosave_path.empty() && fs::exists(autosave_path, missing)) {
    try {
      SessionInfo session;
      state.project = ParseProjectText(nn::ReadFile(autosave_path), autosave_path, &session);
      state.project_path = session.path;
      state.dirty = session.dirty;
    } catch (const Error& e) {
      state.Notify(Notice::Level::kError, std::string("Could not restore the last session (opened the default project): ") + e.what());
    }
  }
  RebuildModel(state);
}

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
      if (!edit.init.empty()) {
        layer.init = ParseInitName(edit.init);
        if (!layer.init) {
          *error = "unknown init '" + edit.init + "'; known: zeros, ones, he_uniform, he_normal, xavier_uniform, xavier_normal.";
          return std::nullopt;
        }
      }
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
      if (!edit.init.empty()) {
        layer.init = ParseInitName(edit.init);
        if (!layer.init) {
          *error = "unknown init '" + edit.init + "'; known: zeros, ones, he_uniform, he_normal, xavier_uniform, xavier_normal.";
          return std::nullopt;
        }
      }
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

std::string DataSpecFor(const DataChoice& data) {
  if (IsSyntheticKind(data.kind)) {
    std::string spec = data.kind + ":samples=" + std::to_string(data.samples);
    if (data.kind != "xor" && data.kind != "moons") spec += ",classes=" + std::to_string(data.classes);
    spec += ",noise=" + FormatNumber(data.noise) + ",seed=" + std::to_string(data.seed);
    if (std::abs(data.test_fraction - kDefaultTestFraction) > 1e-6f && data.test_fraction > 0 && data.test_fraction < 1) {
      // The registry generates the test set separately: size it so it is test_fraction of all samples.
      double test_samples = std::round(data.samples * data.test_fraction / (1.0 - data.test_fraction));
      spec += ",test_samples=" + std::to_string(std::max<uint64_t>(1, static_cast<uint64_t>(test_samples)));
    }
    return spec;
  }
  std::string split = "test_fraction=" + FormatNumber(data.test_fraction) + ",seed=" + std::to_string(data.seed);
  if (IsSklearnKind(data.kind)) return data.kind + ":" + split;
  if (data.kind == "csv") {
    // A path with ':' in it cannot carry options (see compute/data/registry.h).
    return data.path.find(':') == std::string::npos ? data.path + ":" + split : data.path;
  }
  if (data.kind == "idx") return "idx:" + data.path;
  if (data.kind == "images") return "images:" + data.path;
  if (data.kind == "cifar10") return data.path.empty() ? "cifar10" : "cifar10:" + data.path;
  if (data.kind == "shapes") {
    std::string spec = "shapes:samples=" + std::to_string(data.samples) + ",classes=" + std::to_string(data.classes) +
                       ",seed=" + std::to_string(data.seed);
    if (data.test_fraction > 0 && data.test_fraction < 1) {
      double test_samples = std::round(data.samples * data.test_fraction / (1.0 - data.test_fraction));
      spec += ",test_samples=" + std::to_string(std::max<uint64_t>(1, static_cast<uint64_t>(test_samples)));
    }
    return spec;
  }
  return data.kind;  // mnist, fashion-mnist: no options
}

DataChoice DataChoiceFromSpec(const std::string& spec) {
  DataChoice data;
  auto is_csv = [](const std::string& text) {
    return text.ends_with(".csv") || text.ends_with(".csv.gz");
  };
  if (is_csv(spec)) {
    data.kind = "csv";
    data.path = spec;
    return data;
  }
  size_t colon = spec.find(':');
  std::string name = spec.substr(0, colon);
  std::map<std::string, std::string> options;
  if (colon != std::string::npos) {
    std::string rest = spec.substr(colon + 1);
    size_t start = 0;
    while (start <= rest.size()) {
      size_t comma = std::min(rest.find(',', start), rest.size());
      std::string item = rest.substr(start, comma - start);
      size_t equals = item.find('=');
      if (equals != std::string::npos) options[Trim(item.substr(0, equals))] = Trim(item.substr(equals + 1));
      start = comma + 1;
    }
  }
  auto number = [&](const char* key, double fallback) {
    auto it = options.find(key);
    if (it == options.end()) return fallback;
    char* end = nullptr;
    double value = std::strtod(it->second.c_str(), &end);
    // Negative or malformed values fall back: they would not load anyway.
    return (end && *end == '\0' && std::isfinite(value) && value >= 0 && value < 4e9) ? value : fallback;
  };
  if (IsSyntheticKind(name)) {
    data::SyntheticOptions defaults;  // the registry's defaults for a bare "spiral"
    data.kind = name;
    data.samples = static_cast<uint32_t>(number("samples", defaults.samples));
    data.classes = static_cast<uint32_t>(number("classes", (name == "spiral" || name == "blobs") ? 3 : 2));
    data.noise = static_cast<float>(number("noise", defaults.noise));
    data.seed = static_cast<uint32_t>(number("seed", static_cast<double>(defaults.seed)));
    double test_samples = number("test_samples", data.samples / 4.0);
    data.test_fraction = static_cast<float>(test_samples / (data.samples + test_samples));
    if (std::abs(data.test_fraction - kDefaultTestFraction) < 0.005f) data.test_fraction = kDefaultTestFraction;
    return data;
  }
  if (is_csv(name) || IsSklearnKind(name)) {
    data.kind = IsSklearnKind(name) ? name : "csv";
    if (data.kind == "csv") data.path = name;
    data.test_fraction = static_cast<float>(number("test_fraction", data.test_fraction));
    data.seed = static_cast<uint32_t>(number("seed", data.seed));
    return data;
  }
  if (name == "mnist" || name == "fashion-mnist") data.kind = name;
  if (name == "idx" || name == "images" || name == "cifar10") {
    data.kind = name;
    data.path = colon == std::string::npos ? "" : spec.substr(colon + 1);
  }
  if (name == "shapes") {
    data.kind = name;
    data.samples = static_cast<uint32_t>(number("samples", 10000));
    data.classes = static_cast<uint32_t>(number("classes", 8));
    data.seed = static_cast<uint32_t>(number("seed", 1));
    double test_samples = number("test_samples", data.samples / 5.0);
    data.test_fraction = static_cast<float>(test_samples / (data.samples + test_samples));
  }
  return data;
}

std::string WindowTitle(const AppState& state) {
  return "Tensorscope \xE2\x80\x94 " + state.project.name + (state.dirty ? "*" : "");
}

}  // namespace ts::ui
