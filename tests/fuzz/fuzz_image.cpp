// PNG, JPEG and BMP through the image-folder path: a folder with one class
// holding the input, loaded as stored and resized to 8 x 8 (the header checks,
// stb_image's decoding, channel conversion and ResizeImage).
#include "compute/data/image_folder.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = ts::fuzz::WriteScratch("images/a/input.png", data, size);
  const std::string folder = ts::fuzz::ScratchPath("images");
  ts::fuzz::Expect([&] { ts::data::LoadImageFolder(folder); });
  ts::data::ImageFolderOptions resized;
  resized.width = resized.height = 8;
  ts::fuzz::Expect([&] { ts::data::LoadImageFolder(folder, resized); });
  return 0;
}
