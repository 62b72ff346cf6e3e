// "shapes": a built-in image classification set that needs no download, for
// trying convolutional networks. Each image shows one anti-aliased shape on a
// plain background with additive, approximately gaussian noise:
//
//   0 circle            filled disc
//   1 square            filled, any rotation
//   2 triangle          filled equilateral, any rotation
//   3 cross             plus sign, any rotation (so also an X)
//   4 horizontal bars   2 or 3 parallel bars, tilted at most 10 degrees
//   5 vertical bars     the same, upright
//   6 ring              annulus
//   7 diagonal line     one thick line at 45 degrees either way, +-10 degrees
//
// Position, size, rotation, foreground and background intensity (colour, for
// RGB) and noise all vary, so no fixed pixel template fits a class: a small
// CNN learns the set to high accuracy while a linear model on raw pixels does
// markedly worse. Below a size of about 16 pixels the shapes get hard to tell apart.
//
// Generation is deterministic for a seed with any standard library (raw
// std::mt19937_64 output with hand-written transforms, as in synthetic.h; the
// noise is a scaled sum of four uniforms, gaussian up to its 3.5-sigma tails),
// and fast: 10000 28x28 images take about 0.1 s on one core.
// A test set should use another seed (the registry uses seed + 1).
//
// Features are uint8, HWC-interleaved like every image set (see cifar.h), with
// sample_shape {channels, size, size}, scale = 1/255 and offset = 0. Sample i
// has label i % classes, so classes are balanced (counts differ by at most one)
// and every prefix of the set is too.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "compute/data/dataset.h"

namespace ts::data {

inline constexpr std::array<std::string_view, 8> kShapeClassNames{
    "circle", "square", "triangle", "cross", "horizontal bars", "vertical bars", "ring", "diagonal line"};

struct ShapesOptions {
  uint32_t samples = 10000;   // total, over all classes
  uint32_t classes = 8;       // 2 .. 8: the first `classes` shapes above
  uint32_t size = 28;         // images are size x size pixels, 8 .. 256
  uint32_t channels = 1;      // 1 (gray) or 3 (RGB: random foreground and background colours)
  double noise = 0.08;        // std-dev of the additive noise, as a fraction of full scale
  uint64_t seed = 1;
};

// Generates the set; Dataset::name is "shapes" and class_names the shape names.
// Throws ts::Error naming the option for values out of range.
Dataset MakeShapes(const ShapesOptions& options);

// Parses "shapes[:key=value,...]" with keys samples, classes, size, channels,
// noise and seed, e.g. "shapes:samples=2000,size=32,channels=3". Unset keys
// keep their defaults. Throws ts::Error for another name, an unknown or
// repeated key, or a malformed number; range checks are left to MakeShapes.
ShapesOptions ParseShapesSpec(std::string_view spec);

}  // namespace ts::data
