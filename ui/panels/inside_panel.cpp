#include "ui/panels/inside_panel.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ui/controller.h"
#include "ui/panel_layout.h"
#include "ui/panels/inside_internal.h"
#include "ui/test_hooks.h"
#include "ui/widgets/bar_chart.h"
#include "ui/widgets/drawing_canvas.h"
#include "ui/widgets/image_tile.h"
#include "ui/widgets/number_field.h"
#include "ui/widgets/plot.h"
#include "ui/widgets/value_tiles.h"

namespace ts::ui {
namespace inside {

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
  ImGui::SetNextItemWidth(std::min(17 * ImGui::GetFontSize(), ImGui::GetContentRegionAvail().x * 0.5f));
  const std::string format = ProbeSetName(state) + " %d";
  NumberField("##sample", index, 0, last, {.format = format.c_str()});
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

}  // namespace inside

using namespace inside;

namespace {

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
// fits the display, below the Training panel's controls; collapsing it again
// puts it back where it was.
void KeepInView(bool collapsed) {
  PanelUi& ui = Ui();
  const ImVec2 display = ImGui::GetIO().DisplaySize;
  const ImVec2 pos = ImGui::GetWindowPos(), size = ImGui::GetWindowSize();
  if (!collapsed && pos.y + size.y > display.y + 1) {
    ui.lifted_from_bottom = display.y - pos.y;
    ImGui::SetWindowPos(ImVec2(pos.x, std::max(0.0f, display.y - size.y)));
  } else if (collapsed && ui.lifted_from_bottom >= 0) {
    ImGui::SetWindowPos(ImVec2(pos.x, std::max(0.0f, display.y - ui.lifted_from_bottom)));
    ui.lifted_from_bottom = -1;
  }
  StayClearOfControls();
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
