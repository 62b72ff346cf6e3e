#include "ui/frame_pacer.h"

#include <algorithm>

namespace ts::ui {

double FramePacer::Interval(double now) const {
  const bool after_input = now - last_input_ < kInputSettleSeconds;
  const bool after_change = now - last_change_ < kChangeSettleSeconds;
  switch (mode_) {
    case Mode::kTraining:
      return kTrainingInterval;  // input does not raise it: drawing costs training time
    case Mode::kTrainingFast:
      return after_input ? kTrainingInterval : kFastInterval;
    case Mode::kIdle:
      return after_input || after_change ? kInputInterval : kHeartbeatInterval;
  }
  return kHeartbeatInterval;
}

double FramePacer::SecondsUntilNextFrame(double now) const {
  return std::max(0.0, last_frame_ + Interval(now) - now);
}

}  // namespace ts::ui
