// The result half of the Puzzles view: the verdict and diagnoses, counts
// against the budget, the time against the reference, and the drawing of the
// real run: the dispatch's invocations (pick one) over the arrays, each cell
// coloured by whether that invocation read or wrote it, wrong outputs red.
#include <algorithm>
#include <cstdio>
#include <set>

#include "imgui.h"
#include "ui/lab/lab_internal.h"
#include "ui/lab/puzzles_window.h"
#include "ui/test_hooks.h"
#include "ui/widgets/text.h"

namespace ts::ui {
namespace {

using lab_view::kFailedColor;
using lab_view::kPassedColor;

constexpr ImU32 kReadColor = IM_COL32(90, 150, 255, 255);
constexpr ImU32 kWriteColor = IM_COL32(255, 170, 60, 255);
constexpr ImU32 kReadWriteColor = IM_COL32(190, 120, 255, 255);
constexpr ImU32 kOthersColor = IM_COL32(90, 90, 100, 255);
constexpr ImU32 kIdleColor = IM_COL32(45, 45, 50, 255);

std::string Short(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.4g", value);
  return text;
}

void Colored(ImU32 color, const std::string& text) {
  ImGui::PushStyleColor(ImGuiCol_Text, color);
  ImGui::TextWrapped("%s", text.c_str());
  ImGui::PopStyleColor();
}

// Which elements of one array an invocation read and wrote, and which any invocation touched.
struct Touched {
  std::set<uint32_t> read, written, by_anyone;
};

// One array as a grid of cells (rows x columns), each with its value; the
// selected invocation's reads and writes coloured, wrong elements outlined
// red with expected vs got on hover. Returns the cells drawn as touched.
uint32_t DrawArray(const lab::PuzzleArray& array, const std::string& label, const std::vector<float>* values,
                   const Touched& touched, const std::map<uint32_t, const lab::WrongElement*>& wrong, float cell,
                   uint32_t& wrong_cells) {
  ImGui::TextUnformatted(label.c_str());
  ImDrawList* draw = ImGui::GetWindowDrawList();
  const ImVec2 at = ImGui::GetCursorScreenPos();
  ImGui::Dummy(ImVec2(cell * array.columns, cell * array.rows));
  uint32_t touched_cells = 0;
  for (uint32_t i = 0; i < array.size(); ++i) {
    const float x = at.x + (i % array.columns) * cell, y = at.y + (i / array.columns) * cell;
    const bool read = touched.read.count(i), written = touched.written.count(i);
    const ImU32 fill = read && written ? kReadWriteColor : written ? kWriteColor : read ? kReadColor
                       : touched.by_anyone.count(i) ? kOthersColor : kIdleColor;
    touched_cells += read || written;
    draw->AddRectFilled(ImVec2(x + 1, y + 1), ImVec2(x + cell - 1, y + cell - 1), fill);
    const auto bad = wrong.find(i);
    if (bad != wrong.end()) {
      ++wrong_cells;
      draw->AddRect(ImVec2(x + 1, y + 1), ImVec2(x + cell - 1, y + cell - 1), kFailedColor, 0, 0, 3.0f);
    }
    if (values && cell >= 2.2f * ImGui::GetFontSize()) {
      const std::string text = Short((*values)[i]);
      const ImVec2 size = ImGui::CalcTextSize(text.c_str());
      if (size.x < cell - 4)
        draw->AddText(ImVec2(x + (cell - size.x) / 2, y + (cell - size.y) / 2), IM_COL32(255, 255, 255, 255),
                      text.c_str());
    }
    if (ImGui::IsMouseHoveringRect(ImVec2(x, y), ImVec2(x + cell, y + cell))) {
      std::string tip = array.two_d
                            ? array.name + "[" + std::to_string(i / array.columns) + "][" +
                                  std::to_string(i % array.columns) + "]"
                            : array.name + "[" + std::to_string(i) + "]";
      if (values) tip += " = " + Short((*values)[i]);
      if (bad != wrong.end())
        tip += "\nwrong: expected " + Short(bad->second->expected) + ", got " + Short(bad->second->got);
      if (read || written)
        tip += std::string("\nthe selected invocation ") + (read && written ? "read and wrote it" : read ? "read it" : "wrote it");
      ImGui::SetTooltip("%s", tip.c_str());
    }
  }
  return touched_cells;
}

// The dispatch's invocations as a grid (x across, y down); a click selects one.
void DrawInvocations(PuzzlesView& view, const lab::Puzzle& puzzle, float cell) {
  const uint32_t width = puzzle.grid[0] * puzzle.workgroup[0], height = puzzle.grid[1] * puzzle.workgroup[1];
  const uint32_t per_group = puzzle.workgroup[0] * puzzle.workgroup[1];
  ImDrawList* draw = ImGui::GetWindowDrawList();
  const ImVec2 at = ImGui::GetCursorScreenPos();
  ImGui::InvisibleButton("puzzle_invocations", ImVec2(std::max(1.0f, cell * width), std::max(1.0f, cell * height)));
  RecordItemRect("puzzle_invocations");
  const bool clicked = ImGui::IsItemClicked();
  for (uint32_t gy = 0; gy < height; ++gy)
    for (uint32_t gx = 0; gx < width; ++gx) {
      const uint32_t workgroup = gx / puzzle.workgroup[0] + (gy / puzzle.workgroup[1]) * puzzle.grid[0];
      const uint32_t local = gx % puzzle.workgroup[0] + (gy % puzzle.workgroup[1]) * puzzle.workgroup[0];
      const int linear = static_cast<int>(workgroup * per_group + local);
      const float x = at.x + gx * cell, y = at.y + gy * cell;
      const ImU32 shade = workgroup % 2 ? IM_COL32(70, 110, 90, 255) : IM_COL32(70, 90, 120, 255);
      draw->AddRectFilled(ImVec2(x + 1, y + 1), ImVec2(x + cell - 1, y + cell - 1), shade);
      if (linear == view.selected_invocation)
        draw->AddRect(ImVec2(x + 1, y + 1), ImVec2(x + cell - 1, y + cell - 1), IM_COL32(255, 255, 255, 255), 0, 0, 2.5f);
      if (ImGui::IsMouseHoveringRect(ImVec2(x, y), ImVec2(x + cell, y + cell))) {
        ImGui::SetTooltip("invocation (%u, %u): workgroup %u, local index %u", gx, gy, workgroup, local);
        if (clicked) view.selected_invocation = linear;
      }
    }
}

void DrawCounts(const lab::Puzzle& puzzle, const lab::PuzzleResult& result) {
  if (!ImGui::BeginTable("puzzle_counts", 3, ImGuiTableFlags_BordersInnerH | ImGuiTableFlags_SizingFixedFit)) return;
  ImGui::TableSetupColumn("per invocation");
  ImGui::TableSetupColumn("most (one invocation)");
  ImGui::TableSetupColumn("budget");
  ImGui::TableHeadersRow();
  const lab::PuzzleBudget& b = puzzle.budget;
  const struct {
    const char* name;
    uint32_t most;
    const std::optional<uint32_t>& limit;
  } rows[] = {{"global reads", result.most.global_reads, b.global_reads},
              {"global writes", result.most.global_writes, b.global_writes},
              {"shared reads", result.most.shared_reads, b.shared_reads},
              {"shared writes", result.most.shared_writes, b.shared_writes},
              {"barriers", result.most.barriers, b.barriers}};
  for (const auto& row : rows) {
    ImGui::TableNextRow();
    ImGui::TableNextColumn();
    ImGui::TextUnformatted(row.name);
    ImGui::TableNextColumn();
    const bool over = row.limit && row.most > *row.limit;
    if (over) ImGui::PushStyleColor(ImGuiCol_Text, kFailedColor);
    ImGui::Text("%u", row.most);
    if (over) ImGui::PopStyleColor();
    ImGui::TableNextColumn();
    if (row.limit) ImGui::Text("at most %u", *row.limit);
    else Muted("-");
  }
  ImGui::EndTable();
  if (b.coalesced) Muted("and coalesced: neighbours along x touch neighbouring elements");
}

}  // namespace

void DrawPuzzleResult(PuzzlesView& view, const lab::Puzzle& puzzle, const PuzzlesView::Outcome& outcome) {
  if (!outcome.error.empty()) Colored(kFailedColor, "The run failed: " + outcome.error);
  if (!outcome.result) return;
  const lab::PuzzleResult& r = *outcome.result;
  ImGui::PushStyleColor(ImGuiCol_Text, r.passed ? kPassedColor : kFailedColor);
  ImGui::TextUnformatted(r.passed ? "PASSED: correct and within budget" : "NOT PASSED");
  ImGui::PopStyleColor();
  RecordItemRect("puzzle_verdict");
  if (outcome.body != view.progress.code[puzzle.name]) Muted("(of the code as it was when run; it has changed since)");
  for (const lab::Diagnosis& d : r.diagnoses) {
    ImGui::Bullet();
    Colored(d.kind == lab::DiagnosisKind::kOverBudget ? kWriteColor : kFailedColor, d.message);
    ++view.drawn.diagnoses;
  }
  if (r.ms) ImGui::TextWrapped("%s", ("On " + r.device + ", " + lab::PuzzleTimingText(r)).c_str());
  if (!r.compiled) return;
  SeparatorText("Counts against the budget");
  DrawCounts(puzzle, r);
  if (!r.wrong.empty()) {
    SeparatorText("Wrong elements (expected vs got)");
    std::vector<const lab::PuzzleArray*> outputs;
    for (const lab::PuzzleArray& a : puzzle.globals)
      if (a.output) outputs.push_back(&a);
    if (ImGui::BeginTable("puzzle_wrong", 3, ImGuiTableFlags_BordersInnerH | ImGuiTableFlags_SizingFixedFit |
                                                ImGuiTableFlags_ScrollY,
                          ImVec2(0, std::min(8.0f, 1.0f + r.wrong.size()) * ImGui::GetFrameHeight()))) {
      ImGui::TableSetupColumn("element");
      ImGui::TableSetupColumn("expected");
      ImGui::TableSetupColumn("got");
      ImGui::TableHeadersRow();
      for (const lab::WrongElement& w : r.wrong) {
        const lab::PuzzleArray& a = *outputs.at(w.array);
        ImGui::TableNextRow();
        ImGui::TableNextColumn();
        if (a.two_d) ImGui::Text("%s[%u][%u]", a.name.c_str(), w.index / a.columns, w.index % a.columns);
        else ImGui::Text("%s[%u]", a.name.c_str(), w.index);
        ImGui::TableNextColumn();
        ImGui::TextUnformatted(Short(w.expected).c_str());
        ImGui::TableNextColumn();
        ImGui::PushStyleColor(ImGuiCol_Text, kFailedColor);
        ImGui::TextUnformatted(Short(w.got).c_str());
        ImGui::PopStyleColor();
      }
      ImGui::EndTable();
    }
  }
  if (!r.trace) return;
  SeparatorText("What each invocation touched (recorded on the device)");
  const uint32_t per_group = puzzle.workgroup[0] * puzzle.workgroup[1];
  const uint32_t total = per_group * puzzle.grid[0] * puzzle.grid[1];
  view.selected_invocation = std::clamp(view.selected_invocation, 0, static_cast<int>(total) - 1);
  const uint32_t workgroup = view.selected_invocation / per_group, local = view.selected_invocation % per_group;
  const float avail = ImGui::GetContentRegionAvail().x;
  const float invocation_cell =
      std::clamp(avail / float(puzzle.grid[0] * puzzle.workgroup[0]), 8.0f, 2.0f * ImGui::GetFontSize());
  Muted("Click an invocation (a workgroup's invocations share a colour):");
  DrawInvocations(view, puzzle, invocation_cell);
  const lab::InvocationCounts& c = r.counts.at(view.selected_invocation);
  ImGui::TextWrapped("workgroup %u, local index %u: %u global reads, %u global writes, %u shared reads, %u shared writes, "
              "%u barriers",
              workgroup, local, c.global_reads, c.global_writes, c.shared_reads, c.shared_writes, c.barriers);
  // Legend.
  for (const auto& [color, name] : {std::pair{kReadColor, "read"}, {kWriteColor, "written"},
                                    {kReadWriteColor, "read and written"}, {kOthersColor, "touched by others"}}) {
    const ImVec2 at = ImGui::GetCursorScreenPos();
    const float s = ImGui::GetTextLineHeight();
    ImGui::GetWindowDrawList()->AddRectFilled(at, ImVec2(at.x + s, at.y + s), color);
    ImGui::Dummy(ImVec2(s, s));
    ImGui::SameLine();
    ImGui::TextUnformatted(name);
    ImGui::SameLine();
  }
  ImGui::NewLine();
  std::vector<Touched> global(puzzle.globals.size()), shared(puzzle.shared.size());
  for (const lab::AccessRecord& record : r.trace->records) {
    const bool is_shared = record.access == lab::Access::kSharedRead || record.access == lab::Access::kSharedWrite;
    std::vector<Touched>& arrays = is_shared ? shared : global;
    if (record.buffer >= arrays.size()) continue;
    if (is_shared && record.workgroup != workgroup) continue;  // another workgroup's copy of the array
    Touched& t = arrays[record.buffer];
    t.by_anyone.insert(record.index);
    if (record.workgroup != workgroup || record.invocation != local) continue;
    const bool write = record.access == lab::Access::kGlobalWrite || record.access == lab::Access::kSharedWrite;
    (write ? t.written : t.read).insert(record.index);
  }
  const std::vector<std::vector<float>> inputs = puzzle.inputs();
  uint32_t input = 0, output = 0;
  for (size_t g = 0; g < puzzle.globals.size(); ++g) {
    const lab::PuzzleArray& a = puzzle.globals[g];
    const std::vector<float>* values = a.output ? &r.outputs.at(output) : &inputs.at(input);
    std::map<uint32_t, const lab::WrongElement*> wrong;
    if (a.output)
      for (const lab::WrongElement& w : r.wrong)
        if (w.array == output) wrong[w.index] = &w;
    const float cell = std::clamp(avail / float(a.columns), 10.0f, 2.6f * ImGui::GetFontSize());
    view.drawn.touched_cells += DrawArray(a, (a.output ? "output " : "input ") + a.name, values, global[g], wrong, cell,
                                          view.drawn.wrong_cells);
    (a.output ? output : input) += 1;
  }
  for (size_t s = 0; s < puzzle.shared.size(); ++s) {
    const lab::PuzzleArray& a = puzzle.shared[s];
    const float cell = std::clamp(avail / float(a.columns), 10.0f, 2.6f * ImGui::GetFontSize());
    view.drawn.touched_cells += DrawArray(a, "shared " + a.name + " (workgroup " + std::to_string(workgroup) + ")",
                                          nullptr, shared[s], {}, cell, view.drawn.wrong_cells);
  }
  if (r.trace->overflowed()) Muted("The record buffer overflowed: the drawing shows the first accesses only.");
}

}  // namespace ts::ui
