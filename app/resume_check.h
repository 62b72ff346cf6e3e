// `train --resume`: what the command line asks for beside what the checkpoint
// was trained with, said before training goes on.
#pragma once

#include <string>
#include <vector>

#include "compute/nn/train_config.h"

namespace ts::app {

// One sentence per setting where `used` (the settings this run will use)
// differs from `trained` (the checkpoint's), saying both and which is used:
// optimizer, learning rate, batch size, epochs (and what that does to a
// schedule whose length depends on them), schedule, weight decay, momentum,
// seed and validation split. Empty when they agree.
std::vector<std::string> ResumeDifferences(const nn::TrainConfig& used, const nn::TrainConfig& trained);

}  // namespace ts::app
