#include "compute/nn/checkpoint.h"

#include <cstring>

#include <zlib.h>

#include "compute/common/error.h"

namespace ts::nn {
namespace {

constexpr char kMagic[8] = {'T', 'S', 'C', 'K', 'P', 'T', '0', '1'};
constexpr uint32_t kVersion = 1;
constexpr uint32_t kHeaderBytes = 64;

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

}  // namespace

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
  std::string model = ModelToJson(c.model).dump();
  std::string config = c.config.dump();
  uint64_t p = c.parameters.size();
  uint64_t r = c.statistics.size();
  size_t size = kHeaderBytes + model.size() + config.size() + 4 * p * (1 + c.optimizer_state.size()) + 4 * r + 4;
  std::string out(size, '\0');
  std::memcpy(out.data(), kMagic, 8);
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
  size_t at = kHeaderBytes;
  std::memcpy(out.data() + at, model.data(), model.size());
  at += model.size();
  std::memcpy(out.data() + at, config.data(), config.size());
  at += config.size();
  std::memcpy(out.data() + at, c.parameters.data(), 4 * p);
  at += 4 * p;
  for (const std::vector<float>& state : c.optimizer_state) {
    if (state.size() != p) throw Error(path + ": optimizer state and parameters differ in size; not saved.");
    std::memcpy(out.data() + at, state.data(), 4 * p);
    at += 4 * p;
  }
  std::memcpy(out.data() + at, c.statistics.data(), 4 * r);
  at += 4 * r;
  Put<uint32_t>(out, at, Crc32(out.data(), at));
  WriteFileAtomically(path, out);
}

Checkpoint LoadCheckpoint(const std::string& path) {
  std::string in = ReadFile(path);
  auto fail = [&](const std::string& message) { throw Error(path + ": " + message); };
  if (in.size() < 8 || std::memcmp(in.data(), kMagic, 8) != 0)
    fail("not a Tensorscope checkpoint: bytes 0-7 should be \"TSCKPT01\", found \"" +
         std::string(in.data(), std::min<size_t>(in.size(), 8)) + "\".");
  if (in.size() < kHeaderBytes + 4)
    fail("truncated: the header needs " + std::to_string(kHeaderBytes + 4) + " bytes, the file has " +
         std::to_string(in.size()) + ".");
  uint32_t version = Get<uint32_t>(in, 8);
  if (version != kVersion)
    fail("byte 8: checkpoint format version " + std::to_string(version) + " is not supported (expected " +
         std::to_string(kVersion) + ").");
  uint64_t model_bytes = Get<uint64_t>(in, 16), config_bytes = Get<uint64_t>(in, 24), p = Get<uint64_t>(in, 32);
  uint32_t states = Get<uint32_t>(in, 40), statistics = Get<uint32_t>(in, 60);
  if (states > 2 || statistics > (1u << 28) || p > (uint64_t(1) << 34) || model_bytes > (uint64_t(1) << 30) || config_bytes > (uint64_t(1) << 30))
    fail("bytes 16-63: the header holds impossible sizes; the file is corrupt.");
  uint64_t expected = kHeaderBytes + model_bytes + config_bytes + 4 * p * (1 + uint64_t(states)) + 4 * uint64_t(statistics) + 4;
  if (in.size() != expected)
    fail(std::string(in.size() < expected ? "truncated" : "has extra bytes") + ": the header describes " +
         std::to_string(expected) + " bytes, the file has " + std::to_string(in.size()) + ".");
  uint32_t stored = Get<uint32_t>(in, in.size() - 4), computed = Crc32(in.data(), in.size() - 4);
  if (stored != computed)
    fail("checksum mismatch at byte " + std::to_string(in.size() - 4) + " (stored " + std::to_string(stored) +
         ", computed " + std::to_string(computed) + "): the file is corrupt.");

  Checkpoint c;
  size_t at = kHeaderBytes;
  c.model = ParseModel(in.substr(at, model_bytes), path + " (embedded model)");
  at += model_bytes;
  try {
    c.config = nlohmann::json::parse(in.substr(at, config_bytes));
  } catch (const nlohmann::json::parse_error& e) {
    fail("the embedded training config (from byte " + std::to_string(at) + ") is not valid JSON: " + e.what());
  }
  at += config_bytes;
  c.position = {Get<uint32_t>(in, 44), Get<uint32_t>(in, 56), Get<uint64_t>(in, 48)};
  c.parameters.resize(p);
  std::memcpy(c.parameters.data(), in.data() + at, 4 * p);
  at += 4 * p;
  for (uint32_t s = 0; s < states; ++s) {
    c.optimizer_state.emplace_back(p);
    std::memcpy(c.optimizer_state.back().data(), in.data() + at, 4 * p);
    at += 4 * p;
  }
  c.statistics.resize(statistics);
  std::memcpy(c.statistics.data(), in.data() + at, 4 * size_t(statistics));
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
  trainer.plan().WriteOptimizerState(c.optimizer_state);
  trainer.set_position(c.position);
}

}  // namespace ts::nn
