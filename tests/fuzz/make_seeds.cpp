// Writes the seed corpora: valid files of every kind the fuzz targets read,
// made by Tensorscope's own writers (presets, TrainConfigToJson,
// SaveCheckpoint, ProjectToJson) and by stb_image_write and zlib, one folder
// per target under the folder given: fuzz_make_seeds OUT_DIR.
#include <stb_image_write.h>
#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "compute/common/json_read.h"
#include "compute/data/cifar.h"
#include "compute/interop/onnx_export.h"
#include "compute/lab/puzzle.h"
#include "compute/nn/checkpoint.h"
#include "compute/nn/presets.h"
#include "compute/nn/tensor_table.h"
#include "compute/nn/train_config.h"
#include "compute/profile/occupancy.h"
#include "ui/lab/puzzle_progress.h"
#include "ui/project.h"

namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

fs::path out_dir;

void Write(const std::string& target, const std::string& name, const std::string& bytes) {
  fs::create_directories(out_dir / target);
  std::ofstream(out_dir / target / name, std::ios::binary) << bytes;
}
void Write(const std::string& target, const std::string& name, const Bytes& bytes) {
  Write(target, name, std::string(bytes.begin(), bytes.end()));
}

Bytes Gzip(const Bytes& bytes) {
  z_stream stream{};
  deflateInit2(&stream, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  Bytes out(deflateBound(&stream, static_cast<uLong>(bytes.size())));
  stream.next_in = const_cast<Bytef*>(bytes.data());
  stream.avail_in = static_cast<uInt>(bytes.size());
  stream.next_out = out.data();
  stream.avail_out = static_cast<uInt>(out.size());
  deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

Bytes BigEndian(std::initializer_list<uint32_t> words) {
  Bytes bytes;
  for (uint32_t word : words)
    for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(static_cast<uint8_t>(word >> shift));
  return bytes;
}

Bytes Text(const std::string& text) { return Bytes(text.begin(), text.end()); }

void Models() {
  for (const ts::nn::Preset& preset : ts::nn::BuiltInPresets()) {
    Write("model", std::string(preset.name) + ".json", std::string(preset.json));
    const ts::nn::ModelDesc model = ts::nn::ParseModel(preset.json, preset.name);
    Write("train_config", std::string(preset.name) + ".json", ts::DumpJson(model.training, "seed"));
  }
  Write("model", "every-layer.json", std::string(R"({"format": "tensorscope-model", "version": 1, "name": "all",
    "layers": [{"type": "input", "shape": [3, 8, 8]},
      {"type": "conv2d", "filters": 4, "kernel": [3, 3], "padding": "same", "init": "he_normal"},
      {"type": "batch_norm", "momentum": 0.2}, {"type": "leaky_relu", "slope": 0.1},
      {"type": "max_pool2d", "size": 2}, {"type": "avg_pool2d", "size": 2, "stride": 1, "padding": 1},
      {"type": "conv2d", "filters": 2, "kernel": 1, "stride": [1, 1], "padding": [0, 0], "bias": false},
      {"type": "global_avg_pool"}, {"type": "dropout", "rate": 0.25}, {"type": "dense", "units": 3, "bias": false},
      {"type": "gelu"}, {"type": "dense", "units": 1}, {"type": "bce_with_logits"}],
    "training": {"optimizer": "sgd", "schedule": {"kind": "cosine", "warmup_epochs": 1}}})"));
  ts::nn::TrainConfig config;
  config.schedule.kind = ts::nn::ScheduleKind::kStep;
  config.augment_crop_padding = 2;
  config.augment_flip = true;
  config.data = "images:/tmp/caf\xe9:size=8x8";  // a spec that is not UTF-8: stored as bytes_hex
  Write("train_config", "everything.json", ts::DumpJson(ts::nn::TrainConfigToJson(config), "seed", 2));
}

void Checkpoints() {
  const std::string dir = (out_dir / "checkpoint").string();
  fs::create_directories(dir);
  // Small models keep the seeds small: the spiral MLP, and a CNN with batch norm (running statistics).
  const std::string small_cnn = R"({"format": "tensorscope-model", "version": 1, "name": "small-cnn", "layers": [
      {"type": "input", "shape": [1, 6, 6]}, {"type": "conv2d", "filters": 2, "kernel": 3}, {"type": "batch_norm"},
      {"type": "relu"}, {"type": "flatten"}, {"type": "dense", "units": 3}, {"type": "softmax_cross_entropy"}]})";
  for (const char* name : {"spiral-mlp", "small-cnn"}) {
    for (const char* optimizer : {"adam", "sgd", "momentum"}) {
      ts::nn::Checkpoint c;
      c.model = std::string(name) == "small-cnn" ? ts::nn::ParseModel(small_cnn, name) : ts::nn::LoadModelOrPreset(name);
      ts::nn::TrainConfig config = ts::nn::ParseTrainConfig(c.model.training, name);
      config.optimizer = ts::nn::ParseOptimizerName(optimizer, "seed");
      c.config = ts::nn::TrainConfigToJson(config);
      uint64_t parameters = 0;
      for (const ts::nn::LayerShape& shape : ts::nn::InferShapes(c.model)) parameters += shape.parameters;
      c.parameters.assign(parameters, 0.5f);
      c.statistics.assign(name == std::string("small-cnn") ? 4 : 0, 1.0f);
      c.optimizer_state.assign(ts::kernels::OptimizerStateCount(config.optimizer),
                               std::vector<float>(c.parameters.size(), 0.25f));
      c.position = {1, 2, 30};
      ts::nn::SaveCheckpoint(dir + "/" + name + "-" + optimizer + ".ckpt", c);
    }
  }
}

