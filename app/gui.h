// The Tensorscope window: build a network, train it, watch it learn.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace ts::app {

// True when a window can be opened (an X11 or Wayland display is set).
bool DisplayAvailable();

// Runs the GUI until the user quits. `args` are the command-line words after
// the program name (options: --device N, --validate, --project FILE, and the
// test hooks --test-log FILE and --screenshot-dir DIR, see app/gui.cpp).
// With `open_lab`, the Kernel Lab window opens at once on that lesson (the
// first when it is empty): `tensorscope lab`.
int RunGui(const std::vector<std::string>& args, const std::optional<std::string>& open_lab = std::nullopt);

}  // namespace ts::app
