// Files a person or another tool reads: the checkpoint's tensor table,
// --save-init, train --metrics-csv, eval --predictions, test_fraction=0, and
// the exports' and import's refusals. The exports and the import against
// PyTorch, ONNX's checker and OpenCV are checked by tests/interop/*_check.py.
#include <gtest/gtest.h>

#include <zlib.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "compute/data/registry.h"
#include "compute/nn/checkpoint.h"
#include "support/cli.h"

namespace ts {
namespace {

using testing::RunTensorscope;
using testing::WriteTempFile;

#define EXPECT_CONTAINS(text, part) EXPECT_NE(std::string(text).find(part), std::string::npos) << (text)

const char* kModel = R"({"format": "tensorscope-model", "version": 1, "name": "exchange", "layers": [
  {"type": "input", "shape": [2]}, {"type": "dense", "units": 8}, {"type": "tanh"},
  {"type": "batch_norm"}, {"type": "dense", "units": 3}, {"type": "softmax_cross_entropy"}],
  "training": {"data": "spiral:samples=300,test_samples=90", "epochs": 2, "batch_size": 16,
               "learning_rate": 0.01, "seed": 3}})";

std::string FileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

std::vector<std::vector<std::string>> ReadCsv(const std::string& path) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(FileBytes(path));
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> cells;
    std::stringstream cells_in(line);
    for (std::string cell; std::getline(cells_in, cell, ',');) cells.push_back(cell);
    if (!line.empty() && line.back() == ',') cells.push_back("");
    rows.push_back(cells);
  }
  return rows;
}

std::string Temp(const std::string& name) { return ::testing::TempDir() + "/exchange_" + name; }

// Every tensor the table names lies where it says: the floats at its offset are
// the checkpoint's, in parameter, optimizer state and statistics order.
TEST(Exchange, CheckpointTensorTableLocatesEveryTensor) {
  const std::string checkpoint = Temp("table.ckpt");
  testing::CommandResult r = RunTensorscope("train " + WriteTempFile("exchange.json", kModel) + " --epochs 1 --save " + checkpoint);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string bytes = FileBytes(checkpoint);
  nn::Checkpoint c = nn::LoadCheckpoint(checkpoint);
  uint32_t version, header;
  uint64_t model_bytes, config_bytes, table_bytes;
  std::memcpy(&version, bytes.data() + 8, 4);
  std::memcpy(&header, bytes.data() + 12, 4);
  std::memcpy(&model_bytes, bytes.data() + 16, 8);
  std::memcpy(&config_bytes, bytes.data() + 24, 8);
  std::memcpy(&table_bytes, bytes.data() + 64, 8);
  EXPECT_EQ(version, 2u);
  EXPECT_EQ(header, 72u);
  const nlohmann::json table = nlohmann::json::parse(bytes.substr(header + model_bytes + config_bytes, table_bytes));
  EXPECT_EQ(table["format"], "tensorscope-tensor-table");
  EXPECT_EQ((header + model_bytes + config_bytes + table_bytes) % 64, 0u) << "the floats start aligned";

  std::vector<float> in_table[4];  // parameters, exp_avg, exp_avg_sq, running statistics
  std::vector<std::string> names;
  for (const nlohmann::json& t : table["tensors"]) {
    const std::string section = t["section"];
    const int which = section == "parameters" ? 0 : section == "optimizer.exp_avg" ? 1
                    : section == "optimizer.exp_avg_sq" ? 2 : section == "running_statistics" ? 3 : -1;
    ASSERT_GE(which, 0) << section;
    const uint64_t offset = t["offset"], count = t["count"];
    uint64_t elements = 1;
    for (uint64_t d : t["shape"]) elements *= d;
    EXPECT_EQ(elements, count) << t.dump();
    EXPECT_FALSE(std::string(t["layout"]).empty());
    std::vector<float> values(count);
    std::memcpy(values.data(), bytes.data() + offset, 4 * count);
    in_table[which].insert(in_table[which].end(), values.begin(), values.end());
    if (which == 0) names.push_back(t["name"]);
  }
  EXPECT_EQ(in_table[0], c.parameters);
  ASSERT_EQ(c.optimizer_state.size(), 2u);  // Adam
  EXPECT_EQ(in_table[1], c.optimizer_state[0]);
  EXPECT_EQ(in_table[2], c.optimizer_state[1]);
  EXPECT_EQ(in_table[3], c.statistics);
  EXPECT_EQ(names, (std::vector<std::string>{"dense_1.weight", "dense_1.bias", "batch_norm_1.weight",
                                             "batch_norm_1.bias", "dense_2.weight", "dense_2.bias"}));

  // A table that disagrees with the model is refused, naming the entry.
  std::string edited = bytes;
  const size_t at = edited.find("\"dense_1.bias\"");
  ASSERT_NE(at, std::string::npos);
  edited[at + 7] = 'X';
  const uint32_t crc = static_cast<uint32_t>(
      crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(edited.data()), static_cast<uInt>(edited.size() - 4)));
  std::memcpy(edited.data() + edited.size() - 4, &crc, 4);
  r = RunTensorscope("eval " + WriteTempFile("exchange_edited.ckpt", edited));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.output, "tensor table, from byte");
  EXPECT_CONTAINS(r.output, "tensors[1]");
}

