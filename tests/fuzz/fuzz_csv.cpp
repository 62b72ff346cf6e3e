// CSV files, plain or gzipped (an input starting 1f 8b is gzip).
#include "compute/data/csv.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = ts::fuzz::WriteScratch("data.csv", data, size);
  ts::fuzz::Expect([&] { ts::data::LoadCsv(path); });
  return 0;
}
