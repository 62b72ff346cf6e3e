#include "support/cli.h"

#include <nlohmann/json.hpp>

#include "compute/profile/ceilings.h"
#include "compute/vk/context.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>

namespace ts::testing {

std::string TensorscopeBinary() {
  const char* moved = std::getenv("TENSORSCOPE_TEST_BINARY");
  return moved && *moved ? moved : TENSORSCOPE_BINARY;
}

CommandResult RunTensorscope(const std::string& arguments, const std::string& environment) {
  std::string command =
      environment + (environment.empty() ? "" : " ") + "'" + TensorscopeBinary() + "' " + arguments + " 2>&1";
  CommandResult result;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return result;
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.output.append(buffer.data(), n);
  int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::string WriteTempFile(const std::string& name, const std::string& text) {
  std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

std::string PlantMadeUpCeilings(const std::filesystem::path& cache) {
  std::vector<vk::DeviceInfo> devices = vk::ListDevices();
  std::string reason;
  const vk::DeviceInfo& device = devices[vk::ChooseDefaultDevice(devices, &reason)];
  profile::Ceilings ceilings;
  ceilings.bandwidth_gbs = 10, ceilings.fp32_gflops = 100, ceilings.upload_gbs = ceilings.download_gbs = 1;
  nlohmann::json entry = profile::CeilingsJson(ceilings);
  entry["measured_at"] = "2026-01-02T03:04:05Z";
  std::filesystem::create_directories(cache / "tensorscope");
  std::ofstream(cache / "tensorscope" / "ceilings.json") << nlohmann::json{{profile::CeilingsCacheKey(device), entry}}.dump();
  std::string environment = "XDG_CACHE_HOME=" + cache.string();
  if (const size_t bits = device.name.find(" bits)"); bits != std::string::npos) {
    const size_t start = device.name.rfind(' ', bits - 1) + 1;
    environment += " LP_NATIVE_VECTOR_WIDTH=" + device.name.substr(start, bits - start);
  }
  return environment;
}

}  // namespace ts::testing
