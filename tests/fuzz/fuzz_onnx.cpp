// ONNX import: ImportOnnx on any bytes (protobuf's parser, then the chain of
// nodes), and a model that imports exported again and imported back.
#include "compute/interop/onnx_export.h"
#include "compute/interop/onnx_import.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ts::fuzz::Expect([&] {
    const ts::interop::ImportedModel imported =
        ts::interop::ImportOnnx(std::string(reinterpret_cast<const char*>(data), size), "fuzz.onnx");
    const std::string again = ts::interop::ExportOnnx(imported.model, imported.parameters, imported.statistics);
    ts::interop::ImportOnnx(again, "again.onnx");
  });
  return 0;
}
