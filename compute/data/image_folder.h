// Loader for a folder of images with one subfolder per class:
//
//   pets/cat/001.png  pets/cat/002.jpg  pets/dog/a.bmp ...
//
// Class names are the subfolder names sorted byte-wise (label i = i-th name).
// Images are PNG, JPEG or BMP (by extension, case-insensitive: .png .jpg .jpeg
// .bmp), decoded with stb_image; other files and hidden entries (names starting
// with '.') are ignored. Samples are ordered by class, then by file name.
//
// Every image becomes `channels` x `height` x `width` uint8 features, stored
// HWC-interleaved like every image dataset (see cifar.h): pixel (y, x) channel
// c is byte (y * W + x) * C + c, while Dataset::sample_shape is {C, H, W}.
// Alpha is dropped (not composited), colour becomes gray with the Rec. 601
// luma weights, and gray becomes colour by repeating the value. EXIF
// orientation is not applied. scale = 1/255, offset = 0 (values in [0, 1]).
//
// Limits, checked from each file's header before it is decoded: at most
// kMaxImageSide pixels on a side and kMaxImagePixels in all (a decoded image
// then takes at most 128 MiB); a BMP's rows must fit in the file. The loaded
// dataset (images x target size x channels) may be at most kMaxImageDatasetBytes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "compute/data/dataset.h"

namespace ts::data {

inline constexpr uint32_t kMaxImageSide = 16384;
inline constexpr uint64_t kMaxImagePixels = uint64_t{1} << 25;  // 33.5 million, e.g. 8192 x 4096
inline constexpr uint64_t kMaxImageDatasetBytes = uint64_t{4} << 30;

// One decoded image, pixels (height, width, channels) row-major, interleaved.
struct Image {
  uint32_t width = 0;
  uint32_t height = 0;
  uint32_t channels = 0;  // 1 (gray) or 3 (RGB) after ReadImage
  std::vector<uint8_t> pixels;
};

struct ImageFolderOptions {
  // 1 (gray) or 3 (RGB); 0: 3 when any image has colour, else 1.
  uint32_t channels = 0;
  // Target size; 0 x 0 keeps the images' own size, which must then be the same
  // for every image. Both or neither must be set.
  uint32_t width = 0;
  uint32_t height = 0;
  // When non-empty, the label order to use (e.g. a test folder loaded with the
  // training folder's class_names, so labels agree even when a class has no
  // test images). Every subfolder must then be one of these names.
  std::vector<std::string> class_names;
};

// Decodes the image at `path` and converts it to `channels` (1 or 3; 0 keeps
// gray as 1 and colour as 3). Throws ts::Error naming the file for a missing,
// empty, corrupt or unsupported file (with stb_image's reason), a zero-size
// image, one beyond the size limits above, or a BMP whose rows the file lacks.
Image ReadImage(const std::string& path, uint32_t channels = 0);

// `image` with its channels converted to `channels` (1 or 3; a 2- or 4-channel
// input is treated as gray or RGB plus alpha, and the alpha is dropped).
Image ConvertChannels(const Image& image, uint32_t channels);

// `image` resampled to width x height, each axis separately: bilinear (pixel
// centres aligned, edges clamped) where the axis grows or keeps its size, area
// averaging (each output pixel the exact mean of the input area it covers)
// where it shrinks. Results are rounded to the nearest integer. Besides the
// result it keeps two rows of intermediate values, whatever the sizes.
Image ResizeImage(const Image& image, uint32_t width, uint32_t height);

// An image folder's files in load order, each with its label, and the class
// names the labels index; no image is opened. `class_names`, when non-empty,
// gives the label order as ImageFolderOptions::class_names does. Throws
// ts::Error as LoadImageFolder does for a missing folder, one without class
// subfolders, a class subfolder without images, or an unexpected subfolder.
struct ImageFile {
  std::string path;
  uint32_t label = 0;
};
struct ImageFolderListing {
  std::vector<std::string> class_names;
  std::vector<ImageFile> files;
};
ImageFolderListing ListImageFolder(const std::string& directory, const std::vector<std::string>& class_names = {});

// Loads the folder (see above). Dataset::name is `name`, or the folder's own
// name when empty. Throws ts::Error naming the folder or file involved for: a
// missing folder or one with no class subfolders, a class subfolder without
// images, an unreadable or corrupt image (with stb_image's reason), a zero-size
// image, images of different sizes when no target size is given (naming two of
// the files and their sizes), bad options, or a subfolder missing from
// options.class_names.
Dataset LoadImageFolder(const std::string& directory, const ImageFolderOptions& options = {},
                        const std::string& name = "");

// True when `directory` holds both a "train" and a "test" subfolder, i.e. the
// train/test split is given by the data rather than made by the caller.
bool HasTrainTestFolders(const std::string& directory);

}  // namespace ts::data
