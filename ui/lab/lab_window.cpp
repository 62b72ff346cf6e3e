// The Kernel Lab window: the lesson list, the knobs, Run and its progress,
// and the layout of the results and the source beside them.
#include "ui/lab/lab_window.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "imgui.h"
#include "ui/format.h"
#include "ui/lab/lab_internal.h"
#include "ui/lab/lab_runner.h"
#include "ui/lab/puzzles_window.h"
#include "ui/panel_layout.h"
#include "ui/test_hooks.h"
#include "ui/widgets/number_field.h"
#include "ui/widgets/text.h"

namespace ts::ui {
namespace lab_view {

WindowUi& Ui() {
  static WindowUi ui;
  if (ui.context != ImGui::GetCurrentContext() || ImGui::GetFrameCount() < ui.last_frame)
    ui = WindowUi{}, ui.context = ImGui::GetCurrentContext();
  ui.last_frame = ImGui::GetFrameCount();
  return ui;
}

const LabView::Outcome* ShownOutcome(const LabView& lab) {
  const auto found = lab.outcomes.find(lab.lesson);
  return found == lab.outcomes.end() ? nullptr : &found->second;
}

const lab::Variant* SelectedVariant(const LabView& lab, const lab::LessonResult& result) {
  for (const std::string& name : {lab.variant, result.traced_variant})
    for (const lab::Variant& variant : result.variants)
      if (variant.name == name) return &variant;
  return result.variants.empty() ? nullptr : &result.variants.front();
}

void CheckMark(bool passed) {
  const float size = ImGui::GetTextLineHeight();
  const ImVec2 at = ImGui::GetCursorScreenPos();
  ImGui::Dummy(ImVec2(size, size));
  ImDrawList* draw = ImGui::GetWindowDrawList();
  const float s = size;
  if (passed) {
    const ImVec2 points[] = {ImVec2(at.x + s * 0.15f, at.y + s * 0.55f), ImVec2(at.x + s * 0.4f, at.y + s * 0.8f),
                             ImVec2(at.x + s * 0.85f, at.y + s * 0.2f)};
    draw->AddPolyline(points, 3, kPassedColor, 0, 2.0f);
  } else {
    draw->AddLine(ImVec2(at.x + s * 0.2f, at.y + s * 0.2f), ImVec2(at.x + s * 0.8f, at.y + s * 0.8f), kFailedColor, 2.0f);
    draw->AddLine(ImVec2(at.x + s * 0.8f, at.y + s * 0.2f), ImVec2(at.x + s * 0.2f, at.y + s * 0.8f), kFailedColor, 2.0f);
  }
}

}  // namespace lab_view

namespace {

using namespace lab_view;

const lab::LessonInfo* CurrentLesson(const LabView& lab) {
  for (const lab::LessonInfo& info : lab.lessons)
    if (info.name == lab.lesson) return &info;
  return nullptr;
}

// The knobs of `info` as set, every knob present (its default until changed).
lab::Settings& SettingsOf(LabView& lab, const lab::LessonInfo& info) {
  lab::Settings& settings = lab.settings[info.name];
  for (const lab::Knob& knob : info.knobs) settings.try_emplace(knob.key, knob.value);
  return settings;
}

void StartRun(LabView& lab) {
  const lab::LessonInfo* info = CurrentLesson(lab);
  if (!lab.runner || !info) return;
  lab.request = lab.runner->Start(info->name, SettingsOf(lab, *info));
  lab.request_lesson = info->name;
  lab.busy = true;
  lab.progress = 0;
  lab.progress_what = "waiting";
}

// The runner's news: progress, and a finished run's answer.
void TakeNews(LabView& lab) {
  if (!lab.runner) return;
  if (std::optional<LabRunner::Answer> answer = lab.runner->TakeAnswer()) {
    if (answer->request == lab.request) {
      LabView::Outcome& outcome = lab.outcomes[answer->lesson];
      outcome.settings = answer->settings;
      outcome.result = answer->result;
      outcome.error = answer->error;
      outcome.seconds = answer->seconds;
    }
  }
  const LabRunner::Status status = lab.runner->status();
  lab.busy = status.busy && status.request == lab.request;
  lab.progress = status.fraction;
  lab.progress_what = status.what;
}

void SelectLesson(LabView& lab, const std::string& name) {
  if (name == lab.lesson) return;
  lab.lesson = name;
  lab.variant.clear();
  // A run of the lesson left is of no use now: it would only hold the device.
  if (lab.busy && lab.request_lesson != name && lab.runner) lab.runner->Cancel(), lab.busy = false;
  if (!lab.outcomes.count(name) && !lab.busy) StartRun(lab);
}

// One knob; true when an edit is finished (the lesson runs again).
bool DrawKnob(const lab::Knob& knob, int64_t& value) {
  ImGui::PushID(knob.key.c_str());
  ImGui::TextUnformatted(knob.label.c_str());
  if (!knob.help.empty() && ImGui::IsItemHovered()) ImGui::SetTooltip("%s", knob.help.c_str());
  bool finished = false;
  const std::string rect = "lab_knob_" + knob.key;
  if (!knob.choices.empty()) {
    // A few choices: buttons side by side, each recorded for the tests.
    for (size_t i = 0; i < knob.choices.size(); ++i) {
      const auto& [choice, label] = knob.choices[i];
      if (i > 0) {
        const float next = ImGui::GetItemRectMax().x + ImGui::GetStyle().ItemSpacing.x + ImGui::CalcTextSize(label.c_str()).x +
                           ImGui::GetFrameHeight() * 1.5f;
        if (next < ImGui::GetWindowPos().x + ImGui::GetWindowContentRegionMax().x) ImGui::SameLine();
      }
      if (ImGui::RadioButton(label.c_str(), value == choice) && value != choice) value = choice, finished = true;
      RecordItemRect(rect + "_" + std::to_string(choice));
    }
  } else if (knob.log_scale && knob.min > 0) {
    // Powers of two: the slider moves over the exponent and shows the value.
    const int low = static_cast<int>(std::ceil(std::log2(double(knob.min))));
    const int high = static_cast<int>(std::floor(std::log2(double(knob.max))));
    int exponent = std::clamp(static_cast<int>(std::lround(std::log2(double(std::max<int64_t>(value, 1))))), low, high);
    const std::string shown = std::to_string(int64_t{1} << exponent);
    ImGui::SetNextItemWidth(-1);
    if (ImGui::SliderInt("##value", &exponent, low, high, shown.c_str(), ImGuiSliderFlags_NoInput))
      value = int64_t{1} << exponent;
    finished = ImGui::IsItemDeactivatedAfterEdit();
    RecordItemRect(rect);
  } else {
    int number = static_cast<int>(std::clamp<int64_t>(value, INT32_MIN, INT32_MAX));
    ImGui::SetNextItemWidth(-1);
    if (NumberField("##value", number, static_cast<int>(std::max<int64_t>(knob.min, INT32_MIN)),
                    static_cast<int>(std::min<int64_t>(knob.max, INT32_MAX))))
      value = number;
    finished = ImGui::IsItemDeactivatedAfterEdit();
    RecordItemRect(rect);
  }
  ImGui::PopID();
  return finished;
}

void DrawControls(LabView& lab) {
  SeparatorText("Lessons");
  for (const lab::LessonInfo& info : lab.lessons) {
    if (ImGui::Selectable(info.title.c_str(), info.name == lab.lesson)) SelectLesson(lab, info.name);
    RecordItemRect("lab_lesson_" + info.name);
    if (ImGui::IsItemHovered() && !info.summary.empty()) ImGui::SetTooltip("%s", info.summary.c_str());
  }
  const lab::LessonInfo* info = CurrentLesson(lab);
  if (!info) return;
  if (!info->summary.empty()) Muted(info->summary.c_str());
  SeparatorText("Knobs");
  lab::Settings& settings = SettingsOf(lab, *info);
  bool rerun = false;
  for (const lab::Knob& knob : info->knobs) rerun |= DrawKnob(knob, settings[knob.key]);
  ImGui::Spacing();
  if (!lab.runner) {
    Muted("No device for the Lab: lessons cannot run.");
  } else {
    if (ImGui::Button("Run")) rerun = true;
    RecordItemRect("lab_run");
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("Runs every variant of the lesson again with these knobs: timed, checked.");
    if (lab.busy) {
      ImGui::SameLine();
      if (ImGui::Button("Cancel")) lab.runner->Cancel(), lab.busy = false;
      RecordItemRect("lab_cancel");
    }
  }
  if (rerun) StartRun(lab);
  if (lab.busy) {
    ImGui::ProgressBar(static_cast<float>(std::clamp(lab.progress, 0.0, 1.0)), ImVec2(-1, 0), lab.progress_what.c_str());
    RecordItemRect("lab_progress");
  }
  if (const LabView::Outcome* outcome = ShownOutcome(lab)) {
    if (outcome->settings != settings && !lab.busy)
      Muted("The results shown were run with other knob values: Run to measure these.");
    if (outcome->result) {
      const lab::LessonResult& result = *outcome->result;
      SeparatorText("Device");
      ImGui::TextWrapped("%s", result.device.c_str());
      Muted((Printf("measured ceilings: %.1f GFLOP/s, ", result.ceilings.fp32_gflops) +
             Printf("%.1f GB/s", result.ceilings.bandwidth_gbs) +
             (outcome->seconds < 1 ? Printf("; the run took %.0f ms", outcome->seconds * 1e3)
                                   : Printf("; the run took %.1f s", outcome->seconds)))
                .c_str());
    }
  }
  SeparatorText("Vulkan and CUDA words");
  Muted("dispatch = grid, workgroup = block, invocation = thread, subgroup = warp (wavefront on AMD), "
        "shared memory = __shared__.");
}

void DrawResults(LabView& lab) {
  const LabView::Outcome* outcome = ShownOutcome(lab);
  if (!outcome) {
    Muted(lab.busy ? "Running the lesson's kernels on the device..." : "Press Run to run this lesson's kernels.");
    return;
  }
  if (!outcome->error.empty()) {
    ImGui::PushStyleColor(ImGuiCol_Text, kFailedColor);
    ImGui::TextWrapped("The lesson could not run: %s", outcome->error.c_str());
    ImGui::PopStyleColor();
    RecordItemRect("lab_error");
  }
  if (!outcome->result) return;
  const lab::LessonResult& result = *outcome->result;
  if (!ImGui::BeginTabBar("lab_tabs")) return;
  const auto tab = [&](const char* name, auto&& draw) {
    const bool open = ImGui::BeginTabItem(name);
    RecordItemRect(std::string("lab_tab_") + name);
    if (!open) return;
    lab.drawn.tab = name;
    ImGui::BeginChild("tab", ImVec2(0, 0), false);
    draw();
    ImGui::EndChild();
    ImGui::EndTabItem();
  };
  tab("Results", [&] {
    DrawVariantsTable(lab, result);
    DrawOccupancy(result);
    DrawNotes(lab, result);
  });
  if (!result.charts.empty()) tab("Charts", [&] { DrawCharts(lab, result); });
  tab("Roofline", [&] { DrawRooflineView(lab, result); });
  if (HasPicture(result)) tab(PictureName(result), [&] { DrawPicture(lab, result); });
  ImGui::EndTabBar();
}

}  // namespace

void OpenLab(AppState& state, const std::string& lesson) {
  LabView& lab = state.lab;
  lab.open = true;
  std::string name = lab.lessons.empty() ? "" : lab.lessons.front().name;
  for (const lab::LessonInfo& info : lab.lessons)
    if (info.name == lesson || (lesson.empty() && info.name == lab.lesson)) name = info.name;
  // Shown for the first time: it runs at once (SelectLesson).
  if (name != lab.lesson) SelectLesson(lab, name);
  else if (!lab.outcomes.count(name) && !lab.busy) StartRun(lab);
}

void DrawLabWindow(AppState& state) {
  LabView& lab = state.lab;
  TakeNews(lab);
  lab.drawn = {};
  lab.animating = false;
  if (!lab.open) return;
  if (lab.lesson.empty() && !lab.lessons.empty()) OpenLab(state);
  // The Lab is a place of its own: nearly the whole display, over the panels.
  const ImVec2 display = ImGui::GetIO().DisplaySize;
  const float margin = std::round(std::min(display.x, display.y) * 0.02f);
  ImGui::SetNextWindowPos(ImVec2(margin, margin), ImGuiCond_Appearing);
  ImGui::SetNextWindowSize(ImVec2(display.x - 2 * margin, display.y - 2 * margin), ImGuiCond_Appearing);
  ImGui::SetNextWindowBgAlpha(1.0f);
  bool open = true;
  if (!ImGui::Begin("Kernel Lab", &open, ImGuiWindowFlags_NoScrollbar | ImGuiWindowFlags_NoCollapse)) {
    ImGui::End();
    return;
  }
  const ImVec2 pos = ImGui::GetWindowPos(), size = ImGui::GetWindowSize();
  RecordRect("window Kernel Lab", pos.x, pos.y, pos.x + size.x, pos.y + size.y);
  if (DrawLabModeSwitch(state)) DrawPuzzles(state);  // ui/lab/puzzles_window.h
  else if (ImGui::BeginTable("lab_columns", 3, ImGuiTableFlags_Resizable | ImGuiTableFlags_BordersInnerV, ImVec2(0, -1))) {
    ImGui::TableSetupColumn("controls", ImGuiTableColumnFlags_WidthFixed, 19 * ImGui::GetFontSize());
    ImGui::TableSetupColumn("results", ImGuiTableColumnFlags_WidthStretch, 0.6f);
    ImGui::TableSetupColumn("source", ImGuiTableColumnFlags_WidthStretch, 0.4f);
    ImGui::TableNextRow();
    ImGui::TableNextColumn();
    ImGui::BeginChild("controls");
    DrawControls(lab);
    ImGui::EndChild();
    ImGui::TableNextColumn();
    ImGui::BeginChild("results");
    DrawResults(lab);
    ImGui::EndChild();
    ImGui::TableNextColumn();
    const LabView::Outcome* outcome = ShownOutcome(lab);
    DrawSourceView(lab, outcome ? outcome->result.get() : nullptr);
    ImGui::EndTable();
  }
  ImGui::End();
  if (!open) CloseLab(state);
}

void CloseLab(AppState& state) {
  LabView& lab = state.lab;
  lab.open = false;
  if (lab.busy && lab.runner) lab.runner->Cancel(), lab.busy = false;
}

nlohmann::json LabTestLog(const AppState& state) {
  const LabView& lab = state.lab;
  nlohmann::json line = {{"open", lab.open},        {"lesson", lab.lesson},   {"busy", lab.busy},
                         {"request", lab.request},  {"request_lesson", lab.request_lesson},
                         {"progress", lab.progress}, {"variant", lab.variant}};
  for (const lab::LessonInfo& info : lab.lessons) line["lessons"].push_back(info.name);
  if (const lab::LessonInfo* info = CurrentLesson(lab))
    for (const lab::Knob& knob : info->knobs)
      line["knobs"][knob.key] = !knob.choices.empty() ? "choices" : knob.log_scale && knob.min > 0 ? "slider" : "number";
  if (const auto settings = lab.settings.find(lab.lesson); settings != lab.settings.end())
    for (const auto& [key, value] : settings->second) line["settings"][key] = value;
  // The tabs the shown result has (a tab's rectangle stays recorded after its lesson is left).
  if (const LabView::Outcome* outcome = ShownOutcome(lab); outcome && outcome->result) {
    line["tabs"] = {"Results"};
    if (!outcome->result->charts.empty()) line["tabs"].push_back("Charts");
    line["tabs"].push_back("Roofline");
    if (HasPicture(*outcome->result)) line["tabs"].push_back(PictureName(*outcome->result));
  }
  for (const auto& [name, outcome] : lab.outcomes) {
    nlohmann::json entry = {{"error", outcome.error}, {"seconds", outcome.seconds}};
    for (const auto& [key, value] : outcome.settings) entry["settings"][key] = value;
    if (outcome.result) {
      entry["variants"] = outcome.result->variants.size();
      entry["failed_checks"] = std::count_if(outcome.result->variants.begin(), outcome.result->variants.end(),
                                             [](const lab::Variant& v) { return !v.check_passed; });
      entry["charts"] = outcome.result->charts.size();
      entry["notes"] = outcome.result->notes.size();
      entry["trace_records"] = outcome.result->trace ? outcome.result->trace->records.size() : 0;
      entry["grid"] = outcome.result->grid.has_value();
    }
    line["outcomes"][name] = entry;
  }
  const LabView::Drawn& drawn = lab.drawn;
  line["drawn"] = {{"tab", drawn.tab},
                   {"rows", drawn.rows},
                   {"failed_checks", drawn.failed_checks},
                   {"source_lines", drawn.source_lines},
                   {"chart_series", drawn.chart_series},
                   {"dots", drawn.dots},
                   {"grid_cells", drawn.grid_cells},
                   {"idle_cells", drawn.idle_cells},
                   {"touched", drawn.touched},
                   {"tree_levels", drawn.tree_levels},
                   {"notes", drawn.notes},
                   {"hovered_formula", drawn.hovered_formula}};
  return line;
}

std::string LabLogSnapshot(const AppState& state) {
  const LabView& lab = state.lab;
  std::string snapshot = std::to_string(lab.open) + lab.lesson + std::to_string(lab.busy) + std::to_string(lab.request) +
                         lab.drawn.tab + lab.variant + std::to_string(lab.outcomes.size());
  for (const auto& [name, outcome] : lab.outcomes)
    snapshot += name + std::to_string(reinterpret_cast<uintptr_t>(outcome.result.get())) + outcome.error;
  return snapshot;
}

}  // namespace ts::ui
