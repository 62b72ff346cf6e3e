// The Inside window: what the network answers: the Predict tab (the canvas and
// the chosen sample) and the Mistakes tab.
#include "ui/panels/inside_internal.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "ui/controller.h"
#include "ui/panels/data_panel.h"
#include "ui/panel_layout.h"
#include "ui/test_hooks.h"
#include "ui/widgets/bar_chart.h"
#include "ui/widgets/image_tile.h"
#include "ui/widgets/number_field.h"
#include "ui/widgets/value_tiles.h"

namespace ts::ui::inside {

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
  const float size = std::clamp(ImGui::GetContentRegionAvail().x * 0.55f, Scaled(140), Scaled(252));
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
    const float cell = std::max(1.0f, std::floor(Scaled(84) / width));
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
                                       std::max(1.0f, std::floor(Scaled(112) / set->sample_shape[2])));
    ImGui::Dummy(size);
  } else if (set && set->labels_per_sample > 1 && index < set->count()) {  // text: the window it reads
    ImGui::PushTextWrapPos(0.0f);
    ImGui::TextUnformatted(TextOfWindow(*set, index).c_str());
    ImGui::PopTextWrapPos();
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
  const float cell = std::max(1.0f, std::floor(Scaled(56) / width));
  const float text = ImGui::GetTextLineHeight();
  const ImVec2 tile(std::max(width * cell, Scaled(100)), height * cell + 2 * text + 4);
  ImGui::BeginChild("gallery", ImVec2(0, 0));
  ImDrawList* draw = ImGui::GetWindowDrawList();
  const int count = static_cast<int>(inside.test_mistakes.size());
  TileGrid grid(count, tile, ImGui::GetContentRegionAvail().x, ImVec2(Scaled(6), Scaled(8)));
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
  const float left = std::min(ImGui::GetContentRegionAvail().x * 0.5f, Scaled(560));
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

}  // namespace ts::ui::inside
