// The Puzzles half of the Kernel Lab window: the list, the task, the
// interface, the editor and its buttons; the worker's answers; progress.
#include "ui/lab/puzzles_window.h"

#include <algorithm>
#include <set>

#include "imgui.h"
#include "imgui_stdlib.h"  // after imgui.h, which it needs
#include "ui/lab/lab_internal.h"
#include "ui/lab/puzzle_worker.h"
#include "ui/test_hooks.h"
#include "ui/widgets/text.h"

namespace ts::ui {
namespace {

using lab_view::kFailedColor;
using lab_view::kPassedColor;

const lab::Puzzle* CurrentPuzzle(const PuzzlesView& view) {
  for (const lab::Puzzle& puzzle : lab::Puzzles())
    if (puzzle.name == view.progress.current) return &puzzle;
  return lab::Puzzles().empty() ? nullptr : &lab::Puzzles().front();
}

std::string& CodeOf(PuzzlesView& view, const lab::Puzzle& puzzle) {
  return view.progress.code.try_emplace(puzzle.name, puzzle.starter).first->second;
}

void Save(AppState& state, PuzzlesView& view) {
  if (view.progress_path.empty()) return;
  try {
    SavePuzzleProgress(view.progress, view.progress_path);
  } catch (const std::exception& e) {
    state.Notify(Notice::Level::kError, std::string("Puzzle progress not saved: ") + e.what());
  }
}

void StartRun(PuzzlesView& view, const lab::Puzzle& puzzle) {
  if (!view.worker) return;
  view.request = view.worker->Start(puzzle.name, CodeOf(view, puzzle));
  view.request_puzzle = puzzle.name;
  view.busy = true;
}

// The worker's answer: the outcome, solved or another failed try, saved.
void TakeNews(AppState& state, PuzzlesView& view) {
  if (!view.worker) return;
  if (std::optional<PuzzleWorker::Answer> answer = view.worker->TakeAnswer()) {
    PuzzlesView::Outcome& outcome = view.outcomes[answer->puzzle];
    outcome.result = answer->result;
    outcome.error = answer->error;
    outcome.body = answer->body;
    outcome.seconds = answer->seconds;
    if (answer->devices_recreated > view.devices_recreated) {
      view.devices_recreated = answer->devices_recreated;
      state.Notify(Notice::Level::kError, "A puzzle kernel lost the device; it was re-created and your code kept.");
    }
    if (answer->result && answer->result->passed) view.progress.solved[answer->puzzle] = true;
    else ++view.progress.failed_tries[answer->puzzle];
    view.selected_invocation = 0;
    Save(state, view);
  }
  view.busy = view.worker->busy();
}

void DrawPuzzleList(AppState& state, PuzzlesView& view) {
  SeparatorText("Puzzles");
  for (const lab::Puzzle& puzzle : lab::Puzzles()) {
    const bool solved = view.progress.solved.count(puzzle.name) && view.progress.solved.at(puzzle.name);
    if (solved) {
      lab_view::CheckMark(true);
    } else {  // an empty box the size of the tick
      const float size = ImGui::GetTextLineHeight();
      const ImVec2 at = ImGui::GetCursorScreenPos();
      ImGui::Dummy(ImVec2(size, size));
      ImGui::GetWindowDrawList()->AddRect(ImVec2(at.x + 2, at.y + 2), ImVec2(at.x + size - 2, at.y + size - 2),
                                          ImGui::GetColorU32(ImGuiCol_TextDisabled));
    }
    ImGui::SameLine();
    if (ImGui::Selectable(puzzle.title.c_str(), view.progress.current == puzzle.name)) {
      view.progress.current = puzzle.name;
      view.show_solution = false;
      view.selected_invocation = 0;
      Save(state, view);
    }
    RecordItemRect("lab_puzzle_" + puzzle.name);
  }
  int solved = 0;
  for (const auto& [name, done] : view.progress.solved) solved += done;
  Muted((std::to_string(solved) + " of " + std::to_string(lab::Puzzles().size()) + " solved").c_str());
  if (view.progress_path.empty()) Muted("Progress is not saved: neither XDG_DATA_HOME nor HOME is set.");
}

// The editor with its line numbers; compile errors marked on their lines.
void DrawEditor(PuzzlesView& view, const lab::Puzzle& puzzle, const PuzzlesView::Outcome* outcome, float height) {
  std::string& code = CodeOf(view, puzzle);
  std::map<uint32_t, std::string> errors;  // only those of the code as it was run
  if (outcome && outcome->result && outcome->body == code)
    for (const lab::CompileError& e : outcome->result->compile_errors)
      if (e.line > 0) errors.try_emplace(e.line, e.message);
  const float line_height = ImGui::GetTextLineHeight();
  const ImVec2 padding = ImGui::GetStyle().FramePadding;
  const uint32_t lines = 1 + static_cast<uint32_t>(std::count(code.begin(), code.end(), '\n'));
  view.drawn.editor_lines = lines;
  view.drawn.error_lines = static_cast<uint32_t>(errors.size());
  ImGui::BeginChild("puzzle_editor", ImVec2(0, height), true, ImGuiWindowFlags_HorizontalScrollbar);
  const float gutter = ImGui::CalcTextSize("0000").x + padding.x;
  const ImVec2 start = ImGui::GetCursorScreenPos();
  const float editor_height = std::max(ImGui::GetContentRegionAvail().y, (lines + 2) * line_height + 2 * padding.y);
  ImDrawList* draw = ImGui::GetWindowDrawList();
  for (uint32_t line = 1; line <= lines; ++line) {
    const float y = start.y + padding.y + (line - 1) * line_height;
    const bool error = errors.count(line) > 0;
    const std::string number = std::to_string(line);
    const float width = ImGui::CalcTextSize(number.c_str()).x;
    if (error) draw->AddRectFilled(ImVec2(start.x, y), ImVec2(start.x + gutter - 2, y + line_height), kFailedColor);
    draw->AddText(ImVec2(start.x + gutter - padding.x - width, y),
                  error ? IM_COL32(0, 0, 0, 255) : ImGui::GetColorU32(ImGuiCol_TextDisabled), number.c_str());
  }
  ImGui::SetCursorScreenPos(ImVec2(start.x + gutter, start.y));
  // Back into the editor once Enter is up: held down in a focused editor, its
  // key repeat would type new lines.
  const int enter = ImGui::GetKeyIndex(ImGuiKey_Enter), keypad_enter = ImGui::GetKeyIndex(ImGuiKey_KeyPadEnter);
  if (view.focus_editor && !ImGui::IsKeyDown(enter) && !ImGui::IsKeyDown(keypad_enter)) {
    ImGui::SetKeyboardFocusHere();
    view.focus_editor = false;
  }
  ImGui::InputTextMultiline("##code", &code, ImVec2(ImGui::GetContentRegionAvail().x, editor_height),
                            ImGuiInputTextFlags_AllowTabInput);
  RecordItemRect("puzzle_editor");
  const ImVec2 editor_min = ImGui::GetItemRectMin(), editor_max = ImGui::GetItemRectMax();
  for (const auto& [line, message] : errors) {  // a red band over the line, its message on hover
    const float y = editor_min.y + padding.y + (line - 1) * line_height;
    draw->AddRectFilled(ImVec2(editor_min.x, y), ImVec2(editor_max.x, y + line_height), IM_COL32(255, 80, 70, 50));
    if (ImGui::IsMouseHoveringRect(ImVec2(start.x, y), ImVec2(editor_max.x, y + line_height)))
      ImGui::SetTooltip("line %u: %s", line, message.c_str());
  }
  ImGui::EndChild();
}

void DrawTask(const lab::Puzzle& puzzle) {
  ImGui::TextUnformatted(puzzle.title.c_str());
  ImGui::TextWrapped("%s", puzzle.task.c_str());
  Muted(("Budget: " + puzzle.budget.Describe() + ".").c_str());
}

void DrawButtons(AppState& state, PuzzlesView& view, const lab::Puzzle& puzzle, bool run_keys) {
  ImGui::BeginDisabled(!view.worker);
  if (ImGui::Button("Run (Ctrl+Enter)") || run_keys) StartRun(view, puzzle);
  RecordItemRect("puzzle_run");
  ImGui::EndDisabled();
  ImGui::SameLine();
  if (ImGui::Button("Reset to starter")) {
    CodeOf(view, puzzle) = puzzle.starter;
    view.show_solution = false;
    Save(state, view);
  }
  RecordItemRect("puzzle_reset");
  ImGui::SameLine();
  const bool tried = view.progress.failed_tries.count(puzzle.name) && view.progress.failed_tries.at(puzzle.name) > 0;
  view.drawn.show_solution_enabled = tried;
  ImGui::BeginDisabled(!tried);
  if (ImGui::Button(view.show_solution ? "Hide solution" : "Show solution")) view.show_solution = !view.show_solution;
  RecordItemRect("puzzle_show_solution");
  ImGui::EndDisabled();
  if (!tried && ImGui::IsItemHovered(ImGuiHoveredFlags_AllowWhenDisabled))
    ImGui::SetTooltip("After a try that did not pass.");
  if (view.busy) {
    ImGui::SameLine();
    ImGui::TextUnformatted("running on the device...");
  }
  if (!view.worker) Muted("Nothing can run: the app has no puzzle worker.");
}

void DrawSolution(AppState& state, PuzzlesView& view, const lab::Puzzle& puzzle) {
  if (!view.show_solution) return;
  view.drawn.solution_shown = true;
  SeparatorText("The reference solution");
  ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetColorU32(ImGuiCol_TextDisabled));
  ImGui::TextUnformatted(puzzle.solution.c_str());
  ImGui::PopStyleColor();
  if (ImGui::Button("Put it in the editor")) {
    CodeOf(view, puzzle) = puzzle.solution;
    Save(state, view);
  }
}

}  // namespace

