// The command line as a user meets it: each kind of bad input gives a clear
// message and a non-zero exit, and nothing crashes.
#include <gtest/gtest.h>

#include <unistd.h>
#include <zlib.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "compute/profile/ceilings.h"
#include "compute/vk/context.h"
#include "support/cli.h"

namespace ts {
namespace {

using testing::RunTensorscope;
using testing::WriteTempFile;

#define EXPECT_CONTAINS(text, part) EXPECT_NE(std::string(text).find(part), std::string::npos) << (text)

const char* kTinyModel = R"({"format": "tensorscope-model", "version": 1, "name": "tiny", "layers": [
  {"type": "input", "shape": [2]}, {"type": "dense", "units": 8}, {"type": "tanh"},
  {"type": "dense", "units": 3}, {"type": "softmax_cross_entropy"}],
  "training": {"data": "spiral:samples=300", "epochs": 2, "batch_size": 16, "learning_rate": 0.01}})";

TEST(Cli, DevicesListsAndChooses) {
  testing::CommandResult r = RunTensorscope("devices");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_CONTAINS(r.output, "subgroup size");
  EXPECT_CONTAINS(r.output, "subgroup operations: basic");
  EXPECT_CONTAINS(r.output, "memory type 0");
  EXPECT_CONTAINS(r.output, "extensions present:");
  EXPECT_CONTAINS(r.output, "mixed precision: fp16 storage ");
  EXPECT_CONTAINS(r.output, "tensor cores for the fp16 matmul ");
  EXPECT_CONTAINS(r.output, "Chosen by default");
}

// lavapipe's vector width (app/vector_width.h): the user's LP_NATIVE_VECTOR_WIDTH
// wins and is named as such; without it, on a CPU with AVX-512, the first
// start measures both widths and later starts read the cache.
TEST(Cli, DevicesShowsTheVectorWidthAndWhoChoseIt) {
  const std::string cache = ::testing::TempDir() + "/width_probe_cache_" + std::to_string(getpid());
  std::filesystem::remove_all(cache);
  testing::CommandResult user = RunTensorscope("devices", "XDG_CACHE_HOME=" + cache + " LP_NATIVE_VECTOR_WIDTH=128");
  ASSERT_EQ(user.exit_code, 0) << user.output;
  if (user.output.find("llvmpipe") == std::string::npos) GTEST_SKIP() << "the device is not lavapipe";
  EXPECT_CONTAINS(user.output, "lavapipe vector width: 128 bits, set by LP_NATIVE_VECTOR_WIDTH");
  if (!__builtin_cpu_supports("avx512f")) GTEST_SKIP() << "no AVX-512: lavapipe has no 512-bit path to measure";

  const std::string unset = "env -u LP_NATIVE_VECTOR_WIDTH -u MESA_SHADER_CACHE_DIR XDG_CACHE_HOME=" + cache;
  testing::CommandResult first = RunTensorscope("devices", unset);
  ASSERT_EQ(first.exit_code, 0) << first.output;
  EXPECT_CONTAINS(first.output, "measuring lavapipe at 256 and 512 bits");
  EXPECT_CONTAINS(first.output, "measured on this start (probe ");
  const bool chose_512 = first.output.find("vector width: 512 bits") != std::string::npos;
  EXPECT_CONTAINS(first.output, chose_512 ? ", 512 bits)" : ", 256 bits)");
  testing::CommandResult second = RunTensorscope("devices", unset);
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_EQ(second.output.find("measuring lavapipe"), std::string::npos) << second.output;
  EXPECT_CONTAINS(second.output, std::string("lavapipe vector width: ") + (chose_512 ? "512" : "256") + " bits, measured 20");
  std::filesystem::remove_all(cache);
}

TEST(Cli, NoVulkanDriverNamesThePackage) {
  testing::CommandResult r =
      RunTensorscope("devices", "VK_ICD_FILENAMES=/nonexistent.json VK_DRIVER_FILES=/nonexistent.json");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_CONTAINS(r.output, "No Vulkan driver");
  EXPECT_CONTAINS(r.output, "mesa-vulkan-drivers");
}

TEST(Cli, DeviceOutOfRange) {
  testing::CommandResult r = RunTensorscope("train spiral-mlp --epochs 1 --device 99");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.output, "--device 99 does not exist");
}

