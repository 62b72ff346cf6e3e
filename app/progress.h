// The live progress line of `tensorscope train`: epoch, step, samples/s, loss,
// accuracy and ETA. Redrawn in place on a terminal; on a pipe (CI logs) it
// prints a plain line every few seconds instead.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace ts::app {

class ProgressBar {
 public:
  ProgressBar(uint32_t epochs, uint32_t steps_per_epoch, uint32_t batch_size);
  // Call after each step (epoch and step counted from 0).
  void Update(uint32_t epoch, uint32_t step_in_epoch, float loss, float accuracy);
  // Ends the current line before other output.
  void Finish();

 private:
  using Clock = std::chrono::steady_clock;
  uint32_t epochs_, steps_per_epoch_, batch_size_;
  bool terminal_;
  Clock::time_point start_, last_draw_;
  uint64_t steps_done_ = 0;
  double smoothed_loss_ = 0, smoothed_accuracy_ = 0;
  bool drawn_ = false;
};

}  // namespace ts::app
