// ONNX import: a sequential MLP or CNN (as torch.onnx.export writes one)
// becomes a Tensorscope model and its weights.
//
// Supported nodes, in one chain from the graph's input to its output: Gemm
// (alpha = beta = 1, transA = 0), MatMul with a constant weight (and an Add of
// a constant bias after it), Conv (group 1, no dilation; symmetric padding or
// TensorFlow's 'same'), MaxPool and AveragePool (no ceil mode, no dilation,
// symmetric padding; an average counts the padding), GlobalAveragePool,
// BatchNormalization (inference form), Flatten and Reshape to (batch, -1),
// Relu, LeakyRelu, Sigmoid, Tanh, Gelu (the op, or the Erf pattern
// x * 0.5 * (1 + Erf(x / sqrt 2)) torch writes), Dropout and Identity (left
// out), and a final Softmax / LogSoftmax (a softmax cross-entropy head) or
// Sigmoid (binary cross-entropy with logits). A graph ending in raw scores
// gets a softmax cross-entropy head. The input is (batch, C, H, W) or
// (batch, features) in float32; weights are initializers or Constant nodes.
// Anything else is refused, listing every unsupported node by op and name;
// nothing is half-imported.
#pragma once

#include <string>
#include <vector>

#include "compute/nn/checkpoint.h"
#include "compute/nn/model.h"

namespace ts::interop {

struct ImportedModel {
  nn::ModelDesc model;
  std::vector<float> parameters;  // Plan::ReadParameters order
  std::vector<float> statistics;  // Plan::ReadStatistics order
};

// Limits what an ONNX file may make Tensorscope read and allocate.
inline constexpr uint64_t kMaxOnnxFileBytes = uint64_t{2} << 30;  // protobuf's own limit
inline constexpr int kMaxOnnxNodes = 100000;

// `bytes`: a serialized ModelProto; `source` names it in messages. Throws
// ts::Error saying what is wrong and where (node name and op, tensor name).
ImportedModel ImportOnnx(const std::string& bytes, const std::string& source);
ImportedModel ImportOnnxFile(const std::string& path);

// What `tensorscope import` writes and the window's Open makes the run: the
// model and its weights with the default training settings (TrainConfig{},
// Adam; no data named), zeroed optimizer state, at step 0.
nn::Checkpoint ImportedCheckpoint(ImportedModel imported);

}  // namespace ts::interop
