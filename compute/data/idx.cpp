#include "compute/data/idx.h"

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
#include "compute/data/content_reader.h"

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

uint32_t ReadBigEndian32(const uint8_t* bytes, size_t offset) {
  return uint32_t{bytes[offset]} << 24 | uint32_t{bytes[offset + 1]} << 16 |
         uint32_t{bytes[offset + 2]} << 8 | uint32_t{bytes[offset + 3]};
}

struct IdxFile {
  std::vector<uint8_t> data;   // after the header, decompressed
  bool gzipped = false;
  std::vector<uint32_t> dims;  // e.g. {count, rows, cols}
  size_t header_size = 0;      // the data starts here in the file's content

  // "path: byte offset N", saying when N counts decompressed bytes.
  std::string At(const std::string& path, size_t offset) const {
    return path + ": byte offset " + std::to_string(offset) + (gzipped ? " (decompressed)" : "");
  }
};

std::string DescribeContent(const std::vector<uint32_t>& dims) {
  if (dims.size() == 1) return std::to_string(dims[0]) + " labels";
  return std::to_string(dims[0]) + " images of " + std::to_string(dims[1]) + "x" + std::to_string(dims[2]);
}

// Reads an IDX file: the header first, then checks that the content's size
// matches it exactly -- from the file size when raw; when gzipped, by
// decompressing only as much as the header describes, plus one byte.
IdxFile ReadIdx(const std::string& path, uint32_t expected_magic) {
  const std::string kind = expected_magic == kImagesMagic ? "images" : "labels";
  const std::string expected_description =
      "IDX magic number " + Hex32(expected_magic) + " (" + kind + ": unsigned bytes, " +
      std::to_string(expected_magic & 0xff) + " dimension" + (expected_magic == kLabelsMagic ? "" : "s") + ")";
  IdxFile idx;
  ContentReader reader(path, "an IDX " + kind + " file");
  idx.gzipped = reader.gzipped();
  const std::string size_note = idx.gzipped ? " decompressed" : "";
  uint8_t header[4 + 4 * 3];
  const size_t magic_bytes = reader.Read(header, 4);
  Require(magic_bytes == 4, idx.At(path, 0) + ": expected the " + expected_description + ", found a " +
                                std::to_string(magic_bytes) + "-byte" + size_note + " file");
  const uint32_t magic = ReadBigEndian32(header, 0);
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
  const size_t dim_bytes = reader.Read(header + 4, 4 * dim_count);
  Require(dim_bytes == 4 * dim_count,
          path + ": truncated header: expected " + std::to_string(idx.header_size) +
              " bytes (magic number and " + std::to_string(dim_count) + " dimension sizes), found " +
              std::to_string(4 + dim_bytes) + size_note + " bytes");
  uint64_t data_size = 1;
  for (size_t d = 0; d < dim_count; ++d) {
    const size_t offset = 4 + 4 * d;
    const uint32_t extent = ReadBigEndian32(header, offset);
    Require(extent > 0, idx.At(path, offset) + ": expected a positive " +
                            (d == 0 ? kind + " count" : d == 1 ? "row count" : "column count") + ", found 0");
    Require(data_size <= std::numeric_limits<uint64_t>::max() / extent,
            path + ": the header describes more data than any file can hold");
    data_size *= extent;
    idx.dims.push_back(extent);
  }
  const uint64_t expected_size = idx.header_size + data_size;
  const std::string expected_text = "expected " + std::to_string(expected_size) + " bytes (" +
                                    std::to_string(idx.header_size) + "-byte header + " + DescribeContent(idx.dims) + ")";
  if (!idx.gzipped && reader.file_size() != expected_size)
    throw Error(path + ": " + (reader.file_size() < expected_size ? "truncated" : "longer than its header says") + ": " +
                expected_text + ", found " + std::to_string(reader.file_size()) + " bytes");
  if (idx.gzipped && expected_size > kMaxDeflateRatio * reader.file_size())
    throw Error(path + ": truncated: " + expected_text + ", but " + std::to_string(reader.file_size()) +
                " gzip bytes unpack to at most " + std::to_string(kMaxDeflateRatio * reader.file_size()));

  // The data grows as it arrives, so a header that promises more than the
  // file holds costs no more memory than the file does.
  idx.data = reader.ReadUpTo(data_size);
  if (idx.data.size() < data_size)
    throw Error(path + ": truncated: " + expected_text + ", found " + std::to_string(idx.header_size + idx.data.size()) +
                size_note + " bytes");
  uint8_t extra;
  if (reader.Read(&extra, 1) != 0)
    throw Error(path + ": longer than its header says: " + expected_text + ", found more" + size_note + " bytes");
  return idx;
}

bool ContainsFashion(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text.find("fashion") != std::string::npos;
}

}  // namespace

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
    const uint8_t label = labels.data[i];
    if (label >= kIdxClassCount)
      throw Error(labels.At(labels_path, labels.header_size + i) + " (label of image " +
                  std::to_string(i) + "): expected a class index below " + std::to_string(kIdxClassCount) +
                  ", found " + std::to_string(label));
    dataset.labels[i] = label;
  }
  dataset.features_u8 = std::move(images.data);
  return dataset;
}

}  // namespace ts::data
