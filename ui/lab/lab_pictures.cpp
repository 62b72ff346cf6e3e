// The Kernel Lab's pictures, each drawn from what the kernels themselves
// wrote or recorded (never from theory): the grid of lesson 1, what one
// subgroup touched at a step, the tiles of C, A and B a matmul workgroup owns
// and reads, and a reduction's tree level by level.
#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "ui/format.h"
#include "ui/lab/lab_internal.h"
#include "ui/panel_layout.h"
#include "ui/test_hooks.h"
#include "ui/widgets/text.h"

namespace ts::ui::lab_view {
namespace {

constexpr ImU32 kIdleColor = IM_COL32(58, 58, 62, 255);
constexpr ImU32 kGridLine = IM_COL32(15, 15, 18, 255);
constexpr ImU32 kSubgroupLine = IM_COL32(255, 255, 255, 150);
constexpr ImU32 kUntouched = IM_COL32(45, 48, 55, 255);
constexpr double kPlaySeconds = 0.8;  // per step when playing

// A workgroup's colour: neighbours along x and along y differ.
ImU32 WorkgroupColor(uint32_t x, uint32_t y) { return ClassColor(static_cast<int>(x + 5 * y)); }

ImU32 Dim(ImU32 color, float keep) {
  const ImVec4 c = ImGui::ColorConvertU32ToFloat4(color);
  return ImGui::ColorConvertFloat4ToU32(ImVec4(c.x * keep, c.y * keep, c.z * keep, 1.0f));
}

bool IsMatmulTrace(const lab::LessonResult& result) {
  const lab::AccessTrace& trace = *result.trace;
  return result.shape.size() >= 3 && BufferNamed(trace, "A") >= 0 && BufferNamed(trace, "B") >= 0 &&
         BufferNamed(trace, "C") >= 0;
}

const char* AccessName(lab::Access access) {
  switch (access) {
    case lab::Access::kGlobalRead: return "read";
    case lab::Access::kGlobalWrite: return "write";
    case lab::Access::kSharedRead: return "read shared";
    case lab::Access::kSharedWrite: return "write shared";
  }
  return "";
}

// ---------------------------------------------------------------------------
// The grid
// ---------------------------------------------------------------------------

void DrawGrid(LabView& lab, const lab::GridPicture& picture) {
  WindowUi& ui = Ui();
  const bool two_d = picture.height > 1 || picture.workgroup_y > 1 || picture.grid_y > 1;
  const uint32_t wx = std::max(picture.workgroup_x, 1u), wy = std::max(picture.workgroup_y, 1u);
  const uint32_t launched_x = LaunchedX(picture), launched_y = LaunchedY(picture);
  const uint64_t elements = uint64_t{picture.width} * std::max(picture.height, 1u);
  const uint64_t launched = uint64_t{launched_x} * launched_y;
  ImGui::TextWrapped("%s elements%s, %u x %u workgroups of %u x %u invocations (subgroups of %u): %s invocations "
                     "launched, %u of them idle.",
                     FormatCount(double(elements)).c_str(),
                     two_d ? (" (" + std::to_string(picture.width) + " x " + std::to_string(picture.height) + ")").c_str() : "",
                     picture.grid_x, picture.grid_y, wx, wy, picture.subgroup_size, FormatCount(double(launched)).c_str(),
                     picture.idle_invocations);
  Muted("Each element is coloured by the workgroup that computed it, as the kernel wrote it; grey cells are the idle "
        "invocations of the last workgroups (the bounds guard returns them); white lines outline subgroups. "
        "Zoom in to read each invocation's gl_LocalInvocationIndex.");
  ImGui::SetNextItemWidth(Scaled(220));
  ImGui::SliderFloat("cell size (0: fit)", &ui.cell_pixels, 0.0f, 48.0f, ui.cell_pixels <= 0 ? "fit" : "%.0f px");
  RecordItemRect("lab_grid_zoom");
  ImGui::TextWrapped("%s", ui.hovered_formula.empty() ? "Hover a cell: its IDs, and the sum that makes them."
                                                      : ui.hovered_formula.c_str());
  RecordItemRect("lab_grid_formula");
  ui.hovered_formula.clear();

  // 1D: rows of whole workgroups where they fit; 2D: the launched grid as it is.
  const ImVec2 avail = ImGui::GetContentRegionAvail();
  const float width = std::max(avail.x - ImGui::GetStyle().ScrollbarSize, Scaled(100));
  float cell = ui.cell_pixels;
  if (cell <= 0) {
    cell = two_d ? std::min(width / launched_x, std::max(avail.y, Scaled(100)) / launched_y)
                 : std::sqrt(width * std::max(avail.y, Scaled(100)) / std::max<double>(double(launched), 1.0)) * 0.92f;
    cell = std::clamp(cell, 1.0f, 48.0f);
  }
  uint32_t row_cells = launched_x, rows = launched_y;
  if (!two_d) {
    const uint32_t fit = std::max(1u, static_cast<uint32_t>(width / cell));
    row_cells = fit >= wx ? wx * (fit / wx) : fit;
    rows = static_cast<uint32_t>((uint64_t{launched_x} + row_cells - 1) / row_cells);
  }
  // Cell (column, row) of the picture as a cell of the launched grid.
  const auto cell_of = [&](uint32_t column, uint32_t row, bool& exists) {
    if (two_d) {
      exists = column < launched_x && row < launched_y;
      return CellAt(picture, column, row);
    }
    const uint64_t linear = uint64_t{row} * row_cells + column;
    exists = linear < launched_x;
    return CellAt(picture, exists ? static_cast<uint32_t>(linear) : 0, 0);
  };

  ImGui::BeginChild("grid", ImVec2(0, 0), false, ImGuiWindowFlags_HorizontalScrollbar);
  const ImVec2 origin = ImGui::GetCursorScreenPos();
  ImGui::Dummy(ImVec2(row_cells * cell, rows * cell));
  RecordItemRect("lab_grid");
  ImDrawList* draw = ImGui::GetWindowDrawList();
  const ImVec2 clip_min = ImGui::GetWindowPos(), clip_max(clip_min.x + ImGui::GetWindowWidth(), clip_min.y + ImGui::GetWindowHeight());
  const uint32_t first_row = static_cast<uint32_t>(std::clamp((clip_min.y - origin.y) / cell, 0.0f, float(rows)));
  const uint32_t last_row = static_cast<uint32_t>(std::clamp((clip_max.y - origin.y) / cell + 1, 0.0f, float(rows)));
  const uint32_t first_col = static_cast<uint32_t>(std::clamp((clip_min.x - origin.x) / cell, 0.0f, float(row_cells)));
  const uint32_t last_col = static_cast<uint32_t>(std::clamp((clip_max.x - origin.x) / cell + 1, 0.0f, float(row_cells)));
  const bool outlines = cell >= 4, numbers = cell >= ImGui::CalcTextSize("000").x + 2;
  const float font = ImGui::GetFontSize();
  // First the fills: runs of one workgroup (or of idle cells) are one
  // rectangle, few triangles for a software rasteriser.
  for (uint32_t row = first_row; row < last_row; ++row) {
    const float y0 = origin.y + row * cell, y1 = y0 + cell;
    uint32_t run_start = first_col;
    GridCell run_cell;
    bool run_exists = false;
    for (uint32_t column = first_col; column <= last_col; ++column) {
      bool exists = false;
      const GridCell c = column < last_col ? cell_of(column, row, exists) : GridCell{};
      const bool same = column < last_col && column > run_start && exists == run_exists &&
                        c.workgroup == run_cell.workgroup && c.inside == run_cell.inside;
      if (column > first_col && !same) {
        if (run_exists) {
          const ImU32 color = run_cell.inside ? WorkgroupColor(run_cell.workgroup_id[0], run_cell.workgroup_id[1]) : kIdleColor;
          draw->AddRectFilled(ImVec2(origin.x + run_start * cell, y0), ImVec2(origin.x + column * cell, y1), color);
        }
        run_start = column;
      }
      if (column == run_start) run_cell = c, run_exists = exists;
    }
  }
  // Then what is drawn over them: idle marks, indices, workgroup and subgroup edges.
  for (uint32_t row = first_row; row < last_row && (numbers || outlines || cell >= 6); ++row) {
    const float y0 = origin.y + row * cell, y1 = y0 + cell;
    for (uint32_t column = first_col; column < last_col; ++column) {
      bool exists = false;
      const GridCell c = cell_of(column, row, exists);
      if (!exists) continue;
      const ImVec2 p0(origin.x + column * cell, y0), p1(p0.x + cell, y1);
      if (!c.inside && cell >= 6) draw->AddLine(ImVec2(p0.x + 2, p0.y + 2), ImVec2(p1.x - 2, p1.y - 2), IM_COL32(120, 120, 125, 255));
      if (numbers) {
        const std::string text = std::to_string(c.invocation);
        const ImVec2 size = ImGui::CalcTextSize(text.c_str());
        if (size.x + 2 <= cell) draw->AddText(ImVec2(p0.x + (cell - size.x) * 0.5f, p0.y + (cell - font) * 0.5f), IM_COL32(0, 0, 0, 220), text.c_str());
      }
      if (!outlines) continue;
      // A line where the next cell belongs to another workgroup (dark) or subgroup (white).
      bool right_exists = false, below_exists = false;
      const GridCell right = cell_of(column + 1, row, right_exists), below = cell_of(column, row + 1, below_exists);
      for (const auto& [other, other_exists, vertical] : {std::tuple{right, right_exists, true}, std::tuple{below, below_exists, false}}) {
        if (!other_exists || (vertical ? column + 1 >= row_cells : row + 1 >= rows)) continue;
        const ImVec2 a = vertical ? ImVec2(p1.x, p0.y) : ImVec2(p0.x, p1.y);
        if (other.workgroup != c.workgroup) draw->AddLine(a, p1, kGridLine, 2.0f);
        else if (c.inside && other.inside && other.subgroup != c.subgroup) draw->AddLine(a, p1, kSubgroupLine, 1.0f);
      }
    }
  }
  lab.drawn.grid_cells = static_cast<uint32_t>(std::min<uint64_t>(elements, UINT32_MAX));
  lab.drawn.idle_cells = static_cast<uint32_t>(std::min<uint64_t>(launched - std::min(launched, elements), UINT32_MAX));
  // The hovered cell: its IDs and the formula, with its numbers.
  const ImVec2 mouse = ImGui::GetIO().MousePos;
  if (ImGui::IsWindowHovered() && mouse.x >= origin.x && mouse.y >= origin.y) {
    const auto column = static_cast<uint32_t>((mouse.x - origin.x) / cell), row = static_cast<uint32_t>((mouse.y - origin.y) / cell);
    bool exists = false;
    const GridCell c = column < row_cells && row < rows ? cell_of(column, row, exists) : GridCell{};
    if (exists) {
      ui.hovered_formula = lab.drawn.hovered_formula = GlobalIdFormula(picture, c);
      ImGui::BeginTooltip();
      if (c.inside) ImGui::Text("element %u: workgroup %u, invocation %u, subgroup %u", c.element, c.workgroup, c.invocation, c.subgroup);
      else ImGui::Text("idle: workgroup %u, invocation %u (no element)", c.workgroup, c.invocation);
      ImGui::TextUnformatted(lab.drawn.hovered_formula.c_str());
      ImGui::EndTooltip();
    }
  }
  ImGui::EndChild();
}

// ---------------------------------------------------------------------------
// Choosing what to show of an instrumented run
// ---------------------------------------------------------------------------

// The workgroup, subgroup and step pickers (with play); returns false when
// the trace has no records.
// The steps the step slider runs over for a workgroup: every recorded step,
// unless a picture has its own (the reduction tree: its levels).
using StepsOf = std::function<std::vector<uint32_t>(uint32_t workgroup)>;

bool DrawTraceChoices(LabView& lab, const lab::LessonResult& result, bool subgroup_choice, std::vector<uint32_t>& steps,
                      bool start_at_end = false, const StepsOf& steps_of = {}) {
  WindowUi& ui = Ui();
  const lab::AccessTrace& trace = *result.trace;
  if (ui.picture_of != &result) {
    ui.picture_of = &result, ui.workgroup = 0, ui.subgroup = 0, ui.playing = false;
    ui.step = start_at_end ? INT32_MAX : 0;  // clamped to the last step below
  }
  const std::vector<uint32_t> workgroups = RecordedWorkgroups(trace);
  if (workgroups.empty()) {
    Muted("The instrumented run recorded nothing.");
    return false;
  }
  std::string line = "Recorded from the instrumented run of " + result.traced_variant + ": " +
                      FormatCount(double(trace.records.size())) + " accesses of the first " +
                      std::to_string(trace.workgroups_recorded) + " workgroups.";
  if (!trace.step_meaning.empty()) line += " A step here is: " + trace.step_meaning + ".";
  Muted(line.c_str());
  if (trace.overflowed()) {
    ImGui::PushStyleColor(ImGuiCol_Text, kFailedColor);
    ImGui::TextWrapped("The record buffer overflowed: the kernel tried to write %s records into room for %s; the "
                       "picture shows the first ones only.", FormatCount(double(trace.wanted)).c_str(),
                       FormatCount(double(trace.capacity)).c_str());
    ImGui::PopStyleColor();
  }
  ui.workgroup = std::clamp(ui.workgroup, 0, static_cast<int>(workgroups.size()) - 1);
  const float field = Scaled(160);
  ImGui::SetNextItemWidth(field);
  ImGui::SliderInt("workgroup", &ui.workgroup, 0, static_cast<int>(workgroups.size()) - 1,
                   std::to_string(workgroups[ui.workgroup]).c_str());
  RecordItemRect("lab_trace_workgroup");
  const uint32_t workgroup = workgroups[ui.workgroup];
  if (subgroup_choice) {
    const std::vector<uint32_t> subgroups = RecordedSubgroups(trace, workgroup);
    ui.subgroup = std::clamp(ui.subgroup, 0, std::max(0, static_cast<int>(subgroups.size()) - 1));
    ImGui::SameLine();
    ImGui::SetNextItemWidth(field);
    ImGui::SliderInt("subgroup", &ui.subgroup, 0, std::max(0, static_cast<int>(subgroups.size()) - 1),
                     subgroups.empty() ? "-" : std::to_string(subgroups[ui.subgroup]).c_str());
    RecordItemRect("lab_trace_subgroup");
  }
  steps = steps_of ? steps_of(workgroup) : RecordedSteps(trace, workgroup);
  const int last = std::max(0, static_cast<int>(steps.size()) - 1);
  const double now = ImGui::GetTime();
  if (ui.playing && now >= ui.next_step_at) {
    ui.step = ui.step >= last ? 0 : ui.step + 1;
    ui.next_step_at = now + kPlaySeconds;
  }
  ui.step = std::clamp(ui.step, 0, last);
  ImGui::SetNextItemWidth(field);
  ImGui::SliderInt("step", &ui.step, 0, last, steps.empty() ? "-" : std::to_string(steps[ui.step]).c_str());
  RecordItemRect("lab_trace_step");
  if (!trace.step_meaning.empty() && ImGui::IsItemHovered()) ImGui::SetTooltip("step: %s", trace.step_meaning.c_str());
  ImGui::SameLine();
  if (ImGui::Button(ui.playing ? "Pause" : "Play")) ui.playing = !ui.playing, ui.next_step_at = now + kPlaySeconds;
  RecordItemRect("lab_trace_play");
  lab.animating |= ui.playing;  // the window keeps drawing frames while it plays
  return true;
}

uint32_t ChosenWorkgroup(const lab::AccessTrace& trace) {
  const std::vector<uint32_t> workgroups = RecordedWorkgroups(trace);
  return workgroups.empty() ? 0 : workgroups[std::clamp(Ui().workgroup, 0, static_cast<int>(workgroups.size()) - 1)];
}

// ---------------------------------------------------------------------------
// What a subgroup touched: rows of 32 elements (128 bytes; for shared memory
// the 32 banks), only the rows touched, each element in its lane's colour
// ---------------------------------------------------------------------------

void DrawTouchStrip(LabView& lab, const lab::AccessTrace& trace, const SubgroupTouch& touch) {
  const bool shared = IsShared(touch.access);
  std::string line = std::to_string(touch.lane_index.size()) + " lanes " + AccessName(touch.access) + " " +
                     BufferName(trace, touch.buffer, touch.access) +
                     (touch.instruction ? " (access " + std::to_string(touch.instruction + 1) + ")" : "") + ": " +
                     std::to_string(touch.distinct) + " elements, ";
  line += touch.contiguous ? "contiguous" : "scattered over " + std::to_string(touch.span) + " elements";
  if (shared)  // a row is the 32 banks: what counts is how many distinct words one bank must serve
    line += touch.bank_ways <= 1 ? "; no bank conflict" : "; a " + std::to_string(touch.bank_ways) + "-way bank conflict";
  else
    line += ", in " + std::to_string(touch.segments) + (touch.segments == 1 ? " 128-byte segment" : " 128-byte segments");
  ImGui::TextWrapped("%s", line.c_str());
  // The rows touched, in order; at most a screenful.
  std::vector<uint32_t> rows;
  for (const auto& [lane, index] : touch.lane_index) rows.push_back(index / 32);
  std::sort(rows.begin(), rows.end());
  rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
  constexpr size_t kMaxRows = 12;
  const float label_width = ImGui::CalcTextSize("00000000").x;
  const float cell = std::clamp((ImGui::GetContentRegionAvail().x - label_width - 8) / 32, 4.0f, 28.0f);
  ImDrawList* draw = ImGui::GetWindowDrawList();
  const float font = ImGui::GetFontSize();
  for (size_t r = 0; r < std::min(rows.size(), kMaxRows); ++r) {
    if (r > 0 && rows[r] != rows[r - 1] + 1) Muted(("... " + std::to_string(rows[r] - rows[r - 1] - 1) + " rows untouched").c_str());
    const ImVec2 at = ImGui::GetCursorScreenPos();
    const std::string label = std::to_string(rows[r] * 32);
    draw->AddText(ImVec2(at.x + label_width - ImGui::CalcTextSize(label.c_str()).x, at.y + (cell - font) * 0.5f),
                  ImGui::GetColorU32(ImGuiCol_TextDisabled), label.c_str());
    const float x0 = at.x + label_width + 8;
    for (int e = 0; e < 32; ++e) draw->AddRectFilled(ImVec2(x0 + e * cell, at.y), ImVec2(x0 + (e + 1) * cell - 1, at.y + cell - 1), kUntouched);
    for (const auto& [lane, index] : touch.lane_index) {
      if (index / 32 != rows[r]) continue;
      const float x = x0 + (index % 32) * cell;
      draw->AddRectFilled(ImVec2(x, at.y), ImVec2(x + cell - 1, at.y + cell - 1), ClassColor(static_cast<int>(lane)));
      const std::string text = std::to_string(lane);
      if (ImGui::CalcTextSize(text.c_str()).x + 2 <= cell)
        draw->AddText(ImVec2(x + 1, at.y + (cell - font) * 0.5f), IM_COL32(0, 0, 0, 230), text.c_str());
      ++lab.drawn.touched;
    }
    ImGui::Dummy(ImVec2(label_width + 8 + 32 * cell, cell));
  }
  if (rows.size() > kMaxRows) Muted(("... and " + std::to_string(rows.size() - kMaxRows) + " more rows touched").c_str());
}

// The strips of a subgroup's accesses at a step: the first few instructions
// of each buffer and kind, then a line for the rest (with their bank conflicts).
void DrawTouches(LabView& lab, const lab::AccessTrace& trace, const std::vector<SubgroupTouch>& touches, bool shared_only) {
  constexpr uint32_t kShownInstructions = 2;
  for (size_t i = 0; i < touches.size();) {
    size_t end = i;
    while (end < touches.size() && touches[end].buffer == touches[i].buffer && touches[end].access == touches[i].access) ++end;
    if (!shared_only || IsShared(touches[i].access)) {
      for (size_t t = i; t < std::min(end, i + kShownInstructions); ++t) {
        ImGui::Spacing();
        DrawTouchStrip(lab, trace, touches[t]);
      }
      if (end - i > kShownInstructions) {
        uint64_t extra_turns = 0;
        for (size_t t = i + kShownInstructions; t < end; ++t) extra_turns += touches[t].bank_ways - 1;
        std::string more = "... and " + std::to_string(end - i - kShownInstructions) + " more accesses of this kind to " +
                           BufferName(trace, touches[i].buffer, touches[i].access) + " at this step";
        if (IsShared(touches[i].access)) more += " (" + std::to_string(extra_turns) + " extra bank turns among them)";
        Muted(more.c_str());
      }
    }
    i = end;
  }
}

void DrawSubgroupAccess(LabView& lab, const lab::LessonResult& result) {
  std::vector<uint32_t> steps;
  if (!DrawTraceChoices(lab, result, true, steps) || steps.empty()) return;
  const lab::AccessTrace& trace = *result.trace;
  const uint32_t workgroup = ChosenWorkgroup(trace);
  const std::vector<uint32_t> subgroups = RecordedSubgroups(trace, workgroup);
  if (subgroups.empty()) return;
  const uint32_t subgroup = subgroups[std::clamp(Ui().subgroup, 0, static_cast<int>(subgroups.size()) - 1)];
  Muted("Each row is 32 consecutive elements (128 bytes, one memory segment; in shared memory, the 32 banks); a "
        "coloured cell is an element a lane of the subgroup touched at this step, numbered by lane. Contiguous: one "
        "segment serves the subgroup; scattered: each lane needs its own.");
  DrawTouches(lab, trace, SubgroupTouches(trace, workgroup, subgroup, steps[Ui().step]), false);
}

// ---------------------------------------------------------------------------
// Matmul: the tile of C a workgroup owns, the tiles of A and B it reads at step k
// ---------------------------------------------------------------------------

// Draws a rows x columns matrix at `at`, `scale` pixels an element, with
// `indices` (row-major, sorted) filled in `color`; runs along a row are one
// rectangle. `over`: drawn over what is there (else the background first).
void DrawMatrix(ImDrawList* draw, ImVec2 at, uint64_t rows, uint64_t columns, float scale, const char* name,
                const std::vector<uint32_t>& indices, ImU32 color, bool over) {
  const ImVec2 end(at.x + columns * scale, at.y + rows * scale);
  if (!over) draw->AddRectFilled(at, end, kUntouched);
  for (size_t i = 0; i < indices.size();) {
    size_t j = i + 1;
    while (j < indices.size() && indices[j] == indices[j - 1] + 1 && indices[j] % columns != 0) ++j;
    const uint64_t row = indices[i] / columns, column = indices[i] % columns;
    if (row < rows)
      draw->AddRectFilled(ImVec2(at.x + column * scale, at.y + row * scale),
                          ImVec2(at.x + (column + (j - i)) * scale, at.y + (row + 1) * scale), color);
    i = j;
  }
  draw->AddRect(at, end, IM_COL32(160, 160, 170, 255));
  draw->AddText(ImVec2(at.x + 3, at.y + 2), IM_COL32(230, 230, 235, 255), name);
}

// "rows 16-31, columns 0-15" for row-major indices.
std::string Extent(const std::vector<uint32_t>& indices, uint64_t columns) {
  if (indices.empty() || columns == 0) return "nothing";
  uint64_t r0 = UINT64_MAX, r1 = 0, c0 = UINT64_MAX, c1 = 0;
  for (uint32_t index : indices) {
    r0 = std::min<uint64_t>(r0, index / columns), r1 = std::max<uint64_t>(r1, index / columns);
    c0 = std::min<uint64_t>(c0, index % columns), c1 = std::max<uint64_t>(c1, index % columns);
  }
  return "rows " + std::to_string(r0) + "-" + std::to_string(r1) + ", columns " + std::to_string(c0) + "-" + std::to_string(c1);
}

void DrawMatmulTiles(LabView& lab, const lab::LessonResult& result) {
  std::vector<uint32_t> steps;
  if (!DrawTraceChoices(lab, result, true, steps) || steps.empty()) return;
  const lab::AccessTrace& trace = *result.trace;
  const uint64_t m = result.shape[0], n = result.shape[1], k = result.shape[2];
  const uint32_t workgroup = ChosenWorkgroup(trace), step = steps[Ui().step];
  const auto buffer = [&](const char* name) { return static_cast<uint32_t>(BufferNamed(trace, name)); };
  const std::vector<uint32_t> c_tile = WorkgroupIndices(trace, workgroup, buffer("C"), true, 0, UINT32_MAX);
  const std::vector<uint32_t> a_now = WorkgroupIndices(trace, workgroup, buffer("A"), false, step, step);
  const std::vector<uint32_t> b_now = WorkgroupIndices(trace, workgroup, buffer("B"), false, step, step);
  // What it read before this step, dimmer: the bands of A and B fill as K is walked.
  const std::vector<uint32_t> a_before = step ? WorkgroupIndices(trace, workgroup, buffer("A"), false, 0, step - 1)
                                              : std::vector<uint32_t>{};
  const std::vector<uint32_t> b_before = step ? WorkgroupIndices(trace, workgroup, buffer("B"), false, 0, step - 1)
                                              : std::vector<uint32_t>{};
  ImGui::TextWrapped("C = A x B with A %llu x %llu, B %llu x %llu. Workgroup %u owns C %s. At step %u it reads A %s "
                     "and B %s (bright; what it read at earlier steps is dimmer).", (unsigned long long)m,
                     (unsigned long long)k, (unsigned long long)k, (unsigned long long)n, workgroup,
                     Extent(c_tile, n).c_str(), step, Extent(a_now, k).c_str(), Extent(b_now, n).c_str());
  // B above C, A left of C: each element of C is the dot product of its row of A and its column of B.
  const ImVec2 avail = ImGui::GetContentRegionAvail();
  const float room_x = avail.x * 0.95f, room_y = std::max(avail.y * 0.55f, Scaled(200));
  const float scale = std::clamp(std::min(room_x / float(k + n + 4), room_y / float(k + m + 4)), 0.05f, 16.0f);
  const ImVec2 at = ImGui::GetCursorScreenPos();
  const float gap = 2 * scale + 6;
  ImDrawList* draw = ImGui::GetWindowDrawList();
  const ImU32 color = WorkgroupColor(workgroup, 0);
  DrawMatrix(draw, ImVec2(at.x + k * scale + gap, at.y), k, n, scale, "B", b_before, Dim(color, 0.45f), false);
  DrawMatrix(draw, ImVec2(at.x + k * scale + gap, at.y), k, n, scale, "B", b_now, color, true);
  DrawMatrix(draw, ImVec2(at.x, at.y + k * scale + gap), m, k, scale, "A", a_before, Dim(color, 0.45f), false);
  DrawMatrix(draw, ImVec2(at.x, at.y + k * scale + gap), m, k, scale, "A", a_now, color, true);
  DrawMatrix(draw, ImVec2(at.x + k * scale + gap, at.y + k * scale + gap), m, n, scale, "C", c_tile, Dim(color, 0.75f), false);
  ImGui::Dummy(ImVec2((k + n) * scale + gap, (k + m) * scale + gap));
  RecordItemRect("lab_matmul_tiles");
  lab.drawn.touched += static_cast<uint32_t>(c_tile.size() + a_now.size() + b_now.size());
  // The chosen subgroup's shared-memory accesses at this step: the banks they hit.
  const std::vector<uint32_t> subgroups = RecordedSubgroups(trace, workgroup);
  if (subgroups.empty()) return;
  const uint32_t subgroup = subgroups[std::clamp(Ui().subgroup, 0, static_cast<int>(subgroups.size()) - 1)];
  DrawTouches(lab, trace, SubgroupTouches(trace, workgroup, subgroup, step), true);
}

// ---------------------------------------------------------------------------
// Reduction: one workgroup's tree, level by level
// ---------------------------------------------------------------------------

void DrawReductionTree(LabView& lab, const lab::LessonResult& result) {
  std::vector<uint32_t> steps;
  std::vector<TreeLevel> levels;
  const StepsOf level_steps = [&](uint32_t workgroup) {
    levels = ReductionLevels(*result.trace, workgroup);
    std::vector<uint32_t> level_steps;
    for (const TreeLevel& level : levels) level_steps.push_back(level.step);
    return level_steps;
  };
  if (!DrawTraceChoices(lab, result, false, steps, true, level_steps)) return;  // the whole tree first; Play builds it up
  if (levels.empty()) return;
  const int shown = std::clamp(Ui().step, 0, static_cast<int>(levels.size()) - 1);
  const TreeLevel& current = levels[shown];
  const auto count = [](size_t n, const char* one, const char* many) { return std::to_string(n) + " " + (n == 1 ? one : many); };
  ImGui::TextWrapped("Step %u: %s active in %s. A subgroup runs while any of its lanes is active: spread-out active "
                     "invocations keep every subgroup busy for little work (divergence).", current.step,
                     count(current.moves.size(), "invocation", "invocations").c_str(),
                     count(current.subgroups, "subgroup", "subgroups").c_str());
  uint32_t width = 1;
  for (const TreeLevel& level : levels)
    for (const TreeLevel::Move& move : level.moves)
      for (const std::vector<uint32_t>* list : {&move.reads, &move.writes})
        if (!list->empty()) width = std::max(width, list->back() + 1);
  const ImVec2 avail = ImGui::GetContentRegionAvail();
  const float label = ImGui::CalcTextSize("step 00: 0000 active").x + 8;
  const float cell = std::clamp((avail.x - label - 8) / width, 1.0f, 28.0f);
  const float row_gap = std::max(cell, ImGui::GetFontSize()) * 1.6f;
  ImDrawList* draw = ImGui::GetWindowDrawList();
  const ImVec2 at = ImGui::GetCursorScreenPos();
  const float x0 = at.x + label;
  const float font = ImGui::GetFontSize();
  for (int l = 0; l <= shown; ++l) {
    const TreeLevel& level = levels[l];
    const float y = at.y + l * row_gap;
    const std::string text = "step " + std::to_string(level.step) + ": " + std::to_string(level.moves.size()) + " active";
    draw->AddText(ImVec2(at.x, y), l == shown ? ImGui::GetColorU32(ImGuiCol_Text) : ImGui::GetColorU32(ImGuiCol_TextDisabled), text.c_str());
    const float box = font * 0.8f;  // cells as wide as the row allows, tall enough to see
    for (uint32_t e = 0; e < width; ++e) draw->AddRectFilled(ImVec2(x0 + e * cell, y), ImVec2(x0 + (e + 1) * cell - (cell > 3), y + box), kUntouched);
    for (const TreeLevel::Move& move : level.moves) {
      const ImU32 color = l == shown ? ClassColor(static_cast<int>(move.invocation)) : Dim(ClassColor(static_cast<int>(move.invocation)), 0.5f);
      for (uint32_t w : move.writes) {
        draw->AddRectFilled(ImVec2(x0 + w * cell, y), ImVec2(x0 + (w + 1) * cell - (cell > 3), y + box), color);
        // From each element read (a row up) to the element written.
        if (l > 0)
          for (uint32_t r : move.reads)
            draw->AddLine(ImVec2(x0 + (r + 0.5f) * cell, y - row_gap + box), ImVec2(x0 + (w + 0.5f) * cell, y), Dim(color, 0.9f));
      }
      ++lab.drawn.touched;
    }
  }
  ImGui::Dummy(ImVec2(label + width * cell, (shown + 1) * row_gap));
  RecordItemRect("lab_tree");
  lab.drawn.tree_levels = static_cast<uint32_t>(levels.size());
}

}  // namespace

bool HasPicture(const lab::LessonResult& result) {
  return result.grid.has_value() || (result.trace.has_value() && !result.trace->records.empty());
}

const char* PictureName(const lab::LessonResult& result) {
  if (result.grid) return "Grid";
  if (result.lesson == "reduction") return "Tree";
  if (IsMatmulTrace(result)) return "Tiles";
  return "Access";
}

void DrawPicture(LabView& lab, const lab::LessonResult& result) {
  if (result.grid) {
    DrawGrid(lab, *result.grid);
    return;
  }
  if (!result.trace) return;
  const std::string name = PictureName(result);
  if (name == "Tree") DrawReductionTree(lab, result);
  else if (name == "Tiles") DrawMatmulTiles(lab, result);
  else DrawSubgroupAccess(lab, result);
}

}  // namespace ts::ui::lab_view
