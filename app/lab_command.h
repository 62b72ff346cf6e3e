// `tensorscope lab`: the Kernel Lab's lessons on the command line.
#pragma once

#include <string>
#include <vector>

namespace ts::app {

// `words` are the words after "lab": `--list`, or a lesson name with
// --KNOB N settings, --json, --repeats N, --device N, --validate. Returns the
// exit code; throws ts::Error for bad options or settings.
int RunLabCommand(const std::vector<std::string>& words);

}  // namespace ts::app
