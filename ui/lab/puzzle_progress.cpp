#include "ui/lab/puzzle_progress.h"

#include <filesystem>

#include <nlohmann/json.hpp>

#include "compute/common/error.h"
#include "compute/common/file_read.h"
#include "compute/common/file_write.h"
#include "ui/project.h"

namespace ts::ui {
namespace fs = std::filesystem;
namespace {

// A progress file holds a few kernels of a few dozen lines each.
constexpr uint64_t kMaxProgressBytes = 16 << 20;
constexpr int kVersion = 1;

}  // namespace

std::string PuzzleProgressPath() {
  const std::string autosave = AutosavePath();
  return autosave.empty() ? "" : (fs::path(autosave).parent_path() / "puzzles.json").string();
}

PuzzleProgress LoadPuzzleProgress(const std::string& path) {
  PuzzleProgress progress;
  std::error_code ignored;
  if (path.empty() || !fs::exists(path, ignored)) return progress;
  const std::string text = ReadRegularFile(path, kMaxProgressBytes, "a puzzle progress file");
  nlohmann::json json = nlohmann::json::parse(text, nullptr, false);
  if (json.is_discarded() || !json.is_object())
    throw Error(path + ": expected a puzzle progress file (a JSON object), found text that is not JSON.");
  if (json.value("version", 0) != kVersion)
    throw Error(path + ": expected \"version\": " + std::to_string(kVersion) + ", found " +
                (json.contains("version") ? json["version"].dump() : std::string("none")) + ".");
  if (json.contains("current") && json["current"].is_string()) progress.current = json["current"];
  if (!json.contains("puzzles")) return progress;
  if (!json["puzzles"].is_object())
    throw Error(path + ": expected \"puzzles\" to be an object of puzzle names, found " + json["puzzles"].type_name() + ".");
  for (const auto& [name, entry] : json["puzzles"].items()) {
    if (!entry.is_object())
      throw Error(path + ": puzzle \"" + Excerpt(name) + "\": expected an object, found " + entry.type_name() + ".");
    if (entry.contains("code")) {
      if (!entry["code"].is_string())
        throw Error(path + ": puzzle \"" + Excerpt(name) + "\": expected \"code\" to be a string, found " +
                    entry["code"].type_name() + ".");
      progress.code[name] = entry["code"];
    }
    if (entry.value("solved", false)) progress.solved[name] = true;
    if (entry.contains("failed_tries") && entry["failed_tries"].is_number_integer())
      progress.failed_tries[name] = std::max(0, entry["failed_tries"].get<int>());
  }
  return progress;
}

void SavePuzzleProgress(const PuzzleProgress& progress, const std::string& path) {
  nlohmann::json json = {{"version", kVersion}, {"current", progress.current}, {"puzzles", nlohmann::json::object()}};
  auto entry = [&](const std::string& name) -> nlohmann::json& { return json["puzzles"][name]; };
  for (const auto& [name, code] : progress.code) entry(name)["code"] = code;
  for (const auto& [name, solved] : progress.solved) entry(name)["solved"] = solved;
  for (const auto& [name, tries] : progress.failed_tries) entry(name)["failed_tries"] = tries;
  std::error_code error;
  fs::create_directories(fs::path(path).parent_path(), error);
  if (error) throw Error(path + ": cannot create its folder (" + error.message() + ").");
  WriteFileAtomically(path, json.dump(2) + "\n");
}

}  // namespace ts::ui
