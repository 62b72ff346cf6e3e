// Internal to the Kernel Lab window (ui/lab/*.cpp): what its parts share.
// Not part of the UI library's API.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "compute/lab/lab.h"
#include "imgui.h"
#include "ui/app_state.h"
#include "ui/lab/lab_geometry.h"
#include "ui/widgets/plot.h"

namespace ts::ui::lab_view {

constexpr ImU32 kFailedColor = IM_COL32(255, 110, 100, 255);
constexpr ImU32 kPassedColor = IM_COL32(110, 200, 120, 255);

// What the window keeps between frames that is not LabView: chart views, the
// pictures' choices, the source's colouring. Reset when the ImGui context changes.
struct WindowUi {
  ImGuiContext* context = nullptr;
  std::map<std::string, PlotState> chart_views;  // by lesson and chart title
  // The source view: the shader shown and its lines, coloured once.
  std::string source_shader;
  std::string source_error;
  struct Line {
    std::string text;
    std::vector<GlslSpan> spans;
  };
  std::vector<Line> source_lines;
  int last_frame = -1;  // a frame count that goes back: another context (at the old one's address)
  // The grid picture.
  float cell_pixels = 0;  // 0: fit the picture to the view
  std::string hovered_formula;  // of the cell hovered last ("" when none)
  // The instrumented run's pictures: which workgroup, subgroup and step.
  const lab::LessonResult* picture_of = nullptr;  // the result the choices below were made for
  int workgroup = 0, subgroup = 0, step = 0;
  bool playing = false;
  double next_step_at = 0;
};
WindowUi& Ui();

// The result shown for the lesson on screen (null: none yet).
const LabView::Outcome* ShownOutcome(const LabView& lab);
// The variant the source and pictures are of: LabView::variant when the
// result has it, else the traced variant, else the first.
const lab::Variant* SelectedVariant(const LabView& lab, const lab::LessonResult& result);

// A tick (passed) or a cross (failed) drawn as an item the size of a text line.
void CheckMark(bool passed);

// The parts of the window.
void DrawVariantsTable(LabView& lab, const lab::LessonResult& result);
void DrawNotes(LabView& lab, const lab::LessonResult& result);
void DrawOccupancy(const lab::LessonResult& result);  // lesson 5: this device and the reference GPUs
void DrawCharts(LabView& lab, const lab::LessonResult& result);
void DrawRooflineView(LabView& lab, const lab::LessonResult& result);
void DrawSourceView(LabView& lab, const lab::LessonResult* result);
// The grid picture (lesson 1), the access picture or the reduction tree:
// whichever the result has. False when it has none of them.
bool HasPicture(const lab::LessonResult& result);
const char* PictureName(const lab::LessonResult& result);
void DrawPicture(LabView& lab, const lab::LessonResult& result);

}  // namespace ts::ui::lab_view
