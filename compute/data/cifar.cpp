#include "compute/data/cifar.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "compute/common/error.h"
#include "compute/data/content_reader.h"

namespace ts::data {
namespace {

namespace fs = std::filesystem;

constexpr uint32_t kPlaneBytes = kCifarImageSide * kCifarImageSide;  // 1024: one colour plane

bool IsFile(const fs::path& path) {
  std::error_code ignored;
  return fs::is_regular_file(path, ignored);
}

std::string Trim(const std::string& text) {
  const size_t begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return "";
  return text.substr(begin, text.find_last_not_of(" \t\r\n") - begin + 1);
}

// Appends the records of one batch file, converting each image from planar
// CHW (the file's order) to interleaved HWC (the network's order).
void AppendBatch(const std::string& path, Dataset& dataset) {
  const std::vector<uint8_t> bytes = ReadContent(path, kMaxCifarBatchBytes, "a CIFAR-10 batch file");
  const std::string record_description = std::to_string(kCifarRecordBytes) + "-byte records (1 label byte + " +
                                         std::to_string(kCifarImageBytes) + " pixel bytes)";
  Require(!bytes.empty(), path + ": the file is empty, expected CIFAR-10 " + record_description);
  if (bytes.size() % kCifarRecordBytes != 0) {
    const size_t whole_records = bytes.size() / kCifarRecordBytes;
    throw Error(path + ": the file is " + std::to_string(bytes.size()) + " bytes, expected a multiple of " +
                std::to_string(kCifarRecordBytes) + " (CIFAR-10 " + record_description + "); " +
                std::to_string(whole_records) + " records would be " +
                std::to_string(whole_records * kCifarRecordBytes) + " bytes, " + std::to_string(whole_records + 1) +
                " would be " + std::to_string((whole_records + 1) * kCifarRecordBytes) +
                " -- is this a CIFAR-100 or Python-pickle file?");
  }
  const size_t record_count = bytes.size() / kCifarRecordBytes;
  const size_t first_feature = dataset.features_u8.size();
  dataset.features_u8.resize(first_feature + record_count * kCifarImageBytes);
  dataset.labels.reserve(dataset.labels.size() + record_count);
  for (size_t record = 0; record < record_count; ++record) {
    const size_t record_offset = record * kCifarRecordBytes;
    const uint8_t label = bytes[record_offset];
    if (label >= kCifar10Classes)
      throw Error(path + ": byte offset " + std::to_string(record_offset) + " (label of record " +
                  std::to_string(record) + "): expected a class index below " + std::to_string(kCifar10Classes) +
                  ", found " + std::to_string(label));
    dataset.labels.push_back(label);
    const uint8_t* planes = bytes.data() + record_offset + 1;  // (3, 32, 32)
    uint8_t* pixels = dataset.features_u8.data() + first_feature + record * kCifarImageBytes;  // (32, 32, 3)
    for (uint32_t pixel = 0; pixel < kPlaneBytes; ++pixel)
      for (uint32_t channel = 0; channel < kCifarChannels; ++channel)
        pixels[pixel * kCifarChannels + channel] = planes[channel * kPlaneBytes + pixel];
  }
}

}  // namespace

bool IsCifar10Dir(const std::string& directory) {
  for (std::string_view file : kCifar10TrainFiles)
    if (!IsFile(fs::path(directory) / file)) return false;
  return IsFile(fs::path(directory) / kCifar10TestFile);
}

std::vector<std::string> ReadCifar10ClassNames(const std::string& directory) {
  const fs::path path = fs::path(directory) / kCifar10MetaFile;
  std::vector<std::string> names;
  std::error_code error;
  if (!fs::exists(path, error)) {
    for (std::string_view name : kCifar10ClassNames) names.emplace_back(name);
    return names;
  }
  std::ifstream file(path);
  Require(file.good() && IsFile(path), path.string() + ": cannot read the class names file");
  std::string line;
  // The official file ends with blank lines; they are not classes.
  while (std::getline(file, line))
    if (std::string name = Trim(line); !name.empty()) names.push_back(std::move(name));
  Require(names.size() == kCifar10Classes,
          path.string() + ": expected " + std::to_string(kCifar10Classes) +
              " class names (one per non-blank line), found " + std::to_string(names.size()));
  return names;
}

Dataset LoadCifar10Batches(const std::vector<std::string>& paths, const std::string& name,
                           const std::vector<std::string>& class_names) {
  Require(!paths.empty(), name + ": expected at least one CIFAR-10 batch file, found none");
  Require(class_names.empty() || class_names.size() == kCifar10Classes,
          name + ": expected " + std::to_string(kCifar10Classes) + " class names, found " +
              std::to_string(class_names.size()));
  Dataset dataset;
  dataset.name = name;
  dataset.sample_shape = {kCifarChannels, kCifarImageSide, kCifarImageSide};
  dataset.num_classes = kCifar10Classes;
  if (class_names.empty())
    for (std::string_view class_name : kCifar10ClassNames) dataset.class_names.emplace_back(class_name);
  else
    dataset.class_names = class_names;
  dataset.format = FeatureFormat::kUint8;
  dataset.scale = 1.0f / 255.0f;
  dataset.offset = 0.0f;
  for (const std::string& path : paths) {
    Require(IsFile(path), path + ": CIFAR-10 batch file not found");
    AppendBatch(path, dataset);
  }
  return dataset;
}

std::pair<Dataset, Dataset> LoadCifar10(const std::string& directory, const std::string& name) {
  std::error_code error;
  Require(fs::is_directory(directory, error), directory + ": CIFAR-10 directory not found (expected the unpacked "
                                                          "cifar-10-batches-bin/ of the binary version)");
  std::vector<std::string> train_paths;
  for (std::string_view file : kCifar10TrainFiles) train_paths.push_back((fs::path(directory) / file).string());
  const std::string test_path = (fs::path(directory) / kCifar10TestFile).string();

  std::string missing;
  for (const std::string& path : train_paths)
    if (!IsFile(path)) missing += (missing.empty() ? "" : ", ") + fs::path(path).filename().string();
  if (!IsFile(test_path)) missing += (missing.empty() ? "" : ", ") + std::string(kCifar10TestFile);
  Require(missing.empty(), directory + ": incomplete CIFAR-10 directory: expected data_batch_1.bin .. "
                                       "data_batch_5.bin and test_batch.bin, missing " + missing);

  const std::vector<std::string> class_names = ReadCifar10ClassNames(directory);
  return {LoadCifar10Batches(train_paths, name + ":train", class_names),
          LoadCifar10Batches({test_path}, name + ":test", class_names)};
}

}  // namespace ts::data
