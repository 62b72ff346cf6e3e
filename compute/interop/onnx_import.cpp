#include "compute/interop/onnx_import.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <set>

#include "compute/common/error.h"
#include "compute/common/file_read.h"
#include "compute/interop/torch_layout.h"
#include "compute/kernels/optimizer.h"
#include "compute/nn/train_config.h"
#include "onnx/onnx_pb.h"

namespace ts::interop {
namespace {

using nlohmann::json;

struct Constant {
  std::vector<int64_t> dims;
  std::vector<float> floats;   // FLOAT tensors
  std::vector<int64_t> ints;   // INT64 tensors
  uint64_t count() const {
    uint64_t n = 1;
    for (int64_t d : dims) n *= uint64_t(d);
    return n;
  }
};

Constant ReadTensor(const onnx::TensorProto& t, const std::string& where) {
  Constant c;
  uint64_t count = 1;
  for (int64_t d : t.dims()) {
    if (d < 0 || (d > 0 && count > nn::kMaxModelParameters / uint64_t(d)))
      throw Error(where + ": dimension " + std::to_string(d) + " is negative or makes the tensor larger than " +
                  std::to_string(nn::kMaxModelParameters) + " values.");
    count *= uint64_t(d);
    c.dims.push_back(d);
  }
  if (t.data_location() == onnx::TensorProto::EXTERNAL)
    throw Error(where + ": its data lies in an external file, which is not read; save the model with its weights inside.");
  const std::string& raw = t.raw_data();
  if (t.data_type() == onnx::TensorProto::FLOAT) {
    if (!raw.empty()) {
      if (raw.size() != 4 * count)
        throw Error(where + ": raw_data holds " + std::to_string(raw.size()) + " bytes, the shape needs " +
                    std::to_string(4 * count) + ".");
      c.floats.resize(count);
      std::memcpy(c.floats.data(), raw.data(), raw.size());
    } else {
      if (uint64_t(t.float_data_size()) != count)
        throw Error(where + ": float_data holds " + std::to_string(t.float_data_size()) + " values, the shape needs " +
                    std::to_string(count) + ".");
      c.floats.assign(t.float_data().begin(), t.float_data().end());
    }
  } else if (t.data_type() == onnx::TensorProto::INT64) {
    if (!raw.empty()) {
      if (raw.size() != 8 * count)
        throw Error(where + ": raw_data holds " + std::to_string(raw.size()) + " bytes, the shape needs " +
                    std::to_string(8 * count) + ".");
      c.ints.resize(count);
      std::memcpy(c.ints.data(), raw.data(), raw.size());
    } else {
      if (uint64_t(t.int64_data_size()) != count)
        throw Error(where + ": int64_data holds " + std::to_string(t.int64_data_size()) +
                    " values, the shape needs " + std::to_string(count) + ".");
      c.ints.assign(t.int64_data().begin(), t.int64_data().end());
    }
  } else {
    throw Error(where + ": data type " + std::to_string(t.data_type()) + " is not supported (float32 and int64 only).");
  }
  return c;
}

const onnx::AttributeProto* FindAttribute(const onnx::NodeProto& node, const std::string& name) {
  for (const onnx::AttributeProto& a : node.attribute())
    if (a.name() == name) return &a;
  return nullptr;
}
int64_t IntAttribute(const onnx::NodeProto& node, const std::string& name, int64_t fallback) {
  const onnx::AttributeProto* a = FindAttribute(node, name);
  return a ? a->i() : fallback;
}
float FloatAttribute(const onnx::NodeProto& node, const std::string& name, float fallback) {
  const onnx::AttributeProto* a = FindAttribute(node, name);
  return a ? a->f() : fallback;
}
std::vector<int64_t> IntsAttribute(const onnx::NodeProto& node, const std::string& name, std::vector<int64_t> fallback) {
  const onnx::AttributeProto* a = FindAttribute(node, name);
  return a ? std::vector<int64_t>(a->ints().begin(), a->ints().end()) : fallback;
}
std::string StringAttribute(const onnx::NodeProto& node, const std::string& name, const std::string& fallback) {
  const onnx::AttributeProto* a = FindAttribute(node, name);
  return a ? a->s() : fallback;
}

// The ops a chain may hold (Constant nodes and Identity copies of constants are read first).
const std::set<std::string> kSupportedOps = {
    "Gemm", "MatMul", "Add", "Conv", "MaxPool", "AveragePool", "GlobalAveragePool", "BatchNormalization",
    "Flatten", "Reshape", "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Gelu", "Div", "Erf", "Mul",
    "Dropout", "Identity", "Softmax", "LogSoftmax", "Pad"};

// Walks the chain of nodes, building the model's layers and their weights in
// PyTorch's layouts.
class ChainReader {
 public:
  ChainReader(const std::string& source, std::map<std::string, Constant> constants,
              std::vector<const onnx::NodeProto*> nodes)
      : source_(source), constants_(std::move(constants)), nodes_(std::move(nodes)) {}

