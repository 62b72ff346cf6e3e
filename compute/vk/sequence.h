// Dispatches and the Sequence that records them.
//
// A Dispatch is one vkCmdDispatch with everything needed to record it: the
// pipeline, the buffer ranges it binds (and whether it reads or writes each),
// push constants, workgroup count, and its declared cost. A Sequence is an
// ordered list of dispatches with descriptor sets allocated once, barriers
// derived from what each dispatch reads and writes, and a timestamp after every
// dispatch so each one's GPU time is measured.
//
// Slots let one Sequence be recorded several times into one command buffer
// (several training steps per submission): a binding with a slot_stride binds
// `offset + slot * slot_stride` in slot `slot`, so per-step parameters and
// results live side by side in one buffer.
#pragma once

#include <vulkan/vulkan.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "compute/vk/buffer.h"
#include "compute/vk/handle.h"
#include "compute/vk/pipeline.h"

namespace ts::vk {

enum class Access { kRead, kWrite, kReadWrite };

struct Binding {
  const Buffer* buffer = nullptr;
  uint64_t offset = 0;           // bytes; a multiple of minStorageBufferOffsetAlignment
  uint64_t size = 0;             // bytes; 0 = to the end of the buffer
  Access access = Access::kRead;
  uint64_t slot_stride = 0;      // bytes added to offset per slot
  VkFormat texel_format = VK_FORMAT_R32G32B32A32_SFLOAT;  // for uniform texel buffer bindings
};

// What one dispatch costs, declared by its kernel (not measured): the profiler
// divides these by the measured time to report achieved GFLOP/s and GB/s.
struct Cost {
  double flops = 0;          // floating-point operations (an FMA counts as 2)
  double bytes_read = 0;     // bytes the kernel must read from device memory
  double bytes_written = 0;  // bytes it must write
  Cost& operator+=(const Cost& other) {
    flops += other.flops, bytes_read += other.bytes_read, bytes_written += other.bytes_written;
    return *this;
  }
};

struct Dispatch {
  std::string kernel;             // kernel family, e.g. "matmul"
  std::string label;              // its role, e.g. "dense_1 forward"
  const Pipeline* pipeline = nullptr;
  std::vector<Binding> bindings;  // binding i of set 0
  std::vector<std::byte> push_constants;
  std::array<uint32_t, 3> workgroups{1, 1, 1};
  Cost cost;

  template <typename T>
  void SetPushConstants(const T& value) {
    push_constants.resize(sizeof(T));
    std::memcpy(push_constants.data(), &value, sizeof(T));
  }
  uint64_t invocations() const;  // workgroups x local size
};

// Workgroups needed to cover `items` with groups of `group_size`.
inline uint32_t DivideRoundUp(uint64_t items, uint32_t group_size) {
  return static_cast<uint32_t>((items + group_size - 1) / group_size);
}

class Sequence {
 public:
  // Validates every dispatch against its pipeline's reflected interface and the
  // device limits (a mismatch is a programmer error and throws ts::Error), then
  // allocates descriptor sets for `slots` recordings.
  Sequence(Context& context, std::vector<Dispatch> dispatches, uint32_t slots = 1);
  Sequence(Sequence&&) noexcept = default;
  Sequence& operator=(Sequence&&) noexcept = default;

  // Records every dispatch of `slot`, preceded by a barrier against whatever the
  // command buffer did before, with barriers between dependent dispatches and a
  // timestamp after each.
  void Record(VkCommandBuffer command_buffer, uint32_t slot = 0) const;

  // GPU nanoseconds of each dispatch in `slot`'s last recording, once the
  // command buffer has completed. Time i runs from the end of dispatch i-1 to
  // the end of dispatch i, so it includes the barrier before dispatch i.
  std::vector<double> ReadDispatchTimesNs(uint32_t slot = 0) const;

  const std::vector<Dispatch>& dispatches() const { return dispatches_; }
  uint32_t slots() const { return slots_; }
  // Barriers recorded between dispatches in one slot (the leading one excluded).
  uint32_t barriers_per_slot() const;
  bool has_timestamps() const { return static_cast<bool>(query_pool_); }

 private:
  Context* context_ = nullptr;
  std::vector<Dispatch> dispatches_;
  std::vector<bool> barrier_before_;  // per dispatch: wait for earlier writes / reads
  uint32_t slots_ = 1;
  UniqueDescriptorPool descriptor_pool_;
  std::vector<VkDescriptorSet> descriptor_sets_;  // [slot * dispatches + i]
  std::vector<UniqueBufferView> texel_views_;
  UniqueQueryPool query_pool_;
};

// Makes all compute-shader writes recorded so far visible to the host, for a
// readback after the command buffer's fence signals.
void RecordComputeToHostBarrier(VkCommandBuffer command_buffer);

// Makes host writes to mapped memory and transfer writes visible to compute shaders.
void RecordTransferToComputeBarrier(VkCommandBuffer command_buffer);

}  // namespace ts::vk
