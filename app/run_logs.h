// What `eval --predictions` writes: plain CSV with every number at full float
// precision (%.9g reads back as the same float); `train --metrics-csv` writes
// through nn::MetricsLog (compute/nn/metrics_log.h).
#pragma once

#include <string>
#include <vector>

#include "compute/data/dataset.h"

namespace ts::app {

// Per sample of `dataset`: index, features x0, x1, ... (as the network sees
// them: standardised CSV columns; none for images, whose index says which),
// label, and class probabilities p0, p1, ... (`outputs`: count x outputs, as
// Trainer::EvaluateWithOutputs gives them; one sigmoid output becomes p0 = 1 - p,
// p1 = p). Written atomically. Text (labels_per_sample T > 1): a row per
// position instead: index (the window), position, input (its token id), label
// (the next token's id), p0, p1, ... (`outputs`: count x T x outputs).
void WritePredictions(const std::string& path, const data::Dataset& dataset, const std::vector<float>& outputs,
                      uint32_t outputs_per_sample, bool single_sigmoid);

}  // namespace ts::app
