// tensorscope: the command line entry point.
#include <cstdio>
#include <exception>

#include "app/commands.h"

int main(int argc, char** argv) {
  try {
    return ts::app::RunCommandLine(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tensorscope: %s\n", e.what());
    return 1;
  }
}
