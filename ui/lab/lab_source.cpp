// The Kernel Lab's source view: the selected variant's GLSL, read-only, with
// line numbers and colours for keywords, types, builtins, comments and numbers.
#include <algorithm>
#include <cfloat>
#include <exception>
#include <stdexcept>
#include <string>

#include "ui/lab/lab_internal.h"
#include "ui/test_hooks.h"
#include "ui/widgets/text.h"

namespace ts::ui::lab_view {
namespace {

ImU32 TokenColor(GlslToken kind) {
  switch (kind) {
    case GlslToken::kKeyword: return IM_COL32(197, 134, 192, 255);
    case GlslToken::kType: return IM_COL32(78, 201, 176, 255);
    case GlslToken::kBuiltin: return IM_COL32(220, 220, 150, 255);
    case GlslToken::kComment: return IM_COL32(106, 165, 85, 255);
    case GlslToken::kNumber: return IM_COL32(181, 206, 168, 255);
    case GlslToken::kPreprocessor: return IM_COL32(100, 160, 220, 255);
    case GlslToken::kPlain: break;
  }
  return ImGui::GetColorU32(ImGuiCol_Text);
}

// Splits the source into lines (tabs as two spaces) and colours each once.
void LoadSource(WindowUi& ui, const LabView& lab, const std::string& shader) {
  ui.source_shader = shader;
  ui.source_lines.clear();
  ui.source_error.clear();
  std::string text;
  try {
    if (!lab.shader_source) throw std::runtime_error("no shader sources in this build");
    text = lab.shader_source(shader);
  } catch (const std::exception& e) {
    ui.source_error = "The source of " + shader + " is not available: " + e.what();
    return;
  }
  bool in_comment = false;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    WindowUi::Line line;
    for (size_t i = start; i < end; ++i) {
      if (text[i] == '\t') line.text += "  ";
      else if (text[i] != '\r') line.text += text[i];
    }
    line.spans = HighlightGlslLine(line.text, in_comment);
    ui.source_lines.push_back(std::move(line));
    if (end == text.size()) break;
    start = end + 1;
  }
  while (!ui.source_lines.empty() && ui.source_lines.back().text.empty()) ui.source_lines.pop_back();
}

void DrawVariantFacts(const lab::Variant& v) {
  if (!v.what_changed.empty()) ImGui::TextWrapped("%s", v.what_changed.c_str());
  std::string facts = "shaders/" + v.shader + ".comp: " + std::to_string(v.grid[0]) + " x " + std::to_string(v.grid[1]) +
                      " x " + std::to_string(v.grid[2]) + " workgroups of " + std::to_string(v.workgroup[0]) + " x " +
                      std::to_string(v.workgroup[1]) + " x " + std::to_string(v.workgroup[2]) + " invocations";
  if (v.shared_memory_bytes) facts += ", " + std::to_string(v.shared_memory_bytes) + " bytes of shared memory each";
  if (!v.specialization.empty()) {
    facts += "; specialization constants:";
    for (const auto& [name, value] : v.specialization) facts += " " + name + " = " + std::to_string(value);
  }
  Muted(facts.c_str());
}

}  // namespace

void DrawSourceView(LabView& lab, const lab::LessonResult* result) {
  const lab::Variant* variant = result ? SelectedVariant(lab, *result) : nullptr;
  if (!variant) {
    Muted("The GLSL source of the selected variant appears here once the lesson has run.");
    return;
  }
  ImGui::SetNextItemWidth(-1);
  if (ImGui::BeginCombo("##variant", variant->name.c_str())) {
    for (const lab::Variant& v : result->variants)
      if (ImGui::Selectable(v.name.c_str(), &v == variant)) lab.variant = v.name;
    ImGui::EndCombo();
  }
  RecordItemRect("lab_source_variant");
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("The variant whose source is shown (a click on a table row picks it too).");
  DrawVariantFacts(*variant);
  WindowUi& ui = Ui();
  if (ui.source_shader != variant->shader) LoadSource(ui, lab, variant->shader);
  if (!ui.source_error.empty()) {
    Muted(ui.source_error.c_str());
    return;
  }
  ImGui::BeginChild("source", ImVec2(0, 0), true, ImGuiWindowFlags_HorizontalScrollbar);
  ImDrawList* draw = ImGui::GetWindowDrawList();
  ImFont* font = ImGui::GetFont();
  const float font_size = ImGui::GetFontSize(), line_height = ImGui::GetTextLineHeightWithSpacing();
  const std::string widest = std::to_string(ui.source_lines.size());
  const float number_width = ImGui::CalcTextSize(widest.c_str()).x, gap = font_size;
  const ImU32 muted = ImGui::GetColorU32(ImGuiCol_TextDisabled);
  ImGuiListClipper clipper;
  clipper.Begin(static_cast<int>(ui.source_lines.size()), line_height);
  while (clipper.Step()) {
    for (int i = clipper.DisplayStart; i < clipper.DisplayEnd; ++i) {
      const WindowUi::Line& line = ui.source_lines[i];
      const ImVec2 at = ImGui::GetCursorScreenPos();
      const std::string number = std::to_string(i + 1);
      draw->AddText(ImVec2(at.x + number_width - ImGui::CalcTextSize(number.c_str()).x, at.y), muted, number.c_str());
      float x = at.x + number_width + gap;
      for (const GlslSpan& span : line.spans) {
        const char* begin = line.text.data() + span.begin;
        const char* end = line.text.data() + span.end;
        draw->AddText(font, font_size, ImVec2(x, at.y), TokenColor(span.kind), begin, end);
        x += font->CalcTextSizeA(font_size, FLT_MAX, 0, begin, end).x;
      }
      ImGui::Dummy(ImVec2(x - at.x, line_height - ImGui::GetStyle().ItemSpacing.y));
    }
  }
  ImGui::EndChild();
  RecordItemRect("lab_source");
  lab.drawn.source_lines = static_cast<uint32_t>(ui.source_lines.size());
}

}  // namespace ts::ui::lab_view