TEST(Cli, ResumeWithOtherSettingsSaysWhatItUses) {
  std::string checkpoint = ::testing::TempDir() + "/resume_settings.ckpt";
  testing::CommandResult r = RunTensorscope("train spiral-mlp --epochs 1 --lr 0.01 --save " + checkpoint);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // Same settings, more epochs (a constant schedule): the normal way on, nothing to warn about.
  r = RunTensorscope("train spiral-mlp --epochs 2 --lr 0.01 --resume " + checkpoint);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.find("Warning"), std::string::npos) << r.output;
  r = RunTensorscope("train spiral-mlp --epochs 2 --lr 0.05 --batch 16 --resume " + checkpoint);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_CONTAINS(r.output, "Warning: learning rate: the checkpoint was trained with 0.01; this run uses 0.05.");
  EXPECT_CONTAINS(r.output, "Warning: batch size: the checkpoint was trained with 32; this run uses 16");
}

TEST(Cli, TrainsWithValidationAndSavesAndEvaluates) {
  std::string model = WriteTempFile("tiny.json", kTinyModel);
  std::string checkpoint = ::testing::TempDir() + "/tiny.ckpt";
  testing::CommandResult r = RunTensorscope("train " + model + " --validate --save " + checkpoint);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_CONTAINS(r.output, "epoch 2/2");
  EXPECT_CONTAINS(r.output, "val loss");
  EXPECT_CONTAINS(r.output, "test accuracy");
  EXPECT_EQ(r.output.find("validation error"), std::string::npos) << r.output;
  ASSERT_TRUE(std::filesystem::exists(checkpoint));
  r = RunTensorscope("eval " + checkpoint + " --validate");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_CONTAINS(r.output, "accuracy");
  EXPECT_CONTAINS(r.output, "Confusion matrix");
}

// Mixed precision from the command line: fp16 training with the validation
// layer on, resumed from its checkpoint in fp16, evaluated; a precision that
// does not exist is refused by name; a CNN trains in fp16 too; bench
// --precision compares both.
TEST(Cli, TrainsInFp16AndBenchComparesPrecisions) {
  std::string checkpoint = ::testing::TempDir() + "/fp16.ckpt";
  testing::CommandResult r =
      RunTensorscope("train spiral-mlp --precision fp16 --epochs 3 --validate --save " + checkpoint);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_CONTAINS(r.output, "Precision: fp16");
  EXPECT_CONTAINS(r.output, "loss scale 65536, 0 step(s) skipped");
  r = RunTensorscope("eval " + checkpoint + " --validate");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_CONTAINS(r.output, "accuracy");
  r = RunTensorscope("train spiral-mlp --precision fp8");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.output, "--precision: unknown precision 'fp8': expected fp32 or fp16.");
  r = RunTensorscope("train shapes-cnn --precision fp16 --epochs 1 --data shapes:samples=128 --no-autotune");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_CONTAINS(r.output, "Precision: fp16");
  r = RunTensorscope("bench --precision fp16 --model spiral-mlp --steps 4 --rounds 1 --json --validate");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  nlohmann::json out = nlohmann::json::parse(r.output.substr(r.output.find('{')));
  ASSERT_EQ(out["rows"].size(), 2u);
  EXPECT_EQ(out["rows"][0]["precision"], "fp32");
  EXPECT_EQ(out["rows"][1]["precision"], "fp16");
  EXPECT_LT(out["rows"][1]["matmul_bytes_per_step"].get<double>(), out["rows"][0]["matmul_bytes_per_step"].get<double>());
  EXPECT_LT(out["rows"][1]["activation_memory_bytes"].get<double>(), out["rows"][0]["activation_memory_bytes"].get<double>());
}

TEST(Cli, MalformedJson) {
  std::string path = WriteTempFile("broken.json", R"({"layers": [{"type": "input", "shape": [2]},)");
  testing::CommandResult r = RunTensorscope("train " + path);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.output, path);
  EXPECT_CONTAINS(r.output, "not valid JSON at byte");
}

TEST(Cli, UnknownLayerTypeAndParameter) {
  std::string path = WriteTempFile("unknown.json", R"({"layers": [{"type": "input", "shape": [2]},
    {"type": "conv9d"}, {"type": "softmax"}]})");
  testing::CommandResult r = RunTensorscope("train " + path + " --data spiral");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.output, "layers[1].type: unknown layer type 'conv9d'");
  path = WriteTempFile("param.json", R"({"layers": [{"type": "input", "shape": [2]},
    {"type": "dense", "units": 3, "dropout": 0.5}, {"type": "softmax"}]})");
  r = RunTensorscope("train " + path + " --data spiral");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.output, "unknown parameter 'dropout'");
}

