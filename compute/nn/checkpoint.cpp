#include "compute/nn/checkpoint.h"

#include <cstring>

#include <zlib.h>

#include "compute/common/error.h"
#include "compute/common/file_read.h"
#include "compute/common/json_read.h"
#include "compute/nn/tensor_table.h"
#include "compute/nn/train_config.h"

namespace ts::nn {
namespace {

constexpr uint32_t kVersion = 2;
constexpr uint32_t kHeaderBytes = 72;
constexpr uint32_t kVersion1HeaderBytes = 64;  // before the tensor table
constexpr uint64_t kDataAlignment = 64;        // the floats start at a multiple of this
// Header limits: what a checkpoint Tensorscope writes can hold, so a corrupt
// size is refused before it decides how much is read or allocated.
constexpr uint32_t kMaxStateTensors = 2;                              // Adam's two moments
constexpr uint64_t kMaxStatistics = uint64_t{1} << 28;                // batch norm's running mean and variance
constexpr uint64_t kMaxCheckpointBytes =
    kHeaderBytes + 3 * kMaxJsonFileBytes + 4 * kMaxModelParameters * (1 + kMaxStateTensors) + 4 * kMaxStatistics + 4;

template <typename T>
void Put(std::string& out, size_t at, T value) {
  std::memcpy(out.data() + at, &value, sizeof value);
}
template <typename T>
T Get(const std::string& in, size_t at) {
  T value;
  std::memcpy(&value, in.data() + at, sizeof value);
  return value;
}

// memcpy with a null pointer is undefined even for 0 bytes (an empty vector's data()).
void CopyBytes(void* to, const void* from, size_t bytes) {
  if (bytes > 0) std::memcpy(to, from, bytes);
}

uint32_t Crc32(const char* data, size_t size) {
  uLong crc = crc32(0L, Z_NULL, 0);
  while (size > 0) {  // zlib takes uInt lengths
    uInt chunk = static_cast<uInt>(std::min<size_t>(size, 1u << 30));
    crc = crc32(crc, reinterpret_cast<const Bytef*>(data), chunk);
    data += chunk;
    size -= chunk;
  }
  return static_cast<uint32_t>(crc);
}

// The table text padded with spaces so the floats after it start at a
// multiple of kDataAlignment: offsets depend on the table's own length, so
// the length is settled first (it only grows, so this ends in a few rounds).
std::string PaddedTensorTable(const Checkpoint& c, uint64_t table_start) {
  uint64_t table_bytes = 0;
  for (;;) {
    const uint64_t data_start = (table_start + table_bytes + kDataAlignment - 1) / kDataAlignment * kDataAlignment;
    std::string table = CheckpointTensorTable(c, data_start).dump();
    if (table_start + table.size() <= data_start) {
      table.resize(data_start - table_start, ' ');
      return table;
    }
    table_bytes = table.size();
  }
}

const char* const kStateSections[][2] = {{"optimizer.momentum_buffer", ""}, {"optimizer.exp_avg", "optimizer.exp_avg_sq"}};

// The stored table must be the one the file's model and sizes imply: a reader
// may trust its names and offsets.
void CheckTensorTable(const Checkpoint& c, const nlohmann::json& stored, uint64_t data_start, const std::string& source) {
  nlohmann::json expected;
  try {
    expected = CheckpointTensorTable(c, data_start);
  } catch (const Error& e) {
    throw Error(source + ": " + e.what());
  }
  if (!stored.is_object() || !stored.contains("tensors") || !stored["tensors"].is_array())
    throw Error(source + ": expected an object with a \"tensors\" list, found " + DescribeJson(stored) +
                "; the file is corrupt.");
  for (const char* key : {"format", "version", "dtype", "byte_order"})
    if (stored.value(key, nlohmann::json()) != expected[key])
      throw Error(source + ": \"" + key + "\": expected " + expected[key].dump() + ", found " +
                  DescribeJson(stored.value(key, nlohmann::json())) + ".");
  const nlohmann::json& found = stored["tensors"];
  const nlohmann::json& wanted = expected["tensors"];
  // Everything but the layout's wording, which a later version may phrase better.
  auto same = [](nlohmann::json a, nlohmann::json b) {
    if (a.is_object()) a.erase("layout");
    if (b.is_object()) b.erase("layout");
    return a == b;
  };
  for (size_t i = 0; i < std::max(found.size(), wanted.size()); ++i) {
    if (i < found.size() && i < wanted.size() && same(found[i], wanted[i])) continue;
    throw Error(source + ": tensors[" + std::to_string(i) + "]: expected " +
                (i < wanted.size() ? wanted[i].dump() : std::string("no entry")) + ", found " +
                (i < found.size() ? DescribeJson(found[i]) : std::string("no entry")) +
                " (the table must match the embedded model and the header); the file is corrupt.");
  }
}

}  // namespace

nlohmann::json CheckpointTensorTable(const Checkpoint& c, uint64_t data_start) {
  const std::vector<LayerShape> shapes = InferShapes(c.model);
  const ModelTensors tensors = ListModelTensors(c.model, shapes);
  uint64_t parameter_count = 0, statistic_count = 0;
  for (const ParameterTensor& t : tensors.parameters) parameter_count += t.count;
  for (const ParameterTensor& t : tensors.statistics) statistic_count += t.count;
  if (parameter_count != c.parameters.size() || statistic_count != c.statistics.size())
    throw Error("the checkpoint holds " + std::to_string(c.parameters.size()) + " parameters and " +
                std::to_string(c.statistics.size()) + " running statistics; its model has " +
                std::to_string(parameter_count) + " and " + std::to_string(statistic_count) + ".");
  if (c.optimizer_state.size() > 2) throw Error("a checkpoint holds at most 2 optimizer state tensors.");
  nlohmann::json list = nlohmann::json::array();
  uint64_t at = data_start;
  auto section = [&](const std::vector<ParameterTensor>& group, const std::string& name) {
    for (const ParameterTensor& t : group) {
      list.push_back({{"name", t.name}, {"section", name}, {"shape", t.shape},
                      {"layout", TensorLayout(c.model, shapes, t)}, {"offset", at}, {"count", t.count}});
      at += 4 * t.count;
    }
  };
  section(tensors.parameters, "parameters");
  for (size_t s = 0; s < c.optimizer_state.size(); ++s)
    section(tensors.parameters, kStateSections[c.optimizer_state.size() - 1][s]);
  section(tensors.statistics, "running_statistics");
  return {{"format", "tensorscope-tensor-table"}, {"version", 1}, {"dtype", "float32"}, {"byte_order", "little"},
          {"tensors", std::move(list)}};
}

std::string ArchitectureSignature(const ModelDesc& model) {
  std::string text;
  for (const LayerDesc& layer : model.layers) {
    if (!text.empty()) text += " > ";
    text += layer.TypeName();
    if (layer.kind == LayerKind::kInput) text.append(" ").append(ShapeString(layer.shape));
    if (layer.kind == LayerKind::kDense) text.append(" ").append(std::to_string(layer.units)).append(layer.bias ? "" : " (no bias)");
    if (layer.kind == LayerKind::kConv2D)
      text.append(" ").append(std::to_string(layer.filters)).append(" ")
          .append(std::to_string(layer.kernel[0])).append("x").append(std::to_string(layer.kernel[1]))
          .append(layer.bias ? "" : " (no bias)");
  }
  return text;
}

void SaveCheckpoint(const std::string& path, const Checkpoint& c) {
  std::string model = DumpJson(ModelToJson(c.model), path);
  std::string config = DumpJson(c.config, path);
  uint64_t p = c.parameters.size();
  uint64_t r = c.statistics.size();
  std::string table;
  try {
    table = PaddedTensorTable(c, kHeaderBytes + model.size() + config.size());
  } catch (const Error& e) {
    throw Error(path + ": " + e.what() + " Not saved.");
  }
  size_t size =
      kHeaderBytes + model.size() + config.size() + table.size() + 4 * p * (1 + c.optimizer_state.size()) + 4 * r + 4;
  std::string out(size, '\0');
  std::memcpy(out.data(), kCheckpointMagic, 8);
  Put<uint32_t>(out, 8, kVersion);
  Put<uint32_t>(out, 12, kHeaderBytes);
  Put<uint64_t>(out, 16, model.size());
  Put<uint64_t>(out, 24, config.size());
  Put<uint64_t>(out, 32, p);
  Put<uint32_t>(out, 40, static_cast<uint32_t>(c.optimizer_state.size()));
  Put<uint32_t>(out, 44, c.position.epoch);
  Put<uint64_t>(out, 48, c.position.global_step);
  Put<uint32_t>(out, 56, c.position.step_in_epoch);
  Put<uint32_t>(out, 60, static_cast<uint32_t>(r));
  Put<uint64_t>(out, 64, table.size());
  size_t at = kHeaderBytes;
  for (const std::string* text : {&model, &config, &table}) {
    CopyBytes(out.data() + at, text->data(), text->size());
    at += text->size();
  }
  CopyBytes(out.data() + at, c.parameters.data(), 4 * p);
  at += 4 * p;
  for (const std::vector<float>& state : c.optimizer_state) {
    if (state.size() != p) throw Error(path + ": optimizer state and parameters differ in size; not saved.");
    CopyBytes(out.data() + at, state.data(), 4 * p);
    at += 4 * p;
  }
  CopyBytes(out.data() + at, c.statistics.data(), 4 * r);
  at += 4 * r;
  Put<uint32_t>(out, at, Crc32(out.data(), at));
  WriteFileAtomically(path, out);
}

Checkpoint LoadCheckpoint(const std::string& path) {
  return ParseCheckpoint(ReadRegularFile(path, kMaxCheckpointBytes, "a Tensorscope checkpoint"), path);
}

Checkpoint ParseCheckpoint(const std::string& in, const std::string& path) {
  auto fail = [&](const std::string& message) { throw Error(path + ": " + message); };
  if (in.size() < 8 || std::memcmp(in.data(), kCheckpointMagic, 8) != 0)
    fail("not a Tensorscope checkpoint: bytes 0-7 should be \"TSCKPT01\", found " +
         DescribeJson(nlohmann::json(std::string(in.data(), std::min<size_t>(in.size(), 8)))) + ".");
  if (in.size() < 16)
    fail("truncated: the header needs at least 16 bytes, the file has " + std::to_string(in.size()) + ".");
  // Every header field is checked before it is used, each by its byte offset.
  auto field = [&](const char* bytes, const std::string& what, uint64_t value, uint64_t limit) {
    if (value > limit)
      fail(std::string("bytes ") + bytes + " (" + what + "): found " + std::to_string(value) + ", at most " +
           std::to_string(limit) + " is possible; the file is corrupt.");
  };
  const uint32_t version = Get<uint32_t>(in, 8);
  if (version != 1 && version != kVersion)
    fail("byte 8: checkpoint format version " + std::to_string(version) + " is not supported (expected 1 or " +
         std::to_string(kVersion) + ").");
  const uint32_t expected_header = version == 1 ? kVersion1HeaderBytes : kHeaderBytes;
  const uint32_t header_bytes = Get<uint32_t>(in, 12);
  if (header_bytes != expected_header)
    fail("bytes 12-15 (header size): expected " + std::to_string(expected_header) + " for version " +
         std::to_string(version) + ", found " + std::to_string(header_bytes) + "; the file is corrupt.");
  if (in.size() < expected_header + 4)
    fail("truncated: the header needs " + std::to_string(expected_header + 4) + " bytes, the file has " +
         std::to_string(in.size()) + ".");
  const uint64_t model_bytes = Get<uint64_t>(in, 16), config_bytes = Get<uint64_t>(in, 24), p = Get<uint64_t>(in, 32);
  const uint32_t states = Get<uint32_t>(in, 40), statistics = Get<uint32_t>(in, 60);
  const uint64_t table_bytes = version == 1 ? 0 : Get<uint64_t>(in, 64);
  field("16-23", "model JSON size", model_bytes, kMaxJsonFileBytes);
  field("24-31", "training config JSON size", config_bytes, kMaxJsonFileBytes);
  field("32-39", "parameter count", p, kMaxModelParameters);
  field("40-43", "optimizer state tensors", states, kMaxStateTensors);
  field("60-63", "running statistics count", statistics, kMaxStatistics);
  field("64-71", "tensor table JSON size", table_bytes, kMaxJsonFileBytes);
  const uint64_t expected = expected_header + model_bytes + config_bytes + table_bytes +
                            4 * p * (1 + uint64_t(states)) + 4 * uint64_t(statistics) + 4;
  if (in.size() != expected)
    fail(std::string(in.size() < expected ? "truncated" : "has extra bytes") + ": the header describes " +
         std::to_string(expected) + " bytes, the file has " + std::to_string(in.size()) + ".");
  uint32_t stored = Get<uint32_t>(in, in.size() - 4), computed = Crc32(in.data(), in.size() - 4);
  if (stored != computed)
    fail("checksum mismatch at byte " + std::to_string(in.size() - 4) + " (stored " + std::to_string(stored) +
         ", computed " + std::to_string(computed) + "): the file is corrupt.");

  Checkpoint c;
  size_t at = expected_header;
  c.model = ParseModel(in.substr(at, model_bytes), path + " (embedded model, from byte " + std::to_string(at) + ")");
  at += model_bytes;
  const std::string config_source = path + " (embedded training config, from byte " + std::to_string(at) + ")";
  c.config = ParseJson(std::string_view(in).substr(at, config_bytes), config_source);
  // The same rules as a model file's training section, so every reader of a
  // checkpoint (train --resume, eval) accepts and refuses the same files.
  const TrainConfig config = ParseTrainConfig(c.config, config_source);
  at += config_bytes;
  const size_t table_at = at;
  const nlohmann::json table = version == 1 ? nlohmann::json() :
      ParseJson(std::string_view(in).substr(at, table_bytes), path + " (tensor table, from byte " + std::to_string(at) + ")");
  at += table_bytes;
  c.position = {Get<uint32_t>(in, 44), Get<uint32_t>(in, 56), Get<uint64_t>(in, 48)};
  field("44-47", "epochs completed; the embedded config trains " + std::to_string(config.epochs), c.position.epoch,
        config.epochs);
  field("56-59", "step in the epoch; no more than the global step " + std::to_string(c.position.global_step),
        c.position.step_in_epoch, c.position.global_step);
  if (c.position.global_step < uint64_t(c.position.epoch) + c.position.step_in_epoch)
    fail("bytes 48-55 (global step): found " + std::to_string(c.position.global_step) + ", fewer than the " +
         std::to_string(c.position.epoch) + " completed epochs (each at least one step) and " +
         std::to_string(c.position.step_in_epoch) + " steps of this one; the file is corrupt.");
  if (states != kernels::OptimizerStateCount(config.optimizer))
    fail("bytes 40-43 (optimizer state tensors): found " + std::to_string(states) + ", but the embedded config's " +
         kernels::OptimizerName(config.optimizer) + " keeps " +
         std::to_string(kernels::OptimizerStateCount(config.optimizer)) + "; the file is corrupt.");
  c.parameters.resize(p);
  CopyBytes(c.parameters.data(), in.data() + at, 4 * p);
  at += 4 * p;
  for (uint32_t s = 0; s < states; ++s) {
    c.optimizer_state.emplace_back(p);
    CopyBytes(c.optimizer_state.back().data(), in.data() + at, 4 * p);
    at += 4 * p;
  }
  c.statistics.resize(statistics);
  CopyBytes(c.statistics.data(), in.data() + at, 4 * size_t(statistics));
  if (version != 1) CheckTensorTable(c, table, table_at + table_bytes, path + " (tensor table, from byte " +
                                                                          std::to_string(table_at) + ")");
  return c;
}

Checkpoint CaptureCheckpoint(const Trainer& trainer) {
  Checkpoint c;
  c.model = trainer.plan().model();
  c.config = TrainConfigToJson(trainer.config());
  c.position = trainer.position();
  c.parameters = trainer.plan().ReadParameters();
  c.optimizer_state = trainer.plan().ReadOptimizerState();
  c.statistics = trainer.plan().ReadStatistics();
  return c;
}

void RestoreParameters(Plan& plan, const Checkpoint& c, const std::string& source) {
  std::string saved = ArchitectureSignature(c.model), wanted = ArchitectureSignature(plan.model());
  if (saved != wanted)
    throw Error(source + ": this checkpoint is for another model.\n  checkpoint: " + saved + "\n  this model: " + wanted);
  if (c.parameters.size() != plan.parameter_count())
    throw Error(source + ": holds " + std::to_string(c.parameters.size()) + " parameters; the model has " +
                std::to_string(plan.parameter_count()) + ".");
  plan.WriteParameters(c.parameters);
  uint64_t statistics = 0;
  for (const ParameterTensor& t : plan.statistics()) statistics += t.count;
  if (c.statistics.size() != statistics)
    throw Error(source + ": holds " + std::to_string(c.statistics.size()) + " running statistics; the model has " +
                std::to_string(statistics) + ".");
  if (statistics) plan.WriteStatistics(c.statistics);
}

void RestoreCheckpoint(Trainer& trainer, const Checkpoint& c, const std::string& source) {
  RestoreParameters(trainer.plan(), c, source);
  size_t wanted = kernels::OptimizerStateCount(trainer.config().optimizer);
  if (c.optimizer_state.size() != wanted)
    throw Error(source + ": holds " + std::to_string(c.optimizer_state.size()) + " optimizer state tensor(s), but " +
                kernels::OptimizerName(trainer.config().optimizer) + " keeps " + std::to_string(wanted) +
                ". Resume with the optimizer the checkpoint was trained with (" +
                c.config.value("optimizer", std::string("unknown")) + ").");
  if (c.position.step_in_epoch >= std::max(trainer.steps_per_epoch(), 1u))
    throw Error(source + ": stopped at step " + std::to_string(c.position.step_in_epoch) + " of an epoch, but an epoch "
                "of this data and batch size has " + std::to_string(trainer.steps_per_epoch()) +
                " steps. Resume with the data and batch size the checkpoint was trained with.");
  trainer.plan().WriteOptimizerState(c.optimizer_state);
  trainer.set_position(c.position);
}

}  // namespace ts::nn