// Version 1 files (no tensor table) still load, evaluate and resume.
TEST(Exchange, VersionOneCheckpointsStillLoad) {
  const std::string checkpoint = Temp("v2.ckpt");
  const std::string model = WriteTempFile("exchange_v1.json", kModel);
  testing::CommandResult r = RunTensorscope("train " + model + " --epochs 1 --save " + checkpoint);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string v2 = FileBytes(checkpoint);
  uint64_t model_bytes, config_bytes, table_bytes;
  std::memcpy(&model_bytes, v2.data() + 16, 8);
  std::memcpy(&config_bytes, v2.data() + 24, 8);
  std::memcpy(&table_bytes, v2.data() + 64, 8);
  // The same checkpoint as version 1 wrote it: a 64-byte header, no table.
  std::string v1 = v2.substr(0, 64) + v2.substr(72, model_bytes + config_bytes) +
                   v2.substr(72 + model_bytes + config_bytes + table_bytes);
  const uint32_t one = 1, header = 64;
  std::memcpy(v1.data() + 8, &one, 4);
  std::memcpy(v1.data() + 12, &header, 4);
  const uint32_t crc = static_cast<uint32_t>(
      crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(v1.data()), static_cast<uInt>(v1.size() - 4)));
  std::memcpy(v1.data() + v1.size() - 4, &crc, 4);
  const std::string old = WriteTempFile("exchange_v1.ckpt", v1);
  const nn::Checkpoint a = nn::LoadCheckpoint(checkpoint), b = nn::LoadCheckpoint(old);
  EXPECT_EQ(a.parameters, b.parameters);
  EXPECT_EQ(a.statistics, b.statistics);
  EXPECT_EQ(a.optimizer_state, b.optimizer_state);
  r = RunTensorscope("eval " + old);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  r = RunTensorscope("train " + model + " --resume " + old + " --save " + Temp("resumed.ckpt"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_CONTAINS(r.output, "epoch 2/2");
}

// --save-init writes the weights before the first step: the same for the same seed, not the trained ones.
TEST(Exchange, SaveInitWritesTheInitialWeights) {
  const std::string model = WriteTempFile("exchange_init.json", kModel);
  testing::CommandResult r = RunTensorscope("train " + model + " --epochs 1 --save-init " + Temp("init_a.ckpt") +
                                            " --save " + Temp("trained.ckpt"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_CONTAINS(r.output, "Initial weights: " + Temp("init_a.ckpt"));
  r = RunTensorscope("train " + model + " --epochs 1 --seed 3 --save-init " + Temp("init_b.ckpt"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const nn::Checkpoint a = nn::LoadCheckpoint(Temp("init_a.ckpt")), b = nn::LoadCheckpoint(Temp("init_b.ckpt"));
  const nn::Checkpoint trained = nn::LoadCheckpoint(Temp("trained.ckpt"));
  EXPECT_EQ(a.parameters, b.parameters);
  EXPECT_NE(a.parameters, trained.parameters);
  EXPECT_EQ(a.position.global_step, 0u);
  EXPECT_EQ(trained.position.global_step, 16u);  // 270 training samples (10% validation) / 16
  for (const std::vector<float>& state : a.optimizer_state)
    for (float v : state) ASSERT_EQ(v, 0.0f);
  r = RunTensorscope("train " + model + " --resume " + Temp("trained.ckpt") + " --save-init " + Temp("x.ckpt"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.output, "--save-init writes the weights before the first step");
}

TEST(Exchange, MetricsCsvHasEveryStepAndEvaluation) {
  const std::string metrics = Temp("metrics.csv");
  testing::CommandResult r =
      RunTensorscope("train " + WriteTempFile("exchange_metrics.json", kModel) + " --metrics-csv " + metrics);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto rows = ReadCsv(metrics);
  ASSERT_FALSE(rows.empty());
  EXPECT_EQ(rows[0], (std::vector<std::string>{"kind", "step", "epoch", "loss", "accuracy", "learning_rate",
                                               "samples_per_second", "gpu_ms", "samples"}));
  int train = 0, validation = 0, test = 0, timed = 0, precise = 0;
  for (size_t i = 1; i < rows.size(); ++i) {
    ASSERT_EQ(rows[i].size(), 9u) << i;
    if (rows[i][0] == "train") {
      ++train;
      EXPECT_EQ(rows[i][1], std::to_string(train));
      EXPECT_EQ(std::stod(rows[i][5]), 0.01);
      EXPECT_GT(std::stod(rows[i][6]), 0);
      timed += !rows[i][7].empty();
      precise += rows[i][3].size() > 8;  // more digits than the console's %.4f
    }
    validation += rows[i][0] == "validation";
    test += rows[i][0] == "test";
  }
  EXPECT_EQ(train, 32);  // 2 epochs of 16 steps
  EXPECT_EQ(validation, 2);
  EXPECT_EQ(test, 1);
  EXPECT_GE(timed, 1);
  EXPECT_GE(precise, train / 2);
  EXPECT_EQ(rows.back()[8], "90");
}

TEST(Exchange, PredictionsCsvHasFeaturesLabelsAndProbabilities) {
  const std::string checkpoint = Temp("predict.ckpt"), predictions = Temp("predictions.csv");
  testing::CommandResult r =
      RunTensorscope("train " + WriteTempFile("exchange_predict.json", kModel) + " --epochs 1 --save " + checkpoint);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = RunTensorscope("eval " + checkpoint + " --predictions " + predictions);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_CONTAINS(r.output, "Predictions: " + predictions + " (90 samples)");
  const auto rows = ReadCsv(predictions);
  ASSERT_EQ(rows.size(), 91u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"index", "x0", "x1", "label", "p0", "p1", "p2"}));
  for (size_t i = 1; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i][0], std::to_string(i - 1));
    double sum = 0;
    for (size_t k = 4; k < 7; ++k) sum += std::stod(rows[i][k]);
    EXPECT_NEAR(sum, 1.0, 1e-5) << i;
  }
  r = RunTensorscope("eval " + checkpoint + " --predictions /nonexistent/folder/p.csv");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.output, "--predictions /nonexistent/folder/p.csv: the folder /nonexistent/folder does not exist");
}

TEST(Exchange, TestFractionZeroTrainsOnEverySample) {
  std::string csv;
  for (int i = 0; i < 60; ++i) csv += std::to_string(i % 7) + "," + std::to_string((i * 13) % 5) + "," + std::to_string(i % 3) + "\n";
  const std::string data = WriteTempFile("exchange_all.csv", csv);
  const std::string checkpoint = Temp("all.ckpt");
  testing::CommandResult r = RunTensorscope("train " + WriteTempFile("exchange_all.json", kModel) + " --data " + data +
                                            ":test_fraction=0 --epochs 1 --save " + checkpoint);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_CONTAINS(r.output, "(54 train, 6 validation)");
  EXPECT_EQ(r.output.find("test loss"), std::string::npos) << r.output;
  r = RunTensorscope("eval " + checkpoint);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.output, "is empty (test_fraction=0?)");
  r = RunTensorscope("eval " + checkpoint + " --split train");
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

// IDX files of `count` 2x3 images (pixel bytes from the sample's index) and labels i % 10.
void WriteIdxFiles(const std::string& directory, const std::string& prefix, uint32_t count) {
  auto big_endian = [](uint32_t v) {
    return std::string{char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
  };
  std::string images = big_endian(0x803) + big_endian(count) + big_endian(2) + big_endian(3), labels = big_endian(0x801) + big_endian(count);
  for (uint32_t i = 0; i < count; ++i) {
    for (uint32_t p = 0; p < 6; ++p) images += char((i * 7 + p * 31) % 256);
    labels += char(i % 10);
  }
  std::ofstream(directory + "/" + prefix + "-images-idx3-ubyte", std::ios::binary) << images;
  std::ofstream(directory + "/" + prefix + "-labels-idx1-ubyte", std::ios::binary) << labels;
}

// The int64 values of a one-dimensional .npy file.
std::vector<uint32_t> ReadIndexNpy(const std::string& path) {
  const std::string bytes = FileBytes(path);
  if (bytes.size() < 10) return {};
  const size_t start = 10 + (uint8_t(bytes[8]) | uint8_t(bytes[9]) << 8);
  std::vector<uint32_t> values;
  for (size_t at = start; at + 8 <= bytes.size(); at += 8) {
    int64_t v;
    std::memcpy(&v, bytes.data() + at, 8);
    values.push_back(static_cast<uint32_t>(v));
  }
  return values;
}

// IDX data is not copied into a PyTorch export: data/source.json says where the
// files lie and *_index.npy which of their samples each split holds, exactly the
// samples Tensorscope's split gives (data_source.py, run by
// tests/interop/pytorch_export_check.py, reads them).
TEST(Exchange, PytorchExportReadsIdxFilesWhereTheyLie) {
  const std::string directory = Temp("idx_files");
  std::filesystem::create_directories(directory);
  WriteIdxFiles(directory, "train", 40);
  WriteIdxFiles(directory, "t10k", 12);
  const std::string model = WriteTempFile("exchange_idx.json", R"({"format": "tensorscope-model", "version": 1,
    "name": "idx-mlp", "layers": [{"type": "input", "shape": [6]}, {"type": "dense", "units": 10},
    {"type": "softmax_cross_entropy"}], "training": {"validation_fraction": 0.25, "seed": 3, "batch_size": 4}})");
  const std::string folder = Temp("idx_pytorch");
  testing::CommandResult r = RunTensorscope("export " + model + " --format pytorch --data idx:" + directory + " -o " + folder);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* name : {"data_source.py", "data/source.json", "data/train_index.npy", "data/validation_index.npy",
                           "data/test_index.npy"})
    EXPECT_TRUE(std::filesystem::exists(folder + "/" + name)) << name;
  EXPECT_FALSE(std::filesystem::exists(folder + "/data/train_x.npy")) << "IDX data is read where it lies, not copied";
  const nlohmann::json source = nlohmann::json::parse(FileBytes(folder + "/data/source.json"));
  EXPECT_EQ(source["format"], "idx");
  EXPECT_EQ(source["train_files"][0], std::filesystem::absolute(directory + "/train-images-idx3-ubyte").lexically_normal().string());
  EXPECT_EQ(source["test_files"][1], std::filesystem::absolute(directory + "/t10k-labels-idx1-ubyte").lexically_normal().string());
  EXPECT_EQ(source["splits"], (nlohmann::json{{"train", "train"}, {"validation", "train"}, {"test", "test"}}));

  const data::DataSplit files = data::LoadDataSpec("idx:" + directory);
  const auto [train, validation] = data::SplitValidation(files.train, 0.25, 3);
  for (const auto& [name, expected, from] : {std::tuple{"train", &train, &files.train},
                                             std::tuple{"validation", &validation, &files.train},
                                             std::tuple{"test", &files.test, &files.test}}) {
    const std::vector<uint32_t> index = ReadIndexNpy(folder + "/data/" + name + "_index.npy");
    const data::Dataset picked = data::Subset(*from, index);
    EXPECT_EQ(picked.labels, expected->labels) << name;
    EXPECT_EQ(picked.features_u8, expected->features_u8) << name;
  }

  // Exported again from a CSV into the same folder: the data is copied, and nothing of the IDX export is left to mislead train.py.
  const std::string csv = WriteTempFile("exchange_idx.csv", "1,2,3,4,5,6,0\n6,5,4,3,2,1,1\n1,1,1,1,1,1,2\n2,2,2,2,2,2,3\n"
                                                            "3,3,3,3,3,3,4\n4,4,4,4,4,4,5\n5,5,5,5,5,5,6\n6,6,6,6,6,6,7\n"
                                                            "7,7,7,7,7,7,8\n8,8,8,8,8,8,9\n");
  r = RunTensorscope("export " + model + " --format pytorch --data " + csv + ":test_fraction=0 -o " + folder);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(std::filesystem::exists(folder + "/data/train_x.npy"));
  EXPECT_FALSE(std::filesystem::exists(folder + "/data/source.json"));
  EXPECT_FALSE(std::filesystem::exists(folder + "/data/train_index.npy"));
}

