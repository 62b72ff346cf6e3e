// Replays the first steps of a training run in PyTorch from the same initial
// weights and on the same batches (tests/parity/torch_cnn.py, embedded in the
// app), and compares the two loss curves: `tensorscope parity`.
//
// The replay is deterministic on both sides: batches in dataset order (no
// shuffle), no dropout (rates set to 0: the two sides draw different masks),
// no augmentation, a constant learning rate (the twin has no schedule).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "compute/data/dataset.h"
#include "compute/nn/model.h"
#include "compute/nn/train_config.h"
#include "compute/vk/context.h"
#include "compute/vk/pipeline.h"

namespace ts::interop {

struct ReplayResult {
  std::vector<double> ours, theirs;   // the loss of every step, before its update
  std::vector<double> relative;       // |ours - theirs| / max(|theirs|, 1e-6)
  std::string torch_version;
  std::vector<std::string> changes;   // what the replay changed in the run, in words
  double worst = 0;                   // the largest relative difference
  size_t worst_step = 0;
};

// Agreement to fp32 rounding: the bar tests/test_parity.cpp holds every step to.
inline constexpr double kReplayTolerance = 1e-4;

// The PyTorch twin's text (torch_mlp.py, torch_cnn.py); nullptr for another name.
const char* EmbeddedScript(std::string_view name);

// Whether `python` can import torch and numpy; `why` says how to install them when not.
bool TorchAvailable(const std::string& python, std::string* why);

// Trains `steps` steps of `model` on `train` here and in PyTorch. Throws
// ts::Error when PyTorch is missing or its run fails (with its stderr).
ReplayResult ReplayInPytorch(vk::Context& context, vk::PipelineCache& pipelines, nn::ModelDesc model,
                             nn::TrainConfig config, const data::Dataset& train, uint32_t steps,
                             const std::string& python = "/usr/bin/python3");

}  // namespace ts::interop
