// A training section: ParseJson then ParseTrainConfig, and the JSON round trip.
#include "compute/common/json_read.h"
#include "compute/nn/train_config.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ts::fuzz::Expect([&] {
    const nlohmann::json section = ts::ParseJson(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.json");
    const ts::nn::TrainConfig config = ts::nn::ParseTrainConfig(section, "fuzz.json: training");
    ts::nn::ParseTrainConfig(ts::ParseJson(ts::DumpJson(ts::nn::TrainConfigToJson(config), "x"), "x"), "again");
  });
  return 0;
}
