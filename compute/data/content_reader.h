// Reads a data file's content in pieces, raw or gzipped (by the magic bytes
// 1f 8b; concatenated gzip members are accepted), so a loader can check a
// header before it reads -- or decompresses -- the rest, and so nothing is
// decompressed beyond what the loader asks for.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ts::data {

// gzip's deflate packs at most 1032 bytes into one (258-byte matches coded in
// 2 bits): more content than this many times the file's size is impossible.
inline constexpr uint64_t kMaxDeflateRatio = 1032;

class ContentReader {
 public:
  // Opens `path`; throws ts::Error naming it when it is missing, not a regular
  // file (`what` says what it should be: "an IDX file") or unreadable.
  ContentReader(const std::string& path, std::string_view what);
  ~ContentReader();
  ContentReader(const ContentReader&) = delete;
  ContentReader& operator=(const ContentReader&) = delete;

  bool gzipped() const { return gzipped_; }
  uint64_t file_size() const { return file_size_; }
  const std::string& path() const { return path_; }

  // Reads up to `size` content bytes into `out` and returns how many: fewer
  // only at the end of the content. Throws ts::Error naming the file and the
  // compressed byte offset for corrupt or truncated gzip data, or bytes after
  // the last gzip member that do not start another.
  size_t Read(uint8_t* out, size_t size);
  // Content bytes read so far.
  uint64_t produced() const { return produced_; }
  // The next content bytes, `count` of them or fewer at the end of the
  // content. The result grows as bytes arrive (never by what a header
  // promises), its capacity reserved once from the size the file itself
  // states: its length when raw, the gzip trailer's when gzipped.
  std::vector<uint8_t> ReadUpTo(uint64_t count);

 private:
  // Makes at least `bytes` compressed bytes available (fewer at the end of
  // the file); returns false when none are left.
  bool Fill(size_t bytes);
  uint64_t CompressedOffset() const;

  std::string path_;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file_;
  uint64_t file_size_ = 0;
  bool gzipped_ = false;
  uint64_t size_hint_ = 0;  // the content's size as the file states it (gzip: modulo 2^32)
  bool ended_ = false;
  bool inflating_ = false;
  z_stream stream_{};
  std::vector<uint8_t> input_;
  uint64_t input_start_ = 0;  // file offset of input_[0]
  uint64_t produced_ = 0;
};

// The whole content of `path`, at most `max_bytes` of it (decompressed): a
// larger content throws ts::Error saying the limit and `what` the file is,
// as soon as the limit is passed, so a small gzip file never unpacks to more.
std::vector<uint8_t> ReadContent(const std::string& path, uint64_t max_bytes, std::string_view what);

}  // namespace ts::data
