// Character-level text for sequence models: a UTF-8 file (or the built-in
// corpus) cut into windows of `context` characters, each with the character
// after every position as its labels.
//
// The vocabulary is the file's distinct characters (Unicode code points) in
// code-point order; a character's token id is its index. It is kept as the
// dataset's class_names (one UTF-8 string per token), so it travels with a
// checkpoint like any other class list, and `tensorscope sample` decodes with it.
//
// Window i covers characters [i*context, (i+1)*context): its features are
// their token ids (as float32 values, exact below 2^24) and its labels the ids
// of characters [i*context + 1, (i+1)*context + 1) (labels_per_sample = context).
// The text is split in order: the first (1 - val_fraction) of it trains, the
// rest (a contiguous tail, never seen in training) is the test set.
//
// Specs (see registry.h):
//   text:PATH[:context=N,val_fraction=X]   any UTF-8 file
//   kjv[:context=N,val_fraction=X]         the built-in corpus: the King James
//       Bible (1611, public domain), printed by the `bible` program of Debian's
//       bible-kjv and bible-kjv-text packages: 4.3 MB of English prose in 73
//       distinct characters, no download.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "compute/data/registry.h"

namespace ts::data {

inline constexpr uint32_t kDefaultTextContext = 64;
inline constexpr const char* kBibleProgram = "/usr/bin/bible";

// The characters of UTF-8 `text` as code points. Throws ts::Error naming
// `source` and the byte offset of the first invalid sequence.
std::vector<char32_t> DecodeUtf8(std::string_view text, const std::string& source);
std::string EncodeUtf8(char32_t code_point);

// A vocabulary: token id -> the character's UTF-8 text.
struct Vocabulary {
  std::vector<std::string> tokens;
  // Token ids of `text`; a character outside the vocabulary throws ts::Error naming it.
  std::vector<uint32_t> Encode(std::string_view text, const std::string& source) const;
  std::string Decode(const std::vector<uint32_t>& ids) const;
};

// The windows of `ids` (see above) as a dataset named `name`.
Dataset TextWindows(const std::vector<uint32_t>& ids, const Vocabulary& vocabulary, uint32_t context,
                    const std::string& name);

// Loads "text:..." / "kjv..." specs (after the kind: `path` empty for kjv).
DataSplit LoadTextSpec(std::string_view spec, std::string_view kind, std::string_view rest);
// The built-in corpus's text; throws ts::Error saying which packages to install when absent.
std::string BuiltInCorpus();

}  // namespace ts::data
