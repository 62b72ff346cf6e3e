#include "compute/vk/sequence.h"

#include <algorithm>
#include <map>
#include <cassert>
#include <cstdlib>

#include "compute/common/error.h"
#include "compute/vk/check.h"
#include "compute/vk/context.h"

namespace ts::vk {
namespace {

struct Range {
  VkBuffer buffer;
  uint64_t begin, end;
  bool Overlaps(const Range& other) const {
    return buffer == other.buffer && begin < other.end && other.begin < end;
  }
};

Range RangeOf(const Binding& binding) {
  uint64_t size = binding.size ? binding.size : binding.buffer->size() - binding.offset;
  return {binding.buffer->handle(), binding.offset, binding.offset + size};
}

bool AnyOverlap(const Range& range, const std::vector<Range>& ranges) {
  return std::any_of(ranges.begin(), ranges.end(), [&](const Range& r) { return r.Overlaps(range); });
}

const char* AccessName(Access access) {
  switch (access) {
    case Access::kRead: return "read-only";
    case Access::kWrite: return "write-only";
    case Access::kReadWrite: return "read-write";
  }
  return "?";
}

// Ordered before every recorded dispatch: the compute work recorded earlier
// (an earlier step, an earlier dispatch of this step that wrote what the next
// reads or read what it overwrites) finishes first, and its writes are made
// visible to the dispatches after.
void RecordComputeBarrier(VkCommandBuffer cb) {
  VkMemoryBarrier barrier{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  barrier.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT;
  barrier.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT;
  vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1,
                       &barrier, 0, nullptr, 0, nullptr);
}

// Makes compute writes of earlier work (an earlier recording's trace records)
// safe to overwrite with vkCmdFillBuffer.
void RecordComputeToTransferBarrier(VkCommandBuffer cb) {
  VkMemoryBarrier barrier{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  barrier.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_SHADER_READ_BIT;
  barrier.dstAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
  vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1, &barrier, 0,
                       nullptr, 0, nullptr);
}

// Closes a timestamp: an execution-only dependency from the compute work
// (and the timestamp) recorded so far to the compute work after it.
//
// Why: Vulkan lets a driver write a timestamp's value at any moment after the
// stage it names is done, and a CPU driver may put that moment off. Mesa's
// lavapipe (llvmpipe underneath) does: once its gallium context has a
// framebuffer bound - which is from the first window frame on, since the
// window renders on this same queue and the framebuffer state stays bound -
// llvmpipe bins a timestamp into its rasterizer's scene and reads the clock
// only when its rasterizer threads run that scene, i.e. at the next flush
// (lp_setup_end_query / lp_rast_end_query). Compute dispatches do not flush,
// so the value was read after the *next* dispatch, or when the command buffer
// ended: a 7 ms copy read 13 us, and each dispatch in a step showed its
// neighbour's time plus the rasterizer threads' scheduling delay. A pipeline
// barrier makes lavapipe flush and wait for the scene (finish_fence), so the
// clock is read right here. On GPUs a timestamp of the compute stage already
// waits for earlier compute work, so this barrier only stops the next
// dispatch from overlapping a timed one, which per-dispatch timing assumes.
void RecordTimestampFence(VkCommandBuffer cb) {
  vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 0, nullptr,
                       0, nullptr, 0, nullptr);
}

uint64_t TimestampMask(uint32_t valid_bits) {
  return valid_bits == 0 || valid_bits >= 64 ? ~0ull : ((1ull << valid_bits) - 1);
}

UniqueQueryPool CreateQueryPool(VkDevice device, VkQueryType type, uint32_t count,
                                VkQueryPipelineStatisticFlags statistics = 0) {
  VkQueryPoolCreateInfo create{VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO};
  create.queryType = type;
  create.queryCount = count;
  create.pipelineStatistics = statistics;
  VkQueryPool pool = VK_NULL_HANDLE;
  Check(vkCreateQueryPool(device, &create, nullptr, &pool), "vkCreateQueryPool");
  return UniqueQueryPool(device, pool);
}

std::vector<uint64_t> ReadQueries(VkDevice device, VkQueryPool pool, uint32_t first, uint32_t count) {
  std::vector<uint64_t> values(count);
  if (count == 0) return values;
  Check(vkGetQueryPoolResults(device, pool, first, count, values.size() * sizeof(uint64_t), values.data(),
                              sizeof(uint64_t), VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT),
        "vkGetQueryPoolResults");
  return values;
}

// A 32-bit clock value (the upper half read as 0) placed on the 64-bit line
// nearest to `reference`: the one within 2^31 ticks of it.
uint64_t UnwrapNear(uint32_t low, uint64_t reference) {
  uint64_t value = (reference & ~0xffffffffull) | low;
  if (value + (1ull << 31) < reference) value += 1ull << 32;
  else if (value > reference + (1ull << 31) && value >= (1ull << 32)) value -= 1ull << 32;
  return value;
}

}  // namespace

