// Data-parallel scaling, measured: samples per second with 1, 2, ... N
// replicas at one global batch, beside the ideal (N times one replica's) and
// a simple model of it: a step takes compute / N + bytes sent / link
// bandwidth, where compute is one replica's whole step, bytes are what the ring
// all-reduce sends per replica, and the link bandwidth is measured (the
// ring's bytes over the host's all-reduce time).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "compute/data/dataset.h"
#include "compute/nn/model.h"
#include "compute/nn/train_config.h"
#include "compute/parallel/data_parallel.h"
#include "compute/vk/context.h"

namespace ts::parallel {

struct ScalingPoint {
  uint32_t replicas = 1;
  double samples_per_second = 0;  // median over the rounds
  double step_ms = 0;             // median wall time of a step
  double all_reduce_ms = 0;       // median host time all-reducing a step's buckets
  double exposed_ms = 0;          // median time the devices waited between backward and update
  uint64_t bytes_sent_per_replica = 0;
  ParallelStepTimeline example;   // the last timed step of the last round
};

struct ScalingResult {
  std::string device_description;  // CreateReplicaContexts's, for the most replicas
  bool simulated = false;
  uint32_t global_batch = 0;
  uint32_t steps = 0, rounds = 0;
  size_t buckets = 0;
  uint64_t gradient_bytes = 0;
  double link_bytes_per_second = 0;  // measured: bytes sent / all-reduce time, at the most replicas
  // The one-device nn::Trainer in the same rounds (several steps per
  // submission, no step split at the all-reduce): what replicas must beat.
  double trainer_samples_per_second = 0;
  std::vector<ScalingPoint> points;  // replicas 1..N
  double IdealSamplesPerSecond(uint32_t replicas) const;
  double ModelSamplesPerSecond(uint32_t replicas) const;
};

// Trains `model` on `train` with 1..max_replicas replicas at config.batch_size
// (a multiple of every replica count it is run with: others are skipped), each
// a warm-up step and then `steps` timed steps, in `rounds` interleaved rounds
// (1, 2, .., N, 1, 2, ...). `progress` (may be empty) hears each finished
// (round, replicas). Throws ts::Error as DataParallelTrainer does.
ScalingResult MeasureScaling(const nn::ModelDesc& model, nn::TrainConfig config, const data::Dataset& train,
                             uint32_t max_replicas, uint32_t steps, uint32_t rounds,
                             const vk::ContextOptions& options,
                             const std::function<void(uint32_t round, uint32_t replicas)>& progress = {});

nlohmann::json ScalingToJson(const ScalingResult& result);
// Throws ts::Error naming the field that is missing or of the wrong type.
ScalingResult ScalingFromJson(const nlohmann::json& json);

}  // namespace ts::parallel
