// `tensorscope sample CKPT --prompt TEXT --tokens N --temperature T --top-k K
// --seed S`: generates text from a sequence model's checkpoint (nn::TextGenerator).
#pragma once

#include <string>

#include "app/arguments.h"

namespace ts::app {

int RunSample(const std::string& checkpoint_path, const Arguments& args);

}  // namespace ts::app
