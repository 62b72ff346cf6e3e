#include "compute/nn/data_fit.h"

namespace ts::nn {

std::optional<DataFitProblem> CheckDataFit(const ModelDesc& model, const std::vector<uint32_t>& sample_shape,
                                           uint32_t num_classes, const std::string& data_name, FitRule rule) {
  if (model.layers.size() < 2) return std::nullopt;  // InferShapes refuses such a model itself
  const LayerDesc& input = model.layers.front();
  const uint64_t inputs = ShapeElements(input.shape), values = ShapeElements(sample_shape);
  if (inputs != values)
    return DataFitProblem{0, input.name + " takes inputs of shape " + ShapeString(input.shape) + " (" +
                                 std::to_string(inputs) + " values), the data '" + data_name +
                                 "' has samples of shape " + ShapeString(sample_shape) +
                                 " (" + std::to_string(values) + " values): set its shape to " +
                                 ShapeString(sample_shape) + "."};

  if (rule == FitRule::kPrediction) return std::nullopt;
  const std::vector<LayerShape> shapes = InferShapes(model);
  const size_t head = model.layers.size() - 1;
  const uint64_t outputs = ShapeElements(shapes[head - 1].output);
  // The layer that decides the output count: the last dense or conv layer before the head.
  size_t decides = head - 1;
  for (size_t i = head; i-- > 0;)
    if (model.layers[i].kind == LayerKind::kDense || model.layers[i].kind == LayerKind::kConv2D) {
      decides = i;
      break;
    }
  const std::string& name = model.layers[decides].name;
  const bool per_class = model.layers[head].loss == kernels::LossKind::kSoftmaxCrossEntropy || outputs > 1;
  if (per_class && (rule == FitRule::kTraining ? outputs != num_classes : outputs < num_classes)) {
    std::string fix = model.layers[decides].kind == LayerKind::kDense
                          ? ": set its units to " + std::to_string(num_classes) + "."
                          : ": end the model in a dense layer of " + std::to_string(num_classes) + " units.";
    return DataFitProblem{decides, name + " has " + std::to_string(outputs) + " output" + (outputs == 1 ? "" : "s") +
                                       ", the data '" + data_name + "' has " + std::to_string(num_classes) +
                                       " classes" + fix};
  }
  if (!per_class && num_classes > 2)
    return DataFitProblem{decides, name + " has 1 output (a yes/no answer), the data '" + data_name + "' has " +
                                       std::to_string(num_classes) + " classes: set its units to " +
                                       std::to_string(num_classes) + " and end in softmax_cross_entropy."};
  return std::nullopt;
}

}  // namespace ts::nn
