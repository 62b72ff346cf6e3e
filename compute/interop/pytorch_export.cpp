#include "compute/interop/pytorch_export.h"

#include <charconv>
#include <cstring>
#include <filesystem>
#include <numeric>
#include <optional>

#include "compute/common/error.h"
#include "compute/common/file_write.h"
#include "compute/common/json_read.h"
#include "compute/data/registry.h"
#include "compute/interop/torch_layout.h"
#include "compute/nn/train_config.h"

namespace ts::interop {
namespace {

namespace fs = std::filesystem;

// A layer's attribute name in model.py: its Tensorscope name where that is a
// Python identifier, else "layer_<index>".
std::string Attribute(const nn::LayerDesc& layer, size_t index) {
  bool ok = !layer.name.empty() && !std::isdigit(static_cast<unsigned char>(layer.name[0]));
  for (char c : layer.name) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
  return ok ? layer.name : "layer_" + std::to_string(index);
}

std::string Pair(uint32_t a, uint32_t b) { return "(" + std::to_string(a) + ", " + std::to_string(b) + ")"; }

// The shortest text that reads back as the same float (1e-05, not 9.99999975e-06).
std::string Float(float value) {
  char text[32];
  const auto [end, error] = std::to_chars(text, text + sizeof text, value);
  return error == std::errc() ? std::string(text, end) : std::to_string(value);
}

// numpy's .npy format, version 1.0: magic, header length, a Python dict, the data.
std::string Npy(const char* descr, const std::vector<size_t>& shape, const void* data, size_t bytes) {
  std::string dims;
  for (size_t d : shape) dims += std::to_string(d) + ", ";
  std::string header = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': (" + dims + "), }";
  const size_t total = (10 + header.size() + 1 + 63) / 64 * 64;
  header.append(total - 10 - header.size() - 1, ' ');
  header += '\n';
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  const uint16_t length = static_cast<uint16_t>(header.size());
  out.append(reinterpret_cast<const char*>(&length), 2);
  out += header;
  out.append(static_cast<const char*>(data), bytes);
  return out;
}

// Writes one split as <name>_x.npy (float32, in the model's input shape, NCHW)
// and <name>_y.npy (int64). The model's input decides the layout: a CSV row
// of 108 values feeding a 3x6x6 input is an image to the network.
void WriteSplit(const data::Dataset& d, const std::vector<uint32_t>& input, const std::string& folder,
                const std::string& name) {
  const size_t n = d.count(), f = d.feature_size();
  if (nn::ShapeElements(input) != f)
    throw Error("the data's samples hold " + std::to_string(f) + " values, the model's input " +
                nn::ShapeString(input) + " takes " + std::to_string(nn::ShapeElements(input)) + ".");
  std::vector<float> x(n * f);
  const bool image = input.size() == 3;
  const size_t c = image ? input[0] : 1, h = image ? input[1] : 1, w = image ? input[2] : f;
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < f; ++j) {
      // Tensorscope's feature j of an image is (y, x, channel); numpy's order is (channel, y, x).
      const size_t to = image ? (j % c) * h * w + j / c : j;
      x[i * f + to] = d.normalized(i, j);
    }
  std::vector<size_t> shape = {n};
  for (uint32_t s : input) shape.push_back(s);
  std::vector<int64_t> y(d.labels.begin(), d.labels.end());
  WriteFileAtomically(folder + "/data/" + name + "_x.npy", Npy("<f4", shape, x.data(), x.size() * 4));
  WriteFileAtomically(folder + "/data/" + name + "_y.npy", Npy("<i8", {n}, y.data(), y.size() * 8));
}

// The int64 indices of one split into its original files.
void WriteIndex(const std::string& folder, const std::string& name, const std::vector<uint32_t>& indices) {
  const std::vector<int64_t> values(indices.begin(), indices.end());
  WriteFileAtomically(folder + "/data/" + name + "_index.npy", Npy("<i8", {values.size()}, values.data(), values.size() * 8));
}

// Each sample's bytes as Tensorscope holds them (height, width, channel),
// hashed as data_source.py hashes what it reads: sum of byte j times
// kSampleHashBase^(j + 1), modulo 2^64. It tells whether a file changed since
// the export, or another JPEG decoder gave other pixels.
constexpr uint64_t kSampleHashBase = 1099511628211u;  // odd: every power differs mod 2^64

std::vector<uint64_t> SampleHashes(const data::Dataset& d) {
  const size_t size = d.feature_size();
  std::vector<uint64_t> powers(size);
  uint64_t power = 1;
  for (uint64_t& p : powers) p = power *= kSampleHashBase;
  std::vector<uint64_t> hashes(d.count());
  for (size_t i = 0; i < hashes.size(); ++i) {
    const uint8_t* bytes = d.features_u8.data() + i * size;
    uint64_t hash = 0;
    for (size_t j = 0; j < size; ++j) hash += bytes[j] * powers[j];
    hashes[i] = hash;
  }
  return hashes;
}

// The splits as indices into the IDX, CIFAR-10 or image files they came from,
// where those lie (data/source.json) and each sample's hash (*_hash.npy), for
// data_source.py: no copy of the data.
void WriteDataSource(const nn::Checkpoint& c, const ExportData& data, const data::DataFiles& files,
                     const std::string& folder) {
  const std::vector<uint32_t>& input = c.model.layers[0].shape;
  if (!data.train || data.train->count() == 0) throw Error("the run has no training data to export.");
  if (nn::ShapeElements(input) != data.train->feature_size())
    throw Error("the data's samples hold " + std::to_string(data.train->feature_size()) + " values, the model's input " +
                nn::ShapeString(input) + " takes " + std::to_string(nn::ShapeElements(input)) + ".");
  const nn::TrainConfig config = nn::ParseTrainConfig(c.config, "the checkpoint's training config");
  const size_t train = data.train->count(), validation = data.validation ? data.validation->count() : 0;
  // As SplitValidation split the training files (validation_fraction, seed).
  std::vector<uint32_t> train_index(train + validation), validation_index;
  std::iota(train_index.begin(), train_index.end(), 0u);
  if (validation > 0) {
    std::tie(train_index, validation_index) = data::SplitIndices(train + validation, config.validation_fraction, config.seed);
    if (train_index.size() != train || validation_index.size() != validation)
      throw Error("the run's validation split (" + std::to_string(validation) + " of " + std::to_string(train + validation) +
                  " samples) is not the one its config's validation_fraction " + std::to_string(config.validation_fraction) +
                  " gives.");
  }
  auto write_hashes = [&](const char* name, const data::Dataset& d) {
    if (d.format != data::FeatureFormat::kUint8) return;
    const std::vector<uint64_t> hashes = SampleHashes(d);
    WriteFileAtomically(folder + "/data/" + name + "_hash.npy", Npy("<u8", {hashes.size()}, hashes.data(), hashes.size() * 8));
  };
  nlohmann::json splits = {{"train", "train"}};
  WriteIndex(folder, "train", train_index);
  write_hashes("train", *data.train);
  if (validation > 0) {
    splits["validation"] = "train";
    WriteIndex(folder, "validation", validation_index);
    write_hashes("validation", *data.validation);
  }
  if (data.test && data.test->count()) {
    std::vector<uint32_t> test_index(data.test->count());
    std::iota(test_index.begin(), test_index.end(), 0u);
    splits["test"] = "test";
    WriteIndex(folder, "test", test_index);
    write_hashes("test", *data.test);
  }
  nlohmann::json source = {{"format", files.format},      {"train_files", files.train},
                           {"test_files", files.test},    {"scale", data.train->scale},
                           {"offset", data.train->offset}, {"input_shape", input},
                           {"splits", splits}};
  if (files.format == "image_folder") {
    if (files.train.size() != train + validation || files.test.size() != (data.test ? data.test->count() : 0))
      throw Error("the image folder of " + data.spec + " holds " + std::to_string(files.train.size()) + " training and " +
                  std::to_string(files.test.size()) + " test images now, the run had " +
                  std::to_string(train + validation) + " and " + std::to_string(data.test ? data.test->count() : 0) +
                  " (did the folder change?).");
    source["image_shape"] = data.train->sample_shape;  // channels, height, width: what each image becomes
    source["train_labels"] = files.train_labels;
    source["test_labels"] = files.test_labels;
    source["class_names"] = files.class_names;
  }
  WriteFileAtomically(folder + "/data/source.json", DumpJson(source, folder + "/data/source.json") + "\n");
  WriteFileAtomically(folder + "/data_source.py", PytorchDataSourceScript());
}

// Files an earlier export into `folder` may have left that this one does not write.
void RemoveStale(const std::string& folder, bool from_files) {
  std::vector<std::string> stale;
  for (const char* split : {"train", "validation", "test"})
    for (const char* suffix : from_files ? std::vector<const char*>{"_x.npy", "_y.npy"}
                                         : std::vector<const char*>{"_index.npy", "_hash.npy"})
      stale.push_back("data/" + std::string(split) + suffix);
  if (!from_files) stale.insert(stale.end(), {"data/source.json", "data_source.py"});
  std::error_code ignored;
  for (const std::string& name : stale) fs::remove(fs::path(folder) / name, ignored);
}

nlohmann::json ConfigJson(const nn::Checkpoint& c, const ExportData& data) {
  const nn::TrainConfig config = nn::ParseTrainConfig(c.config, "the checkpoint's training config");
  const std::vector<nn::LayerShape> shapes = nn::InferShapes(c.model);
  const char* losses[] = {"softmax_cross_entropy", "mse", "bce_with_logits"};
  const char* schedules[] = {"constant", "step", "cosine"};
  return {{"model", c.model.name},
          {"data", data.spec},
          {"input_shape", c.model.layers[0].shape},
          {"outputs", shapes[shapes.size() - 2].output[0]},
          {"loss", losses[static_cast<int>(c.model.layers.back().loss)]},
          {"optimizer", kernels::OptimizerName(config.optimizer)},
          {"learning_rate", config.learning_rate},
          {"momentum", config.hyper.momentum},
          {"nesterov", config.hyper.nesterov},
          {"beta1", config.hyper.beta1},
          {"beta2", config.hyper.beta2},
          {"epsilon", config.hyper.epsilon},
          {"weight_decay", config.hyper.weight_decay},
          {"batch_size", config.batch_size},
          {"epochs", config.epochs},
          {"seed", config.seed},
          {"shuffle", config.shuffle},
          {"schedule",
           {{"kind", schedules[static_cast<int>(config.schedule.kind)]},
            {"step_epochs", config.schedule.step_epochs},
            {"gamma", config.schedule.gamma},
            {"warmup_epochs", config.schedule.warmup_epochs},
            {"min_learning_rate", config.schedule.min_learning_rate}}}};
}

}  // namespace

