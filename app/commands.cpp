#include "app/commands.h"

#include <cstdio>
#include <string>
#include <vector>

#include "compute/common/error.h"
#include "compute/vk/buffer.h"
#include "compute/vk/context.h"

namespace ts::app {
namespace {

int RunDevices() {
  std::vector<vk::DeviceInfo> devices = vk::ListDevices();
  std::string reason;
  uint32_t chosen = vk::ChooseDefaultDevice(devices, &reason);
  for (const vk::DeviceInfo& d : devices) {
    std::printf("%s[%u] %s\n", d.index == chosen ? "* " : "  ", d.index, d.name.c_str());
    std::printf("      type: %s, driver: %s %s, Vulkan %s\n", vk::DeviceTypeName(d.type), d.driver_name.c_str(),
                d.driver_info.c_str(), vk::VersionString(d.api_version).c_str());
    std::printf("      subgroup size: %u, shared memory per workgroup: %s\n", d.subgroup_size,
                vk::FormatBytes(d.max_shared_memory_bytes).c_str());
    std::printf("      max workgroup size: %u x %u x %u, max invocations per workgroup: %u\n",
                d.max_workgroup_size[0], d.max_workgroup_size[1], d.max_workgroup_size[2],
                d.max_workgroup_invocations);
    std::printf("      max storage buffer range: %s, timestamps: %s, shader clock: %s\n",
                vk::FormatBytes(d.max_storage_buffer_range).c_str(),
                d.timestamp_valid_bits ? "yes" : "no", d.shader_clock ? "yes" : "no");
    for (size_t h = 0; h < d.heaps.size(); ++h)
      std::printf("      memory heap %zu: %s%s\n", h, vk::FormatBytes(d.heaps[h].size_bytes).c_str(),
                  d.heaps[h].device_local ? " (device-local)" : "");
  }
  std::printf("Chosen: [%u] %s, because %s.\n", chosen, devices[chosen].name.c_str(), reason.c_str());
  return 0;
}

}  // namespace

int RunCommandLine(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && args[0] == "devices") return RunDevices();
  std::fprintf(stderr, "usage: tensorscope devices\n");
  return 2;
}

}  // namespace ts::app
