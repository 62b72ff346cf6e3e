// lavapipe's vector width sets its subgroup size: LP_NATIVE_VECTOR_WIDTH=128,
// 256 (the default on AVX2 hosts) or 512 bits gives subgroups of 4, 8 or 16
// lanes. CTest runs the Vulkan tests again at 128 and 512 bits
// (tests/CMakeLists.txt) so that no kernel comes to assume 8 lanes; this test
// proves the variable reached the driver in those runs, and that the run has a
// shader cache of its own, so that they test what they claim to.
#include <gtest/gtest.h>

#include <cstdlib>
#include <regex>
#include <string>

#include "support/vulkan_test.h"

namespace ts {
namespace {

using testing::VulkanTest;

TEST_F(VulkanTest, LavapipeSubgroupSizeFollowsItsVectorWidth) {
  const vk::DeviceInfo& device = context().info();
  // llvmpipe names its width: "llvmpipe (LLVM 15.0.6, 256 bits)".
  std::smatch match;
  if (!std::regex_search(device.name, match, std::regex(R"(llvmpipe \(.*, (\d+) bits\))")))
    GTEST_SKIP() << "not lavapipe (" << device.name << "): LP_NATIVE_VECTOR_WIDTH does not apply";
  const uint32_t bits = static_cast<uint32_t>(std::stoul(match[1]));
  EXPECT_EQ(device.subgroup_size, bits / 32) << device.name;
  if (const char* requested = std::getenv("LP_NATIVE_VECTOR_WIDTH"); requested && *requested) {
    EXPECT_EQ(std::to_string(bits), requested)
        << "LP_NATIVE_VECTOR_WIDTH=" << requested << " did not take effect: the device is " << device.name;
    // Mesa 22.3 keys lavapipe's on-disk shader cache without the vector width
    // (measured: a 512-bit run after a 256-bit one compiled nothing), so a run
    // sharing the default cache may execute code built for another width.
    const char* cache_dir = std::getenv("MESA_SHADER_CACHE_DIR");
    const char* cache_off = std::getenv("MESA_SHADER_CACHE_DISABLE");
    EXPECT_TRUE((cache_dir && *cache_dir) || (cache_off && std::string(cache_off) == "true"))
        << "LP_NATIVE_VECTOR_WIDTH=" << requested << " without MESA_SHADER_CACHE_DIR (one per width) or "
        << "MESA_SHADER_CACHE_DISABLE=true: lavapipe's shader cache may hand this run code compiled at another width";
  }
}

}  // namespace
}  // namespace ts
