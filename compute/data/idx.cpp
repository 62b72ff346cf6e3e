#include "compute/data/idx.h"

#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>

#include "compute/common/error.h"

namespace ts::data {
namespace {

constexpr uint32_t kImagesMagic = 0x00000803;  // unsigned bytes, 3 dimensions
constexpr uint32_t kLabelsMagic = 0x00000801;  // unsigned bytes, 1 dimension
constexpr uint32_t kIdxClassCount = 10;

std::string Hex32(uint32_t value) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%08X", value);
  return text;
}

std::vector<uint8_t> ReadRawFile(const std::string& path) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) throw Error(path + ": cannot open the file: " + std::strerror(errno));
  std::vector<uint8_t> bytes;
  std::error_code ignored;
  const auto size_hint = std::filesystem::file_size(path, ignored);
  if (!ignored) bytes.reserve(size_hint);
  std::vector<uint8_t> chunk(1 << 16);
  size_t got;
  while ((got = std::fread(chunk.data(), 1, chunk.size(), file.get())) > 0)
    bytes.insert(bytes.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(got));
  // fread reports a directory (EISDIR) or an I/O failure only through ferror.
  if (std::ferror(file.get())) throw Error(path + ": cannot read the file: " + std::strerror(errno));
  return bytes;
}

bool HasGzipMagic(const std::vector<uint8_t>& bytes, size_t offset = 0) {
  return bytes.size() >= offset + 2 && bytes[offset] == 0x1f && bytes[offset + 1] == 0x8b;
}

std::vector<uint8_t> Gunzip(const std::vector<uint8_t>& compressed, const std::string& path) {
  Require(compressed.size() < UINT_MAX,
          path + ": the gzip file is " + std::to_string(compressed.size()) +
              " bytes, expected less than 4 GiB");
  z_stream stream{};
  // 15 + 16: maximum window, and expect a gzip (not zlib) wrapper.
  Require(inflateInit2(&stream, 15 + 16) == Z_OK, path + ": zlib could not start decompressing");
  std::unique_ptr<z_stream, int (*)(z_stream*)> cleanup(&stream, &inflateEnd);

  stream.next_in = const_cast<Bytef*>(compressed.data());
  stream.avail_in = static_cast<uInt>(compressed.size());
  std::vector<uint8_t> out(std::max<size_t>(compressed.size() * 4, 1 << 16));
  size_t produced = 0;
  auto compressed_offset = [&] { return std::to_string(stream.next_in - compressed.data()); };
  for (;;) {
    if (produced == out.size()) out.resize(out.size() * 2);
    stream.next_out = out.data() + produced;
    stream.avail_out = static_cast<uInt>(std::min<size_t>(out.size() - produced, UINT_MAX));
    const int status = inflate(&stream, Z_NO_FLUSH);
    produced = static_cast<size_t>(stream.next_out - out.data());
    if (status == Z_STREAM_END) {
      if (stream.avail_in == 0) break;
      const size_t next = static_cast<size_t>(stream.next_in - compressed.data());
      Require(HasGzipMagic(compressed, next),
              path + ": byte offset " + std::to_string(next) +
                  ": expected another gzip member or the end of the file after the gzip stream, found " +
                  std::to_string(stream.avail_in) + " more bytes");
      inflateReset(&stream);
      continue;
    }
    if (status != Z_OK && status != Z_BUF_ERROR)
      throw Error(path + ": corrupt gzip data near compressed byte offset " + compressed_offset() + ": " +
                  (stream.msg ? stream.msg : "zlib error " + std::to_string(status)));
    if (stream.avail_in == 0 && stream.avail_out > 0)
      throw Error(path + ": truncated gzip data: expected the gzip end-of-stream marker, found the end of the file at byte offset " +
                  compressed_offset() + " (after " + std::to_string(produced) + " decompressed bytes)");
  }
  out.resize(produced);
  out.shrink_to_fit();
  return out;
}

uint32_t ReadBigEndian32(const std::vector<uint8_t>& bytes, size_t offset) {
  return uint32_t{bytes[offset]} << 24 | uint32_t{bytes[offset + 1]} << 16 |
         uint32_t{bytes[offset + 2]} << 8 | uint32_t{bytes[offset + 3]};
}

struct IdxFile {
  std::vector<uint8_t> bytes;  // decompressed
  bool gzipped = false;
  std::vector<uint32_t> dims;  // e.g. {count, rows, cols}
  size_t header_size = 0;      // the data starts here

  // "path: byte offset N", saying when N counts decompressed bytes.
  std::string At(const std::string& path, size_t offset) const {
    return path + ": byte offset " + std::to_string(offset) + (gzipped ? " (decompressed)" : "");
  }
};

std::string DescribeContent(const std::vector<uint32_t>& dims) {
  if (dims.size() == 1) return std::to_string(dims[0]) + " labels";
  return std::to_string(dims[0]) + " images of " + std::to_string(dims[1]) + "x" + std::to_string(dims[2]);
}

