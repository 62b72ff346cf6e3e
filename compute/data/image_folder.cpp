#include "compute/data/image_folder.h"

// stb_image's implementation comes from Debian's libstb (libstb-dev).
#include <stb/stb_image.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <memory>

#include "compute/common/error.h"

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

// Checks what stb_image cannot say clearly itself: that the path is a
// readable, non-empty regular file.
void RequireNonEmptyFile(const std::string& path) {
  std::error_code error;
  const fs::file_status status = fs::status(path, error);
  Require(fs::exists(status), path + ": image file not found");
  Require(fs::is_regular_file(status), path + ": expected an image file, found a directory or special file");
  const uintmax_t size = fs::file_size(path, error);
  Require(!error, path + ": cannot read the image file: " + error.message());
  Require(size > 0, path + ": the file is empty (0 bytes), expected a PNG, JPEG or BMP image");
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

  // Pass 1, along rows: (image.height, width, channels).
  std::vector<double> rows(size_t{image.height} * width * channels, 0.0);
  for (uint32_t y = 0; y < image.height; ++y)
    for (uint32_t x = 0; x < width; ++x)
      for (uint32_t t = across.first[x]; t < across.first[x + 1]; ++t) {
        const uint8_t* in = image.pixels.data() + (size_t{y} * image.width + across.source[t]) * channels;
        double* out = rows.data() + (size_t{y} * width + x) * channels;
        for (uint32_t c = 0; c < channels; ++c) out[c] += across.weight[t] * in[c];
      }

  // Pass 2, along columns: (height, width, channels).
  Image resized{width, height, channels, std::vector<uint8_t>(size_t{height} * width * channels)};
  std::vector<double> sum(channels);
  for (uint32_t y = 0; y < height; ++y)
    for (uint32_t x = 0; x < width; ++x) {
      std::fill(sum.begin(), sum.end(), 0.0);
      for (uint32_t t = down.first[y]; t < down.first[y + 1]; ++t) {
        const double* in = rows.data() + (size_t{down.source[t]} * width + x) * channels;
        for (uint32_t c = 0; c < channels; ++c) sum[c] += down.weight[t] * in[c];
      }
      uint8_t* out = resized.pixels.data() + (size_t{y} * width + x) * channels;
      for (uint32_t c = 0; c < channels; ++c)
        out[c] = static_cast<uint8_t>(std::lround(std::clamp(sum[c], 0.0, 255.0)));
    }
  return resized;
}

Image ReadImage(const std::string& path, uint32_t channels) {
  Require(channels <= 3 && channels != 2, path + ": expected 0 (as stored), 1 or 3 channels, found " +
                                              std::to_string(channels));
  RequireNonEmptyFile(path);
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

Dataset LoadImageFolder(const std::string& directory, const ImageFolderOptions& options, const std::string& name) {
  Require(options.channels <= 3 && options.channels != 2,
          directory + ": expected channels 0 (automatic), 1 or 3, found " + std::to_string(options.channels));
  Require((options.width == 0) == (options.height == 0),
          directory + ": expected both a target width and height or neither, found " +
              SizeText(options.width, options.height));
  const fs::path root(directory);
  {
    std::error_code error;
    const fs::file_status status = fs::status(root, error);
    Require(fs::exists(status), directory + ": image folder not found");
    Require(fs::is_directory(status), directory + ": expected a folder with one subfolder per class, found a file");
  }

  // Classes: the subfolders, in sorted order or in options.class_names' order.
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

  Dataset dataset;
  if (options.class_names.empty()) {
    for (const fs::path& folder : class_folders) dataset.class_names.push_back(folder.filename().string());
  } else {
    dataset.class_names = options.class_names;
  }
  auto label_of = [&](const fs::path& folder) -> uint32_t {
    const std::string class_name = folder.filename().string();
    const auto found = std::find(dataset.class_names.begin(), dataset.class_names.end(), class_name);
    if (found == dataset.class_names.end()) {
      std::string expected;
      for (const std::string& known : dataset.class_names) expected += (expected.empty() ? "" : ", ") + known;
      throw Error(folder.string() + ": subfolder \"" + class_name + "\" is not one of the expected classes (" +
                  expected + ")");
    }
    return static_cast<uint32_t>(found - dataset.class_names.begin());
  };

  // Pass 1: headers only, so size and channel problems surface before decoding anything.
  std::vector<ImageHeader> headers;
  std::vector<std::pair<fs::path, size_t>> images_per_folder;
  for (const fs::path& folder : class_folders) {
    const uint32_t label = label_of(folder);
    size_t found = 0;
    for (const fs::path& file : SortedEntries(folder)) {
      if (IsDirectory(file) || !HasImageExtension(file)) continue;
      RequireNonEmptyFile(file.string());
      int width = 0, height = 0, channels = 0;
      if (!stbi_info(file.c_str(), &width, &height, &channels))
        throw Error(file.string() + ": cannot decode the image: " + StbReason());
      Require(width > 0 && height > 0, file.string() + ": expected an image of at least 1x1 pixels, found " +
                                           std::to_string(width) + "x" + std::to_string(height));
      headers.push_back({file, label, static_cast<uint32_t>(width), static_cast<uint32_t>(height),
                         static_cast<uint32_t>(channels)});
      ++found;
    }
    images_per_folder.emplace_back(folder, found);
  }
  Require(!headers.empty(), directory + ": found no images in its " + std::to_string(class_folders.size()) +
                                " class subfolders (expected " + kImageKinds + " files)");
  for (const auto& [folder, found] : images_per_folder)
    Require(found > 0, folder.string() + ": class subfolder holds no images (expected " + kImageKinds + " files)");

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
