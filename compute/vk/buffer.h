// Device buffers. Each Buffer owns its VkBuffer and VkDeviceMemory.
//
// Memory choice: a buffer lives in device-local memory. When that memory is also
// host-visible (integrated GPUs, resizable BAR, software drivers) the buffer is
// mapped and read/written directly; otherwise uploads and downloads go through a
// temporary staging buffer.
#pragma once

#include <vulkan/vulkan.h>

#include <cstdint>
#include <span>
#include <string>

#include "compute/vk/handle.h"

namespace ts::vk {

class Context;

enum class BufferUse {
  kDevice,   // tensors and datasets: device-local, fast for kernels
  kStaging,  // host-visible, coherent: uploads, downloads and per-step parameters
};

class Buffer {
 public:
  Buffer() = default;
  // Allocates `size_bytes` for the tensor or dataset called `name` (used in
  // messages). Throws ts::Error that says how much was asked and how much the
  // device has when the allocation cannot succeed.
  Buffer(Context& context, uint64_t size_bytes, std::string name, BufferUse use = BufferUse::kDevice);
  Buffer(Buffer&&) noexcept = default;
  Buffer& operator=(Buffer&&) noexcept = default;

  VkBuffer handle() const { return buffer_.get(); }
  uint64_t size() const { return size_; }
  const std::string& name() const { return name_; }
  // Host pointer to the contents when the memory is host-visible, else nullptr.
  void* mapped() const { return mapped_; }

  // Copies host bytes into the buffer at `offset` (waits for the copy to finish).
  void Upload(std::span<const std::byte> bytes, uint64_t offset = 0);
  // Copies `bytes.size()` bytes from the buffer at `offset` to the host.
  void Download(std::span<std::byte> bytes, uint64_t offset = 0) const;

  template <typename T>
  void UploadVector(std::span<const T> values, uint64_t offset = 0) {
    Upload(std::as_bytes(values), offset);
  }
  template <typename T>
  void DownloadVector(std::span<T> values, uint64_t offset = 0) const {
    Download(std::as_writable_bytes(values), offset);
  }

 private:
  Context* context_ = nullptr;
  std::string name_;
  uint64_t size_ = 0;
  UniqueMemory memory_;   // declared before buffer_ so the buffer is destroyed first
  UniqueBuffer buffer_;
  void* mapped_ = nullptr;  // stays valid until memory_ is freed (freeing unmaps)
  bool coherent_ = true;
};

// Human-readable byte count: "512 B", "3.2 KiB", "47.0 MiB", "1.50 GiB".
std::string FormatBytes(uint64_t bytes);

}  // namespace ts::vk
