#include "ui/lab/puzzle_worker.h"

#include <chrono>

namespace ts::ui {

PuzzleWorker::PuzzleWorker(vk::ContextOptions options, std::function<void()> on_news)
    : options_(std::move(options)), on_news_(std::move(on_news)), thread_([this] { Loop(); }) {}

PuzzleWorker::~PuzzleWorker() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

uint64_t PuzzleWorker::Start(const std::string& puzzle, const std::string& body) {
  std::lock_guard<std::mutex> lock(mutex_);
  pending_ = Request{next_request_++, puzzle, body};
  wake_.notify_all();
  return pending_->number;
}

std::optional<PuzzleWorker::Answer> PuzzleWorker::TakeAnswer() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::optional<Answer> answer = std::move(answer_);
  answer_.reset();
  return answer;
}

bool PuzzleWorker::busy() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return running_ || pending_.has_value();
}

void PuzzleWorker::Loop() {
  for (;;) {
    Request request;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || pending_.has_value(); });
      if (stopping_) return;
      request = std::move(*pending_);
      pending_.reset();
      running_ = true;
    }
    Answer answer;
    answer.request = request.number;
    answer.puzzle = request.puzzle;
    answer.body = request.body;
    const auto start = std::chrono::steady_clock::now();
    try {
      if (!session_) session_ = std::make_unique<lab::PuzzleSession>(options_);
      answer.result = std::make_shared<const lab::PuzzleResult>(
          session_->Run(lab::FindPuzzle(request.puzzle), request.body, lab::PuzzleRunner::Options{}));
      answer.devices_recreated = session_->devices_recreated();
    } catch (const std::exception& e) {
      answer.error = e.what();
    }
    answer.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      answer_ = std::move(answer);
      running_ = false;
    }
    if (on_news_) on_news_();
  }
}

}  // namespace ts::ui
