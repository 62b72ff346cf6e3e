// The "name:key=value,key=value" options of dataset specs, shared by the
// registry and the generators, so every spec splits and reads its options the
// same way and says so in the same words. `what` names the spec in messages:
// "data spec", "synthetic data spec", "shapes data spec".
#pragma once

#include <charconv>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "compute/common/error.h"

namespace ts::data {

using SpecOptions = std::vector<std::pair<std::string_view, std::string_view>>;

// "key=value,key=value" -> pairs, in order (views into `text`). An item
// without '=' (including an empty text) throws ts::Error.
inline SpecOptions SplitSpecOptions(std::string_view what, std::string_view spec, std::string_view text) {
  SpecOptions options;
  for (;;) {
    const size_t comma = text.find(',');
    const std::string_view item = text.substr(0, comma);
    const size_t equals = item.find('=');
    if (equals == std::string_view::npos)
      throw Error(std::string(what) + " \"" + std::string(spec) + "\": expected key=value, found \"" +
                  std::string(item) + "\"");
    options.emplace_back(item.substr(0, equals), item.substr(equals + 1));
    if (comma == std::string_view::npos) return options;
    text = text.substr(comma + 1);
  }
}

// The whole of `value` as a Number; throws ts::Error saying what was expected.
template <typename Number>
Number ParseSpecValue(std::string_view what, std::string_view spec, std::string_view key, std::string_view value,
                      const char* expected) {
  Number number{};
  const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), number);
  if (value.empty() || error != std::errc() || end != value.data() + value.size())
    throw Error(std::string(what) + " \"" + std::string(spec) + "\": option " + std::string(key) + ": expected " +
                expected + ", found \"" + std::string(value) + "\"");
  return number;
}

}  // namespace ts::data