TEST(Cli, ImpossibleShapesAndSizes) {
  std::string path = WriteTempFile("shape.json", R"({"layers": [{"type": "input", "shape": [1, 8, 8]},
    {"type": "dense", "units": 3}, {"type": "softmax"}]})");
  testing::CommandResult r = RunTensorscope("train " + path + " --data spiral");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.output, "expects a vector input");
  path = WriteTempFile("zero.json", R"({"layers": [{"type": "input", "shape": [2]},
    {"type": "dense", "units": 0}, {"type": "softmax"}]})");
  r = RunTensorscope("train " + path + " --data spiral");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.output, "units: expected a positive integer, found number 0");
  r = RunTensorscope("train spiral-mlp --batch 0");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.output, "--batch: expected a positive integer");
}

TEST(Cli, DataThatDoesNotFitTheModel) {
  std::string path = WriteTempFile("mismatch.json", R"({"layers": [{"type": "input", "shape": [5]},
    {"type": "dense", "units": 3}, {"type": "softmax"}]})");
  testing::CommandResult r = RunTensorscope("train " + path + " --data spiral");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.output, "takes inputs of shape 5");
  EXPECT_CONTAINS(r.output, "has samples of shape 2");
  path = WriteTempFile("classes.json", R"({"layers": [{"type": "input", "shape": [2]},
    {"type": "dense", "units": 2}, {"type": "softmax"}]})");
  r = RunTensorscope("train " + path + " --data spiral:classes=3");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.output, "has 3 classes");
  // More outputs than classes is refused too (it trained to chance before), naming the layer.
  path = WriteTempFile("too_many.json", R"({"layers": [{"type": "input", "shape": [2]},
    {"type": "dense", "units": 8}, {"type": "relu"}, {"type": "dense", "units": 16}, {"type": "softmax"}]})");
  r = RunTensorscope("train " + path + " --data spiral:classes=3 --epochs 1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.output, "layers[3] dense_2 has 16 outputs, the data 'spiral:train' has 3 classes: set its units to 3.");
}

TEST(Cli, CsvRaggedRowAndNonNumericCell) {
  std::string model = WriteTempFile("csv_model.json", R"({"layers": [{"type": "input", "shape": [2]},
    {"type": "dense", "units": 2}, {"type": "softmax"}]})");
  std::string ragged = WriteTempFile("ragged.csv", "1,2,0\n3,4,1\n5,6\n7,8,1\n");
  testing::CommandResult r = RunTensorscope("train " + model + " --data " + ragged);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.output, "ragged.csv");
  EXPECT_CONTAINS(r.output, "line 3");
  std::string text = WriteTempFile("text.csv", "1,2,0\n3,abc,1\n5,6,0\n");
  r = RunTensorscope("train " + model + " --data " + text);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.output, "text.csv");
  EXPECT_CONTAINS(r.output, "line 2");
  EXPECT_CONTAINS(r.output, "abc");
}

TEST(Cli, IdxHeaderThatLies) {
  std::string root = ::testing::TempDir() + "/lying_idx";
  std::filesystem::create_directories(root + "/mnist");
  auto write = [&](const std::string& name, std::vector<uint8_t> bytes) {
    std::ofstream(root + "/mnist/" + name, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  };
  // Images header claims 1000 images of 28x28, but only 10 bytes of pixels follow.
  std::vector<uint8_t> images = {0, 0, 8, 3, 0, 0, 3, 232, 0, 0, 0, 28, 0, 0, 0, 28};
  images.resize(images.size() + 10);
  std::vector<uint8_t> labels = {0, 0, 8, 1, 0, 0, 3, 232};
  labels.resize(labels.size() + 1000);
  for (const char* prefix : {"train", "t10k"}) {
    write(std::string(prefix) + "-images-idx3-ubyte", images);
    write(std::string(prefix) + "-labels-idx1-ubyte", labels);
  }
  testing::CommandResult r = RunTensorscope("train mnist-mlp --epochs 1", "TENSORSCOPE_DATA_DIR=" + root);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.output, "train-images-idx3-ubyte");
  EXPECT_CONTAINS(r.output, "truncated");
  // A wrong magic number.
  images[2] = 9;
  write("train-images-idx3-ubyte", images);
  r = RunTensorscope("train mnist-mlp --epochs 1", "TENSORSCOPE_DATA_DIR=" + root);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.output, "magic");
}

