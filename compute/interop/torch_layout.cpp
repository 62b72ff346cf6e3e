#include "compute/interop/torch_layout.h"

#include "compute/common/error.h"
#include "compute/nn/tensor_table.h"

namespace ts::interop {

void RequireExportable(const nn::ModelDesc& model, const std::string& format) {
  for (const nn::LayerDesc& layer : model.layers) {
    const char* type = layer.kind == nn::LayerKind::kEmbedding          ? "embedding"
                       : layer.kind == nn::LayerKind::kLayerNorm        ? "layer_norm"
                       : layer.kind == nn::LayerKind::kTransformerBlock ? "transformer_block"
                                                                         : nullptr;
    if (type)
      throw Error("the model '" + model.name + "' has the " + type + " layer '" + layer.name +
                  "': sequence models cannot be exported to " + format +
                  " yet (dense, convolution, pooling, batch norm, dropout and activation layers can).");
  }
}

namespace {

// PyTorch's shape of a Tensorscope tensor.
std::vector<int64_t> TorchShape(const nn::ParameterTensor& t, bool dense_weight, bool conv_weight) {
  if (dense_weight) return {t.shape[1], t.shape[0]};
  if (conv_weight) return {t.shape[3], t.shape[2], t.shape[0], t.shape[1]};
  return {int64_t(t.count)};
}

// Tensorscope's row of input feature `torch_column` of a dense layer whose
// input is a flattened (C, H, W) image (empty `image`: the same row).
size_t DenseRow(size_t torch_column, const std::vector<uint32_t>& image) {
  if (image.empty()) return torch_column;
  const size_t c = image[0], h = image[1], w = image[2];
  const size_t channel = torch_column / (h * w), y = torch_column / w % h, x = torch_column % w;
  return (y * w + x) * c + channel;
}

// Calls convert(tensor, is_dense_weight, is_conv_weight, flattened image) for each tensor in order.
template <typename Convert>
void ForEachTensor(const nn::ModelDesc& model, const Convert& convert) {
  const std::vector<nn::LayerShape> shapes = nn::InferShapes(model);
  const nn::ModelTensors tensors = nn::ListModelTensors(model, shapes);
  for (const std::vector<nn::ParameterTensor>* group : {&tensors.parameters, &tensors.statistics})
    for (const nn::ParameterTensor& t : *group) {
      const nn::LayerDesc& layer = model.layers[t.layer];
      const bool weight = t.name.ends_with(".weight");
      const bool dense_weight = weight && layer.kind == nn::LayerKind::kDense;
      const bool conv_weight = weight && layer.kind == nn::LayerKind::kConv2D;
      if (layer.kind == nn::LayerKind::kBatchNorm && !nn::FlattenedImageBefore(model, shapes, t.layer).empty())
        throw Error(t.name + ": a batch norm of a flattened image is not exported (its features run H, W, C here "
                    "and C, H, W elsewhere); put it before the flatten.");
      convert(t, group == &tensors.statistics, dense_weight, conv_weight,
              dense_weight ? nn::FlattenedImageBefore(model, shapes, t.layer) : std::vector<uint32_t>{});
    }
}

}  // namespace

std::vector<NamedTensor> ToTorchLayout(const nn::ModelDesc& model, const std::vector<float>& parameters,
                                       const std::vector<float>& statistics) {
  std::vector<NamedTensor> out;
  uint64_t parameter_at = 0, statistic_at = 0;
  ForEachTensor(model, [&](const nn::ParameterTensor& t, bool statistic, bool dense_weight, bool conv_weight,
                           const std::vector<uint32_t>& image) {
    const std::vector<float>& source = statistic ? statistics : parameters;
    uint64_t& at = statistic ? statistic_at : parameter_at;
    if (at + t.count > source.size())
      throw Error("the model has more " + std::string(statistic ? "running statistics" : "parameters") + " than the " +
                  std::to_string(source.size()) + " given (at " + t.name + ").");
    const float* v = source.data() + at;
    NamedTensor n{t.name, TorchShape(t, dense_weight, conv_weight), std::vector<float>(t.count), t.layer, statistic};
    if (dense_weight) {
      const size_t in = t.shape[0], units = t.shape[1];
      for (size_t o = 0; o < units; ++o)
        for (size_t i = 0; i < in; ++i) n.values[o * in + i] = v[DenseRow(i, image) * units + o];
    } else if (conv_weight) {
      const size_t kh = t.shape[0], kw = t.shape[1], cin = t.shape[2], cout = t.shape[3];
      for (size_t o = 0; o < cout; ++o)
        for (size_t i = 0; i < cin; ++i)
          for (size_t y = 0; y < kh; ++y)
            for (size_t x = 0; x < kw; ++x)
              n.values[((o * cin + i) * kh + y) * kw + x] = v[((y * kw + x) * cin + i) * cout + o];
    } else {
      std::copy(v, v + t.count, n.values.begin());
    }
    at += t.count;
    out.push_back(std::move(n));
  });
  if (parameter_at != parameters.size() || statistic_at != statistics.size())
    throw Error("the model has " + std::to_string(parameter_at) + " parameters and " + std::to_string(statistic_at) +
                " running statistics; " + std::to_string(parameters.size()) + " and " +
                std::to_string(statistics.size()) + " were given.");
  return out;
}

void FromTorchLayout(const nn::ModelDesc& model, const std::vector<NamedTensor>& tensors,
                     std::vector<float>& parameters, std::vector<float>& statistics) {
  parameters.clear();
  statistics.clear();
  ForEachTensor(model, [&](const nn::ParameterTensor& t, bool statistic, bool dense_weight, bool conv_weight,
                           const std::vector<uint32_t>& image) {
    const NamedTensor* found = nullptr;
    for (const NamedTensor& n : tensors)
      if (n.name == t.name) found = &n;
    if (!found) throw Error("no tensor named " + t.name + " was given.");
    const std::vector<int64_t> shape = TorchShape(t, dense_weight, conv_weight);
    if (found->shape != shape || found->values.size() != t.count) {
      std::string expected, given;
      for (int64_t d : shape) expected += (expected.empty() ? "" : "x") + std::to_string(d);
      for (int64_t d : found->shape) given += (given.empty() ? "" : "x") + std::to_string(d);
      throw Error(t.name + ": expected shape " + expected + ", found " + given + ".");
    }
    std::vector<float>& target = statistic ? statistics : parameters;
    const size_t at = target.size();
    target.resize(at + t.count);
    float* v = target.data() + at;
    const float* source = found->values.data();
    if (dense_weight) {
      const size_t in = t.shape[0], units = t.shape[1];
      for (size_t o = 0; o < units; ++o)
        for (size_t i = 0; i < in; ++i) v[DenseRow(i, image) * units + o] = source[o * in + i];
    } else if (conv_weight) {
      const size_t kh = t.shape[0], kw = t.shape[1], cin = t.shape[2], cout = t.shape[3];
      for (size_t o = 0; o < cout; ++o)
        for (size_t i = 0; i < cin; ++i)
          for (size_t y = 0; y < kh; ++y)
            for (size_t x = 0; x < kw; ++x)
              v[((y * kw + x) * cin + i) * cout + o] = source[((o * cin + i) * kh + y) * kw + x];
    } else {
      std::copy(source, source + t.count, v);
    }
  });
}

}  // namespace ts::interop
