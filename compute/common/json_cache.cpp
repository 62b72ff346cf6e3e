#include "compute/common/json_cache.h"

#include <fstream>
#include <sstream>

namespace ts {

nlohmann::json ReadJsonCacheObject(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return nlohmann::json::object();
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json cache = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  return cache.is_object() ? cache : nlohmann::json::object();
}

}  // namespace ts
