// Runs the tensorscope executable as a user would, capturing its output.
#pragma once

#include <filesystem>
#include <string>

namespace ts::testing {

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// The tensorscope executable the tests run: $TENSORSCOPE_TEST_BINARY where the
// tests were moved away from their build tree (tests/gpu/check.sh sets it),
// else the one built beside them.
std::string TensorscopeBinary();

// Runs `tensorscope <arguments>` through the shell, with `environment`
// (e.g. "TENSORSCOPE_DATA_DIR=/tmp/x") prefixed.
CommandResult RunTensorscope(const std::string& arguments, const std::string& environment = "");

// Writes made-up measured ceilings (100 GFLOP/s FMA, 10 GB/s copy, 1 GB/s
// transfers, measured_at 2026-01-02T03:04:05Z) for the default device into
// `cache`/tensorscope/ceilings.json, so a command run with the returned
// environment measures nothing but its own work. The environment sets
// XDG_CACHE_HOME and pins lavapipe's vector width to this process's: a probe
// in a fresh cache may pick another width, and so another device name and
// cache key.
std::string PlantMadeUpCeilings(const std::filesystem::path& cache);

// Writes `text` to a fresh file under the test temp dir and returns its path.
std::string WriteTempFile(const std::string& name, const std::string& text);

}  // namespace ts::testing