// Trains kTinyModel (saved as `model_name`) for one epoch into `checkpoint_name`
// under the test temp dir; returns the checkpoint's path ("" if training failed).
std::string TrainTinyCheckpoint(const std::string& model_name, const std::string& checkpoint_name) {
  std::string checkpoint = ::testing::TempDir() + "/" + checkpoint_name;
  testing::CommandResult r =
      RunTensorscope("train " + WriteTempFile(model_name, kTinyModel) + " --epochs 1 --save " + checkpoint);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return r.exit_code == 0 ? checkpoint : "";
}

std::string FileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

TEST(Cli, TruncatedAndForeignCheckpoints) {
  const std::string checkpoint = TrainTinyCheckpoint("ckpt_model.json", "good.ckpt");
  ASSERT_FALSE(checkpoint.empty());
  std::string bytes = FileBytes(checkpoint);
  testing::CommandResult r;
  std::string truncated = WriteTempFile("truncated.ckpt", bytes.substr(0, bytes.size() / 2));
  r = RunTensorscope("eval " + truncated);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.output, "truncated.ckpt: truncated");
  std::string corrupt_bytes = bytes;
  corrupt_bytes[corrupt_bytes.size() - 20] ^= 0x55;
  r = RunTensorscope("eval " + WriteTempFile("corrupt.ckpt", corrupt_bytes));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.output, "checksum mismatch");
  r = RunTensorscope("eval " + WriteTempFile("notackpt.ckpt", "hello world, not a checkpoint at all"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.output, "not a Tensorscope checkpoint");
  r = RunTensorscope("train spiral-mlp --epochs 1 --resume " + checkpoint);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.output, "this checkpoint is for another model");
}

TEST(Cli, HostileFilesAndOptionsGetSentences) {
  // Each used to crash, print a raw library message, or run out of memory.
  testing::CommandResult r = RunTensorscope("train /dev/zero");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.output, "/dev/zero: expected a model file, found a character device");
  r = RunTensorscope("eval /dev/zero");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.output, "/dev/zero: expected a Tensorscope checkpoint, found a character device");
  const std::string deep = std::string(60000, '[') + std::string(60000, ']');
  std::string path = WriteTempFile("deep.json", R"({"layers": )" + deep + "}");
  r = RunTensorscope("train " + path);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.output, path + ": nested deeper than 64 levels at byte 75 (line 1, column 75)");
  path = WriteTempFile("overflow.json", R"({"layers": [{"type": "input", "shape": [2]}, {"type": "dense", "units": 1e99999},
    {"type": "softmax"}]})");
  r = RunTensorscope("train " + path + " --data spiral");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.output, path + ": layers[1].units: number out of range");
  path = WriteTempFile("kind.json", R"({"layers": [{"type": "input", "shape": [2]}, {"type": "dense", "units": 3},
    {"type": "softmax"}], "training": {"schedule": {"kind": 7}}})");
  r = RunTensorscope("train " + path + " --data spiral");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.output, path + ": training.schedule.kind: expected constant, step or cosine, found number 7");
  r = RunTensorscope("train spiral-mlp --steps-per-submit 1000000");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.output, "steps per submit must be from 1 to 256, found 1000000");
}

TEST(Cli, EveryCheckpointReaderRefusesTheSameBadHeader) {
  const std::string checkpoint = TrainTinyCheckpoint("header_model.json", "header.ckpt");
  ASSERT_FALSE(checkpoint.empty());
  const std::string model = ::testing::TempDir() + "/header_model.json";
  std::string bytes = FileBytes(checkpoint);
  testing::CommandResult r;
  const uint32_t epoch = 0xffffffff;  // used to print "Resumed ... at epoch 0" and exit 0
  std::memcpy(bytes.data() + 44, &epoch, 4);
  const uint32_t crc = static_cast<uint32_t>(
      crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(bytes.size() - 4)));
  std::memcpy(bytes.data() + bytes.size() - 4, &crc, 4);
  const std::string bad = WriteTempFile("bad_epoch.ckpt", bytes);
  for (const std::string& command : {"train " + model + " --resume " + bad, "eval " + bad}) {
    r = RunTensorscope(command);
    EXPECT_EQ(r.exit_code, 1) << command;
    EXPECT_CONTAINS(r.output, bad + ": bytes 44-47 (epochs completed; the embedded config trains 1): found 4294967295");
  }
}

