// The SPIR-V of every shaders/*.comp, compiled by glslc at build time and
// embedded in the binary (see CMakeLists.txt). Looked up by the .comp file name.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace ts::vk {

struct EmbeddedShader {
  const char* name;       // file name without extension, e.g. "matmul"
  const uint32_t* words;  // SPIR-V words
  size_t word_count;
};

// All embedded shaders, in no particular order.
std::span<const EmbeddedShader> EmbeddedShaders();

// The shader named `name`; throws ts::Error if there is none.
const EmbeddedShader& FindEmbeddedShader(std::string_view name);

}  // namespace ts::vk
