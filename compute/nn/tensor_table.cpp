#include "compute/nn/tensor_table.h"

namespace ts::nn {
namespace {

// Layers followed by these get He initialisation, others Xavier.
bool IsReluFamily(kernels::Activation a) {
  return a == kernels::Activation::kRelu || a == kernels::Activation::kLeakyRelu || a == kernels::Activation::kGelu;
}

}  // namespace

std::vector<BlockTensor> TransformerBlockTensors(const LayerDesc& block, uint32_t width) {
  const uint32_t c = width, hidden = block.mlp_ratio * width;
  using kernels::InitKind;
  return {{"ln_1.weight", {c}, InitKind::kOnes},          {"ln_1.bias", {c}, InitKind::kZeros},
          {"attn.qkv.weight", {c, 3 * c}, InitKind::kNormal002}, {"attn.qkv.bias", {3 * c}, InitKind::kZeros},
          {"attn.proj.weight", {c, c}, InitKind::kNormal002},    {"attn.proj.bias", {c}, InitKind::kZeros},
          {"ln_2.weight", {c}, InitKind::kOnes},          {"ln_2.bias", {c}, InitKind::kZeros},
          {"mlp.fc.weight", {c, hidden}, InitKind::kNormal002},  {"mlp.fc.bias", {hidden}, InitKind::kZeros},
          {"mlp.proj.weight", {hidden, c}, InitKind::kNormal002}, {"mlp.proj.bias", {c}, InitKind::kZeros}};
}

ModelTensors ListModelTensors(const ModelDesc& model) { return ListModelTensors(model, InferShapes(model)); }

ModelTensors ListModelTensors(const ModelDesc& model, const std::vector<LayerShape>& shapes) {
  ModelTensors tensors;
  uint64_t parameters_end = 0, statistics_end = 0;
  auto add = [](std::vector<ParameterTensor>& list, uint64_t& end, ParameterTensor tensor) {
    tensor.offset = end;
    end += tensor.count;
    list.push_back(std::move(tensor));
  };
  for (size_t i = 0; i < model.layers.size(); ++i) {
    const LayerDesc& layer = model.layers[i];
    const bool relu_next = i + 1 < model.layers.size() && model.layers[i + 1].kind == LayerKind::kActivation &&
                           IsReluFamily(model.layers[i + 1].activation);
    const kernels::InitKind weight_init =
        layer.init.value_or(relu_next ? kernels::InitKind::kHeUniform : kernels::InitKind::kXavierUniform);
    if (layer.kind == LayerKind::kDense) {
      // On a sequence, every position's C features; else the whole (flattened) input.
      const uint32_t in = shapes[i - 1].tokens > 0 ? shapes[i - 1].output[1]
                                                   : static_cast<uint32_t>(ShapeElements(shapes[i - 1].output));
      if (!layer.tied)  // a tied head's weight is the embedding's token table
        add(tensors.parameters, parameters_end,
            {layer.name + ".weight", {in, layer.units}, 0, uint64_t(in) * layer.units,
             shapes[i - 1].tokens > 0 ? layer.init.value_or(kernels::InitKind::kNormal002) : weight_init, in,
             layer.units, i});
      if (layer.bias)
        add(tensors.parameters, parameters_end,
            {layer.name + ".bias", {layer.units}, 0, layer.units, kernels::InitKind::kZeros, in, layer.units, i});
    } else if (layer.kind == LayerKind::kConv2D) {
      const uint32_t in_channels = shapes[i - 1].output[0];
      const uint32_t taps = layer.kernel[0] * layer.kernel[1];
      // PyTorch's fans for a convolution: fan_in = Cin*KH*KW, fan_out = Cout*KH*KW.
      add(tensors.parameters, parameters_end,
          {layer.name + ".weight", {layer.kernel[0], layer.kernel[1], in_channels, layer.filters}, 0,
           uint64_t(taps) * in_channels * layer.filters, weight_init, taps * in_channels, taps * layer.filters, i});
      if (layer.bias)
        add(tensors.parameters, parameters_end,
            {layer.name + ".bias", {layer.filters}, 0, layer.filters, kernels::InitKind::kZeros, taps * in_channels,
             taps * layer.filters, i});
    } else if (layer.kind == LayerKind::kEmbedding) {
      const uint32_t c = layer.units, t = shapes[i].output[0];
      const kernels::InitKind init = layer.init.value_or(kernels::InitKind::kNormal002);
      add(tensors.parameters, parameters_end,
          {layer.name + ".token_weight", {layer.vocab, c}, 0, uint64_t(layer.vocab) * c, init, layer.vocab, c, i});
      add(tensors.parameters, parameters_end,
          {layer.name + ".position_weight", {t, c}, 0, uint64_t(t) * c, init, t, c, i});
    } else if (layer.kind == LayerKind::kLayerNorm) {
      const uint32_t c = shapes[i].output.back();
      add(tensors.parameters, parameters_end, {layer.name + ".weight", {c}, 0, c, kernels::InitKind::kOnes, 1, 1, i});
      add(tensors.parameters, parameters_end, {layer.name + ".bias", {c}, 0, c, kernels::InitKind::kZeros, 1, 1, i});
    } else if (layer.kind == LayerKind::kTransformerBlock) {
      for (const BlockTensor& b : TransformerBlockTensors(layer, shapes[i].output[1]))
        add(tensors.parameters, parameters_end,
            {layer.name + "." + b.name, b.shape, 0, ShapeElements(b.shape), b.init, b.shape[0],
             b.shape.size() > 1 ? b.shape[1] : 1, i});
    } else if (layer.kind == LayerKind::kBatchNorm) {
      const uint32_t channels = shapes[i - 1].output[0];
      add(tensors.parameters, parameters_end,
          {layer.name + ".weight", {channels}, 0, channels, kernels::InitKind::kOnes, 1, 1, i});
      add(tensors.parameters, parameters_end,
          {layer.name + ".bias", {channels}, 0, channels, kernels::InitKind::kZeros, 1, 1, i});
      add(tensors.statistics, statistics_end,
          {layer.name + ".running_mean", {channels}, 0, channels, kernels::InitKind::kZeros, 1, 1, i});
      add(tensors.statistics, statistics_end,
          {layer.name + ".running_var", {channels}, 0, channels, kernels::InitKind::kOnes, 1, 1, i});
    }
  }
  return tensors;
}

std::vector<uint32_t> FlattenedImageBefore(const ModelDesc& model, const std::vector<LayerShape>& shapes, size_t layer) {
  if (layer == 0) return {};
  size_t j = layer - 1;
  // Activations and dropout keep the feature order.
  while (j > 0 && (model.layers[j].kind == LayerKind::kActivation || model.layers[j].kind == LayerKind::kDropout)) --j;
  if (j > 0 && model.layers[j].kind == LayerKind::kFlatten && shapes[j - 1].output.size() == 3) return shapes[j - 1].output;
  if (j == 0 && model.layers[0].shape.size() == 3) return model.layers[0].shape;  // an image input read as a vector
  return {};
}

std::string TensorLayout(const ModelDesc& model, const std::vector<LayerShape>& shapes, const ParameterTensor& tensor) {
  const LayerDesc& layer = model.layers[tensor.layer];
  const bool weight = tensor.name.size() > 7 && tensor.name.ends_with(".weight");
  if (layer.kind == LayerKind::kDense && weight) {
    std::string text = "(in, out) row-major: Y = X W (PyTorch's Linear.weight is its transpose)";
    if (std::vector<uint32_t> image = FlattenedImageBefore(model, shapes, tensor.layer); !image.empty())
      text += "; rows follow the flattened " + ShapeString(image) + " image in H, W, C order (PyTorch's: C, H, W)";
    return text;
  }
  if (layer.kind == LayerKind::kConv2D && weight)
    return "(kernel height, kernel width, in channels, out channels) row-major (PyTorch's Conv2d.weight: out, in, "
           "height, width)";
  if (layer.kind == LayerKind::kEmbedding)
    return tensor.name.ends_with(".token_weight") ? "(vocab, C) row-major: row t is token t's vector (nn.Embedding.weight)"
                                                  : "(T, C) row-major: row t is position t's vector";
  if ((layer.kind == LayerKind::kTransformerBlock || layer.kind == LayerKind::kLayerNorm) && tensor.shape.size() == 1)
    return tensor.name.ends_with("ln_1.weight") || tensor.name.ends_with("ln_2.weight") ||
                   (layer.kind == LayerKind::kLayerNorm && weight)
               ? "(C): the layer norm's scale (gamma)"
               : "(out)";
  if (layer.kind == LayerKind::kTransformerBlock)
    return tensor.name.ends_with("attn.qkv.weight")
               ? "(C, 3C) row-major: Y = X W; columns Q, K, V, each heads x head_dim (nanoGPT's c_attn.weight "
                 "transposed)"
               : "(in, out) row-major: Y = X W (PyTorch's Linear.weight is its transpose)";
  if (layer.kind == LayerKind::kBatchNorm)
    return weight ? "(channels): gamma, the scale" : tensor.name.ends_with(".bias") ? "(channels): beta, the shift"
                                                                                    : "(channels)";
  return "(out)";
}

}  // namespace ts::nn