void InitPuzzles(AppState& state, const vk::ContextOptions& options, std::function<void()> wake) {
  auto view = std::make_shared<PuzzlesView>();
  view->progress_path = PuzzleProgressPath();
  try {
    view->progress = LoadPuzzleProgress(view->progress_path);
  } catch (const std::exception& e) {
    state.Notify(Notice::Level::kError, std::string("Puzzle progress not loaded: ") + e.what());
  }
  view->worker = std::make_unique<PuzzleWorker>(options, std::move(wake));
  state.puzzles = view;
}

bool DrawLabModeSwitch(AppState& state) {
  if (!state.puzzles) return false;
  PuzzlesView& view = *state.puzzles;
  if (ImGui::RadioButton("Lessons", !view.shown)) view.shown = false;
  RecordItemRect("lab_mode_lessons");
  ImGui::SameLine();
  if (ImGui::RadioButton("Puzzles", view.shown)) view.shown = true;
  RecordItemRect("lab_mode_puzzles");
  return view.shown;
}

void DrawPuzzles(AppState& state) {
  if (!state.puzzles) return;
  PuzzlesView& view = *state.puzzles;
  view.drawn = {};
  TakeNews(state, view);
  const lab::Puzzle* puzzle = CurrentPuzzle(view);
  if (!puzzle) return;
  view.progress.current = puzzle->name;
  view.drawn.puzzle = puzzle->name;
  // Ctrl+Enter runs (ImGui 1.86's editor takes Ctrl+Enter as "done", not a new line).
  const ImGuiIO& io = ImGui::GetIO();
  const bool run_keys = io.KeyCtrl && ImGui::IsWindowFocused(ImGuiFocusedFlags_RootAndChildWindows) &&
                        (ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_Enter), false) ||
                         ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_KeyPadEnter), false));
  if (run_keys) view.focus_editor = true;
  const auto found = view.outcomes.find(puzzle->name);
  const PuzzlesView::Outcome* outcome = found == view.outcomes.end() ? nullptr : &found->second;
  if (!ImGui::BeginTable("puzzle_columns", 3, ImGuiTableFlags_Resizable | ImGuiTableFlags_BordersInnerV, ImVec2(0, -1)))
    return;
  ImGui::TableSetupColumn("list", ImGuiTableColumnFlags_WidthFixed, 15 * ImGui::GetFontSize());
  ImGui::TableSetupColumn("editor", ImGuiTableColumnFlags_WidthStretch, 0.5f);
  ImGui::TableSetupColumn("result", ImGuiTableColumnFlags_WidthStretch, 0.5f);
  ImGui::TableNextRow();
  ImGui::TableNextColumn();
  ImGui::BeginChild("puzzle_list");
  DrawPuzzleList(state, view);
  ImGui::EndChild();
  ImGui::TableNextColumn();
  ImGui::BeginChild("puzzle_code");
  DrawTask(*puzzle);
  SeparatorText("Interface (read-only)");
  ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetColorU32(ImGuiCol_TextDisabled));
  ImGui::TextUnformatted(lab::PuzzleInterfaceText(*puzzle).c_str());
  ImGui::PopStyleColor();
  const float below = ImGui::GetFrameHeightWithSpacing() * 2 + (view.show_solution ? 14 * ImGui::GetTextLineHeight() : 0);
  DrawEditor(view, *puzzle, outcome, std::max(8 * ImGui::GetTextLineHeight(), ImGui::GetContentRegionAvail().y - below));
  ImGui::TextUnformatted("}");
  DrawButtons(state, view, *puzzle, run_keys);
  DrawSolution(state, view, *puzzle);
  ImGui::EndChild();
  ImGui::TableNextColumn();
  ImGui::BeginChild("puzzle_result");
  if (!outcome) Muted(view.busy ? "Running on the device..." : "Write the kernel's body and press Ctrl+Enter to run it.");
  else DrawPuzzleResult(view, *puzzle, *outcome);
  ImGui::EndChild();
  ImGui::EndTable();
}

