#include "compute/data/image_folder.h"

// stb_image's implementation comes from Debian's libstb (libstb-dev).
#include <stb/stb_image.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include "compute/common/error.h"
#include "compute/common/file_read.h"

namespace ts::data {
namespace {

namespace fs = std::filesystem;

constexpr const char* kImageKinds = ".png, .jpg, .jpeg or .bmp";

bool IsHidden(const fs::path& path) { return path.filename().string().starts_with('.'); }

bool HasImageExtension(const fs::path& path) {
  std::string extension = path.extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return extension == ".png" || extension == ".jpg" || extension == ".jpeg" || extension == ".bmp";
}

std::string SizeText(uint32_t width, uint32_t height) { return std::to_string(width) + "x" + std::to_string(height); }

std::string StbReason() {
  const char* reason = stbi_failure_reason();
  return reason ? reason : "unknown reason";
}

// The entries of `directory`, sorted by name, without hidden ones.
std::vector<fs::path> SortedEntries(const fs::path& directory) {
  std::vector<fs::path> entries;
  std::error_code error;
  fs::directory_iterator iterator(directory, error);
  Require(!error, directory.string() + ": cannot list the folder: " + error.message());
  for (const fs::directory_entry& entry : iterator)
    if (!IsHidden(entry.path())) entries.push_back(entry.path());
  std::sort(entries.begin(), entries.end());  // byte-wise, so the order is the same everywhere
  return entries;
}

bool IsDirectory(const fs::path& path) {
  std::error_code ignored;
  return fs::is_directory(path, ignored);  // follows symlinks
}

// For one axis: the input pixels and weights that make each output pixel.
struct AxisTaps {
  std::vector<uint32_t> first;  // (out + 1): output i uses taps [first[i], first[i + 1])
  std::vector<uint32_t> source;
  std::vector<double> weight;
};

AxisTaps MakeAxisTaps(uint32_t in, uint32_t out) {
  AxisTaps taps;
  const double step = static_cast<double>(in) / out;  // input pixels per output pixel
  auto add = [&](uint32_t source, double weight) {
    if (weight <= 0.0) return;
    taps.source.push_back(source);
    taps.weight.push_back(weight);
  };
  for (uint32_t i = 0; i < out; ++i) {
    taps.first.push_back(static_cast<uint32_t>(taps.source.size()));
    if (out < in) {
      // Area average: output i covers input [i * step, (i + 1) * step).
      const double start = i * step, end = (i + 1) * step;
      const uint32_t last = std::min(in, static_cast<uint32_t>(std::ceil(end)));
      for (uint32_t j = static_cast<uint32_t>(start); j < last; ++j)
        add(j, (std::min(end, j + 1.0) - std::max(start, static_cast<double>(j))) / step);
    } else {
      // Bilinear between the two nearest input centres; clamped at the edges.
      const double centre = std::clamp((i + 0.5) * step - 0.5, 0.0, static_cast<double>(in - 1));
      const uint32_t left = static_cast<uint32_t>(centre);
      const double fraction = centre - left;
      add(left, 1.0 - fraction);
      add(std::min(left + 1, in - 1), fraction);
    }
  }
  taps.first.push_back(static_cast<uint32_t>(taps.source.size()));
  return taps;
}

struct ImageHeader {
  fs::path path;
  uint32_t label = 0;
  uint32_t width = 0, height = 0, channels = 0;
};

uint32_t LittleEndian(const uint8_t* bytes, size_t count) {
  uint32_t value = 0;
  for (size_t i = count; i-- > 0;) value = value << 8 | bytes[i];
  return value;
}

// stb_image trusts a BMP's header: a height of INT_MIN reaches abs() (undefined),
// and pixels past the end of the file read as zeros, so a 62-byte file could
// claim 8000 x 40000 pixels. Checked here first: sizes from the header, and
// that an uncompressed image's rows fit in the file. Returns the number of
// rows (a negative height is a top-down image, which stbi_info reports as is),
// or 0 when the header is not one this check knows (stb_image then says why).
uint32_t CheckBmpHeader(const std::string& path, const uint8_t* header, size_t got, uint64_t file_size) {
  if (got < 26) return 0;
  const uint32_t info_size = LittleEndian(header + 14, 4);
  int64_t width = 0, height = 0;
  uint32_t bits = 0, compression = 0;
  if (info_size == 12) {  // OS/2 BITMAPCOREHEADER: unsigned 16-bit sizes
    width = LittleEndian(header + 18, 2);
    height = LittleEndian(header + 20, 2);
    bits = LittleEndian(header + 24, 2);
  } else if (info_size >= 40 && got >= 34) {
    width = static_cast<int32_t>(LittleEndian(header + 18, 4));
    height = static_cast<int32_t>(LittleEndian(header + 22, 4));
    bits = LittleEndian(header + 28, 2);
    compression = LittleEndian(header + 30, 4);
  } else {
    return 0;
  }
  // A negative height is a top-down image, allowed; INT_MIN has no positive.
  if (width <= 0 || height == 0 || height == INT32_MIN)
    throw Error(path + ": bytes 18-25: a BMP of " + std::to_string(width) + " x " + std::to_string(height) +
                " pixels is impossible (expected a positive width and a non-zero height)");
  const uint64_t rows = static_cast<uint64_t>(height < 0 ? -height : height);
  if (static_cast<uint64_t>(width) > kMaxImageSide || rows > kMaxImageSide)
    throw Error(path + ": the BMP header says " + std::to_string(width) + " x " + std::to_string(rows) +
                " pixels; images may be at most " + std::to_string(kMaxImageSide) + " pixels on a side");
  // A depth of 0 gave rows of 0 bytes, so a 28-byte file passed for 3329 x 7753 pixels (found by fuzz_image).
  if (bits != 1 && bits != 4 && bits != 8 && bits != 16 && bits != 24 && bits != 32)
    throw Error(path + (info_size == 12 ? ": bytes 24-25" : ": bytes 28-29") + ": a BMP of " + std::to_string(bits) +
                " bits per pixel is impossible (expected 1, 4, 8, 16, 24 or 32)");
  if (compression != 0 && compression != 3) return static_cast<uint32_t>(rows);  // run-length coded: stb_image refuses it
  const uint64_t row_bytes = (static_cast<uint64_t>(width) * bits + 31) / 32 * 4;
  const uint64_t needed = 14 + uint64_t{info_size} + row_bytes * rows;
  if (file_size < needed)
    throw Error(path + ": truncated BMP: its header describes " + std::to_string(width) + " x " +
                std::to_string(rows) + " pixels of " + std::to_string(bits) + " bits, at least " +
                std::to_string(needed) + " bytes, but the file has " + std::to_string(file_size));
  return static_cast<uint32_t>(rows);
}

// stb_image trusts a PNG chunk's length too: it grows its buffer for the IDAT
// data to the length a chunk claims before reading it, so 80 bytes claiming a
// 1.7 GB chunk took 1.7 GB. Every chunk's length is checked against the file
// here first (the walk reads 8 bytes a chunk and seeks past the rest).
void CheckPngChunks(const std::string& path, uint64_t file_size) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) return;  // stb_image will say why it cannot read it
  uint64_t at = 8;    // after the signature
  uint8_t head[8];
  while (at + 8 <= file_size && std::fseek(file.get(), static_cast<long>(at), SEEK_SET) == 0 &&
         std::fread(head, 1, 8, file.get()) == 8) {
    const uint64_t length = uint64_t{head[0]} << 24 | uint64_t{head[1]} << 16 | uint64_t{head[2]} << 8 | head[3];
    const std::string type(reinterpret_cast<const char*>(head + 4), 4);
    if (at + 12 + length > file_size)
      throw Error(path + ": byte offset " + std::to_string(at) + ": PNG chunk " +
                  (std::all_of(type.begin(), type.end(), [](char c) { return std::isalpha(static_cast<unsigned char>(c)); })
                       ? "'" + type + "'"
                       : "of an unknown type") +
                  " claims " + std::to_string(length) + " bytes of data, but the file has only " +
                  std::to_string(file_size - std::min(file_size, at + 12)) + " left (truncated or corrupt)");
    if (type == "IEND") return;
    at += 12 + length;
  }
}

