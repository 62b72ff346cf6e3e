// Tests for the image datasets in compute/data: the CIFAR-10 binary loader,
// image folders (decoding, channel conversion, resizing, errors) and the
// synthetic "shapes" set. CPU only: files are written to a temp directory.
#include <gtest/gtest.h>
#include <stb/stb_image_write.h>  // implemented in libstb, which the UI library links
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "compute/common/error.h"
#include "compute/data/cifar.h"
#include "compute/data/dataset.h"
#include "compute/data/image_folder.h"
#include "compute/data/registry.h"
#include "compute/data/synthetic_images.h"
#include "support/temp_files.h"

namespace ts::data {
namespace {

namespace fs = std::filesystem;

using testing::ThrowsErrorWith;

// The shared temporary-directory fixture, plus PNG files.
class TempDirTest : public testing::TempDirTest {
 protected:
  std::string WritePng(const std::string& relative, uint32_t width, uint32_t height, uint32_t channels,
                       const std::vector<uint8_t>& pixels) const {
    EXPECT_EQ(pixels.size(), size_t{width} * height * channels);
    const std::string path = PathOf(relative);
    EXPECT_NE(stbi_write_png(path.c_str(), static_cast<int>(width), static_cast<int>(height),
                             static_cast<int>(channels), pixels.data(), static_cast<int>(width * channels)),
              0);
    return path;
  }
  std::string Dir(const std::string& relative = "") const { return (dir_ / relative).string(); }
};

// A pixel pattern where every (sample, position, channel) has its own value.
uint8_t Pattern(uint32_t sample, uint32_t position, uint32_t channel) {
  return static_cast<uint8_t>((sample * 11 + position * 7 + channel * 37) % 256);
}

std::vector<uint32_t> ClassCounts(const Dataset& dataset) {
  std::vector<uint32_t> counts(dataset.num_classes);
  for (uint32_t label : dataset.labels) ++counts.at(label);
  return counts;
}

// ---------------------------------------------------------------- CIFAR-10

// CIFAR-10 records for `labels`, image r holding Pattern(first_sample + r, ...)
// in the file's planar CHW order.
std::vector<uint8_t> CifarRecords(const std::vector<uint8_t>& labels, uint32_t first_sample = 0) {
  std::vector<uint8_t> bytes;
  for (size_t r = 0; r < labels.size(); ++r) {
    bytes.push_back(labels[r]);
    for (uint32_t channel = 0; channel < 3; ++channel)
      for (uint32_t position = 0; position < 1024; ++position)
        bytes.push_back(Pattern(first_sample + static_cast<uint32_t>(r), position, channel));
  }
  return bytes;
}

using CifarTest = TempDirTest;

TEST_F(CifarTest, LoadsRecordsAndConvertsChwToHwc) {
  const std::string path = WriteBytes("batch.bin", CifarRecords({3, 9, 0}));
  const Dataset dataset = LoadCifar10Batches({path}, "cifar-test");
  EXPECT_EQ(dataset.name, "cifar-test");
  EXPECT_EQ(dataset.sample_shape, (std::vector<uint32_t>{3, 32, 32}));
  EXPECT_EQ(dataset.format, FeatureFormat::kUint8);
  EXPECT_EQ(dataset.num_classes, 10u);
  EXPECT_EQ(dataset.labels, (std::vector<uint32_t>{3, 9, 0}));
  ASSERT_EQ(dataset.class_names.size(), 10u);
  EXPECT_EQ(dataset.class_names[0], "airplane");
  EXPECT_EQ(dataset.class_names[9], "truck");
  EXPECT_FLOAT_EQ(dataset.scale, 1.0f / 255.0f);
  EXPECT_FLOAT_EQ(dataset.offset, 0.0f);
  ASSERT_EQ(dataset.features_u8.size(), 3u * 3072u);
  // HWC: pixel (y, x) channel c of sample s at s * 3072 + (y * 32 + x) * 3 + c.
  for (uint32_t sample = 0; sample < 3; ++sample)
    for (uint32_t position = 0; position < 1024; ++position)
      for (uint32_t channel = 0; channel < 3; ++channel)
        ASSERT_EQ(dataset.features_u8[sample * 3072 + position * 3 + channel], Pattern(sample, position, channel))
            << "sample " << sample << " pixel " << position << " channel " << channel;
  EXPECT_FLOAT_EQ(dataset.normalized(1, 5 * 3 + 2), Pattern(1, 5, 2) / 255.0f);
}

TEST_F(CifarTest, LoadsTheDirectoryLayoutWithMetaNames) {
  for (uint32_t batch = 0; batch < 5; ++batch)
    WriteBytes("cifar/data_batch_" + std::to_string(batch + 1) + ".bin",
               CifarRecords({static_cast<uint8_t>(batch), static_cast<uint8_t>(batch + 5)}, batch * 2));
  WriteBytes("cifar/test_batch.bin", CifarRecords({7}, 100));
  std::ofstream(PathOf("cifar/batches.meta.txt")) << "a\nb\nc\nd\ne\nf\ng\nh\ni\n  j \n\n\n";
  EXPECT_TRUE(IsCifar10Dir(Dir("cifar")));

  const auto [train, test] = LoadCifar10(Dir("cifar"));
  EXPECT_EQ(train.name, "cifar10:train");
  EXPECT_EQ(test.name, "cifar10:test");
  EXPECT_EQ(train.labels, (std::vector<uint32_t>{0, 5, 1, 6, 2, 7, 3, 8, 4, 9}));
  EXPECT_EQ(test.labels, std::vector<uint32_t>{7});
  EXPECT_EQ(train.class_names, (std::vector<std::string>{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}));
  EXPECT_EQ(test.class_names, train.class_names);
  // Batches are concatenated in order: sample 7 is batch 4's second record.
  EXPECT_EQ(train.features_u8[7 * 3072 + 100 * 3 + 1], Pattern(7, 100, 1));
  EXPECT_EQ(test.features_u8[10 * 3 + 2], Pattern(100, 10, 2));
}

TEST_F(CifarTest, StandardNamesWithoutMeta) {
  EXPECT_EQ(ReadCifar10ClassNames(Dir()),
            (std::vector<std::string>{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                                      "truck"}));
}

TEST_F(CifarTest, WrongSizeNamesTheFileAndSizes) {
  std::vector<uint8_t> bytes = CifarRecords({1, 2});
  bytes.push_back(0);  // 6147 bytes
  const std::string path = WriteBytes("odd.bin", bytes);
  EXPECT_TRUE(ThrowsErrorWith([&] { LoadCifar10Batches({path}, "x"); },
                              {path, "6147 bytes", "expected a multiple of 3073", "2 records would be 6146"}));
}

TEST_F(CifarTest, LabelOutOfRangeNamesTheRecordAndByte) {
  const std::string path = WriteBytes("bad_label.bin", CifarRecords({4, 10, 2}));
  EXPECT_TRUE(ThrowsErrorWith([&] { LoadCifar10Batches({path}, "x"); },
                              {path, "byte offset 3073", "record 1", "below 10", "found 10"}));
}

TEST_F(CifarTest, EmptyAndMissingFiles) {
  const std::string empty = WriteBytes("empty.bin", {});
  EXPECT_TRUE(ThrowsErrorWith([&] { LoadCifar10Batches({empty}, "x"); }, {empty, "empty"}));
  const std::string absent = Dir("absent.bin");
  EXPECT_TRUE(ThrowsErrorWith([&] { LoadCifar10Batches({absent}, "x"); }, {absent, "not found"}));
  EXPECT_TRUE(ThrowsErrorWith([&] { LoadCifar10Batches({}, "x"); }, {"at least one"}));

  WriteBytes("partial/data_batch_1.bin", CifarRecords({1}));
  WriteBytes("partial/data_batch_3.bin", CifarRecords({1}));
  EXPECT_FALSE(IsCifar10Dir(Dir("partial")));
  EXPECT_TRUE(ThrowsErrorWith([&] { LoadCifar10(Dir("partial")); },
                              {Dir("partial"), "missing data_batch_2.bin, data_batch_4.bin, data_batch_5.bin, "
                                               "test_batch.bin"}));
  EXPECT_TRUE(ThrowsErrorWith([&] { LoadCifar10(Dir("nowhere")); }, {Dir("nowhere"), "not found"}));
}

TEST_F(CifarTest, MetaWithTheWrongNameCount) {
  std::ofstream(PathOf("meta/batches.meta.txt")) << "a\nb\nc\n";
  EXPECT_TRUE(ThrowsErrorWith([&] { ReadCifar10ClassNames(Dir("meta")); },
                              {"batches.meta.txt", "expected 10 class names", "found 3"}));
}

// ---------------------------------------------------------------- Channels and resizing

Image GrayImage(uint32_t width, uint32_t height, std::vector<uint8_t> pixels) {
  return Image{width, height, 1, std::move(pixels)};
}

std::vector<uint8_t> PatternPixelsFor(size_t count) {
  std::vector<uint8_t> pixels(count);
  for (size_t i = 0; i < count; ++i) pixels[i] = static_cast<uint8_t>((i * 37 + i / 7 * 11) % 256);
  return pixels;
}

TEST(ResizeTest, AreaAverageWhenShrinking) {
  // 4x4 -> 2x2: each output is the mean of a 2x2 block.
  const Image image = GrayImage(4, 4, {0, 10, 100, 110,  //
                                       20, 30, 120, 130,  //
                                       200, 200, 40, 40,  //
                                       200, 200, 40, 42});
  const Image half = ResizeImage(image, 2, 2);
  EXPECT_EQ(half.pixels, (std::vector<uint8_t>{15, 115, 200, 41}));  // 40.5 rounds to 41

  // 3 -> 2: output 0 covers inputs [0, 1.5), output 1 covers [1.5, 3).
  EXPECT_EQ(ResizeImage(GrayImage(3, 1, {0, 30, 60}), 2, 1).pixels, (std::vector<uint8_t>{10, 50}));
}

TEST(ResizeTest, BilinearWhenGrowingAndIdentityAtTheSameSize) {
  // Pixel centres aligned: outputs sit at input positions -0.25, 0.25, 0.75, 1.25 (clamped).
  EXPECT_EQ(ResizeImage(GrayImage(2, 1, {0, 100}), 4, 1).pixels, (std::vector<uint8_t>{0, 25, 75, 100}));
  EXPECT_EQ(ResizeImage(GrayImage(1, 2, {0, 100}), 1, 4).pixels, (std::vector<uint8_t>{0, 25, 75, 100}));
  const Image image = GrayImage(3, 2, {1, 2, 3, 4, 5, 6});
  EXPECT_EQ(ResizeImage(image, 3, 2).pixels, image.pixels);
}

TEST(ResizeTest, EachAxisChoosesItsFilterAndChannelsStaySeparate) {
  // RGB 2x2 -> 4x1: x grows (bilinear), y shrinks (mean of the two rows).
  Image image{2, 2, 3, {0, 200, 8, 100, 0, 8,  //
                        0, 100, 8, 100, 0, 8}};
  const Image resized = ResizeImage(image, 4, 1);
  EXPECT_EQ(resized.width, 4u);
  EXPECT_EQ(resized.height, 1u);
  EXPECT_EQ(resized.channels, 3u);
  // Red: 0 -> 100 bilinear; green: rows averaged to 150 | 0, then bilinear; blue constant.
  EXPECT_EQ(resized.pixels, (std::vector<uint8_t>{0, 150, 8, 25, 113, 8, 75, 38, 8, 100, 0, 8}));
}

// The resize as two whole passes (rows, then columns): what ResizeImage
// computed before it kept only two intermediate rows.
std::vector<uint8_t> TwoPassResize(const Image& image, uint32_t width, uint32_t height) {
  auto taps = [](uint32_t in, uint32_t out, uint32_t i) {  // (source, weight) pairs of output i
    std::vector<std::pair<uint32_t, double>> list;
    const double step = static_cast<double>(in) / out;
    if (out < in) {
      const double start = i * step, end = (i + 1) * step;
      for (uint32_t j = static_cast<uint32_t>(start); j < std::min(in, static_cast<uint32_t>(std::ceil(end))); ++j)
        list.emplace_back(j, (std::min(end, j + 1.0) - std::max(start, static_cast<double>(j))) / step);
    } else {
      const double centre = std::clamp((i + 0.5) * step - 0.5, 0.0, static_cast<double>(in - 1));
      const uint32_t left = static_cast<uint32_t>(centre);
      list.emplace_back(left, 1.0 - (centre - left));
      list.emplace_back(std::min(left + 1, in - 1), centre - left);
    }
    std::erase_if(list, [](const auto& tap) { return tap.second <= 0.0; });
    return list;
  };
  const uint32_t c = image.channels;
  std::vector<double> rows(size_t{image.height} * width * c, 0.0);
  for (uint32_t y = 0; y < image.height; ++y)
    for (uint32_t x = 0; x < width; ++x)
      for (auto [source, weight] : taps(image.width, width, x))
        for (uint32_t k = 0; k < c; ++k)
          rows[(size_t{y} * width + x) * c + k] += weight * image.pixels[(size_t{y} * image.width + source) * c + k];
  std::vector<uint8_t> out(size_t{height} * width * c);
  for (uint32_t y = 0; y < height; ++y)
    for (uint32_t x = 0; x < width; ++x)
      for (uint32_t k = 0; k < c; ++k) {
        double sum = 0;
        for (auto [source, weight] : taps(image.height, height, y)) sum += weight * rows[(size_t{source} * width + x) * c + k];
        out[(size_t{y} * width + x) * c + k] = static_cast<uint8_t>(std::lround(std::clamp(sum, 0.0, 255.0)));
      }
  return out;
}

TEST(ResizeTest, KeptRowsGiveTheTwoPassResultExactly) {
  const uint32_t sizes[][4] = {{7, 13, 3, 5}, {5, 3, 11, 17}, {9, 9, 4, 20}, {16, 2, 3, 9}, {1, 30, 6, 1}, {4, 4, 4, 4}};
  for (const auto& size : sizes) {
    for (uint32_t channels : {1u, 3u}) {
      Image image{size[0], size[1], channels, PatternPixelsFor(size[0] * size[1] * channels)};
      EXPECT_EQ(ResizeImage(image, size[2], size[3]).pixels, TwoPassResize(image, size[2], size[3]))
          << size[0] << "x" << size[1] << " -> " << size[2] << "x" << size[3] << ", " << channels << " channels";
    }
  }
}

long PeakResidentKiB() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

TEST(ResizeTest, MemoryDoesNotScaleWithSourceHeightTimesTargetWidth) {
  // 1 x 4096 to 4096 x 1: whole passes would hold 4096 x 4096 doubles (128 MiB).
  const Image tall = GrayImage(1, 4096, std::vector<uint8_t>(4096, 100));
  const long before = PeakResidentKiB();
  const Image wide = ResizeImage(tall, 4096, 1);
  EXPECT_LT(PeakResidentKiB() - before, 64 * 1024);
  EXPECT_EQ(wide.pixels, std::vector<uint8_t>(4096, 100));
}

TEST(ChannelsTest, GrayAndColourConversions) {
  const Image colour{2, 1, 3, {200, 100, 50, 10, 20, 30}};
  // Rec. 601: 0.299 R + 0.587 G + 0.114 B, rounded.
  EXPECT_EQ(ConvertChannels(colour, 1).pixels, (std::vector<uint8_t>{124, 18}));
  EXPECT_EQ(ConvertChannels(GrayImage(2, 1, {7, 250}), 3).pixels, (std::vector<uint8_t>{7, 7, 7, 250, 250, 250}));
  const Image with_alpha{1, 1, 4, {1, 2, 3, 0}};
  EXPECT_EQ(ConvertChannels(with_alpha, 3).pixels, (std::vector<uint8_t>{1, 2, 3}));
  const Image gray_alpha{1, 1, 2, {9, 255}};
  EXPECT_EQ(ConvertChannels(gray_alpha, 1).pixels, std::vector<uint8_t>{9});
  EXPECT_TRUE(ThrowsErrorWith([&] { ConvertChannels(colour, 2); }, {"expected 1 or 3 channels", "found 2"}));
}

// ---------------------------------------------------------------- Image folders

using ImageFolderTest = TempDirTest;

std::vector<uint8_t> PatternPixels(uint32_t sample, uint32_t width, uint32_t height, uint32_t channels) {
  std::vector<uint8_t> pixels;
  for (uint32_t position = 0; position < width * height; ++position)
    for (uint32_t channel = 0; channel < channels; ++channel) pixels.push_back(Pattern(sample, position, channel));
  return pixels;
}

TEST_F(ImageFolderTest, LoadsSortedClassesWithExactPixels) {
  WritePng("pets/dog/2.png", 4, 3, 3, PatternPixels(2, 4, 3, 3));
  WritePng("pets/dog/1.png", 4, 3, 3, PatternPixels(1, 4, 3, 3));
  WritePng("pets/cat/x.PNG", 4, 3, 3, PatternPixels(0, 4, 3, 3));
  std::ofstream(PathOf("pets/dog/notes.txt")) << "not an image";
  WritePng("pets/.thumbnails/t.png", 1, 1, 1, {0});  // hidden: not a class
  WritePng("pets/cat/.hidden.png", 1, 1, 1, {0});    // hidden: not a sample

  const Dataset dataset = LoadImageFolder(Dir("pets"));
  EXPECT_EQ(dataset.name, "pets");
  EXPECT_EQ(dataset.class_names, (std::vector<std::string>{"cat", "dog"}));
  EXPECT_EQ(dataset.num_classes, 2u);
  EXPECT_EQ(dataset.labels, (std::vector<uint32_t>{0, 1, 1}));
  EXPECT_EQ(dataset.sample_shape, (std::vector<uint32_t>{3, 3, 4}));  // {C, H, W}
  EXPECT_EQ(dataset.format, FeatureFormat::kUint8);
  EXPECT_FLOAT_EQ(dataset.scale, 1.0f / 255.0f);
  // cat/x.PNG, dog/1.png, dog/2.png, each stored HWC exactly as written.
  std::vector<uint8_t> expected;
  for (uint32_t sample : {0u, 1u, 2u}) {
    const std::vector<uint8_t> pixels = PatternPixels(sample, 4, 3, 3);
    expected.insert(expected.end(), pixels.begin(), pixels.end());
  }
  EXPECT_EQ(dataset.features_u8, expected);
}

TEST_F(ImageFolderTest, ChannelsAreAutomaticOrRequested) {
  WritePng("gray/a/1.png", 2, 1, 1, {10, 200});
  WritePng("gray/b/1.png", 2, 1, 2, {30, 255, 40, 0});  // gray + alpha: still gray
  const Dataset gray = LoadImageFolder(Dir("gray"));
  EXPECT_EQ(gray.sample_shape, (std::vector<uint32_t>{1, 1, 2}));
  EXPECT_EQ(gray.features_u8, (std::vector<uint8_t>{10, 200, 30, 40}));

  ImageFolderOptions colour;
  colour.channels = 3;
  EXPECT_EQ(LoadImageFolder(Dir("gray"), colour).features_u8,
            (std::vector<uint8_t>{10, 10, 10, 200, 200, 200, 30, 30, 30, 40, 40, 40}));

  // One colour image makes the automatic choice RGB; alpha is dropped.
  WritePng("mixed/a/1.png", 1, 1, 1, {90});
  WritePng("mixed/b/1.png", 1, 1, 4, {200, 100, 50, 7});
  const Dataset mixed = LoadImageFolder(Dir("mixed"));
  EXPECT_EQ(mixed.sample_shape, (std::vector<uint32_t>{3, 1, 1}));
  EXPECT_EQ(mixed.features_u8, (std::vector<uint8_t>{90, 90, 90, 200, 100, 50}));

  ImageFolderOptions gray_only;
  gray_only.channels = 1;
  EXPECT_EQ(LoadImageFolder(Dir("mixed"), gray_only).features_u8, (std::vector<uint8_t>{90, 124}));
}

TEST_F(ImageFolderTest, ReadsBmpAndJpeg) {
  const std::vector<uint8_t> pixels = PatternPixels(3, 8, 8, 3);
  const std::string bmp = PathOf("formats/bmp/a.bmp");
  ASSERT_NE(stbi_write_bmp(bmp.c_str(), 8, 8, 3, pixels.data()), 0);
  const std::vector<uint8_t> flat(8 * 8 * 3, 180);
  const std::string jpeg = PathOf("formats/jpeg/a.jpg");
  ASSERT_NE(stbi_write_jpg(jpeg.c_str(), 8, 8, 3, flat.data(), 100), 0);

  const Dataset dataset = LoadImageFolder(Dir("formats"));
  ASSERT_EQ(dataset.count(), 2u);
  EXPECT_TRUE(std::equal(pixels.begin(), pixels.end(), dataset.features_u8.begin()));  // BMP is lossless
  for (size_t i = 0; i < flat.size(); ++i) EXPECT_NEAR(dataset.features_u8[flat.size() + i], 180, 3);
}

TEST_F(ImageFolderTest, TargetSizeResizesMixedSizes) {
  // An 8x8 image of 2x2 blocks shrinks to its 4x4 block means; a 4x4 one is kept as is.
  std::vector<uint8_t> big(64);
  for (uint32_t y = 0; y < 8; ++y)
    for (uint32_t x = 0; x < 8; ++x) big[y * 8 + x] = static_cast<uint8_t>((y / 2) * 40 + (x / 2) * 10 + (x % 2) * 2);
  WritePng("sizes/big/a.png", 8, 8, 1, big);
  const std::vector<uint8_t> small = PatternPixels(5, 4, 4, 1);
  WritePng("sizes/small/a.png", 4, 4, 1, small);

  ImageFolderOptions options;
  options.width = 4;
  options.height = 4;
  const Dataset dataset = LoadImageFolder(Dir("sizes"), options, "sized");
  EXPECT_EQ(dataset.name, "sized");
  EXPECT_EQ(dataset.sample_shape, (std::vector<uint32_t>{1, 4, 4}));
  for (uint32_t y = 0; y < 4; ++y)
    for (uint32_t x = 0; x < 4; ++x) EXPECT_EQ(dataset.features_u8[y * 4 + x], y * 40 + x * 10 + 1);
  EXPECT_TRUE(std::equal(small.begin(), small.end(), dataset.features_u8.begin() + 16));
}

TEST_F(ImageFolderTest, ClassNamesOptionFixesTheLabels) {
  WritePng("test/dog/a.png", 1, 1, 1, {1});
  ImageFolderOptions options;
  options.class_names = {"cat", "dog", "fish"};
  const Dataset dataset = LoadImageFolder(Dir("test"), options);
  EXPECT_EQ(dataset.num_classes, 3u);
  EXPECT_EQ(dataset.labels, std::vector<uint32_t>{1});
  options.class_names = {"cat", "fish"};
  EXPECT_TRUE(ThrowsErrorWith([&] { LoadImageFolder(Dir("test"), options); },
                              {Dir("test/dog"), "not one of the expected classes", "cat, fish"}));

  EXPECT_FALSE(HasTrainTestFolders(Dir()));
  fs::create_directories(Dir("train"));
  EXPECT_TRUE(HasTrainTestFolders(Dir()));
}

// A PyTorch export reads an image folder where it lies (data_source.py): the
// files FindDataFiles lists must be the samples LoadDataSpec gives, in order.
TEST_F(ImageFolderTest, DataFilesListEachSampleImageInLoadOrder) {
  uint32_t sample = 0;
  for (const char* name : {"one/b", "one/a", "split/train/x", "split/train/y", "split/test/y"})
    for (uint32_t i = 0; i < 4; ++i, ++sample)
      WritePng(std::string(name) + "/" + std::to_string(i) + ".png", 3, 2, 1, PatternPixels(sample, 3, 2, 1));
  for (const std::string& spec : {"images:" + Dir("one") + ":test_fraction=0.4,seed=3", "images:" + Dir("split")}) {
    SCOPED_TRACE(spec);
    const DataSplit loaded = LoadDataSpec(spec);
    const std::optional<DataFiles> files = FindDataFiles(spec);
    ASSERT_TRUE(files.has_value());
    EXPECT_EQ(files->format, "image_folder");
    EXPECT_EQ(files->class_names, loaded.train.class_names);
    for (const auto& [dataset, paths, labels] : {std::tuple{&loaded.train, &files->train, &files->train_labels},
                                                 std::tuple{&loaded.test, &files->test, &files->test_labels}}) {
      ASSERT_EQ(paths->size(), dataset->count());
      ASSERT_EQ(*labels, dataset->labels);
      for (size_t i = 0; i < paths->size(); ++i) {
        EXPECT_TRUE(fs::path((*paths)[i]).is_absolute());
        const Image image = ReadImage((*paths)[i], 1);
        EXPECT_TRUE(std::equal(image.pixels.begin(), image.pixels.end(), dataset->features_u8.begin() + i * 6))
            << (*paths)[i];
      }
    }
  }
  EXPECT_EQ(FindDataFiles("images:" + Dir("split"))->test_labels, (std::vector<uint32_t>{1, 1, 1, 1}));
}

TEST_F(ImageFolderTest, MissingAndEmptyFolders) {
  EXPECT_TRUE(ThrowsErrorWith([&] { LoadImageFolder(Dir("absent")); }, {Dir("absent"), "not found"}));

  fs::create_directories(Dir("empty"));
  EXPECT_TRUE(ThrowsErrorWith([&] { LoadImageFolder(Dir("empty")); }, {Dir("empty"), "found no subfolders"}));

  WritePng("flat/a.png", 1, 1, 1, {0});
  EXPECT_TRUE(ThrowsErrorWith([&] { LoadImageFolder(Dir("flat")); },
                              {Dir("flat"), "found no subfolders", "1 image directly in the folder"}));

  fs::create_directories(Dir("no_images/cat"));
  fs::create_directories(Dir("no_images/dog"));
  std::ofstream(PathOf("no_images/cat/readme.txt")) << "text";
  EXPECT_TRUE(ThrowsErrorWith([&] { LoadImageFolder(Dir("no_images")); },
                              {Dir("no_images"), "found no images in its 2 class subfolders"}));

  WritePng("one_empty/cat/a.png", 1, 1, 1, {0});
  fs::create_directories(Dir("one_empty/dog"));
  EXPECT_TRUE(ThrowsErrorWith([&] { LoadImageFolder(Dir("one_empty")); },
                              {Dir("one_empty/dog"), "holds no images"}));

  std::ofstream(PathOf("a_file")) << "x";
  EXPECT_TRUE(ThrowsErrorWith([&] { LoadImageFolder(Dir("a_file")); }, {Dir("a_file"), "found a file"}));
}

TEST_F(ImageFolderTest, CorruptEmptyAndTruncatedImagesNameTheFile) {
  WritePng("corrupt/a/good.png", 2, 2, 1, {1, 2, 3, 4});
  const std::string corrupt = WriteBytes("corrupt/b/bad.png", {'n', 'o', 't', ' ', 'a', ' ', 'p', 'n', 'g'});
  EXPECT_TRUE(ThrowsErrorWith([&] { LoadImageFolder(Dir("corrupt")); }, {corrupt, "cannot decode the image: "}));
  EXPECT_TRUE(ThrowsErrorWith([&] { ReadImage(corrupt); }, {corrupt, "cannot decode the image: "}));

  WritePng("empty/a/good.png", 2, 2, 1, {1, 2, 3, 4});
  const std::string empty = WriteBytes("empty/b/zero.png", {});
  EXPECT_TRUE(ThrowsErrorWith([&] { LoadImageFolder(Dir("empty")); }, {empty, "empty (0 bytes)"}));

  // A PNG cut after its header: the size is readable, the pixels are not.
  const std::string whole = WritePng("whole.png", 16, 16, 3, PatternPixels(0, 16, 16, 3));
  std::ifstream in(whole, std::ios::binary);
  std::vector<uint8_t> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  bytes.resize(bytes.size() / 2);
  WritePng("truncated/a/good.png", 16, 16, 3, PatternPixels(1, 16, 16, 3));
  const std::string truncated = WriteBytes("truncated/b/cut.png", bytes);
  EXPECT_TRUE(ThrowsErrorWith([&] { LoadImageFolder(Dir("truncated")); }, {truncated, "PNG chunk 'IDAT' claims"}));

  EXPECT_TRUE(ThrowsErrorWith([&] { ReadImage(Dir("none.png")); }, {Dir("none.png"), "not found"}));
}

// A BMP file of `file_size` bytes whose 40-byte info header says width x height.
std::vector<uint8_t> BmpWithHeader(int32_t width, int32_t height, uint16_t bits, size_t file_size) {
  std::vector<uint8_t> bytes(std::max<size_t>(file_size, 54), 0);
  auto put = [&](size_t at, uint32_t value, int count) {
    for (int i = 0; i < count; ++i) bytes[at + i] = static_cast<uint8_t>(value >> (8 * i));
  };
  bytes[0] = 'B';
  bytes[1] = 'M';
  put(2, static_cast<uint32_t>(file_size), 4);
  put(10, 54, 4);
  put(14, 40, 4);
  put(18, static_cast<uint32_t>(width), 4);
  put(22, static_cast<uint32_t>(height), 4);
  put(26, 1, 2);
  put(28, bits, 2);
  bytes.resize(file_size);
  return bytes;
}

TEST_F(ImageFolderTest, ImpossibleBmpHeadersAreRefusedBeforeDecoding) {
  struct Case {
    int32_t width, height;
    size_t file_size;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {8000, 40000, 62, "the BMP header says 8000 x 40000 pixels; images may be at most 16384 pixels on a side"},
      {5, 4194307, 310, "the BMP header says 5 x 4194307 pixels"},
      {5, -16777213, 62, "the BMP header says 5 x 16777213 pixels"},
      {5, INT32_MIN, 62, "a BMP of 5 x -2147483648 pixels is impossible"},
      {-3, 4, 62, "a BMP of -3 x 4 pixels is impossible"},
      {8000, 4000, 62, "truncated BMP: its header describes 8000 x 4000 pixels of 24 bits, at least 96000054 bytes, "
                       "but the file has 62"},
  };
  for (const Case& c : cases) {
    const std::string path = WriteBytes("bmp/a/" + std::to_string(c.width) + "_" + std::to_string(c.height) + ".bmp",
                                        BmpWithHeader(c.width, c.height, 24, c.file_size));
    EXPECT_TRUE(ThrowsErrorWith([&] { ReadImage(path); }, {path, c.expected}));
    EXPECT_TRUE(ThrowsErrorWith([&] { LoadImageFolder(Dir("bmp")); }, {path, c.expected}));
    fs::remove(path);
  }
  // An OS/2 header (12 bytes) of 0 bits per pixel: rows of 0 bytes used to pass for 3329 x 7753 pixels.
  const std::vector<uint8_t> os2 = {'B', 'M', 0xa3, 0, 0, 0, 0, 0, 0, 0, 0x26, 0x20, 0x24, 0x24, 0x0c, 0,
                                    0,   0,   0x01, 0x0d, 0x49, 0x1e, 1, 0, 0, 0, 0, 0};
  const std::string path = WriteBytes("os2/a/zero-bits.bmp", os2);
  EXPECT_TRUE(ThrowsErrorWith([&] { LoadImageFolder(Dir("os2")); },
                              {path, "bytes 24-25: a BMP of 0 bits per pixel is impossible"}));
  EXPECT_TRUE(ThrowsErrorWith([&] { ReadImage(path); }, {path, "0 bits per pixel"}));
}

TEST_F(ImageFolderTest, TopDownBmpStillLoads) {
  // A negative height is a legal top-down BMP: the same pixels, rows stored first to last.
  const std::vector<uint8_t> pixels = PatternPixels(5, 4, 3, 3);
  const std::string path = PathOf("topdown/a/x.bmp");
  ASSERT_NE(stbi_write_bmp(path.c_str(), 4, 3, 3, pixels.data()), 0);
  std::vector<uint8_t> bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  const uint32_t offset = bytes[10] | bytes[11] << 8, row = 12;  // 4 pixels x 3 bytes, already 4-aligned
  std::vector<uint8_t> flipped = bytes;
  for (uint32_t y = 0; y < 3; ++y)
    std::copy_n(bytes.begin() + offset + y * row, row, flipped.begin() + offset + (2 - y) * row);
  const int32_t negative = -3;
  std::memcpy(flipped.data() + 22, &negative, 4);
  WriteBytes("topdown/a/x.bmp", flipped);
  EXPECT_EQ(ReadImage(path).pixels, pixels);
}

TEST_F(ImageFolderTest, ImageSizeLimitsAreCheckedFromTheHeader) {
  const std::string png = WritePng("big/a/x.png", 2, 2, 1, {1, 2, 3, 4});
  std::vector<uint8_t> bytes;
  {
    std::ifstream in(png, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  for (auto [width, height] : {std::pair<uint32_t, uint32_t>{20000, 20000}, {6000, 6000}}) {
    for (int i = 0; i < 4; ++i) {  // IHDR: big-endian width at byte 16, height at 20
      bytes[16 + i] = static_cast<uint8_t>(width >> (24 - 8 * i));
      bytes[20 + i] = static_cast<uint8_t>(height >> (24 - 8 * i));
    }
    WriteBytes("big/a/x.png", bytes);
    EXPECT_TRUE(ThrowsErrorWith([&] { ReadImage(png); },
                                {png, "the image is " + std::to_string(width) + "x" + std::to_string(height) +
                                          " pixels; images may be at most 16384 pixels on a side and 33554432"}));
  }
  // A chunk claiming more bytes than the file has: stb_image would allocate that
  // much first (the fuzzer's 80-byte PNG asked for 1.7 GB).
  const std::string claims = WritePng("chunk/a/x.png", 2, 2, 1, {1, 2, 3, 4});
  {
    std::ifstream in(claims, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  const size_t idat = 8 + 25;  // the signature, then IHDR: 4 + 4 + 13 + 4 bytes
  ASSERT_EQ(std::string(bytes.begin() + idat + 4, bytes.begin() + idat + 8), "IDAT");
  for (int i = 0; i < 4; ++i) bytes[idat + i] = static_cast<uint8_t>(0x66000000u >> (24 - 8 * i));
  WriteBytes("chunk/a/x.png", bytes);
  EXPECT_TRUE(ThrowsErrorWith([&] { ReadImage(claims); },
                              {claims, "byte offset 33: PNG chunk 'IDAT' claims 1711276032 bytes of data"}));
  EXPECT_TRUE(ThrowsErrorWith([&] { LoadImageFolder(Dir("chunk")); }, {claims, "truncated or corrupt"}));

  // The target size and the whole dataset are bounded too, before any decoding.
  for (int i = 0; i < 50; ++i) WritePng("many/a/" + std::to_string(i) + ".png", 2, 2, 1, {1, 2, 3, 4});
  ImageFolderOptions options;
  options.width = options.height = 20000;
  EXPECT_TRUE(ThrowsErrorWith([&] { LoadImageFolder(Dir("many"), options); },
                              {"target size 20000x20000 is larger than images may be"}));
  options.width = 16384;
  options.height = 2048;
  options.channels = 3;
  EXPECT_TRUE(ThrowsErrorWith([&] { LoadImageFolder(Dir("many"), options); },
                              {"50 images of 16384x2048 x 3 channels need", "an image folder may load at most 4 GiB"}));
}

TEST_F(ImageFolderTest, MixedSizesWithoutTargetNameTwoFiles) {
  const std::string first = WritePng("mixed/a/1.png", 8, 8, 1, std::vector<uint8_t>(64));
  WritePng("mixed/a/2.png", 8, 8, 1, std::vector<uint8_t>(64));
  const std::string odd = WritePng("mixed/b/1.png", 6, 4, 1, std::vector<uint8_t>(24));
  EXPECT_TRUE(ThrowsErrorWith([&] { LoadImageFolder(Dir("mixed")); },
                              {first, "is 8x8", odd, "is 6x4", "no target size"}));

  ImageFolderOptions half_set;
  half_set.width = 4;
  EXPECT_TRUE(ThrowsErrorWith([&] { LoadImageFolder(Dir("mixed"), half_set); }, {"width and height", "4x0"}));
}

// ---------------------------------------------------------------- Synthetic shapes

TEST(ShapesTest, ShapeBalanceAndRange) {
  ShapesOptions options;
  options.samples = 803;
  const Dataset dataset = MakeShapes(options);
  EXPECT_EQ(dataset.name, "shapes");
  EXPECT_EQ(dataset.sample_shape, (std::vector<uint32_t>{1, 28, 28}));
  EXPECT_EQ(dataset.format, FeatureFormat::kUint8);
  EXPECT_EQ(dataset.num_classes, 8u);
  EXPECT_EQ(dataset.class_names.size(), 8u);
  EXPECT_EQ(dataset.class_names[0], "circle");
  EXPECT_EQ(dataset.count(), 803u);
  EXPECT_EQ(dataset.features_u8.size(), 803u * 784u);
  const std::vector<uint32_t> counts = ClassCounts(dataset);
  EXPECT_LE(*std::max_element(counts.begin(), counts.end()) - *std::min_element(counts.begin(), counts.end()), 1u);
  EXPECT_FLOAT_EQ(dataset.scale, 1.0f / 255.0f);
  for (size_t i = 0; i < dataset.count(); ++i)
    for (size_t j = 0; j < 784; j += 97) {
      EXPECT_GE(dataset.normalized(i, j), 0.0f);
      EXPECT_LE(dataset.normalized(i, j), 1.0f);
    }
}

TEST(ShapesTest, NoiselessImagesShowOneShapeOnAPlainBackground) {
  ShapesOptions options;
  options.samples = 400;
  options.noise = 0.0;
  const Dataset dataset = MakeShapes(options);
  for (size_t i = 0; i < dataset.count(); ++i) {
    const auto image = dataset.features_u8.begin() + static_cast<std::ptrdiff_t>(i * 784);
    const auto [darkest, brightest] = std::minmax_element(image, image + 784);
    // Foreground at least 0.25 above the background; the shape covers 1% to 50% of the image.
    EXPECT_GE(*brightest - *darkest, 60) << "sample " << i;
    const auto background = std::count(image, image + 784, *darkest);
    EXPECT_GE(background, 784 / 2) << "sample " << i << " (" << dataset.class_names[dataset.labels[i]] << ")";
    EXPECT_LE(background, 784 - 784 / 100) << "sample " << i << " (" << dataset.class_names[dataset.labels[i]] << ")";
  }
}

TEST(ShapesTest, DeterministicPerSeed) {
  ShapesOptions options;
  options.samples = 200;
  options.seed = 7;
  const Dataset first = MakeShapes(options);
  EXPECT_EQ(first.features_u8, MakeShapes(options).features_u8);
  options.seed = 8;
  const Dataset other = MakeShapes(options);
  EXPECT_NE(first.features_u8, other.features_u8);
  EXPECT_EQ(first.labels, other.labels);
}

TEST(ShapesTest, ColourSizeAndClassesOptions) {
  ShapesOptions options;
  options.samples = 30;
  options.classes = 6;
  options.size = 16;
  options.channels = 3;
  options.noise = 0.0;
  const Dataset dataset = MakeShapes(options);
  EXPECT_EQ(dataset.sample_shape, (std::vector<uint32_t>{3, 16, 16}));
  EXPECT_EQ(dataset.features_u8.size(), 30u * 16 * 16 * 3);
  EXPECT_EQ(dataset.class_names.back(), "vertical bars");
  EXPECT_EQ(*std::max_element(dataset.labels.begin(), dataset.labels.end()), 5u);
  // Channels get their own foreground and background levels.
  bool channels_differ = false;
  for (size_t p = 0; p < 16 * 16; ++p) channels_differ |= dataset.features_u8[p * 3] != dataset.features_u8[p * 3 + 1];
  EXPECT_TRUE(channels_differ);
}

TEST(ShapesTest, TenThousandImagesInWellUnderASecond) {
  const auto start = std::chrono::steady_clock::now();
  const Dataset dataset = MakeShapes({});
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(dataset.count(), 10000u);
  EXPECT_LT(seconds, 1.0);
  RecordProperty("seconds", std::to_string(seconds));
}

TEST(ShapesTest, BadOptionsAndSpecs) {
  auto with = [](auto change) {
    ShapesOptions options;
    change(options);
    return [options] { MakeShapes(options); };
  };
  EXPECT_TRUE(ThrowsErrorWith(with([](ShapesOptions& o) { o.classes = 9; }), {"classes", "found classes=9"}));
  EXPECT_TRUE(ThrowsErrorWith(with([](ShapesOptions& o) { o.classes = 1; }), {"found classes=1"}));
  EXPECT_TRUE(ThrowsErrorWith(with([](ShapesOptions& o) { o.samples = 3; }), {"found samples=3"}));
  EXPECT_TRUE(ThrowsErrorWith(with([](ShapesOptions& o) { o.size = 4; }), {"found size=4"}));
  EXPECT_TRUE(ThrowsErrorWith(with([](ShapesOptions& o) { o.channels = 2; }), {"found channels=2"}));
  EXPECT_TRUE(ThrowsErrorWith(with([](ShapesOptions& o) { o.noise = -0.1; }), {"found noise=-0.1"}));

  const ShapesOptions parsed = ParseShapesSpec("shapes:samples=500,size=32,channels=3,classes=4,noise=0.2,seed=9");
  EXPECT_EQ(parsed.samples, 500u);
  EXPECT_EQ(parsed.size, 32u);
  EXPECT_EQ(parsed.channels, 3u);
  EXPECT_EQ(parsed.classes, 4u);
  EXPECT_DOUBLE_EQ(parsed.noise, 0.2);
  EXPECT_EQ(parsed.seed, 9u);
  EXPECT_EQ(ParseShapesSpec("shapes").samples, ShapesOptions{}.samples);
  EXPECT_TRUE(ThrowsErrorWith([] { ParseShapesSpec("shapes:colour=3"); }, {"unknown option \"colour\""}));
  EXPECT_TRUE(ThrowsErrorWith([] { ParseShapesSpec("shapes:size=1,size=2"); }, {"size", "more than once"}));
  EXPECT_TRUE(ThrowsErrorWith([] { ParseShapesSpec("shapes:size=big"); }, {"size", "found \"big\""}));
  EXPECT_TRUE(ThrowsErrorWith([] { ParseShapesSpec("circles"); }, {"expected the name shapes"}));
}

}  // namespace
}  // namespace ts::data
