#include "compute/nn/model.h"

#include <cstdio>
#include <map>
#include <numeric>
#include <set>

#include "compute/common/error.h"
#include "compute/common/file_read.h"
#include "compute/common/json_read.h"
#include "compute/kernels/conv2d.h"

namespace ts::nn {
namespace {

using nlohmann::json;

constexpr int kModelVersion = 1;
constexpr size_t kMaxNameBytes = 256;

struct LayerType {
  const char* name;
  LayerKind kind;
  kernels::Activation activation;
  kernels::LossKind loss;
  kernels::PoolKind pool = kernels::PoolKind::kMax;
};

const LayerType kLayerTypes[] = {
    {"input", LayerKind::kInput, kernels::Activation::kIdentity, {}},
    {"flatten", LayerKind::kFlatten, kernels::Activation::kIdentity, {}},
    {"dense", LayerKind::kDense, kernels::Activation::kIdentity, {}},
    {"conv2d", LayerKind::kConv2D, kernels::Activation::kIdentity, {}},
    {"max_pool2d", LayerKind::kPool2D, kernels::Activation::kIdentity, {}, kernels::PoolKind::kMax},
    {"avg_pool2d", LayerKind::kPool2D, kernels::Activation::kIdentity, {}, kernels::PoolKind::kAverage},
    {"global_avg_pool", LayerKind::kGlobalAvgPool, kernels::Activation::kIdentity, {}},
    {"dropout", LayerKind::kDropout, kernels::Activation::kIdentity, {}},
    {"batch_norm", LayerKind::kBatchNorm, kernels::Activation::kIdentity, {}},
    {"embedding", LayerKind::kEmbedding, kernels::Activation::kIdentity, {}},
    {"layer_norm", LayerKind::kLayerNorm, kernels::Activation::kIdentity, {}},
    {"transformer_block", LayerKind::kTransformerBlock, kernels::Activation::kIdentity, {}},
    {"relu", LayerKind::kActivation, kernels::Activation::kRelu, {}},
    {"leaky_relu", LayerKind::kActivation, kernels::Activation::kLeakyRelu, {}},
    {"sigmoid", LayerKind::kActivation, kernels::Activation::kSigmoid, {}},
    {"tanh", LayerKind::kActivation, kernels::Activation::kTanh, {}},
    {"gelu", LayerKind::kActivation, kernels::Activation::kGelu, {}},
    {"softmax_cross_entropy", LayerKind::kLoss, {}, kernels::LossKind::kSoftmaxCrossEntropy},
    {"softmax", LayerKind::kLoss, {}, kernels::LossKind::kSoftmaxCrossEntropy},
    {"mse", LayerKind::kLoss, {}, kernels::LossKind::kMeanSquaredError},
    {"bce_with_logits", LayerKind::kLoss, {}, kernels::LossKind::kBinaryCrossEntropyWithLogits},
};

// A number as a person writes it: 1, 0.25, 1.5.
std::string FormatRate(float value) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", value);
  return text;
}

std::string KnownTypes() {
  std::string list;
  for (const LayerType& t : kLayerTypes) list += (list.empty() ? "" : ", ") + std::string(t.name);
  return list;
}

std::string Describe(const json& value) { return DescribeJson(value); }

// A name or other text from the file, quoted in a message.
std::string Quoted(const std::string& text) { return "'" + Excerpt(text) + "'"; }

// Reads the fields of one JSON object and reports unknown ones, with the path
// of each field (e.g. "model.json: layers[2].units") in every message.
class ObjectReader {
 public:
  ObjectReader(const json& object, std::string path) : object_(object), path_(std::move(path)) {
    if (!object.is_object()) throw Error(path_ + ": expected an object, found " + Describe(object) + ".");
  }
  const json* Find(const std::string& key) {
    known_.insert(key);
    auto it = object_.find(key);
    return it == object_.end() ? nullptr : &*it;
  }
  std::string String(const std::string& key, const std::string& fallback, bool required = false) {
    const json* value = Find(key);
    if (!value) {
      if (required) throw Error(path_ + ": the field '" + key + "' is missing.");
      return fallback;
    }
    if (!value->is_string()) throw Error(Field(key) + ": expected a string, found " + Describe(*value) + ".");
    return value->get<std::string>();
  }
  uint32_t PositiveInt(const std::string& key, uint32_t fallback, bool required = false) {
    const json* value = Find(key);
    if (!value) {
      if (required) throw Error(path_ + ": the field '" + key + "' is missing (a positive integer).");
      return fallback;
    }
    return PositiveIntValue(*value, Field(key));
  }
  float Number(const std::string& key, float fallback) {
    const json* value = Find(key);
    if (!value) return fallback;
    if (!value->is_number()) throw Error(Field(key) + ": expected a number, found " + Describe(*value) + ".");
    return value->get<float>();
  }
  bool Bool(const std::string& key, bool fallback) {
    const json* value = Find(key);
    if (!value) return fallback;
    if (!value->is_boolean()) throw Error(Field(key) + ": expected true or false, found " + Describe(*value) + ".");
    return value->get<bool>();
  }
  // A positive integer n (meaning {n, n}) or a list [height, width] of them.
  std::array<uint32_t, 2> Pair(const std::string& key, std::array<uint32_t, 2> fallback, bool required = false) {
    const json* value = Find(key);
    if (!value) {
      if (required) throw Error(path_ + ": the field '" + key + "' is missing (a positive integer or [height, width]).");
      return fallback;
    }
    if (value->is_array()) {
      if (value->size() != 2)
        throw Error(Field(key) + ": expected a positive integer or [height, width], found " + Describe(*value) + ".");
      return {PositiveIntValue((*value)[0], Field(key) + "[0]"), PositiveIntValue((*value)[1], Field(key) + "[1]")};
    }
    const uint32_t n = PositiveIntValue(*value, Field(key));
    return {n, n};
  }
  // A non-negative integer n ({n, n}) or a list [rows, columns] of them.
  std::array<uint32_t, 2> Padding(const json& value, const std::string& key) {
    auto one = [&](const json& v, const std::string& where) -> uint32_t {
      if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > 0xffff)
        throw Error(where + ": expected 'valid', 'same' or a non-negative integer (or [rows, columns]), found " +
                    Describe(v) + ".");
      return static_cast<uint32_t>(v.get<int64_t>());
    };
    if (value.is_array()) {
      if (value.size() != 2) throw Error(Field(key) + ": expected [rows, columns], found " + Describe(value) + ".");
      return {one(value[0], Field(key) + "[0]"), one(value[1], Field(key) + "[1]")};
    }
    const uint32_t n = one(value, Field(key));
    return {n, n};
  }
  // Throws if the object has a field no Find() asked about.
  void RejectUnknown(const std::string& what) {
    for (auto it = object_.begin(); it != object_.end(); ++it)
      if (!known_.count(it.key())) {
        std::string list;
        for (const std::string& k : known_) list += (list.empty() ? "" : ", ") + k;
        throw Error(Field(it.key()) + ": unknown parameter " + Quoted(it.key()) + " for " + what + "; known: " + list + ".");
      }
  }
  std::string Field(const std::string& key) const { return path_ + "." + Excerpt(key, 40); }

