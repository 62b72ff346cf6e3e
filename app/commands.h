// The headless commands of the tensorscope executable.
#pragma once

namespace ts::app {

// Parses the command line and runs the command it names. Returns the exit code.
int RunCommandLine(int argc, char** argv);

}  // namespace ts::app
