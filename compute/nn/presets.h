// Preset models from assets/models/*.json, embedded in the binary at build time
// so they work without the source tree (e.g. the default spiral run).
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "compute/nn/model.h"

namespace ts::nn {

struct Preset {
  const char* name;  // file name without .json, e.g. "spiral-mlp"
  const char* json;
};

std::span<const Preset> BuiltInPresets();

// Loads `name_or_path`: a preset name (e.g. "spiral-mlp") or a model file path.
ModelDesc LoadModelOrPreset(const std::string& name_or_path);

}  // namespace ts::nn
