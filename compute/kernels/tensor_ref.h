// A view of float (or uint32) elements inside a device buffer: what kernels bind.
#pragma once

#include <cstdint>

#include "compute/vk/sequence.h"

namespace ts::kernels {

struct TensorRef {
  const vk::Buffer* buffer = nullptr;
  uint64_t offset_bytes = 0;  // multiple of the device's minStorageBufferOffsetAlignment
  uint64_t count = 0;         // number of 4-byte elements
  uint64_t slot_stride_bytes = 0;  // per-step copies side by side (see vk::Sequence slots)

  uint64_t size_bytes() const { return count * 4; }
  bool empty() const { return count == 0; }
  // The binding of this view with the given access.
  vk::Binding Bind(vk::Access access) const { return {buffer, offset_bytes, count * 4, access, slot_stride_bytes}; }
};

// A whole buffer of 4-byte elements.
inline TensorRef WholeBuffer(const vk::Buffer& buffer) { return {&buffer, 0, buffer.size() / 4}; }

}  // namespace ts::kernels
