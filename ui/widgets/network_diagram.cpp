#include "ui/widgets/network_diagram.h"

#include "ui/format.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <tuple>
#include <vector>

#include "compute/common/error.h"

namespace ts::ui {
namespace {

struct Rgb {
  float r, g, b;
};

ImU32 ToColor(Rgb c, float alpha = 1.0f) {
  return ImGui::ColorConvertFloat4ToU32(ImVec4(c.r, c.g, c.b, alpha));
}

// The diverging colours of ui/widgets/heatmap.cpp (blue < 0 < orange, dark at
// zero), repeated here so the diagram stands on its own.
constexpr Rgb kNegative{0.30f, 0.55f, 0.95f}, kPositive{0.98f, 0.58f, 0.16f}, kZero{0.16f, 0.16f, 0.18f};

ImU32 DivergingColor(float t) {
  if (!std::isfinite(t)) t = 0;
  t = std::clamp(t, -1.0f, 1.0f);
  const Rgb& end = t < 0 ? kNegative : kPositive;
  const float a = std::abs(t);
  return ToColor({kZero.r + (end.r - kZero.r) * a, kZero.g + (end.g - kZero.g) * a, kZero.b + (end.b - kZero.b) * a});
}

constexpr ImU32 kAccent = IM_COL32(255, 205, 70, 255);
constexpr ImU32 kOutline = IM_COL32(255, 255, 255, 70);
constexpr ImU32 kText = IM_COL32(230, 230, 230, 255);
constexpr ImU32 kDimText = IM_COL32(170, 170, 170, 255);


// ---- Neuron (Playground) view -----------------------------------------------

// One column of neurons: the input features, or one dense layer's units.
struct Column {
  size_t layer = 0;          // index into model.layers (input or dense)
  int activation_layer = -1; // the activation right after a dense layer, if any
  uint32_t units = 0;
  std::string title;         // "input", "dense_1"
  std::string subtitle;      // "2 features", "relu"
};

std::vector<Column> BuildColumns(const nn::ModelDesc& model) {
  std::vector<Column> columns;
  for (size_t i = 0; i < model.layers.size(); ++i) {
    const nn::LayerDesc& layer = model.layers[i];
    if (layer.kind == nn::LayerKind::kInput && !layer.shape.empty()) {
      columns.push_back({i, -1, layer.shape[0], "input", std::to_string(layer.shape[0]) + " features"});
    } else if (layer.kind == nn::LayerKind::kDense) {
      Column column{i, -1, layer.units, layer.name, "linear"};
      if (i + 1 < model.layers.size() && model.layers[i + 1].kind == nn::LayerKind::kActivation) {
        column.activation_layer = static_cast<int>(i + 1);
        column.subtitle = model.layers[i + 1].TypeName();
      }
      columns.push_back(column);
    }
  }
  return columns;
}

// Where a neuron's map over the 2D input plane comes from.
struct NeuronMap {
  enum class Source { kNone, kInputX, kInputY, kHidden, kClass } source = Source::kNone;
  const float* values = nullptr;  // [y][x][stride]
  uint32_t stride = 0, unit = 0, resolution = 0;
  float range = 1;                // values are divided by this to land in [-1, 1]

