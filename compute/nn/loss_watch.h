// LossWatch: notices a loss that is running away without becoming NaN, so the
// window and the CLI can say so while there is still something to save.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ts::nn {

class LossWatch {
 public:
  // `window_steps`: how far back the smallest loss is looked for (an epoch's steps).
  explicit LossWatch(uint64_t window_steps) : window_(window_steps < 1 ? 1 : window_steps) {}

  // Feeds one step's loss. Returns a warning the first time the smoothed loss
  // is kRise times the smallest smoothed loss of the last window_steps steps;
  // it warns again only after the loss has come back down. Smoothed: the
  // median of the last kMedianSteps losses, so that a few batches' spikes
  // (Adam near a perfect fit: 1e-4 with batches of 0.1-0.5) do not count as a
  // rise, as they did with a running mean; a run going wrong raises most batches.
  std::optional<std::string> Add(uint64_t global_step, double loss) {
    if (!(loss == loss)) return std::nullopt;  // NaN: divergence is reported elsewhere
    recent_.push_back(loss);
    if (recent_.size() > kMedianSteps) recent_.pop_front();
    std::vector<double> sorted(recent_.begin(), recent_.end());
    std::nth_element(sorted.begin(), sorted.begin() + sorted.size() / 2, sorted.end());
    smoothed_ = sorted[sorted.size() / 2];
    ++steps_;
    if (steps_ == kWarmupSteps) start_ = smoothed_;
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
    // Below the noise floor a tenfold rise is noise about a near-perfect fit
    // (spiral after hundreds of epochs: 3e-5 to 3e-4; after tens, a few
    // batches' median from 0.002 to 0.02), not a run going wrong: the floor is
    // kNoiseFloor, or kStartShare of the loss the run started from if higher.
    if (smoothed_ < kRise * low || smoothed_ < std::max(kNoiseFloor, kStartShare * start_)) return std::nullopt;
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
  static constexpr double kStartShare = 0.05;

 private:
  static constexpr size_t kMedianSteps = 15;
  static constexpr uint64_t kWarmupSteps = kMedianSteps;
  static constexpr double kRearm = 3.0;
  uint64_t window_;
  uint64_t steps_ = 0;
  double smoothed_ = 0;
  double start_ = 0;  // the smoothed loss at the end of the warm-up
  bool warned_ = false;
  std::deque<std::pair<uint64_t, double>> lows_;
  std::deque<double> recent_;  // the last kMedianSteps losses
};

}  // namespace ts::nn
