// Plan::Builder, shared by the files that build a Plan (plan.cpp,
// plan_build.cpp, plan_sequence.cpp): walks the model twice, a dry run that
// only adds up memory (so an impossible plan fails before anything is
// allocated), then the real build. Internal to compute/nn.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "compute/kernels/conv2d.h"
#include "compute/kernels/pool.h"
#include "compute/nn/plan.h"
#include "compute/nn/tensor_table.h"

namespace ts::nn {

inline uint64_t AlignUp(uint64_t value, uint64_t alignment) { return (value + alignment - 1) / alignment * alignment; }

struct Plan::Builder {
  using TensorRef = kernels::TensorRef;

  Plan& plan;
  bool allocate;
  MemoryUse memory;

  enum class Category { kActivation, kActivationGradient, kBatch };

  // A tensor of `count` elements of `element_bytes` (2: fp16) in a buffer of its own.
  TensorRef Tensor(const std::string& name, uint64_t count, Category category, uint32_t element_bytes = 4) {
    uint64_t bytes = AlignUp(count * element_bytes, 4);
    (category == Category::kActivation ? memory.activations
     : category == Category::kActivationGradient ? memory.activation_gradients
                                                 : memory.batch) += bytes;
    if (!allocate) return {nullptr, 0, count, 0, element_bytes};
    plan.tensors_.push_back(std::make_unique<vk::Buffer>(*plan.context_, bytes, name));
    return {plan.tensors_.back().get(), 0, count, 0, element_bytes};
  }

  template <typename MakeDispatch>
  void Add(std::vector<vk::Dispatch>& list, std::vector<DispatchRole>& roles, DispatchRole role, MakeDispatch make) {
    if (!allocate) return;
    list.push_back(make());
    roles.push_back(role);
  }

  // For kernels that take several dispatches (a split reduction).
  template <typename MakeDispatches>
  void AddAll(std::vector<vk::Dispatch>& list, std::vector<DispatchRole>& roles, DispatchRole role, MakeDispatches make) {
    if (!allocate) return;
    for (vk::Dispatch& d : make()) {
      list.push_back(std::move(d));
      roles.push_back(role);
    }
  }

  // A matmul dispatch labelled `label`, its kernel forced, autotuned or the
  // device's default (PlanOptions), and how it was chosen recorded by label.
  vk::Dispatch Matmul(const kernels::MatmulArgs& args, const std::string& label) {
    const PlanOptions& o = plan.options_;
    const vk::DeviceInfo& device = plan.context_->info();
    KernelChoice choice;
    std::optional<kernels::MatmulVariant> forced;
    if (o.forced_variant == ForcedVariant::kRegisterBlocked) forced = kernels::MatmulVariant::kRegisterBlocked;
    if (o.forced_variant == ForcedVariant::kSharedTiled) forced = kernels::MatmulVariant::kSharedTiled;
    if (o.forced_variant == ForcedVariant::kDirect) choice.not_applied = NotApplied(o.forced_variant, "matmul");
    kernels::MatmulVariant variant = forced.value_or(kernels::DefaultMatmulVariant(device));
    kernels::MatmulCandidate candidate{variant, kernels::ChooseMatmulTiling(device, args, variant)};
    if (forced) {
      choice.how = KernelChoice::How::kForced;
    } else if (o.autotune) {
      kernels::MatmulTuneOptions tune;
      tune.cache_file = o.autotune_cache_file;
      kernels::MatmulTuneResult tuned = kernels::TuneMatmul(
          *plan.context_, *plan.pipelines_,
          {args.m, args.n, args.k, args.transpose_a, args.transpose_b, args.a.half(), args.c.half()}, tune);
      if (tuned.measured) {
        candidate = tuned.chosen;
        choice.how = KernelChoice::How::kTuned;
        for (const kernels::MatmulCandidateResult& r : tuned.candidates)
          if (r.correct && r.median_ns > 0) choice.alternatives_ns.emplace_back(r.candidate.name(), r.median_ns);
      }
    }
    vk::Dispatch d = kernels::MatmulDispatch(*plan.pipelines_, args, candidate.variant, candidate.tiling);
    d.label = label;
    choice.variant = candidate.name();
    plan.kernel_choices_[label] = std::move(choice);
    kernels::KernelProblem& problem = plan.problems_[label];
    problem.matmul = kernels::MatmulShape{args.m, args.n, args.k, args.transpose_a, args.transpose_b,
                                          args.a.half(), args.c.half()};
    problem.matmul_kernel = candidate;
    return d;
  }

  static std::string NotApplied(ForcedVariant forced, const std::string& kernel) {
    return std::string(ForcedVariantName(forced)) + " was forced: " + kernel + " has no " +
           ForcedVariantName(forced) + " kernel";
  }

  // The forward convolution labelled `label`: its implicit GEMM (the
  // register-blocked kernel) or direct kernel when forced, else the kernel's
  // own rule (kernels::ChooseConv2DVariant; there is no convolution autotuner).
  vk::Dispatch Conv(const kernels::Conv2DArgs& args, const std::string& label) {
    const ForcedVariant forced = plan.options_.forced_variant;
    KernelChoice choice;
    kernels::Conv2DVariant variant = kernels::ChooseConv2DVariant(plan.context_->info(), args.geometry);
    if (forced == ForcedVariant::kRegisterBlocked || forced == ForcedVariant::kDirect) {
      variant = forced == ForcedVariant::kDirect ? kernels::Conv2DVariant::kDirect : kernels::Conv2DVariant::kImplicitGemm;
      choice.how = KernelChoice::How::kForced;
    } else if (forced == ForcedVariant::kSharedTiled) {
      choice.not_applied = NotApplied(forced, "conv2d");
    }
    vk::Dispatch d = kernels::Conv2DDispatch(*plan.pipelines_, args, variant);
    d.label = label;
    choice.variant = kernels::Conv2DVariantName(variant);
    plan.kernel_choices_[label] = std::move(choice);
    kernels::KernelProblem& problem = plan.problems_[label];
    problem.conv = args.geometry;
    problem.conv_variant = variant;
    problem.half = args.input.half();
    return d;
  }