  bool valid() const { return source != Source::kNone; }
  // The value at (u, v) in [0, 1]^2 (v = 0 is the bottom row: y_min), in [-1, 1].
  float At(float u, float v) const {
    if (source == Source::kInputX) return u * 2 - 1;
    if (source == Source::kInputY) return v * 2 - 1;
    uint32_t ix = std::min(resolution - 1, static_cast<uint32_t>(u * resolution));
    uint32_t iy = std::min(resolution - 1, static_cast<uint32_t>(v * resolution));
    float value = values[(static_cast<size_t>(iy) * resolution + ix) * stride + unit];
    return source == Source::kClass ? value * 2 - 1 : value / range;  // probability 0..1 -> -1..1
  }
};

NeuronMap MapFor(const nn::ModelDesc& model, const nn::Snapshot* snapshot, const Column& column, uint32_t unit,
                 bool is_output) {
  NeuronMap map;
  const nn::LayerDesc& layer = model.layers[column.layer];
  if (layer.kind == nn::LayerKind::kInput) {
    if (column.units == 2) map.source = unit == 0 ? NeuronMap::Source::kInputX : NeuronMap::Source::kInputY;
    return map;
  }
  if (!snapshot || snapshot->boundary_resolution == 0) return map;
  const uint32_t resolution = snapshot->boundary_resolution;
  const nn::Snapshot::HiddenLayer* hidden = nullptr;
  if (column.activation_layer >= 0)
    hidden = FindHiddenLayer(*snapshot, model.layers[column.activation_layer].name, column.units);
  if (!hidden) hidden = FindHiddenLayer(*snapshot, layer.name, column.units);
  if (hidden) {
    map = {NeuronMap::Source::kHidden, hidden->activations.data(), column.units, unit, resolution, 0.0f};
    for (size_t cell = 0; cell < static_cast<size_t>(resolution) * resolution; ++cell)
      map.range = std::max(map.range, std::abs(hidden->activations[cell * column.units + unit]));
    if (!(map.range > 0) || !std::isfinite(map.range)) map.range = 1;
    return map;
  }
  // The output layer: the probability of this unit's class on the boundary grid.
  // A single-output BCE model reports {1 - p, p}: its one unit is class 1.
  const uint32_t classes = snapshot->classes;
  const bool single_logit = column.units == 1 && classes == 2;
  if (is_output && (classes == column.units || single_logit) &&
      snapshot->boundary.size() == static_cast<size_t>(resolution) * resolution * classes)
    map = {NeuronMap::Source::kClass, snapshot->boundary.data(), classes, single_logit ? 1u : unit, resolution, 1.0f};
  return map;
}

// Fills [min, max] with `cells` x `cells` samples of the map (row 0 at the bottom).
void DrawMap(ImDrawList* draw, ImVec2 min, ImVec2 max, const NeuronMap& map, int cells) {
  const float w = (max.x - min.x) / cells, h = (max.y - min.y) / cells;
  for (int gy = 0; gy < cells; ++gy)
    for (int gx = 0; gx < cells; ++gx) {
      float value = map.At((gx + 0.5f) / cells, (gy + 0.5f) / cells);
      ImVec2 a(min.x + gx * w, max.y - (gy + 1) * h), b(min.x + (gx + 1) * w, max.y - gy * h);
      draw->AddRectFilled(a, b, DivergingColor(value));
    }
}

void NeuronTooltip(const nn::ModelDesc& model, const Column& column, uint32_t unit, const NeuronMap& map) {
  ImGui::BeginTooltip();
  const nn::LayerDesc& layer = model.layers[column.layer];
  if (layer.kind == nn::LayerKind::kInput) {
    ImGui::Text("input feature %u%s", unit, column.units == 2 ? (unit == 0 ? " (x)" : " (y)") : "");
  } else {
    ImGui::Text("%s, unit %u (%s)", column.title.c_str(), unit, column.subtitle.c_str());
  }
  if (map.valid()) {
    const float side = 128;
    ImVec2 min = ImGui::GetCursorScreenPos();
    int cells = map.resolution ? static_cast<int>(std::min<uint32_t>(map.resolution, 48)) : 24;
    DrawMap(ImGui::GetWindowDrawList(), min, ImVec2(min.x + side, min.y + side), map, cells);
    ImGui::Dummy(ImVec2(side, side));
    if (map.source == NeuronMap::Source::kHidden)
      ImGui::TextDisabled("activation over the input plane; blue < 0 < orange, max |a| = %.3g", map.range);
    else if (map.source == NeuronMap::Source::kClass)
      ImGui::TextDisabled("probability of class %u over the input plane (orange = likely)", unit);
    else
      ImGui::TextDisabled("the input itself: %s grows to the %s", unit == 0 ? "x" : "y", unit == 0 ? "right" : "top");
  } else if (layer.kind != nn::LayerKind::kInput) {
    ImGui::TextDisabled("No activation map yet: train a model with a 2D input to see one.");
  }
  ImGui::EndTooltip();
}

// Edges weaker than this share of the layer's largest |w| are not drawn.
constexpr float kFaintestEdge = 0.05f;

void DrawNeuronView(const nn::ModelDesc& model, const nn::Snapshot* snapshot, ImVec2 origin, ImVec2 size,
                    const NetworkDiagramOptions& options, bool hovered) {
  ImDrawList* draw = ImGui::GetWindowDrawList();
  std::vector<Column> columns = BuildColumns(model);
  if (columns.size() < 2) return;
  const float line = ImGui::GetTextLineHeight();
  const float top = origin.y + 2 * line + 6, bottom = origin.y + size.y - 4;
  const float margin = std::max(36.0f, size.x * 0.06f);
  const float column_gap = (size.x - 2 * margin) / (columns.size() - 1);

  // Neuron centres and radius per column.
  std::vector<std::vector<ImVec2>> centres(columns.size());
  std::vector<float> radius(columns.size());
  size_t mapped_neurons = 0;
  for (size_t c = 0; c < columns.size(); ++c) {
    const float spacing = (bottom - top) / std::max(1u, columns[c].units);
    radius[c] = std::clamp(std::min(spacing, column_gap * 0.4f) * 0.4f, 2.0f, 16.0f);
    for (uint32_t u = 0; u < columns[c].units; ++u)
      centres[c].push_back(ImVec2(origin.x + margin + c * column_gap, top + spacing * (u + 0.5f)));
    mapped_neurons += columns[c].units;
  }
  // Keep the in-node maps to a few thousand rectangles in all.
  const int node_cells = std::clamp(static_cast<int>(std::sqrt(3000.0 / std::max<size_t>(1, mapped_neurons))), 2, 12);

  // Edges first, so the neurons sit on top of them. Without anti-aliasing a
  // line is 2 triangles instead of 6: on a software rasterizer a thousand long
  // thin edges otherwise cost more than the rest of the window.
  const ImDrawListFlags flags = draw->Flags;
  draw->Flags &= ~ImDrawListFlags_AntiAliasedLines;
  for (size_t c = 1; c < columns.size(); ++c) {
    const Column& to = columns[c];
    const uint32_t in = columns[c - 1].units, out = to.units;
    std::optional<WeightView> weights;
    if (snapshot) weights = FindWeights(*snapshot, model.layers[to.layer].name + ".weight", in, out);
    float max_abs = 0;
    if (weights)
      for (float w : weights->values) max_abs = std::max(max_abs, std::isfinite(w) ? std::abs(w) : 0.0f);
    for (uint32_t i = 0; i < in; ++i)
      for (uint32_t o = 0; o < out; ++o) {
        ImVec2 a(centres[c - 1][i].x + radius[c - 1], centres[c - 1][i].y);
        ImVec2 b(centres[c][o].x - radius[c], centres[c][o].y);
        if (!weights || max_abs <= 0) {
          draw->AddLine(a, b, IM_COL32(160, 160, 160, 40), 1.0f);
          continue;
        }
        float w = weights->w(i, o);
        float strength = std::isfinite(w) ? std::abs(w) / max_abs : 0.0f;
        if (strength < kFaintestEdge) continue;  // would be all but invisible
        draw->AddLine(a, b, ToColor(w < 0 ? kNegative : kPositive, 0.08f + 0.8f * strength), 0.5f + 2.5f * strength);
      }
  }
  draw->Flags = flags;

  // Neurons, column titles, and the tooltip of the neuron under the mouse.
  const ImVec2 mouse = ImGui::GetIO().MousePos;
  for (size_t c = 0; c < columns.size(); ++c) {
    const Column& column = columns[c];
    const bool is_output = c + 1 == columns.size();
    const bool highlighted = options.highlight_layer >= 0 && (options.highlight_layer == static_cast<int>(column.layer) ||
                                                              options.highlight_layer == column.activation_layer);
    const float r = radius[c];
    const float x = centres[c].empty() ? 0 : centres[c][0].x;
    if (highlighted)
      draw->AddRect(ImVec2(x - r - 4, top - 4), ImVec2(x + r + 4, bottom + 2), kAccent, 4.0f, 0, 1.5f);
    if (options.clicked_layer && hovered && ImGui::IsMouseClicked(ImGuiMouseButton_Left) && mouse.x >= x - r - 4 &&
        mouse.x <= x + r + 4 && mouse.y >= top - 4 && mouse.y <= bottom + 2)
      *options.clicked_layer = static_cast<int>(column.layer);
    for (const auto& [text, y, colour] : {std::tuple{column.title, origin.y + 2, kText},
                                           std::tuple{column.subtitle, origin.y + 2 + line, kDimText}}) {
      float width = ImGui::CalcTextSize(text.c_str()).x;
      draw->AddText(ImVec2(std::clamp(x - width / 2, origin.x, origin.x + size.x - width), y), colour, text.c_str());
    }
    for (uint32_t u = 0; u < column.units; ++u) {
      const ImVec2 p = centres[c][u];
      const ImVec2 min(p.x - r, p.y - r), max(p.x + r, p.y + r);
      NeuronMap map = MapFor(model, snapshot, column, u, is_output);
      if (map.valid() && r >= 4) {
        int cells = std::min(node_cells, static_cast<int>(2 * r));
        if (map.resolution) cells = std::min<int>(cells, map.resolution);
        DrawMap(draw, min, max, map, cells);
        draw->AddRect(min, max, kOutline);
      } else {
        draw->AddCircleFilled(p, r, IM_COL32(200, 200, 205, 255));
        draw->AddCircle(p, r, kOutline);
      }
      if (hovered && std::abs(mouse.x - p.x) <= r + 2 && std::abs(mouse.y - p.y) <= std::max(r + 2, 4.0f)) {
        draw->AddRect(ImVec2(min.x - 2, min.y - 2), ImVec2(max.x + 2, max.y + 2), kAccent);
        NeuronTooltip(model, column, u, map);
      }
    }
  }
}

// ---- Block view --------------------------------------------------------------

ImU32 BoxColor(nn::LayerKind kind) {
  switch (kind) {
    case nn::LayerKind::kInput: return IM_COL32(70, 88, 118, 235);
    case nn::LayerKind::kFlatten: return IM_COL32(88, 88, 92, 235);
    case nn::LayerKind::kDense: return IM_COL32(42, 92, 155, 235);
    case nn::LayerKind::kActivation: return IM_COL32(48, 118, 78, 235);
    case nn::LayerKind::kLoss: return IM_COL32(140, 58, 58, 235);
    case nn::LayerKind::kConv2D: return IM_COL32(120, 84, 160, 235);
    case nn::LayerKind::kPool2D:
    case nn::LayerKind::kGlobalAvgPool: return IM_COL32(150, 110, 50, 235);
    case nn::LayerKind::kDropout: return IM_COL32(96, 96, 110, 235);
    case nn::LayerKind::kBatchNorm: return IM_COL32(40, 120, 128, 235);
    case nn::LayerKind::kEmbedding: return IM_COL32(168, 96, 40, 235);
    case nn::LayerKind::kLayerNorm: return IM_COL32(46, 140, 112, 235);
    case nn::LayerKind::kTransformerBlock: return IM_COL32(150, 62, 120, 235);
  }
  return IM_COL32(88, 88, 92, 235);
}

std::string LayerSummary(const nn::LayerDesc& layer) {
  switch (layer.kind) {
    case nn::LayerKind::kInput: return "input " + nn::ShapeString(layer.shape);
    case nn::LayerKind::kDense:
      return "dense " + std::to_string(layer.units) + (layer.tied ? ", tied" : "") + (layer.bias ? "" : ", no bias");
    case nn::LayerKind::kEmbedding:
      return "embedding " + std::to_string(layer.vocab) + " -> " + std::to_string(layer.units);
    case nn::LayerKind::kTransformerBlock: {
      std::string text = "block " + std::to_string(layer.heads) + " heads, mlp x" + std::to_string(layer.mlp_ratio);
      if (layer.attention != nn::AttentionChoice::kAuto)
        text += layer.attention == nn::AttentionChoice::kFused ? ", fused" : ", plain";
      return text;
    }
    case nn::LayerKind::kLayerNorm: return "layer norm";
    case nn::LayerKind::kConv2D: {
      std::string text = "conv " + std::to_string(layer.filters) + " " + std::to_string(layer.kernel[0]) + "x" +
                         std::to_string(layer.kernel[1]);
      if (layer.stride[0] != 1 || layer.stride[1] != 1) text += " /" + std::to_string(layer.stride[0]);
      if (layer.padding == nn::PaddingMode::kSame) text += " same";
      return text;
    }
    case nn::LayerKind::kPool2D:
      return std::string(layer.pool == kernels::PoolKind::kMax ? "max pool " : "avg pool ") +
             std::to_string(layer.kernel[0]) + "x" + std::to_string(layer.kernel[1]);
    case nn::LayerKind::kDropout: {
      char text[32];
      std::snprintf(text, sizeof text, "dropout %.2g", layer.rate);
      return text;
    }
    default: return layer.TypeName();
  }
}

void Arrow(ImDrawList* draw, std::initializer_list<ImVec2> points, ImU32 colour) {
  std::vector<ImVec2> path(points);
  draw->AddPolyline(path.data(), static_cast<int>(path.size()), colour, 0, 1.5f);
  ImVec2 tip = path.back(), from = path[path.size() - 2];
  float dx = tip.x - from.x, dy = tip.y - from.y, length = std::sqrt(dx * dx + dy * dy);
  if (length <= 0) return;
  dx /= length, dy /= length;
  const float s = 6;
  draw->AddTriangleFilled(tip, ImVec2(tip.x - dx * s - dy * s * 0.6f, tip.y - dy * s + dx * s * 0.6f),
                          ImVec2(tip.x - dx * s + dy * s * 0.6f, tip.y - dy * s - dx * s * 0.6f), colour);
}

void DrawBlockView(const nn::ModelDesc& model, float width, const NetworkDiagramOptions& options) {
  std::vector<nn::LayerShape> shapes;
  std::string shape_error;
  try {
    shapes = nn::InferShapes(model);
  } catch (const Error& e) {
    shape_error = e.what();  // still draw the boxes, without shapes
  }
  const float line = ImGui::GetTextLineHeight();
  const float box_w = 150, box_h = 3 * line + 10, gap_x = 30, gap_y = 28, pad = 8;
  const int per_row = std::max(1, static_cast<int>((width - 2 * pad + gap_x) / (box_w + gap_x)));
  const int count = static_cast<int>(model.layers.size());
  const int rows = (count + per_row - 1) / per_row;
  const ImVec2 origin = ImGui::GetCursorScreenPos();
  auto box_min = [&](int i) {
    return ImVec2(origin.x + pad + (i % per_row) * (box_w + gap_x), origin.y + pad + (i / per_row) * (box_h + gap_y));
  };
  ImDrawList* draw = ImGui::GetWindowDrawList();
  const ImU32 arrow = IM_COL32(200, 200, 200, 200);
  for (int i = 0; i + 1 < count; ++i) {
    ImVec2 a = box_min(i), b = box_min(i + 1);
    if ((i + 1) % per_row != 0) {
      Arrow(draw, {ImVec2(a.x + box_w, a.y + box_h / 2), ImVec2(b.x, b.y + box_h / 2)}, arrow);
    } else {  // wrap to the next row: down, back left, down into the box
      float mid_y = a.y + box_h + gap_y / 2;
      Arrow(draw, {ImVec2(a.x + box_w / 2, a.y + box_h), ImVec2(a.x + box_w / 2, mid_y), ImVec2(b.x + box_w / 2, mid_y),
                   ImVec2(b.x + box_w / 2, b.y)},
            arrow);
    }
  }
  const bool window_hovered = ImGui::IsWindowHovered();
  const ImVec2 mouse = ImGui::GetIO().MousePos;
  for (int i = 0; i < count; ++i) {
    const nn::LayerDesc& layer = model.layers[i];
    ImVec2 min = box_min(i), max(min.x + box_w, min.y + box_h);
    draw->AddRectFilled(min, max, BoxColor(layer.kind), 5.0f);
    const bool highlighted = options.highlight_layer == i;
    draw->AddRect(min, max, highlighted ? kAccent : kOutline, 5.0f, 0, highlighted ? 2.0f : 1.0f);
    if (options.clicked_layer && window_hovered && ImGui::IsMouseClicked(ImGuiMouseButton_Left) && mouse.x >= min.x &&
        mouse.x <= max.x && mouse.y >= min.y && mouse.y <= max.y)
      *options.clicked_layer = i;
    std::string output = i < static_cast<int>(shapes.size()) ? nn::ShapeString(shapes[i].output) : "?";
    std::string third = "-> " + output;
    if (i < static_cast<int>(shapes.size()) && shapes[i].parameters)
      third += "  " + FormatCount(static_cast<double>(shapes[i].parameters), 1) + " params";
    draw->PushClipRect(min, max, true);
    draw->AddText(ImVec2(min.x + 6, min.y + 4), kText, layer.name.c_str());
    draw->AddText(ImVec2(min.x + 6, min.y + 4 + line), kText, LayerSummary(layer).c_str());
    draw->AddText(ImVec2(min.x + 6, min.y + 4 + 2 * line), kDimText, third.c_str());
    draw->PopClipRect();
    if (window_hovered && mouse.x >= min.x && mouse.x < max.x && mouse.y >= min.y && mouse.y < max.y) {
      ImGui::BeginTooltip();
      ImGui::Text("layers[%d] %s: %s", i, layer.name.c_str(), LayerSummary(layer).c_str());
      if (i < static_cast<int>(shapes.size())) {
        ImGui::Text("output %s per sample", output.c_str());
        ImGui::Text("%s parameters, %s FLOPs per sample (forward)", FormatCount(double(shapes[i].parameters)).c_str(),
                    FormatCount(double(shapes[i].flops_per_sample)).c_str());
      }
      ImGui::EndTooltip();
    }
  }
  ImGui::Dummy(ImVec2(pad * 2 + std::min(count, per_row) * (box_w + gap_x) - gap_x, pad * 2 + rows * (box_h + gap_y) - gap_y));
  if (!shape_error.empty()) ImGui::TextColored(ImVec4(1.0f, 0.45f, 0.4f, 1.0f), "%s", shape_error.c_str());
}

}  // namespace

bool UsesNeuronView(const nn::ModelDesc& model, const NetworkDiagramOptions& options) {
  if (options.force_block_diagram || model.layers.empty()) return false;
  const nn::LayerDesc& input = model.layers[0];
  if (input.kind != nn::LayerKind::kInput || input.shape.size() != 1 || input.shape[0] > options.max_neuron_units)
    return false;
  if (nn::TokensPerSample(model) > 1) return false;  // a sequence model: its input is token ids, not features
  uint32_t dense_layers = 0;
  for (const nn::LayerDesc& layer : model.layers) {
    if (layer.kind == nn::LayerKind::kInput && &layer != &input) return false;
    if (layer.kind == nn::LayerKind::kEmbedding || layer.kind == nn::LayerKind::kTransformerBlock ||
        layer.kind == nn::LayerKind::kLayerNorm)
      return false;
    if (layer.kind != nn::LayerKind::kDense) continue;
    if (layer.units > options.max_neuron_units) return false;
    ++dense_layers;
  }
  return dense_layers >= 1 && dense_layers <= options.max_dense_layers;
}

std::optional<WeightView> FindWeights(const nn::Snapshot& snapshot, const std::string& name, uint32_t in, uint32_t out) {
  uint64_t packed = 0;  // the tensor's start in the unpadded parameter vector
  for (const nn::ParameterTensor& tensor : snapshot.layout) {
    if (tensor.name == name) {
      const uint64_t count = static_cast<uint64_t>(in) * out;
      if (tensor.shape != std::vector<uint32_t>{in, out} || tensor.count != count ||
          packed + count > snapshot.parameters.size())
        return std::nullopt;
      return WeightView{in, out, std::span<const float>(snapshot.parameters).subspan(packed, count)};
    }
    packed += tensor.count;
  }
  return std::nullopt;
}

const nn::Snapshot::HiddenLayer* FindHiddenLayer(const nn::Snapshot& snapshot, const std::string& name, uint32_t units) {
  const size_t cells = static_cast<size_t>(snapshot.boundary_resolution) * snapshot.boundary_resolution;
  for (const nn::Snapshot::HiddenLayer& hidden : snapshot.hidden)
    if (hidden.name == name && hidden.units == units && cells > 0 && hidden.activations.size() == cells * units)
      return &hidden;
  return nullptr;
}

void DrawNetworkDiagram(const nn::ModelDesc& model, const nn::Snapshot* snapshot, ImVec2 size,
                        const NetworkDiagramOptions& options) {
  if (size.x <= 0) size.x = std::max(ImGui::GetContentRegionAvail().x, 100.0f);
  if (size.y <= 0) size.y = 240;
  const bool neuron_view = UsesNeuronView(model, options);
  ImGui::BeginChild(options.id, size, false,
                    neuron_view ? ImGuiWindowFlags_NoScrollbar | ImGuiWindowFlags_NoScrollWithMouse
                                : ImGuiWindowFlags_HorizontalScrollbar);
  if (model.layers.empty()) {
    ImGui::TextDisabled("No layers.");
  } else if (neuron_view) {
    const ImVec2 origin = ImGui::GetCursorScreenPos();
    const ImVec2 area(std::max(ImGui::GetContentRegionAvail().x, 60.0f), std::max(ImGui::GetContentRegionAvail().y, 60.0f));
    // The invisible button reserves the area and tells whether the mouse is over it.
    ImGui::InvisibleButton("##neurons", area);
    DrawNeuronView(model, snapshot, origin, area, options, ImGui::IsItemHovered());
  } else {
    DrawBlockView(model, ImGui::GetContentRegionAvail().x, options);
  }
  ImGui::EndChild();
}

}  // namespace ts::ui