  void Read(const std::string& input, const std::vector<uint32_t>& shape, const std::string& output) {
    current_ = input;
    shape_ = shape;
    layers_.push_back({{"type", "input"}, {"shape", shape}});
    for (index_ = 0; index_ < nodes_.size(); ++index_) {
      const onnx::NodeProto& node = *nodes_[index_];
      if (head_) Fail(node, "comes after the " + std::string(head_->at("type")) + " head; a head must end the graph");
      if (node.input_size() == 0 || node.input(0) != current_)
        Fail(node, "reads " + (node.input_size() ? "'" + node.input(0) + "'" : std::string("nothing")) +
                       ", not the output of the layer before it ('" + current_ + "'): only a chain of layers imports");
      ReadNode(node, output);
      current_ = nodes_[index_]->output_size() ? nodes_[index_]->output(0) : "";
    }
    if (current_ != output)
      throw Error(source_ + ": the graph's output '" + output + "' is not the end of the chain of layers ('" + current_ + "').");
    layers_.push_back(head_ ? *head_ : json{{"type", "softmax_cross_entropy"}});
  }

  const std::vector<json>& layers() const { return layers_; }
  // Per layer index: (".weight" / ".bias" / ..., PyTorch shape, values).
  const std::map<size_t, std::vector<std::pair<std::string, Constant>>>& weights() const { return weights_; }

 private:
  [[noreturn]] void Fail(const onnx::NodeProto& node, const std::string& why) const {
    throw Error(source_ + ": node '" + node.name() + "' (" + node.op_type() + "): " + why + ".");
  }
  const Constant& Const(const onnx::NodeProto& node, int input, const char* what) const {
    if (node.input_size() <= input) Fail(node, std::string("has no ") + what);
    auto it = constants_.find(node.input(input));
    if (it == constants_.end()) Fail(node, std::string("its ") + what + " '" + node.input(input) + "' is not a constant");
    return it->second;
  }
  bool IsConst(const std::string& name) const { return constants_.count(name) > 0; }
  float Scalar(const onnx::NodeProto& node, int input) const {
    const Constant& c = Const(node, input, "constant operand");
    if (c.floats.size() != 1) Fail(node, "expected a single number as its constant operand");
    return c.floats[0];
  }
  // The next node, which must read the current one's output (for patterns of several nodes).
  const onnx::NodeProto* Next(const char* op) {
    if (index_ + 1 >= nodes_.size()) return nullptr;
    const onnx::NodeProto& next = *nodes_[index_ + 1];
    if (next.op_type() != op || next.input_size() == 0) return nullptr;
    const std::string& previous = nodes_[index_]->output(0);
    for (const std::string& input : next.input())
      if (input == previous) return &next;
    return nullptr;
  }
  void Layer(json layer, std::vector<std::pair<std::string, Constant>> weights = {}) {
    if (!weights.empty()) weights_[layers_.size()] = std::move(weights);
    layers_.push_back(std::move(layer));
  }
  uint32_t Features(const onnx::NodeProto& node) const {
    if (shape_.size() != 1) Fail(node, "needs a vector input, found an image; flatten it first");
    return shape_[0];
  }
  static Constant Transposed(const Constant& c) {
    Constant t{{c.dims[1], c.dims[0]}, std::vector<float>(c.floats.size()), {}};
    for (int64_t i = 0; i < c.dims[0]; ++i)
      for (int64_t j = 0; j < c.dims[1]; ++j) t.floats[j * c.dims[0] + i] = c.floats[i * c.dims[1] + j];
    return t;
  }