// The image's size and channels from its header, checked against the limits
// (and, for a BMP, against the file) before anything is decoded.
ImageHeader ReadImageHeader(const std::string& path) {
  std::error_code error;
  Require(fs::exists(path, error), path + ": image file not found");
  const uint64_t file_size = RequireRegularFile(path, "an image file");
  Require(file_size > 0, path + ": the file is empty (0 bytes), expected a PNG, JPEG or BMP image");
  uint8_t header[64] = {};
  size_t got = 0;
  if (std::FILE* file = std::fopen(path.c_str(), "rb")) {
    got = std::fread(header, 1, sizeof header, file);
    std::fclose(file);
  }
  const uint32_t bmp_rows =
      got >= 2 && header[0] == 'B' && header[1] == 'M' ? CheckBmpHeader(path, header, got, file_size) : 0;
  static constexpr uint8_t kPngSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (got >= 8 && std::equal(kPngSignature, kPngSignature + 8, header)) CheckPngChunks(path, file_size);
  int width = 0, height = 0, channels = 0;
  if (!stbi_info(path.c_str(), &width, &height, &channels))
    throw Error(path + ": cannot decode the image: " + StbReason());
  if (bmp_rows) height = static_cast<int>(bmp_rows);
  Require(width > 0 && height > 0, path + ": expected an image of at least 1x1 pixels, found " +
                                       std::to_string(width) + "x" + std::to_string(height));
  Require(uint64_t(width) <= kMaxImageSide && uint64_t(height) <= kMaxImageSide &&
              uint64_t(width) * uint64_t(height) <= kMaxImagePixels,
          path + ": the image is " + SizeText(width, height) + " pixels; images may be at most " +
              std::to_string(kMaxImageSide) + " pixels on a side and " + std::to_string(kMaxImagePixels) +
              " pixels in all (" + SizeText(8192, 4096) + "). Scale it down first.");
  return {path, 0, static_cast<uint32_t>(width), static_cast<uint32_t>(height), static_cast<uint32_t>(channels)};
}

}  // namespace

