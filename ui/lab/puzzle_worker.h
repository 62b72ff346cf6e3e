// Runs the learner's puzzle kernels off the window's thread, on a Vulkan
// device of its own (lab::PuzzleSession: a kernel that loses it loses only
// that one, and it is re-created). One run at a time; the window polls.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "compute/lab/puzzle.h"
#include "compute/vk/context.h"

namespace ts::ui {

class PuzzleWorker {
 public:
  // `on_news` is called on the worker's thread when an answer is ready
  // (e.g. to wake the window). The device is made at the first run.
  PuzzleWorker(vk::ContextOptions options, std::function<void()> on_news);
  ~PuzzleWorker();  // waits for a run under way (a puzzle kernel takes well under a second)
  PuzzleWorker(const PuzzleWorker&) = delete;
  PuzzleWorker& operator=(const PuzzleWorker&) = delete;

  // Queues a run (replacing one not yet started); returns its request number.
  uint64_t Start(const std::string& puzzle, const std::string& body);

  struct Answer {
    uint64_t request = 0;
    std::string puzzle, body;
    std::shared_ptr<const lab::PuzzleResult> result;  // null when the run failed (error says why)
    std::string error;
    double seconds = 0;
    uint32_t devices_recreated = 0;
  };
  std::optional<Answer> TakeAnswer();
  bool busy() const;

 private:
  void Loop();

  vk::ContextOptions options_;
  std::function<void()> on_news_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  struct Request {
    uint64_t number = 0;
    std::string puzzle, body;
  };
  std::optional<Request> pending_;
  std::optional<Answer> answer_;
  uint64_t next_request_ = 1;
  bool running_ = false, stopping_ = false;
  std::unique_ptr<lab::PuzzleSession> session_;  // the worker's; made at its first run
  std::thread thread_;
};

}  // namespace ts::ui