void CheckTraceSupport(const DeviceInfo& device, const SequenceOptions& options) {
  if (!options.trace_workgroups) return;
  if (!device.shader_clock)
    throw Error("Workgroup tracing reads the shader clock, but '" + device.name +
                "' does not offer VK_KHR_shader_clock; run without trace mode on this device.");
  if (!device.shader_device_clock)
    throw Error("Workgroup tracing compares workgroups on one device-wide clock, but '" + device.name +
                "' offers only the per-subgroup shader clock (shaderDeviceClock is not supported); run "
                "without trace mode on this device.");
  if (options.traced_pipelines == nullptr)
    throw Error("Workgroup tracing needs SequenceOptions::traced_pipelines (a PipelineCache to build the "
                "shaders' traced builds in), but none was given.");
  if (options.max_trace_workgroups == 0)
    throw Error("Workgroup tracing with max_trace_workgroups = 0 would record nothing; ask for at least 1.");
}

uint64_t Dispatch::invocations() const {
  return uint64_t(workgroups[0]) * workgroups[1] * workgroups[2] * pipeline->invocations_per_workgroup();
}

Sequence::Sequence(Context& context, std::vector<Dispatch> dispatches, uint32_t slots, const SequenceOptions& options)
    : context_(&context), dispatches_(std::move(dispatches)), slots_(slots), options_(options) {
  const DeviceInfo& info = context.info();
  VkDevice device = context.device();
  if (options_.invocation_counts && !info.pipeline_statistics)
    throw Error("Invocation counts need pipeline-statistics queries, but '" + info.name +
                "' does not support them (pipelineStatisticsQuery); run without them on this device.");
  if (options_.dispatch_intervals && info.timestamp_valid_bits == 0)
    throw Error("Dispatch intervals need timestamps, but the compute queue of '" + info.name +
                "' has none (timestampValidBits is 0).");
  CheckTraceSupport(info, options_);
  pipelines_.clear();
  for (const Dispatch& d : dispatches_) {
    if (d.pipeline == nullptr) throw Error("Dispatch '" + d.label + "' has no pipeline.");
    if (!options_.trace_workgroups) {
      pipelines_.push_back(d.pipeline);
      continue;
    }
    const Pipeline& traced = options_.traced_pipelines->Get(d.pipeline->shader_name() + "__trace", d.pipeline->spec());
    if (!traced.interface().has_trace_binding)
      throw Error("Shader '" + traced.shader_name() + "' (the traced build of '" + d.pipeline->shader_name() +
                  "') declares no trace buffer at set 1, binding 0.");
    pipelines_.push_back(&traced);
  }
  // The compiler drops a binding the code never touches; where that is a
  // shader's last, the dispatch's unused binding there has nothing to fill.
  for (size_t index = 0; index < dispatches_.size(); ++index) {
    std::vector<Binding>& bindings = dispatches_[index].bindings;
    while (bindings.size() > pipelines_[index]->interface().bindings.size() && bindings.back().unused)
      bindings.pop_back();
  }
  AssignScratch();
  std::map<VkDescriptorType, uint32_t> descriptor_counts;
  for (size_t index = 0; index < dispatches_.size(); ++index) {
    const Dispatch& d = dispatches_[index];
    const ShaderInterface& shader = pipelines_[index]->interface();
    if (d.bindings.size() != shader.bindings.size())
      throw Error("Dispatch '" + d.label + "' binds " + std::to_string(d.bindings.size()) + " buffers; shader '" +
                  d.pipeline->shader_name() + "' declares " + std::to_string(shader.bindings.size()) + ".");
    if (d.push_constants.size() != shader.push_constant_bytes)
      throw Error("Dispatch '" + d.label + "' pushes " + std::to_string(d.push_constants.size()) +
                  " bytes of constants; shader '" + d.pipeline->shader_name() + "' declares " +
                  std::to_string(shader.push_constant_bytes) + ".");
    for (int axis = 0; axis < 3; ++axis)
      if (d.workgroups[axis] > info.max_workgroup_count[axis])
        throw Error("Dispatch '" + d.label + "' needs " + std::to_string(d.workgroups[axis]) +
                    " workgroups along axis " + std::to_string(axis) + "; '" + info.name + "' allows " +
                    std::to_string(info.max_workgroup_count[axis]) + ".");
    for (size_t b = 0; b < d.bindings.size(); ++b) {
      const Binding& binding = d.bindings[b];
      if (binding.buffer == nullptr) throw Error("Dispatch '" + d.label + "' leaves binding " + std::to_string(b) + " empty.");
      uint64_t last_offset = binding.offset + uint64_t(slots - 1) * binding.slot_stride;
      uint64_t size = binding.size ? binding.size : binding.buffer->size() - binding.offset;
      if (last_offset + size > binding.buffer->size() ||
          last_offset % std::max<uint64_t>(1, info.min_storage_buffer_offset_alignment) != 0)
        throw Error("Dispatch '" + d.label + "' binding " + std::to_string(b) + " is outside buffer '" +
                    binding.buffer->name() + "' or misaligned.");
      // The barriers below are derived from whether each binding is written,
      // and synchronization validation takes it to be written wherever the
      // code can write it: the two must agree. (Write vs read-write makes no
      // difference to either: a write already orders every later access.)
      const bool code_writes = shader.uses[b].writes;
      if (!binding.unused && code_writes != (binding.access != Access::kRead))
        throw Error("Dispatch '" + d.label + "' declares binding " + std::to_string(b) + " (buffer '" +
                    binding.buffer->name() + "') " + AccessName(binding.access) + ", but the code of shader '" +
                    d.pipeline->shader_name() + "' " + (code_writes ? "writes it" : "only reads it") +
                    " (however it is guarded). Declare what the code does, or, where the dispatch never "
                    "touches the binding, bind vk::UnusedBinding().");
      descriptor_counts[DescriptorTypeOf(shader.bindings[b])] += slots;
    }
  }

  // Barriers: a dispatch waits when it touches memory an earlier one wrote
  // (read-after-write, write-after-write), or writes memory an earlier one read
  // (write-after-read), since the last barrier. Independent dispatches overlap.
  // Unused bindings' scratch regions are touched by one binding each: they
  // never need a barrier.
  std::vector<Range> written, read;
  barrier_before_.assign(dispatches_.size(), false);
  for (size_t i = 0; i < dispatches_.size(); ++i) {
    bool wait = false;
    for (const Binding& binding : dispatches_[i].bindings) {
      if (binding.unused) continue;
      Range range = RangeOf(binding);
      wait |= AnyOverlap(range, written);
      if (binding.access != Access::kRead) wait |= AnyOverlap(range, read);
    }
    if (wait) {
      barrier_before_[i] = true;
      written.clear();
      read.clear();
    }
    for (const Binding& binding : dispatches_[i].bindings)
      if (!binding.unused) (binding.access == Access::kRead ? read : written).push_back(RangeOf(binding));
  }

  size_t set_count = size_t(slots) * dispatches_.size();
  if (set_count == 0) return;
  std::vector<VkDescriptorPoolSize> sizes;
  for (const auto& [type, count] : descriptor_counts) sizes.push_back({type, count});
  VkDescriptorPoolCreateInfo pool_create{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
  pool_create.maxSets = static_cast<uint32_t>(set_count);
  pool_create.poolSizeCount = static_cast<uint32_t>(sizes.size());
  pool_create.pPoolSizes = sizes.data();
  VkDescriptorPool pool = VK_NULL_HANDLE;
  Check(vkCreateDescriptorPool(device, &pool_create, nullptr, &pool), "vkCreateDescriptorPool");
  descriptor_pool_ = UniqueDescriptorPool(device, pool);

  std::vector<VkDescriptorSetLayout> layouts;
  for (uint32_t s = 0; s < slots; ++s)
    for (const Pipeline* pipeline : pipelines_) layouts.push_back(pipeline->set_layout());
  VkDescriptorSetAllocateInfo allocate{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
  allocate.descriptorPool = pool;
  allocate.descriptorSetCount = static_cast<uint32_t>(layouts.size());
  allocate.pSetLayouts = layouts.data();
  descriptor_sets_.resize(layouts.size());
  Check(vkAllocateDescriptorSets(device, &allocate, descriptor_sets_.data()), "vkAllocateDescriptorSets");

  for (uint32_t s = 0; s < slots; ++s) {
    for (size_t i = 0; i < dispatches_.size(); ++i) {
      const Dispatch& d = dispatches_[i];
      VkDescriptorSet set = descriptor_sets_[s * dispatches_.size() + i];
      context.SetObjectName(VK_OBJECT_TYPE_DESCRIPTOR_SET, reinterpret_cast<uint64_t>(set), d.label);
      std::vector<VkDescriptorBufferInfo> buffer_infos(d.bindings.size());
      std::vector<VkBufferView> views(d.bindings.size());
      std::vector<VkWriteDescriptorSet> writes(d.bindings.size());
      for (size_t b = 0; b < d.bindings.size(); ++b) {
        const Binding& binding = d.bindings[b];
        uint64_t offset = binding.offset + uint64_t(s) * binding.slot_stride;
        uint64_t size = binding.size ? binding.size : VK_WHOLE_SIZE;
        VkWriteDescriptorSet& write = writes[b];
        write = {VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
        write.dstSet = set;
        write.dstBinding = static_cast<uint32_t>(b);
        write.descriptorCount = 1;
        const DescriptorKind kind = pipelines_[i]->interface().bindings[b];
        if (kind != DescriptorKind::kUniformTexelBuffer) {
          buffer_infos[b] = {binding.buffer->handle(), offset, size};
          write.descriptorType = DescriptorTypeOf(kind);
          write.pBufferInfo = &buffer_infos[b];
        } else {
          VkBufferViewCreateInfo view_create{VK_STRUCTURE_TYPE_BUFFER_VIEW_CREATE_INFO};
          view_create.buffer = binding.buffer->handle();
          view_create.format = binding.texel_format;
          view_create.offset = offset;
          view_create.range = size;
          VkBufferView view = VK_NULL_HANDLE;
          Check(vkCreateBufferView(device, &view_create, nullptr, &view), "vkCreateBufferView");
          texel_views_.emplace_back(device, view);
          views[b] = view;
          write.descriptorType = VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER;
          write.pTexelBufferView = &views[b];
        }
      }
      vkUpdateDescriptorSets(device, static_cast<uint32_t>(writes.size()), writes.data(), 0, nullptr);
    }
  }

  uint32_t per_dispatch_queries = static_cast<uint32_t>(set_count);
  if (info.timestamp_valid_bits > 0) {
    query_pool_ = CreateQueryPool(device, VK_QUERY_TYPE_TIMESTAMP, static_cast<uint32_t>(slots * (dispatches_.size() + 1)));
    if (options_.dispatch_intervals || options_.trace_workgroups)
      start_query_pool_ = CreateQueryPool(device, VK_QUERY_TYPE_TIMESTAMP, per_dispatch_queries);
  }
  if (options_.invocation_counts)
    statistics_query_pool_ = CreateQueryPool(device, VK_QUERY_TYPE_PIPELINE_STATISTICS, per_dispatch_queries,
                                             VK_QUERY_PIPELINE_STATISTIC_COMPUTE_SHADER_INVOCATIONS_BIT);
  if (options_.trace_workgroups) CreateTraceBuffer();
}

void Sequence::AssignScratch() {
  uint64_t unused = 0;
  for (const Dispatch& d : dispatches_)
    for (const Binding& binding : d.bindings) unused += binding.unused;
  if (unused == 0) return;
  // Each region starts where a storage buffer or a texel view may, and holds
  // a whole 16-byte texel and any fixed-size block a shader declares.
  VkPhysicalDeviceProperties properties{};
  vkGetPhysicalDeviceProperties(context_->physical_device(), &properties);
  const uint64_t region = std::max<uint64_t>({256, context_->info().min_storage_buffer_offset_alignment,
                                              properties.limits.minTexelBufferOffsetAlignment});
  scratch_ = std::make_unique<Buffer>(*context_, unused * region, "scratch of unused bindings");
  uint64_t next = 0;
  for (Dispatch& d : dispatches_)
    for (Binding& binding : d.bindings)
      if (binding.unused) {
        binding.buffer = scratch_.get();
        binding.offset = next;
        binding.size = region;
        binding.slot_stride = 0;  // every slot's recording starts with a barrier
        next += region;
      }
}

void Sequence::CreateTraceBuffer() {
  const DeviceInfo& info = context_->info();
  VkDevice device = context_->device();
  size_t n = dispatches_.size();
  // Regions start at multiples of the offset alignment, and of 16 bytes (one
  // record) so vkCmdFillBuffer's 4-byte rule holds too.
  uint64_t alignment = std::max<uint64_t>(16, info.min_storage_buffer_offset_alignment);
  auto align = [&](uint64_t v) { return (v + alignment - 1) / alignment * alignment; };
  trace_record_counts_.clear();
  std::vector<uint64_t> slot_offsets;
  uint64_t offset = 0;
  for (const Dispatch& d : dispatches_) {
    uint64_t workgroups = uint64_t(d.workgroups[0]) * d.workgroups[1] * d.workgroups[2];
    uint32_t records = static_cast<uint32_t>(std::min<uint64_t>(workgroups, options_.max_trace_workgroups));
    trace_record_counts_.push_back(records);
    slot_offsets.push_back(offset);
    offset = align(offset + uint64_t(records) * 16);
  }
  trace_slot_bytes_ = offset;
  uint64_t total = trace_slot_bytes_ * slots_;
  if (total > info.max_storage_buffer_range)
    throw Error("The workgroup trace needs " + FormatBytes(total) + " of records, more than '" + info.name +
                "' lets one buffer hold (" + FormatBytes(info.max_storage_buffer_range) +
                "); lower SequenceOptions::max_trace_workgroups.");
  // Host-visible, so ReadWorkgroupTrace maps it directly.
  trace_buffer_ = Buffer(*context_, total, "workgroup trace", BufferUse::kStaging);
  trace_offsets_.resize(size_t(slots_) * n);
  for (uint32_t s = 0; s < slots_; ++s)
    for (size_t i = 0; i < n; ++i) trace_offsets_[s * n + i] = s * trace_slot_bytes_ + slot_offsets[i];

  VkDescriptorPoolSize size{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, static_cast<uint32_t>(slots_ * n)};
  VkDescriptorPoolCreateInfo pool_create{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
  pool_create.maxSets = static_cast<uint32_t>(slots_ * n);
  pool_create.poolSizeCount = 1;
  pool_create.pPoolSizes = &size;
  VkDescriptorPool pool = VK_NULL_HANDLE;
  Check(vkCreateDescriptorPool(device, &pool_create, nullptr, &pool), "vkCreateDescriptorPool (trace)");
  trace_descriptor_pool_ = UniqueDescriptorPool(device, pool);
  std::vector<VkDescriptorSetLayout> layouts;
  for (uint32_t s = 0; s < slots_; ++s)
    for (const Pipeline* pipeline : pipelines_) layouts.push_back(pipeline->trace_set_layout());
  VkDescriptorSetAllocateInfo allocate{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
  allocate.descriptorPool = pool;
  allocate.descriptorSetCount = static_cast<uint32_t>(layouts.size());
  allocate.pSetLayouts = layouts.data();
  trace_sets_.resize(layouts.size());
  Check(vkAllocateDescriptorSets(device, &allocate, trace_sets_.data()), "vkAllocateDescriptorSets (trace)");
  std::vector<VkDescriptorBufferInfo> buffer_infos(trace_sets_.size());
  std::vector<VkWriteDescriptorSet> writes(trace_sets_.size());
  for (size_t k = 0; k < trace_sets_.size(); ++k) {
    buffer_infos[k] = {trace_buffer_.handle(), trace_offsets_[k], uint64_t(trace_record_counts_[k % n]) * 16};
    writes[k] = {VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
    writes[k].dstSet = trace_sets_[k];
    writes[k].dstBinding = 0;
    writes[k].descriptorCount = 1;
    writes[k].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
    writes[k].pBufferInfo = &buffer_infos[k];
  }
  vkUpdateDescriptorSets(device, static_cast<uint32_t>(writes.size()), writes.data(), 0, nullptr);
}

uint32_t Sequence::barriers_per_slot() const {
  return static_cast<uint32_t>(std::count(barrier_before_.begin() + (barrier_before_.empty() ? 0 : 1),
                                          barrier_before_.end(), true));
}

void Sequence::Record(VkCommandBuffer cb, uint32_t slot, bool timed) const {
  assert(slot < slots_ && "slot out of range");
  assert((timed || !start_query_pool_) && "dispatch intervals are timestamps: record them timed");
  uint32_t n = static_cast<uint32_t>(dispatches_.size());
  uint32_t first_query = slot * (n + 1);
  const VkQueryPool query_pool = timed ? query_pool_.get() : VK_NULL_HANDLE;
  if (query_pool) vkCmdResetQueryPool(cb, query_pool, first_query, n + 1);
  if (start_query_pool_) vkCmdResetQueryPool(cb, start_query_pool_.get(), slot * n, n);
  if (statistics_query_pool_) vkCmdResetQueryPool(cb, statistics_query_pool_.get(), slot * n, n);
  if (trace_buffer_.handle() != VK_NULL_HANDLE && trace_slot_bytes_ > 0) {
    // Zero this slot's records, so a workgroup that records nothing reads 0.
    RecordComputeToTransferBarrier(cb);
    vkCmdFillBuffer(cb, trace_buffer_.handle(), uint64_t(slot) * trace_slot_bytes_, trace_slot_bytes_, 0);
    RecordTransferToComputeBarrier(cb);
  }
  // Whatever ran before in this command buffer (an earlier step) may have
  // written what the first dispatches read.
  RecordComputeBarrier(cb);
  if (query_pool) {
    vkCmdWriteTimestamp(cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, query_pool, first_query);
    if (!start_query_pool_) RecordTimestampFence(cb);  // else the start timestamp's fence follows at once
  }
  VkPipeline bound = VK_NULL_HANDLE;
  for (uint32_t i = 0; i < n; ++i) {
    const Dispatch& d = dispatches_[i];
    const Pipeline& pipeline = *pipelines_[i];
    // Derived in the constructor: this dispatch touches what an earlier one wrote
    // (or writes what one read) since the last barrier.
    if (barrier_before_[i] && i > 0) RecordComputeBarrier(cb);
    // The start: written once earlier compute work (and the barrier) is done.
    if (start_query_pool_) {
      vkCmdWriteTimestamp(cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, start_query_pool_.get(), slot * n + i);
      RecordTimestampFence(cb);  // read the clock now, not after this dispatch (see RecordTimestampFence)
    }
    if (pipeline.handle() != bound) {
      vkCmdBindPipeline(cb, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline.handle());
      bound = pipeline.handle();
    }
    VkDescriptorSet set = descriptor_sets_[slot * n + i];
    vkCmdBindDescriptorSets(cb, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline.layout(), 0, 1, &set, 0, nullptr);
    if (!trace_sets_.empty())
      vkCmdBindDescriptorSets(cb, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline.layout(), 1, 1, &trace_sets_[slot * n + i],
                              0, nullptr);
    if (!d.push_constants.empty())
      vkCmdPushConstants(cb, pipeline.layout(), VK_SHADER_STAGE_COMPUTE_BIT, 0,
                         static_cast<uint32_t>(d.push_constants.size()), d.push_constants.data());
    if (statistics_query_pool_) vkCmdBeginQuery(cb, statistics_query_pool_.get(), slot * n + i, 0);
    vkCmdDispatch(cb, d.workgroups[0], d.workgroups[1], d.workgroups[2]);
    if (statistics_query_pool_) vkCmdEndQuery(cb, statistics_query_pool_.get(), slot * n + i);
    if (query_pool) {
      vkCmdWriteTimestamp(cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, query_pool, first_query + i + 1);
      // A barrier before the next dispatch (or its start timestamp's fence)
      // closes this timestamp as well; otherwise close it here.
      bool next_closes = i + 1 < n && (barrier_before_[i + 1] || start_query_pool_);
      if (!next_closes) RecordTimestampFence(cb);
    }
  }
}

std::vector<double> Sequence::ReadDispatchTimesNs(uint32_t slot) const {
  std::vector<double> times(dispatches_.size(), 0.0);
  if (!query_pool_ || dispatches_.empty()) return times;
  uint32_t count = static_cast<uint32_t>(dispatches_.size() + 1);
  std::vector<uint64_t> ticks(count);
  Check(vkGetQueryPoolResults(context_->device(), query_pool_.get(), slot * count, count,
                              ticks.size() * sizeof(uint64_t), ticks.data(), sizeof(uint64_t),
                              VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT),
        "vkGetQueryPoolResults");
  uint32_t bits = context_->info().timestamp_valid_bits;
  uint64_t mask = bits >= 64 ? ~0ull : ((1ull << bits) - 1);
  for (size_t i = 0; i < dispatches_.size(); ++i) {
    uint64_t delta = (ticks[i + 1] - ticks[i]) & mask;  // masked: survives a counter wrap
    times[i] = double(delta) * context_->info().timestamp_period_ns;
  }
  return times;
}

std::vector<DispatchInterval> Sequence::ReadDispatchIntervals(uint32_t slot) const {
  if (!options_.dispatch_intervals && !options_.trace_workgroups)
    throw Error("ReadDispatchIntervals needs a Sequence made with SequenceOptions::dispatch_intervals.");
  std::vector<DispatchInterval> intervals(dispatches_.size());
  if (!query_pool_ || !start_query_pool_ || dispatches_.empty()) return intervals;
  uint32_t n = static_cast<uint32_t>(dispatches_.size());
  std::vector<uint64_t> ends = ReadQueries(context_->device(), query_pool_.get(), slot * (n + 1), n + 1);
  std::vector<uint64_t> starts = ReadQueries(context_->device(), start_query_pool_.get(), slot * n, n);
  uint64_t mask = TimestampMask(context_->info().timestamp_valid_bits);
  double period = context_->info().timestamp_period_ns;
  // Relative to the slot's first timestamp, masked: a counter that wraps
  // during the slot still gives increasing times.
  uint64_t base = ends[0] & mask;
  auto ns = [&](uint64_t ticks) { return double(base + ((ticks - base) & mask)) * period; };
  for (uint32_t i = 0; i < n; ++i) intervals[i] = {ns(starts[i]), ns(ends[i + 1])};
  return intervals;
}

std::vector<uint64_t> Sequence::ReadInvocationCounts(uint32_t slot) const {
  if (!statistics_query_pool_)
    throw Error("ReadInvocationCounts needs a Sequence made with SequenceOptions::invocation_counts.");
  uint32_t n = static_cast<uint32_t>(dispatches_.size());
  return ReadQueries(context_->device(), statistics_query_pool_.get(), slot * n, n);
}

std::vector<DispatchTrace> Sequence::ReadWorkgroupTrace(uint32_t slot) const {
  if (!options_.trace_workgroups)
    throw Error("ReadWorkgroupTrace needs a Sequence made with SequenceOptions::trace_workgroups.");
  size_t n = dispatches_.size();
  std::vector<DispatchTrace> traces(n);
  if (n == 0) return traces;
  std::vector<uint32_t> words(trace_slot_bytes_ / 4);
  trace_buffer_.DownloadVector(std::span<uint32_t>(words), uint64_t(slot) * trace_slot_bytes_);
  std::vector<DispatchInterval> intervals;
  if (start_query_pool_) intervals = ReadDispatchIntervals(slot);
  const double period = context_->info().timestamp_period_ns;
  for (size_t i = 0; i < n; ++i) {
    const Dispatch& d = dispatches_[i];
    DispatchTrace& trace = traces[i];
    trace.workgroups = uint64_t(d.workgroups[0]) * d.workgroups[1] * d.workgroups[2];
    uint32_t count = trace_record_counts_[i];
    const uint32_t* raw = words.data() + (trace_offsets_[slot * n + i] - uint64_t(slot) * trace_slot_bytes_) / 4;
    // Devices whose clock has no upper half (lavapipe reads it as 0) wrap every
    // 2^32 ticks; such values are unwrapped next to a reference.
    bool upper_halves_zero = true;
    for (uint32_t r = 0; r < count; ++r) upper_halves_zero &= raw[4 * r + 1] == 0 && raw[4 * r + 3] == 0;
    auto build = [&](uint64_t reference) {
      trace.records.assign(count, {});
      for (uint32_t r = 0; r < count; ++r) {
        const uint32_t* v = raw + 4 * r;
        WorkgroupRecord& record = trace.records[r];
        record.workgroup = r;
        record.start_ticks = upper_halves_zero ? UnwrapNear(v[0], reference) : (uint64_t(v[1]) << 32 | v[0]);
        record.end_ticks = upper_halves_zero ? UnwrapNear(v[2], record.start_ticks) : (uint64_t(v[3]) << 32 | v[2]);
      }
    };
    if (count == 0) continue;
    bool have_interval = !intervals.empty() && period > 0 && intervals[i].end_ns >= intervals[i].start_ns;
    if (have_interval) {
      // First guess: the shader clock runs on the timestamp clock (as on
      // lavapipe). Check that every record lies inside the dispatch's interval,
      // give or take the timestamps' own slack.
      double start_ticks = intervals[i].start_ns / period, end_ticks = intervals[i].end_ns / period;
      double duration = end_ticks - start_ticks;
      double tolerance = 100e3 / period + 0.1 * duration;
      build(static_cast<uint64_t>(start_ticks));
      bool inside = std::all_of(trace.records.begin(), trace.records.end(), [&](const WorkgroupRecord& r) {
        return double(r.start_ticks) >= start_ticks - tolerance && double(r.end_ticks) <= end_ticks + tolerance &&
               r.start_ticks <= r.end_ticks;
      });
      if (inside) {
        trace.ns_per_tick = period;
        continue;
      }
    }
    // Another clock: unwrap next to the first record, and estimate its tick
    // length from the dispatch's duration (the records span a little less
    // than the dispatch, so this slightly overestimates a tick).
    build(upper_halves_zero ? uint64_t(raw[0]) + (1ull << 32) : 0);
    uint64_t first = UINT64_MAX, last = 0;
    for (const WorkgroupRecord& r : trace.records) first = std::min(first, r.start_ticks), last = std::max(last, r.end_ticks);
    trace.ns_per_tick = have_interval && last > first ? (intervals[i].end_ns - intervals[i].start_ns) / double(last - first) : 0;
  }
  return traces;
}

void RecordComputeToHostBarrier(VkCommandBuffer cb) {
  VkMemoryBarrier barrier{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  barrier.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
  barrier.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
  vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                       VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &barrier, 0, nullptr, 0, nullptr);
}

void RecordTransferToComputeBarrier(VkCommandBuffer cb) {
  VkMemoryBarrier barrier{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  barrier.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT | VK_ACCESS_HOST_WRITE_BIT;
  barrier.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT;
  vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_TRANSFER_BIT | VK_PIPELINE_STAGE_HOST_BIT,
                       VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &barrier, 0, nullptr, 0, nullptr);
}

}  // namespace ts::vk
