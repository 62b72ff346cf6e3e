#include "compute/nn/presets.h"

#include <filesystem>

#include "compute/common/error.h"

namespace ts::nn {

ModelDesc LoadModelOrPreset(const std::string& name_or_path) {
  if (std::filesystem::exists(name_or_path)) return LoadModel(name_or_path);
  for (const Preset& preset : BuiltInPresets())
    if (name_or_path == preset.name) return ParseModel(preset.json, std::string("preset '") + preset.name + "'");
  std::string names;
  for (const Preset& preset : BuiltInPresets()) names += (names.empty() ? "" : ", ") + std::string(preset.name);
  throw Error(name_or_path + ": no such model file, and no preset has that name (presets: " + names + ").");
}

}  // namespace ts::nn
