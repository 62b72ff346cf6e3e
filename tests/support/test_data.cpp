#include "support/test_data.h"

#include "support/vulkan_test.h"

namespace ts::testing {

nn::ModelDesc TestModel(const std::string& layers) {
  return nn::ParseModel(R"({"name": "test", "layers": [)" + layers + "]}", "test model");
}

data::Dataset RandomDataset(uint32_t count, uint32_t features, uint32_t classes, uint64_t salt) {
  auto rng = MakeRng(salt);
  data::Dataset d;
  d.name = "random";
  d.sample_shape = {features};
  d.num_classes = classes;
  d.features_f32 = RandomFloats(rng, size_t(count) * features, -1.5f, 1.5f);
  for (uint32_t i = 0; i < count; ++i) d.labels.push_back(static_cast<uint32_t>(rng() % classes));
  return d;
}

std::string EnglishLikeText() {
  const char* sentences[] = {"The quick brown fox jumps over the lazy dog. ",
                             "A small model learns which letter comes next. ",
                             "Attention looks back at every earlier position, never forward. ",
                             "Layers of normalisation keep the activations in range.\n",
                             "Kernels run on the device; the host only watches. "};
  std::string text;
  for (int i = 0; i < 60; ++i) text += sentences[(i * 7 + i / 5) % 5];
  return text;
}

}  // namespace ts::testing
