// Test support for TrainingSession tests (test_session*.cpp, test_watch.cpp):
// the small spiral setup they train, and an event log that polls a session
// as a UI frame loop would.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "compute/nn/model.h"
#include "compute/nn/session.h"

namespace ts::testing {

// Spiral points (300 drawn) trained with Adam at 0.01, batches of 16, 4 steps a
// submission, a 16x16 boundary grid. held_out: 20% of the training points
// validate (240 train: 15 batches) and the spiral's test split tests;
// otherwise every training point trains and nothing is held out.
nn::SessionSetup SpiralSessionSetup(const nn::ModelDesc& model, uint32_t epochs, bool held_out);

// Collects a session's events, polling as a UI frame loop would, and times every Poll().
class EventLog {
 public:
  explicit EventLog(nn::TrainingSession& session) : session_(session) {}

  void PollOnce() {
    auto start = std::chrono::steady_clock::now();
    std::vector<nn::SessionEvent> batch = session_.Poll();
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    max_poll_ms_ = std::max(max_poll_ms_, ms);
    ++polls_;
    for (nn::SessionEvent& e : batch) events_.push_back(std::move(e));
  }

  // Polls until an event after the cursor matches; moves the cursor past it.
  std::optional<nn::SessionEvent> WaitFor(const std::function<bool(const nn::SessionEvent&)>& match,
                                          double timeout_seconds = 120) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_seconds);
    for (;;) {
      for (; cursor_ < events_.size(); ++cursor_)
        if (match(events_[cursor_])) return events_[cursor_++];
      if (std::chrono::steady_clock::now() > deadline) return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      PollOnce();
    }
  }
  std::optional<nn::SessionEvent> WaitForState(nn::SessionState state) {
    return WaitFor([state](const nn::SessionEvent& e) {
      return e.kind == nn::SessionEvent::Kind::kStateChanged && e.state == state;
    });
  }
  std::optional<nn::SessionEvent> WaitForKind(nn::SessionEvent::Kind kind) {
    return WaitFor([kind](const nn::SessionEvent& e) { return e.kind == kind; });
  }
  std::optional<nn::SessionEvent> WaitForStep(uint64_t global_step) {
    return WaitFor([=](const nn::SessionEvent& e) { return e.kind == nn::SessionEvent::Kind::kStep && e.step.global_step >= global_step; });
  }
  // Polls for `seconds` more, keeping whatever arrives.
  void Drain(double seconds) {
    WaitFor([](const nn::SessionEvent&) { return false; }, seconds);
  }

  const std::vector<nn::SessionEvent>& events() const { return events_; }
  size_t cursor() const { return cursor_; }
  std::vector<nn::StepReport> Steps(size_t from = 0) const {
    std::vector<nn::StepReport> steps;
    for (size_t i = from; i < events_.size(); ++i)
      if (events_[i].kind == nn::SessionEvent::Kind::kStep) steps.push_back(events_[i].step);
    return steps;
  }
  std::vector<std::string> Errors() const {
    std::vector<std::string> errors;
    for (const nn::SessionEvent& e : events_)
      if (e.kind == nn::SessionEvent::Kind::kError) errors.push_back(e.message);
    return errors;
  }
  double max_poll_ms() const { return max_poll_ms_; }
  size_t polls() const { return polls_; }

 private:
  nn::TrainingSession& session_;
  std::vector<nn::SessionEvent> events_;
  size_t cursor_ = 0;
  double max_poll_ms_ = 0;
  size_t polls_ = 0;
};

}  // namespace ts::testing