  static uint32_t PositiveIntValue(const json& value, const std::string& where) {
    if (!value.is_number_integer() || value.get<int64_t>() <= 0 || value.get<int64_t>() > 0x7fffffff)
      throw Error(where + ": expected a positive integer, found " + Describe(value) + ".");
    return static_cast<uint32_t>(value.get<int64_t>());
  }

 private:
  const json& object_;
  std::string path_;
  std::set<std::string> known_;
};

std::optional<kernels::InitKind> ParseInit(const std::string& text, const std::string& where) {
  for (kernels::InitKind kind : {kernels::InitKind::kZeros, kernels::InitKind::kHeUniform, kernels::InitKind::kHeNormal,
                                 kernels::InitKind::kXavierUniform, kernels::InitKind::kXavierNormal,
                                 kernels::InitKind::kNormal002})
    if (text == kernels::InitName(kind)) return kind;
  throw Error(where + ": unknown init " + Quoted(text) +
              "; known: zeros, he_uniform, he_normal, xavier_uniform, xavier_normal, normal_0.02.");
}

LayerDesc ParseLayer(const json& value, const std::string& path) {
  ObjectReader reader(value, path);
  std::string type = reader.String("type", "", true);
  const LayerType* found = nullptr;
  for (const LayerType& t : kLayerTypes)
    if (type == t.name) found = &t;
  if (!found) throw Error(reader.Field("type") + ": unknown layer type " + Quoted(type) + "; known types: " + KnownTypes() + ".");
  LayerDesc layer;
  layer.kind = found->kind;
  layer.activation = found->activation;
  layer.loss = found->loss;
  layer.pool = found->pool;
  layer.name = reader.String("name", "");
  if (layer.name.size() > kMaxNameBytes)
    throw Error(reader.Field("name") + ": a layer name may be at most " + std::to_string(kMaxNameBytes) +
                " bytes, found " + std::to_string(layer.name.size()) + " (" + Quoted(layer.name) + ").");
  switch (layer.kind) {
    case LayerKind::kInput: {
      const json* shape = reader.Find("shape");
      if (!shape) throw Error(path + ": the input layer needs a 'shape', e.g. [2] or [1, 28, 28].");
      if (!shape->is_array() || shape->empty() || shape->size() > 4)
        throw Error(reader.Field("shape") + ": expected a list of 1 to 4 positive integers, found " + Describe(*shape) + ".");
      for (size_t i = 0; i < shape->size(); ++i)
        layer.shape.push_back(ObjectReader::PositiveIntValue((*shape)[i], reader.Field("shape") + "[" + std::to_string(i) + "]"));
      break;
    }
    case LayerKind::kDense: {
      layer.units = reader.PositiveInt("units", 0, true);
      layer.bias = reader.Bool("bias", true);
      layer.tied = reader.Bool("tied", false);
      if (reader.Find("init")) layer.init = ParseInit(reader.String("init", ""), reader.Field("init"));
      break;
    }
    case LayerKind::kEmbedding: {
      layer.vocab = reader.PositiveInt("vocab", 0, true);
      layer.units = reader.PositiveInt("units", 0, true);
      if (reader.Find("init")) layer.init = ParseInit(reader.String("init", ""), reader.Field("init"));
      break;
    }
    case LayerKind::kLayerNorm: {
      layer.epsilon = reader.Number("epsilon", 1e-5f);
      if (!(layer.epsilon > 0.0f && layer.epsilon < 1.0f))
        throw Error(reader.Field("epsilon") + ": expected a small positive number (e.g. 1e-5), found " +
                    std::to_string(layer.epsilon) + ".");
      break;
    }
    case LayerKind::kTransformerBlock: {
      layer.heads = reader.PositiveInt("heads", 1);
      layer.mlp_ratio = reader.PositiveInt("mlp_ratio", 4);
      if (layer.mlp_ratio > 64)
        throw Error(reader.Field("mlp_ratio") + ": expected a hidden width of at most 64 x the width, found " +
                    std::to_string(layer.mlp_ratio) + ".");
      const std::string attention = reader.String("attention", "auto");
      if (attention == "auto") layer.attention = AttentionChoice::kAuto;
      else if (attention == "plain") layer.attention = AttentionChoice::kPlain;
      else if (attention == "fused") layer.attention = AttentionChoice::kFused;
      else throw Error(reader.Field("attention") + ": expected 'auto', 'plain' or 'fused', found " + Quoted(attention) + ".");
      layer.epsilon = reader.Number("epsilon", 1e-5f);
      if (!(layer.epsilon > 0.0f && layer.epsilon < 1.0f))
        throw Error(reader.Field("epsilon") + ": expected a small positive number (e.g. 1e-5), found " +
                    std::to_string(layer.epsilon) + ".");
      break;
    }
    case LayerKind::kConv2D: {
      layer.filters = reader.PositiveInt("filters", 0, true);
      layer.kernel = reader.Pair("kernel", {3, 3}, true);
      layer.stride = reader.Pair("stride", {1, 1});
      layer.bias = reader.Bool("bias", true);
      if (reader.Find("init")) layer.init = ParseInit(reader.String("init", ""), reader.Field("init"));
      if (const json* padding = reader.Find("padding")) {
        if (padding->is_string()) {
          const std::string mode = padding->get<std::string>();
          if (mode == "valid") layer.padding = PaddingMode::kValid;
          else if (mode == "same") layer.padding = PaddingMode::kSame;
          else throw Error(reader.Field("padding") + ": expected 'valid', 'same' or a number, found " + Quoted(mode) + ".");
        } else {
          layer.padding = PaddingMode::kExplicit;
          layer.pad = reader.Padding(*padding, "padding");
        }
      }
      break;
    }
    case LayerKind::kPool2D: {
      layer.kernel = reader.Pair("size", {2, 2}, true);
      layer.stride = reader.Pair("stride", layer.kernel);
      layer.padding = PaddingMode::kExplicit;
      if (const json* padding = reader.Find("padding")) layer.pad = reader.Padding(*padding, "padding");
      break;
    }
    case LayerKind::kDropout: {
      layer.rate = reader.Number("rate", 0.5f);
      if (!(layer.rate >= 0.0f && layer.rate < 1.0f))
        throw Error(reader.Field("rate") + ": expected a drop probability in [0, 1), found " + FormatRate(layer.rate) + ".");
      break;
    }
    case LayerKind::kBatchNorm: {
      layer.momentum = reader.Number("momentum", 0.1f);
      layer.epsilon = reader.Number("epsilon", 1e-5f);
      if (!(layer.momentum >= 0.0f && layer.momentum <= 1.0f))
        throw Error(reader.Field("momentum") + ": expected a number in [0, 1], found " + std::to_string(layer.momentum) + ".");
      if (!(layer.epsilon > 0.0f && layer.epsilon < 1.0f))
        throw Error(reader.Field("epsilon") + ": expected a small positive number (e.g. 1e-5), found " +
                    std::to_string(layer.epsilon) + ".");
      break;
    }
    case LayerKind::kActivation:
      if (layer.activation == kernels::Activation::kLeakyRelu) {
        layer.leaky_slope = reader.Number("slope", 0.01f);
        if (!(layer.leaky_slope >= 0.0f && layer.leaky_slope < 1.0f))
          throw Error(reader.Field("slope") + ": expected a number in [0, 1), found " +
                      std::to_string(layer.leaky_slope) + ".");
      }
      break;
    default:
      break;
  }
  reader.RejectUnknown(std::string("a ") + found->name + " layer");
  return layer;
}

