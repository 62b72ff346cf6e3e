// Built-in 2D classification sets (the TensorFlow-Playground / CS231n kind),
// generated deterministically from a seed: the same options give bit-identical
// data with any standard library, because the generators use std::mt19937_64
// with their own uniform and Box-Muller transforms rather than the
// implementation-defined std::*_distribution classes.
//
// Every set has sample_shape {2}, float32 features in roughly [-1, 1], and
// class_names "class 0", "class 1", .... Sample i belongs to class
// i % classes, so classes are balanced (counts differ by at most one).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "compute/data/dataset.h"

namespace ts::data {

enum class SyntheticKind {
  kSpiral,   // `classes` arms winding out from the centre; noise jitters the angle (radians)
  kCircles,  // one concentric ring per class, radii 1/classes .. 1
  kXor,      // 4 quadrants, 2 classes: label 0 where x*y > 0
  kBlobs,    // a gaussian blob per class, centres evenly spaced on a circle of radius 0.6
  kMoons,    // two interleaving half-circles (2 classes only)
};

struct SyntheticOptions {
  SyntheticKind kind = SyntheticKind::kSpiral;
  uint32_t samples = 600;  // total, over all classes
  uint32_t classes = 0;    // 0: the kind's default (3 for spiral and blobs, 2 otherwise)
  double noise = 0.1;      // std-dev of gaussian noise added to each coordinate (spiral: to the angle)
  uint64_t seed = 1;
};

// "spiral", "circles", "xor", "blobs", "moons".
std::string_view SyntheticKindName(SyntheticKind kind);
// The kind named `name`, or nullopt when there is none.
std::optional<SyntheticKind> ParseSyntheticKind(std::string_view name);

// Generates the set; Dataset::name is the kind's name. Throws ts::Error when the
// options are invalid (fewer than 2 classes, fewer samples than classes, negative
// noise, more than 2 classes for xor or moons, ...).
Dataset MakeSynthetic(const SyntheticOptions& options);

// Parses "kind[:key=value,...]" with keys samples, classes, noise and seed, e.g.
// "spiral:samples=600,classes=3,noise=0.2,seed=1". Unset keys keep their
// defaults. Throws ts::Error for an unknown kind or key, a repeated key, or a
// value that is not a number of the right kind. Range checks are left to
// MakeSynthetic.
SyntheticOptions ParseSyntheticSpec(std::string_view spec);

}  // namespace ts::data
