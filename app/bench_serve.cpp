#include "app/bench_serve.h"

#include "app/bench_gpt.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "compute/common/error.h"
#include "compute/data/dataset.h"
#include "compute/data/registry.h"
#include "compute/kernels/activation.h"
#include "compute/kernels/autotune.h"
#include "compute/kernels/matmul.h"
#include "compute/nn/boundary.h"
#include "compute/nn/fused_mlp.h"
#include "compute/nn/checkpoint.h"
#include "compute/nn/model.h"
#include "compute/nn/presets.h"
#include "compute/nn/trainer.h"
#include "compute/vk/buffer.h"
#include "compute/vk/context.h"
#include "compute/vk/pipeline.h"
#include "compute/vk/sequence.h"

// Requests understood by `tensorscope bench --serve` (one JSON object a line;
// each answer is one JSON line, {"error": "..."} on failure):
//   {"op": "info"}
//       -> {"device", "driver", "device_type", "subgroup_size", "default_matmul_variant"}
//   {"op": "matmul", "n": 1024, "variant": "register_blocked" | "shared_tiled" | "auto", "iterations": 3,
//    "min_time_s": 0}
//   {"op": "matmul", "m": 64, "n": 128, "k": 784, "transpose_a": false, "transpose_b": false, ...}
//       C = op(A) op(B) in fp32 (kernels::MatmulArgs: op(A) is m x k, op(B) k x n); "n" alone
//       means n x n x n, and m and k default to n. "auto" is the autotuner's pick for the shape
//       (kernels::TuneMatmul, as a plan compiles it; tuned on first use, then cached on disk);
//       the named variants run at their default tiling. Submissions of one dispatch each, at
//       least `iterations` and until their wall times add up to min_time_s (no warm-up; the
//       pipeline is built before the timing).
//       -> {"m", "n", "k", "transpose_a", "transpose_b", "variant" (as asked), "kernel" (the
//          candidate's name, e.g. "register-blocked 32x4 (1x8)"), "kernel_variant", "tiling",
//          "flops", "gpu_s": [...], "wall_s": [...], "max_error", and for "auto" "tuned":
//          {"from_cache", "measured", "candidates": [{"kernel", "median_ms", "rejected"}]}}:
//       gpu_s from the dispatch's timestamps, wall_s from submit to fence; max_error is the
//       largest error of 64 sampled elements of C relative to sum_k |a||b| (checked after the
//       first request for each kernel).
//   {"op": "boundary", "model": "spiral-mlp", "resolution": 256, "path": "auto" | "fused" |
//    "layer_by_layer", "iterations": 10, "min_time_s": 0}
//       The decision-boundary refresh: nn::BoundaryEvaluator::Evaluate(parameters,
//       statistics, with_hidden = false) over a resolution x resolution grid (1 to 1024) of
//       the model (a preset or a model file with two input features) at its initial
//       parameters, timed wall-clock per call (parameter upload + GPU + readback); the
//       evaluator is built and warmed up by one untimed call on first use. A path that
//       cannot serve the model (e.g. "fused" for a model the fused kernel does not take)
//       answers {"error"}.
//       -> {"model", "resolution", "points", "path", "fused" (which path ran),
//           "fused_unavailable_reason", "rows_per_invocation" and "tuning" (the fused kernel's
//           blocking and each measured candidate), "classes", "parameters", "wall_s": [...],
//           "gpu_ms": [...], "finite", "row_sum_error"}: the last two check the last refresh's
//           probabilities.
//   {"op": "mlp", "batch": 64, "steps": 256, "samples": 60000, "eval_samples": 10000}
//       The 784-128-10 MLP (relu, softmax cross-entropy, Adam lr 1e-3) on random
//       MNIST-shaped uint8 data (scaled by 1/255 on the device). The trainer of each batch
//       size is kept between requests; the first request warms it up.
//       -> {"train_s", "train_samples", "gpu_step_s", "eval_s", "eval_samples", "loss",
//           "eval_accuracy"}: train_s is the wall time of `steps` steps (steps_per_submit 16),
//           gpu_step_s the mean GPU time of a step (sum of its dispatches' timestamps, over
//           the steps of the submissions the trainer timed: it samples timing), eval_s
//           the wall time of Trainer::Evaluate over the first eval_samples samples.
//   {"op": "cnn", "batch": 64, "steps": 16, "samples": 8192, "eval_samples": 2048}
//       The seed CNN (the layers of assets/models/cifar10-cnn.json: conv 32 3x3 relu,
//       max pool 2, conv 64 3x3 relu, max pool 2, conv 64 3x3 relu, dense 64 relu,
//       dense 10, softmax cross-entropy; Adam lr 1e-3) on random CIFAR-shaped uint8
//       data (3x32x32, scaled by 1/255 on the device), one trainer per batch size,
//       warmed up by the first request.
//       -> the "mlp" answer, plus "parameters" (the model's parameter count, so the
//          driver can check its peer builds the same network) and "dispatch_ms"
//          ({label: mean GPU ms per step}).
//   {"op": "bias_act", "rows": 43264, "cols": 32, "activation": "relu", "pass": "forward" | "backward",
//    "bias": true, "workspace": true, "iterations": 5, "reads": "auto" | "storage" | "texel",
//    "workgroup_size": 0, "rows_per_invocation": 0}
//       One bias + activation forward (pre += bias, out = act(pre)) or backward (grad_pre
//       and the bias gradient) over a (rows, cols) matrix of random floats, the way a
//       plan records it (the backward with its reduction workspace, unless "workspace" is
//       false: then the single dispatch), `iterations` submissions; reads, workgroup_size and rows_per_invocation override the
//       kernels' defaults (kernels::BiasActivationTuning; 0 and "auto": the defaults).
//       -> {"gpu_s": [...] (sum of the dispatches' timestamps per submission),
//           "bytes" (declared bytes read + written), "flops", "dispatches", "workgroups",
//           "shaders" (name and workgroup size of each dispatch)}
//   {"op": "gpt", "model": "char-gpt", "batch": 12, "steps": 32, "seed": 1, "data": "auto" | "kjv" | "random"}
//       A sequence model's training throughput in tokens/s (app/bench_gpt.h says what is
//       trained, on what, and what the answer holds); one warm trainer per request shape.
//   {"op": "quit"}
namespace ts::app {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  size_t n = values.size();
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

const char* VariantName(kernels::MatmulVariant variant) {
  return variant == kernels::MatmulVariant::kRegisterBlocked ? "register_blocked" : "shared_tiled";
}

// Repeats `run` (which returns its own GPU seconds, and is timed here wall-clock)
// at least `iterations` times and until the wall times add up to `min_time_s`,
// so that small shapes get enough repetitions for a stable median.
template <typename RunOnce>
void RepeatTimed(uint32_t iterations, double min_time_s, std::vector<double>& gpu, std::vector<double>& wall,
                 RunOnce run) {
  constexpr uint32_t kMaxIterations = 20000;
  double total = 0;
  for (uint32_t i = 0; i < kMaxIterations && (i < std::max(iterations, 1u) || total < min_time_s); ++i) {
    auto start = Clock::now();
    double gpu_s = run();
    double seconds = Seconds(start);
    total += seconds;
    wall.push_back(seconds);
    gpu.push_back(gpu_s);
  }
}

double MinTime(const json& request) {
  double min_time_s = request.value("min_time_s", 0.0);
  Require(min_time_s >= 0 && min_time_s <= 10, "min_time_s must be in [0, 10].");
  return min_time_s;
}

// C = op(A) op(B) in fp32 for one shape (m x n x k, transposes as in
// kernels::MatmulArgs), operands on the device, kept between requests.
class MatmulBench {
 public:
  MatmulBench(vk::Context& context, vk::PipelineCache& pipelines, const kernels::MatmulShape& shape)
      : context_(context), pipelines_(pipelines), shape_(shape) {
    std::mt19937_64 rng(uint64_t(shape.m) * 1000003 + uint64_t(shape.n) * 1009 + shape.k);
    auto random = [&](size_t count) {
      std::vector<float> v(count);
      for (float& x : v) x = float(double(rng() >> 11) * 0x1.0p-53 * 2 - 1);
      return v;
    };
    a_host_ = random(size_t(shape.m) * shape.k);  // M x K (K x M when transposed)
    b_host_ = random(size_t(shape.k) * shape.n);  // K x N (N x K when transposed)
    a_ = std::make_unique<vk::Buffer>(context, a_host_.size() * 4, "bench A");
    b_ = std::make_unique<vk::Buffer>(context, b_host_.size() * 4, "bench B");
    c_ = std::make_unique<vk::Buffer>(context, size_t(shape.m) * shape.n * 4, "bench C");
    a_->UploadVector(std::span<const float>(a_host_));
    b_->UploadVector(std::span<const float>(b_host_));
  }

