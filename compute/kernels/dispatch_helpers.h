// Small helpers the kernel families share when they build a vk::Dispatch:
// workgroup sizes within the device's limits, grid-stride workgroup counts and
// texel reads. (An absent optional tensor binds vk::UnusedBinding().)
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>

#include "compute/kernels/tensor_ref.h"
#include "compute/vk/device_info.h"

namespace ts::kernels {

// The largest power of two <= `wanted` that the device allows as a 1D workgroup.
inline uint32_t LimitedGroupSize(const vk::DeviceInfo& info, uint32_t wanted) {
  return std::bit_floor(std::max(1u, std::min({wanted, info.max_workgroup_invocations, info.max_workgroup_size[0]})));
}

// Workgroups along `axis` for a grid-stride loop over `items`: one invocation
// per item where the device allows that many workgroups, fewer (each looping)
// where it does not. Never 0, so an empty tensor still makes a valid dispatch.
inline uint32_t GridStrideGroups(const vk::DeviceInfo& info, uint64_t items, uint32_t group_size, int axis = 0) {
  uint64_t groups = (items + group_size - 1) / group_size;
  return static_cast<uint32_t>(std::clamp<uint64_t>(groups, 1, info.max_workgroup_count[axis]));
}

// Whether `t`'s view, in every slot, starts at a multiple of `alignment` bytes.
inline bool Aligned(const TensorRef& t, uint64_t alignment) {
  return t.offset_bytes % alignment == 0 && t.slot_stride_bytes % alignment == 0;
}

// Whether `t` can be read as a uniform texel buffer of `texel_bytes`-byte
// texels on this device: its offset and slot stride multiples of
// minTexelBufferOffsetAlignment (and of the texel size), its texels within
// maxTexelBufferElements. (Texel reads are vectorised on lavapipe, where
// storage-buffer loads go lane by lane.)
inline bool TexelViewFits(VkPhysicalDevice device, const TensorRef& t, uint32_t texel_bytes) {
  VkPhysicalDeviceProperties properties{};
  vkGetPhysicalDeviceProperties(device, &properties);
  const uint64_t alignment = std::max<uint64_t>(properties.limits.minTexelBufferOffsetAlignment, texel_bytes);
  return Aligned(t, alignment) && t.size_bytes() / texel_bytes <= properties.limits.maxTexelBufferElements;
}

// A read of `t` as a uniform texel buffer of `format` (`texel_bytes` per
// texel): whole texels only, at least one (a view's range is a multiple of
// its texel size).
inline vk::Binding TexelRead(const TensorRef& t, VkFormat format, uint32_t texel_bytes) {
  vk::Binding binding = t.Bind(vk::Access::kRead);
  binding.texel_format = format;
  binding.size = std::max<uint64_t>(texel_bytes, binding.size / texel_bytes * texel_bytes);
  return binding;
}

// Whether a kernel's vec4 loads of `t` should go through an RGBA32F texel
// view: on software drivers (lavapipe gathers a texel fetch for all lanes at
// once, but loops over lanes, bounds-checking each, for a storage-buffer load;
// 3-4x faster GEMMs at 256 and 512 bits, measured) where the view fits.
inline bool Vec4TexelReadsPay(const vk::DeviceInfo& info, VkPhysicalDevice device, const TensorRef& t) {
  return info.is_software() && TexelViewFits(device, t, 16);
}

// The texel binding of `t` for a kernel's vec4 texel loads, or an unused one.
inline vk::Binding Vec4TexelBinding(const TensorRef& t, bool texel) {
  return texel ? TexelRead(t, VK_FORMAT_R32G32B32A32_SFLOAT, 16) : vk::UnusedBinding();
}

}  // namespace ts::kernels