ModelDesc ReadModel(const json& root, const std::string& source);

std::string LayerLabel(const ModelDesc& model, size_t i) {
  return "layers[" + std::to_string(i) + "] (" + model.layers[i].TypeName() +
         (model.layers[i].name.empty() ? "" : " " + Quoted(model.layers[i].name)) + ")";
}

// The layers that work on every position of a sequence.
bool SequenceLayerKind(LayerKind kind) {
  return kind == LayerKind::kTransformerBlock || kind == LayerKind::kLayerNorm || kind == LayerKind::kDense ||
         kind == LayerKind::kActivation || kind == LayerKind::kDropout || kind == LayerKind::kLoss;
}

}  // namespace

std::string LayerDesc::TypeName() const {
  for (const LayerType& t : kLayerTypes)
    if (t.kind == kind && (kind != LayerKind::kActivation || t.activation == activation) &&
        (kind != LayerKind::kLoss || t.loss == loss) && (kind != LayerKind::kPool2D || t.pool == pool))
      return t.name;
  return "unknown";
}

std::string ShapeString(const std::vector<uint32_t>& shape) {
  std::string text;
  for (uint32_t d : shape) text.append(text.empty() ? "" : "x").append(std::to_string(d));
  return text.empty() ? "()" : text;
}

uint64_t ShapeElements(const std::vector<uint32_t>& shape) {
  uint64_t n = 1;
  for (uint32_t d : shape) n *= d;
  return n;
}