// Reads an IDX file and checks its magic number and that its size matches the
// header exactly.
IdxFile ReadIdx(const std::string& path, uint32_t expected_magic) {
  const std::string kind = expected_magic == kImagesMagic ? "images" : "labels";
  const std::string expected_description =
      "IDX magic number " + Hex32(expected_magic) + " (" + kind + ": unsigned bytes, " +
      std::to_string(expected_magic & 0xff) + " dimension" + (expected_magic == kLabelsMagic ? "" : "s") + ")";
  IdxFile idx;
  idx.bytes = ReadRawFile(path);
  idx.gzipped = HasGzipMagic(idx.bytes);
  if (idx.gzipped) idx.bytes = Gunzip(idx.bytes, path);
  const std::string size_note = idx.gzipped ? " decompressed" : "";
  const std::vector<uint8_t>& bytes = idx.bytes;
  Require(bytes.size() >= 4, idx.At(path, 0) + ": expected the " + expected_description + ", found a " +
                                 std::to_string(bytes.size()) + "-byte" + size_note + " file");
  const uint32_t magic = ReadBigEndian32(bytes, 0);
  if (magic != expected_magic) {
    std::string hint;
    if (magic == kImagesMagic || magic == kLabelsMagic)
      hint = " -- this is an IDX " + std::string(magic == kImagesMagic ? "images" : "labels") +
             " file; are the images and labels paths swapped?";
    else if ((magic >> 8) == 0x08)
      hint = " (an unsigned-byte IDX file with " + std::to_string(magic & 0xff) + " dimensions)";
    throw Error(idx.At(path, 0) + ": expected " + expected_description + ", found " + Hex32(magic) + hint);
  }

  const size_t dim_count = magic & 0xff;
  idx.header_size = 4 + 4 * dim_count;
  Require(bytes.size() >= idx.header_size,
          path + ": truncated header: expected " + std::to_string(idx.header_size) +
              " bytes (magic number and " + std::to_string(dim_count) + " dimension sizes), found " +
              std::to_string(bytes.size()) + size_note + " bytes");
  uint64_t data_size = 1;
  for (size_t d = 0; d < dim_count; ++d) {
    const size_t offset = 4 + 4 * d;
    const uint32_t extent = ReadBigEndian32(bytes, offset);
    Require(extent > 0, idx.At(path, offset) + ": expected a positive " +
                            (d == 0 ? kind + " count" : d == 1 ? "row count" : "column count") + ", found 0");
    Require(data_size <= std::numeric_limits<uint64_t>::max() / extent,
            path + ": the header describes more data than any file can hold");
    data_size *= extent;
    idx.dims.push_back(extent);
  }
  const uint64_t expected_size = idx.header_size + data_size;
  if (bytes.size() != expected_size)
    throw Error(path + ": " + (bytes.size() < expected_size ? "truncated" : "longer than its header says") +
                ": expected " + std::to_string(expected_size) + " bytes (" + std::to_string(idx.header_size) +
                "-byte header + " + DescribeContent(idx.dims) + "), found " + std::to_string(bytes.size()) +
                size_note + " bytes");
  return idx;
}

bool ContainsFashion(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text.find("fashion") != std::string::npos;
}

}  // namespace

std::vector<uint8_t> ReadPossiblyGzippedFile(const std::string& path) {
  std::vector<uint8_t> bytes = ReadRawFile(path);
  return HasGzipMagic(bytes) ? Gunzip(bytes, path) : bytes;
}

Dataset LoadIdx(const std::string& images_path, const std::string& labels_path, const std::string& name) {
  IdxFile images = ReadIdx(images_path, kImagesMagic);
  const IdxFile labels = ReadIdx(labels_path, kLabelsMagic);
  const uint32_t count = images.dims[0];
  Require(labels.dims[0] == count, images_path + " holds " + std::to_string(count) + " images but " +
                                       labels_path + " holds " + std::to_string(labels.dims[0]) +
                                       " labels: expected one label per image");

  Dataset dataset;
  dataset.name = name.empty() ? std::filesystem::path(images_path).filename().string() : name;
  dataset.sample_shape = {1, images.dims[1], images.dims[2]};
  dataset.num_classes = kIdxClassCount;
  if (ContainsFashion(dataset.name) || ContainsFashion(images_path))
    dataset.class_names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                           "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  else
    for (uint32_t digit = 0; digit < kIdxClassCount; ++digit) dataset.class_names.push_back(std::to_string(digit));
  dataset.format = FeatureFormat::kUint8;
  dataset.scale = 1.0f / 255.0f;
  dataset.offset = 0.0f;

  dataset.labels.resize(count);
  for (uint32_t i = 0; i < count; ++i) {
    const uint8_t label = labels.bytes[labels.header_size + i];
    if (label >= kIdxClassCount)
      throw Error(labels.At(labels_path, labels.header_size + i) + " (label of image " +
                  std::to_string(i) + "): expected a class index below " + std::to_string(kIdxClassCount) +
                  ", found " + std::to_string(label));
    dataset.labels[i] = label;
  }
  // Drop the header in place rather than copying 47 MB of pixels.
  images.bytes.erase(images.bytes.begin(), images.bytes.begin() + static_cast<std::ptrdiff_t>(images.header_size));
  dataset.features_u8 = std::move(images.bytes);
  return dataset;
}

}  // namespace ts::data
