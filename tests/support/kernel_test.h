// What the elementwise kernel tests share (test_kernels.cpp, test_activation.cpp):
// the shapes, the default bound and an every-element comparison, and a fixture
// with a step-parameters buffer.
//
// Every output buffer starts as NaN, so an element a kernel forgot to write
// fails, and every element is compared. The default bound is
//   |gpu - ref| <= 1e-5 * max(1, |ref|)
// i.e. 1e-5 relative for values above 1 and 1e-5 absolute below: float
// kernels are accurate to a few ulps (~1e-7 relative), and values that are
// results of cancellation (a probability minus its target, tanh near 0) can
// only be held to an absolute bound on the scale of their inputs. Bounds that
// differ say why where they are used.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "compute/kernels/activation.h"
#include "compute/kernels/loss.h"
#include "compute/kernels/tensor_ref.h"
#include "shaders/step_params.h"
#include "support/vulkan_test.h"

namespace ts::kernel_tests {

inline constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

inline const kernels::Activation kActivations[] = {kernels::Activation::kIdentity, kernels::Activation::kRelu, kernels::Activation::kLeakyRelu,
                                   kernels::Activation::kSigmoid,  kernels::Activation::kTanh, kernels::Activation::kGelu};
inline const kernels::LossKind kLosses[] = {kernels::LossKind::kSoftmaxCrossEntropy, kernels::LossKind::kMeanSquaredError,
                            kernels::LossKind::kBinaryCrossEntropyWithLogits};

struct Shape {
  uint32_t rows, cols;
};
// Shapes that do and do not divide the workgroup sizes (256 invocations; 8
// columns per backward workgroup), with a single row, a single column and wide rows.
inline const Shape kShapes[] = {{1, 1}, {7, 33}, {33, 7}, {127, 129}, {1000, 10}, {3, 1000}, {129, 1}};

inline std::string Describe(Shape shape) { return std::to_string(shape.rows) + "x" + std::to_string(shape.cols); }

// The default bound (see the top of this file).
inline double DefaultBound(double ref) { return 1e-5 * std::max(1.0, std::abs(ref)); }

// Compares every element; a NaN reference expects a NaN, and a NaN from the GPU
// (an unwritten, poisoned element) fails any finite reference. Reports the first
// few mismatches with their index.
inline void ExpectAllNear(std::span<const float> gpu, std::span<const double> ref, const std::string& what,
                   const std::function<double(size_t index, double ref)>& bound =
                       [](size_t, double ref) { return DefaultBound(ref); }) {
  ASSERT_EQ(gpu.size(), ref.size()) << what;
  size_t failures = 0;
  for (size_t i = 0; i < gpu.size(); ++i) {
    bool ok = std::isnan(ref[i]) ? std::isnan(gpu[i]) : std::abs(double(gpu[i]) - ref[i]) <= bound(i, ref[i]);
    if (!ok && ++failures <= 5)
      ADD_FAILURE() << what << "[" << i << "]: gpu " << gpu[i] << ", reference " << ref[i] << ", bound "
                    << bound(i, ref[i]);
  }
  EXPECT_EQ(failures, 0u) << what << ": " << failures << " of " << gpu.size() << " elements out of bounds";
}

inline std::vector<uint32_t> RandomLabels(std::mt19937_64& rng, size_t count, uint32_t classes) {
  std::vector<uint32_t> labels(count);
  for (uint32_t& label : labels) label = uint32_t(rng() % classes);
  return labels;
}

class KernelTest : public ts::testing::VulkanTest {
 protected:
  // A small buffer holding one StepParams, bound through a TensorRef of 8 words.
  vk::Buffer MakeStepBuffer(const gpu::StepParams& step) {
    vk::Buffer buffer(context(), sizeof(step), "step params");
    buffer.Upload(std::as_bytes(std::span(&step, 1)));
    return buffer;
  }
  static kernels::TensorRef StepRef(const vk::Buffer& buffer) { return {&buffer, 0, 8}; }
  std::vector<float> ReadAll(const vk::Buffer& buffer) { return Read<float>(buffer, buffer.size() / 4); }
};

}  // namespace ts::kernel_tests
