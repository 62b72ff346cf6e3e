// The Model panel's layer rows: each type's inline editors (see model_panel_internal.h).
#include "ui/panels/model_panel_internal.h"

#include <algorithm>
#include <iterator>
#include <map>
#include <span>
#include <string>

#include <imgui_stdlib.h>

#include "ui/test_hooks.h"

namespace ts::ui::model_panel {
namespace {

const char* const kActivationTypes[] = {"relu", "leaky_relu", "sigmoid", "tanh", "gelu"};
const char* const kLossTypes[] = {"softmax_cross_entropy", "mse", "bce_with_logits"};
const char* const kInitNames[] = {"", "he_uniform", "he_normal", "xavier_uniform", "xavier_normal", "normal_0.02",
                                  "zeros", "ones"};
const char* const kAttentionNames[] = {"auto", "plain", "fused"};

// What a combo shows for a value: short labels keep the rows narrow.
const char* DisplayName(const std::string& value) {
  static const std::map<std::string, const char*> kLabels = {
      {"", "auto"}, {"softmax_cross_entropy", "softmax CE"}, {"bce_with_logits", "BCE (logits)"}, {"mse", "MSE"},
      {"leaky_relu", "leaky ReLU"}, {"he_uniform", "He uniform"}, {"he_normal", "He normal"},
      {"xavier_uniform", "Xavier uniform"}, {"xavier_normal", "Xavier normal"}, {"normal_0.02", "N(0, 0.02)"}};
  auto it = kLabels.find(value);
  return it == kLabels.end() ? value.c_str() : it->second;
}

// A combo over `names`; returns true when the user picked another one.
bool NameCombo(const char* id, std::string& value, std::span<const char* const> names, float width) {
  bool changed = false;
  ImGui::SetNextItemWidth(width);
  if (ImGui::BeginCombo(id, DisplayName(value))) {
    for (const char* name : names) {
      bool selected = value == name;
      if (ImGui::Selectable(DisplayName(name), selected) && !selected) {
        value = name;
        changed = true;
      }
    }
    ImGui::EndCombo();
  }
  return changed;
}

}  // namespace

bool IsLossType(const std::string& type) {
  return std::find(std::begin(kLossTypes), std::end(kLossTypes), type) != std::end(kLossTypes);
}

bool DrawLayerEditors(LayerEdit& layer, bool sequence) {
  const float unit = ImGui::GetFontSize();
  bool changed = false;
  const std::string& type = layer.type;
  if (type == "input") {
    ImGui::TextUnformatted("input");
    ImGui::SameLine();
    ImGui::SetNextItemWidth(unit * 5);
    changed |= ImGui::InputTextWithHint("##shape", "2 or 1x28x28", &layer.shape);
    HelpTooltip("The shape of one sample: \"2\" for 2D points, \"1x28x28\" for an MNIST image.");
  } else if (type == "dense") {
    ImGui::TextUnformatted("dense");
    ImGui::SameLine();
    ImGui::SetNextItemWidth(unit * 3.5f);
    changed |= ImGui::InputTextWithHint("##units", "units", &layer.units);
    RecordItemRect("dense_units");  // the last dense row's field; its row is "row_N"
    HelpTooltip("Output features (units).");
    ImGui::SameLine();
    changed |= ImGui::Checkbox("bias", &layer.bias);
    if (sequence || layer.tied) {
      ImGui::SameLine();
      changed |= ImGui::Checkbox("tied", &layer.tied);
      RecordItemRect("dense_tied");
      HelpTooltip("Weight tying (nanoGPT's): the weight is the embedding's token table, transposed;\n"
                  "units must equal its vocab, the input its width. No weight of its own.");
    }
    if (!layer.tied) {
      ImGui::SameLine();
      changed |= NameCombo("##init", layer.init, kInitNames, unit * 4.5f);
      HelpTooltip("Weight initialisation. auto: he_uniform before a ReLU-family activation, else xavier_uniform.");
    }
  } else if (type == "embedding") {
    ImGui::TextUnformatted("embedding");
    ImGui::SameLine();
    ImGui::SetNextItemWidth(unit * 2.6f);
    changed |= ImGui::InputTextWithHint("##vocab", "vocab", &layer.vocab);
    RecordItemRect("embedding_vocab");
    HelpTooltip("vocab: the number of distinct tokens (ids 0 .. vocab - 1); text sets it to its characters.");
    ImGui::SameLine(0, 3);
    ImGui::SetNextItemWidth(unit * 2.6f);
    changed |= ImGui::InputTextWithHint("##units", "width", &layer.units);
    RecordItemRect("embedding_units");
    HelpTooltip("units: the width C of every position's vector.");
    ImGui::SameLine();
    changed |= NameCombo("##init", layer.init, kInitNames, unit * 4.5f);
    HelpTooltip("Initialisation of the token and position tables. auto: N(0, 0.02), as GPT-2.");
  } else if (type == "layer_norm") {
    ImGui::TextUnformatted("layer norm");
    ImGui::SameLine();
    ImGui::SetNextItemWidth(unit * 3.5f);
    changed |= ImGui::InputTextWithHint("##epsilon", "epsilon", &layer.epsilon);
    HelpTooltip("epsilon: added to the variance before the square root (PyTorch's default 1e-5).");
  } else if (type == "transformer_block") {
    ImGui::TextUnformatted("block");
    HelpTooltip("A transformer block (GPT-2's): attention, then an MLP, each after a layer norm, each added back.");
    ImGui::SameLine();
    ImGui::SetNextItemWidth(unit * 1.8f);
    changed |= ImGui::InputTextWithHint("##heads", "heads", &layer.heads);
    RecordItemRect("block_heads");
    HelpTooltip("heads: attention heads; each sees width / heads of every position's vector (must divide the width).");
    ImGui::SameLine(0, 3);
    ImGui::TextDisabled("heads");
    ImGui::SameLine();
    ImGui::TextDisabled("mlp x");
    ImGui::SameLine(0, 3);
    ImGui::SetNextItemWidth(unit * 1.8f);
    changed |= ImGui::InputTextWithHint("##mlp_ratio", "mlp", &layer.mlp_ratio);
    RecordItemRect("block_mlp_ratio");
    HelpTooltip("mlp_ratio: the MLP's hidden width as a multiple of the width (GPT-2: 4).");
    ImGui::SameLine();
    changed |= NameCombo("##attention", layer.attention, kAttentionNames, unit * 4);
    RecordItemRect("block_attention");
    HelpTooltip("Attention kernels: plain (scores, softmax and the weighted sum as separate kernels),\n"
                "fused (one flash-attention kernel, no T x T scores in memory), or auto (both are timed\n"
                "on this device when training starts, and the faster is kept).");
  } else if (type == "conv2d") {
    ImGui::TextUnformatted("conv");
    ImGui::SameLine();
    ImGui::SetNextItemWidth(unit * 2.6f);
    changed |= ImGui::InputTextWithHint("##filters", "filters", &layer.filters);
    HelpTooltip("Filters: the output channels.");
    ImGui::SameLine(0, 3);
    ImGui::SetNextItemWidth(unit * 2.2f);
    changed |= ImGui::InputTextWithHint("##kernel", "k", &layer.kernel);
    HelpTooltip("Kernel size: 3 (3x3) or height x width, e.g. 3x5.");
    ImGui::SameLine(0, 3);
    ImGui::SetNextItemWidth(unit * 1.8f);
    changed |= ImGui::InputTextWithHint("##stride", "s1", &layer.stride);
    HelpTooltip("Stride: 1 (default) or 2 to halve the image; height x width allowed.");
    ImGui::SameLine(0, 3);
    ImGui::SetNextItemWidth(unit * 3.2f);
    changed |= ImGui::InputTextWithHint("##padding", "valid", &layer.padding);
    HelpTooltip("Padding: valid (none: the image shrinks by kernel - 1), same (keeps H / stride),\n"
                "or zeros on each side, e.g. 1 or 1x2.");
    ImGui::SameLine(0, 3);
    changed |= ImGui::Checkbox("b", &layer.bias);
    HelpTooltip("Bias: one per filter.");
  } else if (type == "max_pool2d" || type == "avg_pool2d") {
    ImGui::TextUnformatted(type == "max_pool2d" ? "max pool" : "avg pool");
    ImGui::SameLine();
    ImGui::SetNextItemWidth(unit * 2.2f);
    changed |= ImGui::InputTextWithHint("##size", "size", &layer.kernel);
    HelpTooltip("Window: 2 (2x2) or height x width.");
    ImGui::SameLine(0, 3);
    ImGui::SetNextItemWidth(unit * 2.2f);
    changed |= ImGui::InputTextWithHint("##stride", "stride", &layer.stride);
    HelpTooltip("Stride: empty for the window size (no overlap).");
    ImGui::SameLine(0, 3);
    ImGui::SetNextItemWidth(unit * 1.8f);
    changed |= ImGui::InputTextWithHint("##padding", "pad", &layer.padding);
    HelpTooltip("Padding on each side (default 0).");
  } else if (type == "dropout") {
    ImGui::TextUnformatted("dropout");
    ImGui::SameLine();
    ImGui::SetNextItemWidth(unit * 3);
    changed |= ImGui::InputTextWithHint("##rate", "rate", &layer.rate);
    HelpTooltip("The probability of zeroing each value while training, in [0, 1).");
  } else if (type == "batch_norm") {
    ImGui::TextUnformatted("batch norm");
    ImGui::SameLine();
    ImGui::SetNextItemWidth(unit * 3);
    changed |= ImGui::InputTextWithHint("##momentum", "momentum", &layer.momentum);
    HelpTooltip("Momentum of the running statistics (PyTorch's default 0.1).");
  } else if (type == "global_avg_pool") {
    ImGui::TextUnformatted("global avg pool");
  } else if (std::find(std::begin(kActivationTypes), std::end(kActivationTypes), type) != std::end(kActivationTypes)) {
    changed |= NameCombo("##activation", layer.type, kActivationTypes, unit * 6);
    if (layer.type == "leaky_relu") {
      ImGui::SameLine();
      ImGui::SetNextItemWidth(unit * 3.5f);
      changed |= ImGui::InputTextWithHint("##slope", "slope", &layer.slope);
      HelpTooltip("The slope for negative inputs, in [0, 1).");
    }
  } else if (std::find(std::begin(kLossTypes), std::end(kLossTypes), type) != std::end(kLossTypes)) {
    changed |= NameCombo("##loss", layer.type, kLossTypes, unit * 7);
  } else {
    ImGui::TextUnformatted(type.c_str());
  }
  if (!layer.name.empty()) {
    ImGui::SameLine();
    ImGui::TextDisabled("'%s'", layer.name.c_str());
  }
  return changed;
}

}  // namespace ts::ui::model_panel
