#include "support/window_context.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "ui/renderer.h"

namespace ts::testing {

bool HasDisplay() {
  const char* display = std::getenv("DISPLAY");
  return display != nullptr && *display != '\0';
}

void ValidationMessages::Add(const std::string& message) {
  std::lock_guard<std::mutex> lock(mutex_);
  messages_.push_back(message);
}

void ValidationMessages::FailCurrentTest() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const std::string& message : messages_) ADD_FAILURE() << message;
}

std::unique_ptr<vk::Context> CreateWindowContext(ValidationMessages& messages) {
  vk::ContextOptions options;
  options.validation = true;
  options.on_validation_message = [&messages](const std::string& message) { messages.Add(message); };
  ui::Renderer::AddRequiredExtensions(options);
  return vk::Context::Create(options);
}

}  // namespace ts::testing
