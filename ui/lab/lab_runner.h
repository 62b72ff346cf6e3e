// LabRunner: runs Kernel Lab lessons on a worker thread of its own, so the
// window never waits for the device. One run at a time; a new request cancels
// the run under way (its result is dropped) and runs next. The window polls
// Status() and TakeAnswer() once a frame.
//
//   LabRunner runner(DeviceLessonRunner(options), [] { Renderer::Wake(); });
//   runner.Start("matmul", {{"size", 256}});
//   ... each frame: if (auto answer = runner.TakeAnswer()) show(*answer);
//
// What runs a lesson is a function (DeviceLessonRunner in the app: its own
// vk::Context and lab::RunLesson), so the threading is tested without a device.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "compute/lab/lab.h"
#include "compute/vk/context.h"

namespace ts::ui {

class LabRunner {
 public:
  // Runs one lesson: honours options.cancel and reports options.progress.
  // Throws ts::Error (or any std::exception) on failure.
  using RunFunction =
      std::function<lab::LessonResult(const std::string& lesson, const lab::Settings& settings, const lab::RunOptions& options)>;

  // `on_news` is called on the worker thread when the status changes (at most
  // a few times a second for progress) and whenever an answer is ready.
  explicit LabRunner(RunFunction run, std::function<void()> on_news = {});
  ~LabRunner();  // cancels the run under way and joins the worker
  LabRunner(const LabRunner&) = delete;
  LabRunner& operator=(const LabRunner&) = delete;

  // Asks for a run; a run under way or waiting is cancelled. Returns the
  // request's number (counts from 1).
  uint64_t Start(const std::string& lesson, const lab::Settings& settings);
  // Cancels the run under way and any waiting one (no answer comes for them).
  void Cancel();

  struct Status {
    uint64_t request = 0;  // the request running or waiting (0: none)
    std::string lesson;
    bool busy = false;     // a run is under way or waiting
    std::string what;      // the progress callback's last words ("shared 16x16", ...)
    double fraction = 0;   // 0..1
    double seconds = 0;    // since the run began
  };
  Status status() const;

  struct Answer {
    uint64_t request = 0;
    std::string lesson;
    lab::Settings settings;  // as asked
    std::shared_ptr<const lab::LessonResult> result;  // null when it failed
    std::string error;       // why it failed ("" when it did not)
    double seconds = 0;      // how long the run took (wall clock)
  };
  // The latest finished run's answer, once (runs cancelled give none).
  std::optional<Answer> TakeAnswer();

 private:
  struct Request {
    uint64_t number = 0;
    std::string lesson;
    lab::Settings settings;
  };
  void Work();
  void Notify(bool progress);

  RunFunction run_;
  std::function<void()> on_news_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::optional<Request> waiting_;   // the next run to start
  std::optional<Request> running_;   // the run under way
  std::optional<Answer> answer_;
  std::string what_;
  double fraction_ = 0;
  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point last_progress_news_;
  uint64_t requests_ = 0;
  bool quitting_ = false;
  std::atomic<bool> cancel_{false};  // the run under way should stop (lab::RunOptions::cancel)
  std::thread worker_;               // last: started when everything above exists
};

// The function that runs lessons on a Vulkan device of the runner's own,
// created on the worker thread at the first run (with `options`) and kept
// for the next ones, with its pipeline cache.
LabRunner::RunFunction DeviceLessonRunner(const vk::ContextOptions& options);

}  // namespace ts::ui
