#include "compute/common/json_read.h"

#include <algorithm>
#include <vector>

#include "compute/common/error.h"
#include "compute/common/file_read.h"

namespace ts {
namespace {

using nlohmann::json;

constexpr size_t kExcerptBytes = 60;
constexpr size_t kReasonBytes = 160;

// "byte 57 (line 3, column 9)" for the 1-based byte `byte` of `text`.
std::string Location(std::string_view text, size_t byte) {
  const size_t end = std::min(text.size(), byte > 0 ? byte - 1 : 0);
  size_t line = 1, line_start = 0;
  for (size_t i = 0; i < end; ++i)
    if (text[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  return "byte " + std::to_string(byte) + " (line " + std::to_string(line) + ", column " +
         std::to_string(end - line_start + 1) + ")";
}

// The 1-based byte of the first [ or { nested deeper than kMaxJsonDepth, or 0.
// Strings are skipped (with their escapes), so brackets inside them do not
// count. On text that is not JSON the count may be off, but only after the
// point where the parser stops with its own error anyway.
size_t TooDeepAt(std::string_view text) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth) return i + 1;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return 0;
}

// Builds the value as nlohmann's own DOM parser does, and knows at every
// moment the path of the value being read, so a parse error names its field.
class DomBuilder : public json::json_sax_t {
 public:
  explicit DomBuilder(json& root) : root_(root) {}

  bool null() override { return Add(nullptr); }
  bool boolean(bool value) override { return Add(value); }
  bool number_integer(number_integer_t value) override { return Add(value); }
  bool number_unsigned(number_unsigned_t value) override { return Add(value); }
  bool number_float(number_float_t value, const string_t&) override { return Add(value); }
  bool string(string_t& value) override { return Add(std::move(value)); }
  bool binary(binary_t&) override { return false; }  // only binary formats (CBOR, ...) have these
  bool start_object(std::size_t) override { return Push(json::object()); }
  bool start_array(std::size_t) override { return Push(json::array()); }
  bool key(string_t& key) override {
    open_.back().key = std::move(key);
    open_.back().has_key = true;
    return true;
  }
  bool end_object() override { return Close(); }
  bool end_array() override { return Close(); }
  bool parse_error(std::size_t position, const std::string& last_token,
                   const nlohmann::detail::exception& error) override {
    error_position_ = position;
    error_token_ = Excerpt(last_token, 40);
    error_id_ = error.id;
    error_text_ = error.what();
    error_field_ = Path();
    return false;
  }

  bool too_many_values() const { return too_many_values_; }
  size_t error_position() const { return error_position_; }
  int error_id() const { return error_id_; }
  const std::string& error_text() const { return error_text_; }
  const std::string& error_field() const { return error_field_; }
  const std::string& error_token() const { return error_token_; }

 private:
  struct Frame {
    json* value;
    std::string key;  // objects: the key whose value is being read
    bool has_key = false;
  };

  json* Place(json&& value) {
    if (open_.empty()) {
      root_ = std::move(value);
      return &root_;
    }
    Frame& parent = open_.back();
    if (parent.value->is_array()) {
      parent.value->push_back(std::move(value));
      return &parent.value->back();
    }
    json& slot = (*parent.value)[parent.key];
    slot = std::move(value);
    return &slot;
  }
  // The parent object's key stays in the path while its value is being read.
  void ValueDone() {
    if (!open_.empty()) open_.back().has_key = false;
  }
  // Counts a value; past kMaxJsonValues, stops the parse (returns false).
  bool Counted() {
    if (++values_ <= kMaxJsonValues) return true;
    too_many_values_ = true;
    error_field_ = Path();
    return false;
  }
  bool Add(json&& value) {
    if (!Counted()) return false;
    Place(std::move(value));
    ValueDone();
    return true;
  }
  bool Push(json&& container) {
    if (!Counted()) return false;
    // A nested container is only ever the last element of its parent, so the
    // pointer stays valid while it is open.
    open_.push_back({Place(std::move(container))});
    return true;
  }
  bool Close() {
    open_.pop_back();
    ValueDone();
    return true;
  }
  // "layers[2].units": where the value being read goes.
  std::string Path() const {
    std::string path;
    for (const Frame& open : open_) {
      if (open.value->is_array()) {
        // An open container is already the array's last element; a value
        // being read is not added yet.
        const size_t index = open.value->size() - (&open != &open_.back() ? 1 : 0);
        path.append("[").append(std::to_string(index)).append("]");
      } else if (open.has_key) {
        if (!path.empty()) path += '.';
        path += Excerpt(open.key, 40);
      }
    }
    return path;
  }

