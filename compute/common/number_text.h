// Numbers written as a person typed them: a float widened to double prints as
// 0.20000000298023224; the shortest text that reads back as the same float
// is "0.2", and its double is what JSON files should hold.
#pragma once

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace ts {

// The double nearest to the shortest decimal text of `value` (0.2f -> 0.2).
inline double ShortestDouble(float value) {
  char text[32];
  auto [end, error] = std::to_chars(text, text + sizeof text - 1, value);
  if (error != std::errc()) return value;
  *end = '\0';
  return std::strtod(text, nullptr);
}

// "%.9g": every float reads back as the same float (the CSVs other tools read).
inline std::string FullPrecision(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.9g", value);
  return text;
}

}  // namespace ts
