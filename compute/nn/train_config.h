// TrainConfig: how to train (optimizer, learning-rate schedule, batch, epochs,
// seed, validation split), read from a model file's "training" section and
// overridden by command-line flags.
//
// "training" fields (all optional):
//   "optimizer": "sgd" | "momentum" | "adam" | "adamw"     (default "adam")
//   "learning_rate": 0.001, "batch_size": 64, "epochs": 5, "seed": 1,
//   "momentum": 0.9, "nesterov": false, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8,
//   "weight_decay": 0, "validation_fraction": 0.1, "shuffle": true,
//   "replicas": 1      (data parallelism: replicas of the model, the batch split among them;
//                       see compute/parallel/data_parallel.h)
//   "precision": "fp32" | "fp16"  (fp16: mixed precision, see nn::Precision)
//   "loss_scale": {"init_scale": 65536, "growth_factor": 2, "backoff_factor": 0.5,
//                  "growth_interval": 2000}   (fp16's dynamic loss scaling, GradScaler's arguments)
//   "grad_clip": 0     (> 0: clip the gradients' global norm to it before each update)
//   "decay_biases_and_norms": true  (false: weight decay on weights and embeddings only, as nanoGPT)
//   "max_steps": 0     (> 0: stop after this many steps, whatever the epochs)
//   "vocabulary": ["\n", " ", ...]  (a text model's tokens, written by training; see data/text.h)
//   "autotune": true   (measure the matmul kernels on the device and use the fastest; see PlanOptions)
//   "data": "spiral"                                       (a --data spec, see compute/data/registry.h;
//                                                          {"bytes_hex": "..."}: a spec that is not UTF-8)
//   "schedule": {"kind": "constant" | "step" | "cosine",
//                "step_epochs": 10, "gamma": 0.1,           (step: lr *= gamma every step_epochs)
//                "warmup_epochs": 0, "min_learning_rate": 0} (cosine: linear warm-up, then cosine to min)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "compute/kernels/mixed_precision.h"
#include "compute/kernels/optimizer.h"
#include "compute/nn/precision.h"

namespace ts::nn {

// Training steps recorded into one submission, at most (see ValidateTrainConfig).
inline constexpr uint32_t kMaxStepsPerSubmit = 256;
// Data-parallel replicas, at most (each is a Vulkan device with its own copy of the data).
inline constexpr uint32_t kMaxReplicas = 16;

enum class ScheduleKind { kConstant, kStep, kCosine };

struct Schedule {
  ScheduleKind kind = ScheduleKind::kConstant;
  double step_epochs = 10;        // kStep
  double gamma = 0.1;             // kStep
  double warmup_epochs = 0;       // kCosine (and a warm-up for any kind)
  double min_learning_rate = 0;   // kCosine
};

struct TrainConfig {
  kernels::OptimizerKind optimizer = kernels::OptimizerKind::kAdam;
  kernels::OptimizerHyper hyper;
  double learning_rate = 1e-3;
  uint32_t batch_size = 64;
  uint32_t epochs = 5;
  uint64_t seed = 1;
  double validation_fraction = 0.1;  // of the training set, held out for validation
  bool shuffle = true;
  Schedule schedule;
  std::string data;                  // default dataset spec for this model
  uint32_t steps_per_submit = 16;    // training steps recorded into one submission
  // Augmentation of training images (C x H x W data), on the device when a
  // batch is gathered, a new draw for every sample of every step; never at
  // evaluation. Random crop: pad with crop_padding zeros on each side, then
  // cut an H x W window at a random offset. Flip: mirror left-right half the time.
  uint32_t augment_crop_padding = 0;
  bool augment_flip = false;
  // Autotune the matmul kernels for this device (nn::PlanOptions::autotune);
  // `tensorscope train --no-autotune` turns it off.
  bool autotune = true;
  // Data parallelism: replicas of the model, each on its own (physical or
  // logical) device, each computing the gradients of batch_size / replicas
  // samples of the batch (parallel::DataParallelTrainer). 1: one device.
  uint32_t replicas = 1;
  // fp16: mixed precision (fp16 activations and weight copy, fp32 master
  // weights, dynamic loss scaling); one device (replicas 1).
  Precision precision = Precision::kFp32;
  kernels::LossScaleOptions loss_scale;  // fp16 only
  float grad_clip = 0.0f;               // PlanOptions::grad_clip
  bool decay_biases_and_norms = true;   // PlanOptions::decay_biases_and_norms
  uint32_t max_steps = 0;               // > 0: training stops after this many steps
  // A text model's vocabulary (token id -> its text), from the data it trained
  // on, so a checkpoint can decode what it generates ("vocabulary": [...]).
  std::vector<std::string> vocabulary;

  // The learning rate at fractional epoch `epoch` (0 = start of training).
  double LearningRateAt(double epoch) const;
};

// Reads a "training" section. `where` prefixes messages (e.g. "model.json: training").
// Every failure is a ts::Error naming `where` and the field.
TrainConfig ParseTrainConfig(const nlohmann::json& section, const std::string& where);
nlohmann::json TrainConfigToJson(const TrainConfig& config);

// "sgd" -> kSgd, ...; throws ts::Error listing the accepted names.
kernels::OptimizerKind ParseOptimizerName(const std::string& name, const std::string& where);

// Throws ts::Error if the config is impossible (batch 0, lr <= 0, fraction outside [0, 1), ...).
void ValidateTrainConfig(const TrainConfig& config);

}  // namespace ts::nn
