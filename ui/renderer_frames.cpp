// The renderer's drawing: its render passes, command buffers and fences, the
// swapchain (recreated on resize), each frame's submission and presentation,
// and screenshots copied from the presented image.
#include "imgui_impl_vulkan.h"

#include <algorithm>
#include <chrono>
#include <cassert>
#include <cerrno>
#include <cstring>
#include <limits>

#include "compute/common/error.h"
#include "compute/vk/check.h"
#include "ui/png_image.h"
#include "ui/renderer_impl.h"

namespace ts::ui {
namespace {

constexpr VkClearColorValue kClearColor{{0.11f, 0.11f, 0.12f, 1.0f}};  // dark grey behind the panels

}  // namespace

bool IsBgra(VkFormat format) {
  return format == VK_FORMAT_B8G8R8A8_UNORM || format == VK_FORMAT_B8G8R8A8_SRGB;
}

bool IsRgba(VkFormat format) {
  return format == VK_FORMAT_R8G8B8A8_UNORM || format == VK_FORMAT_R8G8B8A8_SRGB;
}

// Why an empty 1x1 pass ends every frame: the compute engine shares this
// queue, and a CPU driver keeps the last render pass's framebuffer bound in
// its rasterizer. Mesa's lavapipe/llvmpipe then puts every compute timestamp
// into a rasterizer scene covering that framebuffer, and each pipeline barrier
// the compute work records flushes that scene, visiting every 64x64 tile: with
// the window's 1440x900 framebuffer bound that cost about 40 us per barrier,
// tripling the time of a training step's small dispatches. Leaving a 1x1
// framebuffer bound makes the scene one tile. (Timestamps themselves are kept
// honest in vk::Sequence; see RecordTimestampFence.) On GPUs the pass draws
// nothing and costs nothing measurable.
void Renderer::Impl::CreateSmallPass() {
  VkSubpassDescription subpass{};
  subpass.pipelineBindPoint = VK_PIPELINE_BIND_POINT_GRAPHICS;
  VkRenderPassCreateInfo create{VK_STRUCTURE_TYPE_RENDER_PASS_CREATE_INFO};
  create.subpassCount = 1;
  create.pSubpasses = &subpass;
  VkRenderPass pass = VK_NULL_HANDLE;
  vk::Check(vkCreateRenderPass(device, &create, nullptr, &pass), "vkCreateRenderPass (1x1 pass)");
  small_pass = UniqueRenderPass(device, pass);
  VkFramebufferCreateInfo framebuffer{VK_STRUCTURE_TYPE_FRAMEBUFFER_CREATE_INFO};
  framebuffer.renderPass = pass;
  framebuffer.width = 1;
  framebuffer.height = 1;
  framebuffer.layers = 1;
  VkFramebuffer handle = VK_NULL_HANDLE;
  vk::Check(vkCreateFramebuffer(device, &framebuffer, nullptr, &handle), "vkCreateFramebuffer (1x1 pass)");
  small_framebuffer = UniqueFramebuffer(device, handle);
}

void Renderer::Impl::CreateRenderPass() {
  VkAttachmentDescription color{};
  color.format = surface_format.format;
  color.samples = VK_SAMPLE_COUNT_1_BIT;
  color.loadOp = VK_ATTACHMENT_LOAD_OP_CLEAR;
  color.storeOp = VK_ATTACHMENT_STORE_OP_STORE;
  color.stencilLoadOp = VK_ATTACHMENT_LOAD_OP_DONT_CARE;
  color.stencilStoreOp = VK_ATTACHMENT_STORE_OP_DONT_CARE;
  color.initialLayout = VK_IMAGE_LAYOUT_UNDEFINED;  // every pixel is cleared
  color.finalLayout = VK_IMAGE_LAYOUT_PRESENT_SRC_KHR;
  VkAttachmentReference color_ref{0, VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL};
  VkSubpassDescription subpass{};
  subpass.pipelineBindPoint = VK_PIPELINE_BIND_POINT_GRAPHICS;
  subpass.colorAttachmentCount = 1;
  subpass.pColorAttachments = &color_ref;

  std::array<VkSubpassDependency, 2> dependencies{};
  // The image-acquired semaphore is waited on at COLOR_ATTACHMENT_OUTPUT; the
  // clear and the layout transition must not start before that wait.
  dependencies[0].srcSubpass = VK_SUBPASS_EXTERNAL;
  dependencies[0].dstSubpass = 0;
  dependencies[0].srcStageMask = VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT;
  dependencies[0].dstStageMask = VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT;
  dependencies[0].srcAccessMask = 0;
  dependencies[0].dstAccessMask = VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT;
  // A screenshot copies the image right after the pass: make the drawing
  // visible to that transfer read.
  dependencies[1].srcSubpass = 0;
  dependencies[1].dstSubpass = VK_SUBPASS_EXTERNAL;
  dependencies[1].srcStageMask = VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT;
  dependencies[1].dstStageMask = VK_PIPELINE_STAGE_TRANSFER_BIT;
  dependencies[1].srcAccessMask = VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT;
  dependencies[1].dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT;

  VkRenderPassCreateInfo create{VK_STRUCTURE_TYPE_RENDER_PASS_CREATE_INFO};
  create.attachmentCount = 1;
  create.pAttachments = &color;
  create.subpassCount = 1;
  create.pSubpasses = &subpass;
  create.dependencyCount = static_cast<uint32_t>(dependencies.size());
  create.pDependencies = dependencies.data();
  VkRenderPass handle = VK_NULL_HANDLE;
  vk::Check(vkCreateRenderPass(device, &create, nullptr, &handle), "vkCreateRenderPass");
  render_pass = UniqueRenderPass(device, handle);
}

void Renderer::Impl::CreateFrames() {
  VkCommandPoolCreateInfo pool{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
  pool.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;  // each frame re-records its buffer
  pool.queueFamilyIndex = context.queue_family();
  VkCommandPool pool_handle = VK_NULL_HANDLE;
  vk::Check(vkCreateCommandPool(device, &pool, nullptr, &pool_handle), "vkCreateCommandPool");
  command_pool = vk::UniqueCommandPool(device, pool_handle);

  std::array<VkCommandBuffer, kFramesInFlight> buffers{};
  VkCommandBufferAllocateInfo allocate{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
  allocate.commandPool = pool_handle;
  allocate.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  allocate.commandBufferCount = kFramesInFlight;
  vk::Check(vkAllocateCommandBuffers(device, &allocate, buffers.data()), "vkAllocateCommandBuffers");

  for (uint32_t i = 0; i < kFramesInFlight; ++i) {
    frames[i].commands = buffers[i];
    VkFenceCreateInfo fence{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    fence.flags = VK_FENCE_CREATE_SIGNALED_BIT;  // the first wait on it returns at once
    VkFence fence_handle = VK_NULL_HANDLE;
    vk::Check(vkCreateFence(device, &fence, nullptr, &fence_handle), "vkCreateFence");
    frames[i].done = vk::UniqueFence(device, fence_handle);
    VkSemaphoreCreateInfo semaphore{VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO};
    VkSemaphore semaphore_handle = VK_NULL_HANDLE;
    vk::Check(vkCreateSemaphore(device, &semaphore, nullptr, &semaphore_handle), "vkCreateSemaphore");
    frames[i].image_acquired = UniqueSemaphore(device, semaphore_handle);
  }
}

void Renderer::Impl::CreateDescriptorPool() {
  // ImGui 1.86 needs one combined image sampler (the font atlas); a little
  // headroom costs nothing.
  VkDescriptorPoolSize size{VK_DESCRIPTOR_TYPE_COMBINED_IMAGE_SAMPLER, 8};
  VkDescriptorPoolCreateInfo create{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
  create.flags = VK_DESCRIPTOR_POOL_CREATE_FREE_DESCRIPTOR_SET_BIT;
  create.maxSets = 8;
  create.poolSizeCount = 1;
  create.pPoolSizes = &size;
  VkDescriptorPool handle = VK_NULL_HANDLE;
  vk::Check(vkCreateDescriptorPool(device, &create, nullptr, &handle), "vkCreateDescriptorPool");
  descriptor_pool = vk::UniqueDescriptorPool(device, handle);
}

VkExtent2D Renderer::Impl::FramebufferExtent() const {
  int width = 0, height = 0;
  glfwGetFramebufferSize(window.get(), &width, &height);
  return {static_cast<uint32_t>(std::max(width, 0)), static_cast<uint32_t>(std::max(height, 0))};
}

void Renderer::Impl::WaitForFrames() {
  std::array<VkFence, kFramesInFlight> fences{};
  for (uint32_t i = 0; i < kFramesInFlight; ++i) fences[i] = frames[i].done.get();
  vk::Check(vkWaitForFences(device, kFramesInFlight, fences.data(), VK_TRUE, UINT64_MAX),
            "vkWaitForFences (waiting for the window's frames)");
}

void Renderer::Impl::RecreateSwapchain() {
  VkPhysicalDevice physical_device = context.physical_device();
  swapchain_request = FramebufferExtent();
  // The old images, views and semaphores may still be used by queued frames and
  // presentation. Queue idle (not device idle) keeps to the shared queue's lock.
  context.WaitQueueIdle();

  VkSurfaceCapabilitiesKHR caps{};
  vk::Check(vkGetPhysicalDeviceSurfaceCapabilitiesKHR(physical_device, surface.get(), &caps),
            "vkGetPhysicalDeviceSurfaceCapabilitiesKHR");
  VkExtent2D extent = caps.currentExtent;
  if (extent.width == UINT32_MAX) {  // the surface takes its size from the swapchain
    extent.width = std::clamp(swapchain_request.width, caps.minImageExtent.width, caps.maxImageExtent.width);
    extent.height = std::clamp(swapchain_request.height, caps.minImageExtent.height, caps.maxImageExtent.height);
  }
  Swapchain old = std::move(swapchain);
  swapchain = Swapchain{};
  if (extent.width == 0 || extent.height == 0) return;  // minimised: nothing to draw into

  uint32_t image_count = caps.minImageCount + 1;  // one spare, so acquiring rarely waits
  if (caps.maxImageCount != 0) image_count = std::min(image_count, caps.maxImageCount);
  VkSwapchainCreateInfoKHR create{VK_STRUCTURE_TYPE_SWAPCHAIN_CREATE_INFO_KHR};
  create.surface = surface.get();
  create.minImageCount = image_count;
  create.imageFormat = surface_format.format;
  create.imageColorSpace = surface_format.colorSpace;
  create.imageExtent = extent;
  create.imageArrayLayers = 1;
  create.imageUsage = VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT;
  swapchain.can_read_back = (caps.supportedUsageFlags & VK_IMAGE_USAGE_TRANSFER_SRC_BIT) != 0;
  if (swapchain.can_read_back) create.imageUsage |= VK_IMAGE_USAGE_TRANSFER_SRC_BIT;  // for screenshots
  create.imageSharingMode = VK_SHARING_MODE_EXCLUSIVE;
  create.preTransform = caps.currentTransform;
  create.compositeAlpha = VK_COMPOSITE_ALPHA_OPAQUE_BIT_KHR;
  if (!(caps.supportedCompositeAlpha & VK_COMPOSITE_ALPHA_OPAQUE_BIT_KHR))
    for (VkCompositeAlphaFlagBitsKHR alpha : {VK_COMPOSITE_ALPHA_INHERIT_BIT_KHR, VK_COMPOSITE_ALPHA_PRE_MULTIPLIED_BIT_KHR,
                                              VK_COMPOSITE_ALPHA_POST_MULTIPLIED_BIT_KHR})
      if (caps.supportedCompositeAlpha & alpha) {
        create.compositeAlpha = alpha;
        break;
      }
  create.presentMode = present_mode;
  // Not clipped: a screenshot must see every pixel, even under another window.
  create.clipped = VK_FALSE;
  create.oldSwapchain = old.handle.get();
  VkSwapchainKHR handle = VK_NULL_HANDLE;
  vk::Check(vkCreateSwapchainKHR(device, &create, nullptr, &handle), "vkCreateSwapchainKHR");
  swapchain.handle = UniqueSwapchain(device, handle);
  swapchain.extent = extent;
  old = Swapchain{};  // retired by oldSwapchain; release it now

  uint32_t count = 0;
  vk::Check(vkGetSwapchainImagesKHR(device, handle, &count, nullptr), "vkGetSwapchainImagesKHR");
  swapchain.images.resize(count);
  vk::Check(vkGetSwapchainImagesKHR(device, handle, &count, swapchain.images.data()), "vkGetSwapchainImagesKHR");
  for (VkImage image : swapchain.images) {
    VkImageViewCreateInfo view{VK_STRUCTURE_TYPE_IMAGE_VIEW_CREATE_INFO};
    view.image = image;
    view.viewType = VK_IMAGE_VIEW_TYPE_2D;
    view.format = surface_format.format;
    view.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
    VkImageView view_handle = VK_NULL_HANDLE;
    vk::Check(vkCreateImageView(device, &view, nullptr, &view_handle), "vkCreateImageView");
    swapchain.views.emplace_back(device, view_handle);

    VkFramebufferCreateInfo framebuffer{VK_STRUCTURE_TYPE_FRAMEBUFFER_CREATE_INFO};
    framebuffer.renderPass = render_pass.get();
    framebuffer.attachmentCount = 1;
    framebuffer.pAttachments = &view_handle;
    framebuffer.width = extent.width;
    framebuffer.height = extent.height;
    framebuffer.layers = 1;
    VkFramebuffer framebuffer_handle = VK_NULL_HANDLE;
    vk::Check(vkCreateFramebuffer(device, &framebuffer, nullptr, &framebuffer_handle), "vkCreateFramebuffer");
    swapchain.framebuffers.emplace_back(device, framebuffer_handle);

    VkSemaphoreCreateInfo semaphore{VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO};
    VkSemaphore semaphore_handle = VK_NULL_HANDLE;
    vk::Check(vkCreateSemaphore(device, &semaphore, nullptr, &semaphore_handle), "vkCreateSemaphore");
    swapchain.render_finished.emplace_back(device, semaphore_handle);
  }
}

bool Renderer::Impl::RenderFrame(ImDrawData* draw_data, Capture* capture) {
  if (!swapchain.handle) return false;
  Frame& frame = frames[frame_index];
  VkFence fence = frame.done.get();
  using Clock = std::chrono::steady_clock;
  auto ms_since = [](Clock::time_point start) {
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  };
  const auto wait_start = Clock::now();
  // Wait until this frame slot's previous commands finished, so its command
  // buffer and semaphore can be reused.
  vk::Check(vkWaitForFences(device, 1, &fence, VK_TRUE, UINT64_MAX), "vkWaitForFences (window frame)");

  uint32_t image_index = 0;
  VkResult acquired = vkAcquireNextImageKHR(device, swapchain.handle.get(), UINT64_MAX,
                                            frame.image_acquired.get(), VK_NULL_HANDLE, &image_index);
  if (acquired == VK_ERROR_OUT_OF_DATE_KHR) {  // resized under us; the semaphore was not signalled
    RecreateSwapchain();
    return false;
  }
  if (acquired != VK_SUBOPTIMAL_KHR) vk::Check(acquired, "vkAcquireNextImageKHR");
  vk::Check(vkResetFences(device, 1, &fence), "vkResetFences");  // only now: a submit follows for sure
  timing.acquire_ms = ms_since(wait_start);

  VkCommandBuffer commands = frame.commands;
  vk::Check(vkResetCommandBuffer(commands, 0), "vkResetCommandBuffer");
  VkCommandBufferBeginInfo begin{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  begin.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
  vk::Check(vkBeginCommandBuffer(commands, &begin), "vkBeginCommandBuffer (window frame)");
  VkClearValue clear{};
  clear.color = kClearColor;
  VkRenderPassBeginInfo pass{VK_STRUCTURE_TYPE_RENDER_PASS_BEGIN_INFO};
  pass.renderPass = render_pass.get();
  pass.framebuffer = swapchain.framebuffers[image_index].get();
  pass.renderArea.extent = swapchain.extent;
  pass.clearValueCount = 1;
  pass.pClearValues = &clear;
  vkCmdBeginRenderPass(commands, &pass, VK_SUBPASS_CONTENTS_INLINE);
  ImGui_ImplVulkan_RenderDrawData(draw_data, commands);
  vkCmdEndRenderPass(commands);
  if (capture != nullptr) RecordCapture(commands, swapchain.images[image_index], *capture);
  VkRenderPassBeginInfo small{VK_STRUCTURE_TYPE_RENDER_PASS_BEGIN_INFO};
  small.renderPass = small_pass.get();
  small.framebuffer = small_framebuffer.get();
  small.renderArea.extent = {1, 1};
  vkCmdBeginRenderPass(commands, &small, VK_SUBPASS_CONTENTS_INLINE);  // see CreateSmallPass
  vkCmdEndRenderPass(commands);
  vk::Check(vkEndCommandBuffer(commands), "vkEndCommandBuffer (window frame)");

  VkSemaphore wait = frame.image_acquired.get();
  VkSemaphore signal = swapchain.render_finished[image_index].get();
  VkPipelineStageFlags wait_stage = VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT;
  VkSubmitInfo submit{VK_STRUCTURE_TYPE_SUBMIT_INFO};
  submit.waitSemaphoreCount = 1;
  submit.pWaitSemaphores = &wait;
  submit.pWaitDstStageMask = &wait_stage;
  submit.commandBufferCount = 1;
  submit.pCommandBuffers = &commands;
  submit.signalSemaphoreCount = 1;
  submit.pSignalSemaphores = &signal;
  const auto draw_start = Clock::now();
  context.Submit(submit, fence);
  // A CPU driver (lavapipe) presents by copying the image to the window once
  // its drawing is done, inside vkQueuePresentKHR, which holds the one queue:
  // behind training's queued submissions that held it for tens of
  // milliseconds, and training could submit nothing meanwhile. Waiting here,
  // without the queue, lets training go on submitting.
  if (context.info().is_software())
    vk::Check(vkWaitForFences(device, 1, &fence, VK_TRUE, UINT64_MAX), "vkWaitForFences (window frame drawn)");
  timing.draw_ms = ms_since(draw_start);
  const auto present_start = Clock::now();

  VkSwapchainKHR swapchain_handle = swapchain.handle.get();
  VkPresentInfoKHR present{VK_STRUCTURE_TYPE_PRESENT_INFO_KHR};
  present.waitSemaphoreCount = 1;
  present.pWaitSemaphores = &signal;
  present.swapchainCount = 1;
  present.pSwapchains = &swapchain_handle;
  present.pImageIndices = &image_index;
  VkResult presented = context.Present(present);
  timing.present_ms = ms_since(present_start);
  frame_index = (frame_index + 1) % kFramesInFlight;

  if (acquired == VK_SUBOPTIMAL_KHR || presented == VK_SUBOPTIMAL_KHR || presented == VK_ERROR_OUT_OF_DATE_KHR)
    RecreateSwapchain();
  return true;
}

void Renderer::Impl::RecordCapture(VkCommandBuffer commands, VkImage image, Capture& capture) {
  capture.extent = swapchain.extent;
  capture.format = surface_format.format;
  capture.pixels.emplace(context, uint64_t{capture.extent.width} * capture.extent.height * 4, "screenshot pixels",
                         vk::BufferUse::kStaging);

  VkImageMemoryBarrier to_transfer{VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER};
  // The render pass's final dependency already made the drawing visible to
  // transfer reads; this only changes the layout for the copy.
  to_transfer.srcAccessMask = 0;
  to_transfer.dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT;
  to_transfer.oldLayout = VK_IMAGE_LAYOUT_PRESENT_SRC_KHR;
  to_transfer.newLayout = VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL;
  to_transfer.srcQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
  to_transfer.dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
  to_transfer.image = image;
  to_transfer.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
  vkCmdPipelineBarrier(commands, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 0, nullptr, 0,
                       nullptr, 1, &to_transfer);

  VkBufferImageCopy region{};
  region.bufferRowLength = 0;  // tightly packed
  region.imageSubresource = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1};
  region.imageExtent = {capture.extent.width, capture.extent.height, 1};
  vkCmdCopyImageToBuffer(commands, image, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL, capture.pixels->handle(), 1,
                         &region);

  // Back to the layout presentation expects; the present waits on the
  // render-finished semaphore, which covers the copy.
  VkImageMemoryBarrier to_present = to_transfer;
  to_present.srcAccessMask = 0;  // a read leaves nothing to make available
  to_present.dstAccessMask = 0;
  to_present.oldLayout = VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL;
  to_present.newLayout = VK_IMAGE_LAYOUT_PRESENT_SRC_KHR;
  // The copied bytes must be visible to the host once the frame's fence signals.
  VkBufferMemoryBarrier to_host{VK_STRUCTURE_TYPE_BUFFER_MEMORY_BARRIER};
  to_host.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
  to_host.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
  to_host.srcQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
  to_host.dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
  to_host.buffer = capture.pixels->handle();
  to_host.size = VK_WHOLE_SIZE;
  vkCmdPipelineBarrier(commands, VK_PIPELINE_STAGE_TRANSFER_BIT,
                       VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT | VK_PIPELINE_STAGE_HOST_BIT, 0, 0, nullptr, 1, &to_host,
                       1, &to_present);
}

bool Renderer::SaveScreenshot(const std::string& png_path) {
  // The whole frame as drawn (the region is clipped to it).
  return SaveRegion(png_path, 0, 0, std::numeric_limits<int>::max(), std::numeric_limits<int>::max());
}

bool Renderer::SaveRegion(const std::string& png_path, int x, int y, int width, int height) {
  Impl& r = *impl_;
  assert(!r.frame_open && "SaveScreenshot and SaveRegion must be called between EndFrame and the next BeginFrame");
  ImDrawData* draw_data = ImGui::GetDrawData();
  if (!r.frame_drawn || draw_data == nullptr || r.frame_open) return false;
  if (r.swapchain.handle && !r.swapchain.can_read_back)
    throw Error("This Vulkan driver cannot copy from the window's swapchain images "
                "(no VK_IMAGE_USAGE_TRANSFER_SRC_BIT), so Tensorscope cannot take screenshots with it.");
  VkFormat format = r.surface_format.format;
  if (!IsBgra(format) && !IsRgba(format))
    throw Error("Screenshots need an 8-bit RGBA or BGRA window, but this one uses Vulkan format " +
                std::to_string(static_cast<int>(format)) + ".");

  Impl::Capture capture;
  // A second try covers a swapchain found out of date (and recreated) on the first.
  bool drawn = r.RenderFrame(draw_data, &capture) || r.RenderFrame(draw_data, &capture);
  if (!drawn || !capture.pixels) return false;
  r.WaitForFrames();

  const uint32_t frame_width = capture.extent.width, frame_height = capture.extent.height;
  const auto* source = static_cast<const uint8_t*>(capture.pixels->mapped());
  assert(source != nullptr && "staging buffers are host-visible");
  std::vector<uint8_t> rgba(size_t{frame_width} * frame_height * 4);
  const bool swap_red_blue = IsBgra(capture.format);
  for (size_t i = 0; i < rgba.size(); i += 4) {
    rgba[i + 0] = source[i + (swap_red_blue ? 2 : 0)];
    rgba[i + 1] = source[i + 1];
    rgba[i + 2] = source[i + (swap_red_blue ? 0 : 2)];
    rgba[i + 3] = 255;  // the window is opaque whatever alpha the blending left
  }
  SavePngRegion(png_path, rgba, static_cast<int>(frame_width), static_cast<int>(frame_height), {x, y, width, height});
  return true;
}

}  // namespace ts::ui
