#include "ui/widgets/image_tile.h"

#include <algorithm>

namespace ts::ui {

void DrawPixels(ImDrawList* draw, ImVec2 corner, uint32_t height, uint32_t width, uint32_t channels, float cell,
                const std::function<float(uint32_t y, uint32_t x, uint32_t c)>& value) {
  auto colour_at = [&](uint32_t y, uint32_t x) -> ImU32 {
    auto level = [&](uint32_t c) { return static_cast<int>(255.0f * std::clamp(value(y, x, c), 0.0f, 1.0f) + 0.5f); };
    if (channels == 3) return IM_COL32(level(0), level(1), level(2), 255);
    int grey = level(0);
    return IM_COL32(grey, grey, grey, 255);
  };
  draw->AddRectFilled(corner, ImVec2(corner.x + width * cell, corner.y + height * cell), IM_COL32(0, 0, 0, 255));
  for (uint32_t y = 0; y < height; ++y) {
    uint32_t x = 0;
    while (x < width) {
      ImU32 colour = colour_at(y, x);
      uint32_t end = x + 1;
      while (end < width && colour_at(y, end) == colour) ++end;
      if (colour != IM_COL32(0, 0, 0, 255))
        draw->AddRectFilled(ImVec2(corner.x + x * cell, corner.y + y * cell),
                            ImVec2(corner.x + end * cell, corner.y + (y + 1) * cell), colour);
      x = end;
    }
  }
}

bool IsImageDataset(const data::Dataset& dataset) { return dataset.sample_shape.size() == 3; }

ImVec2 DrawImageTile(ImDrawList* draw, ImVec2 corner, const data::Dataset& dataset, size_t index, float cell) {
  if (!IsImageDataset(dataset) || index >= dataset.count()) return ImVec2(0, 0);
  const uint32_t channels = dataset.sample_shape[0], height = dataset.sample_shape[1], width = dataset.sample_shape[2];
  const size_t base = index * dataset.feature_size();
  if (dataset.format == data::FeatureFormat::kUint8) {
    const uint8_t* pixels = dataset.features_u8.data() + base;
    DrawPixels(draw, corner, height, width, channels, cell, [&](uint32_t y, uint32_t x, uint32_t c) {
      return pixels[(size_t(y) * width + x) * channels + c] / 255.0f;
    });
  } else {
    DrawPixels(draw, corner, height, width, channels, cell, [&](uint32_t y, uint32_t x, uint32_t c) {
      return dataset.normalized(index, (size_t(y) * width + x) * channels + c);
    });
  }
  return ImVec2(width * cell, height * cell);
}

}  // namespace ts::ui
