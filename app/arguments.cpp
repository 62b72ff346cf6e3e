#include "app/arguments.h"

#include <cstdlib>

#include "compute/common/error.h"

namespace ts::app {

Arguments::Arguments(const std::vector<std::string>& words, const std::set<std::string>& value_flags,
                     const std::set<std::string>& switches) {
  for (size_t i = 0; i < words.size(); ++i) {
    const std::string& word = words[i];
    if (word.rfind("--", 0) != 0) {
      positional_.push_back(word);
      continue;
    }
    std::string flag = word.substr(2), value;
    bool inline_value = false;
    if (size_t eq = flag.find('='); eq != std::string::npos) {
      value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
      inline_value = true;
    }
    if (switches.count(flag)) {
      if (inline_value) throw Error("--" + flag + " takes no value.");
      switches_.insert(flag);
    } else if (value_flags.count(flag)) {
      if (!inline_value) {
        if (i + 1 >= words.size()) throw Error("--" + flag + " needs a value.");
        value = words[++i];
      }
      values_[flag] = value;
    } else {
      std::string known;
      for (const std::string& f : value_flags) known += " --" + f;
      for (const std::string& f : switches) known += " --" + f;
      throw Error("unknown option --" + flag + "; this command takes:" + known + ".");
    }
  }
}

std::optional<std::string> Arguments::String(const std::string& flag) const {
  auto it = values_.find(flag);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

std::optional<int> Arguments::Int(const std::string& flag) const {
  std::optional<std::string> text = String(flag);
  if (!text) return std::nullopt;
  char* end = nullptr;
  long value = std::strtol(text->c_str(), &end, 10);
  if (text->empty() || *end != '\0' || value < -1000000000 || value > 1000000000)
    throw Error("--" + flag + ": expected an integer, found \"" + *text + "\".");
  return static_cast<int>(value);
}

std::optional<uint32_t> Arguments::PositiveInt(const std::string& flag) const {
  std::optional<int> value = Int(flag);
  if (value && *value <= 0) throw Error("--" + flag + ": expected a positive integer, found " + std::to_string(*value) + ".");
  return value ? std::optional<uint32_t>(static_cast<uint32_t>(*value)) : std::nullopt;
}

std::optional<double> Arguments::Number(const std::string& flag) const {
  std::optional<std::string> text = String(flag);
  if (!text) return std::nullopt;
  char* end = nullptr;
  double value = std::strtod(text->c_str(), &end);
  if (text->empty() || *end != '\0') throw Error("--" + flag + ": expected a number, found \"" + *text + "\".");
  return value;
}

}  // namespace ts::app
