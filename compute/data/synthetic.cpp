#include "compute/data/synthetic.h"

#include <array>
#include <cmath>
#include <cstdio>
#include <random>
#include <set>

#include "compute/common/error.h"
#include "compute/data/spec_options.h"

namespace ts::data {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr uint32_t kMaxSamples = 10'000'000;  // 80 MB of float32 points
constexpr uint32_t kMaxClasses = 64;          // beyond this the 2D sets are unreadable
constexpr double kSpiralSweep = 4.0;          // radians each arm turns through, as in CS231n

constexpr std::array<std::pair<SyntheticKind, std::string_view>, 5> kKindNames{{
    {SyntheticKind::kSpiral, "spiral"},
    {SyntheticKind::kCircles, "circles"},
    {SyntheticKind::kXor, "xor"},
    {SyntheticKind::kBlobs, "blobs"},
    {SyntheticKind::kMoons, "moons"},
}};

// Uniform and gaussian draws computed from the raw engine output, so results
// do not depend on the standard library's distribution implementations.
class Random {
 public:
  explicit Random(uint64_t seed) : engine_(seed) {}
  double Uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }  // [0, 1)
  double Uniform(double low, double high) { return low + (high - low) * Uniform(); }
  double Normal() {  // Box-Muller; one value per pair keeps the sequence simple
    const double u1 = 1.0 - Uniform();  // (0, 1], so the log is finite
    const double u2 = Uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * kPi * u2);
  }

 private:
  std::mt19937_64 engine_;
};

struct Point {
  double x, y;
};

std::string FormatNumber(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", value);
  return text;
}

uint32_t DefaultClasses(SyntheticKind kind) {
  return kind == SyntheticKind::kSpiral || kind == SyntheticKind::kBlobs ? 3 : 2;
}

// The point for the `index`-th of `class_size` samples of class `label`.
Point GeneratePoint(SyntheticKind kind, Random& random, uint32_t label, uint32_t classes, uint32_t index,
                    uint32_t class_size, double noise) {
  const double class_angle = 2.0 * kPi * label / classes;
  switch (kind) {
    case SyntheticKind::kSpiral: {
      // Radius grows linearly along the arm; the arms are rotated copies, so
      // they never cross (except near the centre, where noise blurs them).
      const double radius = static_cast<double>(index + 1) / class_size;
      const double angle = kSpiralSweep * radius + class_angle + noise * random.Normal();
      return {radius * std::sin(angle), radius * std::cos(angle)};
    }
    case SyntheticKind::kCircles: {
      const double radius = static_cast<double>(label + 1) / classes;
      const double angle = random.Uniform(0.0, 2.0 * kPi);
      return {radius * std::cos(angle) + noise * random.Normal(), radius * std::sin(angle) + noise * random.Normal()};
    }
    case SyntheticKind::kXor: {
      // Class 0 in quadrants 1 and 3, class 1 in 2 and 4; a small gap along the
      // axes (as in the Playground) keeps the noiseless set separable.
      const double sign_x = random.Uniform() < 0.5 ? -1.0 : 1.0;
      const double sign_y = label == 0 ? sign_x : -sign_x;
      const double x = sign_x * random.Uniform(0.05, 1.0);
      const double y = sign_y * random.Uniform(0.05, 1.0);
      return {x + noise * random.Normal(), y + noise * random.Normal()};
    }
    case SyntheticKind::kBlobs:
      return {0.6 * std::cos(class_angle) + noise * random.Normal(),
              0.6 * std::sin(class_angle) + noise * random.Normal()};
    case SyntheticKind::kMoons: {
      // sklearn's make_moons (x in [-1, 2], y in [-0.5, 1]) mapped onto [-1, 1] x [-0.5, 0.5].
      const double t = random.Uniform(0.0, kPi);
      const Point moon = label == 0 ? Point{std::cos(t), std::sin(t)} : Point{1.0 - std::cos(t), 0.5 - std::sin(t)};
      return {(moon.x - 0.5) / 1.5 + noise * random.Normal(), (moon.y - 0.25) / 1.5 + noise * random.Normal()};
    }
  }
  return {0.0, 0.0};
}

