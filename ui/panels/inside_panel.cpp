#include "ui/panels/inside_panel.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ui/controller.h"
#include "ui/test_hooks.h"
#include "ui/widgets/bar_chart.h"
#include "ui/widgets/drawing_canvas.h"
#include "ui/widgets/image_tile.h"
#include "ui/widgets/plot.h"
#include "ui/widgets/value_tiles.h"

namespace ts::ui {
namespace {

constexpr size_t kTopAnswers = 5;
constexpr uint32_t kDenseUnitsShown = 16;  // weight images of a dense first layer at a time (a page)
constexpr uint32_t kMostInputChannelsShown = 8;  // per conv filter
constexpr double kCanvasSendSeconds = 0.1;     // while a stroke is drawn
constexpr double kCanvasRefreshSeconds = 0.5;  // as training moves the network on

enum class Tab { kFilters, kFeatureMaps, kActivations, kPredict, kMistakes };

// UI-only state of the panel (the UI thread's own).
struct PanelUi {
  DrawingCanvas canvas;
  bool centre_like_mnist = true;
  uint64_t canvas_sent_version = UINT64_MAX;
  bool show_pre_activation = false;
  std::optional<Tab> select;  // a tab to bring forward next frame (a clicked mistake opens Predict)
  float lifted_from_y = -1;   // where the collapsed window sat before opening lifted it into view
  std::map<std::string, PlotState> plots;
};

PanelUi& Ui() {
  static PanelUi ui;
  return ui;
}

const nn::InsideSnapshot* InsideOf(const AppState& state) {
  return state.training.snapshot ? state.training.snapshot->inside.get() : nullptr;
}

std::string ClassName(const data::Dataset* dataset, uint32_t label) {
  return dataset && label < dataset->class_names.size() ? dataset->class_names[label] : std::to_string(label);
}

void HelpMarker(const char* text) {
  ImGui::SameLine();
  ImGui::TextDisabled("(?)");
  if (ImGui::IsItemHovered()) {
    ImGui::BeginTooltip();
    ImGui::PushTextWrapPos(ImGui::GetFontSize() * 32);
    ImGui::TextUnformatted(text);
    ImGui::PopTextWrapPos();
    ImGui::EndTooltip();
  }
}

// Class probabilities from a model's outputs: a single-output (sigmoid) model gives {1 - p, p}.
std::vector<float> Probabilities(std::span<const float> outputs) {
  if (outputs.size() == 1) return {1.0f - outputs[0], outputs[0]};
  return {outputs.begin(), outputs.end()};
}

// The k most probable classes, most probable first.
std::vector<std::pair<uint32_t, float>> TopAnswers(std::span<const float> outputs, size_t k) {
  std::vector<float> p = Probabilities(outputs);
  std::vector<std::pair<uint32_t, float>> ranked;
  for (uint32_t c = 0; c < p.size(); ++c) ranked.push_back({c, p[c]});
  const size_t kept = std::min(k, ranked.size());
  std::partial_sort(ranked.begin(), ranked.begin() + kept, ranked.end(),
                    [](const auto& a, const auto& b) { return a.second > b.second; });
  ranked.resize(kept);
  return ranked;
}

// The top answers as bars (percent); `truth` (if any) is drawn green or red.
void DrawTopAnswers(const char* id, std::span<const float> outputs, const data::Dataset* dataset,
                    std::optional<uint32_t> truth, float width) {
  const auto top = TopAnswers(outputs, kTopAnswers);
  std::vector<std::string> names;
  for (const auto& [label, p] : top) names.push_back(ClassName(dataset, label));
  std::vector<Bar> bars;
  for (size_t i = 0; i < top.size(); ++i) {
    ImU32 color = ClassColor(static_cast<int>(top[i].first));
    if (truth) color = top[i].first == *truth ? IM_COL32(90, 180, 110, 255) : IM_COL32(200, 90, 80, 255);
    bars.push_back({names[i].c_str(), 100.0 * top[i].second, nullptr, color});
  }
  BarChartOptions options;
  options.value_format = "%.1f";
  options.unit = "%";
  options.max_value = 100;
  options.width = width;
  BarChart(id, bars, options);
}

// ---- Sample picker (Feature maps and Predict share the sample) -------------------------------

// "test image", "test sample", "validation sample", ...: what the probe set holds.
std::string ProbeSetName(const AppState& state) {
  const auto& probe = state.inside.probe_data;
  const std::string kind = probe && IsImageDataset(*probe) ? "image" : "sample";
  if (probe && probe == state.test_data) return "test " + kind;
  if (probe && probe == state.training.validation_data) return "validation " + kind;
  return "training " + kind;
}

bool DrawSamplePicker(AppState& state) {
  const data::Dataset* set = state.inside.probe_data.get();
  if (!set || set->count() == 0) {
    ImGui::TextDisabled("Train first: these views probe the test set of a run.");
    return false;
  }
  const int last = static_cast<int>(set->count() - 1);
  int index = static_cast<int>(std::min<uint64_t>(state.inside.sample, last));
  ImGui::PushID("sample picker");
  if (ImGui::ArrowButton("previous", ImGuiDir_Left)) index = std::max(0, index - 1);
  ImGui::SameLine(0, 2);
  ImGui::SetNextItemWidth(std::min(260.0f, ImGui::GetContentRegionAvail().x * 0.5f));
  ImGui::SliderInt("##sample", &index, 0, last, (ProbeSetName(state) + " %d").c_str());
  RecordItemRect("inside_sample");
  ImGui::SameLine(0, 2);
  if (ImGui::ArrowButton("next", ImGuiDir_Right)) index = std::min(last, index + 1);
  ImGui::PopID();
  state.inside.sample = static_cast<uint64_t>(index);
  return true;
}

// "circle: predicted circle 97%" for the chosen sample, once the worker sent it.
void DrawSampleVerdict(const AppState& state, const nn::InsideSnapshot* inside) {
  const data::Dataset* set = state.inside.probe_data.get();
  if (!inside || inside->sample != state.inside.sample || inside->sample_outputs.empty()) {
    ImGui::TextDisabled("running it through the network...");
    return;
  }
  const auto top = TopAnswers(inside->sample_outputs, 1);
  const bool right = top[0].first == inside->sample_label;
  ImGui::Text("true: %s", ClassName(set, inside->sample_label).c_str());
  ImGui::SameLine();
  ImGui::TextColored(right ? ImVec4(0.45f, 0.8f, 0.5f, 1) : ImVec4(0.95f, 0.45f, 0.4f, 1), "predicted: %s %.0f%%",
                     ClassName(set, top[0].first).c_str(), 100 * top[0].second);
}

// ---- Filters ---------------------------------------------------------------------------------

const nn::ParameterTensor* FindTensor(const nn::Snapshot& snapshot, const std::string& name) {
  for (const nn::ParameterTensor& t : snapshot.layout)
    if (t.name == name) return &t;
  return nullptr;
}

std::string LayerOf(const nn::ParameterTensor& tensor) { return tensor.name.substr(0, tensor.name.rfind('.')); }

float LargestMagnitude(std::span<const float> values) {
  float largest = 0;
  for (float v : values)
    if (std::isfinite(v)) largest = std::max(largest, std::abs(v));
  return largest > 0 ? largest : 1.0f;
}

void DrawConvFilters(AppState& state, const nn::Snapshot& snapshot, const nn::ParameterTensor& weight) {
  const uint32_t kh = weight.shape[0], kw = weight.shape[1], in = weight.shape[2], filters = weight.shape[3];
  const std::span<const float> w(snapshot.parameters.data() + weight.offset, weight.count);  // (KH, KW, Cin, Cout)
  const nn::ParameterTensor* bias = FindTensor(snapshot, LayerOf(weight) + ".bias");
  const float range = LargestMagnitude(w);
  const bool rgb = in == 3;
  const uint32_t tiles_per_filter = rgb ? 1 : std::min(in, kMostInputChannelsShown);
  ImGui::Text("%s: %u filters of %u x %u x %u (KH x KW x Cin)", LayerOf(weight).c_str(), filters, kh, kw, in);
  HelpMarker(rgb ? "Each filter's three input channels as one RGB image: mid grey is 0, brighter is positive."
                 : "Blue is negative, orange positive, dark near 0; full colour at the largest |weight| of the "
                   "layer, so filters compare with each other. One tile per input channel.");
  ImGui::TextDisabled("full colour at |w| = %.3g; step %llu", range, static_cast<unsigned long long>(snapshot.global_step));
  if (!rgb && in > tiles_per_filter)
    ImGui::TextDisabled("the first %u of %u input channels per filter", tiles_per_filter, in);
  const float cell = std::clamp(std::floor(44.0f / float(std::max(kh, kw))), 3.0f, 16.0f);
  const ImVec2 tile(kw * cell, kh * cell);
  const ImVec2 block(tiles_per_filter * (tile.x + 2) - 2, tile.y);
  ImGui::BeginChild("filters", ImVec2(0, 0));
  ImDrawList* draw = ImGui::GetWindowDrawList();
  TileGrid grid(static_cast<int>(filters), block, ImGui::GetContentRegionAvail().x, ImVec2(8, 8));
  auto at = [&](uint32_t y, uint32_t x, uint32_t c, uint32_t f) { return w[((size_t(y) * kw + x) * in + c) * filters + f]; };
  for (uint32_t f = 0; f < filters; ++f) {
    if (!grid.Visible(static_cast<int>(f))) continue;
    const ImVec2 corner = grid.Corner(static_cast<int>(f));
    for (uint32_t t = 0; t < tiles_per_filter; ++t) {
      const ImVec2 tile_corner(corner.x + t * (tile.x + 2), corner.y);
      DrawValueTile(draw, tile_corner, kh, kw, cell, IM_COL32(0, 0, 0, 0), [&](uint32_t y, uint32_t x) -> ImU32 {
        if (!rgb) return QuantizedDivergingColor(at(y, x, t, f) / range);
        auto level = [&](uint32_t c) {
          return static_cast<int>(std::round(std::clamp(0.5f + 0.5f * at(y, x, c, f) / range, 0.0f, 1.0f) * 15) * 17);  // 3x3: no runs to merge
        };
        return IM_COL32(level(0), level(1), level(2), 255);
      });
    }
    ++state.inside.drawn.filters;
  }
  if (int f = grid.Hovered(); f >= 0) {
    ImGui::BeginTooltip();
    ImGui::Text("filter %d", f);
    if (bias) ImGui::Text("bias %.4g", snapshot.parameters[bias->offset + f]);
    if (kh * kw <= 49)
      for (uint32_t c = 0; c < std::min(in, 3u); ++c) {
        if (in > 1) ImGui::TextDisabled("input channel %u", c);
        for (uint32_t y = 0; y < kh; ++y) {
          std::string row;
          for (uint32_t x = 0; x < kw; ++x) {
            char value[16];
            std::snprintf(value, sizeof value, "%7.3f", at(y, x, c, static_cast<uint32_t>(f)));
            row += value;
          }
          ImGui::TextUnformatted(row.c_str());
        }
      }
    ImGui::EndTooltip();
  }
  grid.Finish();
  ImGui::EndChild();
}

// A dense layer that reads the image directly: each unit's weights form an image.
void DrawDenseWeightImages(AppState& state, const nn::Snapshot& snapshot, const nn::ParameterTensor& weight,
                           const std::vector<uint32_t>& image) {
  const uint32_t channels = image[0], height = image[1], width = image[2], units = weight.shape[1];
  const std::span<const float> w(snapshot.parameters.data() + weight.offset, weight.count);  // (in, units)
  const float range = LargestMagnitude(w);
  static int first_unit = 0;
  first_unit = std::clamp(first_unit, 0, static_cast<int>(units - 1));
  const uint32_t shown = std::min(units - first_unit, kDenseUnitsShown);
  ImGui::Text("%s: each unit's %u input weights as a %u x %u image", LayerOf(weight).c_str(), weight.shape[0], height,
              width);
  HelpMarker("The network has no convolution, but its first dense layer reads the image: a unit's weight for each "
             "pixel shows what it looks for. Blue negative, orange positive, full colour at the largest |weight|.");
  ImGui::TextDisabled("full colour at |w| = %.3g", range);
  if (units > kDenseUnitsShown) {
    // Noisy weight images cost a rectangle per pixel: a page of them at a time.
    ImGui::SameLine();
    ImGui::SetNextItemWidth(200);
    ImGui::SliderInt("first unit", &first_unit, 0, static_cast<int>(units - 1));
  }
  const float cell = std::max(1.0f, std::floor(56.0f / float(width)));
  ImGui::BeginChild("dense filters", ImVec2(0, 0));
  ImDrawList* draw = ImGui::GetWindowDrawList();
  TileGrid grid(static_cast<int>(shown), ImVec2(width * cell, height * cell), ImGui::GetContentRegionAvail().x,
                ImVec2(6, 6));
  for (uint32_t i = 0; i < shown; ++i) {
    if (!grid.Visible(static_cast<int>(i))) continue;
    const uint32_t u = first_unit + i;
    DrawValueTile(draw, grid.Corner(static_cast<int>(i)), height, width, cell, QuantizedDivergingColor(0),
                  [&](uint32_t y, uint32_t x) {
                    return QuantizedDivergingColor(w[((size_t(y) * width + x) * channels) * units + u] / range);
                  });
    ++state.inside.drawn.filters;
  }
  if (int i = grid.Hovered(); i >= 0) ImGui::SetTooltip("unit %d", first_unit + i);
  grid.Finish();
  ImGui::EndChild();
}

void DrawFiltersTab(AppState& state) {
  const nn::Snapshot* snapshot = state.training.snapshot.get();
  if (!snapshot || snapshot->layout.empty()) {
    ImGui::TextDisabled("Train a model to see its first layer's weights here, live.");
    return;
  }
  for (const nn::ParameterTensor& tensor : snapshot->layout)
    if (tensor.shape.size() == 4) return DrawConvFilters(state, *snapshot, tensor);
  const data::Dataset* probe = state.inside.probe_data.get();
  const nn::ParameterTensor& first = snapshot->layout.front();
  if (probe && IsImageDataset(*probe) && first.shape.size() == 2 && first.shape[0] == probe->feature_size())
    return DrawDenseWeightImages(state, *snapshot, first, probe->sample_shape);
  ImGui::TextWrapped("The first layer neither convolves nor reads an image, so its weights do not form pictures. "
                     "The Activations tab shows how every layer's outputs and gradients are spread.");
}

// ---- Feature maps ----------------------------------------------------------------------------

bool IsActivationType(const std::string& type) {
  return type == "relu" || type == "leaky_relu" || type == "sigmoid" || type == "tanh" || type == "gelu";
}

void DrawFeatureMapsTab(AppState& state) {
  PanelUi& ui = Ui();
  if (!DrawSamplePicker(state)) return;
  const nn::InsideSnapshot* inside = InsideOf(state);
  ImGui::SameLine();
  DrawSampleVerdict(state, inside);
  if (!inside) return;
  if (inside->feature_maps.empty()) {
    ImGui::TextWrapped("This network has no image-shaped layers (convolutions, pools), so there are no feature "
                       "maps. The Activations tab shows its layers.");
    return;
  }
  ImGui::Checkbox("convolutions before their activation", &ui.show_pre_activation);
  HelpMarker("Each tile is one channel of the layer's output for the chosen sample, scaled to that channel's own "
             "largest value (hover for numbers). Non-negative outputs (after ReLU, pooled): black to yellow. "
             "Signed outputs: blue negative, orange positive.");
  const data::Dataset* set = state.inside.probe_data.get();
  ImGui::BeginChild("maps", ImVec2(0, 0));
  ImDrawList* draw = ImGui::GetWindowDrawList();
  // The input itself first, as the network sees it.
  if (set && IsImageDataset(*set) && inside->sample < set->count()) {
    ImGui::TextUnformatted("input");
    const ImVec2 corner = ImGui::GetCursorScreenPos();
    ImVec2 size = DrawImageTile(draw, corner, *set, inside->sample, std::max(1.0f, std::floor(56.0f / set->sample_shape[2])));
    ImGui::Dummy(size);
  }
  for (size_t m = 0; m < inside->feature_maps.size(); ++m) {
    const nn::InsideSnapshot::FeatureMap& map = inside->feature_maps[m];
    const bool activation_follows = m + 1 < inside->feature_maps.size() &&
                                    inside->feature_maps[m + 1].layer == map.layer + 1 &&
                                    IsActivationType(inside->feature_maps[m + 1].type);
    if (map.type == "conv2d" && activation_follows && !ui.show_pre_activation) continue;
    const uint32_t c_count = map.channels, h = map.height, w = map.width;
    if (map.values.size() != size_t(h) * w * c_count) continue;
    // Per channel: the largest |value| (each channel scaled on its own) and the mean.
    std::vector<float> largest(c_count, 0.0f);
    std::vector<double> sums(c_count, 0.0);
    bool non_negative = true;
    for (size_t j = 0; j < map.values.size(); ++j) {
      const float v = map.values[j];
      largest[j % c_count] = std::max(largest[j % c_count], std::abs(v));
      sums[j % c_count] += v;
      non_negative &= v >= 0;
    }
    ImGui::Text("%s", map.name.c_str());
    ImGui::SameLine();
    ImGui::TextDisabled("%s, %u channels of %u x %u", map.type.c_str(), c_count, h, w);
    const float cell = std::clamp(std::round(52.0f / float(w)), 1.0f, 10.0f);
    TileGrid grid(static_cast<int>(c_count), ImVec2(w * cell, h * cell), ImGui::GetContentRegionAvail().x);
    const ImU32 background = non_negative ? HeatColor(0) : QuantizedDivergingColor(0);
    for (uint32_t c = 0; c < c_count; ++c) {
      if (!grid.Visible(static_cast<int>(c))) continue;
      const float scale = largest[c] > 0 ? 1.0f / largest[c] : 0.0f;
      DrawValueTile(draw, grid.Corner(static_cast<int>(c)), h, w, cell, background, [&](uint32_t y, uint32_t x) {
        const float v = map.values[(size_t(y) * w + x) * c_count + c] * scale;
        return non_negative ? HeatColor(v) : QuantizedDivergingColor(v);
      });
      ++state.inside.drawn.feature_tiles;
    }
    if (int c = grid.Hovered(); c >= 0)
      ImGui::SetTooltip("%s channel %d\nlargest |value| %.4g, mean %.4g", map.name.c_str(), c, largest[c],
                        sums[c] / (double(h) * w));
    grid.Finish();
    ImGui::Spacing();
  }
  ImGui::EndChild();
}

// ---- Activations -----------------------------------------------------------------------------

// A histogram as a step outline for the plot widget: x = bin edges, y = share of all values (%).
struct HistogramLine {
  std::vector<double> x, y;
};

HistogramLine Outline(const nn::Histogram& h) {
  HistogramLine line;
  if (h.counts.empty() || h.total == 0) return line;
  const double width = (double(h.max) - h.min) / h.counts.size();
  line.x.push_back(h.min);
  line.y.push_back(0);
  for (size_t b = 0; b < h.counts.size(); ++b) {
    const double share = 100.0 * h.counts[b] / double(h.total);
    line.x.push_back(h.min + b * width);
    line.y.push_back(share);
    line.x.push_back(h.min + (b + 1) * width);
    line.y.push_back(share);
  }
  line.x.push_back(h.max);
  line.y.push_back(0);
  return line;
}

void DrawHistogram(const char* id, const nn::Histogram& h, ImU32 color, ImVec2 size) {
  PanelUi& ui = Ui();
  const ImVec2 corner = ImGui::GetCursorScreenPos();
  if (!ImGui::IsRectVisible(corner, ImVec2(corner.x + size.x, corner.y + size.y))) {
    ImGui::Dummy(size);  // scrolled out of view: nothing to draw
    return;
  }
  if (h.counts.empty()) {
    ImGui::Dummy(ImVec2(size.x, 4));
    ImGui::TextDisabled(h.total ? "all %llu values are 0" : "no values", static_cast<unsigned long long>(h.total));
    ImGui::Dummy(ImVec2(size.x, std::max(0.0f, size.y - ImGui::GetTextLineHeightWithSpacing() - 8)));
    return;
  }
  const HistogramLine line = Outline(h);
  PlotOptions options;
  options.size = size;
  options.show_legend = false;
  options.y_fit_min = 0;
  PlotSeries series{"share of values (%)", line.x, line.y, color, 1.0f};
  Plot(id, ui.plots[id], options, std::span(&series, 1));
}

void DrawActivationsTab(AppState& state) {
  const nn::InsideSnapshot* inside = InsideOf(state);
  if (!inside) {
    ImGui::TextDisabled(state.inside.probe_data ? "Waiting for the first probe pass..."
                                                : "Train a model to see its layers' activations and gradients.");
    return;
  }
  ImGui::Text("Probe batch: the first %u %ss, evaluation mode; step %llu", inside->probe_batch,
              ProbeSetName(state).c_str(), static_cast<unsigned long long>(inside->global_step));
  HelpMarker("Left: each layer's outputs over the probe batch. Right: the gradient of the loss with respect to the "
             "layer's weights (dL/dW) from the last training step's batch. Exact zeros are counted apart (a ReLU "
             "makes many) and the curves show the share of all values in each bin. Updated about once a second "
             "while training.");
  static const char* kDeadHelp =
      "Dead: the share of this ReLU's units that output exactly 0 for every sample of the probe batch. "
      "A unit is a neuron of a dense layer, or a channel (filter) of a convolution, zero at every position. "
      "Dead units pass no gradient, so they rarely come back.";
  std::vector<std::string> labels, details;
  std::vector<const nn::InsideSnapshot::LayerStatistics*> relus;
  for (const auto& layer : inside->layers)
    if (layer.relu) relus.push_back(&layer);
  if (!relus.empty()) {
    ImGui::TextUnformatted("Dead ReLU units");
    HelpMarker(kDeadHelp);
    for (const auto* layer : relus) {
      labels.push_back(layer->name);
      details.push_back(std::to_string(layer->dead_units) + " of " + std::to_string(layer->units) +
                        (layer->shape.size() == 3 ? " channels" : " units"));
    }
    std::vector<Bar> bars;
    for (size_t i = 0; i < relus.size(); ++i) {
      const double share = relus[i]->units ? 100.0 * relus[i]->dead_units / relus[i]->units : 0.0;
      const ImU32 color = share > 50 ? IM_COL32(220, 90, 80, 255) : share > 10 ? IM_COL32(230, 170, 70, 255)
                                                                                : IM_COL32(90, 170, 110, 255);
      bars.push_back({labels[i].c_str(), share, details[i].c_str(), color, kDeadHelp});
    }
    BarChartOptions options;
    options.value_format = "%.0f";
    options.unit = "%";
    options.max_value = 100;
    options.width = std::min(520.0f, ImGui::GetContentRegionAvail().x);
    BarChart("dead relu", bars, options);
    RecordItemRect("inside_dead_relu");
  }
  ImGui::Spacing();
  ImGui::BeginChild("histograms", ImVec2(0, 0));
  const ImGuiTableFlags flags = ImGuiTableFlags_BordersInnerH | ImGuiTableFlags_SizingStretchProp;
  if (ImGui::BeginTable("layers", 3, flags)) {
    ImGui::TableSetupColumn("layer", ImGuiTableColumnFlags_WidthFixed, 170);
    ImGui::TableSetupColumn("outputs over the probe batch");
    ImGui::TableSetupColumn("dL/dW, last training step");
    ImGui::TableSetupScrollFreeze(0, 1);
    ImGui::TableHeadersRow();
    const float plot_height = 96;
    for (const auto& layer : inside->layers) {
      ImGui::TableNextRow();
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(layer.name.c_str());
      ImGui::TextDisabled("%s %s", layer.type.c_str(), nn::ShapeString(layer.shape).c_str());
      const nn::Histogram& a = layer.activations;
      ImGui::TextDisabled("mean %.3g  std %.3g", a.mean, a.std);
      if (a.total) ImGui::TextDisabled("zeros %.0f%%", 100.0 * a.zeros / double(a.total));
      if (layer.relu) ImGui::TextDisabled("dead %u / %u", layer.dead_units, layer.units);
      ImGui::TableNextColumn();
      DrawHistogram((layer.name + " outputs").c_str(), a, ClassColor(0),
                    ImVec2(ImGui::GetContentRegionAvail().x, plot_height));
      ++state.inside.drawn.histograms;
      ImGui::TableNextColumn();
      if (layer.gradient_of.empty()) {
        ImGui::TextDisabled("no weights");
      } else {
        DrawHistogram((layer.gradient_of + " gradient").c_str(), layer.weight_gradients, ClassColor(1),
                      ImVec2(ImGui::GetContentRegionAvail().x, plot_height));
        ++state.inside.drawn.histograms;
      }
    }
    ImGui::EndTable();
  }
  ImGui::EndChild();
}

// ---- Predict ---------------------------------------------------------------------------------

bool CanvasFits(const data::Dataset* probe) {
  return probe && IsImageDataset(*probe) && probe->sample_shape[0] == 1 && probe->format == data::FeatureFormat::kUint8 &&
         probe->sample_shape[1] >= 8 && probe->sample_shape[2] >= 8;
}

void DrawCanvasColumn(AppState& state) {
  PanelUi& ui = Ui();
  InsideView& inside = state.inside;
  const data::Dataset* probe = inside.probe_data.get();
  ImGui::TextUnformatted("Draw");
  if (!CanvasFits(probe)) {
    ImGui::TextWrapped("The canvas needs a trained model whose input is one grey image channel (1 x H x W, e.g. "
                       "MNIST's 1 x 28 x 28)%s.", probe ? "" : ": train one first");
    return;
  }
  HelpMarker("Draw with the left mouse button. The drawing becomes an input the way MNIST digits were made: the "
             "ink's bounding box scaled to fit 20 x 20 pixels (aspect kept, anti-aliased), then placed so its "
             "centre of mass is at the image's centre; then normalised with the dataset's own scale and offset.");
  const uint32_t height = probe->sample_shape[1], width = probe->sample_shape[2];
  const float size = std::clamp(ImGui::GetContentRegionAvail().x * 0.55f, 140.0f, 252.0f);
  DrawingCanvasWidget("canvas", ui.canvas, size);
  RecordItemRect("canvas");
  ImGui::SameLine();
  ImGui::BeginGroup();
  const bool cleared = ImGui::Button("Clear");
  RecordItemRect("canvas_clear");
  if (cleared) {
    ui.canvas.Clear();
    inside.canvas_prediction.reset();
    inside.canvas_input.clear();
    inside.canvas_first_answer = inside.canvas_request + 1;  // answers still on their way are stale
  }
  bool centring_changed = ImGui::Checkbox("centre", &ui.centre_like_mnist);
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("Fit to a 20 x 20 box and centre by mass, as MNIST digits are.");
  if (!inside.canvas_input.empty()) {
    ImGui::TextDisabled("network input");
    const ImVec2 corner = ImGui::GetCursorScreenPos();
    const float cell = std::max(1.0f, std::floor(84.0f / width));
    DrawValueTile(ImGui::GetWindowDrawList(), corner, height, width, cell, IM_COL32(0, 0, 0, 255),
                  [&](uint32_t y, uint32_t x) { return GreyColor(inside.canvas_input[size_t(y) * width + x] / 255.0f); });
    ImGui::GetWindowDrawList()->AddRect(corner, ImVec2(corner.x + width * cell, corner.y + height * cell),
                                        ImGui::GetColorU32(ImGuiCol_Border));
    ImGui::Dummy(ImVec2(width * cell, height * cell));
  }
  ImGui::EndGroup();

  // Send the drawing while it changes (a few times a second during a stroke), and again as training moves on.
  const double now = ImGui::GetTime();
  const bool drawing = ui.canvas.stroke_end.has_value();
  const bool changed = ui.canvas.version != ui.canvas_sent_version || centring_changed;
  const uint64_t step = state.training.snapshot ? state.training.snapshot->global_step : 0;
  const bool network_moved = step != inside.canvas_sent_step && now - inside.canvas_sent_at > kCanvasRefreshSeconds;
  if (!ui.canvas.empty() && state.training.state != nn::SessionState::kEmpty &&
      ((changed && (!drawing || now - inside.canvas_sent_at > kCanvasSendSeconds)) ||
       (network_moved && !inside.canvas_input.empty()))) {
    PredictCanvas(state, CanvasToImage(ui.canvas, height, width, ui.centre_like_mnist), now);
    ui.canvas_sent_version = ui.canvas.version;
  }
  if (ui.canvas.empty()) {
    ImGui::TextDisabled("Draw a digit or a shape above.");
  } else if (const auto& answer = inside.canvas_prediction) {
    if (!answer->error.empty())
      ImGui::TextColored(ImVec4(1, 0.5f, 0.4f, 1), "%s", answer->error.c_str());
    else {
      ImGui::TextDisabled("the network's answer (step %llu)", static_cast<unsigned long long>(answer->global_step));
      DrawTopAnswers("canvas answers", answer->outputs, probe, std::nullopt, ImGui::GetContentRegionAvail().x);
      RecordItemRect("canvas_answers");
      ++inside.drawn.bars;
    }
  }
}

void DrawChosenSampleColumn(AppState& state) {
  const nn::InsideSnapshot* inside = InsideOf(state);
  ImGui::TextUnformatted("Pick a sample");
  if (!DrawSamplePicker(state)) return;
  const data::Dataset* set = state.inside.probe_data.get();
  const uint64_t index = state.inside.sample;
  if (set && IsImageDataset(*set) && index < set->count()) {
    const ImVec2 corner = ImGui::GetCursorScreenPos();
    const ImVec2 size = DrawImageTile(ImGui::GetWindowDrawList(), corner, *set, index,
                                       std::max(1.0f, std::floor(112.0f / set->sample_shape[2])));
    ImGui::Dummy(size);
  } else if (set && index < set->count()) {
    std::string features;
    for (size_t j = 0; j < std::min<size_t>(set->feature_size(), 8); ++j) {
      char value[24];
      std::snprintf(value, sizeof value, "%s%.3g", j ? ", " : "", set->normalized(index, j));
      features += value;
    }
    ImGui::TextWrapped("features (%s%s)", features.c_str(), set->feature_size() > 8 ? ", ..." : "");
  }
  DrawSampleVerdict(state, inside);
  if (inside && inside->sample == index && !inside->sample_outputs.empty()) {
    DrawTopAnswers("sample answers", inside->sample_outputs, set, inside->sample_label,
                   ImGui::GetContentRegionAvail().x);
    ++state.inside.drawn.bars;
  }
}

void DrawPredictTab(AppState& state) {
  if (ImGui::BeginTable("predict", 2, ImGuiTableFlags_BordersInnerV | ImGuiTableFlags_SizingStretchSame)) {
    ImGui::TableNextColumn();
    DrawCanvasColumn(state);
    ImGui::TableNextColumn();
    DrawChosenSampleColumn(state);
    ImGui::EndTable();
  }
}

// ---- Mistakes --------------------------------------------------------------------------------

// The confusion matrix with each class's accuracy beside its row.
void DrawConfusionWithAccuracy(const nn::EvalResult& result, const data::Dataset* dataset, const char* title) {
  ImGui::TextUnformatted(title);
  ImGui::TextDisabled("rows: true class, columns: predicted");
  const uint32_t n = result.classes;
  if (n == 0 || result.confusion.size() != size_t(n) * n) return;
  const bool matrix = n <= 20;  // beyond that only the accuracy column stays readable
  uint64_t largest = 1;
  for (uint64_t v : result.confusion) largest = std::max(largest, v);
  const int columns = (matrix ? static_cast<int>(n) : 0) + 3;
  if (!ImGui::BeginTable("confusion", columns, ImGuiTableFlags_Borders | ImGuiTableFlags_SizingFixedFit)) return;
  ImGui::TableSetupColumn("class");
  if (matrix)
    for (uint32_t c = 0; c < n; ++c) ImGui::TableSetupColumn(std::to_string(c).c_str());
  ImGui::TableSetupColumn("right");
  ImGui::TableSetupColumn("accuracy", ImGuiTableColumnFlags_WidthFixed, 90);
  ImGui::TableHeadersRow();
  for (uint32_t t = 0; t < n; ++t) {
    ImGui::TableNextRow();
    ImGui::TableNextColumn();
    ImGui::Text("%u %s", t, dataset && t < dataset->class_names.size() ? dataset->class_names[t].c_str() : "");
    uint64_t row_total = 0;
    for (uint32_t p = 0; p < n; ++p) row_total += result.confusion[size_t(t) * n + p];
    if (matrix)
      for (uint32_t p = 0; p < n; ++p) {
        ImGui::TableNextColumn();
        const uint64_t v = result.confusion[size_t(t) * n + p];
        const float share = float(v) / float(largest);
        const ImU32 colour = t == p ? IM_COL32(60, 140, 90, static_cast<int>(40 + 200 * share))
                                    : IM_COL32(190, 70, 60, static_cast<int>(v ? 40 + 200 * share : 0));
        ImGui::TableSetBgColor(ImGuiTableBgTarget_CellBg, colour);
        ImGui::Text("%llu", static_cast<unsigned long long>(v));
      }
    const uint64_t right = result.confusion[size_t(t) * n + t];
    ImGui::TableNextColumn();
    ImGui::Text("%llu/%llu", static_cast<unsigned long long>(right), static_cast<unsigned long long>(row_total));
    ImGui::TableNextColumn();
    const float accuracy = row_total ? float(right) / float(row_total) : 0.0f;
    char text[16];
    std::snprintf(text, sizeof text, row_total ? "%.0f%%" : "-", 100 * accuracy);
    ImGui::PushStyleColor(ImGuiCol_PlotHistogram, accuracy >= 0.9f   ? IM_COL32(70, 150, 95, 255)
                                                  : accuracy >= 0.6f ? IM_COL32(200, 150, 60, 255)
                                                                     : IM_COL32(190, 75, 65, 255));
    ImGui::ProgressBar(accuracy, ImVec2(-1, 0), text);
    ImGui::PopStyleColor();
  }
  ImGui::EndTable();
  RecordItemRect("inside_confusion");
}

void DrawMistakeGallery(AppState& state) {
  InsideView& inside = state.inside;
  const data::Dataset* test = state.test_data.get();
  const bool images = test && IsImageDataset(*test);
  ImGui::TextUnformatted(images ? "Most confidently wrong test images" : "Most confidently wrong test samples");
  HelpMarker("After every epoch the whole test set is evaluated; these are the images the network got wrong while "
             "most sure of its answer, most confident first (thumbnails at half resolution). Click one to look at it "
             "in Predict and Feature maps.");
  if (!state.training.last_test) {  // also after Reset, which clears the results
    ImGui::TextDisabled("They appear after the first epoch.");
    return;
  }
  if (inside.test_mistakes.empty()) {
    ImGui::TextDisabled("No mistakes on the test set.");
    return;
  }
  if (!images) {
    for (const nn::SamplePrediction& m : inside.test_mistakes) {
      char row[160];
      std::snprintf(row, sizeof row, "#%llu  true %s, predicted %s (%.0f%%)", static_cast<unsigned long long>(m.index),
                    ClassName(test, m.label).c_str(), ClassName(test, m.predicted).c_str(), 100 * m.confidence);
      if (ImGui::Selectable(row) && inside.probe_data == state.test_data) {
        inside.sample = m.index;
        Ui().select = Tab::kPredict;
      }
      ++inside.drawn.mistakes;
    }
    return;
  }
  const uint32_t height = test->sample_shape[1], width = test->sample_shape[2];
  const float cell = std::max(1.0f, std::floor(56.0f / width));
  const float text = ImGui::GetTextLineHeight();
  const ImVec2 tile(std::max(width * cell, 100.0f), height * cell + 2 * text + 4);
  ImGui::BeginChild("gallery", ImVec2(0, 0));
  ImDrawList* draw = ImGui::GetWindowDrawList();
  const int count = static_cast<int>(inside.test_mistakes.size());
  TileGrid grid(count, tile, ImGui::GetContentRegionAvail().x, ImVec2(6, 8));
  for (int i = 0; i < count; ++i) {
    if (!grid.Visible(i)) continue;
    const nn::SamplePrediction& m = inside.test_mistakes[i];
    const ImVec2 corner = grid.Corner(i);
    // Half resolution: sixteen noisy thumbnails at full resolution cost ~8000 rectangles a frame.
    const ImVec2 size = DrawImageTile(draw, corner, *test, m.index, cell, width >= 24 ? 2 : 1);
    draw->AddRect(corner, ImVec2(corner.x + size.x, corner.y + size.y), IM_COL32(240, 110, 100, 255), 0, 0, 2);
    char answer[64];
    std::snprintf(answer, sizeof answer, "%.0f%% %s", 100 * m.confidence, ClassName(test, m.predicted).c_str());
    draw->PushClipRect(corner, ImVec2(corner.x + tile.x, corner.y + tile.y), true);
    draw->AddText(ImVec2(corner.x, corner.y + size.y + 2), IM_COL32(240, 110, 100, 255), answer);
    draw->AddText(ImVec2(corner.x, corner.y + size.y + 2 + text), ImGui::GetColorU32(ImGuiCol_TextDisabled),
                  ("true: " + ClassName(test, m.label)).c_str());
    draw->PopClipRect();
    ++inside.drawn.mistakes;
  }
  if (int i = grid.Hovered(); i >= 0) {
    const nn::SamplePrediction& m = inside.test_mistakes[i];
    ImGui::SetTooltip("test image %llu: true %s, predicted %s with %.1f%%\nclick to look inside",
                      static_cast<unsigned long long>(m.index), ClassName(test, m.label).c_str(),
                      ClassName(test, m.predicted).c_str(), 100 * m.confidence);
    if (ImGui::IsMouseClicked(ImGuiMouseButton_Left) && inside.probe_data == state.test_data) {
      inside.sample = m.index;
      Ui().select = Tab::kPredict;
    }
  }
  grid.Finish();
  ImGui::EndChild();
}

void DrawMistakesTab(AppState& state) {
  const TrainingView& view = state.training;
  const float left = std::min(ImGui::GetContentRegionAvail().x * 0.5f, 560.0f);
  ImGui::BeginChild("confusion side", ImVec2(left, 0), false, ImGuiWindowFlags_HorizontalScrollbar);
  if (view.last_test)
    DrawConfusionWithAccuracy(*view.last_test, state.test_data.get(), "Test set");
  else if (view.last_epoch && view.last_epoch->validation)
    DrawConfusionWithAccuracy(*view.last_epoch->validation, state.train_data.get(), "Validation set");
  else
    ImGui::TextDisabled("The confusion matrix and per-class accuracy appear after the first epoch.");
  ImGui::EndChild();
  ImGui::SameLine();
  ImGui::BeginChild("gallery side", ImVec2(0, 0));
  DrawMistakeGallery(state);
  ImGui::EndChild();
}

// ---- The window ------------------------------------------------------------------------------

struct TabInfo {
  Tab tab;
  const char* label;
  const char* rect;  // test-hook name
  void (*draw)(AppState&);
};

constexpr TabInfo kTabs[] = {
    {Tab::kFilters, "Filters", "inside_tab_filters", DrawFiltersTab},
    {Tab::kFeatureMaps, "Feature maps", "inside_tab_maps", DrawFeatureMapsTab},
    {Tab::kActivations, "Activations", "inside_tab_activations", DrawActivationsTab},
    {Tab::kPredict, "Predict", "inside_tab_predict", DrawPredictTab},
    {Tab::kMistakes, "Mistakes", "inside_tab_mistakes", DrawMistakesTab},
};

// Opening the window from its collapsed bar at the bottom lifts it so that it
// fits the display; collapsing it again puts it back where it was.
void KeepInView(bool collapsed) {
  PanelUi& ui = Ui();
  const ImVec2 display = ImGui::GetIO().DisplaySize;
  const ImVec2 pos = ImGui::GetWindowPos(), size = ImGui::GetWindowSize();
  if (!collapsed && pos.y + size.y > display.y + 1) {
    ui.lifted_from_y = pos.y;
    ImGui::SetWindowPos(ImVec2(pos.x, std::max(0.0f, display.y - size.y)));
  } else if (collapsed && ui.lifted_from_y >= 0) {
    ImGui::SetWindowPos(ImVec2(pos.x, ui.lifted_from_y));
    ui.lifted_from_y = -1;
  }
}

}  // namespace

void DrawInsidePanel(AppState& state) {
  PanelUi& ui = Ui();
  InsideView& inside = state.inside;
  inside.drawn = {};
  // Opaque: opened, it lies over the Training and GPU windows.
  ImGui::SetNextWindowBgAlpha(1.0f);
  const bool expanded = ImGui::Begin("Inside the network: filters, feature maps, activations, predictions###Inside");
  RecordItemRect("inside_title");  // after Begin, the last item is the title bar
  const bool collapsed = ImGui::IsWindowCollapsed();
  KeepInView(collapsed);
  inside.open = !collapsed;
  if (expanded && ImGui::BeginTabBar("inside tabs")) {
    const std::optional<Tab> select = ui.select;  // a tab may ask for another while it draws: next frame
    ui.select.reset();
    for (const TabInfo& info : kTabs) {
      const ImGuiTabItemFlags flags = select == info.tab ? ImGuiTabItemFlags_SetSelected : 0;
      const bool selected = ImGui::BeginTabItem(info.label, nullptr, flags);
      RecordItemRect(info.rect);
      if (!selected) continue;
      inside.drawn.tab = info.label;
      info.draw(state);
      ImGui::EndTabItem();
    }
    ImGui::EndTabBar();
  }
  ImGui::End();
  // Each tab asks the worker only for the probe pass it shows; Filters and
  // Mistakes need none (parameters come with every snapshot, mistakes with every epoch).
  nn::InsideRequest request;
  request.sample = inside.sample;
  request.sample_pass = inside.drawn.tab == "Feature maps" || inside.drawn.tab == "Predict";
  request.batch_statistics = inside.drawn.tab == "Activations";
  SendInsideRequest(state, request);
}

}  // namespace ts::ui