ModelDesc ParseModel(const std::string& json_text, const std::string& source) {
  return ModelFromJson(ParseJson(json_text, source), source);
}

ModelDesc ModelFromJson(const json& root, const std::string& source) {
  return WithJsonErrorsAsSentences(source, [&] { return ReadModel(root, source); });
}

namespace {

ModelDesc ReadModel(const json& root, const std::string& source) {
  ObjectReader reader(root, source);
  std::string format = reader.String("format", "tensorscope-model");
  if (format != "tensorscope-model")
    throw Error(reader.Field("format") + ": expected \"tensorscope-model\", found " + Describe(json(format)) + ".");
  const json* version = reader.Find("version");
  if (version && (!version->is_number_integer() || version->get<int64_t>() != kModelVersion))
    throw Error(reader.Field("version") + ": this Tensorscope reads model version " + std::to_string(kModelVersion) +
                ", found " + Describe(*version) + ".");
  ModelDesc model;
  model.name = reader.String("name", "model");
  if (model.name.size() > kMaxNameBytes)
    throw Error(reader.Field("name") + ": a model name may be at most " + std::to_string(kMaxNameBytes) +
                " bytes, found " + std::to_string(model.name.size()) + " (" + Quoted(model.name) + ").");
  const json* layers = reader.Find("layers");
  if (!layers || !layers->is_array() || layers->empty())
    throw Error(source + ": 'layers' must be a non-empty list of layer objects" +
                (layers ? ", found " + Describe(*layers) : std::string(", but it is missing")) + ".");
  if (layers->size() > kMaxModelLayers)
    throw Error(reader.Field("layers") + ": " + std::to_string(layers->size()) + " layers; a model may have at most " +
                std::to_string(kMaxModelLayers) + " (each layer adds device buffers and dispatches to every step).");
  for (size_t i = 0; i < layers->size(); ++i)
    model.layers.push_back(ParseLayer((*layers)[i], source + ": layers[" + std::to_string(i) + "]"));
  if (const json* training = reader.Find("training")) {
    if (!training->is_object()) throw Error(reader.Field("training") + ": expected an object, found " + Describe(*training) + ".");
    model.training = *training;
  }
  reader.RejectUnknown("a model");

  // Default names: dense_1, relu_1, ... counted per type.
  std::map<std::string, int> counts;
  std::set<std::string> names;
  for (LayerDesc& layer : model.layers) {
    std::string type = layer.TypeName();
    int n = ++counts[type];
    if (layer.name.empty()) layer.name = type + "_" + std::to_string(n);
    if (!names.insert(layer.name).second) throw Error(source + ": two layers are named " + Quoted(layer.name) + "; names must be unique.");
  }
  try {
    InferShapes(model);
  } catch (const Error& e) {
    throw Error(source + ": " + e.what());
  }
  return model;
}

}  // namespace

