#include "support/cli.h"

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

}  // namespace ts::testing
