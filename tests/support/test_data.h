// Test support: small models written inline and random datasets.
#pragma once

#include <cstdint>
#include <string>

#include "compute/data/dataset.h"
#include "compute/nn/model.h"

namespace ts::testing {

// A model named "test" from the JSON of its layers, e.g.
// R"({"type": "input", "shape": [2]}, {"type": "dense", "units": 3}, {"type": "mse"})".
nn::ModelDesc TestModel(const std::string& layers);

// `count` samples of `features` floats in [-1.5, 1.5] with labels below
// `classes`, the same for the same test, salt and arguments (see MakeRng).
data::Dataset RandomDataset(uint32_t count, uint32_t features, uint32_t classes, uint64_t salt = 0);

// Varied English-like text for sequence models: about 3 KB of five
// sentences in a fixed order, ~35 distinct characters (no '~').
std::string EnglishLikeText();

}  // namespace ts::testing
