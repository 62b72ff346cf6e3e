// ModelDesc: a network as plain data, loaded from and saved to JSON.
//
// JSON schema (version 1), documented in assets/models/README.md:
//   {
//     "format": "tensorscope-model", "version": 1, "name": "spiral-mlp",
//     "layers": [
//       {"type": "input", "shape": [2]},
//       {"type": "dense", "units": 64},            // optional: "bias", "init", "name"
//       {"type": "relu"},
//       {"type": "dense", "units": 3},
//       {"type": "softmax_cross_entropy"}          // the loss head, always last
//     ],
//     "training": { ... }                           // optional, see train_config.h
//   }
// Layer types: input, flatten, dense, conv2d, max_pool2d, avg_pool2d,
// global_avg_pool, dropout, batch_norm, relu, leaky_relu (slope), sigmoid,
// tanh, gelu, and the loss heads softmax_cross_entropy (alias: softmax), mse,
// bce_with_logits; and for sequence models (a GPT): embedding, layer_norm,
// transformer_block.
//
// Sequence models: an input of shape [T] holds T token ids; an embedding
// (token + learned position, "vocab", "units") makes it a T x C sequence;
// transformer_block (pre-norm GPT-2 block: x + attention(layer_norm(x)), then
// x + mlp(layer_norm(x)); "heads", "mlp_ratio", "attention": auto, plain or
// fused), layer_norm and dense work on every position (dense with
// "tied": true reuses the embedding's token table as its weight, nanoGPT's
// weight tying); softmax_cross_entropy then scores every position against the
// next token (the data's labels_per_sample = T).
//
// Image shapes are written C x H x W, as PyTorch does (an MNIST input is
// [1, 28, 28]), but tensors live on the device as N x H x W x C (channels
// innermost): a convolution's output is then a plain (N*H*W, C) matrix whose
// bias, activation, batch norm and their gradients are the same kernels a
// dense layer uses, and neighbouring invocations read neighbouring channels.
// Flatten therefore orders features H, W, C: a PyTorch model's first dense
// layer after a flatten needs its weight columns permuted to match.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "compute/common/file_write.h"
#include "compute/common/json_read.h"
#include "compute/kernels/activation.h"
#include "compute/kernels/conv2d.h"
#include "compute/kernels/init.h"
#include "compute/kernels/loss.h"
#include "compute/kernels/pool.h"

namespace ts::nn {

enum class LayerKind {
  kInput, kFlatten, kDense, kActivation, kLoss,
  kConv2D, kPool2D, kGlobalAvgPool, kDropout, kBatchNorm,
  kEmbedding, kLayerNorm, kTransformerBlock,
};

// Which attention kernels a transformer block uses (kernels::AttentionPath):
// kAuto measures both on the device when the plan is compiled and keeps the faster.
enum class AttentionChoice { kAuto, kPlain, kFused };

// How a conv2d layer pads its input (see kernels::Conv2DPadding).
enum class PaddingMode { kValid, kSame, kExplicit };

struct LayerDesc {
  LayerKind kind = LayerKind::kInput;
  std::string name;                     // unique; defaults to e.g. "dense_1"
  std::vector<uint32_t> shape;          // kInput: the sample shape, e.g. {2} or {1, 28, 28}
  uint32_t units = 0;                   // kDense: output features
  bool bias = true;                     // kDense, kConv2D
  std::optional<kernels::InitKind> init;  // kDense, kConv2D weights; default from the next activation
  kernels::Activation activation = kernels::Activation::kIdentity;  // kActivation
  float leaky_slope = 0.01f;            // kActivation kLeakyRelu
  kernels::LossKind loss = kernels::LossKind::kSoftmaxCrossEntropy;  // kLoss
  uint32_t filters = 0;                 // kConv2D: output channels
  std::array<uint32_t, 2> kernel{3, 3}; // kConv2D: kernel {height, width}; kPool2D: window
  std::array<uint32_t, 2> stride{1, 1}; // kConv2D, kPool2D (a pool's default is its window)
  PaddingMode padding = PaddingMode::kValid;  // kConv2D ('valid', 'same' or numbers); kPool2D: explicit only
  std::array<uint32_t, 2> pad{0, 0};    // kExplicit: rows above and below, columns left and right
  kernels::PoolKind pool = kernels::PoolKind::kMax;  // kPool2D
  float rate = 0.5f;                    // kDropout: the probability of dropping an element
  float momentum = 0.1f, epsilon = 1e-5f;  // kBatchNorm, kLayerNorm (epsilon), as PyTorch's
  uint32_t vocab = 0;                   // kEmbedding: token ids in [0, vocab); units: the width C
  bool tied = false;                    // kDense on a sequence: W = the embedding's token table, transposed
  uint32_t heads = 1;                   // kTransformerBlock: attention heads (units / heads each)
  uint32_t mlp_ratio = 4;               // kTransformerBlock: the MLP's hidden width / C
  AttentionChoice attention = AttentionChoice::kAuto;  // kTransformerBlock