std::string PytorchModelSource(const nn::ModelDesc& model) {
  RequireExportable(model, "PyTorch");
  const std::vector<nn::LayerShape> shapes = nn::InferShapes(model);
  std::string init, forward;
  for (size_t i = 1; i + 1 < model.layers.size(); ++i) {
    const nn::LayerDesc& layer = model.layers[i];
    const std::vector<uint32_t>& in = shapes[i - 1].output;
    const std::string name = Attribute(layer, i), self = "self." + name;
    std::string module;
    switch (layer.kind) {
      case nn::LayerKind::kInput: case nn::LayerKind::kLoss: break;
      case nn::LayerKind::kEmbedding: case nn::LayerKind::kLayerNorm: case nn::LayerKind::kTransformerBlock:
        break;  // refused by RequireExportable
      case nn::LayerKind::kFlatten: module = "nn.Flatten()"; break;
      case nn::LayerKind::kDense:
        module = "nn.Linear(" + std::to_string(nn::ShapeElements(in)) + ", " + std::to_string(layer.units) +
                 (layer.bias ? "" : ", bias=False") + ")";
        break;
      case nn::LayerKind::kConv2D: {
        const kernels::Conv2DGeometry g = nn::ConvGeometry(layer, in);
        const uint32_t bottom = std::max<int64_t>(0, int64_t(g.out_height - 1) * g.stride_h + g.kernel_height - g.in_height - g.pad_top);
        const uint32_t right = std::max<int64_t>(0, int64_t(g.out_width - 1) * g.stride_w + g.kernel_width - g.in_width - g.pad_left);
        std::string padding = Pair(g.pad_top, g.pad_left);
        if (bottom != g.pad_top || right != g.pad_left) {  // TensorFlow's 'same' with an odd total: pad first
          init += "        self." + name + "_pad = nn.ZeroPad2d((" + std::to_string(g.pad_left) + ", " +
                  std::to_string(right) + ", " + std::to_string(g.pad_top) + ", " + std::to_string(bottom) + "))\n";
          forward += "        x = self." + name + "_pad(x)\n";
          padding = "0";
        }
        module = "nn.Conv2d(" + std::to_string(g.in_channels) + ", " + std::to_string(g.out_channels) + ", " +
                 Pair(g.kernel_height, g.kernel_width) + ", stride=" + Pair(g.stride_h, g.stride_w) +
                 ", padding=" + padding + (layer.bias ? "" : ", bias=False") + ")";
        break;
      }
      case nn::LayerKind::kPool2D:
        module = std::string(layer.pool == kernels::PoolKind::kMax ? "nn.MaxPool2d(" : "nn.AvgPool2d(") +
                 Pair(layer.kernel[0], layer.kernel[1]) + ", stride=" + Pair(layer.stride[0], layer.stride[1]) +
                 ", padding=" + Pair(layer.pad[0], layer.pad[1]) +
                 (layer.pool == kernels::PoolKind::kMax ? ")" : ", count_include_pad=True)");
        break;
      case nn::LayerKind::kGlobalAvgPool: forward += "        x = x.mean(dim=(2, 3))  # " + name + "\n"; break;
      case nn::LayerKind::kDropout: module = "nn.Dropout(" + Float(layer.rate) + ")"; break;
      case nn::LayerKind::kBatchNorm:
        module = std::string(in.size() == 3 ? "nn.BatchNorm2d(" : "nn.BatchNorm1d(") + std::to_string(in[0]) +
                 ", eps=" + Float(layer.epsilon) + ", momentum=" + Float(layer.momentum) + ")";
        break;
      case nn::LayerKind::kActivation:
        switch (layer.activation) {
          case kernels::Activation::kIdentity: module = "nn.Identity()"; break;
          case kernels::Activation::kRelu: module = "nn.ReLU()"; break;
          case kernels::Activation::kLeakyRelu: module = "nn.LeakyReLU(" + Float(layer.leaky_slope) + ")"; break;
          case kernels::Activation::kSigmoid: module = "nn.Sigmoid()"; break;
          case kernels::Activation::kTanh: module = "nn.Tanh()"; break;
          case kernels::Activation::kGelu: module = "nn.GELU()"; break;
        }
        break;
    }
    if (module.empty()) continue;
    init += "        " + self + " = " + module + "\n";
    forward += "        x = " + self + "(x)\n";
  }
  const char* head = model.layers.back().loss == kernels::LossKind::kSoftmaxCrossEntropy ? "softmax over the classes"
                     : model.layers.back().loss == kernels::LossKind::kBinaryCrossEntropyWithLogits
                         ? "sigmoid of each output" : "the outputs themselves (mean squared error)";
  return "\"\"\"" + model.name + ", exported by Tensorscope: " + nn::ArchitectureSignature(model) +
         ".\n\nInputs are (batch, " + nn::ShapeString(model.layers[0].shape) +
         ") in PyTorch's layout (NCHW for images), as data/*_x.npy (or data_source.py) gives them.\n"
         "forward() returns the scores before the loss head; probabilities are the " + head + ".\n\"\"\"\n"
         "import json\nimport os\n\nimport numpy as np\nimport torch\nimport torch.nn as nn\n\n\n"
         "class Model(nn.Module):\n    def __init__(self):\n        super().__init__()\n" + init +
         "\n    def forward(self, x):\n" + forward + "        return x\n\n\n"
         "def load_weights(model, folder=os.path.dirname(os.path.abspath(__file__))):\n"
         "    \"\"\"Copies weights.bin (described by manifest.json) into `model`'s parameters and buffers.\"\"\"\n"
         "    with open(os.path.join(folder, \"manifest.json\")) as f:\n"
         "        manifest = json.load(f)\n"
         "    values = np.fromfile(os.path.join(folder, manifest[\"file\"]), dtype=\"<f4\")\n"
         "    state = {}\n"
         "    for t in manifest[\"tensors\"]:\n"
         "        first = t[\"offset\"] // 4\n"
         "        state[t[\"name\"]] = torch.from_numpy(values[first:first + t[\"count\"]].reshape(t[\"shape\"]).copy())\n"
         "    missing, unexpected = model.load_state_dict(state, strict=False)\n"
         "    missing = [m for m in missing if not m.endswith(\"num_batches_tracked\")]\n"
         "    if missing or unexpected:\n"
         "        raise ValueError(\"weights.bin does not fit the model: missing %s, unexpected %s\" % (missing, unexpected))\n"
         "    return model\n";
}

