#include "compute/data/synthetic_images.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <set>
#include <string>

#include "compute/common/error.h"
#include "compute/data/spec_options.h"

namespace ts::data {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr uint32_t kMaxSamples = 1'000'000;
constexpr uint32_t kMinSize = 8;
constexpr uint32_t kMaxSize = 256;
constexpr uint64_t kMaxBytes = uint64_t{1} << 30;  // keeps a mistyped size from eating the host's memory

enum Shape : uint32_t { kCircle, kSquare, kTriangle, kCross, kHorizontalBars, kVerticalBars, kRing, kDiagonalLine };

// Uniform and gaussian draws from raw engine output, so the images do not
// depend on the standard library's distribution implementations.
class Random {
 public:
  explicit Random(uint64_t seed) : engine_(seed) {}
  double Uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }  // [0, 1)
  double Uniform(double low, double high) { return low + (high - low) * Uniform(); }
  // Approximately standard normal: the centred sum of four 16-bit uniforms from
  // one engine draw, scaled to unit variance. A tenth of Box-Muller's cost, and
  // the noise is most of the draws; its tails stop at 3.46 sigma.
  double Normal() {
    const uint64_t bits = engine_();
    const uint32_t sum = (bits & 0xffff) + (bits >> 16 & 0xffff) + (bits >> 32 & 0xffff) + (bits >> 48);
    constexpr double kMean = 2.0 * 65535.0;
    constexpr double kInverseDeviation = 1.7320508075688772 / 65536.0;  // the sum's std-dev is 65536 / sqrt(3)
    return (static_cast<double>(sum) - kMean) * kInverseDeviation;
  }

 private:
  std::mt19937_64 engine_;
};

// One shape's placement, drawn once per image. Distances are in pixels.
struct ShapeParams {
  Shape shape;
  double centre_x, centre_y;
  double radius;          // the shape's half-extent
  double cos_angle, sin_angle;
  uint32_t bar_count;     // bars only
};

// A rectangle of half-sizes (half_u, half_v) centred at the origin; exact
// inside, a slight underestimate outside the corners (harmless for a 1-pixel edge).
double BoxDistance(double u, double v, double half_u, double half_v) {
  return std::max(std::abs(u) - half_u, std::abs(v) - half_v);
}

// Signed distance from the point (u, v), in the shape's own rotated frame, to
// the shape's edge: negative inside.
double ShapeDistance(const ShapeParams& p, double u, double v) {
  const double r = p.radius;
  switch (p.shape) {
    case kCircle:
      return std::sqrt(u * u + v * v) - r;
    case kSquare:
      return BoxDistance(u, v, 0.8 * r, 0.8 * r);  // 0.8: about the disc's area
    case kTriangle: {
      // Equilateral, circumradius r: inside all three edges, each at the inradius r / 2.
      constexpr double kNormals[3][2] = {{0.0, -1.0}, {0.8660254037844386, 0.5}, {-0.8660254037844386, 0.5}};
      double distance = -1e9;
      for (const auto& normal : kNormals) distance = std::max(distance, normal[0] * u + normal[1] * v - 0.5 * r);
      return distance;
    }
    case kCross: {
      const double half_thickness = std::max(1.0, 0.22 * r);
      return std::min(BoxDistance(u, v, r, half_thickness), BoxDistance(u, v, half_thickness, r));
    }
    case kHorizontalBars:
    case kVerticalBars: {
      // Bars as thick as the gaps between them; vertical bars are horizontal
      // ones turned by 90 degrees (see MakeShapes).
      const double spacing = 2.0 * r / p.bar_count;
      double distance = 1e9;
      for (uint32_t k = 0; k < p.bar_count; ++k)
        distance = std::min(distance, BoxDistance(u, v - (-r + (k + 0.5) * spacing), r, 0.25 * spacing));
      return distance;
    }
    case kRing:
      return std::abs(std::sqrt(u * u + v * v) - 0.75 * r) - std::max(1.0, 0.2 * r);
    case kDiagonalLine:
      return BoxDistance(u, v, r, std::max(1.0, 0.18 * r));
  }
  return 1e9;
}