  void Dense(const onnx::NodeProto& node, Constant weight, bool transposed) {
    const uint32_t in = Features(node);
    if (weight.dims.size() != 2 || weight.floats.empty()) Fail(node, "expected a 2D float weight");
    if (!transposed) weight = Transposed(weight);  // PyTorch's (out, in)
    if (weight.dims[1] != in)
      Fail(node, "its weight takes " + std::to_string(weight.dims[1]) + " inputs, the layer before gives " +
                     std::to_string(in));
    if (weight.dims[0] < 1 || weight.dims[0] > 0x7fffffff) Fail(node, "expected from 1 to 2^31 - 1 outputs");
    const uint32_t units = static_cast<uint32_t>(weight.dims[0]);
    std::vector<std::pair<std::string, Constant>> weights = {{".weight", weight}};
    std::optional<Constant> bias;
    if (node.op_type() == "Gemm" && node.input_size() > 2 && !node.input(2).empty()) bias = Const(node, 2, "bias");
    if (node.op_type() == "MatMul")
      if (const onnx::NodeProto* add = Next("Add")) {
        const int other = add->input(0) == node.output(0) ? 1 : 0;
        if (add->input_size() == 2 && IsConst(add->input(other))) {
          bias = constants_.at(add->input(other));
          ++index_;  // the Add is the bias
        }
      }
    if (bias) {
      if (bias->floats.size() != units) Fail(node, "expected a bias of " + std::to_string(units) + " values");
      bias->dims = {int64_t(units)};
      weights.push_back({".bias", *bias});
    }
    Layer({{"type", "dense"}, {"units", units}, {"bias", bias.has_value()}}, std::move(weights));
    shape_ = {units};
  }

  // Symmetric padding, or TensorFlow's 'same' (the smaller half on top / left).
  json Padding(const onnx::NodeProto& node, const std::vector<int64_t>& pads, const std::vector<int64_t>& kernel,
               const std::vector<int64_t>& stride, bool allow_same) const {
    if (pads.size() != 4) Fail(node, "expected 4 pads (top, left, bottom, right)");
    for (int64_t p : pads)
      if (p < 0 || p > 65535) Fail(node, "expected pads from 0 to 65535, found " + std::to_string(p));
    if (pads[0] == pads[2] && pads[1] == pads[3]) {
      if (pads[0] == 0 && pads[1] == 0 && allow_same) return "valid";
      return json::array({pads[0], pads[1]});
    }
    if (allow_same) {
      bool same = true;
      for (int axis = 0; axis < 2; ++axis) {
        const int64_t size = shape_[1 + axis], out = (size + stride[axis] - 1) / stride[axis];
        const int64_t total = std::max<int64_t>((out - 1) * stride[axis] + kernel[axis] - size, 0);
        same = same && pads[axis] == total / 2 && pads[axis + 2] == total - total / 2;
      }
      if (same) return "same";
    }
    Fail(node, "its padding (top " + std::to_string(pads[0]) + ", left " + std::to_string(pads[1]) + ", bottom " +
                   std::to_string(pads[2]) + ", right " + std::to_string(pads[3]) +
                   ") is neither symmetric nor TensorFlow's 'same'");
  }

  // Kernel, strides and pads of a Conv or pooling node on the current image; updates the shape.
  std::array<std::vector<int64_t>, 3> Window(const onnx::NodeProto& node, std::vector<int64_t> kernel) {
    if (shape_.size() != 3) Fail(node, "needs an image input (C x H x W), found a vector");
    if (kernel.size() != 2) Fail(node, "expected a 2D kernel");
    if (IntsAttribute(node, "dilations", {1, 1}) != std::vector<int64_t>{1, 1}) Fail(node, "dilation is not supported");
    const std::string auto_pad = StringAttribute(node, "auto_pad", "NOTSET");
    if (auto_pad != "NOTSET" && auto_pad != "VALID") Fail(node, "auto_pad " + auto_pad + " is not supported; use explicit pads");
    const std::vector<int64_t> stride = IntsAttribute(node, "strides", {1, 1});
    std::vector<int64_t> pads = IntsAttribute(node, "pads", {0, 0, 0, 0});
    if (stride.size() != 2 || pads.size() != 4) Fail(node, "expected 2 strides and 4 pads");
    for (size_t i = 0; i < 4; ++i) pads[i] += pending_pad_[i];  // a zero Pad node before it
    pending_pad_ = {0, 0, 0, 0};
    for (size_t axis = 0; axis < 2; ++axis) {
      if (kernel[axis] < 1 || kernel[axis] > 65535 || stride[axis] < 1 || stride[axis] > 65535)
        Fail(node, "expected kernel sizes and strides from 1 to 65535");
      if (pads[axis] < 0 || pads[axis + 2] < 0 || pads[axis] > 65535 || pads[axis + 2] > 65535)
        Fail(node, "expected pads from 0 to 65535");
      const int64_t padded = int64_t(shape_[1 + axis]) + pads[axis] + pads[axis + 2];
      if (padded < kernel[axis]) Fail(node, "its kernel is larger than its padded input");
    }
    return {kernel, stride, pads};
  }
  void SetImage(uint32_t channels, const std::array<std::vector<int64_t>, 3>& w) {
    const auto& [kernel, stride, pads] = w;
    const uint32_t h = uint32_t((shape_[1] + pads[0] + pads[2] - kernel[0]) / stride[0] + 1);
    const uint32_t x = uint32_t((shape_[2] + pads[1] + pads[3] - kernel[1]) / stride[1] + 1);
    shape_ = {channels, h, x};
  }

