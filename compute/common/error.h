// Error type used across Tensorscope. Recoverable failures (bad input, missing
// driver, out of device memory) throw ts::Error with a message a person can act
// on; assertions are reserved for programmer mistakes.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace ts {

// A recoverable failure. what() is a complete, user-facing sentence that names
// the file / field / byte offset involved, what was expected and what was found.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Throws ts::Error(message) when condition is false. For input validation, not
// for invariants (use assert for those).
inline void Require(bool condition, const std::string& message) {
  if (!condition) throw Error(message);
}

// `text` cut to at most `limit` bytes (then ending in "..."), for quoting a
// user's value in a message without copying a value of any size into it.
inline std::string Excerpt(std::string_view text, size_t limit = 60) {
  if (text.size() <= limit) return std::string(text);
  return std::string(text.substr(0, limit > 3 ? limit - 3 : 0)) + "...";
}

}  // namespace ts
