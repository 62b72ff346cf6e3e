#include "app/vector_width.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "compute/common/error.h"
#include "compute/profile/ceilings.h"
#include "compute/profile/vector_width.h"
#include "compute/vk/context.h"
#include "compute/vk/pipeline.h"

extern char** environ;

namespace ts::app {
namespace {

using profile::VectorWidthChoice;

// A probe child that has not answered by then is killed: a device start-up,
// four pipelines and a few milliseconds of work take seconds even on a busy host.
constexpr int kProbeTimeoutSeconds = 120;
// How much faster the probe must run at 512 bits than at 256 to choose 512.
constexpr double kWideMargin = 1.1;

std::string CpuModelName() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line))
    if (line.rfind("model name", 0) == 0)
      if (size_t colon = line.find(':'); colon != std::string::npos) return line.substr(colon + 2);
  return "unknown";
}

// What one probe child reported, or why it reported nothing.
struct ProbeAnswer {
  std::optional<nlohmann::json> json;
  std::string failure;
};

// Runs `tensorscope probe-vector-width` with LP_NATIVE_VECTOR_WIDTH=`bits`
// and reads its one JSON line.
ProbeAnswer RunProbeChild(uint32_t bits) {
  ProbeAnswer answer;
  int out[2];
  if (pipe(out) != 0) return {std::nullopt, std::string("pipe: ") + std::strerror(errno)};
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e)
    if (std::strncmp(*e, "LP_NATIVE_VECTOR_WIDTH=", 23) != 0) env_strings.push_back(*e);
  env_strings.push_back("LP_NATIVE_VECTOR_WIDTH=" + std::to_string(bits));
  std::vector<char*> env;
  for (std::string& s : env_strings) env.push_back(s.data());
  env.push_back(nullptr);
  std::string self = "/proc/self/exe", command = "probe-vector-width";
  char* argv[] = {self.data(), command.data(), nullptr};

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addclose(&actions, out[0]);
  posix_spawn_file_actions_addclose(&actions, out[1]);
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, self.c_str(), &actions, nullptr, argv, env.data());
  posix_spawn_file_actions_destroy(&actions);
  close(out[1]);
  if (spawned != 0) {
    close(out[0]);
    return {std::nullopt, std::string("could not start the probe: ") + std::strerror(spawned)};
  }

  std::string text;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(kProbeTimeoutSeconds);
  bool timed_out = false;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd fd{out[0], POLLIN, 0};
    if (poll(&fd, 1, static_cast<int>(left.count())) <= 0) continue;
    char buffer[4096];
    const ssize_t got = read(out[0], buffer, sizeof buffer);
    if (got <= 0) break;
    text.append(buffer, size_t(got));
  }
  close(out[0]);
  if (timed_out) kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  if (timed_out) return {std::nullopt, "the probe at " + std::to_string(bits) + " bits took over " +
                                           std::to_string(kProbeTimeoutSeconds) + " s"};
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return {std::nullopt, "the probe at " + std::to_string(bits) + " bits failed (exit status " +
                              std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + ")"};
  try {
    answer.json = nlohmann::json::parse(text);
  } catch (const std::exception&) {
    answer.failure = "the probe at " + std::to_string(bits) + " bits printed no JSON";
  }
  return answer;
}

// Mesa 22.3 keys lavapipe's on-disk shader cache without the vector width, so
// a process at 512 bits would load the code a 256-bit process cached for the
// same shader (tests/CMakeLists.txt measured it: nothing was compiled). Each
// width gets its own cache directory, unless the user chose one.
void SeparateShaderCache(uint32_t bits) {
  if (const char* user = std::getenv("MESA_SHADER_CACHE_DIR"); user && *user) return;
  const std::filesystem::path ours = profile::DefaultCeilingsCacheFile().parent_path();
  if (ours.empty()) return;
  const std::filesystem::path dir = ours / ("mesa-shader-cache-" + std::to_string(bits) + "bits");
  std::error_code ignored;  // Mesa makes only the last level; without it, it caches nothing
  std::filesystem::create_directories(dir, ignored);
  setenv("MESA_SHADER_CACHE_DIR", dir.c_str(), 1);
}

VectorWidthChoice DriverDefault(const std::string& note) {
  VectorWidthChoice choice;
  choice.note = note;
  return choice;
}

VectorWidthChoice Decide() {
  if (const char* user = std::getenv("LP_NATIVE_VECTOR_WIDTH"); user && *user) {
    VectorWidthChoice choice;
    choice.source = VectorWidthChoice::Source::kUser;
    choice.bits = static_cast<uint32_t>(std::strtoul(user, nullptr, 10));
    return choice;
  }
  if (!__builtin_cpu_supports("avx512f")) return DriverDefault("the CPU has no AVX-512");
  const std::filesystem::path cache_file = profile::DefaultCeilingsCacheFile();
  const std::string key = profile::VectorWidthCacheKey(CpuModelName());
  if (std::optional<VectorWidthChoice> cached = profile::LoadVectorWidthChoice(cache_file, key)) return *cached;

  std::fprintf(stderr, "tensorscope: first start on this CPU: measuring lavapipe at 256 and 512 bits "
                       "(a few seconds, once)...\n");
  VectorWidthChoice choice;
  for (uint32_t bits : {256u, 512u}) {
    ProbeAnswer answer = RunProbeChild(bits);
    if (!answer.json) return DriverDefault(answer.failure);
    const nlohmann::json& j = *answer.json;
    if (!j.value("software", false))
      return DriverDefault("the default device, " + j.value("device", std::string("?")) + ", is not lavapipe");
    const double us = j.value("probe_us", 0.0);
    if (!(us > 0)) return DriverDefault("the probe at " + std::to_string(bits) + " bits measured nothing");
    (bits == 256 ? choice.probe_us_256 : choice.probe_us_512) = us;
  }
  // 512 bits only where it is clearly faster: the probe runs once, on a host
  // that may be busy, and 256 is the driver's own default.
  choice.bits = choice.probe_us_512 * kWideMargin < choice.probe_us_256 ? 512 : 256;
  choice.source = VectorWidthChoice::Source::kMeasured;
  choice.measured_at = profile::NowIso8601Utc();
  profile::StoreVectorWidthChoice(cache_file, key, choice);
  std::fprintf(stderr, "tensorscope: lavapipe vector width: %s.\n", choice.Describe().c_str());
  return choice;
}

}  // namespace

void ChooseVectorWidth() {
  VectorWidthChoice choice = Decide();
  if (choice.source == VectorWidthChoice::Source::kMeasured || choice.source == VectorWidthChoice::Source::kCached)
    setenv("LP_NATIVE_VECTOR_WIDTH", std::to_string(choice.bits).c_str(), 1);
  if (choice.bits) SeparateShaderCache(choice.bits);
  profile::RecordVectorWidthChoice(choice);
}

int RunVectorWidthProbe() {
  if (const char* bits = std::getenv("LP_NATIVE_VECTOR_WIDTH"); bits && *bits)
    SeparateShaderCache(static_cast<uint32_t>(std::strtoul(bits, nullptr, 10)));
  std::unique_ptr<vk::Context> context = vk::Context::Create();
  const vk::DeviceInfo& device = context->info();
  nlohmann::json answer = {{"device", device.name}, {"software", device.is_software()},
                           {"subgroup_size", device.subgroup_size}};
  if (device.is_software()) {
    vk::PipelineCache pipelines(*context);
    answer["probe_us"] = profile::MeasureVectorWidthProbe(*context, pipelines);
  }
  std::printf("%s\n", answer.dump().c_str());
  return 0;
}

}  // namespace ts::app