Image ConvertChannels(const Image& image, uint32_t channels) {
  Require(channels == 1 || channels == 3, "converting an image: expected 1 or 3 channels, found " +
                                              std::to_string(channels));
  Require(image.channels >= 1 && image.channels <= 4, "converting an image: expected an image of 1 to 4 channels, "
                                                      "found " + std::to_string(image.channels));
  const size_t pixel_count = size_t{image.width} * image.height;
  Image converted{image.width, image.height, channels, std::vector<uint8_t>(pixel_count * channels)};
  const bool has_colour = image.channels >= 3;  // 2 and 4 are gray and RGB plus alpha
  for (size_t p = 0; p < pixel_count; ++p) {
    const uint8_t* in = image.pixels.data() + p * image.channels;
    uint8_t* out = converted.pixels.data() + p * channels;
    if (channels == 1) {
      // Rec. 601 luma in integers, so every platform rounds the same way.
      out[0] = has_colour ? static_cast<uint8_t>((299u * in[0] + 587u * in[1] + 114u * in[2] + 500u) / 1000u) : in[0];
    } else {
      for (uint32_t c = 0; c < 3; ++c) out[c] = has_colour ? in[c] : in[0];
    }
  }
  return converted;
}

Image ResizeImage(const Image& image, uint32_t width, uint32_t height) {
  Require(width > 0 && height > 0, "resizing an image: expected a positive target size, found " +
                                       SizeText(width, height));
  Require(image.width > 0 && image.height > 0, "resizing an image: the image is empty (" +
                                                   SizeText(image.width, image.height) + ")");
  if (width == image.width && height == image.height) return image;
  const uint32_t channels = image.channels;
  const AxisTaps across = MakeAxisTaps(image.width, width);
  const AxisTaps down = MakeAxisTaps(image.height, height);

  // Source rows resampled across, made as the output rows ask for them; the
  // taps walk down the source, so two kept rows serve every reuse (bilinear's
  // pair, area averaging's shared edge row) and memory stays two rows wide
  // whatever the source's height.
  struct AcrossRow {
    uint32_t source = UINT32_MAX;  // none yet
    std::vector<double> values;
  };
  AcrossRow kept[2];
  auto across_row = [&](uint32_t y) -> const std::vector<double>& {
    for (AcrossRow& row : kept)
      if (row.source == y) return row.values;
    AcrossRow& row = kept[0].source == UINT32_MAX ? kept[0]
                     : kept[1].source == UINT32_MAX ? kept[1]
                     : kept[kept[0].source < kept[1].source ? 0 : 1];
    row.source = y;
    row.values.assign(size_t{width} * channels, 0.0);
    for (uint32_t x = 0; x < width; ++x)
      for (uint32_t t = across.first[x]; t < across.first[x + 1]; ++t) {
        const uint8_t* in = image.pixels.data() + (size_t{y} * image.width + across.source[t]) * channels;
        double* out = row.values.data() + size_t{x} * channels;
        for (uint32_t c = 0; c < channels; ++c) out[c] += across.weight[t] * in[c];
      }
    return row.values;
  };

  Image resized{width, height, channels, std::vector<uint8_t>(size_t{height} * width * channels)};
  std::vector<double> sum(size_t{width} * channels);
  for (uint32_t y = 0; y < height; ++y) {
    std::fill(sum.begin(), sum.end(), 0.0);
    for (uint32_t t = down.first[y]; t < down.first[y + 1]; ++t) {
      const std::vector<double>& in = across_row(down.source[t]);
      for (size_t i = 0; i < sum.size(); ++i) sum[i] += down.weight[t] * in[i];
    }
    uint8_t* out = resized.pixels.data() + size_t{y} * width * channels;
    for (size_t i = 0; i < sum.size(); ++i) out[i] = static_cast<uint8_t>(std::lround(std::clamp(sum[i], 0.0, 255.0)));
  }
  return resized;
}