ShapeParams DrawShapeParams(Shape shape, uint32_t size, Random& random) {
  ShapeParams p{};
  p.shape = shape;
  p.radius = random.Uniform(0.18, 0.34) * size;
  // The centre keeps most of the shape in view; corners of rotated squares may clip.
  p.centre_x = random.Uniform(p.radius, size - p.radius);
  p.centre_y = random.Uniform(p.radius, size - p.radius);
  constexpr double kTilt = 10.0 * kPi / 180.0;
  double angle = 0.0;
  switch (shape) {
    case kSquare:
    case kTriangle:
    case kCross:
      angle = random.Uniform(0.0, 2.0 * kPi);
      break;
    case kHorizontalBars:
      angle = random.Uniform(-kTilt, kTilt);
      break;
    case kVerticalBars:
      angle = 0.5 * kPi + random.Uniform(-kTilt, kTilt);
      break;
    case kDiagonalLine:
      angle = (random.Uniform() < 0.5 ? 0.25 : 0.75) * kPi + random.Uniform(-kTilt, kTilt);
      break;
    default:  // circle and ring look the same at every angle
      break;
  }
  p.cos_angle = std::cos(angle);
  p.sin_angle = std::sin(angle);
  p.bar_count = shape == kHorizontalBars || shape == kVerticalBars ? (random.Uniform() < 0.5 ? 2 : 3) : 0;
  return p;
}

void ValidateOptions(const ShapesOptions& options) {
  const std::string prefix = "synthetic shapes data: ";
  Require(options.classes >= 2 && options.classes <= kShapeClassNames.size(),
          prefix + "expected classes between 2 and " + std::to_string(kShapeClassNames.size()) +
              ", found classes=" + std::to_string(options.classes));
  Require(options.samples >= options.classes, prefix + "expected at least one sample per class (samples >= " +
                                                  std::to_string(options.classes) + "), found samples=" +
                                                  std::to_string(options.samples));
  Require(options.samples <= kMaxSamples, prefix + "expected at most " + std::to_string(kMaxSamples) +
                                              " samples, found samples=" + std::to_string(options.samples));
  Require(options.size >= kMinSize && options.size <= kMaxSize,
          prefix + "expected size between " + std::to_string(kMinSize) + " and " + std::to_string(kMaxSize) +
              ", found size=" + std::to_string(options.size));
  Require(options.channels == 1 || options.channels == 3,
          prefix + "expected channels=1 or channels=3, found channels=" + std::to_string(options.channels));
  char noise_text[32];
  std::snprintf(noise_text, sizeof noise_text, "%g", options.noise);
  Require(std::isfinite(options.noise) && options.noise >= 0.0 && options.noise <= 1.0,
          prefix + "expected noise between 0 and 1, found noise=" + noise_text);
  const uint64_t bytes = uint64_t{options.samples} * options.size * options.size * options.channels;
  Require(bytes <= kMaxBytes, prefix + "expected at most " + std::to_string(kMaxBytes >> 20) +
                                  " MiB of pixels, found " + std::to_string(bytes >> 20) +
                                  " MiB (samples x size x size x channels); use fewer samples or a smaller size");
}

}  // namespace

