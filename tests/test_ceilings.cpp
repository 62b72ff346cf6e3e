// The device's measured ceilings: positive, finite and plausible, and the FMA
// kernel computes what it claims (its FLOP count is only honest if it does).
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "compute/profile/ceilings.h"
#include "support/vulkan_test.h"

namespace ts {
namespace {

using testing::VulkanTest;

TEST_F(VulkanTest, CeilingsArePositiveAndPlausible) {
  profile::CeilingOptions options;
  options.copy_bytes = 8ull << 20;
  options.transfer_bytes = 4ull << 20;
  options.repeats = 2;
  const profile::Ceilings c = profile::MeasureCeilings(context(), pipelines(), options);
  // Plausible for anything from a software driver to a large GPU.
  for (double gbs : {c.bandwidth_gbs, c.upload_gbs, c.download_gbs}) {
    EXPECT_TRUE(std::isfinite(gbs));
    EXPECT_GT(gbs, 0.05);
    EXPECT_LT(gbs, 20000.0);
  }
  EXPECT_GT(c.fp32_gflops, 0.1);
  EXPECT_LT(c.fp32_gflops, 1e6);
  EXPECT_LT(c.fma_result_error, 1e-3) << "the FMA chains did not compute what the CPU expects";
  EXPECT_EQ(c.copy_bytes, 8ull << 20);
  for (double us : {c.empty_submit_us, c.single_dispatch_us, c.batched_dispatch_us}) {
    EXPECT_GT(us, 0.0);
    EXPECT_LT(us, 1e6);
  }
  // A dispatch recorded among others costs less than one submitted alone.
  EXPECT_LT(c.batched_dispatch_us, c.single_dispatch_us);
  const std::string text = profile::FormatCeilings(c);
  for (const char* part : {"GB/s", "GFLOP/s", "(bytes read + bytes written) / time", "efficiency = achieved / peak"})
    EXPECT_NE(text.find(part), std::string::npos) << part;
}

}  // namespace
}  // namespace ts
