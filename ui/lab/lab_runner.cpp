#include "ui/lab/lab_runner.h"

#include <exception>

namespace ts::ui {
namespace {

// Progress wakes the window at most this often: on a CPU driver every frame
// drawn is time taken from the kernels being timed.
constexpr double kProgressNewsInterval = 0.25;

}  // namespace

LabRunner::LabRunner(RunFunction run, std::function<void()> on_news)
    : run_(std::move(run)), on_news_(std::move(on_news)), worker_([this] { Work(); }) {}

LabRunner::~LabRunner() {
  {
    std::lock_guard lock(mutex_);
    quitting_ = true;
    waiting_.reset();
    cancel_ = true;
  }
  wake_.notify_all();
  worker_.join();
}

uint64_t LabRunner::Start(const std::string& lesson, const lab::Settings& settings) {
  uint64_t number;
  {
    std::lock_guard lock(mutex_);
    number = ++requests_;
    waiting_ = Request{number, lesson, settings};
    if (running_) cancel_ = true;
    answer_.reset();  // an answer not yet taken is of an older request
  }
  wake_.notify_all();
  return number;
}

void LabRunner::Cancel() {
  std::lock_guard lock(mutex_);
  waiting_.reset();
  if (running_) cancel_ = true;
}

LabRunner::Status LabRunner::status() const {
  std::lock_guard lock(mutex_);
  Status status;
  const std::optional<Request>& current = running_ ? running_ : waiting_;
  if (!current) return status;
  status.request = waiting_ ? waiting_->number : running_->number;
  status.lesson = waiting_ ? waiting_->lesson : running_->lesson;
  status.busy = true;
  if (running_ && !waiting_) {
    status.what = what_;
    status.fraction = fraction_;
    status.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  }
  return status;
}

std::optional<LabRunner::Answer> LabRunner::TakeAnswer() {
  std::lock_guard lock(mutex_);
  std::optional<Answer> answer = std::move(answer_);
  answer_.reset();
  return answer;
}

void LabRunner::Notify(bool progress) {
  if (!on_news_) return;
  if (progress) {
    const auto now = std::chrono::steady_clock::now();
    if (std::chrono::duration<double>(now - last_progress_news_).count() < kProgressNewsInterval) return;
    last_progress_news_ = now;
  }
  on_news_();
}

void LabRunner::Work() {
  for (;;) {
    Request request;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return quitting_ || waiting_; });
      if (quitting_) return;
      request = std::move(*waiting_);
      waiting_.reset();
      running_ = request;
      cancel_ = false;
      what_ = "starting";
      fraction_ = 0;
      started_ = std::chrono::steady_clock::now();
    }
    Notify(false);
    lab::RunOptions options;
    options.cancel = &cancel_;
    options.progress = [this](const std::string& what, double fraction) {
      {
        std::lock_guard lock(mutex_);
        what_ = what;
        fraction_ = fraction;
      }
      Notify(true);
    };
    Answer answer;
    answer.request = request.number;
    answer.lesson = request.lesson;
    answer.settings = request.settings;
    try {
      answer.result = std::make_shared<const lab::LessonResult>(run_(request.lesson, request.settings, options));
    } catch (const std::exception& e) {
      answer.error = e.what();
    } catch (...) {
      answer.error = "the lesson failed with an unknown exception";
    }
    {
      std::lock_guard lock(mutex_);
      answer.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
      running_.reset();
      // A cancelled run's answer (an error or a late result) is nobody's.
      if (!cancel_) answer_ = std::move(answer);
    }
    Notify(false);
  }
}

}  // namespace ts::ui
