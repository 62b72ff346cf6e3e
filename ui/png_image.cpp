#include "ui/png_image.h"

// The implementation comes from Debian's libstb (libstb-dev), which Debian's
// libimgui.a needs anyway for stb_truetype and stb_rect_pack.
#include <stb/stb_image_write.h>

#include <algorithm>

#include "compute/common/error.h"
#include "compute/common/file_write.h"

namespace ts::ui {

std::string EncodePngRegion(const std::vector<uint8_t>& rgba, int width, int height, PixelRect region) {
  if (width <= 0 || height <= 0 || rgba.size() != size_t(width) * size_t(height) * 4)
    throw Error("a PNG of " + std::to_string(width) + "x" + std::to_string(height) + " pixels needs " +
                std::to_string(std::max(0L, long(width) * height * 4)) + " bytes of RGBA, found " +
                std::to_string(rgba.size()) + ".");
  const int x0 = std::max(region.x, 0), y0 = std::max(region.y, 0);
  const int x1 = static_cast<int>(std::min<int64_t>(int64_t{region.x} + region.width, width));
  const int y1 = static_cast<int>(std::min<int64_t>(int64_t{region.y} + region.height, height));
  if (x1 <= x0 || y1 <= y0)
    throw Error("the region " + std::to_string(region.width) + "x" + std::to_string(region.height) + " at (" +
                std::to_string(region.x) + ", " + std::to_string(region.y) + ") lies outside the " +
                std::to_string(width) + "x" + std::to_string(height) + " frame.");
  std::string png;
  const auto append = [](void* context, void* data, int size) {
    static_cast<std::string*>(context)->append(static_cast<const char*>(data), static_cast<size_t>(size));
  };
  const uint8_t* first = rgba.data() + (size_t(y0) * size_t(width) + size_t(x0)) * 4;
  if (stbi_write_png_to_func(append, &png, x1 - x0, y1 - y0, 4, first, width * 4) == 0 || png.empty())
    throw Error("stb_image_write could not encode a " + std::to_string(x1 - x0) + "x" + std::to_string(y1 - y0) +
                " PNG.");
  return png;
}

void SavePngRegion(const std::string& path, const std::vector<uint8_t>& rgba, int width, int height, PixelRect region) {
  WriteFileAtomically(path, EncodePngRegion(rgba, width, height, region));
}

}  // namespace ts::ui
