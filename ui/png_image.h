// PNG files of what the window shows: the whole frame (F12, SIGUSR1) or one
// chart's part of it (a chart's Save as PNG...), encoded in memory and saved
// atomically (WriteFileAtomically), so a failed save never leaves half a file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ts::ui {

// A rectangle of pixels: columns [x, x + width), rows [y, y + height).
struct PixelRect {
  int x = 0, y = 0, width = 0, height = 0;
};

// The part `region` of an RGBA image (`width` x `height`, 4 bytes a pixel, rows
// top down) as PNG file bytes; `region` is clipped to the image first. Throws
// ts::Error when nothing of it lies in the image or the PNG cannot be encoded.
std::string EncodePngRegion(const std::vector<uint8_t>& rgba, int width, int height, PixelRect region);

// EncodePngRegion, then WriteFileAtomically to `path` (throws ts::Error naming it).
void SavePngRegion(const std::string& path, const std::vector<uint8_t>& rgba, int width, int height, PixelRect region);

}  // namespace ts::ui