  // `variant`: "register_blocked" or "shared_tiled" (at its default tiling), or
  // "auto" (the autotuner's pick for this shape, as a plan compiles it).
  json Run(const std::string& variant, uint32_t iterations, double min_time_s) {
    kernels::MatmulArgs args{kernels::WholeBuffer(*a_), kernels::WholeBuffer(*b_), kernels::WholeBuffer(*c_),
                             shape_.m, shape_.n, shape_.k, shape_.transpose_a, shape_.transpose_b};
    const vk::DeviceInfo& device = context_.info();
    kernels::MatmulCandidate candidate;
    json tuned;
    if (variant == "auto") {
      kernels::MatmulTuneResult t = kernels::TuneMatmul(context_, pipelines_, shape_);
      candidate = t.chosen;
      json alternatives = json::array();
      for (const kernels::MatmulCandidateResult& r : t.candidates)
        alternatives.push_back({{"kernel", r.candidate.name()}, {"median_ms", r.median_ns * 1e-6},
                                {"rejected", r.rejected}});
      tuned = {{"from_cache", t.from_cache}, {"measured", t.measured}, {"candidates", alternatives}};
    } else if (variant == "register_blocked" || variant == "shared_tiled") {
      candidate.variant = variant == "register_blocked" ? kernels::MatmulVariant::kRegisterBlocked
                                                        : kernels::MatmulVariant::kSharedTiled;
      candidate.tiling = kernels::ChooseMatmulTiling(device, args, candidate.variant);
    } else {
      throw Error("matmul variant: expected auto, register_blocked or shared_tiled, found \"" + variant + "\".");
    }
    const std::string kernel = candidate.name();
    auto& sequence = sequences_[kernel];
    bool first = !sequence;
    if (first)
      sequence = std::make_unique<vk::Sequence>(
          context_, std::vector<vk::Dispatch>{kernels::MatmulDispatch(pipelines_, args, candidate.variant, candidate.tiling)});
    const kernels::MatmulTiling& t = candidate.tiling;
    json result = {{"m", shape_.m}, {"n", shape_.n}, {"k", shape_.k}, {"transpose_a", shape_.transpose_a},
                   {"transpose_b", shape_.transpose_b}, {"variant", variant},
                   {"kernel_variant", VariantName(candidate.variant)}, {"kernel", kernel},
                   {"flops", sequence->dispatches()[0].cost.flops}};
    result["tiling"] = {{"group_cols", t.group_cols}, {"group_rows", t.group_rows},
                        {"rows_per_invocation", t.rows_per_invocation}, {"cols_per_invocation", t.cols_per_invocation},
                        {"tile_depth", t.tile_depth}};
    if (!tuned.is_null()) result["tuned"] = tuned;
    // No warm-up here: the pipeline is built above, outside the timing, and
    // the driver sends a warm-up request where one is cheap enough.
    std::vector<double> gpu, wall;
    RepeatTimed(iterations, min_time_s, gpu, wall, [&] {
      context_.RunOnce([&](VkCommandBuffer cb) {
        sequence->Record(cb);
        vk::RecordComputeToHostBarrier(cb);
      });
      return sequence->ReadDispatchTimesNs()[0] * 1e-9;
    });
    if (first) max_error_[kernel] = CheckSamples();  // checked once per kernel
    result["max_error"] = max_error_[kernel];
    result["gpu_s"] = gpu;
    result["wall_s"] = wall;
    return result;
  }

