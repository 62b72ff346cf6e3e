#include "ui/window_placement.h"

#include <cstdlib>

#include <nlohmann/json.hpp>

#include "compute/common/error.h"
#include "compute/common/file_read.h"
#include "compute/common/json_read.h"
#include "compute/nn/model.h"

namespace ts::ui {

namespace fs = std::filesystem;

// A placement is five numbers; anything much larger is not one.
constexpr uint64_t kMaxPlacementBytes = 64 << 10;

fs::path DefaultConfigDir() {
  const char* xdg = std::getenv("XDG_CONFIG_HOME");
  if (xdg != nullptr && xdg[0] == '/') return fs::path(xdg) / "tensorscope";  // the spec ignores relative paths
  const char* home = std::getenv("HOME");
  if (home != nullptr && *home != '\0') return fs::path(home) / ".config" / "tensorscope";
  return {};
}

std::optional<WindowPlacement> LoadPlacement(const fs::path& file) {
  std::error_code missing;
  if (!fs::exists(file, missing)) return std::nullopt;
  nlohmann::json json;
  try {  // a damaged preference file (or a FIFO, or /dev/zero put in its place) is simply ignored
    json = ParseJson(ReadRegularFile(file.string(), kMaxPlacementBytes, "a window placement file"), file.string());
  } catch (const Error&) {
    return std::nullopt;
  }
  if (!json.is_object()) return std::nullopt;
  WindowPlacement placement;
  try {
    placement.x = json.at("x").get<int>();
    placement.y = json.at("y").get<int>();
    placement.width = json.at("width").get<int>();
    placement.height = json.at("height").get<int>();
    placement.maximized = json.value("maximized", false);
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
  if (placement.width < 200 || placement.height < 150 || placement.width > 16384 || placement.height > 16384)
    return std::nullopt;
  return placement;
}

void SavePlacement(const fs::path& file, const WindowPlacement& placement) {
  nlohmann::json json{{"x", placement.x},
                      {"y", placement.y},
                      {"width", placement.width},
                      {"height", placement.height},
                      {"maximized", placement.maximized}};
  try {
    nn::WriteFileAtomically(file.string(), json.dump(2) + "\n");
  } catch (const Error&) {
    // Not worth failing over: the window just opens at its default place next time.
  }
}

}  // namespace ts::ui
