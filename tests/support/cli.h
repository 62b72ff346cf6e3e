// Runs the tensorscope executable as a user would, capturing its output.
#pragma once

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

// Writes `text` to a fresh file under the test temp dir and returns its path.
std::string WriteTempFile(const std::string& name, const std::string& text);

}  // namespace ts::testing
