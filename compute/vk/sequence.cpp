#include "compute/vk/sequence.h"

#include <algorithm>
#include <cassert>

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

void RecordComputeBarrier(VkCommandBuffer cb) {
  VkMemoryBarrier barrier{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  barrier.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT;
  barrier.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT;
  vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1,
                       &barrier, 0, nullptr, 0, nullptr);
}

}  // namespace

uint64_t Dispatch::invocations() const {
  return uint64_t(workgroups[0]) * workgroups[1] * workgroups[2] * pipeline->invocations_per_workgroup();
}

Sequence::Sequence(Context& context, std::vector<Dispatch> dispatches, uint32_t slots, const SequenceOptions& options)
    : context_(&context), dispatches_(std::move(dispatches)), slots_(slots), options_(options) {
  const DeviceInfo& info = context.info();
  VkDevice device = context.device();
  uint32_t storage_count = 0, texel_count = 0;
  for (const Dispatch& d : dispatches_) {
    const ShaderInterface& shader = d.pipeline->interface();
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
      (shader.bindings[b] == DescriptorKind::kStorageBuffer ? storage_count : texel_count) += slots;
    }
  }

  // Barriers: a dispatch waits when it touches memory an earlier one wrote
  // (read-after-write, write-after-write), or writes memory an earlier one read
  // (write-after-read), since the last barrier. Independent dispatches overlap.
  std::vector<Range> written, read;
  barrier_before_.assign(dispatches_.size(), false);
  for (size_t i = 0; i < dispatches_.size(); ++i) {
    bool wait = false;
    for (const Binding& binding : dispatches_[i].bindings) {
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
      (binding.access == Access::kRead ? read : written).push_back(RangeOf(binding));
    // A read-write binding is also a read for write-after-read purposes.
    for (const Binding& binding : dispatches_[i].bindings)
      if (binding.access == Access::kReadWrite) read.push_back(RangeOf(binding));
  }

  size_t set_count = size_t(slots) * dispatches_.size();
  if (set_count == 0) return;
  std::vector<VkDescriptorPoolSize> sizes;
  if (storage_count) sizes.push_back({VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, storage_count});
  if (texel_count) sizes.push_back({VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER, texel_count});
  VkDescriptorPoolCreateInfo pool_create{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
  pool_create.maxSets = static_cast<uint32_t>(set_count);
  pool_create.poolSizeCount = static_cast<uint32_t>(sizes.size());
  pool_create.pPoolSizes = sizes.data();
  VkDescriptorPool pool = VK_NULL_HANDLE;
  Check(vkCreateDescriptorPool(device, &pool_create, nullptr, &pool), "vkCreateDescriptorPool");
  descriptor_pool_ = UniqueDescriptorPool(device, pool);

  std::vector<VkDescriptorSetLayout> layouts;
  for (uint32_t s = 0; s < slots; ++s)
    for (const Dispatch& d : dispatches_) layouts.push_back(d.pipeline->set_layout());
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
        if (d.pipeline->interface().bindings[b] == DescriptorKind::kStorageBuffer) {
          buffer_infos[b] = {binding.buffer->handle(), offset, size};
          write.descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
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

  if (info.timestamp_valid_bits > 0) {
    VkQueryPoolCreateInfo query_create{VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO};
    query_create.queryType = VK_QUERY_TYPE_TIMESTAMP;
    query_create.queryCount = static_cast<uint32_t>(slots * (dispatches_.size() + 1));
    VkQueryPool query_pool = VK_NULL_HANDLE;
    Check(vkCreateQueryPool(device, &query_create, nullptr, &query_pool), "vkCreateQueryPool");
    query_pool_ = UniqueQueryPool(device, query_pool);
  }
}

uint32_t Sequence::barriers_per_slot() const {
  return static_cast<uint32_t>(std::count(barrier_before_.begin() + (barrier_before_.empty() ? 0 : 1),
                                          barrier_before_.end(), true));
}

void Sequence::Record(VkCommandBuffer cb, uint32_t slot) const {
  assert(slot < slots_ && "slot out of range");
  uint32_t first_query = slot * static_cast<uint32_t>(dispatches_.size() + 1);
  if (query_pool_) vkCmdResetQueryPool(cb, query_pool_.get(), first_query, static_cast<uint32_t>(dispatches_.size() + 1));
  // Whatever ran before in this command buffer (an earlier step) may have
  // written what the first dispatches read.
  RecordComputeBarrier(cb);
  if (query_pool_) vkCmdWriteTimestamp(cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, query_pool_.get(), first_query);
  VkPipeline bound = VK_NULL_HANDLE;
  for (size_t i = 0; i < dispatches_.size(); ++i) {
    const Dispatch& d = dispatches_[i];
    // Derived in the constructor: this dispatch touches what an earlier one wrote
    // (or writes what one read) since the last barrier.
    if (barrier_before_[i] && i > 0) RecordComputeBarrier(cb);
    if (d.pipeline->handle() != bound) {
      vkCmdBindPipeline(cb, VK_PIPELINE_BIND_POINT_COMPUTE, d.pipeline->handle());
      bound = d.pipeline->handle();
    }
    VkDescriptorSet set = descriptor_sets_[slot * dispatches_.size() + i];
    vkCmdBindDescriptorSets(cb, VK_PIPELINE_BIND_POINT_COMPUTE, d.pipeline->layout(), 0, 1, &set, 0, nullptr);
    if (!d.push_constants.empty())
      vkCmdPushConstants(cb, d.pipeline->layout(), VK_SHADER_STAGE_COMPUTE_BIT, 0,
                         static_cast<uint32_t>(d.push_constants.size()), d.push_constants.data());
    vkCmdDispatch(cb, d.workgroups[0], d.workgroups[1], d.workgroups[2]);
    if (query_pool_)
      vkCmdWriteTimestamp(cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, query_pool_.get(),
                          first_query + static_cast<uint32_t>(i) + 1);
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