  json& root_;
  std::vector<Frame> open_;
  uint64_t values_ = 0;
  bool too_many_values_ = false;
  size_t error_position_ = 0;
  int error_id_ = 0;
  std::string error_text_, error_field_, error_token_;
};

// nlohmann's "[json.exception.parse_error.101] parse error at line 1, column
// 5: syntax error while parsing value - invalid literal; last read: 'x'"
// without the parts this reader says itself (the id, line and column).
std::string SyntaxReason(const std::string& what) {
  std::string reason = what;
  if (size_t bracket = reason.find("] "); reason.starts_with("[json.exception.") && bracket != std::string::npos)
    reason = reason.substr(bracket + 2);
  if (reason.starts_with("parse error"))
    if (size_t colon = reason.find(": "); colon != std::string::npos) reason = reason.substr(colon + 2);
  return Excerpt(reason, kReasonBytes);
}

void DescribeInto(const json& value, std::string& out, int depth) {
  if (out.size() >= kExcerptBytes) return;
  switch (value.type()) {
    case json::value_t::string: {
      const std::string& text = value.get_ref<const std::string&>();
      std::string excerpt = json(text.substr(0, kExcerptBytes)).dump(-1, ' ', false, json::error_handler_t::replace);
      if (text.size() > kExcerptBytes) excerpt.insert(excerpt.size() - 1, "...");
      out += excerpt;
      return;
    }
    case json::value_t::array:
    case json::value_t::object: {
      const bool is_array = value.is_array();
      out += is_array ? '[' : '{';
      size_t shown = 0;
      for (auto it = value.begin(); it != value.end(); ++it, ++shown) {
        if (shown > 0) out += ", ";
        if (out.size() >= kExcerptBytes || depth >= 3) {
          out += "...";
          break;
        }
        if (!is_array) out += Excerpt(json(it.key()).dump(-1, ' ', false, json::error_handler_t::replace), 20) + ": ";
        DescribeInto(*it, out, depth + 1);
      }
      out += is_array ? ']' : '}';
      return;
    }
    default:
      out += value.dump();  // a number, true, false, null: a few bytes
  }
}

bool Utf8Valid(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto byte = static_cast<unsigned char>(text[i]);
    size_t length = byte < 0x80 ? 1 : (byte >> 5) == 0x6 ? 2 : (byte >> 4) == 0xe ? 3 : (byte >> 3) == 0x1e ? 4 : 0;
    if (length == 0 || i + length > text.size()) return false;
    uint32_t code = length == 1 ? byte : byte & (0x7f >> length);
    for (size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xc0) != 0x80) return false;
      code = code << 6 | (next & 0x3f);
    }
    // Overlong forms, UTF-16 surrogates and values past U+10FFFF are not UTF-8.
    const uint32_t smallest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code < smallest[length] || (code >= 0xd800 && code <= 0xdfff) || code > 0x10ffff) return false;
    i += length;
  }
  return true;
}

