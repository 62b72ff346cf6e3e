// The sequence layers of a Plan (a GPT): token + position embedding, layer
// norm and the pre-norm transformer block, forward and backward, on
// (batch * T, C) matrices. See plan_builder.h.
//
// A block, as nanoGPT's Block (x: rows x C, r = mlp_ratio):
//   ln1 = LN(x);  qkv = ln1 Wqkv + bqkv;  att = attention(qkv);  x1 = x + att Wo + bo
//   ln2 = LN(x1); h = gelu(ln2 W1 + b1);  y = x1 + h W2 + b2
// and its backward, last operation first; the layer norms' backward adds the
// residual path's gradient as it writes dx (LayerNormBackwardArgs::add).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <mutex>
#include <random>
#include <tuple>

#include "compute/common/error.h"
#include "compute/kernels/activation.h"
#include "compute/kernels/add.h"
#include "compute/kernels/attention.h"
#include "compute/kernels/embedding.h"
#include "compute/kernels/layernorm.h"
#include "compute/nn/plan_builder.h"
#include "compute/nn/tensor_table.h"
#include "compute/vk/sequence.h"

namespace ts::nn {

using kernels::TensorRef;

struct Plan::Builder::SequenceRecord {
  LayerKind kind = LayerKind::kInput;
  std::string name;
  TensorRef x, y;
  uint32_t rows = 0, width = 0;
  // Embedding: the token ids (the batch input), the two tables.
  int token_weight = -1, position_weight = -1;
  uint32_t vocab = 0, tokens = 0;
  // Layer norm (and a block's two).
  int gamma = -1, beta = -1;
  TensorRef mean, rstd, norm_workspace;
  float epsilon = 1e-5f;
  // Block: parameters in TransformerBlockTensors order, its tensors.
  int first_parameter = -1;
  uint32_t hidden = 0;
  kernels::AttentionShape shape;
  kernels::AttentionPath path = kernels::AttentionPath::kPlain;
  TensorRef ln1, mean1, rstd1, qkv, att, probabilities, log_sum_exp, proj, x1, ln2, mean2, rstd2, h_pre, h, m;
  TensorRef ws_ln1, ws_ln2, ws_qkv, ws_proj, ws_fc, ws_mlp;
};

namespace {

// A block's parameters, as TransformerBlockTensors lists them.
enum BlockParameter { kLn1W, kLn1B, kQkvW, kQkvB, kProjW, kProjB, kLn2W, kLn2B, kFcW, kFcB, kMlpW, kMlpB, kBlockParameters };

// The attention path that ran faster on this device for `shape` (forward and
// backward, median of interleaved rounds), measured once per shape and
// device in this process. Without timestamps: the fused path from T = 128
// (where the T x T scores stop fitting in cache), the plain one below.
kernels::AttentionPath MeasureAttentionPath(vk::Context& context, vk::PipelineCache& pipelines,
                                            const kernels::AttentionShape& shape) {
  static std::mutex mutex;
  static std::map<std::tuple<std::string, uint32_t, uint32_t, uint32_t, uint32_t>, kernels::AttentionPath> cache;
  const auto key = std::make_tuple(context.info().name, shape.batch, shape.tokens, shape.heads, shape.head_dim);
  std::lock_guard lock(mutex);
  if (auto found = cache.find(key); found != cache.end()) return found->second;
  kernels::AttentionPath chosen = shape.tokens >= 128 ? kernels::AttentionPath::kFused : kernels::AttentionPath::kPlain;
  if (context.info().timestamp_valid_bits > 0) {
    const uint64_t c = shape.width(), rows = shape.rows();
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    auto make = [&](uint64_t count, const char* name, bool random) {
      auto buffer = std::make_unique<vk::Buffer>(context, std::max<uint64_t>(count, 1) * 4, name);
      std::vector<float> values(std::max<uint64_t>(count, 1), 0.0f);
      if (random)
        for (float& v : values) v = uniform(rng);
      buffer->UploadVector(std::span<const float>(values));
      return buffer;
    };
    auto qkv = make(rows * 3 * c, "attention timing qkv", true), y = make(rows * c, "attention timing y", false),
         dy = make(rows * c, "attention timing dy", true), dqkv = make(rows * 3 * c, "attention timing dqkv", false),
         p = make(shape.score_count(), "attention timing P", false),
         ds = make(shape.score_count(), "attention timing dS", false),
         lse = make(shape.row_stat_count(), "attention timing lse", false),
         dot = make(shape.row_stat_count(), "attention timing row dot", false);
    auto all = [](const std::unique_ptr<vk::Buffer>& b) { return kernels::WholeBuffer(*b); };
    auto dispatches = [&](kernels::AttentionPath path) {
      const bool plain = path == kernels::AttentionPath::kPlain;
      std::vector<vk::Dispatch> list = kernels::AttentionDispatches(
          pipelines, {path, shape, 0.0f, all(qkv), all(y), plain ? all(p) : TensorRef{}, plain ? TensorRef{} : all(lse)});
      for (vk::Dispatch& d : kernels::AttentionBackwardDispatches(
               pipelines, {path, shape, 0.0f, all(qkv), all(y), all(dy), plain ? all(p) : TensorRef{},
                           plain ? TensorRef{} : all(lse), plain ? TensorRef{} : all(dot),
                           plain ? all(ds) : TensorRef{}, all(dqkv)}))
        list.push_back(std::move(d));
      return list;
    };
    const std::vector<vk::Dispatch> plain = dispatches(kernels::AttentionPath::kPlain);
    const std::vector<vk::Dispatch> fused = dispatches(kernels::AttentionPath::kFused);
    // Rounds: a warm-up of each, then plain and fused alternately.
    constexpr int kRounds = 3;
    std::vector<vk::Dispatch> all_dispatches;
    for (int round = 0; round <= kRounds; ++round)
      for (const auto* list : {&plain, &fused}) all_dispatches.insert(all_dispatches.end(), list->begin(), list->end());
    vk::Sequence sequence(context, all_dispatches);
    context.RunOnce([&](VkCommandBuffer cb) {
      sequence.Record(cb);
      vk::RecordComputeToHostBarrier(cb);
    });
    const std::vector<double> times = sequence.ReadDispatchTimesNs();
    std::vector<double> plain_ns, fused_ns;
    size_t at = plain.size() + fused.size();  // past the warm-up
    for (int round = 1; round <= kRounds; ++round) {
      double sum = 0;
      for (size_t k = 0; k < plain.size(); ++k) sum += times[at++];
      plain_ns.push_back(sum);
      sum = 0;
      for (size_t k = 0; k < fused.size(); ++k) sum += times[at++];
      fused_ns.push_back(sum);
    }
    std::sort(plain_ns.begin(), plain_ns.end());
    std::sort(fused_ns.begin(), fused_ns.end());
    chosen = fused_ns[kRounds / 2] < plain_ns[kRounds / 2] ? kernels::AttentionPath::kFused
                                                             : kernels::AttentionPath::kPlain;
  }
  cache.emplace(key, chosen);
  return chosen;
}

}  // namespace

kernels::TensorRef Plan::Builder::SequenceForward(const Lists& lists, size_t i, TensorRef x, uint32_t rows,
                                                  int& next_parameter) {
  const LayerDesc& layer = plan.model_.layers[i];
  vk::PipelineCache& pipelines = *plan.pipelines_;
  auto record = std::make_shared<SequenceRecord>();
  SequenceRecord& r = *record;
  sequence_records[i] = record;
  r.kind = layer.kind;
  r.name = layer.name;
  r.x = x;
  r.rows = rows;
  const DispatchRole role{static_cast<int>(i), Pass::kForward};
  auto add_both = [&](auto make) {
    Add(*lists.forward, *lists.forward_roles, role, make);
    Add(*lists.eval_forward, *lists.eval_forward_roles, role, make);
  };
  auto add_both_all = [&](auto make) {
    AddAll(*lists.forward, *lists.forward_roles, role, make);
    AddAll(*lists.eval_forward, *lists.eval_forward_roles, role, make);
  };
  auto activation = [&](const std::string& what, uint64_t count) {
    return Tensor(layer.name + " " + what, count, Category::kActivation);
  };

  if (layer.kind == LayerKind::kEmbedding) {
    r.tokens = plan.tokens_per_sample_;
    r.vocab = layer.vocab;
    r.width = layer.units;
    r.token_weight = next_parameter++;
    r.position_weight = next_parameter++;
    token_table = r.token_weight;
    r.y = activation("output", uint64_t(rows) * r.width);
    add_both([&] {
      // The batch input holds the window's ids as float32 values (the dataset gather writes floats).
      vk::Dispatch d = kernels::EmbeddingDispatch(
          pipelines, {r.x, parameter_view(r.token_weight), parameter_view(r.position_weight), r.y, rows, r.tokens,
                      r.vocab, r.width, /*float_tokens=*/true});
      d.label = layer.name + " forward: token + position embedding";
      return d;
    });
    return r.y;
  }

  r.width = static_cast<uint32_t>(x.count / rows);
  r.epsilon = layer.epsilon;
  // y = LN(x) with saved statistics, and the backward's column-sum workspace.
  auto layer_norm = [&](TensorRef in, int gamma, const std::string& what, TensorRef& mean, TensorRef& rstd,
                        TensorRef& workspace) {
    TensorRef out = activation(what + " output", uint64_t(rows) * r.width);
    mean = activation(what + " mean", rows);
    rstd = activation(what + " inverse std", rows);
    if (uint64_t count = kernels::LayerNormBackwardWorkspaceCount(rows, r.width); count > 0)
      workspace = Tensor(layer.name + " " + what + " workspace", count, Category::kActivationGradient);
    add_both([&, in, out, gamma, mean, rstd] {
      vk::Dispatch d = kernels::LayerNormDispatch(
          pipelines, {in, parameter_view(gamma), parameter_view(gamma + 1), out, mean, rstd, rows, r.width, r.epsilon});
      d.label = layer.name + " forward: " + what;
      return d;
    });
    return out;
  };

  if (layer.kind == LayerKind::kLayerNorm) {
    r.gamma = next_parameter++;
    r.beta = next_parameter++;
    r.y = layer_norm(x, r.gamma, "layer norm", r.mean, r.rstd, r.norm_workspace);
    return r.y;
  }

  // The transformer block.
  const uint32_t c = r.width;
  r.hidden = layer.mlp_ratio * c;
  r.first_parameter = next_parameter;
  next_parameter += kBlockParameters;
  auto param = [&](int which) { return r.first_parameter + which; };
  r.shape = {plan.options_.batch, plan.tokens_per_sample_, layer.heads, c / layer.heads};
  r.path = layer.attention == AttentionChoice::kPlain   ? kernels::AttentionPath::kPlain
           : layer.attention == AttentionChoice::kFused ? kernels::AttentionPath::kFused
           : allocate ? MeasureAttentionPath(*plan.context_, pipelines, r.shape)
                      : kernels::AttentionPath::kPlain;
  const bool plain = r.path == kernels::AttentionPath::kPlain;
  // x @ W (+ bias in place), labelled.
  auto linear = [&](TensorRef in, int weight, TensorRef out, uint32_t n, uint32_t k, const std::string& what) {
    add_both([&, in, weight, out, n, k, what] {
      return Matmul({in, parameter_view(weight), out, rows, n, k}, layer.name + " forward: " + what);
    });
  };
  auto add_bias = [&](TensorRef z, int bias, uint32_t n, kernels::Activation act, TensorRef out, const std::string& what) {
    add_both([&, z, bias, n, act, out, what] {
      vk::Dispatch d = kernels::BiasActivationDispatch(pipelines, {z, parameter_view(bias), out, rows, n, act, 0.01f});
      d.label = layer.name + " forward: " + what;
      return d;
    });
  };
  auto bias_workspace = [&](uint32_t n, const std::string& what) {
    uint64_t count = kernels::BiasActivationBackwardWorkspaceCount(rows, n);
    return count > 0 ? Tensor(layer.name + " " + what + " bias-gradient workspace", count, Category::kActivationGradient)
                     : TensorRef{};
  };

  r.ln1 = layer_norm(x, param(kLn1W), "ln_1", r.mean1, r.rstd1, r.ws_ln1);
  r.qkv = activation("attn qkv", uint64_t(rows) * 3 * c);
  linear(r.ln1, param(kQkvW), r.qkv, 3 * c, c, "qkv = ln_1 Wqkv");
  add_bias(r.qkv, param(kQkvB), 3 * c, kernels::Activation::kIdentity, TensorRef{}, "qkv bias");
  r.ws_qkv = bias_workspace(3 * c, "qkv");
  r.att = activation("attention output", uint64_t(rows) * c);
  if (plain)
    r.probabilities = activation("attention probabilities", r.shape.score_count());
  else
    r.log_sum_exp = activation("attention log-sum-exp", r.shape.row_stat_count());
  plan.attention_probabilities_[i] = r.probabilities;  // for attention maps (Plan::ReadAttentionProbabilities)
  add_both_all([&] {
    std::vector<vk::Dispatch> list = kernels::AttentionDispatches(
        pipelines, {r.path, r.shape, 0.0f, r.qkv, r.att, r.probabilities, r.log_sum_exp});
    for (vk::Dispatch& d : list)
      d.label = layer.name + " forward: causal attention (" + kernels::AttentionPathName(r.path) + ")" +
                (d.label.empty() ? "" : ": " + d.label);
    return list;
  });
  r.proj = activation("attn proj", uint64_t(rows) * c);
  linear(r.att, param(kProjW), r.proj, c, c, "proj = att Wo");
  add_bias(r.proj, param(kProjB), c, kernels::Activation::kIdentity, TensorRef{}, "proj bias");
  r.ws_proj = bias_workspace(c, "proj");
  r.x1 = activation("x + attention", uint64_t(rows) * c);
  add_both([&] {
    vk::Dispatch d = kernels::AddDispatch(pipelines, {x, r.proj, r.x1, uint64_t(rows) * c});
    d.label = layer.name + " forward: residual x1 = x + proj";
    return d;
  });
  r.ln2 = layer_norm(r.x1, param(kLn2W), "ln_2", r.mean2, r.rstd2, r.ws_ln2);
  r.h_pre = activation("mlp fc", uint64_t(rows) * r.hidden);
  r.h = activation("mlp gelu", uint64_t(rows) * r.hidden);
  linear(r.ln2, param(kFcW), r.h_pre, r.hidden, c, "fc = ln_2 W1");
  add_bias(r.h_pre, param(kFcB), r.hidden, kernels::Activation::kGelu, r.h, "h = gelu(fc + b1)");
  r.ws_fc = bias_workspace(r.hidden, "fc");
  r.m = activation("mlp proj", uint64_t(rows) * c);
  linear(r.h, param(kMlpW), r.m, c, r.hidden, "mlp = h W2");
  add_bias(r.m, param(kMlpB), c, kernels::Activation::kIdentity, TensorRef{}, "mlp bias");
  r.ws_mlp = bias_workspace(c, "mlp");
  r.y = activation("output", uint64_t(rows) * c);
  add_both([&] {
    vk::Dispatch d = kernels::AddDispatch(pipelines, {r.x1, r.m, r.y, uint64_t(rows) * c});
    d.label = layer.name + " forward: residual y = x1 + mlp";
    return d;
  });
  return r.y;
}

kernels::TensorRef Plan::Builder::SequenceBackward(const Lists& lists, size_t i, TensorRef grad_y) {
  const SequenceRecord& r = *sequence_records.at(i);
  vk::PipelineCache& pipelines = *plan.pipelines_;
  const DispatchRole role{static_cast<int>(i), Pass::kBackward};
  const uint32_t rows = r.rows, c = r.width;
  auto add = [&](auto make) { Add(*lists.train, *lists.train_roles, role, make); };
  auto add_all = [&](auto make) { AddAll(*lists.train, *lists.train_roles, role, make); };
  auto gradient_tensor = [&](const std::string& what, uint64_t count) {
    return Tensor(r.name + " " + what + " gradient", count, Category::kActivationGradient);
  };

  if (r.kind == LayerKind::kEmbedding) {
    add_all([&] {
      std::vector<vk::Dispatch> list = kernels::EmbeddingBackwardDispatches(
          pipelines, {r.x, grad_y, gradient_view(r.token_weight), gradient_view(r.position_weight), rows, r.tokens,
                      r.vocab, c, token_table_tied, /*float_tokens=*/true});
      for (vk::Dispatch& d : list)
        d.label = r.name + (token_table_tied ? " backward: dE += scatter(dY), dP" : " backward: dE, dP");
      return list;
    });
    return TensorRef{};
  }

  // dx (+ add) = LN backward, with d(gamma), d(beta).
  auto layer_norm_back = [&](TensorRef dy, TensorRef x, int gamma, TensorRef mean, TensorRef rstd, TensorRef plus,
                             TensorRef workspace, const std::string& what) {
    TensorRef dx = gradient_tensor(what + " input", uint64_t(rows) * c);
    add_all([&, dy, x, gamma, mean, rstd, plus, workspace, dx, what] {
      std::vector<vk::Dispatch> list = kernels::LayerNormBackwardDispatches(
          pipelines, {dy, x, parameter_view(gamma), mean, rstd, plus, dx, gradient_view(gamma),
                      gradient_view(gamma + 1), rows, c, workspace});
      for (vk::Dispatch& d : list)
        d.label = r.name + " backward: " + what + (plus.empty() ? "" : " (+ the residual's gradient)");
      return list;
    });
    return dx;
  };

  if (r.kind == LayerKind::kLayerNorm)
    return layer_norm_back(grad_y, r.x, r.gamma, r.mean, r.rstd, TensorRef{}, r.norm_workspace, "layer norm");

  auto param = [&](int which) { return r.first_parameter + which; };
  // The bias gradient of a linear layer's output gradient dz (identity activation).
  auto bias_grad = [&](TensorRef dz, TensorRef z, int bias, uint32_t n, TensorRef workspace, const std::string& what) {
    add_all([&, dz, z, bias, n, workspace, what] {
      std::vector<vk::Dispatch> list = kernels::BiasActivationBackwardDispatches(
          pipelines, {dz, z, z, TensorRef{}, gradient_view(bias), rows, n, kernels::Activation::kIdentity, 0.01f,
                      workspace});
      for (vk::Dispatch& d : list) d.label = r.name + " backward: " + what;
      return list;
    });
  };
  // dW = X^T dZ and dX = dZ W^T for Z = X W (X: rows x k, W: k x n).
  auto linear_back = [&](TensorRef in, TensorRef dz, int weight, uint32_t n, uint32_t k, const std::string& what,
                         bool input_gradient) {
    add([&, in, dz, weight, n, k, what] {
      return Matmul({in, dz, gradient_view(weight), k, n, rows, /*transpose_a=*/true, false},
                    r.name + " backward: d" + what + " weight");
    });
    if (!input_gradient) return TensorRef{};
    TensorRef dx = gradient_tensor(what + " input", uint64_t(rows) * k);
    add([&, dz, weight, dx, n, k, what] {
      return Matmul({dz, parameter_view(weight), dx, rows, k, n, false, /*transpose_b=*/true},
                    r.name + " backward: d" + what + " input");
    });
    return dx;
  };

  // MLP: y = x1 + (gelu(ln2 W1 + b1) W2 + b2).
  bias_grad(grad_y, r.m, param(kMlpB), c, r.ws_mlp, "mlp bias");
  TensorRef dh = linear_back(r.h, grad_y, param(kMlpW), c, r.hidden, "mlp proj", true);
  TensorRef dh_pre = gradient_tensor("mlp fc", uint64_t(rows) * r.hidden);
  add_all([&] {
    std::vector<vk::Dispatch> list = kernels::BiasActivationBackwardDispatches(
        pipelines, {dh, r.h_pre, r.h, dh_pre, gradient_view(param(kFcB)), rows, r.hidden, kernels::Activation::kGelu,
                    0.01f, r.ws_fc});
    for (vk::Dispatch& d : list) d.label = r.name + " backward: gelu and fc bias";
    return list;
  });
  TensorRef dln2 = linear_back(r.ln2, dh_pre, param(kFcW), r.hidden, c, "fc", true);
  TensorRef dx1 = layer_norm_back(dln2, r.x1, param(kLn2W), r.mean2, r.rstd2, grad_y, r.ws_ln2, "ln_2");
  // Attention: x1 = x + (attention(ln1 Wqkv + bqkv) Wo + bo).
  bias_grad(dx1, r.proj, param(kProjB), c, r.ws_proj, "proj bias");
  TensorRef datt = linear_back(r.att, dx1, param(kProjW), c, c, "proj", true);
  TensorRef dqkv = gradient_tensor("attn qkv", uint64_t(rows) * 3 * c);
  const bool plain = r.path == kernels::AttentionPath::kPlain;
  TensorRef scratch = plain ? gradient_tensor("attention scores", r.shape.score_count())
                            : gradient_tensor("attention row dot", r.shape.row_stat_count());
  add_all([&] {
    std::vector<vk::Dispatch> list = kernels::AttentionBackwardDispatches(
        pipelines, {r.path, r.shape, 0.0f, r.qkv, r.att, datt, r.probabilities, r.log_sum_exp,
                    plain ? TensorRef{} : scratch, plain ? scratch : TensorRef{}, dqkv});
    for (vk::Dispatch& d : list)
      d.label = r.name + " backward: causal attention (" + kernels::AttentionPathName(r.path) + ")" +
                (d.label.empty() ? "" : ": " + d.label);
    return list;
  });
  bias_grad(dqkv, r.qkv, param(kQkvB), 3 * c, r.ws_qkv, "qkv bias");
  TensorRef dln1 = linear_back(r.ln1, dqkv, param(kQkvW), 3 * c, c, "qkv", true);
  return layer_norm_back(dln1, r.x, param(kLn1W), r.mean1, r.rstd1, dx1, r.ws_ln1, "ln_1");
}

}  // namespace ts::nn
