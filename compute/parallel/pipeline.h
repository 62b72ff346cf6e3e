// Pipeline parallelism, run for real: a multilayer perceptron cut into K
// stages of consecutive dense layers, one stage per Vulkan device, each
// training batch cut into M micro-batches that flow through the stages.
// Forward F(m) on stage s needs F(m) on stage s - 1 (its activations, sent
// through the host); backward B(m) on stage s needs B(m) on stage s + 1 (the
// gradient of its output). Gradients add up over the micro-batches; after the
// last backward every stage applies the optimizer to its own layers. The loss
// and the update equal the unsplit model's at batch M x micro-batch.
//
// Schedules (the order each stage runs its operations in):
//   GPipe: all M forwards, then all M backwards.
//   1F1B:  K - s - 1 warm-up forwards on stage s, then one forward and one
//          backward in turn, then the remaining backwards (PipeDream-Flush):
//          the same bubble as GPipe, but at most K - s micro-batches' activations alive.
// The bubble, the share of the stages' time spent idle between the step's first
// operation and its last, is (K - 1) / (M + K - 1) when every operation takes
// the same time; the measured one is beside it.
//
// The kernels are the trainer's own (matmul, bias + activation and its
// backward, the loss head, the optimizer); models: input, dense, activation
// layers and a loss head (what Plan would compile for an MLP).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "compute/data/dataset.h"
#include "compute/nn/model.h"
#include "compute/nn/train_config.h"
#include "compute/vk/context.h"

namespace ts::parallel {

enum class PipelineSchedule { kGPipe, kOneForwardOneBackward };
const char* PipelineScheduleName(PipelineSchedule schedule);  // "GPipe", "1F1B"
// The operations stage `stage` of `stages` runs in a step of `micro_batches`,
// in order: (true: forward, false: backward, micro-batch).
std::vector<std::pair<bool, uint32_t>> StageOrder(PipelineSchedule schedule, uint32_t stage, uint32_t stages,
                                                  uint32_t micro_batches);

struct PipelineEvent {
  uint32_t stage = 0, micro_batch = 0;
  bool forward = true;
  double start_ns = 0, end_ns = 0;  // host steady clock: submitted (or ready, if later) to seen complete
};

struct PipelineStep {
  float loss = 0, accuracy = 0;      // over the whole batch
  std::vector<PipelineEvent> events;  // every stage's forwards and backwards
  double start_ns = 0, end_ns = 0;    // the first operation's start, the last one's end (the update after)
  double update_ns = 0;               // the optimizer's time after the last backward
  // 1 - (sum of the stages' busy time) / (stages x (end - start)).
  double measured_bubble = 0;
  double ideal_bubble = 0;            // (K - 1) / (M + K - 1)
};

class PipelineTrainer {
 public:
  // Cuts `model` (an MLP: input, dense and activation layers, a loss head)
  // into contexts.size() stages of consecutive dense layers, balanced by
  // parameters, and places them on the contexts; `config.batch_size` must be
  // a multiple of `micro_batches`. Starts from `initial_parameters` (in
  // nn::Plan::ReadParameters order) when given, else from the plan's seeded
  // initialisation. Throws ts::Error naming the layer a pipeline cannot run,
  // or when there are more stages than dense layers.
  PipelineTrainer(std::vector<vk::Context*> contexts, const nn::ModelDesc& model, const nn::TrainConfig& config,
                  const data::Dataset& train, uint32_t micro_batches, PipelineSchedule schedule,
                  const std::vector<float>& initial_parameters = {});
  ~PipelineTrainer();

  uint32_t stages() const;
  uint32_t micro_batches() const { return micro_batches_; }
  PipelineSchedule schedule() const { return schedule_; }
  // The dense layers of each stage, by ModelDesc layer name.
  std::vector<std::vector<std::string>> stage_layers() const;
  // Trains one step (the next batch of the epoch's order, as nn::Trainer takes them).
  PipelineStep Step();
  // Every stage's parameters, concatenated in nn::Plan::ReadParameters order.
  std::vector<float> ReadParameters() const;
  uint64_t global_step() const { return global_step_; }

 private:
  struct Stage;
  nn::TrainConfig config_;
  uint32_t micro_batches_ = 1, micro_batch_rows_ = 1;
  PipelineSchedule schedule_;
  const data::Dataset* train_;
  std::vector<std::unique_ptr<Stage>> stages_;
  uint64_t global_step_ = 0;
};

}  // namespace ts::parallel