kernels::Conv2DGeometry ConvGeometry(const LayerDesc& layer, const std::vector<uint32_t>& input, uint32_t batch) {
  kernels::Conv2DGeometry g;
  g.batch = batch;
  g.in_channels = input.at(0);
  g.in_height = input.at(1);
  g.in_width = input.at(2);
  g.out_channels = layer.filters;
  g.kernel_height = layer.kernel[0];
  g.kernel_width = layer.kernel[1];
  g.stride_h = layer.stride[0];
  g.stride_w = layer.stride[1];
  const kernels::Conv2DPadding mode = layer.padding == PaddingMode::kValid  ? kernels::Conv2DPadding::kValid
                                      : layer.padding == PaddingMode::kSame ? kernels::Conv2DPadding::kSame
                                                                            : kernels::Conv2DPadding::kExplicit;
  try {
    return kernels::ResolveConv2DPadding(g, mode, layer.pad[0], layer.pad[1]);
  } catch (const Error& e) {
    throw Error("a " + std::to_string(layer.kernel[0]) + "x" + std::to_string(layer.kernel[1]) + " kernel on a " +
                ShapeString(input) + " input: " + e.what());
  }
}

kernels::PoolShape PoolGeometry(const LayerDesc& layer, const std::vector<uint32_t>& input, uint32_t batch) {
  kernels::PoolShape p;
  p.batch = batch;
  p.channels = input.at(0);
  p.height = input.at(1);
  p.width = input.at(2);
  p.window_h = layer.kernel[0];
  p.window_w = layer.kernel[1];
  p.stride_h = layer.stride[0];
  p.stride_w = layer.stride[1];
  p.pad_top = p.pad_bottom = layer.pad[0];
  p.pad_left = p.pad_right = layer.pad[1];
  return p;
}

