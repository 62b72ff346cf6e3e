#include "compute/interop/onnx_export.h"

#include <cmath>

#include "compute/common/error.h"
#include "compute/interop/torch_layout.h"
#include "onnx/onnx_pb.h"

namespace ts::interop {
namespace {

// Builds the graph's nodes one after another, each reading the last output.
class GraphWriter {
 public:
  explicit GraphWriter(onnx::GraphProto& graph) : graph_(graph) {}

  const std::string& current() const { return current_; }
  void set_current(std::string name) { current_ = std::move(name); }

  void Initializer(const std::string& name, const std::vector<int64_t>& shape, const std::vector<float>& values) {
    onnx::TensorProto* t = graph_.add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : shape) t->add_dims(d);
    t->mutable_float_data()->Add(values.begin(), values.end());
  }
  std::string Int64s(const std::string& name, const std::vector<int64_t>& values) {
    onnx::TensorProto* t = graph_.add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::INT64);
    t->add_dims(static_cast<int64_t>(values.size()));
    t->mutable_int64_data()->Add(values.begin(), values.end());
    return name;
  }
  std::string Scalar(const std::string& name, float value) {
    Initializer(name, {}, {value});
    return name;
  }

  // A node reading `inputs` (the current tensor when empty) and writing a new
  // tensor named after `label`, which becomes the current one.
  onnx::NodeProto* Node(const std::string& op, const std::string& label, std::vector<std::string> inputs = {}) {
    onnx::NodeProto* node = graph_.add_node();
    node->set_op_type(op);
    node->set_name(label + "/" + op + "_" + std::to_string(graph_.node_size()));
    if (inputs.empty()) inputs.push_back(current_);
    for (const std::string& input : inputs) node->add_input(input);
    current_ = label + "/" + op + "_" + std::to_string(graph_.node_size());
    node->add_output(current_);
    return node;
  }

 private:
  onnx::GraphProto& graph_;
  std::string current_;
};

void Ints(onnx::NodeProto* node, const std::string& name, const std::vector<int64_t>& values) {
  onnx::AttributeProto* a = node->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t v : values) a->add_ints(v);
}
void Int(onnx::NodeProto* node, const std::string& name, int64_t value) {
  onnx::AttributeProto* a = node->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(value);
}
void Float(onnx::NodeProto* node, const std::string& name, float value) {
  onnx::AttributeProto* a = node->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(value);
}

void TensorValue(onnx::ValueInfoProto* info, const std::string& name, const std::vector<int64_t>& trailing) {
  info->set_name(name);
  onnx::TypeProto_Tensor* type = info->mutable_type()->mutable_tensor_type();
  type->set_elem_type(onnx::TensorProto::FLOAT);
  onnx::TensorShapeProto* shape = type->mutable_shape();
  shape->add_dim()->set_dim_param("batch");
  for (int64_t d : trailing) shape->add_dim()->set_dim_value(d);
}

}  // namespace

const char* OnnxOutputName(const nn::ModelDesc& model) {
  return model.layers.back().loss == kernels::LossKind::kMeanSquaredError ? "outputs" : "probabilities";
}