// ONNX files of every layer kind, written by the exporter with small weights.
void OnnxModels() {
  for (const ts::nn::Preset& preset : ts::nn::BuiltInPresets()) {
    const ts::nn::ModelDesc model = ts::nn::ParseModel(preset.json, preset.name);
    const ts::nn::ModelTensors tensors = ts::nn::ListModelTensors(model);
    uint64_t parameters = 0, statistics = 0;
    for (const ts::nn::ParameterTensor& t : tensors.parameters) parameters += t.count;
    for (const ts::nn::ParameterTensor& t : tensors.statistics) statistics += t.count;
    if (parameters > 20000) continue;  // keep the seeds small
    Write("onnx", std::string(preset.name) + ".onnx",
          ts::interop::ExportOnnx(model, std::vector<float>(parameters, 0.125f), std::vector<float>(statistics, 1.0f)));
  }
}

void Csv() {
  const std::string plain = "1,2,0\n3,4,1\n5,6,0\n";
  Write("csv", "plain.csv", plain);
  Write("csv", "plain.csv.gz", Gzip(Text(plain)));
  Write("csv", "columns.csv", "a,b,label\n1.5,-2e3,cat\n\"3\", 4 ,dog\r\n\n");
  Write("csv", "sklearn.csv", "3,2,x,y\n1,2,0\n3,4,1\n5,6,1\n");
  Write("csv", "sklearn.csv.gz", Gzip(Text("3,2,x,y\n1,2,0\n3,4,1\n5,6,1\n")));
}

void Idx() {
  auto pair = [](const Bytes& images, const Bytes& labels) {
    const uint32_t n = static_cast<uint32_t>(images.size());
    Bytes input{static_cast<uint8_t>(n), static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n >> 16),
                static_cast<uint8_t>(n >> 24)};
    input.insert(input.end(), images.begin(), images.end());
    input.insert(input.end(), labels.begin(), labels.end());
    return input;
  };
  Bytes images = BigEndian({0x00000803, 3, 4, 5});
  for (int i = 0; i < 3 * 4 * 5; ++i) images.push_back(static_cast<uint8_t>(i * 7));
  Bytes labels = BigEndian({0x00000801, 3});
  labels.insert(labels.end(), {7, 0, 9});
  Write("idx", "raw", pair(images, labels));
  Write("idx", "gzipped", pair(Gzip(images), Gzip(labels)));
  Bytes two_members = Gzip(Bytes(images.begin(), images.begin() + 20));
  const Bytes rest = Gzip(Bytes(images.begin() + 20, images.end()));
  two_members.insert(two_members.end(), rest.begin(), rest.end());
  Write("idx", "two-members", pair(two_members, labels));
}

