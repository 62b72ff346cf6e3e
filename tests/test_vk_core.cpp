// The Vulkan core: device listing, buffers, reflection, sequences, barriers,
// timestamps and the errors a person sees.
#include <gtest/gtest.h>

#include "compute/common/error.h"
#include "compute/kernels/copy.h"
#include "compute/vk/shader_registry.h"
#include "support/vulkan_test.h"

namespace ts {
namespace {

using testing::VulkanTest;

TEST(Devices, ListsAtLeastOneAndChoosesOne) {
  std::vector<vk::DeviceInfo> devices = vk::ListDevices();
  ASSERT_FALSE(devices.empty());
  std::string reason;
  uint32_t chosen = vk::ChooseDefaultDevice(devices, &reason);
  EXPECT_LT(chosen, devices.size());
  EXPECT_FALSE(reason.empty());
  for (const vk::DeviceInfo& d : devices) {
    EXPECT_GT(d.max_workgroup_invocations, 0u);
    EXPECT_GT(d.max_storage_buffer_range, 0u);
    EXPECT_FALSE(d.heaps.empty());
  }
}

TEST(Devices, DiscreteGpuComesBeforeSoftware) {
  std::vector<vk::DeviceInfo> devices(3);
  devices[0].type = VK_PHYSICAL_DEVICE_TYPE_CPU;
  devices[1].type = VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU;
  devices[2].type = VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU;
  std::string reason;
  EXPECT_EQ(vk::ChooseDefaultDevice(devices, &reason), 2u);
  EXPECT_NE(reason.find("discrete"), std::string::npos);
  devices.pop_back();
  EXPECT_EQ(vk::ChooseDefaultDevice(devices, &reason), 1u);
}

TEST(Reflection, FindsBindingsPushConstantsAndLocalSize) {
  const vk::EmbeddedShader& shader = vk::FindEmbeddedShader("copy");
  vk::ShaderInterface reflected = vk::ReflectShader(shader.words, shader.word_count);
  ASSERT_EQ(reflected.bindings.size(), 2u);
  EXPECT_EQ(reflected.push_constant_bytes, 4u);
  EXPECT_EQ(reflected.local_size_spec_id[0], 0);
}

TEST(Reflection, UnknownShaderIsAClearError) {
  EXPECT_THROW(vk::FindEmbeddedShader("no_such_kernel"), Error);
}

TEST_F(VulkanTest, CopyKernelCopiesEveryElementAndIsTimed) {
  auto rng = testing::MakeRng();
  for (size_t count : {4u, 1028u, 262144u + 4u}) {
    std::vector<float> input = testing::RandomFloats(rng, count);
    vk::Buffer src = MakeBuffer(input);
    vk::Buffer dst = MakePoisonedBuffer(count);
    std::vector<double> ns = Run({kernels::CopyDispatch(pipelines(), kernels::WholeBuffer(src),
                                                        kernels::WholeBuffer(dst), 64)});
    EXPECT_EQ(Read<float>(dst, count), input);
    ASSERT_EQ(ns.size(), 1u);
    EXPECT_GT(ns[0], 0.0);
  }
}

TEST_F(VulkanTest, BarrierOnlyBetweenDependentDispatches) {
  vk::Buffer a = MakeBuffer(std::vector<float>(64, 1.0f));
  vk::Buffer b = MakePoisonedBuffer(64), c = MakePoisonedBuffer(64), d = MakePoisonedBuffer(64);
  auto copy = [&](const vk::Buffer& s, const vk::Buffer& t) {
    return kernels::CopyDispatch(pipelines(), kernels::WholeBuffer(s), kernels::WholeBuffer(t));
  };
  // b = a and c = a are independent; d = b depends on the first.
  vk::Sequence sequence(context(), {copy(a, b), copy(a, c), copy(b, d)});
  EXPECT_EQ(sequence.barriers_per_slot(), 1u);
  context().RunOnce([&](VkCommandBuffer cb) {
    sequence.Record(cb);
    vk::RecordComputeToHostBarrier(cb);
  });
  EXPECT_EQ(Read<float>(d, 64), std::vector<float>(64, 1.0f));
}

TEST_F(VulkanTest, SlotsBindOffsetRanges) {
  // Two slots copying different halves: slot s copies a[s*16..] to b[s*16..].
  uint64_t alignment = std::max<uint64_t>(context().info().min_storage_buffer_offset_alignment, 64);
  uint64_t floats_per_slot = alignment / 4;
  std::vector<float> input(2 * floats_per_slot);
  for (size_t i = 0; i < input.size(); ++i) input[i] = float(i);
  vk::Buffer a = MakeBuffer(input);
  vk::Buffer b = MakePoisonedBuffer(input.size());
  kernels::TensorRef half_a{&a, 0, floats_per_slot}, half_b{&b, 0, floats_per_slot};
  vk::Dispatch dispatch = kernels::CopyDispatch(pipelines(), half_a, half_b);
  for (vk::Binding& binding : dispatch.bindings) binding.slot_stride = alignment;
  vk::Sequence sequence(context(), {dispatch}, 2);
  context().RunOnce([&](VkCommandBuffer cb) {
    sequence.Record(cb, 0);
    sequence.Record(cb, 1);
    vk::RecordComputeToHostBarrier(cb);
  });
  EXPECT_EQ(Read<float>(b, input.size()), input);
}

TEST_F(VulkanTest, MismatchedBindingCountIsRejected) {
  vk::Buffer a = MakeBuffer(std::vector<float>(4, 1.0f));
  vk::Dispatch dispatch = kernels::CopyDispatch(pipelines(), kernels::WholeBuffer(a), kernels::WholeBuffer(a));
  dispatch.bindings.pop_back();
  EXPECT_THROW(vk::Sequence(context(), {dispatch}), Error);
}

TEST_F(VulkanTest, BufferBeyondStorageRangeSaysTheLimit) {
  try {
    vk::Buffer huge(context(), context().info().max_storage_buffer_range + 4, "huge activations");
    FAIL() << "a buffer beyond maxStorageBufferRange was allocated";
  } catch (const Error& e) {
    std::string message = e.what();
    EXPECT_NE(message.find("huge activations"), std::string::npos) << message;
    EXPECT_NE(message.find(vk::FormatBytes(context().info().max_storage_buffer_range)), std::string::npos) << message;
  }
}

TEST_F(VulkanTest, AllocationBeyondTheHeapSaysHowMuchWasAskedAndWhatTheHeapHas) {
  try {
    vk::Buffer huge(context(), uint64_t(1) << 46, "huge dataset", vk::BufferUse::kStaging);  // 64 TiB
    FAIL() << "a 64 TiB buffer was allocated";
  } catch (const Error& e) {
    std::string message = e.what();
    EXPECT_NE(message.find("Out of device memory"), std::string::npos) << message;
    EXPECT_NE(message.find("huge dataset"), std::string::npos) << message;
    EXPECT_NE(message.find("64.00 TiB"), std::string::npos) << message;
    EXPECT_NE(message.find("heap"), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace ts
