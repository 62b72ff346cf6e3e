// Small JSON cache files (measured ceilings, autotuning choices): read as an
// object, where a missing or damaged file is simply an empty cache.
#pragma once

#include <filesystem>

#include <nlohmann/json.hpp>

namespace ts {

// The file's top-level JSON object; an empty object when the file is missing,
// unreadable, not JSON, or not an object (a cache is re-measured, never an error).
nlohmann::json ReadJsonCacheObject(const std::filesystem::path& file);

}  // namespace ts
