#include "app/bench_precision.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/bench_parallel.h"  // BenchData
#include "compute/common/error.h"
#include "compute/kernels/mixed_precision.h"
#include "compute/nn/presets.h"
#include "compute/nn/trainer.h"
#include "compute/vk/buffer.h"
#include "compute/vk/pipeline.h"

namespace ts::app {
namespace {

double MedianOf(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

struct PrecisionRun {
  nn::Precision precision;
  std::unique_ptr<nn::Trainer> trainer;
  std::vector<double> samples_per_second, gpu_step_ms;
  double bytes_per_step = 0, matmul_bytes = 0, flops_per_step = 0;
  uint64_t memory = 0, activation_memory = 0;
  float last_loss = 0, loss_scale = 1;
  uint64_t skipped = 0;
  // The matmul kernels the plan chose (autotuned), with how many dispatches
  // each: shows whether fp16 runs on tensor cores ("cooperative-matrix").
  std::map<std::string, int> matmul_kernels;
};

std::string KernelCounts(const std::map<std::string, int>& kernels) {
  std::string text;
  for (const auto& [name, count] : kernels) text += (text.empty() ? "" : ", ") + name + " x" + std::to_string(count);
  return text.empty() ? "none" : text;
}

}  // namespace

int RunPrecisionBench(const Arguments& args) {
  const std::string model_name = args.String("model").value_or("mnist-mlp");
  const nn::ModelDesc model = nn::LoadModelOrPreset(model_name);
  nn::TrainConfig config = nn::ParseTrainConfig(model.training, model_name + ": training");
  if (auto batch = args.PositiveInt("batch")) config.batch_size = *batch;
  config.replicas = 1;
  const uint32_t steps = args.PositiveInt("steps").value_or(64);
  const uint32_t rounds = args.PositiveInt("rounds").value_or(5);
  std::string note;
  const data::Dataset train = BenchData(model, config, args, std::max(config.batch_size * (steps + 2), 1024u), note);
  vk::ContextOptions options;
  options.device_index = args.Int("device").value_or(-1);
  options.validation = args.Has("validate");
  std::unique_ptr<vk::Context> context = vk::Context::Create(options);
  const std::string unavailable = kernels::Fp16Unavailable(context->info());
  if (!unavailable.empty()) throw Error("bench --precision: " + unavailable);
  vk::PipelineCache pipelines(*context);

  std::vector<PrecisionRun> runs;
  for (nn::Precision precision : {nn::Precision::kFp32, nn::Precision::kFp16}) {
    PrecisionRun run;
    run.precision = precision;
    config.precision = precision;
    run.trainer = std::make_unique<nn::Trainer>(*context, pipelines, model, config, &train, nullptr);
    run.trainer->set_timing_interval(0);  // every submission timed: GPU time per step
    run.trainer->RunSteps(2 * config.steps_per_submit, [](const nn::StepReport&) {});  // warm-up: compile
    for (const nn::DispatchInfo& d : run.trainer->step_dispatches()) {
      run.bytes_per_step += d.cost.bytes_read + d.cost.bytes_written;
      run.flops_per_step += d.cost.flops;
      if (d.kernel == "matmul") {
        run.matmul_bytes += d.cost.bytes_read + d.cost.bytes_written;
        ++run.matmul_kernels[d.variant.empty() ? "?" : d.variant];
      }
    }
    const nn::MemoryUse& memory = run.trainer->plan().memory();
    run.memory = memory.total();
    run.activation_memory = memory.activations + memory.activation_gradients;
    runs.push_back(std::move(run));
  }
  // Interleaved rounds: the machine's load falls on both alike.
  for (uint32_t round = 0; round < rounds; ++round)
    for (PrecisionRun& run : runs) {
      std::vector<double> gpu_ms;
      const auto start = std::chrono::steady_clock::now();
      run.trainer->RunSteps(steps, [&](const nn::StepReport& r) {
        double ns = 0;
        for (double t : r.dispatch_ns) ns += t;
        if (ns > 0) gpu_ms.push_back(ns * 1e-6);
        run.last_loss = r.loss;
        run.loss_scale = r.loss_scale;
        run.skipped += r.skipped ? 1 : 0;
      });
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      run.samples_per_second.push_back(double(steps) * config.batch_size / seconds);
      run.gpu_step_ms.push_back(MedianOf(gpu_ms));
      if (!args.Has("json"))
        std::fprintf(stderr, "\rround %u/%u: %s measured   ", round + 1, rounds, nn::PrecisionName(run.precision));
    }

  const PrecisionRun& fp32 = runs[0];
  auto ratio = [](double a, double b) { return b > 0 ? a / b : 0.0; };
  if (args.Has("json")) {
    nlohmann::json out = {{"model", model.name}, {"data", train.name}, {"batch", config.batch_size},
                          {"steps", steps},      {"rounds", rounds},   {"device", context->info().name},
                          {"rows", nlohmann::json::array()}};
    if (!note.empty()) out["note"] = note;
    for (const PrecisionRun& run : runs)
      out["rows"].push_back({{"precision", nn::PrecisionName(run.precision)},
                             {"samples_per_second", MedianOf(run.samples_per_second)},
                             {"samples_per_second_vs_fp32", ratio(MedianOf(run.samples_per_second), MedianOf(fp32.samples_per_second))},
                             {"gpu_step_ms", MedianOf(run.gpu_step_ms)},
                             {"bytes_per_step", run.bytes_per_step},
                             {"matmul_bytes_per_step", run.matmul_bytes},
                             {"flops_per_step", run.flops_per_step},
                             {"device_memory_bytes", run.memory},
                             {"activation_memory_bytes", run.activation_memory},
                             {"loss", run.last_loss},
                             {"loss_scale", run.loss_scale},
                             {"skipped_steps", run.skipped},
                             {"matmul_kernels", run.matmul_kernels}});
    std::printf("%s\n", out.dump().c_str());
    return 0;
  }
  std::fprintf(stderr, "\r%60s\r", "");
  std::printf("Precision: %s, batch %u, data %s, on %s\n", model.name.c_str(), config.batch_size, train.name.c_str(),
              context->info().name.c_str());
  if (!note.empty()) std::printf("Note: %s\n", note.c_str());
  std::printf("%d interleaved rounds of %u steps each; medians.\n", rounds, steps);
  std::printf("%-9s %12s %8s %12s %14s %14s %12s %14s %10s\n", "precision", "samples/s", "vs fp32", "GPU ms/step",
              "bytes/step", "matmul bytes", "memory", "activations", "loss scale");
  for (const PrecisionRun& run : runs)
    std::printf("%-9s %12.0f %7.2fx %12.3f %14s %14s %12s %14s %10g\n", nn::PrecisionName(run.precision),
                MedianOf(run.samples_per_second), ratio(MedianOf(run.samples_per_second), MedianOf(fp32.samples_per_second)),
                MedianOf(run.gpu_step_ms), vk::FormatBytes(uint64_t(run.bytes_per_step)).c_str(),
                vk::FormatBytes(uint64_t(run.matmul_bytes)).c_str(), vk::FormatBytes(run.memory).c_str(),
                vk::FormatBytes(run.activation_memory).c_str(), double(run.loss_scale));
  const PrecisionRun& fp16 = runs[1];
  std::printf("fp16 / fp32: bytes per step %.2fx, matmul bytes %.2fx, device memory %.2fx, GPU time per step %.2fx.\n",
              ratio(fp16.bytes_per_step, fp32.bytes_per_step), ratio(fp16.matmul_bytes, fp32.matmul_bytes),
              ratio(double(fp16.memory), double(fp32.memory)),
              ratio(MedianOf(fp16.gpu_step_ms), MedianOf(fp32.gpu_step_ms)));
  if (context->info().is_software())
    std::printf("On a software driver (lavapipe) a load costs the same per element whatever its width, and each fp16\n"
                "value is converted to fp32 and back: fewer bytes do not make it faster here. On a GPU, bandwidth-\n"
                "bound kernels gain up to 2x from half the bytes.\n");
  for (const PrecisionRun& run : runs)
    std::printf("%s matmul kernels: %s\n", nn::PrecisionName(run.precision), KernelCounts(run.matmul_kernels).c_str());
  if (fp16.skipped) std::printf("fp16 skipped %llu step(s) whose gradients overflowed.\n", static_cast<unsigned long long>(fp16.skipped));
  return context->validation_message_count() > 0 ? 1 : 0;
}

}  // namespace ts::app
