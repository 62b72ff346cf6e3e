// IDX images and labels, raw or gzipped: the input is a 4-byte little-endian
// length n, the images file's n bytes, then the labels file.
#include <cstring>

#include "compute/data/idx.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  uint32_t images_size;
  std::memcpy(&images_size, data, 4);
  images_size = static_cast<uint32_t>(std::min<size_t>(images_size, size - 4));
  const std::string images = ts::fuzz::WriteScratch("images", data + 4, images_size);
  const std::string labels = ts::fuzz::WriteScratch("labels", data + 4 + images_size, size - 4 - images_size);
  ts::fuzz::Expect([&] { ts::data::LoadIdx(images, labels); });
  return 0;
}
