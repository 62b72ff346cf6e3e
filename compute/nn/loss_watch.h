// LossWatch: notices a loss that is running away without becoming NaN, so the
// window and the CLI can say so while there is still something to save.
#pragma once

#include <cstdint>
#include <cstdio>
#include <deque>
#include <optional>
#include <string>
#include <utility>

namespace ts::nn {

class LossWatch {
 public:
  // `window_steps`: how far back the smallest loss is looked for (an epoch's steps).
  explicit LossWatch(uint64_t window_steps) : window_(window_steps < 1 ? 1 : window_steps) {}

  // Feeds one step's loss. Returns a warning the first time the smoothed loss
  // is kRise times the smallest smoothed loss of the last window_steps steps;
  // it warns again only after the loss has come back down.
  std::optional<std::string> Add(uint64_t global_step, double loss) {
    if (!(loss == loss)) return std::nullopt;  // NaN: divergence is reported elsewhere
    smoothed_ = steps_ == 0 ? loss : smoothed_ + kWeight * (loss - smoothed_);
    ++steps_;
    // A monotonic queue of (step, smoothed) keeps the window's minimum at its front.
    while (!lows_.empty() && lows_.back().second >= smoothed_) lows_.pop_back();
    lows_.emplace_back(global_step, smoothed_);
    while (lows_.front().first + window_ <= global_step) lows_.pop_front();
    const double low = lows_.front().second;
    if (steps_ < kWarmupSteps || !(low > 0)) return std::nullopt;
    if (warned_) {
      if (smoothed_ < kRearm * low) warned_ = false;
      return std::nullopt;
    }
    // Below kNoiseFloor a tenfold rise is noise about a near-perfect fit
    // (spiral after hundreds of epochs: 3e-5 to 3e-4), not a run going wrong.
    if (smoothed_ < kRise * low || smoothed_ < kNoiseFloor) return std::nullopt;
    warned_ = true;
    char text[256];
    std::snprintf(text, sizeof text,
                  "The loss is rising: %.4g at step %llu, %.0fx its low of %.4g within the last %llu steps. The learning "
                  "rate may be too high.",
                  smoothed_, static_cast<unsigned long long>(global_step + 1), smoothed_ / low, low,
                  static_cast<unsigned long long>(window_));
    return std::string(text);
  }

  static constexpr double kRise = 10.0;
  static constexpr double kNoiseFloor = 0.01;

 private:
  static constexpr double kWeight = 0.1;     // smoothing: about the last 10 steps
  static constexpr uint64_t kWarmupSteps = 10;
  static constexpr double kRearm = 3.0;
  uint64_t window_;
  uint64_t steps_ = 0;
  double smoothed_ = 0;
  bool warned_ = false;
  std::deque<std::pair<uint64_t, double>> lows_;
};

}  // namespace ts::nn