  // The layer's type as written in JSON, e.g. "dense", "relu".
  std::string TypeName() const;
};

// Limits a model file is checked against before anything is allocated.
// Layers: each adds device buffers, pipelines and dispatches to every step,
// and 1000 is far deeper than a sequential network without skips trains.
inline constexpr size_t kMaxModelLayers = 1000;
// Elements per sample of any layer's output (and input): 2^31 - 1, so that
// counts fit the 32-bit arithmetic of the shaders and never overflow.
inline constexpr uint64_t kMaxLayerElements = 0x7fffffff;
// Parameters of the whole model (2^34 floats = 64 GiB, more than any device
// here holds): keeps every byte count far from overflowing uint64.
inline constexpr uint64_t kMaxModelParameters = uint64_t{1} << 34;

struct ModelDesc {
  std::string name = "model";
  std::vector<LayerDesc> layers;
  nlohmann::json training;  // the optional "training" section, kept as written
};

// The shape each layer produces, inferred from the input forward.
struct LayerShape {
  std::vector<uint32_t> output;    // per sample; a sequence's: {T, C}
  uint64_t parameters = 0;         // weights + biases
  uint64_t flops_per_sample = 0;   // forward FLOPs for one sample
  uint32_t tokens = 0;             // a sequence layer's positions T (its output is T x C); 0 otherwise
};

// Positions per sample of a sequence model (the input's T when an embedding
// follows it), 1 for any other model: the rows each sample adds to a layer's
// (rows, features) matrices and the labels it has.
uint32_t TokensPerSample(const ModelDesc& model);

// A sequence model's training FLOPs per token, as nanoGPT's estimate_mfu
// (from the PaLM paper): 6 N + 12 L H Q T, N the parameters without the
// position table, L blocks, H heads of Q dimensions, context T. 0 for other models.
uint64_t TrainingFlopsPerToken(const ModelDesc& model);

// Parses a model from JSON text. `source` names where it came from (a file
// path) for messages. Throws ts::Error naming the source, the byte offset /
// line and column for syntax errors, and the field (e.g. "layers[2].units")
// with what was expected and found for schema errors.
// Parsing uses ParseJson (compute/common/json_read.h): nesting deeper than
// kMaxJsonDepth is refused, and nlohmann's exceptions never escape raw.
ModelDesc ParseModel(const std::string& json_text, const std::string& source);
// The same from JSON already parsed (with ParseJson), e.g. a project's "model".
ModelDesc ModelFromJson(const nlohmann::json& root, const std::string& source);
// Refuses anything but a regular file of at most kMaxJsonFileBytes.
ModelDesc LoadModel(const std::string& path);

nlohmann::json ModelToJson(const ModelDesc& model);
// Writes the model atomically (temporary file, then rename).
void SaveModel(const ModelDesc& model, const std::string& path);

// Checks the layer sequence and infers every layer's output shape. Throws
// ts::Error with a message a person understands, naming the layer, e.g.
// "layers[1] (dense 'dense_1') expects a vector input, but layers[0] (input)
// produces 1x28x28. Add a flatten layer before it."
std::vector<LayerShape> InferShapes(const ModelDesc& model);

// The kernel geometry of a conv2d / pool layer on a `input` (C x H x W)
// sample for `batch` samples. ConvGeometry throws ts::Error naming the layer
// when the kernel does not fit the (padded) input.
kernels::Conv2DGeometry ConvGeometry(const LayerDesc& layer, const std::vector<uint32_t>& input, uint32_t batch = 1);
kernels::PoolShape PoolGeometry(const LayerDesc& layer, const std::vector<uint32_t>& input, uint32_t batch = 1);

// "2", "1x28x28".
std::string ShapeString(const std::vector<uint32_t>& shape);
uint64_t ShapeElements(const std::vector<uint32_t>& shape);

// Atomic saves (a temporary file beside `path`, then a rename): compute/common/file_write.h.
using ts::WriteFileAtomically;
// The whole file; throws ts::Error naming the path when it cannot be read,
// is not a regular file (/dev/zero, a folder) or is larger than `max_bytes`
// (`what` names the kind of file in that message: "a project file").
std::string ReadFile(const std::string& path, uint64_t max_bytes = kMaxJsonFileBytes,
                     std::string_view what = "a JSON file");

}  // namespace ts::nn