TEST(Exchange, ExportAndImportRefuseClearly) {
  testing::CommandResult r = RunTensorscope("export spiral-mlp --format keras -o " + Temp("x"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.output, "--format: expected onnx or pytorch, found \"keras\"");
  r = RunTensorscope("export spiral-mlp --format onnx");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.output, "export needs -o PATH");
  r = RunTensorscope("import " + WriteTempFile("exchange_not.onnx", "hello, not protobuf \xff\xff\xff") + " -o " +
                     Temp("not.ckpt"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.output, "exchange_not.onnx: not an ONNX model");
  EXPECT_FALSE(std::filesystem::exists(Temp("not.ckpt")));
  r = RunTensorscope("import /dev/zero -o " + Temp("zero.ckpt"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.output, "/dev/zero: expected an ONNX file, found a character device");
  // An export read back by the importer is the same network.
  r = RunTensorscope("export spiral-mlp --format onnx -o " + Temp("spiral.onnx"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = RunTensorscope("import " + Temp("spiral.onnx") + " -o " + Temp("spiral.ckpt"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_CONTAINS(r.output, "input 2 > dense 32 > relu > dense 32 > relu > dense 3 > softmax_cross_entropy");
  EXPECT_TRUE(std::filesystem::exists(Temp("spiral.json")));
}

// `parity` replays the first steps in PyTorch and says whether the curves agree;
// without PyTorch it says what to install.
TEST(Exchange, ParityReplaysTheFirstStepsInPytorch) {
  testing::CommandResult r = RunTensorscope("parity spiral-mlp --steps 3 --python /nonexistent/python3");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.output, "sudo apt-get install python3-torch python3-numpy");
  if (std::system("/usr/bin/python3 -c 'import torch, numpy' > /dev/null 2>&1") != 0)
    GTEST_SKIP() << "/usr/bin/python3 cannot import torch (install python3-torch)";
  r = RunTensorscope("parity " + WriteTempFile("exchange_parity.json", kModel) + " --steps 12");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_CONTAINS(r.output, "batches in dataset order (no shuffle)");
  EXPECT_CONTAINS(r.output, "    12 ");
  EXPECT_CONTAINS(r.output, "Verdict: the two agree to fp32 rounding.");
}

}  // namespace
}  // namespace ts