  void ReadNode(const onnx::NodeProto& node, const std::string& output) {
    const std::string& op = node.op_type();
    if (op == "Gemm") {
      if (FloatAttribute(node, "alpha", 1) != 1 || FloatAttribute(node, "beta", 1) != 1 ||
          IntAttribute(node, "transA", 0) != 0)
        Fail(node, "only alpha = beta = 1 and transA = 0 are supported");
      Dense(node, Const(node, 1, "weight"), IntAttribute(node, "transB", 0) != 0);
    } else if (op == "MatMul") {
      Dense(node, Const(node, 1, "weight"), false);
    } else if (op == "Conv") {
      if (IntAttribute(node, "group", 1) != 1) Fail(node, "grouped convolutions are not supported");
      const Constant& weight = Const(node, 1, "weight");
      if (weight.dims.size() != 4 || weight.floats.empty()) Fail(node, "expected a 4D float weight");
      if (weight.dims[0] > 0x7fffffff) Fail(node, "expected at most 2^31 - 1 filters");
      const auto window = Window(node, IntsAttribute(node, "kernel_shape", {weight.dims[2], weight.dims[3]}));
      if (weight.dims[1] != shape_[0] || window[0] != std::vector<int64_t>{weight.dims[2], weight.dims[3]})
        Fail(node, "its weight's shape does not match its input's channels and its kernel");
      std::vector<std::pair<std::string, Constant>> weights = {{".weight", weight}};
      const bool bias = node.input_size() > 2 && !node.input(2).empty();
      if (bias) {
        Constant b = Const(node, 2, "bias");
        if (b.floats.size() != uint64_t(weight.dims[0])) Fail(node, "its bias does not have one value per filter");
        b.dims = {weight.dims[0]};
        weights.push_back({".bias", b});
      }
      Layer({{"type", "conv2d"}, {"filters", weight.dims[0]}, {"kernel", window[0]}, {"stride", window[1]},
             {"padding", Padding(node, window[2], window[0], window[1], true)}, {"bias", bias}},
            std::move(weights));
      SetImage(uint32_t(weight.dims[0]), window);
    } else if (op == "MaxPool" || op == "AveragePool") {
      if (op == "MaxPool" && pending_pad_ != std::array<int64_t, 4>{0, 0, 0, 0})
        Fail(node, "a zero Pad before a max pool is not supported (a max pool pads with -infinity)");
      if (IntAttribute(node, "ceil_mode", 0) != 0) Fail(node, "ceil_mode is not supported");
      if (IntAttribute(node, "storage_order", 0) != 0 || node.output_size() > 1) Fail(node, "only its first output is supported");
      const auto window = Window(node, IntsAttribute(node, "kernel_shape", {}));
      const bool padded = IntsAttribute(node, "pads", {0, 0, 0, 0}) != std::vector<int64_t>{0, 0, 0, 0};
      if (op == "AveragePool" && padded && IntAttribute(node, "count_include_pad", 0) == 0)
        Fail(node, "an average pool that leaves its padding out of the count is not supported");
      Layer({{"type", op == "MaxPool" ? "max_pool2d" : "avg_pool2d"}, {"size", window[0]}, {"stride", window[1]},
             {"padding", Padding(node, window[2], window[0], window[1], false)}});
      SetImage(shape_[0], window);
    } else if (op == "GlobalAveragePool") {
      if (shape_.size() != 3) Fail(node, "needs an image input");
      Layer({{"type", "global_avg_pool"}});
      shape_ = {shape_[0]};
    } else if (op == "BatchNormalization") {
      if (IntAttribute(node, "training_mode", 0) != 0 || node.output_size() > 1) Fail(node, "only the inference form is supported");
      if (node.input_size() != 5) Fail(node, "expected 5 inputs (X, scale, B, mean, var)");
      std::vector<std::pair<std::string, Constant>> weights;
      const char* names[] = {".weight", ".bias", ".running_mean", ".running_var"};
      for (int i = 0; i < 4; ++i) {
        Constant c = Const(node, i + 1, names[i] + 1);
        if (c.floats.size() != shape_[0]) Fail(node, std::string(names[i] + 1) + ": expected one value per channel");
        c.dims = {int64_t(shape_[0])};
        weights.push_back({names[i], c});
      }
      const float momentum = 1.0f - FloatAttribute(node, "momentum", 0.9f);
      Layer({{"type", "batch_norm"}, {"momentum", std::clamp(momentum, 0.0f, 1.0f)},
             {"epsilon", FloatAttribute(node, "epsilon", 1e-5f)}},
            std::move(weights));
    } else if (op == "Flatten" || op == "Reshape") {
      if (op == "Flatten" && IntAttribute(node, "axis", 1) != 1) Fail(node, "only axis 1 (keep the batch) is supported");
      if (op == "Reshape") {
        const Constant& target = Const(node, 1, "shape");
        const uint64_t features = nn::ShapeElements(shape_);
        const bool flat = target.ints.size() == 2 && (target.ints[1] == -1 || uint64_t(target.ints[1]) == features);
        if (!flat) Fail(node, "only a reshape to (batch, -1) is supported");
      }
      if (shape_.size() == 3) Layer({{"type", "flatten"}});
      shape_ = {uint32_t(nn::ShapeElements(shape_))};
    } else if (op == "Relu" || op == "Tanh") {
      Layer({{"type", op == "Relu" ? "relu" : "tanh"}});
    } else if (op == "LeakyRelu") {
      Layer({{"type", "leaky_relu"}, {"slope", FloatAttribute(node, "alpha", 0.01f)}});
    } else if (op == "Sigmoid") {
      if (node.output(0) == output) head_ = json{{"type", "bce_with_logits"}};
      else Layer({{"type", "sigmoid"}});
    } else if (op == "Gelu") {
      if (StringAttribute(node, "approximate", "none") != "none") Fail(node, "only the exact (erf) GELU is supported");
      Layer({{"type", "gelu"}});
    } else if (op == "Div") {
      ReadGeluPattern(node);
    } else if (op == "Pad") {
      ReadPad(node);
    } else if (op == "Dropout" || op == "Identity") {
      // The identity at evaluation; training here adds no dropout.
    } else if (op == "Softmax" || op == "LogSoftmax") {
      const int64_t axis = IntAttribute(node, "axis", -1);
      if (shape_.size() != 1 || (axis != 1 && axis != -1)) Fail(node, "only a softmax over the classes of a vector is supported");
      head_ = json{{"type", "softmax_cross_entropy"}};
    } else {
      Fail(node, "is not supported here");
    }
    if (op != "Pad" && pending_pad_ != std::array<int64_t, 4>{0, 0, 0, 0})
      Fail(node, "follows a Pad node; only a Conv or AveragePool may take its padding");
  }

