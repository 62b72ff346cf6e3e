// The Lab's own device: made on the runner's worker thread at the first run,
// like the training session's (app/gui.cpp), so lessons never share a queue
// with the window's drawing or with training.
#include <memory>

#include "compute/vk/pipeline.h"
#include "ui/lab/lab_runner.h"

namespace ts::ui {

LabRunner::RunFunction DeviceLessonRunner(const vk::ContextOptions& options) {
  struct Device {
    vk::ContextOptions options;
    std::unique_ptr<vk::Context> context;
    std::unique_ptr<vk::PipelineCache> pipelines;  // after the context: destroyed before it
  };
  auto device = std::make_shared<Device>();
  device->options = options;
  return [device](const std::string& lesson, const lab::Settings& settings, const lab::RunOptions& run_options) {
    if (!device->context) {
      if (run_options.progress) run_options.progress("opening the device", 0);
      device->context = vk::Context::Create(device->options);
      device->pipelines = std::make_unique<vk::PipelineCache>(*device->context);
    }
    return lab::RunLesson(*device->context, *device->pipelines, lesson, settings, run_options);
  };
}

}  // namespace ts::ui
