// Tests for compute/data: synthetic generators, CSV and IDX loaders, the --data
// spec registry, and validation splits / subsets.
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "compute/common/error.h"
#include "compute/data/content_reader.h"
#include "compute/data/csv.h"
#include "compute/data/dataset.h"
#include "compute/data/idx.h"
#include "compute/data/registry.h"
#include "compute/data/synthetic.h"
#include "support/temp_files.h"

namespace ts::data {
namespace {

namespace fs = std::filesystem;

using testing::ThrowsErrorWith;

// The shared temporary-directory fixture, plus gzip files and reading files back.
class TempDirTest : public testing::TempDirTest {
 protected:
  std::string WriteGzip(const std::string& name, const std::vector<uint8_t>& bytes) const {
    gzFile file = gzopen(PathOf(name).c_str(), "wb");
    EXPECT_NE(file, nullptr);
    EXPECT_EQ(gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
    gzclose(file);
    return PathOf(name);
  }

  static std::vector<uint8_t> ReadFileBytes(const std::string& path) {
    std::ifstream file(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
  }
};

// Sets an environment variable for the lifetime of the object.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() { old_ ? setenv(name_, old_->c_str(), 1) : unsetenv(name_); }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

std::vector<uint32_t> ClassCounts(const Dataset& dataset) {
  std::vector<uint32_t> counts(dataset.num_classes);
  for (uint32_t label : dataset.labels) ++counts.at(label);
  return counts;
}

void ExpectStandardized(const Dataset& dataset) {
  const size_t features = dataset.feature_size();
  for (size_t j = 0; j < features; ++j) {
    double sum = 0, sum_squares = 0;
    for (size_t i = 0; i < dataset.count(); ++i) sum += dataset.normalized(i, j);
    const double mean = sum / dataset.count();
    for (size_t i = 0; i < dataset.count(); ++i) sum_squares += std::pow(dataset.normalized(i, j) - mean, 2);
    const double stddev = std::sqrt(sum_squares / dataset.count());
    EXPECT_NEAR(mean, 0.0, 1e-5) << "feature " << j;
    // Constant features (e.g. digits' corner pixels) are only centred.
    if (stddev > 1e-6) {
      EXPECT_NEAR(stddev, 1.0, 1e-4) << "feature " << j;
    }
  }
}

// ---------------------------------------------------------------- Dataset

TEST(DatasetTest, FeatureSizeAndNormalizedUint8) {
  Dataset dataset;
  dataset.sample_shape = {1, 2, 3};
  dataset.format = FeatureFormat::kUint8;
  dataset.features_u8 = {0, 1, 2, 3, 4, 255, 10, 11, 12, 13, 14, 15};
  dataset.labels = {0, 1};
  dataset.scale = 1.0f / 255.0f;
  EXPECT_EQ(dataset.feature_size(), 6u);
  EXPECT_FLOAT_EQ(dataset.normalized(0, 5), 1.0f);
  EXPECT_FLOAT_EQ(dataset.normalized(1, 0), 10.0f / 255.0f);
  EXPECT_EQ(Dataset{}.feature_size(), 0u);
}

TEST(DatasetTest, NormalizedFloat32AppliesScaleAndOffset) {
  Dataset dataset;
  dataset.sample_shape = {2};
  dataset.features_f32 = {1.0f, 2.0f, 3.0f, 4.0f};
  dataset.labels = {0, 0};
  dataset.scale = 2.0f;
  dataset.offset = -1.0f;
  EXPECT_FLOAT_EQ(dataset.normalized(1, 1), 7.0f);
}

// ---------------------------------------------------------------- Synthetic

constexpr SyntheticKind kAllKinds[] = {SyntheticKind::kSpiral, SyntheticKind::kCircles, SyntheticKind::kXor,
                                       SyntheticKind::kBlobs, SyntheticKind::kMoons};

TEST(SyntheticTest, EveryKindHasShapeCountAndBalancedClasses) {
  for (SyntheticKind kind : kAllKinds) {
    SCOPED_TRACE(std::string(SyntheticKindName(kind)));
    SyntheticOptions options;
    options.kind = kind;
    options.samples = 301;
    const Dataset dataset = MakeSynthetic(options);
    const uint32_t classes = kind == SyntheticKind::kSpiral || kind == SyntheticKind::kBlobs ? 3 : 2;
    EXPECT_EQ(dataset.name, SyntheticKindName(kind));
    EXPECT_EQ(dataset.sample_shape, std::vector<uint32_t>{2});
    EXPECT_EQ(dataset.format, FeatureFormat::kFloat32);
    EXPECT_EQ(dataset.count(), 301u);
    EXPECT_EQ(dataset.features_f32.size(), 602u);
    EXPECT_EQ(dataset.num_classes, classes);
    ASSERT_EQ(dataset.class_names.size(), classes);
    EXPECT_EQ(dataset.class_names[1], "class 1");
    const std::vector<uint32_t> counts = ClassCounts(dataset);
    EXPECT_LE(*std::max_element(counts.begin(), counts.end()) - *std::min_element(counts.begin(), counts.end()), 1u);
    for (float value : dataset.features_f32) {
      EXPECT_TRUE(std::isfinite(value));
      EXPECT_LT(std::abs(value), 1.6f);  // roughly [-1, 1] plus noise
    }
  }
}

TEST(SyntheticTest, DeterministicForASeedAndDifferentForAnother) {
  for (SyntheticKind kind : kAllKinds) {
    SCOPED_TRACE(std::string(SyntheticKindName(kind)));
    SyntheticOptions options;
    options.kind = kind;
    options.seed = 42;
    const Dataset first = MakeSynthetic(options);
    EXPECT_EQ(first.features_f32, MakeSynthetic(options).features_f32);
    options.seed = 43;
    const Dataset other = MakeSynthetic(options);
    EXPECT_NE(first.features_f32, other.features_f32);
    EXPECT_EQ(first.labels, other.labels);
  }
}

TEST(SyntheticTest, NoiselessGeometry) {
  SyntheticOptions options;
  options.noise = 0.0;
  options.samples = 400;

  options.kind = SyntheticKind::kCircles;
  options.classes = 4;
  const Dataset circles = MakeSynthetic(options);
  for (size_t i = 0; i < circles.count(); ++i)
    EXPECT_NEAR(std::hypot(circles.features_f32[2 * i], circles.features_f32[2 * i + 1]),
                (circles.labels[i] + 1) / 4.0, 1e-5);

  options.kind = SyntheticKind::kXor;
  options.classes = 0;
  const Dataset xor_set = MakeSynthetic(options);
  for (size_t i = 0; i < xor_set.count(); ++i)
    EXPECT_EQ(xor_set.features_f32[2 * i] * xor_set.features_f32[2 * i + 1] > 0, xor_set.labels[i] == 0);

  options.kind = SyntheticKind::kSpiral;
  options.classes = 5;
  const Dataset spiral = MakeSynthetic(options);
  EXPECT_EQ(spiral.num_classes, 5u);
  for (size_t i = 0; i < spiral.count(); ++i)
    EXPECT_LE(std::hypot(spiral.features_f32[2 * i], spiral.features_f32[2 * i + 1]), 1.0 + 1e-6);

  options.kind = SyntheticKind::kBlobs;
  options.classes = 3;
  const Dataset blobs = MakeSynthetic(options);
  EXPECT_EQ(blobs.features_f32[0], blobs.features_f32[6]);  // samples 0 and 3 share class 0's centre
}

TEST(SyntheticTest, BadOptionsGiveClearErrors) {
  auto make = [](SyntheticKind kind, uint32_t samples, uint32_t classes, double noise) {
    return [=] { MakeSynthetic({kind, samples, classes, noise, 1}); };
  };
  EXPECT_TRUE(ThrowsErrorWith(make(SyntheticKind::kSpiral, 100, 1, 0.1), {"spiral", "at least 2 classes", "classes=1"}));
  EXPECT_TRUE(ThrowsErrorWith(make(SyntheticKind::kBlobs, 2, 3, 0.1), {"blobs", "samples >= 3", "samples=2"}));
  EXPECT_TRUE(ThrowsErrorWith(make(SyntheticKind::kCircles, 100, 2, -0.5), {"non-negative noise", "noise=-0.5"}));
  EXPECT_TRUE(ThrowsErrorWith(make(SyntheticKind::kCircles, 100, 2, NAN), {"noise=nan"}));
  EXPECT_TRUE(ThrowsErrorWith(make(SyntheticKind::kMoons, 100, 3, 0.1),
                              {"moons", "expected classes=2, found classes=3", "exactly 2 classes"}));
  EXPECT_TRUE(ThrowsErrorWith(make(SyntheticKind::kXor, 100, 4, 0.1), {"xor", "found classes=4"}));
  EXPECT_TRUE(ThrowsErrorWith(make(SyntheticKind::kSpiral, 100, 1000, 0.1), {"at most 64 classes"}));
  EXPECT_TRUE(ThrowsErrorWith(make(SyntheticKind::kSpiral, 4'000'000'000u, 3, 0.1), {"at most", "samples"}));
}

TEST(SyntheticTest, ParseSpec) {
  const SyntheticOptions options = ParseSyntheticSpec("spiral:samples=600,classes=3,noise=0.2,seed=1");
  EXPECT_EQ(options.kind, SyntheticKind::kSpiral);
  EXPECT_EQ(options.samples, 600u);
  EXPECT_EQ(options.classes, 3u);
  EXPECT_DOUBLE_EQ(options.noise, 0.2);
  EXPECT_EQ(options.seed, 1u);

  const SyntheticOptions defaults = ParseSyntheticSpec("moons");
  EXPECT_EQ(defaults.kind, SyntheticKind::kMoons);
  EXPECT_EQ(defaults.samples, SyntheticOptions{}.samples);

  EXPECT_TRUE(ThrowsErrorWith([] { ParseSyntheticSpec("spiral:size=3"); },
                              {"spiral:size=3", "unknown option \"size\"", "samples, classes, noise, seed"}));
  EXPECT_TRUE(ThrowsErrorWith([] { ParseSyntheticSpec("spiral:samples=abc"); },
                              {"option samples", "non-negative integer", "found \"abc\""}));
  EXPECT_TRUE(ThrowsErrorWith([] { ParseSyntheticSpec("spiral:samples=-5"); }, {"found \"-5\""}));
  EXPECT_TRUE(ThrowsErrorWith([] { ParseSyntheticSpec("spiral:noise=0.1x"); }, {"expected a number", "\"0.1x\""}));
  EXPECT_TRUE(ThrowsErrorWith([] { ParseSyntheticSpec("spiral:samples"); }, {"expected key=value", "\"samples\""}));
  EXPECT_TRUE(ThrowsErrorWith([] { ParseSyntheticSpec("spiral:seed=1,seed=2"); }, {"seed", "more than once"}));
  EXPECT_TRUE(ThrowsErrorWith([] { ParseSyntheticSpec("swirl"); }, {"expected one of spiral", "found \"swirl\""}));
}

// ---------------------------------------------------------------- CSV (sklearn files)

std::optional<std::string> SklearnFile(const std::string& name) {
  const fs::path path = fs::path(kSklearnDataDir) / name;
  return fs::exists(path) ? std::optional(path.string()) : std::nullopt;
}

TEST(CsvTest, LoadsSklearnIris) {
  const auto path = SklearnFile("iris.csv");
  if (!path) GTEST_SKIP() << "sklearn's iris.csv is absent (apt-get install python3-sklearn)";
  const Dataset iris = LoadCsv(*path);
  EXPECT_EQ(iris.name, "iris.csv");
  EXPECT_EQ(iris.count(), 150u);
  EXPECT_EQ(iris.sample_shape, std::vector<uint32_t>{4});
  EXPECT_EQ(iris.num_classes, 3u);
  EXPECT_EQ(iris.class_names, (std::vector<std::string>{"setosa", "versicolor", "virginica"}));
  EXPECT_EQ(ClassCounts(iris), (std::vector<uint32_t>{50, 50, 50}));
  EXPECT_EQ(iris.scale, 1.0f);
  EXPECT_EQ(iris.offset, 0.0f);
  ExpectStandardized(iris);

  CsvOptions raw;
  raw.standardize = false;
  const Dataset unscaled = LoadCsv(*path, raw);
  EXPECT_EQ(std::vector<float>(unscaled.features_f32.begin(), unscaled.features_f32.begin() + 4),
            (std::vector<float>{5.1f, 3.5f, 1.4f, 0.2f}));
}

TEST(CsvTest, LoadsSklearnWine) {
  const auto path = SklearnFile("wine_data.csv");
  if (!path) GTEST_SKIP() << "sklearn's wine_data.csv is absent (apt-get install python3-sklearn)";
  const Dataset wine = LoadCsv(*path);
  EXPECT_EQ(wine.count(), 178u);
  EXPECT_EQ(wine.sample_shape, std::vector<uint32_t>{13});
  EXPECT_EQ(wine.num_classes, 3u);
  EXPECT_EQ(wine.class_names[2], "class_2");
  ExpectStandardized(wine);
}

TEST(CsvTest, LoadsGzippedSklearnDigits) {
  const auto path = SklearnFile("digits.csv.gz");
  if (!path) GTEST_SKIP() << "sklearn's digits.csv.gz is absent (apt-get install python3-sklearn)";
  const Dataset digits = LoadCsv(*path);
  EXPECT_EQ(digits.count(), 1797u);
  EXPECT_EQ(digits.sample_shape, std::vector<uint32_t>{64});
  EXPECT_EQ(digits.num_classes, 10u);
  EXPECT_TRUE(digits.class_names.empty());
  ExpectStandardized(digits);
}

// ---------------------------------------------------------------- CSV (written here)

using CsvFileTest = TempDirTest;

TEST_F(CsvFileTest, ColumnHeaderAndStringLabels) {
  const std::string path = WriteText("pets.csv", "weight, height, species\r\n1,2,cat\r\n\r\n3,4,dog\r\n5,6,\"cat\"\r\n");
  CsvOptions options;
  options.standardize = false;
  const Dataset pets = LoadCsv(path, options);
  EXPECT_EQ(pets.count(), 3u);
  EXPECT_EQ(pets.num_classes, 2u);
  EXPECT_EQ(pets.class_names, (std::vector<std::string>{"cat", "dog"}));
  EXPECT_EQ(pets.labels, (std::vector<uint32_t>{0, 1, 0}));
  EXPECT_EQ(pets.features_f32, (std::vector<float>{1, 2, 3, 4, 5, 6}));
}

TEST_F(CsvFileTest, LabelColumnAndNumericLabels) {
  const std::string path = WriteText("first.csv", "2,0.5,1.5\n0,-1,+2\n");
  CsvOptions options;
  options.label_column = 0;
  options.standardize = false;
  const Dataset dataset = LoadCsv(path, options);
  EXPECT_EQ(dataset.num_classes, 3u);
  EXPECT_EQ(dataset.labels, (std::vector<uint32_t>{2, 0}));
  EXPECT_EQ(dataset.features_f32, (std::vector<float>{0.5f, 1.5f, -1.0f, 2.0f}));
}

TEST_F(CsvFileTest, GzippedRoundTrip) {
  const std::string text = "1,2,0\n3,4,1\n";
  const std::string path = WriteGzip("small.csv.gz", std::vector<uint8_t>(text.begin(), text.end()));
  CsvOptions options;
  options.standardize = false;
  const Dataset dataset = LoadCsv(path, options);
  EXPECT_EQ(dataset.name, "small.csv.gz");
  EXPECT_EQ(dataset.features_f32, (std::vector<float>{1, 2, 3, 4}));
}

TEST_F(CsvFileTest, BadFilesNameTheFileAndLine) {
  const std::string ragged = WriteText("ragged.csv", "1,2,0\n3,4,1\n5,6\n");
  EXPECT_TRUE(ThrowsErrorWith([&] { LoadCsv(ragged); },
                              {"ragged.csv line 3 has 2 fields, expected 3 (as on line 1)"}));

  const std::string non_numeric = WriteText("cells.csv", "1,2,0\n3,abc,1\n");
  EXPECT_TRUE(ThrowsErrorWith([&] { LoadCsv(non_numeric); },
                              {"cells.csv line 2, column 2: expected a number, found \"abc\""}));

  const std::string empty_cell = WriteText("holes.csv", "1,2,0\n3,,1\n");
  EXPECT_TRUE(ThrowsErrorWith([&] { LoadCsv(empty_cell); }, {"holes.csv line 2, column 2", "an empty cell"}));

  const std::string empty = WriteText("empty.csv", "");
  EXPECT_TRUE(ThrowsErrorWith([&] { LoadCsv(empty); }, {"empty.csv", "is empty"}));

  const std::string blank = WriteText("blank.csv", "\n  \n");
  EXPECT_TRUE(ThrowsErrorWith([&] { LoadCsv(blank); }, {"blank.csv", "is empty"}));

  EXPECT_TRUE(ThrowsErrorWith([&] { LoadCsv(PathOf("missing.csv")); },
                              {"missing.csv", "cannot open the file (it does not exist)"}));

  const std::string header_only = WriteText("header.csv", "a,b,label\n");
  EXPECT_TRUE(ThrowsErrorWith([&] { LoadCsv(header_only); }, {"header.csv", "expected data rows", "found none"}));

  const std::string one_column = WriteText("one.csv", "1\n2\n");
  EXPECT_TRUE(ThrowsErrorWith([&] { LoadCsv(one_column); }, {"one.csv line 1", "at least 2"}));
}

TEST_F(CsvFileTest, BadLabelsGiveErrors) {
  const std::string negative = WriteText("negative.csv", "1,2,0\n3,4,-1\n");
  EXPECT_TRUE(ThrowsErrorWith([&] { LoadCsv(negative); },
                              {"negative.csv line 2, column 3", "non-negative integer class label", "\"-1\""}));

  const std::string fractional = WriteText("fraction.csv", "1,2,0\n3,4,1.5\n");
  EXPECT_TRUE(ThrowsErrorWith([&] { LoadCsv(fractional); }, {"fraction.csv line 2, column 3", "\"1.5\""}));

  const std::string out_of_range = WriteText("range.csv", "3,2,a,b\n1,2,0\n1,2,5\n1,2,1\n");
  EXPECT_TRUE(ThrowsErrorWith([&] { LoadCsv(out_of_range); },
                              {"range.csv line 3, column 3", "label out of range", "below 2", "found 5"}));

  const std::string huge = WriteText("huge.csv", "1,2,0\n3,4,99999999\n");
  EXPECT_TRUE(ThrowsErrorWith([&] { LoadCsv(huge); }, {"huge.csv line 2", "label out of range"}));

  CsvOptions options;
  options.label_column = 7;
  const std::string good = WriteText("good.csv", "1,2,0\n");
  EXPECT_TRUE(ThrowsErrorWith([&] { LoadCsv(good, options); }, {"good.csv", "label_column 7", "3 columns"}));
}

TEST_F(CsvFileTest, DecompressedSizeIsBoundedAndSpecialFilesRefused) {
  // A gzip file that unpacks far beyond its limit stops one byte past it.
  const std::string zeros = WriteGzip("zeros.gz", std::vector<uint8_t>(8 << 20, '0'));
  EXPECT_TRUE(ThrowsErrorWith([&] { ReadContent(zeros, 1 << 20, "a test file"); },
                              {"zeros.gz: decompresses to more than 1 MiB; a test file may hold at most 1 MiB"}));
  EXPECT_EQ(ReadContent(zeros, 8 << 20, "a test file").size(), size_t{8} << 20);
  const std::string plain = WriteText("plain.csv", std::string(2000, '1'));
  EXPECT_TRUE(ThrowsErrorWith([&] { ReadContent(plain, 1000, "a test file"); },
                              {"plain.csv: the file is 2000 bytes; a test file may be at most 1000 bytes"}));
  EXPECT_TRUE(ThrowsErrorWith([&] { LoadCsv("/dev/zero"); }, {"/dev/zero: expected a CSV file, found a character device"}));
  EXPECT_TRUE(ThrowsErrorWith([&] { LoadCsv(dir_.string()); }, {": expected a CSV file, found a folder"}));
}

TEST_F(CsvFileTest, RowsAreReadWithoutSplittingTheWholeFileFirst) {
  // The same rows as before the cursor: header detection still sees two lines.
  std::string text = "4,2,a,b\n";
  for (int i = 0; i < 4; ++i) text += std::to_string(i) + "," + std::to_string(i + 1) + "," + std::to_string(i % 2) + "\n";
  CsvOptions options;
  options.standardize = false;
  const Dataset dataset = LoadCsv(WriteText("sk.csv", text), options);
  EXPECT_EQ(dataset.class_names, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(dataset.labels, (std::vector<uint32_t>{0, 1, 0, 1}));
  const Dataset single = LoadCsv(WriteText("single.csv", "\n1,2,1\n\n"), options);
  EXPECT_EQ(single.features_f32, (std::vector<float>{1, 2}));
}

TEST_F(CsvFileTest, SklearnHeaderCountIsChecked) {
  const std::string path = WriteText("short.csv", "4,2,a,b\n1,2,0\n3,4,1\n5,6,0\n");
  EXPECT_TRUE(ThrowsErrorWith([&] { LoadCsv(path); }, {"short.csv line 1", "declares 4 samples, found 3"}));
}

// ---------------------------------------------------------------- IDX

std::vector<uint8_t> BigEndian(std::initializer_list<uint32_t> words) {
  std::vector<uint8_t> bytes;
  for (uint32_t word : words)
    for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(static_cast<uint8_t>(word >> shift));
  return bytes;
}

std::vector<uint8_t> IdxImages(uint32_t count, uint32_t rows, uint32_t cols, uint32_t stored_count) {
  std::vector<uint8_t> bytes = BigEndian({0x00000803, count, rows, cols});
  for (uint32_t i = 0; i < stored_count * rows * cols; ++i) bytes.push_back(static_cast<uint8_t>(i * 7));
  return bytes;
}

std::vector<uint8_t> IdxLabels(const std::vector<uint8_t>& labels) {
  std::vector<uint8_t> bytes = BigEndian({0x00000801, static_cast<uint32_t>(labels.size())});
  bytes.insert(bytes.end(), labels.begin(), labels.end());
  return bytes;
}

using IdxTest = TempDirTest;

TEST_F(IdxTest, RawAndGzippedRoundTrip) {
  const std::vector<uint8_t> images = IdxImages(3, 4, 5, 3);
  const std::vector<uint8_t> labels = IdxLabels({7, 0, 9});
  for (bool gzipped : {false, true}) {
    SCOPED_TRACE(gzipped ? "gzipped" : "raw");
    const std::string images_path = gzipped ? WriteGzip("images.gz", images) : WriteBytes("images", images);
    const std::string labels_path = gzipped ? WriteGzip("labels.gz", labels) : WriteBytes("labels", labels);
    const Dataset dataset = LoadIdx(images_path, labels_path);
    EXPECT_EQ(dataset.name, gzipped ? "images.gz" : "images");
    EXPECT_EQ(dataset.sample_shape, (std::vector<uint32_t>{1, 4, 5}));
    EXPECT_EQ(dataset.format, FeatureFormat::kUint8);
    EXPECT_EQ(dataset.features_u8, std::vector<uint8_t>(images.begin() + 16, images.end()));
    EXPECT_TRUE(dataset.features_f32.empty());
    EXPECT_EQ(dataset.labels, (std::vector<uint32_t>{7, 0, 9}));
    EXPECT_EQ(dataset.num_classes, 10u);
    EXPECT_EQ(dataset.class_names.front(), "0");
    EXPECT_FLOAT_EQ(dataset.scale, 1.0f / 255.0f);
    EXPECT_FLOAT_EQ(dataset.normalized(0, 1), 7.0f / 255.0f);
  }
}

TEST_F(IdxTest, FashionNamesWhenTheNameSaysSo) {
  const std::string images = WriteBytes("images", IdxImages(1, 2, 2, 1));
  const std::string labels = WriteBytes("labels", IdxLabels({9}));
  const Dataset dataset = LoadIdx(images, labels, "fashion-mnist:train");
  EXPECT_EQ(dataset.name, "fashion-mnist:train");
  EXPECT_EQ(dataset.class_names.front(), "T-shirt/top");
  EXPECT_EQ(dataset.class_names.back(), "Ankle boot");
}

TEST_F(IdxTest, BadMagicNumbers) {
  const std::string images = WriteBytes("images", IdxImages(2, 2, 2, 2));
  const std::string labels = WriteBytes("labels", IdxLabels({1, 2}));
  EXPECT_TRUE(ThrowsErrorWith([&] { LoadIdx(labels, images); },
                              {"labels: byte offset 0: expected IDX magic number 0x00000803", "found 0x00000801",
                               "swapped"}));
  std::vector<uint8_t> bad = IdxImages(2, 2, 2, 2);
  bad[0] = 0x12;
  const std::string bad_path = WriteBytes("bad", bad);
  EXPECT_TRUE(ThrowsErrorWith([&] { LoadIdx(bad_path, labels); }, {"bad: byte offset 0", "found 0x12000803"}));
  const std::string tiny = WriteBytes("tiny", {0, 0});
  EXPECT_TRUE(ThrowsErrorWith([&] { LoadIdx(tiny, labels); }, {"tiny: byte offset 0", "found a 2-byte file"}));
}

TEST_F(IdxTest, SizeMustMatchTheHeader) {
  const std::string labels = WriteBytes("labels", IdxLabels({1, 2, 3, 4, 5}));
  const std::string truncated = WriteBytes("truncated", IdxImages(5, 4, 4, 3));
  EXPECT_TRUE(ThrowsErrorWith([&] { LoadIdx(truncated, labels); },
                              {"truncated: truncated: expected 96 bytes (16-byte header + 5 images of 4x4), found 64 "
                               "bytes"}));
  std::vector<uint8_t> long_bytes = IdxImages(5, 4, 4, 5);
  long_bytes.push_back(0);
  const std::string too_long = WriteBytes("long", long_bytes);
  EXPECT_TRUE(ThrowsErrorWith([&] { LoadIdx(too_long, labels); },
                              {"long: longer than its header says: expected 96 bytes", "found 97 bytes"}));
  const std::string header_cut = WriteBytes("cut", BigEndian({0x00000803, 5}));
  EXPECT_TRUE(ThrowsErrorWith([&] { LoadIdx(header_cut, labels); }, {"cut: truncated header: expected 16 bytes"}));
}

TEST_F(IdxTest, CountsAndLabelsAreChecked) {
  const std::string images = WriteBytes("images", IdxImages(5, 2, 2, 5));
  const std::string four_labels = WriteBytes("four", IdxLabels({1, 2, 3, 4}));
  EXPECT_TRUE(ThrowsErrorWith([&] { LoadIdx(images, four_labels); },
                              {"images holds 5 images", "four holds 4 labels", "one label per image"}));
  const std::string bad_label = WriteBytes("bad_label", IdxLabels({1, 2, 12, 4, 5}));
  EXPECT_TRUE(ThrowsErrorWith([&] { LoadIdx(images, bad_label); },
                              {"bad_label: byte offset 10 (label of image 2)", "below 10", "found 12"}));
}

TEST_F(IdxTest, BrokenGzipIsReported) {
  const std::vector<uint8_t> images = IdxImages(20, 8, 8, 20);
  const std::string labels = WriteGzip("labels.gz", IdxLabels(std::vector<uint8_t>(20, 3)));
  const std::string whole = WriteGzip("images.gz", images);
  std::vector<uint8_t> compressed = ReadFileBytes(whole);
  ASSERT_GT(compressed.size(), 20u);

  std::vector<uint8_t> cut(compressed.begin(), compressed.end() - 12);
  const std::string cut_path = WriteBytes("cut.gz", cut);
  EXPECT_TRUE(ThrowsErrorWith([&] { LoadIdx(cut_path, labels); },
                              {"cut.gz: truncated gzip data", "expected the gzip end-of-stream marker",
                               "found the end of the file at byte offset " + std::to_string(cut.size())}));

  std::vector<uint8_t> corrupt = compressed;
  corrupt[corrupt.size() - 6] ^= 0xff;  // inside the CRC-32 trailer
  const std::string corrupt_path = WriteBytes("corrupt.gz", corrupt);
  EXPECT_TRUE(ThrowsErrorWith([&] { LoadIdx(corrupt_path, labels); }, {"corrupt.gz: corrupt gzip data"}));

  std::vector<uint8_t> trailing = compressed;
  trailing.insert(trailing.end(), {'j', 'u', 'n', 'k'});
  const std::string trailing_path = WriteBytes("trailing.gz", trailing);
  EXPECT_TRUE(ThrowsErrorWith([&] { LoadIdx(trailing_path, labels); },
                              {"trailing.gz: byte offset " + std::to_string(compressed.size()), "found 4 more bytes"}));
}

TEST_F(IdxTest, GzipIsReadAsFarAsTheHeaderSays) {
  // A header of zeros ahead of 16 MiB of zeros: refused after 4 decompressed bytes.
  const std::string zeros = WriteGzip("zeros.gz", std::vector<uint8_t>(16 << 20, 0));
  const std::string labels = WriteBytes("labels", IdxLabels({1, 2}));
  EXPECT_TRUE(ThrowsErrorWith([&] { LoadIdx(zeros, labels); }, {"zeros.gz: byte offset 0 (decompressed)", "found 0x00000000"}));
  ContentReader reader(zeros, "a test file");
  uint8_t head[16];
  EXPECT_EQ(reader.Read(head, sizeof head), sizeof head);
  EXPECT_EQ(reader.produced(), sizeof head);  // nothing more was unpacked

  // A right header followed by more than it describes: refused after one byte too many.
  std::vector<uint8_t> long_images = IdxImages(2, 2, 2, 2);
  long_images.resize(long_images.size() + (16 << 20), 0);
  const std::string long_path = WriteGzip("long.gz", long_images);
  EXPECT_TRUE(ThrowsErrorWith([&] { LoadIdx(long_path, labels); },
                              {"long.gz: longer than its header says: expected 24 bytes", "found more decompressed"}));

  // A header promising more than the compressed file could ever unpack to.
  const std::string promise = WriteGzip("promise.gz", IdxImages(60000, 1000, 1000, 0));
  EXPECT_TRUE(ThrowsErrorWith([&] { LoadIdx(promise, labels); },
                              {"promise.gz: truncated: expected 60000000016 bytes", "gzip bytes unpack to at most"}));
  // ... and one that the file could hold but does not.
  const std::string short_path = WriteGzip("short.gz", IdxImages(5, 4, 4, 3));
  EXPECT_TRUE(ThrowsErrorWith([&] { LoadIdx(short_path, labels); },
                              {"short.gz: truncated: expected 96 bytes", "found 64 decompressed bytes"}));
  EXPECT_TRUE(ThrowsErrorWith([&] { LoadIdx("/dev/zero", labels); },
                              {"/dev/zero: expected an IDX images file, found a character device"}));
}

// ---------------------------------------------------------------- Registry

using RegistryTest = TempDirTest;

TEST(RegistrySpecTest, SyntheticTrainAndTest) {
  const DataSplit split = LoadDataSpec("spiral:samples=200,classes=4,seed=7");
  EXPECT_EQ(split.train.name, "spiral:train");
  EXPECT_EQ(split.test.name, "spiral:test");
  EXPECT_EQ(split.train.count(), 200u);
  EXPECT_EQ(split.test.count(), 50u);
  EXPECT_EQ(split.test.num_classes, 4u);
  // The test set is the same distribution drawn with seed + 1.
  EXPECT_EQ(split.test.features_f32, MakeSynthetic({SyntheticKind::kSpiral, 50, 4, 0.1, 8}).features_f32);

  const DataSplit sized = LoadDataSpec("moons:test_samples=30");
  EXPECT_EQ(sized.train.count(), SyntheticOptions{}.samples);
  EXPECT_EQ(sized.test.count(), 30u);
  EXPECT_EQ(LoadDataSpec("xor").train.num_classes, 2u);
}

TEST(RegistrySpecTest, BadSpecsListWhatIsAccepted) {
  EXPECT_TRUE(ThrowsErrorWith([] { LoadDataSpec("cifar"); },
                              {"unknown data spec \"cifar\"", "spiral", "fashion-mnist", "iris", ".csv.gz"}));
  EXPECT_TRUE(ThrowsErrorWith([] { LoadDataSpec(""); }, {"unknown data spec \"\""}));
  EXPECT_TRUE(ThrowsErrorWith([] { LoadDataSpec("spiral:bogus=1"); }, {"unknown option \"bogus\""}));
  EXPECT_TRUE(ThrowsErrorWith([] { LoadDataSpec("spiral:test_samples=x"); }, {"test_samples", "\"x\""}));
  EXPECT_TRUE(ThrowsErrorWith([] { LoadDataSpec("spiral:classes=3,test_samples=2"); },
                              {"test set", "samples >= 3", "samples=2"}));
  EXPECT_TRUE(ThrowsErrorWith([] { LoadDataSpec("mnist:samples=5"); }, {"mnist takes no options"}));
  EXPECT_TRUE(ThrowsErrorWith([] { LoadDataSpec("iris:test_fraction=1.5"); }, {"test_fraction", "found 1.5"}));
  EXPECT_TRUE(ThrowsErrorWith([] { LoadDataSpec("iris:folds=3"); }, {"unknown option \"folds\""}));
}

TEST(RegistrySpecTest, SklearnSetsSplitDeterministically) {
  if (!FindDatasetDir("iris")) GTEST_SKIP() << "sklearn's iris.csv is absent (apt-get install python3-sklearn)";
  const DataSplit iris = LoadDataSpec("iris");
  EXPECT_EQ(iris.train.name, "iris:train");
  EXPECT_EQ(iris.train.count(), 120u);
  EXPECT_EQ(iris.test.count(), 30u);
  EXPECT_EQ(iris.test.class_names.size(), 3u);
  EXPECT_EQ(iris.test.features_f32, LoadDataSpec("iris").test.features_f32);
  EXPECT_NE(iris.test.features_f32, LoadDataSpec("iris:seed=2").test.features_f32);
  EXPECT_EQ(LoadDataSpec("iris:test_fraction=0.5").test.count(), 75u);
  const DataSplit whole = LoadDataSpec("iris:test_fraction=0");  // no test set wanted
  EXPECT_EQ(whole.train.count(), 150u);
  EXPECT_EQ(whole.test.count(), 0u);
  EXPECT_EQ(whole.test.sample_shape, whole.train.sample_shape);

  const DataSplit wine = LoadDataSpec("wine");
  EXPECT_EQ(wine.train.count() + wine.test.count(), 178u);
  const DataSplit digits = LoadDataSpec("digits");
  EXPECT_EQ(digits.test.count(), 359u);  // round(0.2 * 1797)
}

TEST_F(RegistryTest, CsvPathSpecs) {
  std::string text;
  for (int i = 0; i < 20; ++i) text += std::to_string(i) + "," + std::to_string(i % 2) + "\n";
  const std::string path = WriteText("points.csv", text);
  const DataSplit split = LoadDataSpec(path);
  EXPECT_EQ(split.train.name, "points.csv:train");
  EXPECT_EQ(split.train.count(), 16u);
  EXPECT_EQ(split.test.count(), 4u);
  EXPECT_EQ(LoadDataSpec(path + ":test_fraction=0.25,seed=3").test.count(), 5u);
  EXPECT_TRUE(ThrowsErrorWith([&] { LoadDataSpec(PathOf("absent.csv")); }, {"absent.csv", "cannot open"}));
}

TEST_F(RegistryTest, MissingIdxDataListsPathsAndInstallCommand) {
  const ScopedEnv data_dir("TENSORSCOPE_DATA_DIR", dir_.string());
  const ScopedEnv xdg("XDG_DATA_HOME", (dir_ / "xdg").string());
  EXPECT_EQ(DataSearchRoots(),
            (std::vector<std::string>{dir_.string(), (dir_ / "xdg").string() + "/tensorscope/data",
                                      "/usr/share/datasets"}));
  if (fs::exists("/usr/share/datasets/mnist")) GTEST_SKIP() << "/usr/share/datasets/mnist exists";
  EXPECT_FALSE(FindDatasetDir("mnist"));
  EXPECT_TRUE(ThrowsErrorWith([] { LoadDataSpec("mnist"); },
                              {"mnist not found", "train-images-idx3-ubyte[.gz]", (dir_ / "mnist").string(),
                               "/usr/share/datasets/mnist", "assets/scripts/fetch-mnist.sh"}));
}

TEST_F(RegistryTest, FindsIdxFilesUnderTheDataDir) {
  const ScopedEnv data_dir("TENSORSCOPE_DATA_DIR", dir_.string());
  // Keep a real MNIST in the user's data dir (fetch-mnist.sh) out of this test.
  const ScopedEnv xdg("XDG_DATA_HOME", (dir_ / "xdg").string());
  if (fs::exists("/usr/share/datasets/mnist")) GTEST_SKIP() << "/usr/share/datasets/mnist exists";
  fs::create_directories(dir_ / "mnist");
  WriteGzip("mnist/train-images-idx3-ubyte.gz", IdxImages(4, 3, 3, 4));
  WriteBytes("mnist/train-labels-idx1-ubyte", IdxLabels({0, 1, 2, 3}));
  WriteBytes("mnist/t10k-images-idx3-ubyte", IdxImages(2, 3, 3, 2));
  EXPECT_FALSE(FindDatasetDir("mnist"));  // one file is still missing
  WriteGzip("mnist/t10k-labels-idx1-ubyte.gz", IdxLabels({5, 6}));
  ASSERT_EQ(FindDatasetDir("mnist"), (dir_ / "mnist").string());
  const DataSplit split = LoadDataSpec("mnist");
  EXPECT_EQ(split.train.name, "mnist:train");
  EXPECT_EQ(split.train.count(), 4u);
  EXPECT_EQ(split.test.labels, (std::vector<uint32_t>{5, 6}));
  EXPECT_EQ(split.test.class_names.front(), "0");
}

TEST_F(RegistryTest, IdxDirectoryByPath) {
  fs::create_directories(dir_ / "digits");
  WriteBytes("digits/train-images-idx3-ubyte", IdxImages(4, 3, 3, 4));
  WriteBytes("digits/train-labels-idx1-ubyte", IdxLabels({0, 1, 2, 3}));
  WriteBytes("digits/t10k-images-idx3-ubyte", IdxImages(2, 3, 3, 2));
  const std::string spec = "idx:" + (dir_ / "digits").string();
  EXPECT_TRUE(ThrowsErrorWith([&] { LoadDataSpec(spec); }, {(dir_ / "digits").string(), "missing t10k-labels-idx1-ubyte"}));
  WriteGzip("digits/t10k-labels-idx1-ubyte.gz", IdxLabels({5, 6}));
  const DataSplit split = LoadDataSpec(spec);
  EXPECT_EQ(split.train.name, "digits:train");
  EXPECT_EQ(split.train.count(), 4u);
  EXPECT_EQ(split.train.sample_shape, (std::vector<uint32_t>{1, 3, 3}));
  EXPECT_EQ(split.test.labels, (std::vector<uint32_t>{5, 6}));
  EXPECT_TRUE(ThrowsErrorWith([&] { LoadDataSpec("idx:" + (dir_ / "absent").string()); }, {"is not a directory"}));
  EXPECT_TRUE(ThrowsErrorWith([] { LoadDataSpec("idx:"); }, {"expected idx:DIRECTORY"}));
}

TEST(RegistrySpecTest, ShapesImages) {
  const DataSplit split = LoadDataSpec("shapes:samples=160,classes=4,size=16,test_samples=40");
  EXPECT_EQ(split.train.name, "shapes:train");
  EXPECT_EQ(split.train.count(), 160u);
  EXPECT_EQ(split.test.count(), 40u);
  EXPECT_EQ(split.train.sample_shape, (std::vector<uint32_t>{1, 16, 16}));
  EXPECT_EQ(split.train.num_classes, 4u);
  EXPECT_EQ(split.train.format, FeatureFormat::kUint8);
  EXPECT_NE(split.train.features_u8, std::vector<uint8_t>(split.train.features_u8.size(), split.train.features_u8[0]));
  EXPECT_EQ(LoadDataSpec("shapes").train.sample_shape, (std::vector<uint32_t>{1, 28, 28}));
  EXPECT_TRUE(ThrowsErrorWith([] { LoadDataSpec("shapes:colour=3"); }, {"colour"}));
}

TEST_F(RegistryTest, Cifar10NotFoundSaysWhereItLooked) {
  const ScopedEnv data_dir("TENSORSCOPE_DATA_DIR", dir_.string());
  const ScopedEnv xdg("XDG_DATA_HOME", (dir_ / "xdg").string());
  if (fs::exists("/usr/share/datasets/cifar10")) GTEST_SKIP() << "/usr/share/datasets/cifar10 exists";
  EXPECT_TRUE(ThrowsErrorWith([] { LoadDataSpec("cifar10"); },
                              {"CIFAR-10 not found", (dir_ / "cifar10").string(), "cifar10:DIRECTORY"}));
  EXPECT_TRUE(ThrowsErrorWith([&] { LoadDataSpec("cifar10:" + (dir_ / "nothing").string()); }, {"nothing"}));
}

TEST_F(RegistryTest, ImageFolderWithBadOptions) {
  EXPECT_TRUE(ThrowsErrorWith([&] { LoadDataSpec("images:" + dir_.string() + ":size=32"); }, {"expected WxH"}));
  EXPECT_TRUE(ThrowsErrorWith([&] { LoadDataSpec("images:" + dir_.string() + ":zoom=2"); }, {"unknown option \"zoom\""}));
  EXPECT_TRUE(ThrowsErrorWith([] { LoadDataSpec("images:"); }, {"expected images:DIRECTORY"}));
}

TEST(RegistrySpecTest, FashionMnistFromTheSystem) {
  if (!FindDatasetDir("fashion-mnist"))
    GTEST_SKIP() << "Fashion-MNIST is not installed (sudo apt-get install dataset-fashion-mnist)";
  const DataSplit split = LoadDataSpec("fashion-mnist");
  EXPECT_EQ(split.train.count(), 60000u);
  EXPECT_EQ(split.test.count(), 10000u);
  EXPECT_EQ(split.train.sample_shape, (std::vector<uint32_t>{1, 28, 28}));
  EXPECT_EQ(split.train.features_u8.size(), 60000u * 784u);
  EXPECT_EQ(split.train.class_names[9], "Ankle boot");
  EXPECT_EQ(ClassCounts(split.test), std::vector<uint32_t>(10, 1000));
}

TEST(RegistrySpecTest, MnistWhenPresent) {
  if (!FindDatasetDir("mnist")) GTEST_SKIP() << "MNIST is not installed (run assets/scripts/fetch-mnist.sh)";
  const DataSplit split = LoadDataSpec("mnist");
  EXPECT_EQ(split.train.count(), 60000u);
  EXPECT_EQ(split.test.count(), 10000u);
  EXPECT_EQ(split.test.sample_shape, (std::vector<uint32_t>{1, 28, 28}));
}

// ---------------------------------------------------------------- Split / subset

Dataset Numbered(uint32_t count) {  // feature of sample i is i, so samples can be traced
  Dataset dataset;
  dataset.name = "numbered:train";
  dataset.sample_shape = {1};
  dataset.num_classes = 2;
  for (uint32_t i = 0; i < count; ++i) {
    dataset.features_f32.push_back(static_cast<float>(i));
    dataset.labels.push_back(i % 2);
  }
  return dataset;
}

TEST(SplitTest, ValidationSplitIsDeterministicAndPartitions) {
  const Dataset all = Numbered(100);
  const auto [train, validation] = SplitValidation(all, 0.1, 5);
  EXPECT_EQ(train.name, "numbered:train");
  EXPECT_EQ(validation.name, "numbered:validation");
  EXPECT_EQ(train.count(), 90u);
  EXPECT_EQ(validation.count(), 10u);
  std::set<float> seen(train.features_f32.begin(), train.features_f32.end());
  seen.insert(validation.features_f32.begin(), validation.features_f32.end());
  EXPECT_EQ(seen.size(), 100u);
  for (size_t i = 0; i < validation.count(); ++i)
    EXPECT_EQ(validation.labels[i], static_cast<uint32_t>(validation.features_f32[i]) % 2);

  EXPECT_EQ(SplitValidation(all, 0.1, 5).second.features_f32, validation.features_f32);
  EXPECT_NE(SplitValidation(all, 0.1, 6).second.features_f32, validation.features_f32);
  EXPECT_EQ(SplitValidation(Numbered(3), 0.01, 1).second.count(), 1u);  // at least one

  EXPECT_TRUE(ThrowsErrorWith([&] { SplitValidation(all, 0.0, 1); }, {"numbered:train", "between 0 and 1"}));
  EXPECT_TRUE(ThrowsErrorWith([&] { SplitValidation(all, 1.0, 1); }, {"between 0 and 1"}));
  EXPECT_TRUE(ThrowsErrorWith([&] { SplitValidation(Numbered(1), 0.5, 1); }, {"at least 2 samples, found 1"}));
}

TEST(SplitTest, SubsetKeepsOrderAndMetadata) {
  Dataset images;
  images.name = "tiny";
  images.sample_shape = {1, 1, 2};
  images.num_classes = 10;
  images.format = FeatureFormat::kUint8;
  images.scale = 0.5f;
  images.features_u8 = {0, 1, 10, 11, 20, 21};
  images.labels = {3, 4, 5};
  const uint32_t picks[] = {2, 0, 2};
  const Dataset subset = Subset(images, picks);
  EXPECT_EQ(subset.features_u8, (std::vector<uint8_t>{20, 21, 0, 1, 20, 21}));
  EXPECT_EQ(subset.labels, (std::vector<uint32_t>{5, 3, 5}));
  EXPECT_EQ(subset.sample_shape, images.sample_shape);
  EXPECT_EQ(subset.scale, 0.5f);
  EXPECT_EQ(subset.format, FeatureFormat::kUint8);

  const uint32_t bad[] = {1, 3};
  EXPECT_TRUE(ThrowsErrorWith([&] { Subset(images, bad); }, {"tiny", "sample index 3", "below 3"}));
  const Dataset floats = Subset(Numbered(10), std::vector<uint32_t>{9, 1});
  EXPECT_EQ(floats.features_f32, (std::vector<float>{9, 1}));
}

}  // namespace
}  // namespace ts::data
