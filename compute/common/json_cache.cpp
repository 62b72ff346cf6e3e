#include "compute/common/json_cache.h"

#include "compute/common/error.h"
#include "compute/common/file_read.h"
#include "compute/common/json_read.h"

namespace ts {

nlohmann::json ReadJsonCacheObject(const std::filesystem::path& file) {
  try {
    nlohmann::json cache = ReadJsonFile(file.string(), "a cache file");
    return cache.is_object() ? cache : nlohmann::json::object();
  } catch (const Error&) {  // missing, unreadable, too large, too deep or not JSON: measured again
    return nlohmann::json::object();
  }
}

}  // namespace ts