  // A constant zero Pad of the height and width (torch writes one before an
  // average pool): its padding goes to the Conv or AveragePool after it.
  void ReadPad(const onnx::NodeProto& node) {
    if (StringAttribute(node, "mode", "constant") != "constant") Fail(node, "only constant padding is supported");
    if (shape_.size() != 3) Fail(node, "needs an image input");
    std::vector<int64_t> pads = IntsAttribute(node, "pads", {});
    if (node.input_size() > 1 && !node.input(1).empty()) pads = Const(node, 1, "pads").ints;
    if (node.input_size() > 2 && !node.input(2).empty() && Scalar(node, 2) != 0.0f) Fail(node, "only zero padding is supported");
    if (pads.size() != 8 || pads[0] || pads[1] || pads[4] || pads[5])
      Fail(node, "expected 8 pads, none of the batch or channels");
    for (int64_t p : pads)
      if (p < 0 || p > 65535) Fail(node, "expected pads from 0 to 65535");
    pending_pad_ = {pads[2], pads[3], pads[6], pads[7]};
  }

  // torch's GELU: Mul(Mul(x, Add(Erf(Div(x, sqrt 2)), 1)), 0.5).
  void ReadGeluPattern(const onnx::NodeProto& div) {
    const std::string x = current_;
    const char* pattern = "only the GELU pattern x * 0.5 * (1 + Erf(x / sqrt 2)) is supported with Div";
    if (div.input_size() != 2 || std::abs(Scalar(div, 1) - std::sqrt(2.0f)) > 1e-4f) Fail(div, pattern);
    const onnx::NodeProto* erf = Next("Erf");
    if (!erf) Fail(div, pattern);
    ++index_;
    const onnx::NodeProto* add = Next("Add");
    if (!add || add->input_size() != 2) Fail(div, pattern);
    const int one = add->input(0) == erf->output(0) ? 1 : 0;
    if (!IsConst(add->input(one)) || Scalar(*add, one) != 1.0f) Fail(div, pattern);
    ++index_;
    const onnx::NodeProto* times_x = Next("Mul");
    if (!times_x || times_x->input_size() != 2 || (times_x->input(0) != x && times_x->input(1) != x)) Fail(div, pattern);
    ++index_;
    const onnx::NodeProto* half = Next("Mul");
    if (!half || half->input_size() != 2) Fail(div, pattern);
    const int constant = half->input(0) == times_x->output(0) ? 1 : 0;
    if (!IsConst(half->input(constant)) || Scalar(*half, constant) != 0.5f) Fail(div, pattern);
    ++index_;
    Layer({{"type", "gelu"}});
  }