std::vector<LayerShape> InferShapes(const ModelDesc& model) {
  std::vector<LayerShape> shapes;
  if (model.layers.empty() || model.layers[0].kind != LayerKind::kInput)
    throw Error("the first layer must be an input layer with a shape, e.g. {\"type\": \"input\", \"shape\": [2]}.");
  if (model.layers.size() < 2 || model.layers.back().kind != LayerKind::kLoss)
    throw Error("the last layer must be a loss head (softmax_cross_entropy, mse or bce_with_logits).");
  std::vector<uint32_t> current;
  uint64_t parameters = 0;
  uint32_t tokens = 0;            // T once an embedding made the data a sequence
  const LayerDesc* embedding = nullptr;
  for (size_t i = 0; i < model.layers.size(); ++i) {
    const LayerDesc& layer = model.layers[i];
    LayerShape shape;
    if (tokens > 0 && !SequenceLayerKind(layer.kind))
      throw Error(LayerLabel(model, i) + " cannot follow an embedding: a sequence model takes transformer_block, "
                  "layer_norm, dense, activation, dropout layers and a softmax_cross_entropy head.");
    if (tokens == 0 && (layer.kind == LayerKind::kTransformerBlock || layer.kind == LayerKind::kLayerNorm) &&
        !(layer.kind == LayerKind::kLayerNorm && current.size() == 1))
      throw Error(LayerLabel(model, i) + " works on a sequence (T x C): put an embedding layer after the input first.");
    switch (layer.kind) {
      case LayerKind::kEmbedding: {
        if (i != 1 || current.size() != 1)
          throw Error(LayerLabel(model, i) + " must come right after an input layer of shape [T] (T token ids, "
                      "e.g. [64]); found it after " + LayerLabel(model, i - 1) + " producing " + ShapeString(current) + ".");
        tokens = current[0];
        embedding = &layer;
        const uint64_t c = layer.units;
        shape.parameters = (uint64_t(layer.vocab) + tokens) * c;  // token and position tables
        shape.flops_per_sample = uint64_t(tokens) * c;            // one add per element
        current = {tokens, layer.units};
        break;
      }
      case LayerKind::kLayerNorm: {
        const uint64_t c = current.back();
        shape.parameters = 2 * c;
        shape.flops_per_sample = 8 * ShapeElements(current);  // mean, variance, normalise, scale, shift
        break;
      }
      case LayerKind::kTransformerBlock: {
        const uint64_t c = current[1], r = layer.mlp_ratio, t = tokens;
        if (current[1] % layer.heads != 0)
          throw Error(LayerLabel(model, i) + ": the width " + std::to_string(current[1]) + " must divide into " +
                      std::to_string(layer.heads) + " heads; choose heads that divide it (e.g. " +
                      std::to_string(std::gcd(current[1], 4u)) + ").");
        // ln_1, c_attn (C x 3C + 3C), c_proj (C x C + C), ln_2, c_fc (C x rC + rC), c_proj (rC x C + C).
        shape.parameters = (4 + 2 * r) * c * c + (9 + r) * c;
        // The projections, then QK^T and PV over the causal half, softmax and the residual adds.
        shape.flops_per_sample = t * 2 * (4 + 2 * r) * c * c + 2 * 2 * c * (t * (t + 1) / 2) +
                                 5 * uint64_t(layer.heads) * (t * (t + 1) / 2) + t * (16 + 2 * r) * c;
        break;
      }
      case LayerKind::kInput:
        if (i != 0) throw Error(LayerLabel(model, i) + ": only the first layer can be an input layer.");
        current = layer.shape;
        break;
      case LayerKind::kFlatten:
        current = {static_cast<uint32_t>(ShapeElements(current))};
        break;
      case LayerKind::kDense: {
        if (tokens > 0) {  // on every position
          const uint64_t in = current[1];
          if (layer.tied && (layer.units != embedding->vocab || in != embedding->units))
            throw Error(LayerLabel(model, i) + " is tied to the embedding's token table (" +
                        std::to_string(embedding->vocab) + " x " + std::to_string(embedding->units) +
                        "), so it needs " + std::to_string(embedding->units) + " inputs and units " +
                        std::to_string(embedding->vocab) + "; found " + std::to_string(in) + " inputs and units " +
                        std::to_string(layer.units) + ".");
          shape.parameters = (layer.tied ? 0 : in * layer.units) + (layer.bias ? layer.units : 0);
          shape.flops_per_sample = tokens * (2 * in * layer.units + (layer.bias ? layer.units : 0));
          current = {tokens, layer.units};
          break;
        }
        if (layer.tied)
          throw Error(LayerLabel(model, i) + " is tied, but only a sequence model's dense layer can share the "
                      "embedding's token table. Remove \"tied\".");
        if (current.size() != 1)
          throw Error(LayerLabel(model, i) + " expects a vector input, but " + LayerLabel(model, i - 1) + " produces " +
                      ShapeString(current) + ". Add a flatten layer before it.");
        uint64_t in = current[0];
        shape.parameters = in * layer.units + (layer.bias ? layer.units : 0);
        shape.flops_per_sample = 2 * in * layer.units + (layer.bias ? layer.units : 0);
        current = {layer.units};
        break;
      }
      case LayerKind::kConv2D: {
        if (current.size() != 3)
          throw Error(LayerLabel(model, i) + " expects an image (channels x height x width), but " +
                      LayerLabel(model, i - 1) + " produces " + ShapeString(current) +
                      (i == 1 ? ". Give the input layer an image shape such as [1, 28, 28]."
                              : ". Convolutions come before the flatten (or dense, or global pool) layers: move it up."));
        kernels::Conv2DGeometry g;
        try {
          g = ConvGeometry(layer, current);
        } catch (const Error& e) {
          throw Error(LayerLabel(model, i) + ": " + e.what());
        }
        shape.parameters = g.filter_elements() + (layer.bias ? layer.filters : 0);
        shape.flops_per_sample = static_cast<uint64_t>(g.flops()) +
                                 (layer.bias ? uint64_t(g.out_height) * g.out_width * layer.filters : 0);
        current = {layer.filters, g.out_height, g.out_width};
        break;
      }
      case LayerKind::kPool2D: {
        if (current.size() != 3)
          throw Error(LayerLabel(model, i) + " expects an image (channels x height x width), but " +
                      LayerLabel(model, i - 1) + " produces " + ShapeString(current) + ".");
        kernels::PoolShape p = PoolGeometry(layer, current);
        if (std::string problem = kernels::PoolShapeProblem(p); !problem.empty())
          throw Error(LayerLabel(model, i) + " cannot pool a " + ShapeString(current) + " input: " + problem);
        shape.flops_per_sample = uint64_t(p.out_height()) * p.out_width() * p.channels * p.window_h * p.window_w;
        current = {p.channels, p.out_height(), p.out_width()};
        break;
      }
      case LayerKind::kGlobalAvgPool:
        if (current.size() != 3)
          throw Error(LayerLabel(model, i) + " expects an image (channels x height x width), but " +
                      LayerLabel(model, i - 1) + " produces " + ShapeString(current) + ".");
        shape.flops_per_sample = ShapeElements(current);
        current = {current[0]};
        break;
      case LayerKind::kDropout:
        if (!(layer.rate >= 0.0f && layer.rate < 1.0f))
          throw Error(LayerLabel(model, i) + ": the drop rate must be in [0, 1), found " + FormatRate(layer.rate) + ".");
        shape.flops_per_sample = ShapeElements(current);
        break;
      case LayerKind::kBatchNorm:
        if (current.size() != 1 && current.size() != 3)
          throw Error(LayerLabel(model, i) + " normalises features (a vector) or channels (an image), but " +
                      LayerLabel(model, i - 1) + " produces " + ShapeString(current) + ".");
        shape.parameters = 2 * uint64_t(current[0]);  // gamma and beta per channel
        shape.flops_per_sample = 2 * ShapeElements(current);  // scale and shift, with the statistics folded in
        break;
      case LayerKind::kActivation:
        shape.flops_per_sample = ShapeElements(current);
        break;
      case LayerKind::kLoss:
        if (i + 1 != model.layers.size())
          throw Error(LayerLabel(model, i) + " is a loss head and must be the last layer.");
        if (tokens > 0) {  // scores per position, against the next token
          if (layer.loss != kernels::LossKind::kSoftmaxCrossEntropy)
            throw Error(LayerLabel(model, i) + ": a sequence model's head must be softmax_cross_entropy (the next token).");
          if (current[1] < 2)
            throw Error(LayerLabel(model, i) + " needs at least 2 tokens in the vocabulary, but " +
                        LayerLabel(model, i - 1) + " produces " + std::to_string(current[1]) + " scores per position.");
          shape.flops_per_sample = 4 * ShapeElements(current);
          break;
        }
        if (current.size() != 1)
          throw Error(LayerLabel(model, i) + " expects a vector of scores per sample, but " + LayerLabel(model, i - 1) +
                      " produces " + ShapeString(current) + ". Add a flatten and a dense layer before it.");
        if (layer.loss == kernels::LossKind::kSoftmaxCrossEntropy && current[0] < 2)
          throw Error(LayerLabel(model, i) + " needs at least 2 classes, but " + LayerLabel(model, i - 1) +
                      " produces " + std::to_string(current[0]) + " output. Use bce_with_logits for one output.");
        shape.flops_per_sample = 4 * ShapeElements(current);
        break;
    }
    // The element count, multiplied without overflow (an input shape of four
    // huge extents would wrap around to a small number).
    uint64_t elements = 1;
    for (uint32_t d : current)
      if (d != 0 && elements > kMaxLayerElements / d) elements = kMaxLayerElements + 1;
      else elements *= d;
    if (elements > kMaxLayerElements)
      throw Error(LayerLabel(model, i) + " produces " + ShapeString(current) + " per sample, more than " +
                  std::to_string(kMaxLayerElements) + " elements; make the layer smaller.");
    parameters += shape.parameters;
    if (parameters > kMaxModelParameters)
      throw Error(LayerLabel(model, i) + " brings the model to " + std::to_string(parameters) +
                  " parameters; a model may have at most " + std::to_string(kMaxModelParameters) +
                  " (64 GiB of float32). Make the layers smaller.");
    shape.output = current;
    shape.tokens = tokens;
    shapes.push_back(shape);
  }
  return shapes;
}

