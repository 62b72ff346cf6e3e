// The Inside window: what the network computes: the Filters, Feature maps and
// Activations tabs.
#include "ui/panels/inside_internal.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "ui/controller.h"
#include "ui/panel_layout.h"
#include "ui/test_hooks.h"
#include "ui/widgets/bar_chart.h"
#include "ui/widgets/image_tile.h"
#include "ui/widgets/number_field.h"
#include "ui/widgets/value_tiles.h"

namespace ts::ui::inside {

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
  const float cell = std::clamp(std::floor(Scaled(44) / float(std::max(kh, kw))), 3.0f, 16.0f);
  const ImVec2 tile(kw * cell, kh * cell);
  const ImVec2 block(tiles_per_filter * (tile.x + 2) - 2, tile.y);
  ImGui::BeginChild("filters", ImVec2(0, 0));
  ImDrawList* draw = ImGui::GetWindowDrawList();
  TileGrid grid(static_cast<int>(filters), block, ImGui::GetContentRegionAvail().x, ImVec2(Scaled(8), Scaled(8)));
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
    ImGui::SetNextItemWidth(13 * ImGui::GetFontSize());
    NumberField("first unit", first_unit, 0, static_cast<int>(units - 1));
  }
  const float cell = std::max(1.0f, std::floor(Scaled(56) / float(width)));
  ImGui::BeginChild("dense filters", ImVec2(0, 0));
  ImDrawList* draw = ImGui::GetWindowDrawList();
  TileGrid grid(static_cast<int>(shown), ImVec2(width * cell, height * cell), ImGui::GetContentRegionAvail().x,
                ImVec2(Scaled(6), Scaled(6)));
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
    ImVec2 size = DrawImageTile(draw, corner, *set, inside->sample, std::max(1.0f, std::floor(Scaled(56) / set->sample_shape[2])));
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
    const float cell = std::clamp(std::round(Scaled(52) / float(w)), 1.0f, 10.0f);
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
    options.width = std::min(Scaled(520), ImGui::GetContentRegionAvail().x);
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

}  // namespace ts::ui::inside
