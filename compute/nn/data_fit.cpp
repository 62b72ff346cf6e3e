#include "compute/nn/data_fit.h"

namespace ts::nn {

std::optional<DataFitProblem> CheckDataFit(const ModelDesc& model, const std::vector<uint32_t>& sample_shape,
                                           uint32_t num_classes, const std::string& data_name, FitRule rule,
                                           uint32_t labels_per_sample) {
  if (model.layers.size() < 2) return std::nullopt;  // InferShapes refuses such a model itself
  const LayerDesc& input = model.layers.front();
  const uint32_t tokens = TokensPerSample(model);
  if (rule != FitRule::kPrediction && labels_per_sample != tokens) {
    if (tokens > 1 && labels_per_sample > 1)
      return DataFitProblem{0, input.name + " takes windows of " + std::to_string(tokens) + " tokens, the text '" +
                                   data_name + "' is cut into windows of " + std::to_string(labels_per_sample) +
                                   ": give the data spec context=" + std::to_string(tokens) +
                                   " or set the input's shape to [" + std::to_string(labels_per_sample) + "]."};
    if (tokens > 1)
      return DataFitProblem{1, model.layers[1].name + " makes a sequence model, which learns the next token at every "
                                   "position, but the data '" + data_name +
                                   "' has one label per sample: give it text (text:PATH or kjv)."};
    return DataFitProblem{0, input.name + " starts a model with one answer per sample, but the data '" + data_name +
                                 "' is text with a label at each of " + std::to_string(labels_per_sample) +
                                 " positions: put an embedding layer after the input (see the char-gpt preset)."};
  }
  if (tokens > 1 && model.layers[1].vocab < num_classes)
    return DataFitProblem{1, model.layers[1].name + " knows " + std::to_string(model.layers[1].vocab) +
                                 " tokens, the data '" + data_name + "' has " + std::to_string(num_classes) +
                                 ": set its vocab to " + std::to_string(num_classes) + "."};
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
  const uint64_t outputs = ShapeElements(shapes[head - 1].output) / tokens;  // per position in a sequence
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

std::optional<std::string> FitVocabulary(ModelDesc& model, uint32_t vocab) {
  if (TokensPerSample(model) <= 1 || model.layers[1].vocab == vocab) return std::nullopt;
  const uint32_t was = model.layers[1].vocab;
  model.layers[1].vocab = vocab;
  std::string heads;
  for (LayerDesc& layer : model.layers)
    if (layer.kind == LayerKind::kDense && layer.units == was) {
      layer.units = vocab;
      heads += (heads.empty() ? "" : ", ") + layer.name;
    }
  return "The text has " + std::to_string(vocab) + " distinct characters: " + model.layers[1].name +
         "'s vocab (and the units of " + (heads.empty() ? std::string("no head") : heads) + ") set from " +
         std::to_string(was) + " to " + std::to_string(vocab) + ".";
}

}  // namespace ts::nn
