// The tensors a model owns, named and shaped without a device: its trainable
// parameters (Plan::parameters() order) and batch norm's running statistics
// (Plan::statistics() order). The Plan lays these out on the device; a
// checkpoint writes them as a tensor table a person (or numpy) can read;
// exporters walk them to translate layouts.
#pragma once

#include <string>
#include <vector>

#include "compute/nn/model.h"
#include "compute/nn/plan.h"

namespace ts::nn {

struct ModelTensors {
  std::vector<ParameterTensor> parameters;  // offsets packed, in floats, no padding
  std::vector<ParameterTensor> statistics;  // the same, in their own sequence
};

// A transformer block's parameter tensors, in order, named after the block
// ("ln_1.weight", "attn.qkv.weight", ...): weights (in, out) row-major (Y = X W,
// PyTorch's Linear.weight transposed); attn.qkv's columns are Q, K, V, each
// heads x head_dim (nanoGPT's c_attn).
struct BlockTensor {
  const char* name;
  std::vector<uint32_t> shape;
  kernels::InitKind init;
};
std::vector<BlockTensor> TransformerBlockTensors(const LayerDesc& block, uint32_t width);

// Throws ts::Error (from InferShapes) when the model is invalid.
ModelTensors ListModelTensors(const ModelDesc& model);
// The same from shapes InferShapes already gave.
ModelTensors ListModelTensors(const ModelDesc& model, const std::vector<LayerShape>& shapes);

// How a tensor's values are ordered, in words, e.g. "(in, out) row-major: Y = X W".
std::string TensorLayout(const ModelDesc& model, const std::vector<LayerShape>& shapes, const ParameterTensor& tensor);

// For the first layer (dense, batch norm) after a flatten of an image, past
// activations and dropout: the image (C, H, W) whose H, W, C-ordered features
// it reads; empty otherwise.
std::vector<uint32_t> FlattenedImageBefore(const ModelDesc& model, const std::vector<LayerShape>& shapes, size_t layer);

}  // namespace ts::nn