 private:
  // Largest |C - reference| / sum_k |a b| over 64 sampled elements (fails loudly
  // on a wrong kernel rather than timing it).
  double CheckSamples() {
    const uint32_t m = shape_.m, n = shape_.n, k = shape_.k;
    std::vector<float> c(size_t(m) * n);
    c_->DownloadVector(std::span<float>(c));
    auto a = [&](uint32_t i, uint32_t p) { return shape_.transpose_a ? a_host_[size_t(p) * m + i] : a_host_[size_t(i) * k + p]; };
    auto b = [&](uint32_t p, uint32_t j) { return shape_.transpose_b ? b_host_[size_t(j) * k + p] : b_host_[size_t(p) * n + j]; };
    std::mt19937_64 rng(12345);
    double worst = 0;
    for (int s = 0; s < 64; ++s) {
      uint32_t i = static_cast<uint32_t>(rng() % m), j = static_cast<uint32_t>(rng() % n);
      double sum = 0, magnitude = 1e-30;
      for (uint32_t p = 0; p < k; ++p) {
        double term = double(a(i, p)) * b(p, j);
        sum += term;
        magnitude += std::abs(term);
      }
      double error = std::abs(c[size_t(i) * n + j] - sum) / magnitude;
      worst = std::isnan(error) ? INFINITY : std::max(worst, error);
    }
    return worst;
  }

  vk::Context& context_;
  vk::PipelineCache& pipelines_;
  kernels::MatmulShape shape_;
  std::vector<float> a_host_, b_host_;
  std::unique_ptr<vk::Buffer> a_, b_, c_;
  std::map<std::string, std::unique_ptr<vk::Sequence>> sequences_;  // by kernel name
  std::map<std::string, double> max_error_;
};

constexpr const char* kMlpModel = R"({
  "format": "tensorscope-model", "version": 1, "name": "bench-mlp-784-128-10",
  "layers": [
    {"type": "input", "shape": [1, 28, 28]},
    {"type": "flatten"},
    {"type": "dense", "units": 128},
    {"type": "relu"},
    {"type": "dense", "units": 10},
    {"type": "softmax_cross_entropy"}
  ]
})";

// A model trained on random uint8 data of one sample shape (scaled by 1/255 on
// the device, as image datasets are), one trainer per batch size.
class ModelBench {
 public:
  ModelBench(vk::Context& context, vk::PipelineCache& pipelines, nn::ModelDesc model, std::string data_name,
             std::vector<uint32_t> sample_shape)
      : context_(context), pipelines_(pipelines), model_(std::move(model)), data_name_(std::move(data_name)),
        sample_shape_(std::move(sample_shape)) {}

