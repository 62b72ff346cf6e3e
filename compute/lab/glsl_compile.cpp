#include "compute/lab/glsl_compile.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glslang/Public/ResourceLimits.h>
#include <glslang/Public/ShaderLang.h>
#include <glslang/SPIRV/GlslangToSpv.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <mutex>
#include <new>

#if defined(__SANITIZE_ADDRESS__)
#define TS_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TS_UNDER_ASAN 1
#endif
#endif

namespace ts::lab {
namespace {

// The child's answer on the pipe: a status byte, then the SPIR-V words or the log.
enum class Answer : uint8_t { kCompiled = 1, kNotCompiled = 2, kOutOfMemory = 3 };

void InitializeGlslangOnce() {
  static std::once_flag initialised;  // process-wide tables, once (never finalised: others may compile)
  std::call_once(initialised, [] { glslang::InitializeProcess(); });
}

bool WriteAll(int fd, const void* data, size_t size) {
  const char* bytes = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = write(fd, bytes, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

// The address space this process has now, so the child's limit adds to it.
uint64_t CurrentAddressSpace() {
  std::ifstream statm("/proc/self/statm");
  uint64_t pages = 0;
  statm >> pages;
  return pages * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

[[noreturn]] void RunChild(int fd, const std::string& source, const GlslCompileLimits& limits) {
  const rlimit cpu{limits.cpu_seconds, limits.cpu_seconds + 1};
  setrlimit(RLIMIT_CPU, &cpu);
#ifndef TS_UNDER_ASAN  // ASan reserves terabytes of address space for its shadow
  const uint64_t memory = CurrentAddressSpace() + limits.memory_bytes;
  const rlimit address_space{memory, memory};
  setrlimit(RLIMIT_AS, &address_space);
#endif
  Answer answer = Answer::kOutOfMemory;
  std::string payload;
  try {
    const GlslCompileOutput output = CompileGlslInProcess(source);
    answer = output.compiled ? Answer::kCompiled : Answer::kNotCompiled;
    payload = output.compiled ? std::string(reinterpret_cast<const char*>(output.spirv.data()), output.spirv.size() * 4)
                              : output.log;
  } catch (const std::bad_alloc&) {
    payload.clear();
  }
  const uint64_t size = payload.size();
  const bool ok = WriteAll(fd, &answer, 1) && WriteAll(fd, &size, sizeof size) && WriteAll(fd, payload.data(), size);
  _exit(ok ? 0 : 1);  // no destructors or atexit handlers of the parent's state
}

// Reads the child's answer until it closes the pipe or `deadline` passes.
bool ReadAnswer(int fd, std::chrono::steady_clock::time_point deadline, std::string& bytes) {
  char buffer[1 << 16];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    const int ready = poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return false;
    const ssize_t n = read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return true;  // closed: the child is done
    bytes.append(buffer, static_cast<size_t>(n));
  }
}

}  // namespace

GlslCompileOutput CompileGlslInProcess(const std::string& source) {
  InitializeGlslangOnce();
  GlslCompileOutput output;
  const char* text = source.c_str();
  const char* source_name = "kernel";
  glslang::TShader shader(EShLangCompute);
  shader.setStringsWithLengthsAndNames(&text, nullptr, &source_name, 1);
  shader.setEnvInput(glslang::EShSourceGlsl, EShLangCompute, glslang::EShClientVulkan, 100);
  shader.setEnvClient(glslang::EShClientVulkan, glslang::EShTargetVulkan_1_1);
  shader.setEnvTarget(glslang::EShTargetSpv, glslang::EShTargetSpv_1_3);  // gl_SubgroupID needs SPIR-V 1.3
  const EShMessages rules = static_cast<EShMessages>(EShMsgSpvRules | EShMsgVulkanRules);
  if (!shader.parse(GetDefaultResources(), 100, false, rules)) {
    output.log = shader.getInfoLog();
    return output;
  }
  glslang::TProgram program;
  program.addShader(&shader);
  if (!program.link(rules)) {
    output.log = program.getInfoLog();
    return output;
  }
  glslang::GlslangToSpv(*program.getIntermediate(EShLangCompute), output.spirv);
  output.compiled = true;
  return output;
}

GlslCompileOutput CompileGlslIsolated(const std::string& source, const GlslCompileLimits& limits) {
  InitializeGlslangOnce();  // in the parent, so each child inherits the tables
  GlslCompileOutput output;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    output.stopped = std::string("the compiler could not be started (pipe: ") + std::strerror(errno) + ").";
    return output;
  }
  const pid_t child = fork();
  if (child < 0) {
    output.stopped = std::string("the compiler could not be started (fork: ") + std::strerror(errno) + ").";
    close(fds[0]);
    close(fds[1]);
    return output;
  }
  if (child == 0) {
    close(fds[0]);
    RunChild(fds[1], source, limits);
  }
  close(fds[1]);
  // Wall time: the CPU limit, with room for a busy machine.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3 * limits.cpu_seconds + 10);
  std::string bytes;
  const bool finished = ReadAnswer(fds[0], deadline, bytes);
  close(fds[0]);
  if (!finished) kill(child, SIGKILL);
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  const std::string limit_text = std::to_string(limits.cpu_seconds) + " s of CPU time";
  const std::string memory_text = std::to_string(limits.memory_bytes >> 20) + " MiB of memory";
  if (!finished || (WIFSIGNALED(status) && (WTERMSIG(status) == SIGXCPU || WTERMSIG(status) == SIGKILL))) {
    output.stopped = "the compiler was stopped after " + limit_text +
                     " on this kernel (a macro that expands to millions of tokens, or expressions nested "
                     "millions deep?); the kernel is not run.";
    return output;
  }
  if (WIFSIGNALED(status) || bytes.size() < 9) {
    output.stopped = WIFSIGNALED(status)
                         ? "the compiler crashed on this kernel (signal " + std::to_string(WTERMSIG(status)) + ": " +
                               strsignal(WTERMSIG(status)) + "; out of its " + memory_text + "?); the kernel is not run."
                         : "the compiler ended without an answer on this kernel; the kernel is not run.";
    return output;
  }
  const Answer answer = static_cast<Answer>(bytes[0]);
  uint64_t size = 0;
  std::memcpy(&size, bytes.data() + 1, sizeof size);
  if (size != bytes.size() - 9) {
    output.stopped = "the compiler's answer was cut short; the kernel is not run.";
    return output;
  }
  const std::string payload = bytes.substr(9);
  if (answer == Answer::kOutOfMemory) {
    output.stopped = "the compiler ran out of its " + memory_text +
                     " on this kernel (a macro that expands to millions of tokens?); the kernel is not run.";
  } else if (answer == Answer::kCompiled) {
    output.compiled = true;
    output.spirv.resize(payload.size() / 4);
    std::memcpy(output.spirv.data(), payload.data(), output.spirv.size() * 4);
  } else {
    output.log = payload;
  }
  return output;
}

}  // namespace ts::lab