uint64_t TrainingFlopsPerToken(const ModelDesc& model) {
  const uint32_t t = TokensPerSample(model);
  if (t <= 1) return 0;
  const std::vector<LayerShape> shapes = InferShapes(model);
  uint64_t parameters = 0, attention = 0;
  for (size_t i = 0; i < model.layers.size(); ++i) {
    parameters += shapes[i].parameters;
    if (model.layers[i].kind == LayerKind::kTransformerBlock)  // H * Q = C
      attention += 12 * uint64_t(shapes[i].output[1]) * t;
  }
  parameters -= uint64_t(t) * model.layers[1].units;  // the position table (nanoGPT's non_embedding)
  return 6 * parameters + attention;
}

uint32_t TokensPerSample(const ModelDesc& model) {
  if (model.layers.size() > 1 && model.layers[0].kind == LayerKind::kInput && model.layers[0].shape.size() == 1 &&
      model.layers[1].kind == LayerKind::kEmbedding)
    return model.layers[0].shape[0];
  return 1;
}

json ModelToJson(const ModelDesc& model) {
  json layers = json::array();
  for (const LayerDesc& layer : model.layers) {
    json l = {{"type", layer.TypeName()}, {"name", layer.name}};
    if (layer.kind == LayerKind::kInput) l["shape"] = layer.shape;
    if (layer.kind == LayerKind::kDense) {
      l["units"] = layer.units;
      if (!layer.bias) l["bias"] = false;
      if (layer.init) l["init"] = kernels::InitName(*layer.init);
    }
    if (layer.kind == LayerKind::kActivation && layer.activation == kernels::Activation::kLeakyRelu)
      l["slope"] = layer.leaky_slope;
    auto pair = [](const std::array<uint32_t, 2>& v) { return v[0] == v[1] ? json(v[0]) : json(v); };
    if (layer.kind == LayerKind::kConv2D) {
      l["filters"] = layer.filters;
      l["kernel"] = pair(layer.kernel);
      if (layer.stride != std::array<uint32_t, 2>{1, 1}) l["stride"] = pair(layer.stride);
      if (layer.padding == PaddingMode::kSame) l["padding"] = "same";
      if (layer.padding == PaddingMode::kExplicit) l["padding"] = pair(layer.pad);
      if (!layer.bias) l["bias"] = false;
      if (layer.init) l["init"] = kernels::InitName(*layer.init);
    }
    if (layer.kind == LayerKind::kPool2D) {
      l["size"] = pair(layer.kernel);
      if (layer.stride != layer.kernel) l["stride"] = pair(layer.stride);
      if (layer.pad != std::array<uint32_t, 2>{0, 0}) l["padding"] = pair(layer.pad);
    }
    if (layer.kind == LayerKind::kDropout) l["rate"] = layer.rate;
    if (layer.kind == LayerKind::kDense && layer.tied) l["tied"] = true;
    if (layer.kind == LayerKind::kEmbedding) {
      l["vocab"] = layer.vocab;
      l["units"] = layer.units;
      if (layer.init) l["init"] = kernels::InitName(*layer.init);
    }
    if (layer.kind == LayerKind::kLayerNorm && layer.epsilon != 1e-5f) l["epsilon"] = layer.epsilon;
    if (layer.kind == LayerKind::kTransformerBlock) {
      l["heads"] = layer.heads;
      if (layer.mlp_ratio != 4) l["mlp_ratio"] = layer.mlp_ratio;
      if (layer.attention != AttentionChoice::kAuto)
        l["attention"] = layer.attention == AttentionChoice::kPlain ? "plain" : "fused";
      if (layer.epsilon != 1e-5f) l["epsilon"] = layer.epsilon;
    }
    if (layer.kind == LayerKind::kBatchNorm) {
      if (layer.momentum != 0.1f) l["momentum"] = layer.momentum;
      if (layer.epsilon != 1e-5f) l["epsilon"] = layer.epsilon;
    }
    layers.push_back(l);
  }
  json root = {{"format", "tensorscope-model"}, {"version", kModelVersion}, {"name", model.name}, {"layers", layers}};
  if (!model.training.is_null()) root["training"] = model.training;
  return root;
}

void SaveModel(const ModelDesc& model, const std::string& path) {
  WriteFileAtomically(path, DumpJson(ModelToJson(model), path, 2) + "\n");
}

std::string ReadFile(const std::string& path, uint64_t max_bytes, std::string_view what) {
  return ReadRegularFile(path, max_bytes, what);
}

ModelDesc LoadModel(const std::string& path) { return ParseModel(ReadFile(path, kMaxJsonFileBytes, "a model file"), path); }

}  // namespace ts::nn
