#include "compute/nn/fused_mlp.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <numeric>

#include "compute/common/error.h"
#include "compute/vk/context.h"
#include "compute/vk/pipeline.h"
#include "compute/vk/sequence.h"

namespace ts::nn {
namespace {

// The dense chain of a model as mlp_infer runs it, or the reason it cannot.
struct DenseChain {
  std::vector<uint32_t> widths;
  std::vector<kernels::Activation> activations;
  std::vector<bool> bias;
  float leaky_slope = 0.01f;
  kernels::MlpInferHead head = kernels::MlpInferHead::kIdentity;
  std::string problem;
};

DenseChain ReadDenseChain(const ModelDesc& model) {
  DenseChain chain;
  auto fail = [&](std::string why) {
    chain.problem = std::move(why);
    return chain;
  };
  if (model.layers.empty() || model.layers[0].kind != LayerKind::kInput) return fail("it has no input layer");
  chain.widths.push_back(static_cast<uint32_t>(ShapeElements(model.layers[0].shape)));
  bool leaky_seen = false;
  for (size_t i = 1; i < model.layers.size(); ++i) {
    const LayerDesc& layer = model.layers[i];
    switch (layer.kind) {
      case LayerKind::kFlatten:
        if (chain.activations.size() > 0) return fail("layer '" + layer.name + "' flattens after a dense layer");
        break;
      case LayerKind::kDropout:
        break;  // nothing at inference
      case LayerKind::kDense:
        chain.widths.push_back(layer.units);
        chain.activations.push_back(kernels::Activation::kIdentity);
        chain.bias.push_back(layer.bias);
        break;
      case LayerKind::kActivation:
        if (chain.activations.empty() || chain.activations.back() != kernels::Activation::kIdentity)
          return fail("activation '" + layer.name + "' does not follow a dense layer directly");
        if (layer.activation == kernels::Activation::kLeakyRelu) {
          if (leaky_seen && layer.leaky_slope != chain.leaky_slope)
            return fail("its leaky-ReLU layers have different slopes");
          leaky_seen = true;
          chain.leaky_slope = layer.leaky_slope;
        }
        chain.activations.back() = layer.activation;
        break;
      case LayerKind::kLoss:
        if (i + 1 != model.layers.size()) return fail("its loss layer '" + layer.name + "' is not the last");
        chain.head = layer.loss == kernels::LossKind::kSoftmaxCrossEntropy            ? kernels::MlpInferHead::kSoftmax
                     : layer.loss == kernels::LossKind::kBinaryCrossEntropyWithLogits ? kernels::MlpInferHead::kSigmoid
                                                                                      : kernels::MlpInferHead::kIdentity;
        break;
      default:
        return fail("layer '" + layer.name + "' is not a dense, activation or dropout layer");
    }
  }
  const size_t layers = chain.widths.size() - 1;
  if (layers == 0) return fail("it has no dense layer");
  if (layers > kernels::MlpInferMaxLayers())
    return fail("it has " + std::to_string(layers) + " dense layers; the kernel runs at most " +
                std::to_string(kernels::MlpInferMaxLayers()));
  for (uint32_t width : chain.widths)
    if (width == 0 || width > kernels::MlpInferMaxWidth())
      return fail("a layer is " + std::to_string(width) + " wide; the kernel holds at most " +
                  std::to_string(kernels::MlpInferMaxWidth()) + " values per layer in registers");
  return chain;
}

// Why the kernel cannot run `chain` on `rows` rows of this device ("" when it can).
std::string ChainProblem(const vk::Context& context, const DenseChain& chain, uint64_t rows) {
  if (!chain.problem.empty()) return chain.problem;
  VkPhysicalDeviceProperties properties{};
  vkGetPhysicalDeviceProperties(context.physical_device(), &properties);
  const uint64_t texels = properties.limits.maxTexelBufferElements;
  if (rows * chain.widths.front() > texels)
    return std::to_string(rows) + " rows of " + std::to_string(chain.widths.front()) + " inputs exceed '" +
           context.info().name + "''s maxTexelBufferElements (" + std::to_string(texels) + ")";
  if (kernels::MlpInferWeightCount(chain.widths) / 4 > texels)
    return "its weights exceed '" + context.info().name + "''s maxTexelBufferElements (" + std::to_string(texels) + ")";
  return "";
}

}  // namespace

std::string FusedMlpInference::Unsupported(const vk::Context& context, const ModelDesc& model, uint64_t rows) {
  return ChainProblem(context, ReadDenseChain(model), rows);
}

FusedMlpInference::FusedMlpInference(vk::Context& context, vk::PipelineCache& pipelines, const ModelDesc& model,
                                     const data::Dataset& inputs)
    : context_(context), rows_(static_cast<uint32_t>(inputs.count())), pipelines_(pipelines) {
  const DenseChain chain = ReadDenseChain(model);
  if (std::string why = ChainProblem(context, chain, inputs.count()); !why.empty())
    throw Error("The fused inference kernel cannot run '" + model.name + "': " + why + ".");
  Require(inputs.feature_size() == chain.widths.front() && !inputs.features_f32.empty(),
          "The fused inference kernel takes " + std::to_string(chain.widths.front()) +
              " float features per row; '" + inputs.name + "' has " + std::to_string(inputs.feature_size()) + ".");
  widths_ = chain.widths;
  head_ = chain.head;
  // Where each dense layer's tensors sit in Plan::ReadParameters' packing:
  // layer order, weight (in x out) then bias.
  uint64_t offset = 0;
  for (size_t l = 1; l < widths_.size(); ++l) {
    DenseParameters p;
    p.weight = offset;
    offset += uint64_t(widths_[l - 1]) * widths_[l];
    if (chain.bias[l - 1]) {
      p.bias = static_cast<int64_t>(offset);
      offset += widths_[l];
    }
    dense_.push_back(p);
  }
  parameter_count_ = offset;

  const uint64_t weight_floats = kernels::MlpInferWeightCount(widths_);
  inputs_ = vk::Buffer(context, inputs.features_f32.size() * 4, "fused inference inputs");
  inputs_.UploadVector(std::span<const float>(inputs.features_f32));
  weights_ = vk::Buffer(context, weight_floats * 4, "fused inference weights");
  outputs_ = vk::Buffer(context, uint64_t(rows_) * widths_.back() * 4, "fused inference outputs");
  args_ = {kernels::WholeBuffer(inputs_), kernels::WholeBuffer(weights_), kernels::WholeBuffer(outputs_), rows_,
           widths_,  chain.activations, chain.leaky_slope, head_, kDefaultRowsPerInvocation};
  const vk::DeviceInfo& info = context.info();
  tuning_key_ = info.name + "|" + info.driver_info + "|";
  for (uint32_t width : widths_) tuning_key_ += std::to_string(width) + ",";
  tuning_key_ += rows_ >= 16 * kTuneRows ? "huge" : "large";
  tuned_ = rows_ < kTuneRows || info.timestamp_valid_bits == 0;  // nothing to measure with
  std::vector<vk::Dispatch> dispatches{kernels::MlpInferDispatch(pipelines, args_)};
  sequence_ = std::make_unique<vk::Sequence>(context, std::move(dispatches));
}

FusedMlpInference::~FusedMlpInference() = default;

const vk::Dispatch& FusedMlpInference::dispatch() const { return sequence_->dispatches().front(); }

FusedMlpInference::Output FusedMlpInference::Run(const std::vector<float>& parameters) {
  Require(parameters.size() == parameter_count_,
          "The fused inference kernel expected " + std::to_string(parameter_count_) + " parameters; got " +
              std::to_string(parameters.size()) + ".");
  std::vector<std::span<const float>> layer_weights, layer_biases;
  const std::span<const float> all(parameters);
  for (size_t l = 1; l < widths_.size(); ++l) {
    layer_weights.push_back(all.subspan(dense_[l - 1].weight, uint64_t(widths_[l - 1]) * widths_[l]));
    layer_biases.push_back(dense_[l - 1].bias >= 0 ? all.subspan(dense_[l - 1].bias, widths_[l])
                                                   : std::span<const float>());
  }
  const std::vector<float> packed = kernels::MlpInferPackWeights(widths_, layer_weights, layer_biases);
  weights_.UploadVector(std::span<const float>(packed));
  if (!tuned_) Tune();
  Output output;
  output.outputs = Dispatch(*sequence_, &output.gpu_ms);
  return output;
}

std::vector<float> FusedMlpInference::Dispatch(vk::Sequence& sequence, double* gpu_ms) {
  context_.RunOnce([&](VkCommandBuffer cb) {
    vk::RecordTransferToComputeBarrier(cb);
    sequence.Record(cb);
    vk::RecordComputeToHostBarrier(cb);
  });
  std::vector<float> outputs(size_t(rows_) * widths_.back());
  outputs_.DownloadVector(std::span<float>(outputs));
  std::vector<double> times = sequence.ReadDispatchTimesNs();
  *gpu_ms = times.empty() ? 0 : times.front() * 1e-6;
  return outputs;
}

void FusedMlpInference::Tune() {
  tuned_ = true;
  static std::mutex mutex;
  static std::map<std::string, uint32_t> chosen_by_key;
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (auto found = chosen_by_key.find(tuning_key_); found != chosen_by_key.end()) {
      if (found->second != args_.rows_per_invocation) {
        args_.rows_per_invocation = found->second;
        sequence_ = std::make_unique<vk::Sequence>(context_, std::vector{kernels::MlpInferDispatch(pipelines_, args_)});
      }
      return;
    }
  }
  std::vector<float> reference;
  size_t best = 0;
  std::vector<std::unique_ptr<vk::Sequence>> sequences;
  for (uint32_t rows : {1u, 2u, 4u, 8u, 16u}) {
    kernels::MlpInferArgs args = args_;
    args.rows_per_invocation = rows;
    auto sequence = std::make_unique<vk::Sequence>(context_, std::vector{kernels::MlpInferDispatch(pipelines_, args)});
    TuningCandidate candidate;
    candidate.rows_per_invocation = rows;
    double ms = 0;
    std::vector<float> outputs = Dispatch(*sequence, &ms);  // the first run builds the pipeline
    if (reference.empty()) reference = outputs;
    for (size_t i = 0; i < outputs.size(); ++i)
      candidate.max_difference = std::max<double>(
          candidate.max_difference, std::abs(outputs[i] - reference[i]) / std::max(1.0f, std::abs(reference[i])));
    std::vector<double> times;
    for (int run = 0; run < 3; ++run) {
      Dispatch(*sequence, &ms);
      times.push_back(ms);
    }
    std::sort(times.begin(), times.end());
    candidate.median_ms = times[1];
    // Every candidate computes the same sums in the same order: a difference
    // beyond rounding is a bug, and such a candidate is never chosen.
    const bool correct = candidate.max_difference <= 1e-5;
    if (correct && (tuning_.empty() || candidate.median_ms < tuning_[best].median_ms)) best = tuning_.size();
    tuning_.push_back(candidate);
    sequences.push_back(std::move(sequence));
  }
  tuning_[best].chosen = true;
  args_.rows_per_invocation = tuning_[best].rows_per_invocation;
  sequence_ = std::move(sequences[best]);
  std::lock_guard<std::mutex> lock(mutex);
  chosen_by_key[tuning_key_] = args_.rows_per_invocation;
}

}  // namespace ts::nn
