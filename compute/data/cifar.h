// Loader for the CIFAR-10 binary format ("CIFAR-10 binary version" from
// https://www.cs.toronto.edu/~kriz/cifar.html, unpacked to cifar-10-batches-bin/).
//
// A batch file is a sequence of 3073-byte records: one label byte (0..9), then
// the 32x32 image as 1024 red, 1024 green and 1024 blue bytes, each plane
// row-major (planar, CHW). A directory holds data_batch_1.bin .. data_batch_5.bin
// (training, 10000 records each), test_batch.bin (10000 records) and, optionally,
// batches.meta.txt with the ten class names one per line.
//
// Image layout (shared by every image dataset: CIFAR, image folders, shapes):
// the network's tensors are NHWC, so each sample's features are stored
// HWC-interleaved -- pixel (y, x) channel c of a C x H x W image is byte
// (y * W + x) * C + c of the sample -- while Dataset::sample_shape stays the
// user-facing {C, H, W}. For C = 1 the two orders coincide. The CIFAR loader
// converts the file's planar CHW order to HWC while reading.
//
// Pixels stay uint8 (FeatureFormat::kUint8) with scale = 1/255 and offset = 0,
// as for MNIST, so the network sees intensities in [0, 1] and train and test
// sets are normalised identically.
//
// Size note: the full training set is 50000 x 3072 bytes = 153.6 MB, more than
// lavapipe's 128 MiB maxStorageBufferRange; a caller uploading it as one buffer
// must take a subset or split it.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "compute/data/dataset.h"

namespace ts::data {

inline constexpr uint32_t kCifarImageSide = 32;
inline constexpr uint32_t kCifarChannels = 3;
inline constexpr uint32_t kCifarImageBytes = kCifarImageSide * kCifarImageSide * kCifarChannels;  // 3072
inline constexpr uint32_t kCifarRecordBytes = 1 + kCifarImageBytes;                                // 3073
inline constexpr uint32_t kCifar10Classes = 10;
// Largest batch file read (decompressed): the official ones are 10000 records,
// 30.7 MB; a gzipped file is refused as soon as decompressing passes this.
inline constexpr uint64_t kMaxCifarBatchBytes = uint64_t{64} << 20;

inline constexpr std::array<std::string_view, 5> kCifar10TrainFiles{
    "data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"};
inline constexpr std::string_view kCifar10TestFile = "test_batch.bin";
inline constexpr std::string_view kCifar10MetaFile = "batches.meta.txt";

// The standard class names, in label order (used when batches.meta.txt is absent).
inline constexpr std::array<std::string_view, kCifar10Classes> kCifar10ClassNames{
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"};

// True when `directory` holds the five training batches and the test batch
// (what LoadCifar10 needs); use it to search data roots.
bool IsCifar10Dir(const std::string& directory);

// The class names from `directory`/batches.meta.txt (non-blank lines, trimmed),
// or kCifar10ClassNames when that file is absent. Throws ts::Error naming the
// file when it exists but cannot be read or does not hold exactly 10 names.
std::vector<std::string> ReadCifar10ClassNames(const std::string& directory);

// Loads the records of every file in `paths`, in order, into one dataset:
// sample_shape {3, 32, 32}, HWC-interleaved uint8 features, num_classes 10,
// the given class_names (kCifar10ClassNames when empty) and Dataset::name = `name`.
// Gzipped batch files are accepted too (sizes then count decompressed bytes).
// Throws ts::Error naming the file for: a missing or unreadable file, an empty
// file, a size that is not a multiple of 3073 bytes (giving the size and the
// nearest record counts), or a label byte >= 10 (giving the record and its
// byte offset). An empty `paths` is an error too.
Dataset LoadCifar10Batches(const std::vector<std::string>& paths, const std::string& name,
                           const std::vector<std::string>& class_names = {});

// Loads the standard directory layout: {train (data_batch_1..5.bin), test
// (test_batch.bin)}, named "<name>:train" and "<name>:test". Throws ts::Error
// listing every missing file (and the directory) when the layout is
// incomplete, or any error of LoadCifar10Batches / ReadCifar10ClassNames.
std::pair<Dataset, Dataset> LoadCifar10(const std::string& directory, const std::string& name = "cifar10");

}  // namespace ts::data
