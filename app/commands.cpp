#include "app/commands.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <vector>

#include "app/arguments.h"
#include "app/bench.h"
#include "app/exchange.h"
#include "app/gui.h"
#include "app/lab_command.h"
#include "app/progress.h"
#include "app/resume_check.h"
#include "app/run_logs.h"
#include "app/sample_command.h"
#include "app/vector_width.h"
#include "compute/common/error.h"
#include "compute/common/file_write.h"
#include "compute/common/json_read.h"
#include "compute/data/registry.h"
#include "compute/nn/checkpoint.h"
#include "compute/nn/data_fit.h"
#include "compute/nn/loss_watch.h"
#include "compute/nn/metrics_log.h"
#include "compute/nn/presets.h"
#include "compute/nn/trainer.h"
#include "compute/parallel/data_parallel.h"
#include "compute/profile/ceilings.h"
#include "compute/profile/vector_width.h"
#include "compute/vk/buffer.h"
#include "compute/vk/context.h"

namespace ts::app {
namespace {

constexpr const char* kUsage =
    "usage: tensorscope [COMMAND] [OPTIONS]\n"
    "\n"
    "Commands:\n"
    "  (none)                 open the window on the spiral example (headless training without a display)\n"
    "  gui                    open the window (--project FILE opens a project)\n"
    "  train MODEL            train MODEL (a model .json file or a preset name)\n"
    "      --data SPEC          dataset: spiral|circles|xor|blobs|moons[:key=value,...], mnist,\n"
    "                           fashion-mnist, shapes[:...], cifar10[:DIR], idx:DIR, images:DIR,\n"
    "                           iris, wine, digits, a .csv path, or text: text:FILE[:context=N,\n"
    "                           val_fraction=X] (characters of any UTF-8 file), kjv (the built-in text)\n"
    "      --max-steps N        stop after N steps, whatever the epochs\n"
    "      --eval-interval N    the validation loss (and --save) every N steps, with the time trained\n"
    "      --epochs N  --batch B  --lr X  --optimizer sgd|momentum|adam|adamw  --seed S\n"
    "      --weight-decay X  --momentum X  --validation-fraction X  --steps-per-submit N\n"
    "      --save CKPT          write a checkpoint after every epoch (atomically)\n"
    "      --save-init CKPT     write the initial weights (before the first step) as a checkpoint\n"
    "      --metrics-csv FILE   every step's and evaluation's loss, accuracy, learning rate, speed (%.9g)\n"
    "      --resume CKPT        continue from a checkpoint\n"
    "      --profile            print per-kernel GPU time, GFLOP/s and GB/s at the end\n"
    "      --no-autotune        use the device's default matmul kernel instead of measuring the candidates\n"
    "      --replicas N         data parallel: N replicas (one per GPU, or simulated on one device), the\n"
    "                           batch split among them, gradients averaged by a ring all-reduce\n"
    "      --precision fp32|fp16  fp16: mixed precision (fp16 activations and weight copy, fp32 master\n"
    "                           weights, dynamic loss scaling); every layer but the sequence layers\n"
    "  sample CKPT            generate text from a sequence model's checkpoint (e.g. char-gpt)\n"
    "      --prompt TEXT  --tokens N (200)  --temperature T (1.0)  --top-k K (all)  --seed S\n"
    "  eval CKPT              evaluate a checkpoint: accuracy and confusion matrix\n"
    "      --data SPEC  --split test|train  --batch B\n"
    "      --predictions FILE   write each sample's features, label and class probabilities as CSV\n"
    "  lab [LESSON]           the Kernel Lab: real kernels, checked, timed and explained (--list: lessons;\n"
    "                           no LESSON: the window, on lesson 1)\n"
    "      --size N  --workgroup N  --KNOB N   a lesson's settings (see --list)\n"
    "      --json               one JSON object instead of the table\n"
    "  lab puzzle NAME        GLSL puzzles (--list: the puzzles; NAME alone: its task and interface)\n"
    "      --solution           print the reference kernel body\n"
    "      --check FILE.glsl    compile, run and check a kernel body; exit 0 only when correct and\n"
    "                           within budget (--no-time: skip timing it against the reference)\n"
    "  export CKPT_OR_MODEL   write a checkpoint (or a model with fresh weights) for other tools\n"
    "      --format onnx|pytorch  -o PATH   (an .onnx file; a folder with model.py, weights, train.py)\n"
    "  import MODEL.onnx      turn an ONNX MLP or CNN into a checkpoint (and its model .json)\n"
    "      -o CKPT  [--model-json FILE (default: CKPT's name with .json)]\n"
    "  parity MODEL           replay the first steps in PyTorch from the same weights and batches;\n"
    "      --steps N (50)       both loss curves, the per-step relative difference and a verdict\n"
    "  devices                list Vulkan devices and say which one is used\n"
    "  presets                list the built-in models\n"
    "  bench                  SGEMM and MLP training/inference throughput on the device\n"
    "      --serve              JSON-lines mode driven by tests/bench/run.sh (vs numpy/PyTorch)\n"
    "      --ceilings           the device's measured bandwidth, FLOP/s, transfers and dispatch\n"
    "                           overhead (cached per device; --remeasure measures again)\n"
    "      --model MODEL        per-kernel table of one training step of MODEL against the ceilings\n"
    "                           (--batch N, --steps N, --data SPEC, --trace: trace-mode overhead)\n"
    "      --json               one JSON object instead of text (with --ceilings or --model)\n"
    "\n"
    "Options for every command:\n"
    "  --device N             use Vulkan device N (see `tensorscope devices`)\n"
    "  --validate             enable the Khronos validation layer and print its messages\n";

const std::set<std::string> kCommonFlags = {"device"};
const std::set<std::string> kCommonSwitches = {"validate", "help"};

// `tensorscope lab` opens the window when it names no lesson and asks for no
// listing or JSON (those are the command line's: LESSON, --list, --json).
bool LabOpensWindow(const std::vector<std::string>& words) {
  static const std::set<std::string> kWindowValueFlags = {"--device", "--project", "--test-log", "--screenshot-dir"};
  for (size_t i = 0; i < words.size(); ++i) {
    if (words[i] == "--list" || words[i] == "--json" || words[i].rfind("--", 0) != 0) return false;
    if (kWindowValueFlags.count(words[i])) ++i;  // its value
  }
  return true;
}

std::set<std::string> With(std::set<std::string> base, std::initializer_list<std::string> more) {
  base.insert(more.begin(), more.end());
  return base;
}

int RunDevices() {
  std::vector<vk::DeviceInfo> devices = vk::ListDevices();
  std::string reason;
  uint32_t chosen = vk::ChooseDefaultDevice(devices, &reason);
  for (const vk::DeviceInfo& d : devices) {
    std::printf("%s[%u] %s\n", d.index == chosen ? "* " : "  ", d.index, d.name.c_str());
    std::printf("      type: %s, driver: %s %s, Vulkan %s\n", vk::DeviceTypeName(d.type), d.driver_name.c_str(),
                d.driver_info.c_str(), vk::VersionString(d.api_version).c_str());
    std::printf("      subgroup size: %u (shuffle: %s), shared memory per workgroup: %s\n", d.subgroup_size,
                d.subgroup_shuffle ? "yes" : "no", vk::FormatBytes(d.max_shared_memory_bytes).c_str());
    std::printf("      max workgroup size: %u x %u x %u, max invocations per workgroup: %u\n",
                d.max_workgroup_size[0], d.max_workgroup_size[1], d.max_workgroup_size[2],
                d.max_workgroup_invocations);
    std::printf("      max storage buffer range: %s, timestamps: %s, shader clock: %s%s, pipeline statistics: %s\n",
                vk::FormatBytes(d.max_storage_buffer_range).c_str(), d.timestamp_valid_bits ? "yes" : "no",
                d.shader_clock ? "yes" : "no", d.shader_clock && d.shader_device_clock ? " (device clock too)" : "",
                d.pipeline_statistics ? "yes" : "no");
    const auto join = [](const std::vector<std::string>& words) {
      std::string text;
      for (const std::string& w : words) text += (text.empty() ? "" : ", ") + w;
      return text.empty() ? std::string("none") : text;
    };
    std::printf("      subgroup operations: %s", join(vk::SubgroupOperationNames(d.subgroup_operations)).c_str());
    if (d.max_subgroup_size) std::printf("; size control %u to %u", d.min_subgroup_size, d.max_subgroup_size);
    std::printf("\n");
    if (d.is_software())
      std::printf("      lavapipe vector width: %s\n", profile::CurrentVectorWidthChoice().Describe().c_str());
    for (size_t h = 0; h < d.heaps.size(); ++h)
      std::printf("      memory heap %zu: %s%s\n", h, vk::FormatBytes(d.heaps[h].size_bytes).c_str(),
                  d.heaps[h].device_local ? " (device-local)" : "");
    for (size_t t = 0; t < d.memory_types.size(); ++t)
      std::printf("      memory type %zu (heap %u): %s\n", t, d.memory_types[t].heap,
                  join(vk::MemoryPropertyNames(d.memory_types[t].flags)).c_str());
    std::vector<std::string> present, absent;
    for (const std::string& e : vk::ComputeRelevantExtensions()) (d.has_extension(e) ? present : absent).push_back(e);
    std::printf("      extensions present: %s\n      absent: %s\n", join(present).c_str(), join(absent).c_str());
    std::printf("      mixed precision: fp16 storage %s, fp16 arithmetic %s, tensor cores for the fp16 matmul %s\n",
                d.fp16_storage ? "yes" : "no", d.fp16_arithmetic ? "yes" : "no",
                d.cooperative_matrix_fp16 ? "yes (VK_NV_cooperative_matrix 16x16x16)" : "no");
  }
  std::printf("Chosen by default: [%u] %s, because %s. Pick another with --device N.\n", chosen,
              devices[chosen].name.c_str(), reason.c_str());
  return 0;
}

int RunPresets() {
  for (const nn::Preset& preset : nn::BuiltInPresets()) {
    nn::ModelDesc model = nn::ParseModel(preset.json, preset.name);
    nn::TrainConfig config = nn::ParseTrainConfig(model.training, preset.name);
    std::printf("%-20s %s  (data: %s)\n", preset.name, nn::ArchitectureSignature(model).c_str(),
                config.data.empty() ? "none" : config.data.c_str());
  }
  return 0;
}

nn::TrainConfig ConfigFromArguments(const nn::ModelDesc& model, const std::string& source, const Arguments& args) {
  nn::TrainConfig config = nn::ParseTrainConfig(model.training, source + ": training");
  if (auto v = args.String("data")) config.data = *v;
  if (auto v = args.PositiveInt("epochs")) config.epochs = *v;
  if (auto v = args.PositiveInt("batch")) config.batch_size = *v;
  if (auto v = args.Number("lr")) config.learning_rate = *v;
  if (auto v = args.String("optimizer")) config.optimizer = nn::ParseOptimizerName(*v, "--optimizer");
  if (auto v = args.PositiveInt("seed")) config.seed = *v;
  if (auto v = args.Number("weight-decay")) config.hyper.weight_decay = static_cast<float>(*v);
  if (auto v = args.Number("momentum")) config.hyper.momentum = static_cast<float>(*v);
  if (auto v = args.Number("validation-fraction")) config.validation_fraction = *v;
  if (auto v = args.PositiveInt("steps-per-submit")) config.steps_per_submit = *v;
  if (args.Has("no-autotune")) config.autotune = false;
  if (auto v = args.PositiveInt("replicas")) config.replicas = *v;
  if (auto v = args.String("precision")) config.precision = nn::ParsePrecision(*v, "--precision");
  if (auto v = args.PositiveInt("max-steps")) config.max_steps = *v;
  nn::ValidateTrainConfig(config);
  if (config.data.empty())
    throw Error(source + " names no dataset; pass --data (e.g. --data spiral or --data mnist).");
  return config;
}

void PrintConfusion(const nn::EvalResult& result, const data::Dataset& dataset) {
  std::printf("Confusion matrix (rows: true class, columns: predicted):\n%12s", "");
  for (uint32_t c = 0; c < result.classes; ++c) std::printf(" %6u", c);
  std::printf("\n");
  for (uint32_t t = 0; t < result.classes; ++t) {
    std::string name = t < dataset.class_names.size() ? dataset.class_names[t] : std::to_string(t);
    if (name.size() > 11) name = name.substr(0, 11);
    std::printf("%11s ", name.c_str());
    for (uint32_t p = 0; p < result.classes; ++p)
      std::printf(" %6llu", static_cast<unsigned long long>(result.confusion[size_t(t) * result.classes + p]));
    std::printf("\n");
  }
}

// Per-dispatch GPU time, summed over the run, with achieved rates from the
// kernels' declared costs.
struct Profile {
  std::vector<double> total_ns;
  uint64_t steps = 0;
  void Add(const nn::StepReport& report) {
    if (report.dispatch_ns.empty()) return;  // an untimed submission's step
    if (total_ns.empty()) total_ns.assign(report.dispatch_ns.size(), 0.0);
    for (size_t i = 0; i < report.dispatch_ns.size(); ++i) total_ns[i] += report.dispatch_ns[i];
    ++steps;
  }
  void Print(const std::vector<nn::DispatchInfo>& infos) const {
    if (steps == 0) return;
    double step_ns = 0;
    for (double ns : total_ns) step_ns += ns / steps;
    std::printf("\nGPU time per training step: %.1f us over %zu dispatches (mean of %llu steps)\n", step_ns / 1e3,
                infos.size(), static_cast<unsigned long long>(steps));
    std::printf("%-52s %-10s %9s %6s %9s %8s %12s\n", "dispatch", "kernel", "time us", "share", "GFLOP/s", "GB/s",
                "workgroups");
    for (size_t i = 0; i < infos.size(); ++i) {
      const nn::DispatchInfo& d = infos[i];
      double ns = total_ns[i] / steps;
      std::string label = d.label.size() > 52 ? d.label.substr(0, 49) + "..." : d.label;
      std::printf("%-52s %-10s %9.1f %5.1f%% %9.2f %8.2f %5ux%ux%u\n", label.c_str(), d.kernel.c_str(), ns / 1e3,
                  100 * ns / step_ns, ns > 0 ? d.cost.flops / ns : 0.0,
                  ns > 0 ? (d.cost.bytes_read + d.cost.bytes_written) / ns : 0.0, d.workgroups[0], d.workgroups[1],
                  d.workgroups[2]);
    }
    std::printf("(GFLOP/s and GB/s are the kernels' declared minimum work divided by measured time;\n"
                " caches can make achieved GB/s exceed what memory alone could deliver.)\n");
  }
};

// Data parallelism: where a step's time goes, replica 0's phases and the
// host's all-reduce, as medians over the run.
struct ReplicaPhases {
  std::vector<double> step_ms, forward_ms, backward_ms, reduce_ms, update_ms, exposed_reduce_ms;
  uint64_t bytes = 0;
  bool device_clock = false;
  void Add(const parallel::ParallelStepTimeline& t) {
    const parallel::StepPhases phases = parallel::SummarizePhases(t);
    step_ms.push_back((t.end_ns - t.start_ns) * 1e-6);
    forward_ms.push_back(phases.forward_ms), backward_ms.push_back(phases.backward_ms);
    reduce_ms.push_back(phases.all_reduce_ms), update_ms.push_back(phases.update_ms);
    exposed_reduce_ms.push_back(phases.waited_ms);
    bytes = t.bytes_sent_per_replica;
    device_clock = t.device_clock;
  }
  static double Median(std::vector<double> v) {
    if (v.empty()) return 0;
    std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
    return v[v.size() / 2];
  }
  void Print(const parallel::DataParallelTrainer& trainer) const {
    std::printf("\nData parallel, %u replicas%s: %zu gradient bucket(s), %s of gradients; the ring all-reduce sends "
                "%s per replica per step\n",
                trainer.replicas(), trainer.simulated() ? " (simulated on one device)" : "", trainer.buckets().size(),
                vk::FormatBytes(trainer.gradient_bytes()).c_str(), vk::FormatBytes(bytes).c_str());
    std::printf("Median of %zu steps: step %.3f ms; replica 0: forward + loss %.3f ms, backward %.3f ms, update "
                "%.3f ms; all-reduce (host, overlapping the backward pass) %.3f ms, of which the devices waited "
                "%.3f ms%s\n",
                step_ms.size(), Median(step_ms), Median(forward_ms), Median(backward_ms), Median(update_ms),
                Median(reduce_ms), Median(exposed_reduce_ms),
                device_clock ? "" : " (host clock: the devices' timestamps could not be calibrated)");
  }
};

// Refuses a --save destination that could not be written, before training
// rather than after the first epoch: a missing or read-only folder, or a
// model or config JSON cannot hold.
void CheckCheckpointDestination(const std::string& path, const nn::ModelDesc& model, const nn::TrainConfig& config) {
  DumpJson(nn::ModelToJson(model), "--save " + path);
  DumpJson(nn::TrainConfigToJson(config), "--save " + path);
  CheckOutputDestination("--save", path);
}

int RunTrain(const std::string& model_name, const Arguments& args) {
  nn::ModelDesc model = nn::LoadModelOrPreset(model_name);
  nn::TrainConfig config = ConfigFromArguments(model, model_name, args);
  if (auto path = args.String("save")) CheckCheckpointDestination(*path, model, config);
  if (auto path = args.String("save-init")) CheckCheckpointDestination(*path, model, config);
  if (args.Has("save-init") && args.Has("resume"))
    throw Error("--save-init writes the weights before the first step; with --resume there is no first step.");
  std::optional<nn::MetricsLog> metrics;
  const std::string metrics_path = args.String("metrics-csv").value_or("");
  if (args.String("metrics-csv")) {
    CheckOutputDestination("--metrics-csv", metrics_path);
    metrics.emplace();
  }
  std::optional<nn::Checkpoint> resume;
  if (auto path = args.String("resume")) resume = nn::LoadCheckpoint(*path);

  data::DataSplit split = data::LoadDataSpec(config.data);
  if (split.train.labels_per_sample > 1) {  // text: the model learns this vocabulary, and keeps it
    config.vocabulary = split.train.class_names;
    if (std::optional<std::string> note = nn::FitVocabulary(model, static_cast<uint32_t>(config.vocabulary.size())))
      std::printf("%s\n", note->c_str());
  }
  data::Dataset train = std::move(split.train), validation;
  if (config.validation_fraction > 0)
    std::tie(train, validation) = data::SplitValidation(train, config.validation_fraction, config.seed);

  // One device, or data-parallel replicas (config.replicas), each on its own device.
  std::unique_ptr<vk::Context> context;
  std::unique_ptr<vk::PipelineCache> pipelines;
  std::unique_ptr<nn::Trainer> single;
  parallel::ReplicaContexts replica_contexts;
  std::unique_ptr<parallel::DataParallelTrainer> replicas;
  if (config.replicas > 1) {
    replica_contexts = parallel::CreateReplicaContexts(config.replicas, ContextOptionsFrom(args));
    std::printf("Device: %s (%s)\nData parallel: %s\n", replica_contexts.contexts[0]->info().name.c_str(),
                vk::DeviceTypeName(replica_contexts.contexts[0]->info().type), replica_contexts.description.c_str());
    replicas = std::make_unique<parallel::DataParallelTrainer>(replica_contexts.pointers(), model, config, &train,
                                                               validation.count() ? &validation : nullptr);
    if (args.Has("profile"))
      std::fprintf(stderr, "Warning: --profile's per-kernel table is for one device; with replicas the step's "
                           "phases are printed instead.\n");
  } else {
    context = MakeContext(args);
    pipelines = std::make_unique<vk::PipelineCache>(*context);
    std::printf("Device: %s (%s)\n", context->info().name.c_str(), vk::DeviceTypeName(context->info().type));
    single = std::make_unique<nn::Trainer>(*context, *pipelines, model, config, &train,
                                           validation.count() ? &validation : nullptr);
    if (args.Has("profile")) single->set_timing_interval(0);  // the per-kernel table averages every step
  }
  nn::Trainer& trainer = replicas ? replicas->primary() : *single;
  auto position = [&]() -> nn::TrainPosition { return replicas ? replicas->position() : trainer.position(); };
  auto finished = [&] { return replicas ? replicas->finished() : trainer.finished(); };
  auto capture = [&] {
    nn::Checkpoint checkpoint = nn::CaptureCheckpoint(replicas ? replicas->primary() : trainer);
    checkpoint.config = nn::TrainConfigToJson(config);  // the global batch and the replicas, not a replica's share
    return checkpoint;
  };
  if (resume) {
    nn::RestoreCheckpoint(trainer, *resume, *args.String("resume"));
    if (replicas) replicas->BroadcastFromPrimary();
    if (finished())
      std::printf("Resumed from %s: all %u epochs are done (pass --epochs with more to train further).\n",
                  args.String("resume")->c_str(), config.epochs);
    else
      std::printf("Resumed from %s at epoch %u.\n", args.String("resume")->c_str(), position().epoch + 1);
    const nn::TrainConfig trained = nn::ParseTrainConfig(resume->config, *args.String("resume") + ": training config");
    for (const std::string& difference : ResumeDifferences(config, trained))
      std::fprintf(stderr, "Warning: %s\n", difference.c_str());
  }
  if (auto path = args.String("save-init")) {
    nn::SaveCheckpoint(*path, capture());
    std::printf("Initial weights: %s\n", path->c_str());
  }
  const nn::Plan& plan = trainer.plan();
  std::printf("Model: %s  (%s)\n", model.name.c_str(), nn::ArchitectureSignature(model).c_str());
  std::printf("Parameters: %llu, device memory: %s, dispatches per step: %zu\n",
              static_cast<unsigned long long>(plan.parameter_count()), vk::FormatBytes(plan.memory().total()).c_str(),
              replicas ? plan.train_step().size() + 1 : trainer.step_dispatches().size());
  std::printf("Data: %s (%zu train, %zu validation), %s, lr %g, batch %u, %u epochs\n", config.data.c_str(),
              train.count(), validation.count(), kernels::OptimizerName(config.optimizer), config.learning_rate,
              config.batch_size, config.epochs);
  const bool mixed = config.precision == nn::Precision::kFp16;
  if (mixed)
    std::printf("Precision: fp16 (activations and a weight copy in fp16, fp32 master weights and sums, dynamic "
                "loss scaling from %g)\n", double(plan.options().loss_scale.init_scale));

  const uint32_t steps_per_epoch = replicas ? replicas->steps_per_epoch() : trainer.steps_per_epoch();
  ProgressBar progress(config.epochs, steps_per_epoch, config.batch_size);
  const uint32_t plan_tokens = plan.tokens_per_sample();
  constexpr uint64_t kTextLogInterval = 100;
  // A sequence model: nanoGPT's FLOPs per token, and the utilisation of the device's measured peak
  // (`bench --ceilings`; only when cached, so training never waits for a measurement).
  const uint64_t flops_per_token = nn::TrainingFlopsPerToken(model);
  const std::optional<profile::CachedCeilings> ceilings =
      flops_per_token && context ? profile::LoadCachedCeilings(context->info()) : std::nullopt;
  if (flops_per_token)
    std::printf("Training FLOPs per token: %.3g (6N + 12 L H Q T, nanoGPT's estimate); per step %.3g\n",
                double(flops_per_token), double(flops_per_token) * plan_tokens * config.batch_size);
  auto utilisation = [&](double tokens, double seconds) {
    if (!flops_per_token || seconds <= 0) return std::string();
    const double achieved = double(flops_per_token) * tokens / seconds;
    std::string text = "  |  " + std::to_string(static_cast<long long>(tokens / seconds)) + " tokens/s, " +
                       std::to_string(achieved / 1e9).substr(0, 5) + " GFLOP/s";
    if (ceilings && ceilings->ceilings.fp32_gflops > 0)
      text += ", MFU " + std::to_string(100 * achieved / (ceilings->ceilings.fp32_gflops * 1e9)).substr(0, 5) +
              "% of " + std::to_string(static_cast<long long>(ceilings->ceilings.fp32_gflops)) + " GFLOP/s";
    return text;
  };
  Profile profile;
  ReplicaPhases phases;
  nn::LossWatch loss_watch(steps_per_epoch);
  float loss_scale = 1;
  uint64_t skipped_steps = 0;
  // --eval-interval N: the validation loss every N steps, with the time
  // trained so far (and the checkpoint saved), instead of once per epoch.
  const uint32_t eval_interval = args.PositiveInt("eval-interval").value_or(0);
  if (eval_interval > 0 && replicas) throw Error("--eval-interval trains on one device (without --replicas).");
  const auto started = std::chrono::steady_clock::now();
  double trained_seconds = 0;  // training only, without the evaluations
  while (eval_interval > 0 && !finished()) {
    double loss_sum = 0;
    uint32_t steps = 0;
    const auto chunk_start = std::chrono::steady_clock::now();
    trainer.RunSteps(eval_interval, [&](const nn::StepReport& r) {
      progress.Update(r.epoch, r.step_in_epoch, r.loss, r.accuracy);
      loss_sum += r.loss;
      ++steps;
      if (metrics) metrics->AddStep(r, config.batch_size);
    });
    const double chunk_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - chunk_start).count();
    trained_seconds += chunk_seconds;
    progress.Finish();
    std::printf("step %llu  %.1f s trained (%.1f s in all)  train loss %.4f", static_cast<unsigned long long>(position().global_step),
                trained_seconds, std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(),
                steps ? loss_sum / steps : 0.0);
    if (std::optional<nn::EvalResult> v = trainer.EvaluateValidation()) {
      std::printf("  |  val loss %.4f  acc %.2f%%", v->loss, 100 * v->accuracy);
      if (metrics) metrics->AddEvaluation("validation", position(), *v);
    }
    std::printf("%s", utilisation(double(steps) * config.batch_size * plan_tokens, chunk_seconds).c_str());
    std::printf("\n");
    std::fflush(stdout);
    if (auto path = args.String("save")) nn::SaveCheckpoint(*path, capture());
    if (metrics) metrics->Save(metrics_path);
  }
  while (!finished()) {
    nn::EpochSummary summary;
    try {
      auto on_step = [&](const nn::StepReport& r) {
        progress.Update(r.epoch, r.step_in_epoch, r.loss, r.accuracy);
        profile.Add(r);
        loss_scale = r.loss_scale;
        skipped_steps += r.skipped ? 1 : 0;
        if (replicas) phases.Add(replicas->last_timeline());
        if (metrics) metrics->AddStep(r, config.batch_size);
        if (plan_tokens > 1 && (r.global_step + 1) % kTextLogInterval == 0) {  // a text model: the loss as it goes
          progress.Finish();
          std::printf("step %llu  loss %.4f  (%s)\n", static_cast<unsigned long long>(r.global_step + 1), r.loss,
                      r.grad_norm > 0 ? ("gradient norm " + std::to_string(r.grad_norm)).c_str() : "");
        }
        if (std::optional<std::string> warning = loss_watch.Add(r.global_step, r.loss))
          std::fprintf(stderr, "\nWarning: %s\n", warning->c_str());
      };
      summary = replicas ? replicas->RunEpoch(on_step) : trainer.RunEpoch(on_step);
    } catch (const nn::DivergenceError&) {
      progress.Finish();
      if (args.String("save")) std::fprintf(stderr, "The last checkpoint (if any) was kept unchanged.\n");
      if (metrics) metrics->Save(metrics_path);  // the steps up to the divergence
      throw;
    }
    progress.Finish();
    std::printf("epoch %u/%u  train loss %.4f  acc %.2f%%", summary.epoch + 1, config.epochs, summary.train_loss,
                100 * summary.train_accuracy);
    if (summary.validation)
      std::printf("  |  val loss %.4f  acc %.2f%%", summary.validation->loss, 100 * summary.validation->accuracy);
    std::printf("  |  %.1f s, %.0f samples/s", summary.seconds, summary.samples / std::max(summary.seconds, 1e-9));
    std::printf("%s", utilisation(double(summary.samples) * plan_tokens, summary.seconds).c_str());
    if (mixed)
      std::printf("  |  loss scale %g, %llu step(s) skipped so far", double(loss_scale),
                  static_cast<unsigned long long>(skipped_steps));
    std::printf("\n");
    if (metrics) {
      if (summary.validation) metrics->AddEvaluation("validation", position(), *summary.validation);
      metrics->Save(metrics_path);
    }
    if (auto path = args.String("save")) nn::SaveCheckpoint(*path, capture());
  }
  if (split.test.count()) {
    nn::EvalResult test = (replicas ? replicas->primary() : trainer).Evaluate(split.test);
    std::printf("test loss %.4f  test accuracy %.2f%% (%llu samples)\n", test.loss, 100 * test.accuracy,
                static_cast<unsigned long long>(test.samples));
    if (metrics) metrics->AddEvaluation("test", position(), test);
  }
  if (metrics) {
    metrics->Save(metrics_path);
    std::printf("Metrics: %s\n", metrics_path.c_str());
  }
  if (auto path = args.String("save")) std::printf("Checkpoint: %s\n", path->c_str());
  if (replicas) {
    phases.Print(*replicas);
    int code = 0;
    for (const auto& c : replica_contexts.contexts) code = ValidationExitCode(*c, code);
    return code;
  }
  if (args.Has("profile")) profile.Print(trainer.step_dispatches());
  return ValidationExitCode(*context, 0);
}

int RunEval(const std::string& checkpoint_path, const Arguments& args) {
  nn::Checkpoint checkpoint = nn::LoadCheckpoint(checkpoint_path);
  nn::TrainConfig config = nn::ParseTrainConfig(checkpoint.config, checkpoint_path + ": training config");
  if (auto v = args.String("data")) config.data = *v;
  if (auto v = args.PositiveInt("batch")) config.batch_size = *v;
  if (config.data.empty()) throw Error(checkpoint_path + " names no dataset; pass --data.");
  std::string which = args.String("split").value_or("test");
  if (which != "test" && which != "train") throw Error("--split: expected test or train, found \"" + which + "\".");
  if (auto path = args.String("predictions")) CheckOutputDestination("--predictions", *path);
  data::DataSplit split = data::LoadDataSpec(config.data);
  const data::Dataset& dataset = which == "test" ? split.test : split.train;
  if (dataset.count() == 0)
    throw Error("the " + which + " split of " + config.data + " is empty (test_fraction=0?); evaluate another split "
                "(--split train) or data (--data).");

  std::unique_ptr<vk::Context> context = MakeContext(args);
  vk::PipelineCache pipelines(*context);
  nn::Trainer evaluator(*context, pipelines, checkpoint.model, config, nullptr, nullptr);
  nn::RestoreParameters(evaluator.plan(), checkpoint, checkpoint_path);
  std::vector<float> outputs;
  nn::EvalResult result = args.Has("predictions") ? evaluator.EvaluateWithOutputs(dataset, outputs)
                                                  : evaluator.Evaluate(dataset);
  std::printf("Model: %s  (%s)\n", checkpoint.model.name.c_str(), nn::ArchitectureSignature(checkpoint.model).c_str());
  std::printf("Data: %s  (%llu samples)\n", dataset.name.c_str(), static_cast<unsigned long long>(result.samples));
  std::printf("loss %.4f  accuracy %.2f%%\n", result.loss, 100 * result.accuracy);
  PrintConfusion(result, dataset);
  if (auto path = args.String("predictions")) {
    const nn::Plan& plan = evaluator.plan();
    WritePredictions(*path, dataset, outputs, plan.output_features(),
                     plan.output_features() == 1 && plan.loss_kind() == kernels::LossKind::kBinaryCrossEntropyWithLogits);
    std::printf("Predictions: %s (%zu samples)\n", path->c_str(), dataset.count());
  }
  return ValidationExitCode(*context, 0);
}

}  // namespace

