// The decision boundary of a model with two input features: its outputs on a
// resolution x resolution grid of points, refreshed as the parameters change.
//
// Two ways to evaluate it:
//  - fused: one dispatch of shaders/mlp_infer.comp runs every layer of a small
//    dense network for a few grid points per invocation, activations in
//    registers, each vec4 of weights read once for all of its points. Serves
//    chains of dense layers and element-wise activations within the kernel's
//    layer limits (see FusedMlpInference::Unsupported).
//  - layer by layer: the model's own inference plan with one batch = the grid.
//    Serves every model, and is also where the hidden layers' activations (the
//    neuron maps) come from.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "compute/data/dataset.h"
#include "compute/nn/model.h"
#include "compute/nn/train_config.h"

namespace ts::vk {
class Context;
class PipelineCache;
}  // namespace ts::vk

namespace ts::nn {

class Trainer;
class FusedMlpInference;

// True when the model's input layer has exactly two features.
bool TakesTwoFeatures(const ModelDesc& model);

// The points of the grid, row-major [y][x], at the cells' centres; extent is
// {x0, x1, y0, y1}. Labels are all 0.
data::Dataset BoundaryGrid(uint32_t resolution, const std::array<float, 4>& extent);

// The layers that get a neuron map: those before the last dense layer that
// make a tensor of their own (activation layers, and dense layers with no
// activation after them).
std::vector<size_t> HiddenLayers(const ModelDesc& model);

// One hidden layer's activations over the grid: (points x units), row-major.
struct GridActivations {
  std::string name;
  size_t layer = 0;  // index into ModelDesc::layers
  uint32_t units = 0;
  std::vector<float> activations;
};

struct BoundaryResult {
  uint32_t resolution = 0;
  // Class probabilities at every grid point, (points x classes) row-major.
  // A single-output binary model gives {1 - p, p}; an MSE model its raw outputs.
  uint32_t classes = 0;
  std::vector<float> probabilities;
  std::vector<GridActivations> hidden;  // only when asked for
  bool fused = false;                   // which path computed the probabilities
  double gpu_ms = 0;                    // GPU time of the dispatches that made them (0 without timestamps)
};

enum class BoundaryPath { kAuto, kFused, kLayerByLayer };

class BoundaryEvaluator {
 public:
  // Builds the grid and the paths that serve `model`. `path` forces one
  // (kFused throws ts::Error saying why when the model does not fit the fused
  // kernel). Throws ts::Error when the model does not take two features or the
  // grid does not fit the device.
  BoundaryEvaluator(vk::Context& context, vk::PipelineCache& pipelines, const ModelDesc& model,
                    const TrainConfig& config, uint32_t resolution, const std::array<float, 4>& extent,
                    BoundaryPath path = BoundaryPath::kAuto);
  ~BoundaryEvaluator();

  // The outputs on the grid for `parameters` and `statistics`, packed as
  // Plan::ReadParameters and Plan::ReadStatistics give them: by the fused
  // kernel when it serves the model, else layer by layer. With `with_hidden`,
  // the hidden layers' activations too, and then all layer by layer (one pass
  // gives both).
  BoundaryResult Evaluate(const std::vector<float>& parameters, const std::vector<float>& statistics,
                          bool with_hidden);

  uint32_t resolution() const { return resolution_; }
  bool fused() const { return fused_ != nullptr; }
  // The fused kernel (its blocking and tuning), null when it does not serve the model.
  const FusedMlpInference* fused_kernel() const { return fused_.get(); }
  // Why the fused kernel does not serve this model ("" when it does).
  const std::string& fused_unavailable_reason() const { return fused_reason_; }

 private:
  Trainer& LayerByLayer();

  vk::Context& context_;
  vk::PipelineCache& pipelines_;
  ModelDesc model_;
  TrainConfig config_;
  uint32_t resolution_;
  data::Dataset grid_;
  std::unique_ptr<FusedMlpInference> fused_;
  std::string fused_reason_;
  std::unique_ptr<Trainer> layer_by_layer_;  // built on first use when the fused kernel serves the model
};

}  // namespace ts::nn
