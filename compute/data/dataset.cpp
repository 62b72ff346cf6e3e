#include "compute/data/dataset.h"

#include <cassert>

namespace ts::data {

size_t Dataset::feature_size() const {
  // A dataset without a shape has no features (not one scalar feature).
  if (sample_shape.empty()) return 0;
  size_t size = 1;
  for (uint32_t extent : sample_shape) size *= extent;
  return size;
}

float Dataset::normalized(size_t i, size_t j) const {
  const size_t row_size = feature_size();
  assert(i < count() && j < row_size);
  const size_t index = i * row_size + j;
  const float raw = format == FeatureFormat::kUint8 ? static_cast<float>(features_u8[index])
                                                    : features_f32[index];
  return raw * scale + offset;
}

}  // namespace ts::data