Image ReadImage(const std::string& path, uint32_t channels) {
  Require(channels <= 3 && channels != 2, path + ": expected 0 (as stored), 1 or 3 channels, found " +
                                              std::to_string(channels));
  ReadImageHeader(path);
  int width = 0, height = 0, stored_channels = 0;
  std::unique_ptr<stbi_uc, void (*)(void*)> pixels(stbi_load(path.c_str(), &width, &height, &stored_channels, 0),
                                                   &stbi_image_free);
  if (!pixels) throw Error(path + ": cannot decode the image: " + StbReason());
  Require(width > 0 && height > 0, path + ": expected an image of at least 1x1 pixels, found " +
                                       std::to_string(width) + "x" + std::to_string(height));
  Image image{static_cast<uint32_t>(width), static_cast<uint32_t>(height), static_cast<uint32_t>(stored_channels), {}};
  image.pixels.assign(pixels.get(), pixels.get() + size_t{image.width} * image.height * image.channels);
  if (channels == 0) channels = image.channels >= 3 ? 3 : 1;
  if (image.channels == channels) return image;
  return ConvertChannels(image, channels);
}

bool HasTrainTestFolders(const std::string& directory) {
  return IsDirectory(fs::path(directory) / "train") && IsDirectory(fs::path(directory) / "test");
}

ImageFolderListing ListImageFolder(const std::string& directory, const std::vector<std::string>& class_names) {
  const fs::path root(directory);
  {
    std::error_code error;
    const fs::file_status status = fs::status(root, error);
    Require(fs::exists(status), directory + ": image folder not found");
    Require(fs::is_directory(status), directory + ": expected a folder with one subfolder per class, found a file");
  }

  // Classes: the subfolders, in sorted order or in class_names' order.
  std::vector<fs::path> class_folders;
  size_t loose_images = 0;  // images directly in the root, to explain a missing level of folders
  for (const fs::path& entry : SortedEntries(root)) {
    if (IsDirectory(entry))
      class_folders.push_back(entry);
    else if (HasImageExtension(entry))
      ++loose_images;
  }
  if (class_folders.empty())
    throw Error(directory + ": expected one subfolder per class (e.g. " + (root / "cat").string() +
                "/), found no subfolders" +
                (loose_images ? " but " + std::to_string(loose_images) + (loose_images == 1 ? " image" : " images") +
                                    " directly in the folder; move them into their class's subfolder"
                              : ""));

  ImageFolderListing listing;
  if (class_names.empty()) {
    for (const fs::path& folder : class_folders) listing.class_names.push_back(folder.filename().string());
  } else {
    listing.class_names = class_names;
  }
  auto label_of = [&](const fs::path& folder) -> uint32_t {
    const std::string class_name = folder.filename().string();
    const auto found = std::find(listing.class_names.begin(), listing.class_names.end(), class_name);
    if (found == listing.class_names.end()) {
      std::string expected;
      for (const std::string& known : listing.class_names) expected += (expected.empty() ? "" : ", ") + known;
      throw Error(folder.string() + ": subfolder \"" + class_name + "\" is not one of the expected classes (" +
                  expected + ")");
    }
    return static_cast<uint32_t>(found - listing.class_names.begin());
  };

  std::vector<std::pair<fs::path, size_t>> images_per_folder;
  for (const fs::path& folder : class_folders) {
    const uint32_t label = label_of(folder);
    size_t found = 0;
    for (const fs::path& file : SortedEntries(folder)) {
      if (IsDirectory(file) || !HasImageExtension(file)) continue;
      listing.files.push_back({file.string(), label});
      ++found;
    }
    images_per_folder.emplace_back(folder, found);
  }
  Require(!listing.files.empty(), directory + ": found no images in its " + std::to_string(class_folders.size()) +
                                      " class subfolders (expected " + kImageKinds + " files)");
  for (const auto& [folder, found] : images_per_folder)
    Require(found > 0, folder.string() + ": class subfolder holds no images (expected " + kImageKinds + " files)");
  return listing;
}

