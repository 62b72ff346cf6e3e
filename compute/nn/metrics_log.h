// The metrics CSV that `train --metrics-csv` and the window's Metrics CSV...
// write: plain CSV with every number at full float precision (%.9g reads back
// as the same float).
#pragma once

#include <cstdint>
#include <string>

#include "compute/nn/trainer.h"

namespace ts::nn {

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
  MetricsLog();
  void AddStep(const StepReport& report, uint32_t batch);
  // `position`: where training stands after the evaluated steps (Trainer::position()).
  void AddEvaluation(const char* kind, const TrainPosition& position, const EvalResult& result);
  // The CSV so far, header included, and how many rows follow the header.
  const std::string& text() const { return text_; }
  uint64_t rows() const { return rows_; }
  // Writes the CSV so far atomically (WriteFileAtomically: throws ts::Error naming the path).
  void Save(const std::string& path) const;

 private:
  std::string text_;
  uint64_t rows_ = 0;
};

}  // namespace ts::nn
