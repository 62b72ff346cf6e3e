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
#include <memory>
#include <string>
#include <vector>

#include "compute/vk/buffer.h"
#include "compute/vk/device_info.h"
#include "compute/vk/handle.h"
#include "compute/vk/pipeline.h"

namespace ts::vk {

enum class Access { kRead, kWrite, kReadWrite };

// `access` is what the shader's code does with the binding (any read or
// write it can make, however guarded: see BindingUse); the Sequence checks it
// against the SPIR-V and derives its barriers from it.
struct Binding {
  const Buffer* buffer = nullptr;  // null for an unused binding (see UnusedBinding)
  uint64_t offset = 0;           // bytes; a multiple of minStorageBufferOffsetAlignment
  uint64_t size = 0;             // bytes; 0 = to the end of the buffer
  Access access = Access::kRead;
  uint64_t slot_stride = 0;      // bytes added to offset per slot
  VkFormat texel_format = VK_FORMAT_R32G32B32A32_SFLOAT;  // for uniform texel buffer bindings
  bool unused = false;
  bool operator==(const Binding&) const = default;
};

// A binding the dispatch never touches (a push or specialization constant
// tells its shader so: an absent bias, a gradient nobody asked for) but that
// Vulkan needs filled. The Sequence binds a scratch region of its own there,
// one per unused binding, that nothing else reads or writes: whatever access
// the shader's code declares, it hazards with nothing and needs no barrier.
// (A placeholder view of a real tensor would not do: where the shader's code
// can write the binding, synchronization validation sees a write to that
// tensor that no barrier orders.) `texel_format` for a uniform texel buffer.
inline Binding UnusedBinding(VkFormat texel_format = VK_FORMAT_R32G32B32A32_SFLOAT) {
  Binding binding;
  binding.texel_format = texel_format;
  binding.unused = true;
  return binding;
}

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

// Optional instruments of a Sequence; each costs a little, so each is asked for.
struct SequenceOptions {
  // A timestamp before each dispatch (after its barrier) as well as after it,
  // so each dispatch's start and end and the barrier gaps between dispatches
  // are known (the step timeline).
  bool dispatch_intervals = false;
  // (Needs timestamps: DeviceInfo::timestamp_valid_bits > 0; throws ts::Error otherwise.)
  // A pipeline-statistics query around each dispatch counting compute-shader
  // invocations (needs DeviceInfo::pipeline_statistics; throws ts::Error otherwise).
  bool invocation_counts = false;
  // Trace mode: every dispatch runs its shader's traced build (the same shader
  // compiled with a wrapper main that records each workgroup's start and end
  // with the shader clock into a buffer the Sequence owns). Needs
  // DeviceInfo::shader_clock with shader_device_clock (the wrapper reads the
  // device-wide clock, so workgroups can be compared) and `traced_pipelines`
  // (throws ts::Error otherwise; see CheckTraceSupport). Workgroups whose
  // linear index is max_trace_workgroups or more are not recorded. Trace mode
  // also records each dispatch's start timestamp (as dispatch_intervals does),
  // against which the 32-bit clock values are unwrapped.
  bool trace_workgroups = false;
  uint32_t max_trace_workgroups = 1u << 16;
  PipelineCache* traced_pipelines = nullptr;
};

// When one dispatch ran, on the device's timestamp clock (nanoseconds).
struct DispatchInterval {
  double start_ns = 0, end_ns = 0;
};

// One workgroup's start and end as its first invocation read the shader clock
// (ticks, unwrapped to 64 bits; see DispatchTrace::ns_per_tick).
struct WorkgroupRecord {
  uint32_t workgroup = 0;  // linear index: x + y * count_x + z * count_x * count_y
  uint64_t start_ticks = 0, end_ticks = 0;
};

// Throws ts::Error, naming what is missing, when `options` asks for trace mode
// and the device cannot run it (no shader clock, or no device-wide clock) or
// no traced_pipelines cache was given. Does nothing otherwise.
void CheckTraceSupport(const DeviceInfo& device, const SequenceOptions& options);

struct DispatchTrace {
  std::vector<WorkgroupRecord> records;  // one per recorded workgroup, by index
  uint64_t workgroups = 0;               // the dispatch's total workgroup count
  // Nanoseconds per shader-clock tick: the timestamp period (1 on drivers
  // whose timestamps count nanoseconds, such as lavapipe) where the shader
  // clock is found to run on the timestamp clock (every record lies inside
  // the dispatch's timestamps, give or take 100 us + 10%); then
  // start_ticks * ns_per_tick is on the ReadDispatchIntervals timeline. Else
  // estimated from the dispatch's measured duration over the records' span
  // (ticks then count from an arbitrary origin); 0 when unknown (no timestamps).
  double ns_per_tick = 0;
};

class Sequence {
 public:
  // Validates every dispatch against its pipeline's reflected interface (what
  // it binds, each binding's Access against what the shader's code reads and
  // writes, push constants) and the device limits (a mismatch is a programmer
  // error and throws ts::Error), then allocates descriptor sets for `slots`
  // recordings and the scratch that unused bindings get.
  Sequence(Context& context, std::vector<Dispatch> dispatches, uint32_t slots = 1,
           const SequenceOptions& options = {});
  Sequence(Sequence&&) noexcept = default;
  Sequence& operator=(Sequence&&) noexcept = default;

