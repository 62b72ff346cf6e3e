// Shared by the libFuzzer targets: the loaders under test read files, so each
// input is written to a scratch file first (in /dev/shm when it exists).
// A target passes when every input either loads or throws ts::Error; anything
// else (a crash, another exception, a sanitizer report, more than the time or
// memory libFuzzer is given) is a finding.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>

#include "compute/common/error.h"

namespace ts::fuzz {

// A scratch path unique to this process, `name` being its last component.
inline std::string ScratchPath(const std::string& name) {
  static const std::filesystem::path dir = [] {
    const std::filesystem::path base = std::filesystem::exists("/dev/shm") ? "/dev/shm" : "/tmp";
    std::filesystem::path d = base / ("tensorscope-fuzz-" + std::to_string(getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  std::filesystem::create_directories((dir / name).parent_path());
  return (dir / name).string();
}

inline std::string WriteScratch(const std::string& name, const uint8_t* data, size_t size) {
  const std::string path = ScratchPath(name);
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (!file) std::abort();
  if (size) std::fwrite(data, 1, size, file);
  std::fclose(file);
  return path;
}

// Runs `load`; ts::Error is the expected way to refuse an input.
template <typename Load>
void Expect(Load&& load) {
  try {
    load();
  } catch (const Error&) {
  }
}

}  // namespace ts::fuzz
