// Learners' GLSL to SPIR-V with glslang, in a child process with limits: a
// kernel the compiler chokes on (a macro that expands to billions of tokens,
// parentheses nested a million deep, a compiler bug) costs that child, never
// the app's memory, time or life.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ts::lab {

struct GlslCompileLimits {
  // A puzzle kernel compiles in tens of milliseconds and a few MiB.
  uint32_t cpu_seconds = 3;                    // the child's CPU time (RLIMIT_CPU)
  uint64_t memory_bytes = uint64_t{512} << 20;  // memory it may add to what it inherits (RLIMIT_AS; not under ASan)
};

struct GlslCompileOutput {
  bool compiled = false;
  std::vector<uint32_t> spirv;  // when compiled
  std::string log;              // glslang's messages when not
  // Why the compiler was stopped, as a sentence ("" when it finished):
  // out of time or memory, or it crashed.
  std::string stopped;
};

// Compiles a whole compute shader (Vulkan 1.1 rules, SPIR-V 1.3) in a forked
// child, bounded by `limits`; `source_name` is glslang's name for the text.
GlslCompileOutput CompileGlslIsolated(const std::string& source, const GlslCompileLimits& limits = {});

// The same in this process, without limits: what the child runs.
GlslCompileOutput CompileGlslInProcess(const std::string& source);

}  // namespace ts::lab