  std::string source_;
  std::map<std::string, Constant> constants_;
  std::vector<const onnx::NodeProto*> nodes_;
  size_t index_ = 0;
  std::string current_;
  std::vector<uint32_t> shape_;
  std::vector<json> layers_;
  std::map<size_t, std::vector<std::pair<std::string, Constant>>> weights_;
  std::optional<json> head_;
  std::array<int64_t, 4> pending_pad_{0, 0, 0, 0};  // top, left, bottom, right of a Pad node not yet taken
};

}  // namespace

ImportedModel ImportOnnx(const std::string& bytes, const std::string& source) {
  onnx::ModelProto proto;
  if (bytes.size() > kMaxOnnxFileBytes || !proto.ParseFromString(bytes))
    throw Error(source + ": not an ONNX model: its " + std::to_string(bytes.size()) +
                " bytes do not parse as an ONNX ModelProto (protobuf); the file is truncated, corrupt, another "
                "kind, or nested deeper than protobuf's limit of 100 levels.");
  if (!proto.has_graph()) throw Error(source + ": the ONNX model has no graph.");
  const onnx::GraphProto& graph = proto.graph();
  if (graph.node_size() > kMaxOnnxNodes)
    throw Error(source + ": " + std::to_string(graph.node_size()) + " nodes; at most " + std::to_string(kMaxOnnxNodes) +
                " are read.");

  std::map<std::string, Constant> constants;
  for (const onnx::TensorProto& t : graph.initializer())
    constants[t.name()] = ReadTensor(t, source + ": initializer '" + t.name() + "'");
  // Every unsupported node is listed at once, before anything is built.
  std::vector<const onnx::NodeProto*> nodes;
  std::string unsupported;
  for (const onnx::NodeProto& node : graph.node()) {
    if (!node.domain().empty() && node.domain() != "ai.onnx")
      unsupported += "\n  node '" + node.name() + "': " + node.domain() + "." + node.op_type() + " (another domain)";
    else if (node.op_type() == "Constant") {
      const onnx::AttributeProto* value = FindAttribute(node, "value");
      if (!value || !value->has_t() || node.output_size() != 1)
        unsupported += "\n  node '" + node.name() + "': a Constant without a tensor value";
      else
        constants[node.output(0)] = ReadTensor(value->t(), source + ": Constant node '" + node.name() + "'");
    } else if (node.op_type() == "Identity" && node.input_size() == 1 && node.output_size() == 1 &&
               constants.count(node.input(0))) {
      const Constant alias = constants.at(node.input(0));  // torch's copies of initializers
      constants[node.output(0)] = alias;
    } else if (!kSupportedOps.count(node.op_type())) {
      unsupported += "\n  node '" + node.name() + "': " + node.op_type();
    } else {
      if (node.output_size() < 1) unsupported += "\n  node '" + node.name() + "': " + node.op_type() + " with no output";
      nodes.push_back(&node);
    }
  }
  if (!unsupported.empty())
    throw Error(source + ": these nodes are not supported (nothing was imported):" + unsupported +
                "\nSupported: Gemm, MatMul (+ Add), Conv, MaxPool, AveragePool, GlobalAveragePool, BatchNormalization, "
                "Flatten, Reshape to (batch, -1), Relu, LeakyRelu, Sigmoid, Tanh, Gelu, Dropout, Identity, Softmax.");

  const onnx::ValueInfoProto* input = nullptr;
  for (const onnx::ValueInfoProto& v : graph.input())
    if (!constants.count(v.name())) {
      if (input) throw Error(source + ": the graph has more than one input ('" + input->name() + "', '" + v.name() + "').");
      input = &v;
    }
  if (!input) throw Error(source + ": the graph has no input.");
  if (graph.output_size() != 1) throw Error(source + ": expected one graph output, found " + std::to_string(graph.output_size()) + ".");
  const onnx::TypeProto_Tensor& type = input->type().tensor_type();
  if (type.elem_type() != onnx::TensorProto::FLOAT)
    throw Error(source + ": input '" + input->name() + "': element type " + std::to_string(type.elem_type()) +
                " is not supported (float32 only).");
  const int rank = type.shape().dim_size();
  if (rank != 2 && rank != 4)
    throw Error(source + ": input '" + input->name() + "': expected (batch, features) or (batch, C, H, W), found " +
                std::to_string(rank) + " dimensions.");
  std::vector<uint32_t> shape;
  for (int d = 1; d < rank; ++d) {
    const onnx::TensorShapeProto_Dimension& dim = type.shape().dim(d);
    if (!dim.has_dim_value() || dim.dim_value() < 1 || dim.dim_value() > 0x7fffffff)
      throw Error(source + ": input '" + input->name() + "': dimension " + std::to_string(d) +
                  " must be a positive number (only the batch may be symbolic).");
    shape.push_back(uint32_t(dim.dim_value()));
  }

  ChainReader reader(source, std::move(constants), std::move(nodes));
  reader.Read(input->name(), shape, graph.output(0).name());
  std::string name = graph.name().empty() ? std::filesystem::path(source).stem().string() : graph.name();
  json model_json = {{"format", "tensorscope-model"}, {"version", 1}, {"name", name}, {"layers", reader.layers()}};

  ImportedModel imported;
  try {
    imported.model = nn::ModelFromJson(model_json, source);
    nn::InferShapes(imported.model);
  } catch (const Error& e) {
    throw Error(source + ": the imported layers do not form a valid model: " + e.what());
  }
  std::vector<NamedTensor> tensors;
  for (const auto& [layer, weights] : reader.weights())
    for (const auto& [suffix, constant] : weights)
      tensors.push_back({imported.model.layers[layer].name + suffix, constant.dims, constant.floats, layer,
                         suffix.starts_with(".running")});
  try {
    FromTorchLayout(imported.model, tensors, imported.parameters, imported.statistics);
  } catch (const Error& e) {
    throw Error(source + ": " + e.what());
  }
  return imported;
}

ImportedModel ImportOnnxFile(const std::string& path) {
  return ImportOnnx(ReadRegularFile(path, kMaxOnnxFileBytes, "an ONNX file"), path);
}

nn::Checkpoint ImportedCheckpoint(ImportedModel imported) {
  nn::Checkpoint c;
  c.model = std::move(imported.model);
  const nn::TrainConfig config;  // the defaults: a model file's training section or flags change them
  c.config = nn::TrainConfigToJson(config);
  c.parameters = std::move(imported.parameters);
  c.statistics = std::move(imported.statistics);
  c.optimizer_state.assign(kernels::OptimizerStateCount(config.optimizer), std::vector<float>(c.parameters.size()));
  return c;
}

}  // namespace ts::interop