  json Run(uint32_t batch, uint32_t steps, uint32_t samples, uint32_t eval_samples) {
    Require(batch > 0 && steps > 0, "batch and steps must be positive.");
    MakeData(samples, eval_samples);
    auto it = trainers_.find(batch);
    if (it == trainers_.end()) {
      nn::TrainConfig config;
      config.optimizer = kernels::OptimizerKind::kAdam;
      config.learning_rate = 1e-3;
      config.batch_size = batch;
      config.epochs = 1000000;
      config.seed = 1;
      config.validation_fraction = 0;
      config.shuffle = true;
      auto trainer = std::make_unique<nn::Trainer>(context_, pipelines_, model_, config, &train_, nullptr);
      trainer->RunSteps(2 * config.steps_per_submit, [](const nn::StepReport&) {});  // warm-up
      trainer->Evaluate(eval_);
      it = trainers_.emplace(batch, std::move(trainer)).first;
    }
    nn::Trainer& trainer = *it->second;
    const std::vector<nn::DispatchInfo>& dispatches = trainer.step_dispatches();
    std::vector<double> dispatch_ns(dispatches.size(), 0.0);
    double gpu_ns = 0, loss = 0;
    uint32_t timed_steps = 0;  // steps of the submissions the trainer timed (it samples; see set_timing_interval)
    auto start = Clock::now();
    trainer.RunSteps(steps, [&](const nn::StepReport& r) {
      timed_steps += r.dispatch_ns.empty() ? 0 : 1;
      for (size_t i = 0; i < r.dispatch_ns.size(); ++i) {
        gpu_ns += r.dispatch_ns[i];
        if (i < dispatch_ns.size()) dispatch_ns[i] += r.dispatch_ns[i];
      }
      loss = r.loss;
    });
    timed_steps = std::max(timed_steps, 1u);
    double train_s = Seconds(start);
    start = Clock::now();
    nn::EvalResult eval = trainer.Evaluate(eval_);
    double eval_s = Seconds(start);
    json per_dispatch = json::object();
    for (size_t i = 0; i < dispatches.size(); ++i) {
      std::string label = dispatches[i].label;
      if (per_dispatch.contains(label)) label += " #" + std::to_string(i);
      per_dispatch[label] = dispatch_ns[i] * 1e-6 / timed_steps;
    }
    return {{"batch", batch},
            {"train_s", train_s},
            {"train_samples", uint64_t(steps) * batch},
            {"gpu_step_s", gpu_ns * 1e-9 / timed_steps},
            {"eval_s", eval_s},
            {"eval_samples", eval.samples},
            {"loss", loss},
            {"eval_accuracy", eval.accuracy},
            {"parameters", trainer.plan().parameter_count()},
            {"dispatch_ms", per_dispatch}};
  }

 private:
  void MakeData(uint32_t samples, uint32_t eval_samples) {
    if (train_.count() == samples && eval_.count() == eval_samples) return;
    Require(samples > 0 && eval_samples > 0 && eval_samples <= samples, "need 0 < eval_samples <= samples.");
    trainers_.clear();  // they point at the old data
    size_t sample_size = 1;
    for (uint32_t d : sample_shape_) sample_size *= d;
    train_ = {};
    train_.name = data_name_;
    train_.sample_shape = sample_shape_;
    train_.num_classes = 10;
    train_.format = data::FeatureFormat::kUint8;
    train_.scale = 1.0f / 255.0f;
    train_.features_u8.resize(size_t(samples) * sample_size);
    std::mt19937_64 rng(2026);
    for (size_t i = 0; i < train_.features_u8.size(); i += 8) {
      uint64_t word = rng();
      for (size_t b = 0; b < 8 && i + b < train_.features_u8.size(); ++b) train_.features_u8[i + b] = uint8_t(word >> (8 * b));
    }
    train_.labels.resize(samples);
    for (uint32_t& label : train_.labels) label = static_cast<uint32_t>(rng() % 10);
    std::vector<uint32_t> first(eval_samples);
    std::iota(first.begin(), first.end(), 0u);
    eval_ = data::Subset(train_, first);
  }

  vk::Context& context_;
  vk::PipelineCache& pipelines_;
  nn::ModelDesc model_;
  std::string data_name_;
  std::vector<uint32_t> sample_shape_;
  data::Dataset train_, eval_;
  std::map<uint32_t, std::unique_ptr<nn::Trainer>> trainers_;
};

kernels::Activation ParseActivation(const std::string& name) {
  for (uint32_t a = 0; a <= uint32_t(kernels::Activation::kGelu); ++a)
    if (name == kernels::ActivationName(kernels::Activation(a))) return kernels::Activation(a);
  throw Error("bias_act: unknown activation \"" + name + "\".");
}