void ExportPytorch(const nn::Checkpoint& c, const ExportData& data, const std::string& folder) {
  RequireExportable(c.model, "PyTorch");  // before any file is written
  std::error_code error;
  fs::create_directories(fs::path(folder) / "data", error);
  if (error) throw Error(folder + ": cannot create the folder (" + error.message() + ").");
  const std::vector<NamedTensor> tensors = ToTorchLayout(c.model, c.parameters, c.statistics);

  std::string weights;
  nlohmann::json list = nlohmann::json::array();
  for (const NamedTensor& t : tensors) {
    const std::string attribute = Attribute(c.model.layers[t.layer], t.layer);
    const std::string name = attribute + t.name.substr(t.name.rfind('.'));
    list.push_back({{"name", name}, {"tensorscope_name", t.name}, {"shape", t.shape}, {"offset", weights.size()},
                    {"count", t.values.size()}});
    weights.append(reinterpret_cast<const char*>(t.values.data()), t.values.size() * 4);
  }
  // IDX files, CIFAR-10 batches and image folders are read from where they lie; other data is copied.
  const std::optional<data::DataFiles> files = data::FindDataFiles(data.spec);
  uint64_t data_bytes = 0;
  for (const data::Dataset* d : {data.train, data.validation, data.test})
    if (d) data_bytes += uint64_t(d->count()) * (d->feature_size() * 4 + 8);
  if (!files && data_bytes > kMaxExportedDataBytes)
    throw Error("the data (" + data.spec + ") would take " + std::to_string(data_bytes >> 20) + " MiB as numpy files; "
                "at most " + std::to_string(kMaxExportedDataBytes >> 20) + " MiB are copied. Export with a smaller --data.");

  WriteFileAtomically(folder + "/weights.bin", weights);
  WriteFileAtomically(folder + "/manifest.json",
                      DumpJson({{"file", "weights.bin"}, {"dtype", "float32"}, {"byte_order", "little"},
                                {"layouts", "PyTorch's: Linear (out, in), Conv2d (out, in, height, width)"},
                                {"tensors", list}}, folder + "/manifest.json") + "\n");
  WriteFileAtomically(folder + "/config.json", DumpJson(ConfigJson(c, data), folder + "/config.json") + "\n");
  WriteFileAtomically(folder + "/model.py", PytorchModelSource(c.model));
  WriteFileAtomically(folder + "/train.py", PytorchTrainScript());
  const std::vector<uint32_t>& input = c.model.layers[0].shape;
  RemoveStale(folder, files.has_value());
  if (files) {
    WriteDataSource(c, data, *files, folder);
  } else {
    if (data.train) WriteSplit(*data.train, input, folder, "train");
    if (data.validation && data.validation->count()) WriteSplit(*data.validation, input, folder, "validation");
    if (data.test && data.test->count()) WriteSplit(*data.test, input, folder, "test");
  }
  const std::string data_files =
      files ? "- `data/`: where the run's " + (files->format == "image_folder" ? std::string("image") : files->format) +
              " files lie (`source.json`), which of their samples `train`, `validation` and `test` hold "
              "(`*_index.npy`) and a hash of each sample's bytes (`*_hash.npy`); `data_source.py` reads them from there "
              "as the network sees them and says when a sample's bytes differ (numpy only" +
              (files->format == "image_folder" ? "; images decoded with Pillow or OpenCV" : "") + ").\n"
            : "- `data/`: `train`, `validation`, `test` as `*_x.npy` (float32, as the network sees them) and `*_y.npy`.\n";
  WriteFileAtomically(folder + "/README.md",
      "# " + c.model.name + " for PyTorch\n\nExported by Tensorscope (" + nn::ArchitectureSignature(c.model) +
      ") with its weights and the data `" + data.spec + "`.\n\n"
      "- `model.py`: the network as an `nn.Module` (NCHW), and `load_weights()`.\n"
      "- `weights.bin` + `manifest.json`: the weights (float32, little-endian; each tensor's state_dict name, shape "
      "and byte offset). `numpy.fromfile` reads them.\n"
      "- `config.json`: optimizer, learning rate, schedule, batch (global, over all processes), epochs, seed.\n"
      + data_files +
      "- `train.py`: the training loop, on one process or several (DistributedDataParallel).\n\n"
      "## Train\n\n```bash\npython3 train.py                      # one process\n"
      "python3 -m torch.distributed.run --standalone --nproc_per_node=2 --redirects 2 --tee 2 train.py   # 2 processes\n"
      "```\n\nThe second line works with Debian 12's PyTorch 1.13 (whose `torchrun` script fails there with "
      "'NoneType' object has no attribute 'get') and with current PyTorch (where `torchrun --standalone "
      "--nproc_per_node=2 train.py` is the same). GPUs use NCCL (one process per GPU), CPUs gloo. `--epochs N`, "
      "`--lr X`, `--batch B` (global) override config.json; `--metrics-csv FILE` logs every step as "
      "`tensorscope train --metrics-csv` does. Rank 0 logs and saves `trained.pt` (a state_dict) after every "
      "epoch. The global batch is split evenly over the processes, so a run on N processes takes the same steps "
      "as one process; batch norm's statistics are per process on CPUs (SyncBatchNorm on GPUs).\n");
}

}  // namespace ts::interop
