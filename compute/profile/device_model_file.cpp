// The user's corrections to the device model (device_model.json in the config
// folder): read with the project's JSON reader (nesting and size bounded, every
// failure a sentence naming the file and field), written atomically.
#include <algorithm>
#include <cmath>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "compute/common/error.h"
#include "compute/common/file_write.h"
#include "compute/common/json_read.h"
#include "compute/profile/occupancy.h"

namespace ts::profile {

std::filesystem::path DefaultDeviceModelOverridesFile() {
  if (const char* config = std::getenv("XDG_CONFIG_HOME"); config && *config)
    return std::filesystem::path(config) / "tensorscope" / "device_model.json";
  if (const char* home = std::getenv("HOME"); home && *home)
    return std::filesystem::path(home) / ".config" / "tensorscope" / "device_model.json";
  return {};
}

std::vector<DeviceModel> LoadDeviceModelOverrides(const std::filesystem::path& file) {
  std::error_code error;
  if (!std::filesystem::exists(file, error)) return {};
  const std::string where = file.string();
  const nlohmann::json root = ReadJsonFile(where, "a device model file");
  return WithJsonErrorsAsSentences(where, [&] {
    Require(root.is_object(),
            where + ": expected an object {\"version\": 1, \"rows\": [...]}, found " + DescribeJson(root) + ".");
    if (root.contains("version"))
      Require(root["version"] == 1, where + ": version: expected 1, found " + DescribeJson(root["version"]) + ".");
    Require(root.contains("rows") && root["rows"].is_array(),
            where + ": rows: expected an array of rows, found " +
                (root.contains("rows") ? DescribeJson(root["rows"]) : std::string("nothing")) + ".");
    std::vector<DeviceModel> rows;
    for (size_t i = 0; i < root["rows"].size(); ++i) {
      const nlohmann::json& entry = root["rows"][i];
      const std::string at = where + ": rows[" + std::to_string(i) + "]";
      Require(entry.is_object(), at + ": expected an object, found " + DescribeJson(entry) + ".");
      DeviceModel row;
      for (const char* key : {"vendor", "architecture"}) {
        Require(entry.contains(key) && entry[key].is_string(),
                at + "." + key + ": expected a string, found " +
                    (entry.contains(key) ? DescribeJson(entry[key]) : std::string("nothing")) + ".");
      }
      row.vendor = entry["vendor"].get<std::string>();
      row.architecture = entry["architecture"].get<std::string>();
      if (entry.contains("figures")) {
        const nlohmann::json& figures = entry["figures"];
        Require(figures.is_object(), at + ".figures: expected an object of numbers, found " + DescribeJson(figures) + ".");
        for (auto it = figures.begin(); it != figures.end(); ++it) {
          const auto& fields = DeviceModelFields();
          auto field =
              std::find_if(fields.begin(), fields.end(), [&](const FigureField& f) { return it.key() == f.key; });
          if (field == fields.end()) {
            std::string known;
            for (const FigureField& f : fields) known += (known.empty() ? "" : ", ") + std::string(f.key);
            throw Error(at + ".figures: expected one of " + known + ", found " + DescribeJson(it.key()) + ".");
          }
          Require(it.value().is_number() && it.value().get<double>() >= 0 && std::isfinite(it.value().get<double>()),
                  at + ".figures." + it.key() + ": expected a non-negative number, found " + DescribeJson(it.value()) +
                      ".");
          row.*field->member = {it.value().get<double>(), Source::kUser,
                                "set by you (" + file.filename().string() + ")"};
        }
      }
      rows.push_back(std::move(row));
    }
    return rows;
  });
}

void SaveDeviceModelOverrides(const std::filesystem::path& file, const std::vector<DeviceModel>& overrides) {
  nlohmann::json rows = nlohmann::json::array();
  for (const DeviceModel& row : overrides) {
    nlohmann::json figures = nlohmann::json::object();
    for (const FigureField& field : DeviceModelFields())
      if ((row.*field.member).source == Source::kUser) figures[field.key] = (row.*field.member).value;
    rows.push_back({{"vendor", row.vendor}, {"architecture", row.architecture}, {"figures", figures}});
  }
  const nlohmann::json root = {{"version", 1}, {"rows", rows}};
  if (file.has_parent_path()) {
    std::error_code error;
    std::filesystem::create_directories(file.parent_path(), error);
    if (error) throw Error(file.string() + ": cannot create its directory: " + error.message() + ".");
  }
  WriteFileAtomically(file.string(), DumpJson(root, file.string(), 2) + "\n");
}

}  // namespace ts::profile