void Cifar() {
  Bytes records;
  for (uint8_t label : {3, 9}) {
    records.push_back(label);
    for (uint32_t i = 0; i < ts::data::kCifarImageBytes; ++i) records.push_back(static_cast<uint8_t>(i * 13 + label));
  }
  Write("cifar", "two.bin", records);
  Write("cifar", "two.bin.gz", Gzip(records));
}

void Images() {
  fs::create_directories(out_dir / "image");
  std::vector<uint8_t> pixels(6 * 5 * 4);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(i * 29);
  for (int channels : {1, 2, 3, 4}) {
    const std::string png = (out_dir / "image" / ("c" + std::to_string(channels) + ".png")).string();
    stbi_write_png(png.c_str(), 6, 5, channels, pixels.data(), 6 * channels);
  }
  stbi_write_bmp((out_dir / "image" / "rgb.bmp").c_str(), 6, 5, 3, pixels.data());
  stbi_write_bmp((out_dir / "image" / "rgba.bmp").c_str(), 6, 5, 4, pixels.data());
  stbi_write_jpg((out_dir / "image" / "rgb.jpg").c_str(), 6, 5, 3, pixels.data(), 90);
  stbi_write_jpg((out_dir / "image" / "gray.jpg").c_str(), 6, 5, 1, pixels.data(), 50);
}

void Projects() {
  Write("project", "default.tsproj.json", ts::DumpJson(ts::ui::ProjectToJson(ts::ui::DefaultProject()), "seed", 2));
  for (const ts::nn::Preset& preset : ts::nn::BuiltInPresets())
    Write("project", std::string(preset.name) + ".json", std::string(preset.json));  // a project may be a model file
}

}  // namespace

// Progress files, device-model corrections and kernel bodies (every puzzle's
// starter and solution, the first byte choosing the puzzle as the target does).
void LabFiles() {
  const std::vector<ts::lab::Puzzle>& puzzles = ts::lab::Puzzles();
  ts::ui::PuzzleProgress progress;
  progress.current = puzzles.back().name;
  for (size_t i = 0; i < puzzles.size(); ++i) {
    const ts::lab::Puzzle& puzzle = puzzles[i];
    Write("puzzle_kernel", puzzle.name + "-starter.glsl", std::string(1, char(i)) + puzzle.starter);
    Write("puzzle_kernel", puzzle.name + "-solution.glsl", std::string(1, char(i)) + puzzle.solution);
    progress.code[puzzle.name] = puzzle.solution;
    progress.solved[puzzle.name] = i % 2 == 0;
    progress.failed_tries[puzzle.name] = int(i);
  }
  fs::create_directories(out_dir / "puzzle_progress");
  ts::ui::SavePuzzleProgress(progress, (out_dir / "puzzle_progress" / "puzzles.json").string());
  std::vector<ts::profile::DeviceModel> rows = {ts::profile::VendorTable().front(), ts::profile::VendorTable().back()};
  for (ts::profile::DeviceModel& row : rows)
    for (const ts::profile::FigureField& field : ts::profile::DeviceModelFields())
      row.*field.member = {(row.*field.member).value + 1, ts::profile::Source::kUser, ""};
  ts::profile::SaveDeviceModelOverrides(out_dir / "device_model" / "device_model.json", rows);
}

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_make_seeds OUT_DIR\n");
    return 2;
  }
  out_dir = argv[1];
  Models();
  Checkpoints();
  OnnxModels();
  Csv();
  Idx();
  Cifar();
  Images();
  Projects();
  LabFiles();
  return 0;
}
