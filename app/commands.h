// The headless commands of the tensorscope executable.
#pragma once

#include <memory>

#include "app/arguments.h"
#include "compute/vk/context.h"

namespace ts::app {

// The Vulkan context options a command asked for (--device N, --validate).
vk::ContextOptions ContextOptionsFrom(const Arguments& args);
// The Vulkan context a command asked for (--device N, --validate).
std::unique_ptr<vk::Context> MakeContext(const Arguments& args);
// `code`, or 1 when --validate drew validation messages (printed above).
int ValidationExitCode(const vk::Context& context, int code);

// Parses the command line and runs the command it names. Returns the exit code.
int RunCommandLine(int argc, char** argv);

}  // namespace ts::app