vk::ContextOptions ContextOptionsFrom(const Arguments& args) {
  vk::ContextOptions options;
  options.device_index = args.Int("device").value_or(-1);
  options.validation = args.Has("validate");
  return options;
}

std::unique_ptr<vk::Context> MakeContext(const Arguments& args) { return vk::Context::Create(ContextOptionsFrom(args)); }

int ValidationExitCode(const vk::Context& context, int code) {
  if (context.validation_message_count() == 0) return code;
  std::fprintf(stderr, "tensorscope: the validation layer reported %llu message(s) (above).\n",
               static_cast<unsigned long long>(context.validation_message_count()));
  return code == 0 ? 1 : code;
}

int RunCommandLine(int argc, char** argv) {
  std::vector<std::string> words(argv + 1, argv + argc);
  std::string command = words.empty() || words[0].rfind("--", 0) == 0 ? "" : words[0];
  if (!command.empty()) words.erase(words.begin());
  const std::set<std::string> train_flags = With(kCommonFlags, {"data", "epochs", "batch", "lr", "optimizer", "seed",
                                                                 "save", "resume", "weight-decay", "momentum",
                                                                 "validation-fraction", "steps-per-submit",
                                                                 "save-init", "metrics-csv", "replicas", "precision",
                                                                 "max-steps", "eval-interval"});
  try {
    // `bench --help` explains bench's own modes; every other --help prints the overview.
    if (command == "help" || (command != "bench" && !words.empty() && words[0] == "--help")) {
      std::printf("%s", kUsage);
      return 0;
    }
    // Every command below opens a device: lavapipe's vector width must be
    // settled before the first Vulkan instance (see app/vector_width.h).
    static const std::set<std::string> kDeviceCommands = {"devices", "bench",  "gui",   "",   "train",
                                                          "eval",    "export", "parity", "lab"};
    if (command == "probe-vector-width") return RunVectorWidthProbe();
    if (kDeviceCommands.count(command)) ChooseVectorWidth();
    if (command == "devices") {
      Arguments args(words, kCommonFlags, kCommonSwitches);
      return RunDevices();
    }
    if (command == "presets") return RunPresets();
    if (command == "sample") {
      ChooseVectorWidth();
      Arguments args(words, With(kCommonFlags, {"prompt", "tokens", "temperature", "top-k", "seed"}), kCommonSwitches);
      if (args.positional().size() != 1) throw Error("sample needs one checkpoint file (from train --save).");
      return RunSample(args.positional()[0], args);
    }
    if (command == "bench") return RunBench(words);
    if (command == "export") return RunExport(words);
    if (command == "import") return RunImport(words);
    if (command == "parity") return RunParity(words);
    if (command == "gui") return RunGui(words);
    if (command == "lab" && LabOpensWindow(words)) {
      // `tensorscope lab` with no lesson: the window, on the Lab's first lesson.
      if (!DisplayAvailable())
        throw Error("`tensorscope lab` opens the Kernel Lab window, and no display is set (DISPLAY or WAYLAND_DISPLAY). "
                    "Without one: `tensorscope lab --list` lists the lessons, `tensorscope lab LESSON` runs one.");
      return RunGui(words, std::string());
    }
    if (command == "lab") return RunLabCommand(words);
    if (command.empty()) {
      // The default: the window on the spiral example; without a display, a
      // headless training run of the same model.
      if (DisplayAvailable()) return RunGui(words);
      std::printf("No display (DISPLAY is not set): training the spiral example headless.\n");
      Arguments args(words, train_flags, With(kCommonSwitches, {"profile", "no-autotune"}));
      return RunTrain("spiral-mlp", args);
    }
    if (command == "train" || command == "eval") {
      Arguments args(words, command == "train" ? train_flags : With(kCommonFlags, {"data", "split", "batch", "predictions"}),
                     command == "train" ? With(kCommonSwitches, {"profile", "no-autotune"}) : kCommonSwitches);
      if (args.positional().size() != 1)
        throw Error(command == "train" ? "train needs one MODEL (a .json file or a preset name, see `tensorscope presets`)."
                                       : "eval needs one checkpoint file.");
      return command == "train" ? RunTrain(args.positional()[0], args) : RunEval(args.positional()[0], args);
    }
    std::fprintf(stderr, "tensorscope: unknown command '%s'.\n\n%s", command.c_str(), kUsage);
    return 2;
  } catch (const Error& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "tensorscope: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fflush(stdout);
    std::fprintf(stderr, "tensorscope: out of memory: the host could not allocate what this command needs "
                         "(a smaller dataset, model or batch may fit).\n");
    return 1;
  }
}

}  // namespace ts::app
