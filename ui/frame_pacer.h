// FramePacer: when the window draws its next frame.
//
// A frame is drawn only when something visible may have changed: input (and
// for a short while after it, so hover, popups and drags settle), an event
// from the training session, or, while training, the curves moving, at a
// capped rate. Otherwise the window sleeps on its events. On a GPU a frame
// costs little; on a CPU driver (lavapipe) drawing and training share the
// same cores, so every frame not drawn is training time.
//
//   FramePacer pacer;
//   for (;;) {
//     pacer.SetMode(training ? (fast ? kTrainingFast : kTraining) : kIdle);
//     while (double wait = pacer.SecondsUntilNextFrame(Now())) WaitForEvents(wait);
//     pacer.FrameStarted(Now());
//     DrawFrame();
//   }
// with NoteInput / NoteChange called as input and session events arrive.
// Times are in seconds on any monotonic clock.
#pragma once

namespace ts::ui {

class FramePacer {
 public:
  enum class Mode {
    kIdle,          // nothing trains: frames on input and events, and a slow heartbeat
    kTraining,      // the curves move: a capped rate
    kTrainingFast,  // "train fast": a few frames a second
  };
  // The least time between two frames in each situation.
  static constexpr double kInputInterval = 1.0 / 60;      // right after input
  static constexpr double kTrainingInterval = 1.0 / 25;   // training, input or not
  static constexpr double kFastInterval = 1.0 / 3;        // "train fast", no input
  static constexpr double kHeartbeatInterval = 0.5;       // idle: clocks and timed notices move on
  static constexpr double kInputSettleSeconds = 0.5;      // frames at the input rate after input
  static constexpr double kChangeSettleSeconds = 0.1;     // frames after a session event

  void SetMode(Mode mode) { mode_ = mode; }
  Mode mode() const { return mode_; }
  void NoteInput(double now) { last_input_ = now; }
  void NoteChange(double now) { last_change_ = now; }
  // Intervals count from a frame's start: a frame that takes longer than
  // the interval is followed at once by the next.
  void FrameStarted(double now) { last_frame_ = now; }

  // 0 when the next frame is due now; otherwise how long to wait (an event
  // that arrives meanwhile may make it due sooner: ask again after it).
  double SecondsUntilNextFrame(double now) const;
  // The least time between frames now (see the constants).
  double Interval(double now) const;

 private:
  Mode mode_ = Mode::kIdle;
  double last_input_ = -1e9, last_change_ = -1e9, last_frame_ = -1e9;
};

}  // namespace ts::ui
