#include "compute/vk/buffer.h"

#include <cassert>
#include <cstdio>
#include <cstring>

#include "compute/common/error.h"
#include "compute/vk/check.h"
#include "compute/vk/context.h"

namespace ts::vk {
namespace {

// The index of a memory type allowed by `type_bits` with all of `required`;
// among those, one with `preferred` too, and one without `avoided`, if any.
int FindMemoryType(const VkPhysicalDeviceMemoryProperties& memory, uint32_t type_bits,
                   VkMemoryPropertyFlags required, VkMemoryPropertyFlags preferred,
                   VkMemoryPropertyFlags avoided) {
  int best = -1, best_score = -1;
  for (uint32_t i = 0; i < memory.memoryTypeCount; ++i) {
    if (!(type_bits & (1u << i))) continue;
    VkMemoryPropertyFlags flags = memory.memoryTypes[i].propertyFlags;
    if ((flags & required) != required) continue;
    int score = ((flags & preferred) == preferred ? 2 : 0) + ((flags & avoided) == 0 ? 1 : 0);
    if (score > best_score) best = static_cast<int>(i), best_score = score;
  }
  return best;
}

}  // namespace

std::string FormatBytes(uint64_t bytes) {
  char text[32];
  if (bytes < 1024)
    std::snprintf(text, sizeof text, "%llu B", static_cast<unsigned long long>(bytes));
  else if (bytes < (1ull << 20))
    std::snprintf(text, sizeof text, "%.1f KiB", bytes / 1024.0);
  else if (bytes < (1ull << 30))
    std::snprintf(text, sizeof text, "%.1f MiB", bytes / double(1ull << 20));
  else if (bytes < (1ull << 40))
    std::snprintf(text, sizeof text, "%.2f GiB", bytes / double(1ull << 30));
  else
    std::snprintf(text, sizeof text, "%.2f TiB", bytes / double(1ull << 40));
  return text;
}

Buffer::Buffer(Context& context, uint64_t size_bytes, std::string name, BufferUse use)
    : context_(&context), name_(std::move(name)), size_(size_bytes) {
  VkDevice device = context.device();
  const DeviceInfo& info = context.info();
  Require(size_bytes > 0, "Buffer '" + name_ + "' has size 0; every tensor needs at least one element.");
  if (use == BufferUse::kDevice && size_bytes > info.max_storage_buffer_range)
    throw Error("Buffer '" + name_ + "' needs " + FormatBytes(size_bytes) + ", but '" + info.name +
                "' lets a shader see at most " + FormatBytes(info.max_storage_buffer_range) +
                " of one buffer (maxStorageBufferRange). Use a smaller batch or a smaller layer.");

  VkBufferCreateInfo create{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
  create.size = size_bytes;
  create.usage = VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
  if (use == BufferUse::kDevice)
    create.usage |= VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER_BIT;
  else
    create.usage |= VK_BUFFER_USAGE_STORAGE_BUFFER_BIT;
  create.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
  VkBuffer buffer = VK_NULL_HANDLE;
  VkResult created = vkCreateBuffer(device, &create, nullptr, &buffer);
  if (created == VK_ERROR_OUT_OF_DEVICE_MEMORY || created == VK_ERROR_OUT_OF_HOST_MEMORY)
    throw Error("Out of device memory: buffer '" + name_ + "' asks for " + FormatBytes(size_bytes) +
                ", but the largest device-local heap of '" + info.name + "' has " +
                FormatBytes(info.device_local_bytes()) + " (driver said " + ResultName(created) +
                "). Use a smaller batch, a smaller model or fewer samples.");
  Check(created, "vkCreateBuffer for '" + name_ + "'");
  buffer_ = UniqueBuffer(device, buffer);
  context.SetObjectName(VK_OBJECT_TYPE_BUFFER, reinterpret_cast<uint64_t>(buffer), name_);

  VkMemoryRequirements requirements{};
  vkGetBufferMemoryRequirements(device, buffer, &requirements);
  const VkPhysicalDeviceMemoryProperties& memory = context.memory_properties();
  int type = -1;
  if (use == BufferUse::kDevice) {
    // Device-local; host-visible only where it comes for free (UMA, software).
    bool has_plain_device_local = FindMemoryType(memory, requirements.memoryTypeBits,
                                                 VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, 0, 0) >= 0;
    type = FindMemoryType(memory, requirements.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT,
                          info.type == VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU ? 0 : VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT,
                          info.type == VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU ? VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT : 0);
    if (!has_plain_device_local)
      type = FindMemoryType(memory, requirements.memoryTypeBits, 0, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, 0);
  } else {
    type = FindMemoryType(memory, requirements.memoryTypeBits,
                          VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT,
                          VK_MEMORY_PROPERTY_HOST_CACHED_BIT, 0);
  }
  if (type < 0) throw Error("No suitable Vulkan memory type for buffer '" + name_ + "'.");
  const VkMemoryType& memory_type = memory.memoryTypes[type];
  uint64_t heap_size = memory.memoryHeaps[memory_type.heapIndex].size;
  std::string heap_text = "heap " + std::to_string(memory_type.heapIndex) + " of '" + info.name + "' has " +
                          FormatBytes(heap_size);
  if (requirements.size > heap_size)
    throw Error("Out of device memory: buffer '" + name_ + "' asks for " + FormatBytes(requirements.size) +
                ", but " + heap_text + " in all. Use a smaller batch, a smaller model or fewer samples.");

  VkMemoryAllocateInfo allocate{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
  allocate.allocationSize = requirements.size;
  allocate.memoryTypeIndex = static_cast<uint32_t>(type);
  VkDeviceMemory allocation = VK_NULL_HANDLE;
  VkResult result = vkAllocateMemory(device, &allocate, nullptr, &allocation);
  if (result == VK_ERROR_OUT_OF_DEVICE_MEMORY || result == VK_ERROR_OUT_OF_HOST_MEMORY)
    throw Error("Out of device memory: buffer '" + name_ + "' asks for " + FormatBytes(requirements.size) +
                " and the driver refused (" + ResultName(result) + "); " + heap_text +
                " in all, part of it already in use. Use a smaller batch or model.");
  Check(result, "vkAllocateMemory for '" + name_ + "'");
  memory_ = UniqueMemory(device, allocation);
  Check(vkBindBufferMemory(device, buffer, allocation, 0), "vkBindBufferMemory for '" + name_ + "'");

  if (memory_type.propertyFlags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) {
    Check(vkMapMemory(device, allocation, 0, VK_WHOLE_SIZE, 0, &mapped_), "vkMapMemory for '" + name_ + "'");
    coherent_ = (memory_type.propertyFlags & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT) != 0;
  }
}

void Buffer::Upload(std::span<const std::byte> bytes, uint64_t offset) {
  assert(offset + bytes.size() <= size_ && "upload past the end of the buffer");
  if (bytes.empty()) return;
  if (mapped_) {
    std::memcpy(static_cast<std::byte*>(mapped_) + offset, bytes.data(), bytes.size());
    if (!coherent_) {
      // Non-coherent memory: flush whole atoms so the device sees the write.
      VkMappedMemoryRange range{VK_STRUCTURE_TYPE_MAPPED_MEMORY_RANGE};
      range.memory = memory_.get();
      range.size = VK_WHOLE_SIZE;
      Check(vkFlushMappedMemoryRanges(context_->device(), 1, &range), "vkFlushMappedMemoryRanges");
    }
    return;
  }
  Buffer staging(*context_, bytes.size(), name_ + " (upload staging)", BufferUse::kStaging);
  std::memcpy(staging.mapped(), bytes.data(), bytes.size());
  context_->RunOnce([&](VkCommandBuffer cb) {
    VkBufferCopy region{0, offset, bytes.size()};
    vkCmdCopyBuffer(cb, staging.handle(), buffer_.get(), 1, &region);
  });
}

void Buffer::Download(std::span<std::byte> bytes, uint64_t offset) const {
  assert(offset + bytes.size() <= size_ && "download past the end of the buffer");
  if (bytes.empty()) return;
  if (mapped_) {
    if (!coherent_) {
      VkMappedMemoryRange range{VK_STRUCTURE_TYPE_MAPPED_MEMORY_RANGE};
      range.memory = memory_.get();
      range.size = VK_WHOLE_SIZE;
      Check(vkInvalidateMappedMemoryRanges(context_->device(), 1, &range), "vkInvalidateMappedMemoryRanges");
    }
    std::memcpy(bytes.data(), static_cast<const std::byte*>(mapped_) + offset, bytes.size());
    return;
  }
  Buffer staging(*context_, bytes.size(), name_ + " (download staging)", BufferUse::kStaging);
  context_->RunOnce([&](VkCommandBuffer cb) {
    VkBufferCopy region{offset, 0, bytes.size()};
    vkCmdCopyBuffer(cb, buffer_.get(), staging.handle(), 1, &region);
    // Make the copy's writes visible to the host read below.
    VkMemoryBarrier barrier{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    barrier.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
    barrier.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
    vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &barrier, 0,
                         nullptr, 0, nullptr);
  });
  std::memcpy(bytes.data(), staging.mapped(), bytes.size());
}

}  // namespace ts::vk
