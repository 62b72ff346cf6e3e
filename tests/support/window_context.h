// Test support for tests that draw into a real window (run under xvfb-run):
// whether a display is there, and a Vulkan context that can present to it with
// the validation layer on (synchronization validation included), whose
// messages fail the test that caused them.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "compute/vk/context.h"

namespace ts::testing {

// DISPLAY is set (and not empty).
bool HasDisplay();

// Validation messages, collected from the driver's threads.
class ValidationMessages {
 public:
  void Add(const std::string& message);
  // One ADD_FAILURE per message received so far.
  void FailCurrentTest();

 private:
  std::mutex mutex_;
  std::vector<std::string> messages_;
};

// A context with the validation layer on and the extensions ui::Renderer needs;
// every validation message goes to `messages`, which must outlive the context.
std::unique_ptr<vk::Context> CreateWindowContext(ValidationMessages& messages);

}  // namespace ts::testing
