// The window's remembered size and position, kept as a small JSON file in the
// user's config directory between runs.
#pragma once

#include <filesystem>
#include <optional>

namespace ts::ui {

// ${XDG_CONFIG_HOME:-~/.config}/tensorscope, or empty when neither is known.
std::filesystem::path DefaultConfigDir();

// Where the window was, in screen coordinates, when it was last neither
// minimised nor maximised; and whether it was maximised.
struct WindowPlacement {
  int x = 0, y = 0;
  int width = 0, height = 0;
  bool maximized = false;
};

// The placement stored in `file`; nullopt when it is missing, damaged or implausible.
std::optional<WindowPlacement> LoadPlacement(const std::filesystem::path& file);
// Stores `placement` atomically; a failure is ignored (the window then opens at its default place).
void SavePlacement(const std::filesystem::path& file, const WindowPlacement& placement);

}  // namespace ts::ui