Dataset MakeShapes(const ShapesOptions& options) {
  ValidateOptions(options);
  const uint32_t size = options.size;
  const uint32_t channels = options.channels;
  const size_t sample_bytes = size_t{size} * size * channels;

  Dataset dataset;
  dataset.name = "shapes";
  dataset.sample_shape = {channels, size, size};
  dataset.num_classes = options.classes;
  for (uint32_t c = 0; c < options.classes; ++c) dataset.class_names.emplace_back(kShapeClassNames[c]);
  dataset.format = FeatureFormat::kUint8;
  dataset.scale = 1.0f / 255.0f;
  dataset.offset = 0.0f;
  dataset.features_u8.resize(options.samples * sample_bytes);
  dataset.labels.resize(options.samples);

  Random random(options.seed);
  std::vector<double> coverage(size_t{size} * size);
  for (uint32_t i = 0; i < options.samples; ++i) {
    const uint32_t label = i % options.classes;
    dataset.labels[i] = label;
    const ShapeParams p = DrawShapeParams(static_cast<Shape>(label), size, random);
    // Foreground brighter than background in every channel, by a varying margin.
    double foreground[3], background[3];
    for (uint32_t c = 0; c < channels; ++c) {
      foreground[c] = random.Uniform(0.55, 1.0);
      background[c] = random.Uniform(0.0, 0.3);
    }

    // Coverage from the signed distance of each pixel centre: a 1-pixel
    // anti-aliased edge, so small shapes keep their outline. Only pixels within
    // reach of the shape are evaluated: every shape fits in a disc of radius
    // 1.42 r (the bars' corners), plus the half-pixel edge.
    std::fill(coverage.begin(), coverage.end(), 0.0);
    const double reach = 1.5 * p.radius + 1.0;
    auto first_pixel = [&](double low) { return static_cast<uint32_t>(std::clamp(low, 0.0, double(size))); };
    const uint32_t x_begin = first_pixel(p.centre_x - reach), x_end = first_pixel(p.centre_x + reach + 1.0);
    const uint32_t y_begin = first_pixel(p.centre_y - reach), y_end = first_pixel(p.centre_y + reach + 1.0);
    for (uint32_t y = y_begin; y < y_end; ++y)
      for (uint32_t x = x_begin; x < x_end; ++x) {
        const double dx = x + 0.5 - p.centre_x, dy = y + 0.5 - p.centre_y;
        const double u = p.cos_angle * dx + p.sin_angle * dy;   // rotate the pixel into the shape's frame
        const double v = -p.sin_angle * dx + p.cos_angle * dy;
        coverage[size_t{y} * size + x] = std::clamp(0.5 - ShapeDistance(p, u, v), 0.0, 1.0);
      }

    uint8_t* pixels = dataset.features_u8.data() + i * sample_bytes;  // (size, size, channels)
    for (size_t pixel = 0; pixel < coverage.size(); ++pixel)
      for (uint32_t c = 0; c < channels; ++c) {
        double value = background[c] + (foreground[c] - background[c]) * coverage[pixel];
        if (options.noise > 0.0) value += options.noise * random.Normal();
        pixels[pixel * channels + c] = static_cast<uint8_t>(std::clamp(value, 0.0, 1.0) * 255.0 + 0.5);
      }
  }
  return dataset;
}

ShapesOptions ParseShapesSpec(std::string_view spec) {
  const size_t colon = spec.find(':');
  const std::string_view kind = spec.substr(0, colon);
  if (kind != "shapes")
    throw Error("shapes data spec \"" + std::string(spec) + "\": expected the name shapes, found \"" +
                std::string(kind) + "\"");
  ShapesOptions options;
  if (colon == std::string_view::npos) return options;

  constexpr std::string_view kWhat = "shapes data spec";
  std::set<std::string_view> seen;
  for (const auto& [key, value] : SplitSpecOptions(kWhat, spec, spec.substr(colon + 1))) {
    constexpr const char* kCount = "a non-negative integer";
    if (key == "samples")
      options.samples = ParseSpecValue<uint32_t>(kWhat, spec, key, value, kCount);
    else if (key == "classes")
      options.classes = ParseSpecValue<uint32_t>(kWhat, spec, key, value, kCount);
    else if (key == "size")
      options.size = ParseSpecValue<uint32_t>(kWhat, spec, key, value, kCount);
    else if (key == "channels")
      options.channels = ParseSpecValue<uint32_t>(kWhat, spec, key, value, kCount);
    else if (key == "noise")
      options.noise = ParseSpecValue<double>(kWhat, spec, key, value, "a number");
    else if (key == "seed")
      options.seed = ParseSpecValue<uint64_t>(kWhat, spec, key, value, kCount);
    else
      throw Error("shapes data spec \"" + std::string(spec) + "\": unknown option \"" + std::string(key) +
                  "\", expected one of samples, classes, size, channels, noise, seed");
    if (!seen.insert(key).second)
      throw Error("shapes data spec \"" + std::string(spec) + "\": option " + std::string(key) +
                  " is given more than once");
  }
  return options;
}

}  // namespace ts::data
