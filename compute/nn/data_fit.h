// Does a model fit a dataset? The one rule that the window (an inline error on
// the offending layer), the CLI and the Trainer all apply, so a model whose
// input or output does not match the data is refused everywhere alike.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "compute/nn/model.h"

namespace ts::nn {

// How strictly the outputs are checked: training needs one output per class;
// evaluating a set may use fewer classes than the model has outputs; a
// prediction only needs inputs of the right shape.
enum class FitRule { kTraining, kEvaluation, kPrediction };

struct DataFitProblem {
  size_t layer = 0;     // index into ModelDesc::layers of the layer to change
  std::string message;  // e.g. "dense_3 has 16 outputs, the data has 3 classes: set its units to 3."
};

// Checks `model` (whose shapes InferShapes accepts) against samples of
// `sample_shape` with `num_classes` classes, named `data_name` in messages:
// - the input layer must take exactly the sample's values (a 1x28x28 image
//   fits an input of 784 values only when the input says 1x28x28 or 784);
// - text (labels_per_sample T > 1) needs a sequence model of T positions and
//   an embedding with at least the data's vocabulary (num_classes), and a
//   sequence model needs text;
// - a softmax cross-entropy or MSE head needs exactly one output per class
//   (kEvaluation: at least one per class);
// - a single output (BCE, or MSE on one output) needs at most 2 classes.
std::optional<DataFitProblem> CheckDataFit(const ModelDesc& model, const std::vector<uint32_t>& sample_shape,
                                           uint32_t num_classes, const std::string& data_name,
                                           FitRule rule = FitRule::kTraining, uint32_t labels_per_sample = 1);

// A sequence model on text with `vocab` tokens: when the embedding's vocab
// (and a head with as many units, tied or not) differs from the data's, sets
// both to `vocab` and returns a note saying so; nullopt when nothing changed
// or the model is not a sequence model. (A preset's vocabulary is its
// built-in text's; another file has its own.)
std::optional<std::string> FitVocabulary(ModelDesc& model, uint32_t vocab);

}  // namespace ts::nn