// Bias + activation forward and backward over a (rows, cols) matrix, as a plan
// records them; buffers kept per shape between requests.
class BiasActivationBench {
 public:
  BiasActivationBench(vk::Context& context, vk::PipelineCache& pipelines, uint32_t rows, uint32_t cols)
      : context_(context), pipelines_(pipelines), rows_(rows), cols_(cols) {
    const size_t n = size_t(rows) * cols;
    std::mt19937_64 rng(uint64_t(rows) * 131 + cols);
    auto upload = [&](size_t count, const char* name) {
      std::vector<float> v(count);
      for (float& x : v) x = float(double(rng() >> 11) * 0x1.0p-53 * 8 - 4);
      auto buffer = std::make_unique<vk::Buffer>(context, std::max<size_t>(count, 1) * 4, name);
      buffer->UploadVector(std::span<const float>(v));
      return buffer;
    };
    pre_ = upload(n, "bench pre");
    bias_ = upload(cols, "bench bias");
    out_ = upload(n, "bench out");
    grad_out_ = upload(n, "bench grad_out");
    grad_pre_ = upload(n, "bench grad_pre");
    grad_bias_ = upload(cols, "bench grad_bias");
    uint64_t workspace = kernels::BiasActivationBackwardWorkspaceCount(rows, cols);
    if (workspace > 0) workspace_ = upload(workspace, "bench bias-gradient workspace");
  }

  json Run(kernels::Activation activation, bool backward, bool bias, bool use_workspace,
           const kernels::BiasActivationTuning& tuning, uint32_t iterations) {
    auto key = std::make_tuple(uint32_t(activation), backward, bias && use_workspace, bias, uint32_t(tuning.reads),
                               tuning.workgroup_size, tuning.rows_per_invocation);
    auto& sequence = sequences_[key];
    if (!sequence) {
      std::vector<vk::Dispatch> dispatches;
      if (!backward) {
        kernels::BiasActivationArgs a{kernels::WholeBuffer(*pre_), bias ? kernels::WholeBuffer(*bias_) : kernels::TensorRef{},
                                      activation == kernels::Activation::kIdentity && bias ? kernels::TensorRef{}
                                                                                            : kernels::WholeBuffer(*out_),
                                      rows_, cols_, activation, 0.01f, tuning};
        dispatches.push_back(kernels::BiasActivationDispatch(pipelines_, a));
      } else {
        kernels::BiasActivationBackwardArgs a{kernels::WholeBuffer(*grad_out_), kernels::WholeBuffer(*pre_),
                                              kernels::WholeBuffer(*out_),      kernels::WholeBuffer(*grad_pre_),
                                              bias ? kernels::WholeBuffer(*grad_bias_) : kernels::TensorRef{},
                                              rows_, cols_, activation, 0.01f};
        if (workspace_ && use_workspace) a.workspace = kernels::WholeBuffer(*workspace_);
        a.tuning = tuning;
        dispatches = kernels::BiasActivationBackwardDispatches(pipelines_, a);
      }
      sequence = std::make_unique<vk::Sequence>(context_, std::move(dispatches));
    }
    vk::Cost cost;
    json workgroups = json::array(), shaders = json::array();
    for (const vk::Dispatch& d : sequence->dispatches()) {
      cost += d.cost;
      workgroups.push_back(d.workgroups);
      shaders.push_back(d.pipeline->shader_name() + " " + std::to_string(d.pipeline->local_size()[0]) + "x" +
                        std::to_string(d.pipeline->local_size()[1]));
    }
    std::vector<double> gpu;
    for (uint32_t i = 0; i < std::max(iterations, 1u); ++i) {
      context_.RunOnce([&](VkCommandBuffer cb) { sequence->Record(cb); });
      std::vector<double> ns = sequence->ReadDispatchTimesNs();
      gpu.push_back(std::accumulate(ns.begin(), ns.end(), 0.0) * 1e-9);
    }
    return {{"rows", rows_},
            {"cols", cols_},
            {"activation", kernels::ActivationName(activation)},
            {"pass", backward ? "backward" : "forward"},
            {"gpu_s", gpu},
            {"bytes", cost.bytes_read + cost.bytes_written},
            {"flops", cost.flops},
            {"dispatches", sequence->dispatches().size()},
            {"workgroups", workgroups},
            {"shaders", shaders}};
  }

 private:
  vk::Context& context_;
  vk::PipelineCache& pipelines_;
  uint32_t rows_, cols_;
  std::unique_ptr<vk::Buffer> pre_, bias_, out_, grad_out_, grad_pre_, grad_bias_, workspace_;
  std::map<std::tuple<uint32_t, bool, bool, bool, uint32_t, uint32_t, uint32_t>, std::unique_ptr<vk::Sequence>>
      sequences_;
};

// The decision-boundary refresh the GUI pays each time the parameters change:
// nn::BoundaryEvaluator::Evaluate over a resolution x resolution grid (upload
// of the parameters, the GPU work, the readback of the probabilities), timed
// wall-clock per call. The parameters are the model's initial ones (its
// training section's seed). Evaluators are kept between requests, warmed up
// by one untimed call when built.
class BoundaryBench {
 public:
  static constexpr uint32_t kMaxResolution = 1024;  // as the session allows

  BoundaryBench(vk::Context& context, vk::PipelineCache& pipelines) : context_(context), pipelines_(pipelines) {}

