#include "compute/data/registry.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <numeric>
#include <random>

#include "compute/common/error.h"
#include "compute/data/csv.h"
#include "compute/data/cifar.h"
#include "compute/data/idx.h"
#include "compute/data/image_folder.h"
#include "compute/data/spec_options.h"
#include "compute/data/synthetic.h"
#include "compute/data/synthetic_images.h"
#include "compute/data/text.h"

namespace ts::data {
namespace {

namespace fs = std::filesystem;

constexpr std::array<std::string_view, 4> kIdxFiles{
    "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};

struct IdxSet {
  std::string_view name;
  std::string_view install_hint;
};
constexpr std::array<IdxSet, 2> kIdxSets{{
    {"mnist", "fetch it with: assets/scripts/fetch-mnist.sh"},
    {"fashion-mnist", "install it with: sudo apt-get install dataset-fashion-mnist"},
}};

struct SklearnSet {
  std::string_view name;
  std::string_view file;
};
constexpr std::array<SklearnSet, 3> kSklearnSets{{
    {"iris", "iris.csv"},
    {"wine", "wine_data.csv"},
    {"digits", "digits.csv.gz"},
}};

constexpr const char* kAcceptedSpecs =
    "expected one of: spiral, circles, xor, blobs, moons (optionally \":samples=N,classes=N,noise=X,seed=N,"
    "test_samples=N\"); shapes (optionally \":samples=N,classes=N,size=N,channels=N,noise=X,seed=N,test_samples=N\"); "
    "mnist; fashion-mnist; idx:DIRECTORY (the four MNIST-layout IDX files); cifar10 or cifar10:DIRECTORY; "
    "images:DIRECTORY (one subfolder per class; options after a second ':' size=WxH,channels=N,test_fraction=X,seed=N); "
    "iris, wine, digits (optionally \":test_fraction=X,seed=N\"); text:PATH (a UTF-8 file, characters; options after "
    "a second ':' context=N,val_fraction=X); kjv (the built-in text, same options); or a path ending in .csv or .csv.gz";

std::string FormatNumber(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", value);
  return text;
}

bool IsFile(const fs::path& path) {
  std::error_code error;
  return fs::is_regular_file(path, error);
}

bool EndsWith(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

bool IsCsvPath(std::string_view text) { return EndsWith(text, ".csv") || EndsWith(text, ".csv.gz"); }

// `directory`/`base`, raw or gzipped (raw preferred), when it exists.
std::optional<std::string> FindMaybeGzipped(const fs::path& directory, std::string_view base) {
  for (const std::string& candidate : {std::string(base), std::string(base) + ".gz"})
    if (IsFile(directory / candidate)) return (directory / candidate).string();
  return std::nullopt;
}

const IdxSet* FindIdxSet(std::string_view name) {
  for (const IdxSet& set : kIdxSets)
    if (set.name == name) return &set;
  return nullptr;
}

const SklearnSet* FindSklearnSet(std::string_view name) {
  for (const SklearnSet& set : kSklearnSets)
    if (set.name == name) return &set;
  return nullptr;
}

// The registry's own options ("data spec" in messages); no text, no options.
SpecOptions SplitOptions(std::string_view spec, std::string_view text) {
  return text.empty() ? SpecOptions{} : SplitSpecOptions("data spec", spec, text);
}

template <typename Number>
Number ParseValue(std::string_view spec, std::string_view key, std::string_view value, const char* expected) {
  return ParseSpecValue<Number>("data spec", spec, key, value, expected);
}

// Fisher-Yates with raw engine output (std::shuffle's algorithm is unspecified).
std::vector<uint32_t> ShuffledIndices(size_t count, uint64_t seed) {
  std::vector<uint32_t> indices(count);
  for (size_t i = 0; i < count; ++i) indices[i] = static_cast<uint32_t>(i);
  std::mt19937_64 engine(seed);
  for (size_t i = count; i > 1; --i) std::swap(indices[i - 1], indices[engine() % i]);
  return indices;
}

// {rest, held out}: round(fraction * count) shuffled samples, at least one, are held out.
std::pair<Dataset, Dataset> ShuffleSplit(const Dataset& dataset, double fraction, uint64_t seed) {
  Require(fraction > 0.0 && fraction < 1.0, "splitting " + dataset.name + ": expected a fraction between 0 and 1, found " +
                                                FormatNumber(fraction));
  Require(dataset.count() >= 2, "splitting " + dataset.name + ": expected at least 2 samples, found " +
                                    std::to_string(dataset.count()));
  const auto [rest, held_out] = SplitIndices(dataset.count(), fraction, seed);
  return {Subset(dataset, rest), Subset(dataset, held_out)};
}

// {train, test} by a data spec's test_fraction: 0 keeps every sample for training
// (an empty test set of the same shape).
std::pair<Dataset, Dataset> SplitOffTest(const Dataset& dataset, double test_fraction, uint64_t seed) {
  if (test_fraction == 0.0) return {dataset, Subset(dataset, {})};
  return ShuffleSplit(dataset, test_fraction, seed);
}

std::string WithSuffix(std::string name, std::string_view suffix) { return name + ":" + std::string(suffix); }

// A generated set's options: test_samples belongs to the registry, the rest
// goes back into a spec ("kind:key=value,...") for the generator's parser.
struct GeneratorOptions {
  std::string generator_spec;
  std::optional<uint32_t> test_samples;
};
GeneratorOptions SplitOffTestSamples(std::string_view spec, std::string_view kind, std::string_view option_text,
                                     const char* test_samples_expected) {
  GeneratorOptions result{std::string(kind), std::nullopt};
  char separator = ':';
  for (const auto& [key, value] : SplitOptions(spec, option_text)) {
    if (key == "test_samples") {
      result.test_samples = ParseValue<uint32_t>(spec, key, value, test_samples_expected);
    } else {
      result.generator_spec += separator + std::string(key) + "=" + std::string(value);
      separator = ',';
    }
  }
  return result;
}

DataSplit LoadSynthetic(std::string_view spec, std::string_view kind, std::string_view option_text) {
  const auto [synthetic_spec, test_samples] = SplitOffTestSamples(spec, kind, option_text, "a non-negative integer");
  SyntheticOptions options = ParseSyntheticSpec(synthetic_spec);
  DataSplit split;
  split.train = MakeSynthetic(options);
  options.seed += 1;
  options.samples = test_samples.value_or(std::max(options.samples / 4, split.train.num_classes));
  try {
    split.test = MakeSynthetic(options);
  } catch (const Error& error) {
    throw Error("data spec \"" + std::string(spec) + "\", test set: " + error.what());
  }
  split.train.name = WithSuffix(split.train.name, "train");
  split.test.name = WithSuffix(split.test.name, "test");
  return split;
}

DataSplit LoadIdxSet(std::string_view spec, const IdxSet& set, std::string_view option_text) {
  Require(option_text.empty(), "data spec \"" + std::string(spec) + "\": " + std::string(set.name) +
                                   " takes no options, found \"" + std::string(option_text) + "\"");
  const std::optional<std::string> directory = FindDatasetDir(set.name);
  if (!directory) {
    std::string searched;
    for (const std::string& root : DataSearchRoots())
      searched += (searched.empty() ? "" : ", ") + (fs::path(root) / set.name).string();
    std::string files;
    for (std::string_view file : kIdxFiles) files += (files.empty() ? "" : ", ") + std::string(file) + "[.gz]";
    throw Error(std::string(set.name) + " not found: looked for " + files + " in " + searched + "; " +
                std::string(set.install_hint) + " (or set TENSORSCOPE_DATA_DIR to a directory holding " +
                std::string(set.name) + "/)");
  }
  const fs::path dir(*directory);
  auto file = [&](size_t i) { return *FindMaybeGzipped(dir, kIdxFiles[i]); };
  const std::string name(set.name);
  return {LoadIdx(file(0), file(1), name + ":train"), LoadIdx(file(2), file(3), name + ":test")};
}

// "idx:DIRECTORY": the four IDX files of the MNIST layout in a directory the user names.
DataSplit LoadIdxDirectory(std::string_view spec, std::string_view directory_text) {
  Require(!directory_text.empty(), "data spec \"" + std::string(spec) + "\": expected idx:DIRECTORY, found no directory");
  const fs::path dir{std::string(directory_text)};
  std::error_code error;
  Require(fs::is_directory(dir, error), "IDX dataset: " + dir.string() + " is not a directory");
  std::vector<std::string> files, missing;
  for (std::string_view base : kIdxFiles) {
    std::optional<std::string> found = FindMaybeGzipped(dir, base);
    if (found)
      files.push_back(*found);
    else
      missing.push_back(std::string(base) + "[.gz]");
  }
  if (!missing.empty()) {
    std::string list;
    for (const std::string& name : missing) list += (list.empty() ? "" : ", ") + name;
    throw Error("IDX dataset in " + dir.string() + ": missing " + list +
                " (expected train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and "
                "t10k-labels-idx1-ubyte, each optionally gzipped)");
  }
  const std::string name = dir.filename().empty() ? dir.parent_path().filename().string() : dir.filename().string();
  return {LoadIdx(files[0], files[1], name + ":train"), LoadIdx(files[2], files[3], name + ":test")};
}

// "shapes[:options]": the built-in image set; the test set uses seed + 1.
DataSplit LoadShapes(std::string_view spec, std::string_view option_text) {
  const auto [shapes_spec, test_samples] = SplitOffTestSamples(spec, "shapes", option_text, "a positive integer");
  ShapesOptions options = ParseShapesSpec(shapes_spec);
  DataSplit split;
  split.train = MakeShapes(options);
  options.seed += 1;
  options.samples = test_samples.value_or(std::max(options.samples / 5, options.classes));
  split.test = MakeShapes(options);
  split.train.name = "shapes:train";
  split.test.name = "shapes:test";
  return split;
}

// The first data root's "cifar10/" or "cifar-10-batches-bin/" that holds the batches
// ("" when none does); *searched lists every place looked at.
std::string FindCifar10Dir(std::string* searched) {
  std::string directory;
  for (const std::string& root : DataSearchRoots())
    for (const char* name : {"cifar10", "cifar-10-batches-bin"}) {
      const std::string candidate = (fs::path(root) / name).string();
      if (directory.empty() && IsCifar10Dir(candidate)) directory = candidate;
      *searched += (searched->empty() ? "" : ", ") + candidate;
    }
  return directory;
}

// "cifar10" (searched in the data roots) or "cifar10:DIRECTORY".
DataSplit LoadCifar10Set(std::string_view directory_text) {
  std::string directory(directory_text);
  if (directory.empty()) {
    std::string searched;
    directory = FindCifar10Dir(&searched);
    Require(!directory.empty(), "CIFAR-10 not found: looked for data_batch_1.bin ... data_batch_5.bin and "
                                "test_batch.bin in " + searched + ". Download the binary version from "
                                "https://www.cs.toronto.edu/~kriz/cifar.html, unpack it into one of these, or "
                                "give its directory as cifar10:DIRECTORY");
  }
  auto [train, test] = LoadCifar10(directory);
  return {std::move(train), std::move(test)};
}

// "images:DIRECTORY[:size=WxH,channels=N,test_fraction=X,seed=N]", parsed.
struct ImageFolderSpec {
  std::string directory;
  ImageFolderOptions options;
  double test_fraction = 0.2;
  uint64_t seed = 1;
};

ImageFolderSpec ParseImageFolderSpec(std::string_view spec, std::string_view rest) {
  // Options follow the last ':' when that part looks like options (a path may hold ':').
  std::string_view directory = rest, option_text;
  if (size_t colon = rest.rfind(':'); colon != std::string_view::npos && rest.substr(colon + 1).find('=') != std::string_view::npos) {
    directory = rest.substr(0, colon);
    option_text = rest.substr(colon + 1);
  }
  Require(!directory.empty(), "data spec \"" + std::string(spec) + "\": expected images:DIRECTORY, found no directory");
  ImageFolderSpec parsed;
  parsed.directory = std::string(directory);
  for (const auto& [key, value] : SplitOptions(spec, option_text)) {
    if (key == "size") {
      const size_t x = value.find('x');
      Require(x != std::string_view::npos, "data spec \"" + std::string(spec) + "\": option size: expected WxH (e.g. "
                                           "32x32), found \"" + std::string(value) + "\"");
      parsed.options.width = ParseValue<uint32_t>(spec, key, value.substr(0, x), "WxH with positive integers");
      parsed.options.height = ParseValue<uint32_t>(spec, key, value.substr(x + 1), "WxH with positive integers");
    } else if (key == "channels") {
      parsed.options.channels = ParseValue<uint32_t>(spec, key, value, "1 or 3");
    } else if (key == "test_fraction") {
      parsed.test_fraction = ParseValue<double>(spec, key, value, "a number between 0 and 1");
    } else if (key == "seed") {
      parsed.seed = ParseValue<uint64_t>(spec, key, value, "a non-negative integer");
    } else {
      throw Error("data spec \"" + std::string(spec) + "\": unknown option \"" + std::string(key) +
                  "\", expected size, channels, test_fraction or seed");
    }
  }
  return parsed;
}

// One subfolder per class, or train/ and test/ each with one subfolder per class.
DataSplit LoadImageFolderSet(std::string_view spec, std::string_view rest) {
  const ImageFolderSpec parsed = ParseImageFolderSpec(spec, rest);
  const ImageFolderOptions& options = parsed.options;
  const double test_fraction = parsed.test_fraction;
  const uint64_t seed = parsed.seed;
  const std::string& dir = parsed.directory;
  const std::string name = fs::path(dir).filename().empty() ? fs::path(dir).parent_path().filename().string()
                                                             : fs::path(dir).filename().string();
  if (HasTrainTestFolders(dir)) {
    Dataset train = LoadImageFolder((fs::path(dir) / "train").string(), options, name + ":train");
    // The test images get the training set's labels, size and channels.
    ImageFolderOptions test_options = options;
    test_options.class_names = train.class_names;
    test_options.channels = train.sample_shape[0];
    test_options.height = train.sample_shape[1];
    test_options.width = train.sample_shape[2];
    Dataset test = LoadImageFolder((fs::path(dir) / "test").string(), test_options, name + ":test");
    return {std::move(train), std::move(test)};
  }
  auto [train, test] = SplitOffTest(LoadImageFolder(dir, options, name), test_fraction, seed);
  train.name = WithSuffix(name, "train");
  test.name = WithSuffix(name, "test");
  return {std::move(train), std::move(test)};
}

DataSplit LoadCsvSet(std::string_view spec, const std::string& path, const std::string& name,
                     std::string_view option_text) {
  double test_fraction = 0.2;
  uint64_t seed = 1;
  for (const auto& [key, value] : SplitOptions(spec, option_text)) {
    if (key == "test_fraction")
      test_fraction = ParseValue<double>(spec, key, value, "a number between 0 and 1");
    else if (key == "seed")
      seed = ParseValue<uint64_t>(spec, key, value, "a non-negative integer");
    else
      throw Error("data spec \"" + std::string(spec) + "\": unknown option \"" + std::string(key) +
                  "\", expected test_fraction or seed");
  }
  Require(test_fraction >= 0.0 && test_fraction < 1.0, "data spec \"" + std::string(spec) +
                                                           "\": option test_fraction: expected a number from 0 (no "
                                                           "test set) to below 1, found " + FormatNumber(test_fraction));
  auto [train, test] = SplitOffTest(LoadCsv(path), test_fraction, seed);
  train.name = WithSuffix(name, "train");
  test.name = WithSuffix(name, "test");
  return {std::move(train), std::move(test)};
}

DataSplit LoadSklearnSet(std::string_view spec, const SklearnSet& set, std::string_view option_text) {
  const std::optional<std::string> directory = FindDatasetDir(set.name);
  if (!directory) {
    std::string searched;
    for (const std::string& root : DataSearchRoots()) searched += root + ", ";
    throw Error(std::string(set.name) + " not found: looked for " + std::string(set.file) + " in " + searched +
                kSklearnDataDir + "; install it with: sudo apt-get install python3-sklearn");
  }
  return LoadCsvSet(spec, (fs::path(*directory) / set.file).string(), std::string(set.name), option_text);
}

}  // namespace

std::vector<std::string> DataSearchRoots() {
  std::vector<std::string> roots;
  auto environment = [](const char* name) -> std::string {
    const char* value = std::getenv(name);
    return value ? value : "";
  };
  if (const std::string custom = environment("TENSORSCOPE_DATA_DIR"); !custom.empty()) roots.push_back(custom);
  std::string data_home = environment("XDG_DATA_HOME");
  if (data_home.empty() && !environment("HOME").empty()) data_home = environment("HOME") + "/.local/share";
  if (!data_home.empty()) roots.push_back(data_home + "/tensorscope/data");
  roots.push_back("/usr/share/datasets");
  return roots;
}

std::optional<std::string> FindDatasetDir(std::string_view name) {
  if (FindIdxSet(name)) {
    for (const std::string& root : DataSearchRoots()) {
      const fs::path directory = fs::path(root) / name;
      bool complete = true;
      for (std::string_view file : kIdxFiles) complete = complete && FindMaybeGzipped(directory, file);
      if (complete) return directory.string();
    }
  } else if (const SklearnSet* set = FindSklearnSet(name)) {
    std::vector<std::string> directories = DataSearchRoots();
    directories.push_back(kSklearnDataDir);
    for (const std::string& directory : directories)
      if (IsFile(fs::path(directory) / set->file)) return directory;
  }
  return std::nullopt;
}

DataSplit LoadDataSpec(std::string_view spec) {
  // A whole spec ending in .csv[.gz] is a path, even if it contains ':'.
  if (IsCsvPath(spec)) return LoadCsvSet(spec, std::string(spec), fs::path(spec).filename().string(), {});
  const size_t colon = spec.find(':');
  const std::string_view name = spec.substr(0, colon);
  const std::string_view option_text = colon == std::string_view::npos ? std::string_view{} : spec.substr(colon + 1);
  if (IsCsvPath(name)) return LoadCsvSet(spec, std::string(name), fs::path(name).filename().string(), option_text);
  if (ParseSyntheticKind(name)) return LoadSynthetic(spec, name, option_text);
  if (const IdxSet* set = FindIdxSet(name)) return LoadIdxSet(spec, *set, option_text);
  if (name == "idx") return LoadIdxDirectory(spec, option_text);
  if (name == "shapes") return LoadShapes(spec, option_text);
  if (name == "cifar10") return LoadCifar10Set(option_text);
  if (name == "images") return LoadImageFolderSet(spec, option_text);
  if (name == "text" || name == "kjv") return LoadTextSpec(spec, name, option_text);
  if (const SklearnSet* set = FindSklearnSet(name)) return LoadSklearnSet(spec, *set, option_text);
  throw Error("unknown data spec \"" + std::string(spec) + "\": " + kAcceptedSpecs);
}

std::pair<std::vector<uint32_t>, std::vector<uint32_t>> SplitIndices(size_t count, double fraction, uint64_t seed) {
  Require(count >= 2, "splitting: expected at least 2 samples, found " + std::to_string(count));
  std::vector<uint32_t> rest = ShuffledIndices(count, seed);
  const size_t held_out = std::clamp<size_t>(static_cast<size_t>(std::llround(fraction * count)), 1, count - 1);
  std::vector<uint32_t> held(rest.end() - static_cast<std::ptrdiff_t>(held_out), rest.end());
  rest.resize(count - held_out);
  return {std::move(rest), std::move(held)};
}

std::optional<DataFiles> FindDataFiles(std::string_view spec) {
  if (IsCsvPath(spec)) return std::nullopt;
  const size_t colon = spec.find(':');
  const std::string_view name = spec.substr(0, colon);
  const std::string option_text(colon == std::string_view::npos ? std::string_view{} : spec.substr(colon + 1));
  auto absolute = [](const fs::path& path) {
    std::error_code error;
    const fs::path full = fs::absolute(path, error);
    return (error ? path : full).lexically_normal().string();
  };
  DataFiles files;
  if (FindIdxSet(name) || name == "idx") {
    const std::optional<std::string> directory = name == "idx" ? std::optional(option_text) : FindDatasetDir(name);
    if (!directory || directory->empty()) return std::nullopt;
    files.format = "idx";
    for (size_t i = 0; i < kIdxFiles.size(); ++i) {
      const std::optional<std::string> file = FindMaybeGzipped(*directory, kIdxFiles[i]);
      if (!file) return std::nullopt;
      (i < 2 ? files.train : files.test).push_back(absolute(*file));
    }
    return files;
  }
  if (name == "images") {
    // Each image file in the order LoadImageFolderSet gives its samples.
    const ImageFolderSpec parsed = ParseImageFolderSpec(spec, option_text);
    files.format = "image_folder";
    auto add = [&](const ImageFolderListing& listing, std::span<const uint32_t> order, std::vector<std::string>& paths,
                   std::vector<uint32_t>& labels) {
      for (uint32_t i : order) {
        paths.push_back(absolute(listing.files[i].path));
        labels.push_back(listing.files[i].label);
      }
    };
    auto all = [](const ImageFolderListing& listing) {
      std::vector<uint32_t> order(listing.files.size());
      std::iota(order.begin(), order.end(), 0u);
      return order;
    };
    if (HasTrainTestFolders(parsed.directory)) {
      const ImageFolderListing train = ListImageFolder((fs::path(parsed.directory) / "train").string(),
                                                       parsed.options.class_names);
      const ImageFolderListing test = ListImageFolder((fs::path(parsed.directory) / "test").string(), train.class_names);
      add(train, all(train), files.train, files.train_labels);
      add(test, all(test), files.test, files.test_labels);
      files.class_names = train.class_names;
    } else {
      const ImageFolderListing listing = ListImageFolder(parsed.directory, parsed.options.class_names);
      if (parsed.test_fraction == 0.0) {
        add(listing, all(listing), files.train, files.train_labels);
      } else {
        const auto [rest, held_out] = SplitIndices(listing.files.size(), parsed.test_fraction, parsed.seed);
        add(listing, rest, files.train, files.train_labels);
        add(listing, held_out, files.test, files.test_labels);
      }
      files.class_names = listing.class_names;
    }
    return files;
  }
  if (name == "cifar10") {
    std::string searched;
    const std::string directory = option_text.empty() ? FindCifar10Dir(&searched) : option_text;
    if (directory.empty() || !IsCifar10Dir(directory)) return std::nullopt;
    files.format = "cifar10";
    for (std::string_view file : kCifar10TrainFiles) files.train.push_back(absolute(fs::path(directory) / file));
    files.test.push_back(absolute(fs::path(directory) / kCifar10TestFile));
    return files;
  }
  return std::nullopt;
}

std::pair<Dataset, Dataset> SplitValidation(const Dataset& train, double fraction, uint64_t seed) {
  auto [rest, validation] = ShuffleSplit(train, fraction, seed);
  const std::string_view base = EndsWith(train.name, ":train")
                                    ? std::string_view(train.name).substr(0, train.name.size() - 6)
                                    : std::string_view(train.name);
  validation.name = WithSuffix(std::string(base), "validation");
  return {std::move(rest), std::move(validation)};
}

Dataset Subset(const Dataset& dataset, std::span<const uint32_t> indices) {
  Dataset subset;
  subset.name = dataset.name;
  subset.sample_shape = dataset.sample_shape;
  subset.num_classes = dataset.num_classes;
  subset.class_names = dataset.class_names;
  subset.format = dataset.format;
  subset.scale = dataset.scale;
  subset.offset = dataset.offset;
  subset.labels_per_sample = dataset.labels_per_sample;
  auto copy_rows = [&](const auto& source, auto& destination, size_t row_size) {
    destination.reserve(indices.size() * row_size);
    for (uint32_t index : indices) {
      const auto row = source.begin() + static_cast<std::ptrdiff_t>(size_t{index} * row_size);
      destination.insert(destination.end(), row, row + static_cast<std::ptrdiff_t>(row_size));
    }
  };
  for (uint32_t index : indices)
    if (index >= dataset.count())
      throw Error("subset of " + dataset.name + ": sample index " + std::to_string(index) +
                  " is out of range, expected an index below " + std::to_string(dataset.count()));
  if (dataset.format == FeatureFormat::kUint8)
    copy_rows(dataset.features_u8, subset.features_u8, dataset.feature_size());
  else
    copy_rows(dataset.features_f32, subset.features_f32, dataset.feature_size());
  copy_rows(dataset.labels, subset.labels, dataset.labels_per_sample);
  return subset;
}

}  // namespace ts::data