Dataset LoadImageFolder(const std::string& directory, const ImageFolderOptions& options, const std::string& name) {
  Require(options.channels <= 3 && options.channels != 2,
          directory + ": expected channels 0 (automatic), 1 or 3, found " + std::to_string(options.channels));
  Require((options.width == 0) == (options.height == 0),
          directory + ": expected both a target width and height or neither, found " +
              SizeText(options.width, options.height));
  Require(options.width <= kMaxImageSide && options.height <= kMaxImageSide &&
              uint64_t{options.width} * options.height <= kMaxImagePixels,
          directory + ": target size " + SizeText(options.width, options.height) + " is larger than images may be (" +
              std::to_string(kMaxImageSide) + " pixels on a side, " + std::to_string(kMaxImagePixels) + " in all)");
  const fs::path root(directory);
  ImageFolderListing listing = ListImageFolder(directory, options.class_names);

  // Pass 1: headers only, so size and channel problems surface before decoding anything.
  std::vector<ImageHeader> headers;
  headers.reserve(listing.files.size());
  for (const ImageFile& file : listing.files) {
    ImageHeader header = ReadImageHeader(file.path);
    header.label = file.label;
    headers.push_back(std::move(header));
  }

  Dataset dataset;
  dataset.class_names = std::move(listing.class_names);
  const bool resize = options.width != 0;
  const uint32_t width = resize ? options.width : headers[0].width;
  const uint32_t height = resize ? options.height : headers[0].height;
  if (!resize)
    for (const ImageHeader& header : headers)
      if (header.width != width || header.height != height)
        throw Error(directory + ": images differ in size and no target size was given: " +
                    headers[0].path.string() + " is " + SizeText(width, height) + " but " + header.path.string() +
                    " is " + SizeText(header.width, header.height) + "; give a target size to resize them all");
  uint32_t channels = options.channels;
  if (channels == 0) {
    channels = 1;
    for (const ImageHeader& header : headers)
      if (header.channels >= 3) channels = 3;
  }

  dataset.name = name;
  if (dataset.name.empty()) {
    dataset.name = root.filename().string();
    if (dataset.name.empty()) dataset.name = root.parent_path().filename().string();  // "dir/"
  }
  dataset.sample_shape = {channels, height, width};
  dataset.num_classes = static_cast<uint32_t>(dataset.class_names.size());
  dataset.format = FeatureFormat::kUint8;
  dataset.scale = 1.0f / 255.0f;
  dataset.offset = 0.0f;
  const size_t sample_bytes = size_t{channels} * height * width;
  Require(headers.size() * uint64_t{sample_bytes} <= kMaxImageDatasetBytes,
          directory + ": " + std::to_string(headers.size()) + " images of " + SizeText(width, height) + " x " +
              std::to_string(channels) + " channels need " + std::to_string(headers.size() * uint64_t{sample_bytes}) +
              " bytes; an image folder may load at most " + ByteSizeText(kMaxImageDatasetBytes) +
              ". Give a smaller target size (size=WxH).");
  dataset.features_u8.reserve(headers.size() * sample_bytes);
  dataset.labels.reserve(headers.size());

  // Pass 2: decode, convert, resize, one image at a time (only one full-size image in memory).
  for (const ImageHeader& header : headers) {
    Image image = ReadImage(header.path.string(), channels);
    if (image.width != width || image.height != height) {
      // The header said otherwise only if the file changed or lies; same rule as above.
      Require(resize, header.path.string() + " decodes to " + SizeText(image.width, image.height) +
                          ", expected " + SizeText(width, height) + " like the other images");
      image = ResizeImage(image, width, height);
    }
    dataset.features_u8.insert(dataset.features_u8.end(), image.pixels.begin(), image.pixels.end());
    dataset.labels.push_back(header.label);
  }
  return dataset;
}

}  // namespace ts::data
