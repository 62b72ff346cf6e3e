// Datasets: samples held in host memory in the compact form they are uploaded
// to the device in (uint8 for images, float32 otherwise), plus labels.
//
// Normalisation is part of the dataset, not of the model: the value a network
// sees for raw feature x is `x * scale + offset`, applied on the device when a
// batch is gathered. uint8 storage keeps MNIST-sized sets (60000 x 784) at 47 MB,
// well inside maxStorageBufferRange (128 MiB on lavapipe); float32 would not be.
//
// Labels are class indices in [0, num_classes). One-hot encoding is never stored:
// the loss kernels expand a label on the fly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ts::data {

enum class FeatureFormat { kFloat32, kUint8 };

struct Dataset {
  std::string name;                     // e.g. "spiral", "mnist:train", "iris.csv"
  std::vector<uint32_t> sample_shape;   // e.g. {2} for 2D points, {1, 28, 28} for images
  uint32_t num_classes = 0;             // number of classes (labels are < num_classes)
  std::vector<std::string> class_names; // optional, num_classes entries when present
  FeatureFormat format = FeatureFormat::kFloat32;
  std::vector<float> features_f32;      // (count, feature_size) row-major when kFloat32
  std::vector<uint8_t> features_u8;     // (count, feature_size) row-major when kUint8
  float scale = 1.0f;                   // normalised = raw * scale + offset
  float offset = 0.0f;
  std::vector<uint32_t> labels;         // (count * labels_per_sample)
  // Labels of each sample: 1, or a sequence's length (text: the next
  // character at every position, see text.h).
  uint32_t labels_per_sample = 1;

  size_t count() const { return labels.size() / labels_per_sample; }
  size_t feature_size() const;          // product of sample_shape
  // The normalised value of feature j of sample i (what the network sees).
  float normalized(size_t i, size_t j) const;
};

}  // namespace ts::data
