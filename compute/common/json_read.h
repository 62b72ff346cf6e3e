// The one way Tensorscope reads and writes its JSON files (model, training
// config, a checkpoint's embedded model and config, project): nesting is
// limited while parsing, every failure is a ts::Error naming the file, the
// byte and the field, and no message ever serialises a whole value (a deeply
// nested or huge one would crash or flood the message).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "compute/common/error.h"

namespace ts {

// Deepest nesting of [ and { accepted. Tensorscope's own files need 6; the
// limit keeps recursive code (copying, comparing, writing a value) far from
// the stack's end.
inline constexpr int kMaxJsonDepth = 64;
// Largest JSON file read, and most values (numbers, strings, lists, objects
// ...) in one: a model of 1000 layers holds about 10 000 values in tens of
// KiB. The value limit bounds the time and memory a parse can take (a file of
// a million small objects would take seconds and hundreds of MiB).
inline constexpr uint64_t kMaxJsonFileBytes = uint64_t{16} << 20;
inline constexpr uint64_t kMaxJsonValues = 200'000;

// Parses `text`; `source` names it in messages (a path, "x.ckpt (embedded
// config)"). Throws ts::Error:
//   "SOURCE: not valid JSON at byte B (line L, column C), in layers[2]: syntax error ..."
//   "SOURCE: nested deeper than 64 levels at byte B (line L, column C)."
//   "SOURCE: holds more than 200000 values (the next one at layers[40000].type) ..."
//   "SOURCE: layers[2].units: number out of range at byte B (line L, column C): found 1e99999 ..."
// B counts bytes from 1, as a text editor's "go to byte" does.
nlohmann::json ParseJson(std::string_view text, const std::string& source);

// ReadRegularFile(path, kMaxJsonFileBytes, what) parsed with ParseJson.
nlohmann::json ReadJsonFile(const std::string& path, std::string_view what);

// The value's type and a short excerpt of it, for messages: `number 1e+99`,
// `string "abc"`, `array [1, 2, 3, ...]`, `object {"a": 1, ...}`. Reads only
// what it shows, however large or deep the value is.
std::string DescribeJson(const nlohmann::json& value);

// `value` as JSON text for `destination` (a file path). A string or key that
// is not valid UTF-8 (JSON cannot hold it) throws ts::Error naming the
// destination and the field, instead of nlohmann's type_error.316.
std::string DumpJson(const nlohmann::json& value, const std::string& destination, int indent = -1);

// The path of the first string or key in `value` that is not valid UTF-8
// (e.g. "training.data"), or "" when every one is.
std::string FindInvalidUtf8(const nlohmann::json& value);

bool IsValidUtf8(std::string_view text);

// Text of any bytes (a file name in another encoding), stored so it survives:
// a JSON string when it is valid UTF-8, else {"bytes_hex": "2f746d70..."}.
nlohmann::json TextToJson(const std::string& text);
// The inverse; anything else throws ts::Error "WHERE: expected WHAT (a string,
// or {"bytes_hex": ...} ...), found ...".
std::string TextFromJson(const nlohmann::json& value, const std::string& where, std::string_view what);

// nlohmann's message without its "[json.exception.type_error.302] " prefix,
// cut to a short excerpt; for the rare library error the readers cannot
// foresee, so it still reaches the user as a sentence under the file's name.
std::string JsonExceptionText(const nlohmann::json::exception& error);

// read(), with an nlohmann exception it lets through (a check the reader
// lacks) turned into ts::Error "WHERE: what went wrong".
template <typename Read>
auto WithJsonErrorsAsSentences(const std::string& where, Read&& read) -> decltype(read()) {
  try {
    return read();
  } catch (const nlohmann::json::exception& e) {
    throw Error(where + ": " + JsonExceptionText(e));
  }
}

}  // namespace ts
