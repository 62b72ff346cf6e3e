// Test support: a Vulkan context with the validation layer on (its
// synchronization validation too: vk::ContextOptions::validation), shared by all
// tests in a process, and helpers to run dispatches and compare with references.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "compute/vk/buffer.h"
#include "compute/vk/context.h"
#include "compute/vk/pipeline.h"
#include "compute/vk/sequence.h"

namespace ts::testing {

// The process-wide test context (validation on). Every validation message is
// recorded; VulkanTest fails any test during which one arrived.
vk::Context& TestContext();
vk::PipelineCache& TestPipelines();
// Messages received so far (thread-safe copy).
std::vector<std::string> ValidationMessages();

// Fixture for tests that use Vulkan: fails the test if the validation layer
// reported anything while it ran.
class VulkanTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
  vk::Context& context() { return TestContext(); }
  vk::PipelineCache& pipelines() { return TestPipelines(); }

  // A device buffer holding `values`.
  template <typename T>
  vk::Buffer MakeBuffer(const std::vector<T>& values, const std::string& name = "test input") {
    vk::Buffer buffer(context(), std::max<size_t>(values.size() * sizeof(T), 4), name);
    buffer.UploadVector(std::span<const T>(values));
    return buffer;
  }
  // A device buffer of `count` floats, every one set to NaN so an unwritten
  // output element cannot pass a comparison.
  vk::Buffer MakePoisonedBuffer(size_t count, const std::string& name = "test output");
  template <typename T>
  std::vector<T> Read(const vk::Buffer& buffer, size_t count) {
    std::vector<T> values(count);
    buffer.DownloadVector(std::span<T>(values));
    return values;
  }
  // Records the dispatches into one command buffer, submits and waits.
  // Returns each dispatch's GPU time in ns.
  std::vector<double> Run(std::vector<vk::Dispatch> dispatches);

 private:
  size_t messages_at_start_ = 0;
};

// Fresh random inputs: a generator seeded from the test name and a counter, so
// each run of a test sees the same data but different tests see different data.
std::mt19937_64 MakeRng(uint64_t salt = 0);
std::vector<float> RandomFloats(std::mt19937_64& rng, size_t count, float low = -1.0f, float high = 1.0f);

}  // namespace ts::testing
