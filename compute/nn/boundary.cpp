#include "compute/nn/boundary.h"

#include "compute/common/error.h"
#include "compute/nn/fused_mlp.h"
#include "compute/nn/trainer.h"

namespace ts::nn {

bool TakesTwoFeatures(const ModelDesc& model) {
  return !model.layers.empty() && ShapeElements(model.layers[0].shape) == 2;
}

data::Dataset BoundaryGrid(uint32_t resolution, const std::array<float, 4>& extent) {
  data::Dataset grid;
  grid.name = "decision boundary grid";
  grid.sample_shape = {2};
  grid.num_classes = 1;
  grid.features_f32.reserve(size_t(resolution) * resolution * 2);
  auto at = [resolution](float low, float high, uint32_t i) { return low + (high - low) * (i + 0.5f) / resolution; };
  for (uint32_t y = 0; y < resolution; ++y)
    for (uint32_t x = 0; x < resolution; ++x) {
      grid.features_f32.push_back(at(extent[0], extent[1], x));
      grid.features_f32.push_back(at(extent[2], extent[3], y));
    }
  grid.labels.assign(size_t(resolution) * resolution, 0);
  return grid;
}

std::vector<size_t> HiddenLayers(const ModelDesc& model) {
  std::vector<size_t> hidden;
  size_t last_dense = 0;
  for (size_t i = 0; i < model.layers.size(); ++i)
    if (model.layers[i].kind == LayerKind::kDense) last_dense = i;
  for (size_t i = 0; i < last_dense; ++i) {
    const LayerKind kind = model.layers[i].kind;
    bool activation_follows = model.layers[i + 1].kind == LayerKind::kActivation;
    if (kind == LayerKind::kActivation || (kind == LayerKind::kDense && !activation_follows)) hidden.push_back(i);
  }
  return hidden;
}

BoundaryEvaluator::BoundaryEvaluator(vk::Context& context, vk::PipelineCache& pipelines, const ModelDesc& model,
                                     const TrainConfig& config, uint32_t resolution,
                                     const std::array<float, 4>& extent, BoundaryPath path)
    : context_(context), pipelines_(pipelines), model_(model), config_(config), resolution_(resolution) {
  Require(TakesTwoFeatures(model), "The decision boundary needs a model with two input features; '" + model.name +
                                       "' takes " + (model.layers.empty() ? std::string("nothing") : ShapeString(model.layers[0].shape)) +
                                       ".");
  grid_ = BoundaryGrid(resolution, extent);
  config_.batch_size = resolution * resolution;
  config_.steps_per_submit = 1;
  config_.optimizer = kernels::OptimizerKind::kSgd;  // no optimizer state to allocate
  if (path != BoundaryPath::kLayerByLayer) {
    fused_reason_ = FusedMlpInference::Unsupported(context, model, grid_.count());
    if (fused_reason_.empty()) {
      try {
        fused_ = std::make_unique<FusedMlpInference>(context, pipelines, model, grid_);
      } catch (const std::exception& e) {
        // E.g. a driver that cannot build the unrolled kernel: the model's own pass still serves.
        if (path == BoundaryPath::kFused) throw;
        fused_reason_ = std::string("the fused kernel could not be built: ") + e.what();
      }
    } else if (path == BoundaryPath::kFused) {
      throw Error("The fused boundary kernel cannot evaluate '" + model.name + "': " + fused_reason_);
    }
  } else {
    fused_reason_ = "the layer-by-layer path was asked for";
  }
  if (!fused_) LayerByLayer();  // build now, so a grid too large for the device is an error here
}

BoundaryEvaluator::~BoundaryEvaluator() = default;

Trainer& BoundaryEvaluator::LayerByLayer() {
  if (!layer_by_layer_)
    layer_by_layer_ = std::make_unique<Trainer>(context_, pipelines_, model_, config_, nullptr, nullptr);
  return *layer_by_layer_;
}

BoundaryResult BoundaryEvaluator::Evaluate(const std::vector<float>& parameters, const std::vector<float>& statistics,
                                           bool with_hidden) {
  BoundaryResult result;
  result.resolution = resolution_;
  const uint32_t points = resolution_ * resolution_;
  std::vector<float> outputs;
  uint32_t output_count = 0;
  bool binary_logit = false;
  if (fused_ && !with_hidden) {
    FusedMlpInference::Output fused = fused_->Run(parameters);
    outputs = std::move(fused.outputs);
    output_count = fused_->output_features();
    binary_logit = fused_->single_binary_output();
    result.fused = true;
    result.gpu_ms = fused.gpu_ms;
  } else {
    // The hidden layers' activations come from the model's own forward pass,
    // which gives the outputs too.
    Trainer& trainer = LayerByLayer();
    Plan& plan = trainer.plan();
    plan.WriteParameters(parameters);
    plan.WriteStatistics(statistics);
    outputs = trainer.Predict(grid_);
    output_count = plan.output_features();
    binary_logit = output_count == 1 && plan.loss_kind() == kernels::LossKind::kBinaryCrossEntropyWithLogits;
    if (with_hidden) {
      // The forward pass just ran over the whole grid in one batch, so the
      // activation tensors hold every grid point.
      for (size_t layer : HiddenLayers(model_)) {
        GridActivations hidden;
        hidden.name = model_.layers[layer].name;
        hidden.layer = layer;
        hidden.activations = plan.ReadLayerOutput(layer);
        hidden.units = static_cast<uint32_t>(hidden.activations.size() / points);
        result.hidden.push_back(std::move(hidden));
      }
    }
  }
  if (binary_logit) {
    result.classes = 2;  // p(class 1) alone; spell out both classes
    result.probabilities.resize(size_t(points) * 2);
    for (uint32_t i = 0; i < points; ++i) {
      result.probabilities[2 * i] = 1.0f - outputs[i];
      result.probabilities[2 * i + 1] = outputs[i];
    }
  } else {
    result.classes = output_count;
    result.probabilities = std::move(outputs);
  }
  return result;
}

}  // namespace ts::nn