TEST(Cli, ADataPathThatIsNotUtf8SurvivesTheCheckpoint) {
  const std::string folder = ::testing::TempDir() + "/latin1";
  std::filesystem::create_directories(folder);
  const std::string data = folder + "/caf\xe9.csv";  // a Latin-1 file name
  {
    std::ofstream out(data);
    for (int i = 0; i < 60; ++i) out << (i % 7) << "," << (i % 5) << "," << (i % 2) << "\n";
  }
  std::string model = WriteTempFile("latin1_model.json", R"({"layers": [{"type": "input", "shape": [2]},
    {"type": "dense", "units": 2}, {"type": "softmax"}], "training": {"batch_size": 4, "epochs": 1}})");
  const std::string checkpoint = folder + "/run.ckpt";
  testing::CommandResult r = RunTensorscope("train " + model + " --data '" + data + "' --save " + checkpoint);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = RunTensorscope("eval " + checkpoint);  // finds the data by the path the checkpoint stored
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_CONTAINS(r.output, "accuracy");
  r = RunTensorscope("train " + model + " --data spiral --save " + folder + "/no/such/folder/x.ckpt");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.output, "the folder " + folder + "/no/such/folder does not exist");
  EXPECT_EQ(r.output.find("epoch 1/1"), std::string::npos) << "refused before training: " << r.output;
}

TEST(Cli, DivergenceStopsWithTheStepAndAdvice) {
  testing::CommandResult r = RunTensorscope("train spiral-mlp --optimizer sgd --lr 1e30 --epochs 1");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_CONTAINS(r.output, "Training diverged at epoch 1, step");
  EXPECT_CONTAINS(r.output, "lower learning rate");
}

TEST(Cli, ModelLargerThanTheDevice) {
  std::string path = WriteTempFile("huge.json", R"({"layers": [{"type": "input", "shape": [2]},
    {"type": "dense", "units": 30000}, {"type": "relu"}, {"type": "dense", "units": 30000}, {"type": "softmax"}]})");
  testing::CommandResult r = RunTensorscope("train " + path + " --data spiral");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.output, "Out of device memory");
  EXPECT_CONTAINS(r.output, "the model needs");
}

TEST(Cli, UnknownCommandAndOption) {
  testing::CommandResult r = RunTensorscope("frobnicate");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_CONTAINS(r.output, "unknown command 'frobnicate'");
  r = RunTensorscope("train spiral-mlp --epochz 3");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.output, "unknown option --epochz");
}

// The JSON object a --json command printed: its last line that starts with '{'
// (the validation layer or the driver may print lines of their own).
nlohmann::json LastJsonLine(const std::string& output) {
  std::istringstream lines(output);
  std::string line, last;
  while (std::getline(lines, line))
    if (!line.empty() && line[0] == '{') last = line;
  return nlohmann::json::parse(last, nullptr, false);
}