  // A backward convolution's only kernel (a register-blocked implicit GEMM),
  // recorded so that a forced variant it does not have is reported.
  void RecordOnlyConvKernel(const std::string& label, const std::string& kernel, const kernels::Conv2DGeometry& geometry) {
    plan.problems_[label].conv = geometry;
    plan.problems_[label].half = plan.options_.precision == Precision::kFp16;
    const ForcedVariant forced = plan.options_.forced_variant;
    KernelChoice choice;
    choice.variant = kernels::Conv2DVariantName(kernels::Conv2DVariant::kImplicitGemm);
    if (forced == ForcedVariant::kRegisterBlocked) choice.how = KernelChoice::How::kForced;
    if (forced == ForcedVariant::kSharedTiled || forced == ForcedVariant::kDirect)
      choice.not_applied = NotApplied(forced, kernel);
    plan.kernel_choices_[label] = std::move(choice);
  }

  // What each layer's forward pass produced, for building its backward pass.
  struct Record {
    size_t layer = 0;
    LayerKind kind = LayerKind::kInput;
    TensorRef x, z, y;               // input, pre-activation (dense, conv), output
    bool x_is_network_input = false;
    kernels::Activation activation = kernels::Activation::kIdentity;
    float leaky_slope = 0.01f;
    int weight = -1, bias = -1;      // indices into plan.parameters_ (batch norm: gamma, beta)
    uint32_t in = 0, out = 0;        // dense: features; conv: channels; batch norm: channels
    uint32_t rows = 0;               // rows of the (rows, out) matrix bias, activation and batch norm see
    kernels::Conv2DGeometry conv;
    kernels::PoolShape pool;
    kernels::PoolKind pool_kind = kernels::PoolKind::kMax;
    TensorRef argmax;                // max pooling
    uint32_t dropout_seed = 0;
    float rate = 0;
    TensorRef saved_mean, saved_inv_std, workspace;  // batch norm; dense, conv: bias-gradient partial sums
  };

  // What a pool layer's dispatch computes (Plan::problem).
  void RecordPool(const std::string& label, const Record& r) {
    kernels::KernelProblem& problem = plan.problems_[label];
    problem.pool = r.pool;
    problem.pool_kind = r.pool_kind;
    problem.half = r.y.half();
  }

  // The parameter tensors (trainable, one shared layout) and the batch-norm
  // running statistics (not trained: their own buffer) of every layer.
  void LayOutParameters(const std::vector<LayerShape>& shapes, uint64_t alignment, uint64_t& total,
                        uint64_t& statistics_total, bool decayed_first) {
    ModelTensors tensors = ListModelTensors(plan.model_, shapes);
    auto lay_out = [&](std::vector<ParameterTensor>& list, uint64_t& end, int pass) {
      for (ParameterTensor& tensor : list) {
        // pass 0: everything; 1: tensors of 2 or more dimensions (decayed); 2: the rest.
        if (pass != 0 && (tensor.shape.size() >= 2) != (pass == 1)) continue;
        tensor.offset = end;
        end = AlignUp(end + tensor.count, alignment);
      }
    };
    if (decayed_first) {
      lay_out(tensors.parameters, total, 1);
      total = AlignUp(total, std::max<uint64_t>(alignment, 4));
      plan.decay_end_ = total;
      lay_out(tensors.parameters, total, 2);
    } else {
      lay_out(tensors.parameters, total, 0);
    }
    lay_out(tensors.statistics, statistics_total, 0);
    plan.parameters_ = std::move(tensors.parameters);
    plan.statistics_ = std::move(tensors.statistics);
  }

  // Mixed precision covers every layer but the sequence model's.
  void RequireFp16Support(const ModelDesc& model) {
    const std::string unavailable = kernels::Fp16Unavailable(plan.context_->info());
    if (!unavailable.empty()) throw Error("fp16 precision is unavailable: " + unavailable);
    if (std::string refusal = Fp16UnsupportedLayers(model); !refusal.empty())
      throw Error(refusal + " Train this model with precision fp32.");
  }

  void Build();

  // Sequence models (plan_sequence.cpp). What the sequence layers share with
  // the rest of Build: the dispatch lists, the parameter views and the
  // position in the network.
  struct Lists {
    std::vector<vk::Dispatch>*forward, *eval_forward, *train;
    std::vector<DispatchRole>*forward_roles, *eval_forward_roles, *train_roles;
  };
  struct SequenceRecord;  // what a sequence layer's forward keeps for its backward
  std::map<size_t, std::shared_ptr<SequenceRecord>> sequence_records;  // by layer
  std::function<TensorRef(int)> parameter_view, gradient_view;
  int token_table = -1;          // the embedding's token table (parameter index), for a tied head
  bool token_table_tied = false;  // a tied head writes its gradient first: the embedding accumulates
  // Adds the forward dispatches of sequence layer `i` reading `x` (rows x C,
  // or the batch's token ids for an embedding); returns its output.
  TensorRef SequenceForward(const Lists& lists, size_t i, TensorRef x, uint32_t rows, int& next_parameter);
  // Adds the backward of the sequence layer recorded for layer `i`; returns
  // the gradient of its input (empty for an embedding).
  TensorRef SequenceBackward(const Lists& lists, size_t i, TensorRef grad_y);
};

}  // namespace ts::nn
