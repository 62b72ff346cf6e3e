// ONNX export: a model's evaluation graph and its weights as an ONNX file
// (opset 13), written through the ModelProto classes that Debian's
// libonnx-dev generates from onnx.proto.
//
// The graph is NCHW, as every ONNX consumer expects: the input "input" is
// (batch, C, H, W) for images or (batch, features), with a symbolic batch
// dimension; weights are converted as compute/interop/torch_layout.h says.
// Layers: dense -> Gemm (transB = 1; MatMul without a bias), conv2d -> Conv, max_pool2d -> MaxPool,
// avg_pool2d -> AveragePool (after a zero Pad when it pads: the average counts padding), global_avg_pool ->
// GlobalAveragePool + Flatten, batch_norm -> BatchNormalization (inference),
// flatten -> Flatten (axis 1, any batch), relu, leaky_relu, sigmoid, tanh,
// gelu as x * 0.5 * (1 + Erf(x / sqrt 2)); dropout is left out (evaluation).
// The head gives the output "probabilities": Softmax (axis 1) for
// softmax_cross_entropy, Sigmoid for bce_with_logits; mse's raw outputs are
// "outputs".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "compute/nn/model.h"

namespace ts::interop {

inline constexpr int64_t kOnnxOpset = 13;

// The serialized ModelProto. Throws ts::Error when the weights do not match
// the model or a layer cannot be expressed.
std::string ExportOnnx(const nn::ModelDesc& model, const std::vector<float>& parameters,
                       const std::vector<float>& statistics);

// The name of the graph's output for `model`'s loss head.
const char* OnnxOutputName(const nn::ModelDesc& model);

}  // namespace ts::interop