  json Run(const std::string& model_name, int64_t requested_resolution, const std::string& path_name,
           int64_t iterations, double min_time_s) {
    Require(requested_resolution >= 1 && requested_resolution <= kMaxResolution,
            "boundary: resolution must be 1 to " + std::to_string(kMaxResolution) + "; got " +
                std::to_string(requested_resolution) + ".");
    Require(iterations >= 1 && iterations <= 10000, "boundary: iterations must be 1 to 10000.");
    const auto resolution = static_cast<uint32_t>(requested_resolution);
    nn::BoundaryPath path = nn::BoundaryPath::kAuto;
    if (path_name == "fused") path = nn::BoundaryPath::kFused;
    else if (path_name == "layer_by_layer") path = nn::BoundaryPath::kLayerByLayer;
    else Require(path_name == "auto", "boundary: path is auto, fused or layer_by_layer; got \"" + path_name + "\".");
    const Model& m = GetModel(model_name);
    auto key = std::make_tuple(model_name, resolution, path_name);
    auto it = evaluators_.find(key);
    if (it == evaluators_.end()) {
      if (evaluators_.size() >= 6) evaluators_.clear();  // a few kept warm at a time
      static constexpr std::array<float, 4> kExtent{-1.2f, 1.2f, -1.2f, 1.2f};  // the session's default
      auto evaluator = std::make_unique<nn::BoundaryEvaluator>(context_, pipelines_, m.model, m.config, resolution,
                                                               kExtent, path);
      evaluator->Evaluate(m.parameters, m.statistics, /*with_hidden=*/false);  // warm-up: first-use costs
      it = evaluators_.emplace(key, std::move(evaluator)).first;
    }
    nn::BoundaryEvaluator& evaluator = *it->second;
    std::vector<double> gpu, wall;
    nn::BoundaryResult last;
    RepeatTimed(static_cast<uint32_t>(iterations), min_time_s, gpu, wall, [&] {
      last = evaluator.Evaluate(m.parameters, m.statistics, /*with_hidden=*/false);
      return last.gpu_ms * 1e-3;
    });
    // A sanity check of the last refresh: finite probabilities, rows summing to 1.
    const size_t points = size_t(resolution) * resolution;
    bool finite = last.classes > 0 && last.probabilities.size() == points * last.classes;
    double row_sum_error = 0;
    for (size_t p = 0; finite && p < points; ++p) {
      double sum = 0;
      for (uint32_t c = 0; c < last.classes; ++c) {
        float v = last.probabilities[p * last.classes + c];
        finite = finite && std::isfinite(v);
        sum += v;
      }
      row_sum_error = std::max(row_sum_error, std::abs(sum - 1));
    }
    std::vector<double> gpu_ms(gpu.size());
    std::transform(gpu.begin(), gpu.end(), gpu_ms.begin(), [](double s) { return s * 1e3; });
    // How the fused kernel's rows per invocation were chosen: each candidate's median GPU time.
    json tuning = json::array();
    uint32_t rows_per_invocation = 0;
    if (const nn::FusedMlpInference* kernel = evaluator.fused_kernel()) {
      rows_per_invocation = kernel->rows_per_invocation();
      for (const auto& candidate : kernel->tuning())
        tuning.push_back({{"rows_per_invocation", candidate.rows_per_invocation},
                          {"median_ms", candidate.median_ms},
                          {"chosen", candidate.chosen}});
    }
    return {{"model", model_name},
            {"rows_per_invocation", rows_per_invocation},
            {"tuning", tuning},
            {"resolution", resolution},
            {"points", points},
            {"path", path_name},
            {"fused", last.fused},
            {"fused_unavailable_reason", evaluator.fused_unavailable_reason()},
            {"classes", last.classes},
            {"parameters", m.parameter_count},
            {"wall_s", wall},
            {"gpu_ms", gpu_ms},
            {"finite", finite},
            {"row_sum_error", row_sum_error}};
  }

 private:
  struct Model {
    nn::ModelDesc model;
    nn::TrainConfig config;
    std::vector<float> parameters, statistics;  // packed as Plan::ReadParameters / ReadStatistics give them
    uint64_t parameter_count = 0;
  };

  const Model& GetModel(const std::string& name) {
    auto it = models_.find(name);
    if (it != models_.end()) return it->second;
    Model m;
    m.model = nn::LoadModelOrPreset(name);
    Require(nn::TakesTwoFeatures(m.model), "boundary: the decision boundary needs a model with two input features; '" +
                                               name + "' takes " + nn::ShapeString(m.model.layers[0].shape) + ".");
    m.config = nn::ParseTrainConfig(m.model.training, name + ": training");
    {
      // A trainer without data initialises the parameters from the config's seed.
      nn::Trainer trainer(context_, pipelines_, m.model, m.config, nullptr, nullptr);
      m.parameters = trainer.plan().ReadParameters();
      m.statistics = trainer.plan().ReadStatistics();
      m.parameter_count = trainer.plan().parameter_count();
    }
    return models_.emplace(name, std::move(m)).first->second;
  }

  vk::Context& context_;
  vk::PipelineCache& pipelines_;
  std::map<std::string, Model> models_;
  std::map<std::tuple<std::string, uint32_t, std::string>, std::unique_ptr<nn::BoundaryEvaluator>> evaluators_;
};