// A fresh cache directory for one test.
std::filesystem::path FreshCacheDir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("tensorscope_cli_" + std::to_string(getpid()) + "_" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

TEST(Cli, BenchCeilingsMeasuresOnceThenReadsTheCache) {
  const std::filesystem::path cache = FreshCacheDir("ceilings");
  const std::string env = "XDG_CACHE_HOME=" + cache.string();
  testing::CommandResult r = RunTensorscope("bench --ceilings --json", env);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  nlohmann::json first = LastJsonLine(r.output);
  ASSERT_TRUE(first.is_object()) << r.output;
  EXPECT_FALSE(first["from_cache"].get<bool>());
  for (const char* field : {"bandwidth_gbs", "fp32_gflops", "upload_gbs", "download_gbs", "single_dispatch_us"})
    EXPECT_GT(first[field].get<double>(), 0) << field;
  EXPECT_EQ(first["cache_file"], (cache / "tensorscope" / "ceilings.json").string());
  EXPECT_TRUE(std::filesystem::exists(cache / "tensorscope" / "ceilings.json"));
  r = RunTensorscope("bench --ceilings", env);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_CONTAINS(r.output, "cached in");
  EXPECT_CONTAINS(r.output, first["measured_at"].get<std::string>());
  EXPECT_CONTAINS(r.output, "efficiency = achieved / peak");
  r = RunTensorscope("bench --ceilings --json", env);
  EXPECT_TRUE(LastJsonLine(r.output)["from_cache"].get<bool>()) << r.output;
  std::filesystem::remove_all(cache);
}

TEST(Cli, BenchModelPrintsAKernelTableWhoseSharesSumToOne) {
  // Cached ceilings of the default device, so the run measures nothing but the model.
  const std::filesystem::path cache = FreshCacheDir("model");
  const std::string environment = testing::PlantMadeUpCeilings(cache);
  testing::CommandResult r =
      RunTensorscope("bench --model spiral-mlp --batch 32 --steps 4 --json --validate", environment);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const nlohmann::json out = LastJsonLine(r.output);
  ASSERT_TRUE(out.is_object()) << r.output;
  EXPECT_EQ(out["batch"], 32);
  EXPECT_EQ(out["model"], "spiral-mlp");
  EXPECT_TRUE(out["ceilings"]["from_cache"].get<bool>());
  EXPECT_EQ(out["ceilings"]["measured_at"], "2026-01-02T03:04:05Z");
  EXPECT_GT(out["step_gpu_ns"].get<double>(), 0);
  const nlohmann::json& table = out["kernel_table"];
  ASSERT_TRUE(table.is_array());
  ASSERT_GE(table.size(), 4u);
  double shares = 0, time = 0;
  size_t dispatches = 0;
  bool has_matmul = false;
  for (const nlohmann::json& row : table) {
    shares += row["share"].get<double>();
    time += row["time_ns"].get<double>();
    dispatches += row["dispatches"].size();
    has_matmul = has_matmul || row["kernel"] == "matmul";
    // % of peak against the cached (made-up) ceilings: 100 GFLOP/s, 10 GB/s.
    EXPECT_NEAR(row["percent_peak_flops"].get<double>(), row["gflops"].get<double>(), 1e-6);
    EXPECT_NEAR(row["percent_peak_bandwidth"].get<double>(), 10 * row["gbs"].get<double>(), 1e-6);
    EXPECT_NE(row["bound"], "?") << row.dump();
    EXPECT_FALSE(row["invocation_mismatch"].get<bool>()) << row.dump();
  }
  EXPECT_NEAR(shares, 1.0, 1e-6);
  EXPECT_NEAR(time, out["step_gpu_ns"].get<double>(), 1e-6 * time);
  EXPECT_EQ(dispatches, out["dispatches_per_step"].get<size_t>());
  EXPECT_TRUE(has_matmul);

  r = RunTensorscope("bench --model spiral-mlp --batch 16 --steps 2", "XDG_CACHE_HOME=" + cache.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* part : {"Device:", "cached in", "Per-kernel table", "GFLOP/s", "matmul", "GPU time per training step"})
    EXPECT_CONTAINS(r.output, part);
  std::filesystem::remove_all(cache);
}

TEST(Cli, BenchOptionsThatNeedAMode) {
  testing::CommandResult r = RunTensorscope("bench --batch 4");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.output, "--batch needs --model");
  r = RunTensorscope("bench --model no-such-model");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.output, "no-such-model");
  r = RunTensorscope("bench --help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_CONTAINS(r.output, "--model NAME_OR_FILE");
}

