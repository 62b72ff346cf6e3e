// Inference of a small dense model over a fixed set of input rows in one
// dispatch of mlp_infer.comp (kernels/mlp_infer.h): the decision boundary's
// fast path. The rows are uploaded once; each Run uploads the parameters,
// dispatches, and reads the outputs back.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "compute/data/dataset.h"
#include "compute/kernels/mlp_infer.h"
#include "compute/nn/model.h"
#include "compute/vk/buffer.h"

namespace ts::vk {
class Context;
class PipelineCache;
class Sequence;
}  // namespace ts::vk

namespace ts::nn {

class FusedMlpInference {
 public:
  // Why the fused kernel cannot run `model` on `rows` rows of this device
  // ("" when it can): only input, flatten (before the first dense), dense, activation,
  // dropout (nothing at inference) and loss layers, at most the kernel's layer
  // count and width, inputs and weights within maxTexelBufferElements.
  static std::string Unsupported(const vk::Context& context, const ModelDesc& model, uint64_t rows);

  // Uploads `inputs` (float features, one row per sample). Throws ts::Error
  // when Unsupported() says why not.
  FusedMlpInference(vk::Context& context, vk::PipelineCache& pipelines, const ModelDesc& model,
                    const data::Dataset& inputs);
  ~FusedMlpInference();

  struct Output {
    std::vector<float> outputs;  // (rows x output_features()), as Trainer::Predict gives them
    double gpu_ms = 0;           // the dispatch's GPU time (0 without timestamps)
  };
  // Runs the model with `parameters` packed as Plan::ReadParameters gives them.
  // The first run on a large set of rows chooses the rows per invocation by
  // measuring (see tuning()).
  Output Run(const std::vector<float>& parameters);

  // Rows per invocation (register blocking) is a trade: more rows share each
  // weight read, but hold more registers (spilled on a CPU, fewer resident
  // warps on a GPU). Which wins depends on the device, so for sets of at least
  // kTuneRows rows each candidate is checked against the first and timed on
  // the device; the fastest is kept for the process (per device and layer
  // shape). Smaller sets use kDefaultRowsPerInvocation.
  static constexpr uint32_t kTuneRows = 16384;
  static constexpr uint32_t kDefaultRowsPerInvocation = 4;
  struct TuningCandidate {
    uint32_t rows_per_invocation = 0;
    double median_ms = 0;   // GPU time; 0 when not measured
    double max_difference = 0;  // largest difference from the first candidate's outputs (relative beyond 1)
    bool chosen = false;
  };
  const std::vector<TuningCandidate>& tuning() const { return tuning_; }
  uint32_t rows_per_invocation() const { return args_.rows_per_invocation; }

  uint32_t output_features() const { return widths_.back(); }
  // One output through a sigmoid: p(class 1) of a binary model.
  bool single_binary_output() const { return head_ == kernels::MlpInferHead::kSigmoid && widths_.back() == 1; }
  const vk::Dispatch& dispatch() const;

 private:
  void Tune();
  std::vector<float> Dispatch(vk::Sequence& sequence, double* gpu_ms);

  vk::Context& context_;
  uint32_t rows_ = 0;
  std::vector<uint32_t> widths_;
  kernels::MlpInferHead head_ = kernels::MlpInferHead::kIdentity;
  // Per dense layer: where its weight and bias start in the packed parameters
  // (bias -1 when the layer has none).
  struct DenseParameters {
    uint64_t weight = 0;
    int64_t bias = -1;
  };
  std::vector<DenseParameters> dense_;
  uint64_t parameter_count_ = 0;
  vk::PipelineCache& pipelines_;
  vk::Buffer inputs_, weights_, outputs_;
  kernels::MlpInferArgs args_;
  std::string tuning_key_;  // device, layers and size class: what the choice depends on
  bool tuned_ = false;
  std::vector<TuningCandidate> tuning_;
  std::unique_ptr<vk::Sequence> sequence_;
};

}  // namespace ts::nn