class BenchServer {
 public:
  explicit BenchServer(vk::Context& context)
      : context_(context),
        pipelines_(context),
        mlp_(context, pipelines_, nn::ParseModel(kMlpModel, "bench"), "random-mnist-shaped", {1, 28, 28}),
        cnn_(context, pipelines_, nn::LoadModelOrPreset("cifar10-cnn"), "random-cifar-shaped", {3, 32, 32}),
        boundary_(context, pipelines_),
        gpt_(context, pipelines_) {}

  json Handle(const json& request) {
    std::string op = request.value("op", "");
    if (op == "info") {
      const vk::DeviceInfo& d = context_.info();
      return {{"device", d.name},
              {"driver", d.driver_name + " " + d.driver_info},
              {"device_type", vk::DeviceTypeName(d.type)},
              {"subgroup_size", d.subgroup_size},
              {"default_matmul_variant", VariantName(kernels::DefaultMatmulVariant(d))}};
    }
    if (op == "matmul") {
      // "n" alone: n x n x n; else m, n, k (each defaulting to n).
      const uint32_t square = request.value("n", 1024u);
      kernels::MatmulShape shape{request.value("m", square), square, request.value("k", square),
                                 request.value("transpose_a", false), request.value("transpose_b", false)};
      constexpr uint64_t kMaxElements = uint64_t(1) << 25;  // 128 MiB, lavapipe's maxStorageBufferRange
      Require(shape.m > 0 && shape.n > 0 && shape.k > 0 && shape.m <= 65536 && shape.n <= 65536 && shape.k <= 65536,
              "matmul: m, n and k must be in [1, 65536].");
      Require(uint64_t(shape.m) * shape.k <= kMaxElements && uint64_t(shape.k) * shape.n <= kMaxElements &&
                  uint64_t(shape.m) * shape.n <= kMaxElements,
              "matmul: each matrix must have at most 2^25 elements.");
      auto key = shape.key();
      auto it = matmuls_.find(key);
      if (it == matmuls_.end()) {
        if (matmuls_.size() >= 32) matmuls_.clear();  // kept between requests (warm), a few dozen shapes at a time
        it = matmuls_.emplace(key, std::make_unique<MatmulBench>(context_, pipelines_, shape)).first;
      }
      return it->second->Run(request.value("variant", "register_blocked"), request.value("iterations", 3u),
                             MinTime(request));
    }
    if (op == "boundary")
      return boundary_.Run(request.value("model", "spiral-mlp"), request.value("resolution", int64_t(256)),
                           request.value("path", "auto"), request.value("iterations", int64_t(10)), MinTime(request));
    if (op == "mlp")
      return mlp_.Run(request.value("batch", 64u), request.value("steps", 256u), request.value("samples", 60000u),
                      request.value("eval_samples", 10000u));
    if (op == "cnn")
      return cnn_.Run(request.value("batch", 64u), request.value("steps", 16u), request.value("samples", 8192u),
                      request.value("eval_samples", 2048u));
    if (op == "gpt") return gpt_.Run(request);
    if (op == "bias_act") {
      uint32_t rows = request.value("rows", 43264u), cols = request.value("cols", 32u);
      Require(rows > 0 && cols > 0 && uint64_t(rows) * cols <= (uint64_t(1) << 25),
              "bias_act: need rows, cols > 0 and at most 2^25 elements.");
      auto key = std::make_pair(rows, cols);
      auto it = bias_acts_.find(key);
      if (it == bias_acts_.end()) {
        if (bias_acts_.size() >= 8) bias_acts_.clear();  // kept between requests (warm), a few shapes at a time
        it = bias_acts_.emplace(key, std::make_unique<BiasActivationBench>(context_, pipelines_, rows, cols)).first;
      }
      std::string pass = request.value("pass", "forward");
      Require(pass == "forward" || pass == "backward", "bias_act: pass is forward or backward.");
      kernels::BiasActivationTuning tuning;
      std::string reads = request.value("reads", "auto");
      Require(reads == "auto" || reads == "storage" || reads == "texel", "bias_act: reads is auto, storage or texel.");
      tuning.reads = reads == "storage" ? kernels::BiasActivationReads::kStorage
                     : reads == "texel" ? kernels::BiasActivationReads::kTexel
                                        : kernels::BiasActivationReads::kAuto;
      tuning.workgroup_size = request.value("workgroup_size", 0u);
      tuning.rows_per_invocation = request.value("rows_per_invocation", 0u);
      return it->second->Run(ParseActivation(request.value("activation", "relu")), pass == "backward",
                             request.value("bias", true), request.value("workspace", true), tuning,
                             request.value("iterations", 5u));
    }
    throw Error("unknown bench request \"" + op + "\"; expected info, matmul, boundary, mlp, cnn, gpt, bias_act or quit.");
  }

 private:
  vk::Context& context_;
  vk::PipelineCache pipelines_;
  ModelBench mlp_, cnn_;
  BoundaryBench boundary_;
  GptBench gpt_;
  std::map<std::string, std::unique_ptr<MatmulBench>> matmuls_;  // by MatmulShape::key()
  std::map<std::pair<uint32_t, uint32_t>, std::unique_ptr<BiasActivationBench>> bias_acts_;
};

}  // namespace

