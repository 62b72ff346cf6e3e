// What `train --metrics-csv` and `eval --predictions` write: plain CSV with
// every number at full float precision (%.9g reads back as the same float).
#pragma once

#include <string>
#include <vector>

#include "compute/data/dataset.h"
#include "compute/nn/trainer.h"

namespace ts::app {

// One row per training step and one per evaluation:
//   kind,step,epoch,loss,accuracy,learning_rate,samples_per_second,gpu_ms,samples
// kind: train, validation or test. step: global steps done (counted from 1 at
// the first step); epoch: counted from 1. A train row's samples_per_second is
// its batch over the step's share of its submission's host time; gpu_ms is the
// step's summed dispatch time, empty when its submission was not timed (see
// Trainer::set_timing_interval). An evaluation row leaves learning_rate,
// samples_per_second and gpu_ms empty; samples counts the samples evaluated.
class MetricsLog {
 public:
  explicit MetricsLog(std::string path);
  void AddStep(const nn::StepReport& report, uint32_t batch);
  void AddEvaluation(const char* kind, const nn::TrainPosition& position, const nn::EvalResult& result);
  // Writes everything so far, atomically (after each epoch, and when a run stops).
  void Save() const;

 private:
  std::string path_, text_;
};

// Refuses a destination whose folder is missing or not writable, before any work.
void CheckOutputDestination(const std::string& flag, const std::string& path);

// Per sample of `dataset`: index, features x0, x1, ... (as the network sees
// them: standardised CSV columns; none for images, whose index says which),
// label, and class probabilities p0, p1, ... (`outputs`: count x outputs, as
// Trainer::EvaluateWithOutputs gives them; one sigmoid output becomes p0 = 1 - p,
// p1 = p). Written atomically.
void WritePredictions(const std::string& path, const data::Dataset& dataset, const std::vector<float>& outputs,
                      uint32_t outputs_per_sample, bool single_sigmoid);

}  // namespace ts::app
