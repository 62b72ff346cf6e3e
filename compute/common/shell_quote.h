// Quoting for a POSIX shell command line (popen, system).
#pragma once

#include <string>

namespace ts {

// `text` in single quotes, each ' inside written as '\'' : one shell word, whatever it holds.
inline std::string ShellQuote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

}  // namespace ts
