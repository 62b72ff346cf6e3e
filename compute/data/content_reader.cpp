#include "compute/data/content_reader.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include "compute/common/error.h"
#include "compute/common/file_read.h"

namespace ts::data {
namespace {

constexpr size_t kInputChunk = size_t{1} << 16;

}  // namespace

ContentReader::ContentReader(const std::string& path, std::string_view what)
    : path_(path), file_(nullptr, &std::fclose), input_(kInputChunk) {
  file_size_ = RequireRegularFile(path, what);
  file_.reset(std::fopen(path.c_str(), "rb"));
  if (!file_) throw Error(path + ": cannot open the file: " + std::strerror(errno));
  Fill(2);
  gzipped_ = stream_.avail_in >= 2 && stream_.next_in[0] == 0x1f && stream_.next_in[1] == 0x8b;
  size_hint_ = file_size_;
  if (gzipped_) {
    // 15 + 16: the largest window, and a gzip (not zlib) wrapper.
    Require(inflateInit2(&stream_, 15 + 16) == Z_OK, path + ": zlib could not start decompressing");
    inflating_ = true;
    // The last member's trailer ends with its size modulo 2^32 (ISIZE), a
    // hint only: no more than deflate can unpack from this file.
    size_hint_ = 0;
    uint8_t trailer[4];
    if (file_size_ >= 18 && std::fseek(file_.get(), -4, SEEK_END) == 0 && std::fread(trailer, 1, 4, file_.get()) == 4)
      size_hint_ = std::min(uint64_t{trailer[0]} | uint64_t{trailer[1]} << 8 | uint64_t{trailer[2]} << 16 |
                                uint64_t{trailer[3]} << 24,
                            kMaxDeflateRatio * file_size_);
    Require(std::fseek(file_.get(), static_cast<long>(input_start_ + stream_.avail_in), SEEK_SET) == 0,
            path + ": cannot read the file: " + std::strerror(errno));
  }
}

ContentReader::~ContentReader() {
  if (inflating_) inflateEnd(&stream_);
}

uint64_t ContentReader::CompressedOffset() const {
  return input_start_ + (stream_.next_in ? static_cast<uint64_t>(stream_.next_in - input_.data()) : 0);
}

bool ContentReader::Fill(size_t bytes) {
  if (stream_.avail_in >= bytes) return true;
  // Keep the unread bytes, moved to the front, and read after them.
  const size_t kept = stream_.avail_in;
  input_start_ = CompressedOffset();
  if (kept) std::memmove(input_.data(), stream_.next_in, kept);
  size_t have = kept;
  while (have < bytes) {
    const size_t got = std::fread(input_.data() + have, 1, input_.size() - have, file_.get());
    if (std::ferror(file_.get())) throw Error(path_ + ": cannot read the file: " + std::strerror(errno));
    have += got;
    if (got == 0) break;
  }
  stream_.next_in = input_.data();
  stream_.avail_in = static_cast<uInt>(have);
  return have > 0;
}

size_t ContentReader::Read(uint8_t* out, size_t size) {
  size_t done = 0;
  if (!gzipped_) {
    while (done < size && Fill(1)) {
      const size_t take = std::min<size_t>(size - done, stream_.avail_in);
      std::memcpy(out + done, stream_.next_in, take);
      stream_.next_in += take;
      stream_.avail_in -= static_cast<uInt>(take);
      done += take;
    }
    produced_ += done;
    return done;
  }
  while (done < size && !ended_) {
    if (!Fill(1))
      throw Error(path_ + ": truncated gzip data: expected the gzip end-of-stream marker, found the end of the file at "
                  "byte offset " + std::to_string(CompressedOffset()) + " (after " + std::to_string(produced_ + done) +
                  " decompressed bytes)");
    stream_.next_out = out + done;
    stream_.avail_out = static_cast<uInt>(std::min<size_t>(size - done, UINT_MAX));
    const int status = inflate(&stream_, Z_NO_FLUSH);
    done = static_cast<size_t>(stream_.next_out - out);
    if (status == Z_STREAM_END) {
      // The end of one member: the file ends, or another member starts.
      if (!Fill(2)) {
        ended_ = true;
        break;
      }
      if (stream_.avail_in < 2 || stream_.next_in[0] != 0x1f || stream_.next_in[1] != 0x8b)
        throw Error(path_ + ": byte offset " + std::to_string(CompressedOffset()) +
                    ": expected another gzip member or the end of the file after the gzip stream, found " +
                    std::to_string(file_size_ - CompressedOffset()) + " more bytes");
      inflateReset(&stream_);
      continue;
    }
    if (status != Z_OK && status != Z_BUF_ERROR)
      throw Error(path_ + ": corrupt gzip data near compressed byte offset " + std::to_string(CompressedOffset()) +
                  ": " + (stream_.msg ? stream_.msg : "zlib error " + std::to_string(status)));
  }
  produced_ += done;
  return done;
}

std::vector<uint8_t> ContentReader::ReadUpTo(uint64_t count) {
  constexpr uint64_t kSmallest = uint64_t{1} << 16, kLargest = uint64_t{4} << 20;
  std::vector<uint8_t> bytes;
  bytes.reserve(static_cast<size_t>(std::min(count, size_hint_)));
  while (bytes.size() < count) {
    const size_t before = bytes.size();
    // What the size hint says is left (and a byte more, to see the end), in
    // pieces of 64 KiB to 4 MiB: a small file costs a small read.
    const uint64_t left = size_hint_ > before ? size_hint_ - before + 1 : kSmallest;
    const size_t want = static_cast<size_t>(std::min({count - before, kLargest, std::max(left, kSmallest)}));
    bytes.resize(before + want);
    const size_t got = Read(bytes.data() + before, want);
    bytes.resize(before + got);
    if (got < want) break;
  }
  return bytes;
}

std::vector<uint8_t> ReadContent(const std::string& path, uint64_t max_bytes, std::string_view what) {
  ContentReader reader(path, what);
  if (!reader.gzipped() && reader.file_size() > max_bytes)
    throw Error(path + ": the file is " + std::to_string(reader.file_size()) + " bytes; " + std::string(what) +
                " may be at most " + ByteSizeText(max_bytes) + ".");
  // One byte past the limit at most, to notice that it was passed.
  std::vector<uint8_t> bytes = reader.ReadUpTo(max_bytes + 1);
  if (bytes.size() > max_bytes)
    throw Error(path + ": decompresses to more than " + ByteSizeText(max_bytes) + "; " + std::string(what) +
                " may hold at most " + ByteSizeText(max_bytes) + ".");
  return bytes;
}

}  // namespace ts::data