std::string FindInvalidUtf8Within(const json& value, const std::string& path, int depth) {
  if (value.is_string()) return Utf8Valid(value.get_ref<const std::string&>()) ? "" : (path.empty() ? "(the value)" : path);
  if (depth > kMaxJsonDepth || !value.is_structured()) return "";
  size_t index = 0;
  for (auto it = value.begin(); it != value.end(); ++it, ++index) {
    const std::string child = value.is_array() ? path + "[" + std::to_string(index) + "]"
                                               : path + (path.empty() ? "" : ".") + Excerpt(it.key(), 40);
    if (value.is_object() && !Utf8Valid(it.key())) return child + " (the key)";
    if (std::string found = FindInvalidUtf8Within(*it, child, depth + 1); !found.empty()) return found;
  }
  return "";
}

}  // namespace

bool IsValidUtf8(std::string_view text) { return Utf8Valid(text); }

std::string FindInvalidUtf8(const json& value) { return FindInvalidUtf8Within(value, "", 0); }

json ParseJson(std::string_view text, const std::string& source) {
  if (size_t byte = TooDeepAt(text))
    throw Error(source + ": nested deeper than " + std::to_string(kMaxJsonDepth) + " levels at " + Location(text, byte) +
                "; Tensorscope reads at most " + std::to_string(kMaxJsonDepth) + " levels of [ and {.");
  json root;
  DomBuilder builder(root);
  if (json::sax_parse(text, &builder)) return root;
  if (builder.too_many_values())
    throw Error(source + ": holds more than " + std::to_string(kMaxJsonValues) + " values (the next one at " +
                (builder.error_field().empty() ? std::string("the top") : builder.error_field()) +
                "); Tensorscope's files hold far fewer (a 1000-layer model about 10000).");
  const std::string field = builder.error_field().empty() ? "" : builder.error_field() + ": ";
  if (builder.error_id() == 406)  // out_of_range.406: a number beyond a double's range
    throw Error(source + ": " + field + "number out of range at " + Location(text, builder.error_position()) +
                ": found " + builder.error_token() + ", beyond what a double can hold.");
  throw Error(source + ": not valid JSON at " + Location(text, builder.error_position()) +
              (builder.error_field().empty() ? "" : ", in " + builder.error_field()) + ": " +
              SyntaxReason(builder.error_text()));
}

json ReadJsonFile(const std::string& path, std::string_view what) {
  return ParseJson(ReadRegularFile(path, kMaxJsonFileBytes, what), path);
}

std::string DescribeJson(const json& value) {
  std::string excerpt;
  DescribeInto(value, excerpt, 0);
  return std::string(value.type_name()) + " " + excerpt;
}

std::string DumpJson(const json& value, const std::string& destination, int indent) {
  try {
    return value.dump(indent);
  } catch (const json::type_error& error) {
    const std::string field = FindInvalidUtf8(value);
    if (error.id == 316 && !field.empty())
      throw Error(destination + ": " + field + " is not valid UTF-8 text, which a JSON file cannot hold; not saved.");
    throw Error(destination + ": cannot write the JSON: " + JsonExceptionText(error));
  }
}

json TextToJson(const std::string& text) {
  if (IsValidUtf8(text)) return text;
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char byte : text) hex.append({kDigits[byte >> 4], kDigits[byte & 15]});
  return {{"bytes_hex", hex}};
}

std::string TextFromJson(const json& value, const std::string& where, std::string_view what) {
  if (value.is_string()) return value.get<std::string>();
  const auto fail = [&] {
    throw Error(where + ": expected " + std::string(what) +
                " (a string, or {\"bytes_hex\": \"...\"} for bytes that are not UTF-8), found " + DescribeJson(value) +
                ".");
  };
  if (!value.is_object() || value.size() != 1 || !value.contains("bytes_hex") || !value["bytes_hex"].is_string()) fail();
  const std::string& hex = value["bytes_hex"].get_ref<const std::string&>();
  if (hex.size() % 2 != 0) fail();
  auto digit = [&](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    fail();
    return 0;
  };
  std::string text;
  for (size_t i = 0; i < hex.size(); i += 2) text += static_cast<char>(digit(hex[i]) * 16 + digit(hex[i + 1]));
  return text;
}

std::string JsonExceptionText(const json::exception& error) {
  return SyntaxReason(error.what());
}

}  // namespace ts
