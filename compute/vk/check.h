// Turns VkResult failures into ts::Error with context, e.g.
// "vkAllocateMemory for buffer 'activations' failed: VK_ERROR_OUT_OF_DEVICE_MEMORY".
#pragma once

#include <vulkan/vulkan.h>

#include <string>

#include "compute/common/error.h"

namespace ts::vk {

// The enum name of a VkResult, e.g. "VK_ERROR_DEVICE_LOST".
const char* ResultName(VkResult result);

// Throws ts::Error("<what> failed: <result name>") unless result is VK_SUCCESS.
void Check(VkResult result, const std::string& what);

}  // namespace ts::vk