int ServeBenchRequests(vk::Context& context) {
  BenchServer server(context);
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line.empty()) continue;
    json answer;
    try {
      json request = json::parse(line);
      if (request.value("op", "") == "quit") break;
      answer = server.Handle(request);
    } catch (const std::exception& e) {
      answer = {{"error", e.what()}};
    }
    std::cout << answer.dump() << std::endl;  // endl flushes: the driver waits for the line
  }
  return 0;
}

int PrintQuickBenchTable(vk::Context& context) {
  BenchServer server(context);
  std::printf("Device: %s\n\n%-44s %14s %14s\n", context.info().name.c_str(), "workload", "GPU time", "wall");
  for (uint32_t n : {256u, 1024u}) {
    for (const char* variant : {"register_blocked", "shared_tiled", "auto"}) {
      json r = server.Handle(
          {{"op", "matmul"}, {"n", n}, {"variant", variant}, {"iterations", 3}, {"min_time_s", 0.05}});
      double flops = r["flops"].get<double>();
      std::string label = "SGEMM " + std::to_string(n) + "^3 " + variant;
      if (std::string(variant) == "auto") label = "SGEMM " + std::to_string(n) + "^3 " + r["kernel"].get<std::string>();
      std::printf("%-44s %9.2f GFLOP/s %9.2f GFLOP/s\n", label.c_str(),
                  flops / Median(r["gpu_s"].get<std::vector<double>>()) * 1e-9,
                  flops / Median(r["wall_s"].get<std::vector<double>>()) * 1e-9);
    }
  }
  for (const char* path : {"fused", "layer_by_layer"}) {
    std::string label = std::string("decision boundary 256x256 spiral-mlp, ") + path;
    json r;
    try {
      r = server.Handle({{"op", "boundary"}, {"model", "spiral-mlp"}, {"resolution", 256}, {"path", path},
                         {"iterations", 5}});
    } catch (const Error& e) {
      std::printf("%-44s n/a: %s\n", label.c_str(), e.what());
      continue;
    }
    const double gpu_ms = Median(r["gpu_ms"].get<std::vector<double>>());  // 0: the path reports none
    char gpu[32] = "-";
    if (gpu_ms > 0) std::snprintf(gpu, sizeof gpu, "%.2f ms", gpu_ms);
    std::printf("%-44s %14s %8.2f ms per refresh\n", label.c_str(), gpu,
                Median(r["wall_s"].get<std::vector<double>>()) * 1e3);
  }
  for (uint32_t batch : {64u, 256u}) {
    json r = server.Handle({{"op", "mlp"}, {"batch", batch}, {"steps", 16384 / batch}});
    std::printf("%-44s %14s %7.0f samples/s\n", ("MLP 784-128-10 Adam, batch " + std::to_string(batch) + ", training").c_str(),
                "", r["train_samples"].get<double>() / r["train_s"].get<double>());
    std::printf("%-44s %14s %7.0f samples/s\n", ("MLP 784-128-10, batch " + std::to_string(batch) + ", inference").c_str(),
                "", r["eval_samples"].get<double>() / r["eval_s"].get<double>());
  }
  {
    json r = server.Handle({{"op", "cnn"}, {"batch", 64}, {"steps", 16}, {"eval_samples", 1024}});
    std::printf("%-44s %14s %7.0f samples/s\n", "seed CNN (3x32x32) Adam, batch 64, training", "",
                r["train_samples"].get<double>() / r["train_s"].get<double>());
    std::printf("%-44s %14s %7.0f samples/s\n", "seed CNN (3x32x32), batch 64, inference", "",
                r["eval_samples"].get<double>() / r["eval_s"].get<double>());
  }
  {
    json r = server.Handle({{"op", "gpt"}, {"model", "char-gpt"}, {"batch", 12}, {"steps", 16}});
    std::printf("%-44s %14s %7.0f tokens/s (%s, %.0f ms/step)\n", "char-gpt AdamW, batch 12, training", "",
                r["tokens_per_s"].get<double>(), r["data"].get<std::string>().c_str(), r["ms_per_step"].get<double>());
  }
  for (auto [rows, cols] : {std::pair{43264u, 32u}, {10816u, 64u}, {32u, 128u}}) {
    for (const char* pass : {"forward", "backward"}) {
      json r = server.Handle({{"op", "bias_act"}, {"rows", rows}, {"cols", cols}, {"pass", pass}, {"iterations", 5}});
      double seconds = Median(r["gpu_s"].get<std::vector<double>>());
      std::printf("%-44s %9.3f ms   %9.2f GB/s\n",
                  ("bias + relu " + std::string(pass) + ", " + std::to_string(rows) + " x " + std::to_string(cols)).c_str(),
                  seconds * 1e3, r["bytes"].get<double>() / seconds * 1e-9);
    }
  }
  std::printf("\nFor the comparison with numpy/OpenBLAS and PyTorch, run tests/bench/run.sh.\n");
  return 0;
}

}  // namespace ts::app
