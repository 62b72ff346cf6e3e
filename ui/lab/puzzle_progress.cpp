#include "ui/lab/puzzle_progress.h"

#include <algorithm>
#include <cstdint>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "compute/common/error.h"
#include "compute/common/file_read.h"
#include "compute/common/file_write.h"
#include "compute/common/json_read.h"
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
  const nlohmann::json json = ParseJson(ReadRegularFile(path, kMaxProgressBytes, "a puzzle progress file"), path);
  return WithJsonErrorsAsSentences(path, [&] {
    if (!json.is_object())
      throw Error(path + ": expected a puzzle progress file (a JSON object), found " + DescribeJson(json) + ".");
    if (!json.contains("version") || json["version"] != kVersion)
      throw Error(path + ": expected \"version\": " + std::to_string(kVersion) + ", found " +
                  (json.contains("version") ? DescribeJson(json["version"]) : std::string("none")) + ".");
    if (json.contains("current") && json["current"].is_string()) progress.current = json["current"];
    if (!json.contains("puzzles")) return progress;
    if (!json["puzzles"].is_object())
      throw Error(path + ": expected \"puzzles\" to be an object of puzzle names, found " +
                  DescribeJson(json["puzzles"]) + ".");
    for (const auto& [name, entry] : json["puzzles"].items()) {
      const std::string at = path + ": puzzle \"" + Excerpt(name) + "\"";
      if (!entry.is_object()) throw Error(at + ": expected an object, found " + DescribeJson(entry) + ".");
      if (entry.contains("code")) {
        if (!entry["code"].is_string())
          throw Error(at + ": expected \"code\" to be a string, found " + DescribeJson(entry["code"]) + ".");
        progress.code[name] = entry["code"];
      }
      if (entry.contains("solved")) {
        if (!entry["solved"].is_boolean())
          throw Error(at + ": expected \"solved\" to be true or false, found " + DescribeJson(entry["solved"]) + ".");
        if (entry["solved"].get<bool>()) progress.solved[name] = true;
      }
      if (entry.contains("failed_tries") && entry["failed_tries"].is_number_integer())
        progress.failed_tries[name] =
            static_cast<int>(std::clamp<int64_t>(entry["failed_tries"].get<int64_t>(), 0, 1'000'000));
    }
    return progress;
  });
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
  WriteFileAtomically(path, DumpJson(json, path, 2) + "\n");
}

}  // namespace ts::ui