nlohmann::json PuzzlesTestLog(const AppState& state) {
  if (!state.puzzles) return nullptr;
  const PuzzlesView& view = *state.puzzles;
  nlohmann::json line = {{"shown", view.shown}, {"current", view.progress.current}, {"busy", view.busy},
                         {"request", view.request}, {"progress_path", view.progress_path},
                         {"devices_recreated", view.devices_recreated}};
  for (const auto& [name, solved] : view.progress.solved) line["solved"][name] = solved;
  for (const auto& [name, tries] : view.progress.failed_tries) line["failed_tries"][name] = tries;
  for (const auto& [name, outcome] : view.outcomes) {
    nlohmann::json entry = {{"error", outcome.error}, {"seconds", outcome.seconds}};
    if (const auto& r = outcome.result) {
      entry["passed"] = r->passed;
      entry["compiled"] = r->compiled;
      entry["wrong"] = r->wrong_count;
      for (const lab::Diagnosis& d : r->diagnoses) entry["diagnoses"].push_back(lab::DiagnosisKindName(d.kind));
      for (const lab::CompileError& e : r->compile_errors) entry["compile_error_lines"].push_back(e.line);
      if (r->ms) entry["ms"] = *r->ms;
      if (r->reference_ms) entry["reference_ms"] = *r->reference_ms;
    }
    line["outcomes"][name] = entry;
  }
  const PuzzlesView::Drawn& d = view.drawn;
  line["drawn"] = {{"puzzle", d.puzzle},           {"editor_lines", d.editor_lines},
                   {"error_lines", d.error_lines}, {"wrong_cells", d.wrong_cells},
                   {"touched_cells", d.touched_cells}, {"diagnoses", d.diagnoses},
                   {"solution_shown", d.solution_shown}, {"show_solution_enabled", d.show_solution_enabled}};
  return line;
}

std::string PuzzlesLogSnapshot(const AppState& state) {
  if (!state.puzzles) return "";
  const PuzzlesView& view = *state.puzzles;
  std::string snapshot = std::to_string(view.shown) + view.progress.current + std::to_string(view.busy) +
                         std::to_string(view.request) + std::to_string(view.drawn.editor_lines) +
                         std::to_string(view.drawn.solution_shown);
  for (const auto& [name, outcome] : view.outcomes)
    snapshot += name + std::to_string(reinterpret_cast<uintptr_t>(outcome.result.get()));
  return snapshot;
}

}  // namespace ts::ui
