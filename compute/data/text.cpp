#include "compute/data/text.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <map>
#include <memory>
#include <set>

#include "compute/common/error.h"
#include "compute/common/file_read.h"
#include "compute/data/spec_options.h"

namespace ts::data {
namespace {

constexpr uint64_t kMaxTextBytes = uint64_t{256} << 20;  // windows as float32 ids: 8x this on the device

struct TextOptions {
  uint32_t context = kDefaultTextContext;
  double val_fraction = 0.1;
};

TextOptions ParseTextOptions(std::string_view spec, std::string_view text) {
  TextOptions options;
  if (text.empty()) return options;
  for (const auto& [key, value] : SplitSpecOptions("text data spec", spec, text)) {
    if (key == "context") {
      options.context = ParseSpecValue<uint32_t>("text data spec", spec, key, value, "a positive integer");
      if (options.context == 0 || options.context > 4096)
        throw Error("text data spec \"" + std::string(spec) + "\": option context: expected 1 to 4096 characters, found " +
                    std::string(value));
    } else if (key == "val_fraction") {
      options.val_fraction = ParseSpecValue<double>("text data spec", spec, key, value, "a number");
      if (!(options.val_fraction > 0 && options.val_fraction < 1))
        throw Error("text data spec \"" + std::string(spec) + "\": option val_fraction: expected a number in (0, 1), found " +
                    std::string(value));
    } else {
      throw Error("text data spec \"" + std::string(spec) + "\": unknown option \"" + std::string(key) +
                  "\"; known: context, val_fraction");
    }
  }
  return options;
}

std::string ByteText(unsigned char byte) {
  char text[8];
  std::snprintf(text, sizeof text, "0x%02x", byte);
  return text;
}

}  // namespace

std::vector<char32_t> DecodeUtf8(std::string_view text, const std::string& source) {
  std::vector<char32_t> out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const unsigned char lead = static_cast<unsigned char>(text[i]);
    uint32_t length = lead < 0x80 ? 1 : (lead >> 5) == 0x6 ? 2 : (lead >> 4) == 0xe ? 3 : (lead >> 3) == 0x1e ? 4 : 0;
    auto invalid = [&](const std::string& why) {
      return Error(source + ": not UTF-8 text: byte " + std::to_string(i) + " (" + ByteText(lead) + ") " + why +
                   ". Give a UTF-8 text file.");
    };
    if (length == 0) throw invalid("cannot start a character");
    if (i + length > text.size()) throw invalid("starts a " + std::to_string(length) + "-byte character the file cuts short");
    char32_t code = length == 1 ? lead : lead & (0x7f >> length);
    for (uint32_t k = 1; k < length; ++k) {
      const unsigned char next = static_cast<unsigned char>(text[i + k]);
      if ((next >> 6) != 0x2) throw invalid("is followed by " + ByteText(next) + ", not a continuation byte");
      code = (code << 6) | (next & 0x3f);
    }
    static constexpr std::array<char32_t, 5> kSmallest{0, 0, 0x80, 0x800, 0x10000};
    if (code < kSmallest[length] || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff))
      throw invalid("begins an overlong or out-of-range character");
    out.push_back(code);
    i += length;
  }
  return out;
}

std::string EncodeUtf8(char32_t c) {
  std::string s;
  if (c < 0x80) {
    s += static_cast<char>(c);
  } else if (c < 0x800) {
    s += static_cast<char>(0xc0 | (c >> 6));
    s += static_cast<char>(0x80 | (c & 0x3f));
  } else if (c < 0x10000) {
    s += static_cast<char>(0xe0 | (c >> 12));
    s += static_cast<char>(0x80 | ((c >> 6) & 0x3f));
    s += static_cast<char>(0x80 | (c & 0x3f));
  } else {
    s += static_cast<char>(0xf0 | (c >> 18));
    s += static_cast<char>(0x80 | ((c >> 12) & 0x3f));
    s += static_cast<char>(0x80 | ((c >> 6) & 0x3f));
    s += static_cast<char>(0x80 | (c & 0x3f));
  }
  return s;
}

std::vector<uint32_t> Vocabulary::Encode(std::string_view text, const std::string& source) const {
  std::map<std::string, uint32_t> ids;
  for (uint32_t i = 0; i < tokens.size(); ++i) ids[tokens[i]] = i;
  std::vector<uint32_t> out;
  for (char32_t c : DecodeUtf8(text, source)) {
    auto it = ids.find(EncodeUtf8(c));
    if (it == ids.end())
      throw Error(source + ": the character \"" + EncodeUtf8(c) + "\" (U+" + [&] {
        char hex[16];
        std::snprintf(hex, sizeof hex, "%04X", static_cast<unsigned>(c));
        return std::string(hex);
      }() + ") is not in the model's vocabulary of " + std::to_string(tokens.size()) + " characters.");
    out.push_back(it->second);
  }
  return out;
}

