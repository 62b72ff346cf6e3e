// A small command-line parser: positional words and --flag value pairs, with
// errors that name the flag and what was expected.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace ts::app {

class Arguments {
 public:
  // `value_flags` take a value (--epochs 5 or --epochs=5); `switches` do not.
  // Throws ts::Error for an unknown flag or a missing value.
  Arguments(const std::vector<std::string>& words, const std::set<std::string>& value_flags,
            const std::set<std::string>& switches);

  const std::vector<std::string>& positional() const { return positional_; }
  bool Has(const std::string& flag) const { return values_.count(flag) || switches_.count(flag); }
  std::optional<std::string> String(const std::string& flag) const;
  std::optional<uint32_t> PositiveInt(const std::string& flag) const;
  std::optional<int> Int(const std::string& flag) const;
  std::optional<double> Number(const std::string& flag) const;

 private:
  std::vector<std::string> positional_;
  std::map<std::string, std::string> values_;
  std::set<std::string> switches_;
};

}  // namespace ts::app