  // Records every dispatch of `slot`, preceded by a barrier against whatever the
  // command buffer did before, with barriers between dependent dispatches and a
  // timestamp after each. The instruments asked for in SequenceOptions are
  // recorded too (their queries reset first; in trace mode this slot's records
  // are zeroed first). Record RecordComputeToHostBarrier after the last
  // Record before reading a workgroup trace. Each timestamp is followed by an
  // execution-only barrier (where no dependency barrier follows already): on
  // lavapipe a timestamp is otherwise read late once a frame has been drawn,
  // and on GPUs it keeps a timed dispatch from overlapping the next one.
  // With `timed` false no timestamps (nor their barriers) are recorded: on
  // lavapipe they cost a fifth of a small model's step. Do not read times
  // (ReadDispatchTimesNs, ReadDispatchIntervals) of such a recording.
  void Record(VkCommandBuffer command_buffer, uint32_t slot = 0, bool timed = true) const;

  // GPU nanoseconds of each dispatch in `slot`'s last recording, once the
  // command buffer has completed. Time i runs from the end of dispatch i-1 to
  // the end of dispatch i, so it includes the barrier before dispatch i.
  std::vector<double> ReadDispatchTimesNs(uint32_t slot = 0) const;
  // With SequenceOptions::dispatch_intervals (or trace_workgroups): each
  // dispatch's start (the timestamp after its barrier) and end, in ns on the
  // timestamp clock (ticks x timestampPeriod, masked to timestampValidBits and
  // unwrapped relative to the slot's first timestamp). Throws ts::Error when
  // the option was not set.
  std::vector<DispatchInterval> ReadDispatchIntervals(uint32_t slot = 0) const;
  // With SequenceOptions::invocation_counts: compute-shader invocations each
  // dispatch ran, as the pipeline-statistics query counted them. Throws
  // ts::Error when the option was not set.
  std::vector<uint64_t> ReadInvocationCounts(uint32_t slot = 0) const;
  // With SequenceOptions::trace_workgroups: per dispatch, its workgroups' records
  // (the trace buffer must have been made visible to the host, see Record).
  // Throws ts::Error when the option was not set.
  std::vector<DispatchTrace> ReadWorkgroupTrace(uint32_t slot = 0) const;
  const SequenceOptions& options() const { return options_; }

  const std::vector<Dispatch>& dispatches() const { return dispatches_; }
  uint32_t slots() const { return slots_; }
  // Barriers recorded between dispatches in one slot (the leading one excluded).
  uint32_t barriers_per_slot() const;
  bool has_timestamps() const { return static_cast<bool>(query_pool_); }

 private:
  void AssignScratch();  // points every unused binding at a region of scratch_
  void CreateTraceBuffer();

  Context* context_ = nullptr;
  std::vector<Dispatch> dispatches_;
  std::vector<bool> barrier_before_;  // per dispatch: wait for earlier writes / reads
  uint32_t slots_ = 1;
  SequenceOptions options_;
  UniqueDescriptorPool descriptor_pool_;
  std::vector<VkDescriptorSet> descriptor_sets_;  // [slot * dispatches + i]
  std::vector<UniqueBufferView> texel_views_;
  // One region per unused binding (see UnusedBinding), never read or written;
  // on the heap, so the dispatches' pointers to it survive a move.
  std::unique_ptr<Buffer> scratch_;
  UniqueQueryPool query_pool_;
  // The pipeline each dispatch binds: its own, or in trace mode its traced build.
  std::vector<const Pipeline*> pipelines_;
  UniqueQueryPool start_query_pool_;       // [slot * dispatches + i]: timestamp before dispatch i
  UniqueQueryPool statistics_query_pool_;  // [slot * dispatches + i]: invocations of dispatch i
  // Trace mode: one region of uvec4 records per dispatch per slot in one
  // host-visible buffer, each bound at set 1 binding 0 with its own set.
  Buffer trace_buffer_;
  std::vector<uint64_t> trace_offsets_;       // [slot * dispatches + i]: bytes
  std::vector<uint32_t> trace_record_counts_; // per dispatch
  uint64_t trace_slot_bytes_ = 0;             // one slot's regions, contiguous
  UniqueDescriptorPool trace_descriptor_pool_;
  std::vector<VkDescriptorSet> trace_sets_;   // [slot * dispatches + i]
};

// Makes all compute-shader writes recorded so far visible to the host, for a
// readback after the command buffer's fence signals.
void RecordComputeToHostBarrier(VkCommandBuffer command_buffer);

// Makes host writes to mapped memory and transfer writes visible to compute shaders.
void RecordTransferToComputeBarrier(VkCommandBuffer command_buffer);

}  // namespace ts::vk
