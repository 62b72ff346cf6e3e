// Resolves a user's --data spec into train and test datasets.
//
// Accepted specs:
//  - "spiral", "circles", "xor", "blobs", "moons", optionally followed by
//    ":key=value,..." with keys samples, classes, noise, seed (see synthetic.h)
//    and test_samples. The test set uses the same options with seed + 1 and
//    test_samples samples (default: samples / 4, at least one per class).
//  - "mnist", "fashion-mnist": IDX files found by FindDatasetDir.
//  - "idx:DIRECTORY": the four IDX files named as MNIST's (below) in DIRECTORY.
//  - "shapes", optionally ":samples=N,classes=N,size=N,channels=N,noise=X,seed=N,
//    test_samples=N": the built-in image set (synthetic_images.h); the test set
//    uses seed + 1 and test_samples images (default: samples / 5).
//  - "cifar10": CIFAR-10 binary batches in "<root>/cifar10/" or
//    "<root>/cifar-10-batches-bin/"; "cifar10:DIRECTORY": in DIRECTORY (cifar.h).
//  - "images:DIRECTORY", optionally followed by ":size=WxH,channels=N,
//    test_fraction=X,seed=N": a folder with one subfolder of images per class
//    (image_folder.h), split like a CSV; or with train/ and test/ subfolders,
//    each with one subfolder per class, used as given.
//  - "iris", "wine", "digits": sklearn's bundled CSVs, found in the data roots
//    (directly under a root) and then in kSklearnDataDir.
//  - "text:PATH" (any UTF-8 file) and "kjv" (the built-in text), optionally
//    followed by ":context=N,val_fraction=X": characters in windows of
//    `context` with next-character labels, for sequence models (text.h).
//  - a path ending in ".csv" or ".csv.gz"; a path may be followed by options
//    (e.g. "data/x.csv:test_fraction=0.3") when it does not itself contain ':'.
// CSV sets (including iris/wine/digits) take options test_fraction (default
// 0.2) and seed (default 1): the rows are shuffled with the seed and the last
// test_fraction of them become the test set. Features are standardised with
// the whole file's statistics (see csv.h).
//
// Data roots, searched in order:
//   1. $TENSORSCOPE_DATA_DIR (when set and non-empty)
//   2. ${XDG_DATA_HOME:-$HOME/.local/share}/tensorscope/data
//   3. /usr/share/datasets
// MNIST lives in "<root>/mnist/", Fashion-MNIST in "<root>/fashion-mnist/", as
// train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and
// t10k-labels-idx1-ubyte, each optionally gzipped (".gz").
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "compute/data/dataset.h"

namespace ts::data {

inline constexpr const char* kSklearnDataDir = "/usr/lib/python3/dist-packages/sklearn/datasets/data";

struct DataSplit {
  Dataset train;
  Dataset test;
};

// Loads the spec (see above). Dataset names get a ":train" / ":test" suffix,
// e.g. "mnist:train". Throws ts::Error for an unknown spec (listing the
// accepted forms), bad options, or data that cannot be found (listing the
// paths searched and how to install it) or loaded.
DataSplit LoadDataSpec(std::string_view spec);

// The data roots above, in search order (only those that can be formed from
// the environment; the directories need not exist).
std::vector<std::string> DataSearchRoots();

// The directory holding the named dataset, or nullopt when it is absent.
// "mnist" and "fashion-mnist": a "<root>/<name>" directory holding all four
// IDX files. "iris", "wine", "digits": a data root or kSklearnDataDir holding
// iris.csv, wine_data.csv or digits.csv.gz. Other names: nullopt.
std::optional<std::string> FindDatasetDir(std::string_view name);

// Splits `train` into {rest, validation}: the samples are shuffled with `seed`
// (deterministically, independent of the standard library) and round(fraction
// * count) of them, at least one, go to validation. The validation set's name
// replaces a ":train" suffix with ":validation" (or appends it). Throws
// ts::Error unless 0 < fraction < 1 and both parts get at least one sample.
std::pair<Dataset, Dataset> SplitValidation(const Dataset& train, double fraction, uint64_t seed);

// The samples SplitValidation (and a spec's test_fraction) hold out of `count`:
// {rest, held out}, each in the order the split gives them.
std::pair<std::vector<uint32_t>, std::vector<uint32_t>> SplitIndices(size_t count, double fraction, uint64_t seed);

// Where a spec's samples lie as files other tools read as they are: the IDX
// files of mnist, fashion-mnist or idx:DIRECTORY, CIFAR-10's binary batches
// (cifar10, cifar10:DIRECTORY), or an image folder's images (images:...);
// nullopt for any other spec or when they are not found. Throws ts::Error for
// an image folder spec that LoadDataSpec would refuse for its options or its
// folders (the images themselves are not opened).
struct DataFiles {
  std::string format;               // "idx", "cifar10" or "image_folder"
  // Absolute paths. idx: images, labels; cifar10: the batches in load order;
  // image_folder: each sample's image, in the order of the split's samples.
  std::vector<std::string> train;
  std::vector<std::string> test;
  // image_folder only: each image's label, and the class names they index.
  std::vector<uint32_t> train_labels, test_labels;
  std::vector<std::string> class_names;
};
std::optional<DataFiles> FindDataFiles(std::string_view spec);

// A copy of `dataset` holding only the samples at `indices`, in that order
// (repeats allowed). Throws ts::Error for an index out of range.
Dataset Subset(const Dataset& dataset, std::span<const uint32_t> indices);

}  // namespace ts::data
