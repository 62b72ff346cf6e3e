// tensorscope bench's parallelism modes: --replicas (data-parallel scaling),
// --pipeline (GPipe and 1F1B beside the unsplit model) and --tensor-parallel
// (a column-split dense layer against the unsplit one).
#include "app/bench_parallel.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "compute/common/error.h"
#include "compute/nn/presets.h"
#include "compute/nn/trainer.h"
#include "compute/parallel/pipeline.h"
#include "compute/parallel/scaling.h"
#include "compute/parallel/tensor_parallel.h"
#include "compute/vk/buffer.h"
#include "compute/vk/pipeline.h"

namespace ts::app {

using nlohmann::json;

// Data-parallel scaling: samples/s at 1..N replicas, beside the ideal and the model.
int RunReplicaBench(const Arguments& args) {
  const std::string model_name = args.String("model").value_or("mnist-mlp");
  const nn::ModelDesc model = nn::LoadModelOrPreset(model_name);
  nn::TrainConfig config = nn::ParseTrainConfig(model.training, model_name + ": training");
  const uint32_t replicas = *args.PositiveInt("replicas");
  if (auto batch = args.PositiveInt("batch")) {
    config.batch_size = *batch;
  } else {
    // A global batch every replica count splits evenly: the model's, rounded up.
    uint32_t multiple = 1;
    for (uint32_t n = 2; n <= std::min(replicas, nn::kMaxReplicas); ++n) multiple = std::lcm(multiple, n);
    config.batch_size = (config.batch_size + multiple - 1) / multiple * multiple;
  }
  const uint32_t steps = args.PositiveInt("steps").value_or(20);
  const uint32_t rounds = args.PositiveInt("rounds").value_or(3);
  std::string note;
  const data::Dataset train = BenchData(model, config, args, std::max(config.batch_size * (steps + 2), 1024u), note);
  vk::ContextOptions options;
  options.device_index = args.Int("device").value_or(-1);
  options.validation = args.Has("validate");
  const bool json_output = args.Has("json");
  const parallel::ScalingResult result = parallel::MeasureScaling(
      model, config, train, replicas, steps, rounds, options, [&](uint32_t round, uint32_t n) {
        if (!json_output) std::fprintf(stderr, "\rround %u/%u: %u replica(s) measured   ", round + 1, rounds, n);
      });
  if (json_output) {
    nlohmann::json out = parallel::ScalingToJson(result);
    out["model"] = model.name;
    out["data"] = train.name;
    if (!note.empty()) out["note"] = note;
    std::printf("%s\n", out.dump().c_str());
    return 0;
  }
  std::fprintf(stderr, "\r%60s\r", "");
  std::printf("Data-parallel scaling: %s, global batch %u, data %s\n%s\n", model.name.c_str(), result.global_batch,
              train.name.c_str(), result.device_description.c_str());
  if (!note.empty()) std::printf("Note: %s\n", note.c_str());
  for (uint32_t n = 1; n <= replicas; ++n)
    if (result.global_batch % n != 0)
      std::printf("Skipped %u replicas: the batch %u does not split evenly over them.\n", n, result.global_batch);
  std::printf("Gradients: %s in %zu bucket(s); medians of %u interleaved rounds of %u steps\n",
              vk::FormatBytes(result.gradient_bytes).c_str(), result.buckets, rounds, steps);
  std::printf("%8s %12s %8s %12s %12s %10s %12s %12s %12s\n", "replicas", "samples/s", "vs 1", "ideal", "model",
              "step ms", "all-reduce", "devices wait", "sent/replica");
  for (const parallel::ScalingPoint& p : result.points)
    std::printf("%8u %12.0f %7.2fx %12.0f %12.0f %10.3f %9.3f ms %9.3f ms %12s\n", p.replicas, p.samples_per_second,
                p.samples_per_second / result.points[0].samples_per_second, result.IdealSamplesPerSecond(p.replicas),
                result.ModelSamplesPerSecond(p.replicas), p.step_ms, p.all_reduce_ms, p.exposed_ms,
                vk::FormatBytes(p.bytes_sent_per_replica).c_str());
  std::printf("One device without replicas (nn::Trainer, %u steps per submission): %.0f samples/s; 1 replica "
              "runs at %.2fx of it (a step per submission, split at its buckets).\n",
              config.steps_per_submit, result.trainer_samples_per_second,
              result.points[0].samples_per_second / std::max(1.0, result.trainer_samples_per_second));
  if (result.link_bytes_per_second > 0)
    std::printf("Link (the ring through host staging): %.2f GB/s measured = bytes sent / all-reduce time at %u replicas.\n",
                result.link_bytes_per_second * 1e-9, result.points.back().replicas);
  std::printf("Model: step = (one replica's step) / N + (bytes sent per replica) / link. Ideal: N x one replica.\n");
  if (result.simulated)
    std::printf("Simulated on one device: the replicas share its cores, so compute does not divide by N here;\n"
                "the model shows what N devices of this kind would give.\n");
  return 0;
}

// ---- bench --tensor-parallel ----------------------------------------------------

// One dense layer split by output columns over K devices, against the unsplit layer.
int RunTensorBench(const Arguments& args) {
  const uint32_t devices = *args.PositiveInt("tensor-parallel");
  const uint32_t batch = args.PositiveInt("batch").value_or(64);
  const uint32_t inputs = args.PositiveInt("inputs").value_or(784);
  const uint32_t outputs = args.PositiveInt("outputs").value_or(512);
  vk::ContextOptions options;
  options.device_index = args.Int("device").value_or(-1);
  options.validation = args.Has("validate");
  const parallel::ReplicaContexts contexts = parallel::CreateReplicaContexts(devices, options);
  const parallel::TensorParallelResult r =
      parallel::RunTensorParallelDense(contexts.pointers(), batch, inputs, outputs, kernels::Activation::kRelu, 2026);
  const double start = r.events.empty() ? 0 : r.events.front().start_ns;
  if (args.Has("json")) {
    json events = json::array();
    for (const parallel::TensorParallelEvent& e : r.events)
      events.push_back({{"kind", e.kind == parallel::TensorParallelEvent::Kind::kCompute ? "compute" : "all-gather"},
                        {"device", e.device},
                        {"start_ms", (e.start_ns - start) * 1e-6},
                        {"end_ms", (e.end_ns - start) * 1e-6}});
    json out = {{"device", contexts.description},
                {"simulated", r.simulated},
                {"devices", r.devices},
                {"batch", r.batch},
                {"inputs", r.inputs},
                {"outputs", r.outputs},
                {"first_column", r.first_column},
                {"max_split_difference", r.max_split_difference},
                {"max_reference_error", r.max_reference_error},
                {"bytes_received_per_device", r.bytes_received_per_device},
                {"weight_bytes_per_device", r.weight_bytes_per_device},
                {"split_ms", r.split_ms},
                {"unsplit_ms", r.unsplit_ms},
                {"events", events}};
    std::printf("%s\n", out.dump().c_str());
    return 0;
  }
  std::printf("Tensor parallel dense layer: relu(X W + b), X %u x %u, W %u x %u, split by output columns over %u "
              "devices\n%s\n",
              batch, inputs, inputs, outputs, devices, contexts.description.c_str());
  for (uint32_t d = 0; d < devices; ++d)
    std::printf("  device %u: columns %u..%u (%u), %s of weights\n", d, r.first_column[d], r.first_column[d + 1] - 1,
                r.first_column[d + 1] - r.first_column[d],
                vk::FormatBytes(uint64_t(r.first_column[d + 1] - r.first_column[d]) * (inputs + 1) * 4).c_str());
  for (const parallel::TensorParallelEvent& e : r.events)
    std::printf("  %-10s device %u: %8.3f .. %8.3f ms\n",
                e.kind == parallel::TensorParallelEvent::Kind::kCompute ? "compute" : "all-gather", e.device,
                (e.start_ns - start) * 1e-6, (e.end_ns - start) * 1e-6);
  std::printf("All-gather: each device receives %s (the other devices' columns of Y).\n",
              vk::FormatBytes(r.bytes_received_per_device).c_str());
  std::printf("Split (compute + all-gather) %.3f ms, unsplit on one device %.3f ms.\n", r.split_ms, r.unsplit_ms);
  std::printf("Split and gathered against unsplit: max |difference| %.3g over all %u x %u outputs on every device; "
              "unsplit against the double-precision reference: %.3g (relative).\n",
              r.max_split_difference, batch, outputs, r.max_reference_error);
  return r.max_split_difference <= 1e-6 ? 0 : 1;
}

// ---- bench --pipeline -----------------------------------------------------------

// An MLP cut into K stages, trained with GPipe and 1F1B beside the unsplit model.
int RunPipelineBench(const Arguments& args) {
  const uint32_t stages = *args.PositiveInt("pipeline");
  const std::string model_name = args.String("model").value_or("spiral-mlp");
  const nn::ModelDesc model = nn::LoadModelOrPreset(model_name);
  nn::TrainConfig config = nn::ParseTrainConfig(model.training, model_name + ": training");
  if (auto batch = args.PositiveInt("batch")) config.batch_size = *batch;
  const uint32_t micro_batches = args.PositiveInt("micro-batches").value_or(4);
  const uint32_t steps = args.PositiveInt("steps").value_or(10);
  config.autotune = false;  // the same kernels as the stages
  config.validation_fraction = 0;
  config.epochs = 1000000;
  const std::string schedule_name = args.String("schedule").value_or("both");
  std::vector<parallel::PipelineSchedule> schedules;
  if (schedule_name == "gpipe" || schedule_name == "both") schedules.push_back(parallel::PipelineSchedule::kGPipe);
  if (schedule_name == "1f1b" || schedule_name == "both")
    schedules.push_back(parallel::PipelineSchedule::kOneForwardOneBackward);
  if (schedules.empty()) throw Error("--schedule: expected gpipe, 1f1b or both, found \"" + schedule_name + "\".");
  std::string note;
  const data::Dataset train = BenchData(model, config, args, std::max(config.batch_size * (steps + 1), 1024u), note);
  vk::ContextOptions options;
  options.device_index = args.Int("device").value_or(-1);
  options.validation = args.Has("validate");
  const parallel::ReplicaContexts contexts = parallel::CreateReplicaContexts(stages, options);

  // The unsplit model, from the same initial weights.
  vk::PipelineCache pipelines(*contexts.contexts[0]);
  nn::Trainer unsplit(*contexts.contexts[0], pipelines, model, config, &train, nullptr);
  const std::vector<float> initial = unsplit.plan().ReadParameters();
  std::vector<double> unsplit_loss;
  unsplit.RunSteps(steps, [&](const nn::StepReport& r) { unsplit_loss.push_back(r.loss); });

  json runs = json::array();
  const bool json_output = args.Has("json");
  if (!json_output)
    std::printf("Pipeline: %s in %u stages, batch %u in %u micro-batches of %u, %u steps\n%s\n", model.name.c_str(),
                stages, config.batch_size, micro_batches, config.batch_size / micro_batches, steps,
                contexts.description.c_str());
  for (parallel::PipelineSchedule schedule : schedules) {
    parallel::PipelineTrainer pipeline(contexts.pointers(), model, config, train, micro_batches, schedule, initial);
    std::vector<double> losses, bubbles;
    double worst = 0;
    parallel::PipelineStep last;
    for (uint32_t i = 0; i < steps; ++i) {
      last = pipeline.Step();
      losses.push_back(last.loss);
      bubbles.push_back(last.measured_bubble);
      worst = std::max(worst, std::abs(last.loss - unsplit_loss[i]) / std::max(1e-12, std::abs(unsplit_loss[i])));
    }
    std::vector<double> sorted = bubbles;
    std::sort(sorted.begin(), sorted.end());
    const double median_bubble = sorted[sorted.size() / 2];
    if (json_output) {
      json events = json::array();
      for (const parallel::PipelineEvent& e : last.events)
        events.push_back({{"stage", e.stage},
                          {"micro_batch", e.micro_batch},
                          {"forward", e.forward},
                          {"start_ms", (e.start_ns - last.start_ns) * 1e-6},
                          {"end_ms", (e.end_ns - last.start_ns) * 1e-6}});
      runs.push_back({{"schedule", parallel::PipelineScheduleName(schedule)},
                      {"losses", losses},
                      {"unsplit_losses", unsplit_loss},
                      {"max_relative_loss_difference", worst},
                      {"measured_bubble", median_bubble},
                      {"ideal_bubble", last.ideal_bubble},
                      {"step_ms", (last.end_ns - last.start_ns) * 1e-6},
                      {"update_ms", last.update_ns * 1e-6},
                      {"stage_layers", pipeline.stage_layers()},
                      {"events", events}});
      continue;
    }
    std::printf("\n%s: stages hold", parallel::PipelineScheduleName(schedule));
    for (const auto& layers : pipeline.stage_layers()) {
      std::string names;
      for (const std::string& n : layers) names += (names.empty() ? "" : "+") + n;
      std::printf(" [%s]", names.c_str());
    }
    std::printf("\n  loss per step (pipeline | unsplit):");
    for (uint32_t i = 0; i < steps; ++i) std::printf(" %.5f|%.5f", losses[i], unsplit_loss[i]);
    std::printf("\n  max relative difference from the unsplit model: %.3g\n", worst);
    std::printf("  bubble: measured %.1f%% (median of %u steps), ideal (K-1)/(M+K-1) = %.1f%%\n", 100 * median_bubble,
                steps, 100 * last.ideal_bubble);
    std::printf("  last step's operations (ms from its start):\n");
    for (uint32_t s = 0; s < stages; ++s) {
      std::printf("    stage %u:", s);
      for (const parallel::PipelineEvent& e : last.events)
        if (e.stage == s)
          std::printf(" %c%u %.2f-%.2f", e.forward ? 'F' : 'B', e.micro_batch, (e.start_ns - last.start_ns) * 1e-6,
                      (e.end_ns - last.start_ns) * 1e-6);
      std::printf("\n");
    }
  }
  if (json_output) {
    json out = {{"device", contexts.description}, {"simulated", contexts.simulated}, {"model", model.name},
                {"stages", stages}, {"micro_batches", micro_batches}, {"batch", config.batch_size},
                {"steps", steps}, {"runs", runs}};
    if (!note.empty()) out["note"] = note;
    std::printf("%s\n", out.dump().c_str());
  }
  return 0;
}

}  // namespace ts::app