std::string Vocabulary::Decode(const std::vector<uint32_t>& ids) const {
  std::string text;
  for (uint32_t id : ids) text += id < tokens.size() ? tokens[id] : std::string("\xef\xbf\xbd");  // U+FFFD
  return text;
}

Dataset TextWindows(const std::vector<uint32_t>& ids, const Vocabulary& vocabulary, uint32_t context,
                    const std::string& name) {
  Dataset d;
  d.name = name;
  d.sample_shape = {context};
  d.num_classes = static_cast<uint32_t>(vocabulary.tokens.size());
  d.class_names = vocabulary.tokens;
  d.labels_per_sample = context;
  const size_t windows = ids.size() > context ? (ids.size() - 1) / context : 0;
  d.features_f32.resize(windows * context);
  d.labels.resize(windows * context);
  for (size_t w = 0; w < windows; ++w)
    for (uint32_t t = 0; t < context; ++t) {
      d.features_f32[w * context + t] = static_cast<float>(ids[w * context + t]);
      d.labels[w * context + t] = ids[w * context + t + 1];
    }
  return d;
}

std::string BuiltInCorpus() {
  // The whole Bible, Genesis 1:1 to Revelation 22:21, as the program prints it.
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen((std::string(kBibleProgram) + " Gen1:1-Rev22:21 2>&1").c_str(), "r"),
                                             pclose);
  std::string text;
  if (pipe) {
    char buffer[1 << 16];
    size_t n;
    while ((n = fread(buffer, 1, sizeof buffer, pipe.get())) > 0) text.append(buffer, n);
  }
  const int status = pipe ? pclose(pipe.release()) : -1;
  if (status != 0 || text.size() < 1000000)
    throw Error("the built-in corpus (kjv, the King James Bible) is printed by " + std::string(kBibleProgram) +
                ", which " + (status == -1 ? std::string("could not be run") : "failed (" + text.substr(0, 200) + ")") +
                ". Install Debian's bible-kjv and bible-kjv-text packages (sudo apt-get install bible-kjv "
                "bible-kjv-text), or give any UTF-8 file as text:PATH.");
  return text;
}

DataSplit LoadTextSpec(std::string_view spec, std::string_view kind, std::string_view rest) {
  std::string path, text, option_text;
  if (kind == "kjv") {
    option_text = std::string(rest);
    text = BuiltInCorpus();
    path = "kjv";
  } else {
    // text:PATH or text:PATH:options (options hold '=', a path's last part rarely does).
    path = std::string(rest);
    const size_t colon = path.rfind(':');
    if (colon != std::string::npos && path.find('=', colon) != std::string::npos) {
      option_text = path.substr(colon + 1);
      path.resize(colon);
    }
    if (path.empty()) throw Error("text data spec \"" + std::string(spec) + "\": expected text:PATH, e.g. text:book.txt");
    text = ReadRegularFile(path, kMaxTextBytes, "a text file");
  }
  const TextOptions options = ParseTextOptions(spec, option_text);
  const std::vector<char32_t> characters = DecodeUtf8(text, path);
  std::set<char32_t> distinct(characters.begin(), characters.end());
  Vocabulary vocabulary;
  for (char32_t c : distinct) vocabulary.tokens.push_back(EncodeUtf8(c));
  std::map<char32_t, uint32_t> id_of;
  for (char32_t c : distinct) id_of.emplace(c, static_cast<uint32_t>(id_of.size()));
  std::vector<uint32_t> ids(characters.size());
  for (size_t i = 0; i < characters.size(); ++i) ids[i] = id_of[characters[i]];

  const size_t test_start = static_cast<size_t>(double(ids.size()) * (1.0 - options.val_fraction));
  const std::vector<uint32_t> train_ids(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(test_start));
  const std::vector<uint32_t> test_ids(ids.begin() + static_cast<std::ptrdiff_t>(test_start), ids.end());
  const std::string name = kind == "kjv" ? "kjv" : std::string(spec.substr(0, spec.size() - (option_text.empty() ? 0 : option_text.size() + 1)));
  DataSplit split{TextWindows(train_ids, vocabulary, options.context, name + ":train"),
                  TextWindows(test_ids, vocabulary, options.context, name + ":test")};
  if (vocabulary.tokens.size() < 2 || split.train.count() < 1 || split.test.count() < 1)
    throw Error(path + ": too little text for windows of " + std::to_string(options.context) + " characters (" +
                std::to_string(characters.size()) + " characters, " + std::to_string(vocabulary.tokens.size()) +
                " distinct): each part (train " + std::to_string(100 - int(options.val_fraction * 100)) +
                "%, test " + std::to_string(int(options.val_fraction * 100)) +
                "%) needs more than one window and the text at least 2 distinct characters.");
  return split;
}

}  // namespace ts::data
