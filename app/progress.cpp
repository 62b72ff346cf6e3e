#include "app/progress.h"

#include <cstdio>

#include <unistd.h>

#include "ui/format.h"

namespace ts::app {

ProgressBar::ProgressBar(uint32_t epochs, uint32_t steps_per_epoch, uint32_t batch_size)
    : epochs_(epochs), steps_per_epoch_(steps_per_epoch), batch_size_(batch_size),
      terminal_(isatty(fileno(stdout)) != 0), start_(Clock::now()), last_draw_(start_) {}

void ProgressBar::Update(uint32_t epoch, uint32_t step, float loss, float accuracy) {
  ++steps_done_;
  // An exponential moving average: a single batch is too noisy to read.
  double weight = steps_done_ == 1 ? 1.0 : 0.05;
  smoothed_loss_ += weight * (loss - smoothed_loss_);
  smoothed_accuracy_ += weight * (accuracy - smoothed_accuracy_);
  Clock::time_point now = Clock::now();
  double since_draw = std::chrono::duration<double>(now - last_draw_).count();
  bool last_step = step + 1 == steps_per_epoch_;
  if (since_draw < (terminal_ ? 0.1 : 5.0) && !last_step) return;
  last_draw_ = now;

  double elapsed = std::chrono::duration<double>(now - start_).count();
  double samples_per_second = elapsed > 0 ? steps_done_ * double(batch_size_) / elapsed : 0;
  uint64_t remaining_steps = uint64_t(epochs_ - epoch) * steps_per_epoch_ - (step + 1);
  double eta = steps_done_ ? elapsed / steps_done_ * remaining_steps : 0;
  constexpr int kWidth = 24;
  int filled = static_cast<int>(kWidth * double(step + 1) / steps_per_epoch_);
  std::string bar;
  for (int i = 0; i < kWidth; ++i) bar += i < filled ? "#" : "-";
  std::printf("%sepoch %u/%u [%s] step %u/%u  %.0f samples/s  loss %.4f  acc %.1f%%  ETA %s%s",
              terminal_ ? "\r\033[K" : "", epoch + 1, epochs_, bar.c_str(), step + 1, steps_per_epoch_,
              samples_per_second, smoothed_loss_, 100 * smoothed_accuracy_, ui::FormatDuration(eta).c_str(),
              terminal_ ? "" : "\n");
  std::fflush(stdout);
  drawn_ = terminal_;
}

void ProgressBar::Finish() {
  if (drawn_) std::printf("\r\033[K");
  drawn_ = false;
  std::fflush(stdout);
}

}  // namespace ts::app
