#include "ui/widgets/image_tile.h"

#include <algorithm>
#include <cmath>

#include "ui/widgets/value_tiles.h"

namespace ts::ui {

bool IsImageDataset(const data::Dataset& dataset) { return dataset.sample_shape.size() == 3; }

ImVec2 DrawImageTile(ImDrawList* draw, ImVec2 corner, const data::Dataset& dataset, size_t index, float cell,
                     uint32_t step) {
  if (!IsImageDataset(dataset) || index >= dataset.count()) return ImVec2(0, 0);
  step = std::max(step, 1u);
  const uint32_t channels = dataset.sample_shape[0], height = dataset.sample_shape[1], width = dataset.sample_shape[2];
  const size_t base = index * dataset.feature_size();
  auto value = [&](uint32_t y, uint32_t x, uint32_t c) {
    const size_t j = base + (size_t(y) * width + x) * channels + c;
    return dataset.format == data::FeatureFormat::kUint8 ? dataset.features_u8[j] / 255.0f
                                                          : dataset.normalized(index, j - base);
  };
  auto block = [&](uint32_t by, uint32_t bx, uint32_t c) {
    float sum = 0;
    uint32_t n = 0;
    for (uint32_t y = by * step; y < std::min(height, (by + 1) * step); ++y)
      for (uint32_t x = bx * step; x < std::min(width, (bx + 1) * step); ++x) sum += value(y, x, c), ++n;
    return sum / float(n);
  };
  const uint32_t rows = (height + step - 1) / step, columns = (width + step - 1) / step;
  DrawValueTile(draw, corner, rows, columns, cell * step, IM_COL32(0, 0, 0, 255), [&](uint32_t y, uint32_t x) -> ImU32 {
    if (channels != 3) return GreyColor(block(y, x, 0));
    auto level = [&](uint32_t c) {
      return static_cast<int>(std::round(std::clamp(block(y, x, c), 0.0f, 1.0f) * (kTileColorLevels - 1)) * 255 /
                              (kTileColorLevels - 1));
    };
    return IM_COL32(level(0), level(1), level(2), 255);
  });
  return ImVec2(columns * cell * step, rows * cell * step);
}

}  // namespace ts::ui
