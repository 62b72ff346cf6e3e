#include "compute/profile/vector_width.h"

#include <algorithm>
#include <cstdio>
#include <mutex>
#include <random>
#include <vector>

#include <nlohmann/json.hpp>

#include "compute/common/error.h"
#include "compute/common/json_cache.h"
#include "compute/kernels/conv2d.h"
#include "compute/kernels/matmul.h"
#include "compute/kernels/optimizer.h"
#include "compute/nn/model.h"  // WriteFileAtomically
#include "compute/profile/ceilings.h"
#include "compute/vk/buffer.h"
#include "compute/vk/sequence.h"
#include "shaders/step_params.h"

namespace ts::profile {
namespace {

std::mutex g_choice_mutex;
VectorWidthChoice g_choice;

constexpr uint32_t kProbeRuns = 8;    // timed runs of each kernel, after one warm-up
constexpr uint32_t kProbeRounds = 3;  // of all the kernels; the fastest round counts

std::string Milliseconds(double us) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f ms", us * 1e-3);
  return text;
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

}  // namespace

std::string VectorWidthChoice::Describe() const {
  const std::string width = bits ? std::to_string(bits) + " bits" : "the driver's default";
  const std::string probe = "probe " + Milliseconds(probe_us_512) + " at 512 bits, " + Milliseconds(probe_us_256) +
                            " at 256";
  switch (source) {
    case Source::kUser:
      return width + ", set by LP_NATIVE_VECTOR_WIDTH in the environment";
    case Source::kMeasured:
      return width + ", measured on this start (" + probe + ")";
    case Source::kCached:
      return width + ", measured " + measured_at + " (" + probe + ")";
    case Source::kDriverDefault:
      break;
  }
  return width + (note.empty() ? "" : " (" + note + ")");
}

VectorWidthChoice CurrentVectorWidthChoice() {
  std::lock_guard lock(g_choice_mutex);
  return g_choice;
}

void RecordVectorWidthChoice(const VectorWidthChoice& choice) {
  std::lock_guard lock(g_choice_mutex);
  g_choice = choice;
}

double MeasureVectorWidthProbe(vk::Context& context, vk::PipelineCache& pipelines) {
  Require(context.info().timestamp_valid_bits != 0,
          "The vector-width probe needs GPU timestamps, which '" + context.info().name + "' does not have.");
  // The 784-128-10 MLP at batch 64: X (64 x 784), W (784 x 128), dZ (64 x 128).
  constexpr uint32_t kBatch = 64, kIn = 784, kOut = 128, kParameters = 101770;
  std::mt19937 rng(0x5EED);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  auto random_buffer = [&](size_t count, const char* name) {
    std::vector<float> values(count);
    for (float& v : values) v = uniform(rng);
    vk::Buffer buffer(context, count * 4, name);
    buffer.UploadVector(std::span<const float>(values));
    return buffer;
  };
  vk::Buffer x = random_buffer(size_t(kBatch) * kIn, "probe X");
  vk::Buffer w = random_buffer(size_t(kIn) * kOut, "probe W");
  vk::Buffer dz = random_buffer(size_t(kBatch) * kOut, "probe dZ");
  vk::Buffer z(context, size_t(kBatch) * kOut * 4, "probe Z");
  vk::Buffer dw(context, size_t(kIn) * kOut * 4, "probe dW");
  vk::Buffer dx(context, size_t(kBatch) * kIn * 4, "probe dX");
  vk::Buffer params = random_buffer(kParameters, "probe params");
  vk::Buffer grads = random_buffer(kParameters, "probe grads");
  vk::Buffer m = random_buffer(kParameters, "probe m");
  std::vector<float> zeros(kParameters, 0.0f);
  vk::Buffer v(context, kParameters * 4, "probe v");
  v.UploadVector(std::span<const float>(zeros));
  gpu::StepParams step{0, kBatch, 1, 1e-3f, 0.1f, 0.001f, 0, 0};
  vk::Buffer step_buffer(context, sizeof step, "probe step");
  step_buffer.UploadVector(std::span<const gpu::StepParams>(&step, 1));

  using kernels::WholeBuffer;
  const kernels::MatmulVariant variant = kernels::DefaultMatmulVariant(context.info());
  kernels::MatmulArgs forward{WholeBuffer(x), WholeBuffer(w), WholeBuffer(z), kBatch, kOut, kIn};
  kernels::MatmulArgs weight_grad{WholeBuffer(x), WholeBuffer(dz), WholeBuffer(dw), kIn, kOut, kBatch, true, false};
  kernels::MatmulArgs input_grad{WholeBuffer(dz), WholeBuffer(w), WholeBuffer(dx), kBatch, kIn, kOut, false, true};
  kernels::OptimizerArgs adam;
  adam.kind = kernels::OptimizerKind::kAdam;
  adam.params = WholeBuffer(params), adam.grads = WholeBuffer(grads), adam.state1 = WholeBuffer(m);
  adam.state2 = WholeBuffer(v), adam.step_params = WholeBuffer(step_buffer), adam.count = kParameters;
  // The seed CNN's second convolution (32 -> 64 channels, 3x3, on 15x15) at
  // batch 8: forward, backward data and backward filter. Its kernels are where
  // the widths differ most (measured: 2x either way, kernel by kernel).
  kernels::Conv2DGeometry conv{8, 15, 15, 32, 64, 3, 3, 1, 1, 0, 0, 13, 13};
  vk::Buffer conv_x = random_buffer(conv.input_elements(), "probe conv X");
  vk::Buffer conv_w = random_buffer(conv.filter_elements(), "probe conv W");
  vk::Buffer conv_dy = random_buffer(conv.output_elements(), "probe conv dY");
  vk::Buffer conv_y(context, conv.output_elements() * 4, "probe conv Y");
  vk::Buffer conv_dx(context, conv.input_elements() * 4, "probe conv dX");
  vk::Buffer conv_dw(context, conv.filter_elements() * 4, "probe conv dW");
  const std::vector<vk::Dispatch> kernels = {
      kernels::MatmulDispatch(pipelines, forward, variant),
      kernels::MatmulDispatch(pipelines, weight_grad, variant),
      kernels::MatmulDispatch(pipelines, input_grad, variant),
      kernels::OptimizerDispatch(pipelines, adam),
      kernels::Conv2DDispatch(pipelines, {WholeBuffer(conv_x), WholeBuffer(conv_w), WholeBuffer(conv_y), conv}),
      kernels::Conv2DBackwardDataDispatch(pipelines,
                                          {WholeBuffer(conv_dy), WholeBuffer(conv_w), WholeBuffer(conv_dx), conv}),
      kernels::Conv2DBackwardFilterDispatch(pipelines,
                                            {WholeBuffer(conv_x), WholeBuffer(conv_dy), WholeBuffer(conv_dw), conv})};

  // Best of a few rounds: a busy host only ever slows a round down.
  double best_us = 0;
  for (uint32_t round = 0; round < kProbeRounds; ++round) {
    double total_us = 0;
    for (const vk::Dispatch& kernel : kernels) {
      vk::Sequence sequence(context, std::vector<vk::Dispatch>(1 + kProbeRuns, kernel));
      context.RunOnce([&](VkCommandBuffer cb) { sequence.Record(cb); });
      std::vector<double> times = sequence.ReadDispatchTimesNs();
      times.erase(times.begin());  // the warm-up
      total_us += Median(times) * 1e-3;
    }
    best_us = round == 0 ? total_us : std::min(best_us, total_us);
  }
  return best_us;
}

std::string VectorWidthCacheKey(const std::string& cpu_model) {
  return "lavapipe vector width | CPU " + cpu_model;
}

std::optional<VectorWidthChoice> LoadVectorWidthChoice(const std::filesystem::path& cache_file,
                                                       const std::string& key) {
  if (cache_file.empty()) return std::nullopt;
  const nlohmann::json cache = ReadJsonCacheObject(cache_file);
  auto entry = cache.find(key);
  if (entry == cache.end()) return std::nullopt;
  try {
    VectorWidthChoice choice;
    choice.bits = entry->at("bits").get<uint32_t>();
    if (choice.bits != 256 && choice.bits != 512) return std::nullopt;
    choice.source = VectorWidthChoice::Source::kCached;
    choice.probe_us_256 = entry->at("probe_us_256").get<double>();
    choice.probe_us_512 = entry->at("probe_us_512").get<double>();
    choice.measured_at = entry->at("measured_at").get<std::string>();
    return choice;
  } catch (const std::exception&) {
    return std::nullopt;  // a damaged entry is measured again
  }
}

void StoreVectorWidthChoice(const std::filesystem::path& cache_file, const std::string& key,
                            const VectorWidthChoice& choice) {
  if (cache_file.empty()) return;
  nlohmann::json cache = ReadJsonCacheObject(cache_file);
  cache[key] = {{"bits", choice.bits},
                {"probe_us_256", choice.probe_us_256},
                {"probe_us_512", choice.probe_us_512},
                {"measured_at", choice.measured_at}};
  try {
    std::error_code ignored;
    std::filesystem::create_directories(cache_file.parent_path(), ignored);
    nn::WriteFileAtomically(cache_file.string(), cache.dump(2) + "\n");
  } catch (const Error&) {
    // A cache that cannot be written only costs a probe next start.
  }
}

}  // namespace ts::profile
