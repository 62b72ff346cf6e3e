// A CIFAR-10 binary batch file, raw or gzipped.
#include "compute/data/cifar.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = ts::fuzz::WriteScratch("data_batch_1.bin", data, size);
  ts::fuzz::Expect([&] { ts::data::LoadCifar10Batches({path}, "fuzz"); });
  return 0;
}