std::string ExportOnnx(const nn::ModelDesc& model, const std::vector<float>& parameters,
                       const std::vector<float>& statistics) {
  RequireExportable(model, "ONNX");
  const std::vector<nn::LayerShape> shapes = nn::InferShapes(model);
  const std::vector<NamedTensor> tensors = ToTorchLayout(model, parameters, statistics);
  auto tensor_names = [&](size_t layer) {
    std::vector<std::string> names;
    for (const NamedTensor& t : tensors)
      if (t.layer == layer) names.push_back(t.name);
    return names;
  };

  onnx::ModelProto proto;
  proto.set_ir_version(onnx::IR_VERSION);
  proto.set_producer_name("tensorscope");
  proto.set_model_version(1);
  onnx::OperatorSetIdProto* opset = proto.add_opset_import();
  opset->set_domain("");
  opset->set_version(kOnnxOpset);
  onnx::GraphProto& graph = *proto.mutable_graph();
  graph.set_name(model.name);
  GraphWriter g(graph);
  for (const NamedTensor& t : tensors) {
    const nn::LayerDesc& layer = model.layers[t.layer];
    if (layer.kind == nn::LayerKind::kDense && !layer.bias) {  // MatMul's (in, out), not Gemm's (out, in)
      const int64_t out = t.shape[0], in = t.shape[1];
      std::vector<float> transposed(t.values.size());
      for (int64_t o = 0; o < out; ++o)
        for (int64_t i = 0; i < in; ++i) transposed[i * out + o] = t.values[o * in + i];
      g.Initializer(t.name, {in, out}, transposed);
    } else {
      g.Initializer(t.name, t.shape, t.values);
    }
  }

  const std::vector<uint32_t>& input_shape = model.layers[0].shape;
  TensorValue(graph.add_input(), "input", std::vector<int64_t>(input_shape.begin(), input_shape.end()));
  g.set_current("input");
  for (size_t i = 1; i < model.layers.size(); ++i) {
    const nn::LayerDesc& layer = model.layers[i];
    const std::vector<uint32_t>& in = shapes[i - 1].output;
    const std::vector<std::string> weights = tensor_names(i);
    switch (layer.kind) {
      case nn::LayerKind::kInput:
        break;
      case nn::LayerKind::kFlatten:
        if (in.size() > 1) Int(g.Node("Flatten", layer.name), "axis", 1);
        break;
      case nn::LayerKind::kDense:
        if (layer.bias)
          Int(g.Node("Gemm", layer.name, {g.current(), weights[0], weights[1]}), "transB", 1);
        else
          g.Node("MatMul", layer.name, {g.current(), weights[0]});
        break;
      case nn::LayerKind::kConv2D: {
        const kernels::Conv2DGeometry c = nn::ConvGeometry(layer, in);
        const int64_t bottom = std::max<int64_t>(0, int64_t(c.out_height - 1) * c.stride_h + c.kernel_height -
                                                        c.in_height - c.pad_top);
        const int64_t right = std::max<int64_t>(0, int64_t(c.out_width - 1) * c.stride_w + c.kernel_width -
                                                       c.in_width - c.pad_left);
        std::vector<std::string> inputs = {g.current(), weights[0]};
        if (layer.bias) inputs.push_back(weights[1]);
        onnx::NodeProto* node = g.Node("Conv", layer.name, inputs);
        Ints(node, "kernel_shape", {c.kernel_height, c.kernel_width});
        Ints(node, "strides", {c.stride_h, c.stride_w});
        Ints(node, "pads", {c.pad_top, c.pad_left, bottom, right});
        break;
      }
      case nn::LayerKind::kPool2D: {
        const kernels::PoolShape p = nn::PoolGeometry(layer, in);
        const bool average = layer.pool == kernels::PoolKind::kAverage;
        const bool padded = p.pad_top || p.pad_left || p.pad_bottom || p.pad_right;
        // An average counts the padding: a zero Pad first is the same, and every
        // reader agrees on it (OpenCV 4.6 ignores count_include_pad), as torch writes it.
        if (average && padded) {
          const std::vector<int64_t> pads = {0, 0, p.pad_top, p.pad_left, 0, 0, p.pad_bottom, p.pad_right};
          g.Node("Pad", layer.name, {g.current(), g.Int64s(layer.name + ".pads", pads)});
        }
        onnx::NodeProto* node = g.Node(average ? "AveragePool" : "MaxPool", layer.name);
        Ints(node, "kernel_shape", {p.window_h, p.window_w});
        Ints(node, "strides", {p.stride_h, p.stride_w});
        if (!average) Ints(node, "pads", {p.pad_top, p.pad_left, p.pad_bottom, p.pad_right});
        break;
      }
      case nn::LayerKind::kGlobalAvgPool:
        g.Node("GlobalAveragePool", layer.name);
        Int(g.Node("Flatten", layer.name), "axis", 1);
        break;
      case nn::LayerKind::kDropout:
        break;  // the identity at evaluation
      case nn::LayerKind::kEmbedding:
      case nn::LayerKind::kLayerNorm:
      case nn::LayerKind::kTransformerBlock:
        break;  // refused by RequireExportable
      case nn::LayerKind::kBatchNorm: {
        // weights: gamma, beta, running mean, running variance, as ONNX takes them.
        onnx::NodeProto* node = g.Node("BatchNormalization", layer.name,
                                       {g.current(), weights[0], weights[1], weights[2], weights[3]});
        Float(node, "epsilon", layer.epsilon);
        Float(node, "momentum", 1.0f - layer.momentum);  // ONNX's momentum weighs the old value
        break;
      }
      case nn::LayerKind::kActivation:
        switch (layer.activation) {
          case kernels::Activation::kIdentity: break;
          case kernels::Activation::kRelu: g.Node("Relu", layer.name); break;
          case kernels::Activation::kLeakyRelu: Float(g.Node("LeakyRelu", layer.name), "alpha", layer.leaky_slope); break;
          case kernels::Activation::kSigmoid: g.Node("Sigmoid", layer.name); break;
          case kernels::Activation::kTanh: g.Node("Tanh", layer.name); break;
          case kernels::Activation::kGelu: {
            const std::string x = g.current();
            g.Node("Div", layer.name, {x, g.Scalar(layer.name + ".sqrt2", float(std::sqrt(2.0)))});
            g.Node("Erf", layer.name);
            g.Node("Add", layer.name, {g.current(), g.Scalar(layer.name + ".one", 1.0f)});
            g.Node("Mul", layer.name, {x, g.current()});
            g.Node("Mul", layer.name, {g.current(), g.Scalar(layer.name + ".half", 0.5f)});
            break;
          }
        }
        break;
      case nn::LayerKind::kLoss:
        if (layer.loss == kernels::LossKind::kSoftmaxCrossEntropy) Int(g.Node("Softmax", layer.name), "axis", 1);
        if (layer.loss == kernels::LossKind::kBinaryCrossEntropyWithLogits) g.Node("Sigmoid", layer.name);
        break;
    }
  }
  // The last node writes the graph's output under its public name.
  const std::string output = OnnxOutputName(model);
  if (g.current() == "input") g.Node("Identity", "output");
  graph.mutable_node(graph.node_size() - 1)->set_output(0, output);
  TensorValue(graph.add_output(), output, {int64_t(shapes[shapes.size() - 2].output[0])});

  std::string bytes;
  if (!proto.SerializeToString(&bytes)) throw Error("the ONNX model could not be serialized (larger than 2 GiB?).");
  return bytes;
}

}  // namespace ts::interop