// `bench --serve` (tests/bench/bench.py's server): a general matmul shape with
// the autotuner's pick, the decision-boundary refresh, and a clear {"error"}
// for each bad request without the server going down.
TEST(Cli, BenchServeAnswersMatmulShapesAndBoundaryAndRejectsBadRequests) {
  const std::filesystem::path cache = FreshCacheDir("serve");  // the autotuner's disk cache goes here
  const std::vector<std::string> requests = {
      R"({"op": "matmul", "m": 37, "n": 19, "k": 45, "transpose_a": true, "variant": "auto", "iterations": 2})",
      R"({"op": "matmul", "n": 33, "transpose_b": true, "variant": "register_blocked", "iterations": 1, "min_time_s": 0.01})",
      R"({"op": "boundary", "model": "spiral-mlp", "resolution": 16, "path": "layer_by_layer", "iterations": 2})",
      R"({"op": "boundary", "model": "spiral-mlp", "resolution": 16, "path": "auto", "iterations": 1})",
      R"({"op": "boundary", "resolution": 0})",
      R"({"op": "boundary", "resolution": 1025})",
      R"({"op": "boundary", "model": "no-such-model"})",
      R"({"op": "boundary", "model": "cifar10-cnn", "resolution": 8})",
      R"({"op": "boundary", "resolution": 8, "path": "sideways"})",
      R"({"op": "matmul", "m": 0, "n": 4})",
      R"({"op": "matmul", "n": 8, "variant": "fastest"})",
      "not json",
      R"({"op": "frobnicate"})",
      R"({"op": "info"})"};
  std::string text;
  for (const std::string& r : requests) text += r + "\n";
  const std::string input = WriteTempFile("bench_serve_requests.jsonl", text);
  testing::CommandResult r =
      RunTensorscope("bench --serve --validate < " + input, "XDG_CACHE_HOME=" + cache.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::vector<nlohmann::json> answers;
  std::istringstream lines(r.output);
  for (std::string line; std::getline(lines, line);)
    if (!line.empty() && line[0] == '{') answers.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(answers.size(), requests.size()) << r.output;

  const nlohmann::json& tuned = answers[0];
  ASSERT_FALSE(tuned.contains("error")) << tuned.dump();
  EXPECT_EQ(tuned["m"], 37);
  EXPECT_EQ(tuned["n"], 19);
  EXPECT_EQ(tuned["k"], 45);
  EXPECT_TRUE(tuned["transpose_a"].get<bool>());
  EXPECT_EQ(tuned["variant"], "auto");
  EXPECT_FALSE(tuned["kernel"].get<std::string>().empty());
  EXPECT_TRUE(tuned.contains("tuned")) << tuned.dump();
  EXPECT_EQ(tuned["flops"].get<double>(), 2.0 * 37 * 19 * 45);
  EXPECT_LT(tuned["max_error"].get<double>(), 1e-5);
  EXPECT_GE(tuned["gpu_s"].size(), 2u);
  EXPECT_EQ(tuned["gpu_s"].size(), tuned["wall_s"].size());

  const nlohmann::json& square = answers[1];
  ASSERT_FALSE(square.contains("error")) << square.dump();
  EXPECT_EQ(square["m"], 33);
  EXPECT_EQ(square["k"], 33);
  EXPECT_EQ(square["kernel_variant"], "register_blocked");
  EXPECT_LT(square["max_error"].get<double>(), 1e-5);
  double wall = 0;
  for (double s : square["wall_s"].get<std::vector<double>>()) wall += s;
  EXPECT_GE(wall, 0.01);  // repeated until min_time_s

  for (size_t i : {2u, 3u}) {
    const nlohmann::json& b = answers[i];
    ASSERT_FALSE(b.contains("error")) << b.dump();
    EXPECT_EQ(b["points"], 256);
    EXPECT_EQ(b["classes"], 3);
    EXPECT_EQ(b["parameters"], 2 * 32 + 32 + 32 * 32 + 32 + 32 * 3 + 3);
    EXPECT_TRUE(b["finite"].get<bool>());
    EXPECT_LT(b["row_sum_error"].get<double>(), 1e-4);
    EXPECT_EQ(b["wall_s"].size(), b["gpu_ms"].size());
  }
  EXPECT_FALSE(answers[2]["fused"].get<bool>());
  EXPECT_EQ(answers[2]["wall_s"].size(), 2u);

  const std::vector<std::pair<size_t, std::string>> errors = {
      {4, "resolution must be 1 to 1024; got 0"}, {5, "got 1025"},       {6, "no-such-model"},
      {7, "two input features"},                  {8, "sideways"},       {9, "m, n and k"},
      {10, "fastest"},                            {11, "parse error"},   {12, "frobnicate"}};
  for (const auto& [i, part] : errors) {
    ASSERT_TRUE(answers[i].contains("error")) << requests[i] << " -> " << answers[i].dump();
    EXPECT_CONTAINS(answers[i]["error"].get<std::string>(), part);
  }
  EXPECT_TRUE(answers[13].contains("device")) << answers[13].dump();
  std::filesystem::remove_all(cache);
}

}  // namespace
}  // namespace ts
