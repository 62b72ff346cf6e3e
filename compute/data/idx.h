// Loader for the IDX format used by MNIST and Fashion-MNIST, raw or gzipped.
//
// An IDX file is a big-endian header -- magic number 0x000008NN (unsigned bytes,
// NN dimensions), then NN uint32 extents -- followed by the bytes themselves.
// Images files have 3 dimensions (count, rows, cols), labels files have 1.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "compute/data/dataset.h"

namespace ts::data {

// Loads an images file (magic 0x00000803) and its labels file (magic
// 0x00000801), each raw or gzipped. The result keeps the pixels as uint8
// (FeatureFormat::kUint8) with sample_shape {1, rows, cols}, scale = 1/255 and
// offset = 0, so the network sees pixel intensities in [0, 1].
// Labels must be below 10; num_classes is 10. class_names are the Fashion-MNIST
// clothing names when `name` or `images_path` contains "fashion", else "0".."9".
// `name` becomes Dataset::name (default: the images file name).
// Throws ts::Error for a wrong magic number, a file size that disagrees with
// its header, image and label counts that differ, or an out-of-range label;
// the message gives the file, the byte offset, and expected vs found. The
// header is read first: a gzipped file is decompressed only as far as its
// header describes (and one byte more, to refuse a longer one), in pieces
// that grow as data arrives, so a small file never takes more memory or time
// than its real content.
Dataset LoadIdx(const std::string& images_path, const std::string& labels_path,
                const std::string& name = "");

}  // namespace ts::data