void ValidateOptions(const SyntheticOptions& options, uint32_t classes) {
  const std::string prefix = "synthetic " + std::string(SyntheticKindName(options.kind)) + " data: ";
  const bool two_class_only = options.kind == SyntheticKind::kXor || options.kind == SyntheticKind::kMoons;
  if (two_class_only && classes != 2)
    throw Error(prefix + "expected classes=2, found classes=" + std::to_string(classes) + " (" +
                std::string(SyntheticKindName(options.kind)) +
                " has exactly 2 classes; use spiral, circles or blobs for more)");
  Require(classes >= 2, prefix + "expected at least 2 classes, found classes=" + std::to_string(classes));
  Require(classes <= kMaxClasses, prefix + "expected at most " + std::to_string(kMaxClasses) +
                                      " classes, found classes=" + std::to_string(classes));
  Require(options.samples >= classes, prefix + "expected at least one sample per class (samples >= " +
                                          std::to_string(classes) + "), found samples=" +
                                          std::to_string(options.samples));
  Require(options.samples <= kMaxSamples, prefix + "expected at most " + std::to_string(kMaxSamples) +
                                              " samples, found samples=" + std::to_string(options.samples));
  Require(std::isfinite(options.noise) && options.noise >= 0.0,
          prefix + "expected a non-negative noise, found noise=" + FormatNumber(options.noise));
}

}  // namespace

std::string_view SyntheticKindName(SyntheticKind kind) {
  for (const auto& [candidate, name] : kKindNames)
    if (candidate == kind) return name;
  return "unknown";
}

std::optional<SyntheticKind> ParseSyntheticKind(std::string_view name) {
  for (const auto& [kind, candidate] : kKindNames)
    if (candidate == name) return kind;
  return std::nullopt;
}

Dataset MakeSynthetic(const SyntheticOptions& options) {
  const uint32_t classes = options.classes != 0 ? options.classes : DefaultClasses(options.kind);
  ValidateOptions(options, classes);

  Dataset dataset;
  dataset.name = SyntheticKindName(options.kind);
  dataset.sample_shape = {2};
  dataset.num_classes = classes;
  for (uint32_t c = 0; c < classes; ++c) dataset.class_names.push_back("class " + std::to_string(c));
  dataset.format = FeatureFormat::kFloat32;
  dataset.features_f32.reserve(2 * size_t{options.samples});
  dataset.labels.reserve(options.samples);

  Random random(options.seed);
  for (uint32_t i = 0; i < options.samples; ++i) {
    // Interleaved labels keep every prefix of the set balanced.
    const uint32_t label = i % classes;
    const uint32_t class_size = options.samples / classes + (label < options.samples % classes ? 1 : 0);
    const Point point = GeneratePoint(options.kind, random, label, classes, i / classes, class_size, options.noise);
    dataset.features_f32.push_back(static_cast<float>(point.x));
    dataset.features_f32.push_back(static_cast<float>(point.y));
    dataset.labels.push_back(label);
  }
  return dataset;
}

SyntheticOptions ParseSyntheticSpec(std::string_view spec) {
  const size_t colon = spec.find(':');
  const std::string_view kind_name = spec.substr(0, colon);
  const std::optional<SyntheticKind> kind = ParseSyntheticKind(kind_name);
  if (!kind)
    throw Error("synthetic data spec \"" + std::string(spec) + "\": expected one of spiral, circles, xor, blobs, "
                "moons, found \"" + std::string(kind_name) + "\"");
  SyntheticOptions options;
  options.kind = *kind;
  if (colon == std::string_view::npos) return options;

  constexpr std::string_view kWhat = "synthetic data spec";
  std::set<std::string_view> seen;
  for (const auto& [key, value] : SplitSpecOptions(kWhat, spec, spec.substr(colon + 1))) {
    if (key == "samples")
      options.samples = ParseSpecValue<uint32_t>(kWhat, spec, key, value, "a non-negative integer");
    else if (key == "classes")
      options.classes = ParseSpecValue<uint32_t>(kWhat, spec, key, value, "a non-negative integer");
    else if (key == "noise")
      options.noise = ParseSpecValue<double>(kWhat, spec, key, value, "a number");
    else if (key == "seed")
      options.seed = ParseSpecValue<uint64_t>(kWhat, spec, key, value, "a non-negative integer");
    else
      throw Error("synthetic data spec \"" + std::string(spec) + "\": unknown option \"" + std::string(key) +
                  "\", expected one of samples, classes, noise, seed");
    if (!seen.insert(key).second)
      throw Error("synthetic data spec \"" + std::string(spec) + "\": option " + std::string(key) +
                  " is given more than once");
  }
  return options;
}

}  // namespace ts::data
