// Model JSON: ParseModel on any bytes, then the shapes and the JSON round trip.
#include "compute/nn/model.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ts::fuzz::Expect([&] {
    const ts::nn::ModelDesc model = ts::nn::ParseModel(std::string(reinterpret_cast<const char*>(data), size), "fuzz.json");
    ts::nn::InferShapes(model);
    ts::nn::ParseModel(ts::DumpJson(ts::nn::ModelToJson(model), "fuzz.json"), "again.json");
  });
  return 0;
}
