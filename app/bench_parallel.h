// tensorscope bench: the helpers its modes share, and the parallelism modes
// (app/bench_parallel.cpp).
#pragma once

#include <cstdint>
#include <string>

#include "app/arguments.h"
#include "compute/data/dataset.h"
#include "compute/nn/model.h"
#include "compute/nn/train_config.h"

namespace ts::app {

// Random uint8 samples of the model's input shape (scaled by 1/255 on the
// device, as image data are) with labels for its outputs: data any model can
// train on, for timing only.
data::Dataset RandomDataFor(const nn::ModelDesc& model, uint32_t samples);
// A bench mode's training data: --data, else the model's own, else (not
// installed, or none named) `samples` random samples of its input shape, with
// `note` saying why.
data::Dataset BenchData(const nn::ModelDesc& model, const nn::TrainConfig& config, const Arguments& args,
                        uint32_t samples, std::string& note);

// bench --replicas N: data-parallel scaling at 1..N replicas.
int RunReplicaBench(const Arguments& args);
// bench --tensor-parallel K: one dense layer split by output columns over K devices.
int RunTensorBench(const Arguments& args);
// bench --pipeline K: the model in K stages, GPipe and 1F1B, beside the unsplit model.
int RunPipelineBench(const Arguments& args);

}  // namespace ts::app
