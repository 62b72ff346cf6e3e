// Tensorscope's tensors in the layouts PyTorch and ONNX use, and back.
//
//   dense weight  (in, out), Y = X W           <->  (out, in), Y = X W^T (nn.Linear, ONNX Gemm transB=1)
//     after a flatten of a C x H x W image, Tensorscope's rows run H, W, C;
//     PyTorch's and ONNX's columns run C, H, W (NCHW), so they are permuted too
//   conv2d weight (KH, KW, Cin, Cout)          <->  (Cout, Cin, KH, KW)
//   biases, batch norm's weight (gamma), bias (beta), running mean and variance: unchanged
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "compute/nn/model.h"

namespace ts::interop {

struct NamedTensor {
  std::string name;              // e.g. "dense_1.weight", "bn_1.running_var"
  std::vector<int64_t> shape;    // PyTorch's shape
  std::vector<float> values;     // row-major in that shape
  size_t layer = 0;              // index into ModelDesc::layers
  bool statistic = false;        // a running statistic (not trained)
};

// Throws ts::Error naming the first layer `format` ("ONNX", "PyTorch") cannot
// be written as yet: the sequence layers (embedding, layer_norm,
// transformer_block), whose export is not built. Exporters call it first, so
// a GPT is refused whole instead of written without its blocks.
void RequireExportable(const nn::ModelDesc& model, const std::string& format);

// Every parameter, then every running statistic, in Tensorscope's order,
// converted to PyTorch's layouts. `parameters` and `statistics` are in
// Plan::ReadParameters / ReadStatistics order. Throws ts::Error when the
// counts do not match the model, or for a batch norm of a flattened image
// (its features would need permuting, which no consumer expects).
std::vector<NamedTensor> ToTorchLayout(const nn::ModelDesc& model, const std::vector<float>& parameters,
                                       const std::vector<float>& statistics);

// The inverse: `tensors` in PyTorch's layouts (found by name), into
// Tensorscope's parameter and running-statistic order. Throws ts::Error
// naming a missing tensor or one of the wrong shape.
void FromTorchLayout(const nn::ModelDesc& model, const std::vector<NamedTensor>& tensors,
                     std::vector<float>& parameters, std::vector<float>& statistics);

}  // namespace ts::interop
