#include "ui/widgets/drawing_canvas.h"

#include <algorithm>
#include <cmath>

#include "ui/widgets/value_tiles.h"

namespace ts::ui {
namespace {

constexpr int kN = DrawingCanvas::kResolution;
constexpr float kInkThreshold = 0.02f;  // fainter ink does not widen the bounding box

// Area-weighted average of the canvas over the source rectangle [x0, x1) x [y0, y1)
// (canvas units, may be fractional); 0 outside the canvas.
float AreaAverage(const std::vector<float>& ink, float x0, float y0, float x1, float y1) {
  const float area = (x1 - x0) * (y1 - y0);
  if (area <= 0) return 0;
  double sum = 0;
  for (int y = std::max(0, int(std::floor(y0))); y < std::min(kN, int(std::ceil(y1))); ++y) {
    const float wy = std::min(y1, float(y + 1)) - std::max(y0, float(y));
    if (wy <= 0) continue;
    for (int x = std::max(0, int(std::floor(x0))); x < std::min(kN, int(std::ceil(x1))); ++x) {
      const float wx = std::min(x1, float(x + 1)) - std::max(x0, float(x));
      if (wx > 0) sum += double(wx) * wy * ink[size_t(y) * kN + x];
    }
  }
  return static_cast<float>(sum / area);
}

uint8_t ToByte(float v) { return static_cast<uint8_t>(std::lround(255.0f * std::clamp(v, 0.0f, 1.0f))); }

}  // namespace

void DrawingCanvas::Clear() {
  std::fill(ink.begin(), ink.end(), 0.0f);
  stroke_end.reset();
  ++version;
}

bool DrawingCanvas::empty() const {
  return std::none_of(ink.begin(), ink.end(), [](float v) { return v > kInkThreshold; });
}

void DrawingCanvas::PaintSegment(ImVec2 from, ImVec2 to) {
  const float dx = to.x - from.x, dy = to.y - from.y;
  const float length = std::sqrt(dx * dx + dy * dy);
  // Every canvas sample within the brush radius of the segment: ink by its distance to it.
  const int x0 = std::max(0, int(std::floor(std::min(from.x, to.x) - kBrushRadius)));
  const int x1 = std::min(kN - 1, int(std::ceil(std::max(from.x, to.x) + kBrushRadius)));
  const int y0 = std::max(0, int(std::floor(std::min(from.y, to.y) - kBrushRadius)));
  const int y1 = std::min(kN - 1, int(std::ceil(std::max(from.y, to.y) + kBrushRadius)));
  for (int y = y0; y <= y1; ++y)
    for (int x = x0; x <= x1; ++x) {
      const float px = x + 0.5f - from.x, py = y + 0.5f - from.y;
      const float along = length > 0 ? std::clamp((px * dx + py * dy) / (length * length), 0.0f, 1.0f) : 0.0f;
      const float ex = px - along * dx, ey = py - along * dy;
      const float distance = std::sqrt(ex * ex + ey * ey);
      const float value = std::clamp((kBrushRadius - distance) / (kBrushRadius - kBrushCore), 0.0f, 1.0f);
      float& cell = ink[size_t(y) * kN + x];
      cell = std::max(cell, value);  // strokes crossing do not add up past full ink
    }
  ++version;
}

bool DrawingCanvasWidget(const char* id, DrawingCanvas& canvas, float size) {
  const ImVec2 corner = ImGui::GetCursorScreenPos();
  ImGui::InvisibleButton(id, ImVec2(size, size));
  const float cell = size / kN;
  bool changed = false;
  if (ImGui::IsItemActive() && ImGui::IsMouseDown(ImGuiMouseButton_Left)) {
    const ImVec2 mouse = ImGui::GetIO().MousePos;
    const ImVec2 point((mouse.x - corner.x) / cell, (mouse.y - corner.y) / cell);
    canvas.PaintSegment(canvas.stroke_end.value_or(point), point);
    canvas.stroke_end = point;
    changed = true;
  } else {
    canvas.stroke_end.reset();
  }
  ImDrawList* draw = ImGui::GetWindowDrawList();
  DrawValueTile(draw, corner, kN, kN, cell, IM_COL32(0, 0, 0, 255),
                [&](uint32_t y, uint32_t x) { return GreyColor(canvas.ink[size_t(y) * kN + x]); });
  draw->AddRect(corner, ImVec2(corner.x + size, corner.y + size),
                ImGui::GetColorU32(ImGui::IsItemHovered() ? ImGuiCol_ButtonHovered : ImGuiCol_Border));
  return changed;
}

std::vector<uint8_t> CanvasToImage(const DrawingCanvas& canvas, uint32_t height, uint32_t width,
                                   bool centre_like_mnist) {
  std::vector<uint8_t> image(size_t(height) * width, 0);
  if (height == 0 || width == 0) return image;
  if (!centre_like_mnist) {
    const float sx = float(kN) / width, sy = float(kN) / height;
    for (uint32_t y = 0; y < height; ++y)
      for (uint32_t x = 0; x < width; ++x)
        image[size_t(y) * width + x] = ToByte(AreaAverage(canvas.ink, x * sx, y * sy, (x + 1) * sx, (y + 1) * sy));
    return image;
  }
  // The ink's bounding box.
  int left = kN, top = kN, right = -1, bottom = -1;
  for (int y = 0; y < kN; ++y)
    for (int x = 0; x < kN; ++x)
      if (canvas.ink[size_t(y) * kN + x] > kInkThreshold)
        left = std::min(left, x), right = std::max(right, x), top = std::min(top, y), bottom = std::max(bottom, y);
  if (right < 0) return image;
  const float box_width = float(right - left + 1), box_height = float(bottom - top + 1);
  // MNIST: the longer side becomes 20 of 28 pixels.
  const float box = 20.0f / 28.0f * float(std::min(height, width));
  const float scale = box / std::max(box_width, box_height);  // image pixels per canvas sample
  const int scaled_width = std::clamp(int(std::lround(box_width * scale)), 1, int(width));
  const int scaled_height = std::clamp(int(std::lround(box_height * scale)), 1, int(height));
  std::vector<float> scaled(size_t(scaled_width) * scaled_height);
  double mass = 0, mass_x = 0, mass_y = 0;
  for (int y = 0; y < scaled_height; ++y)
    for (int x = 0; x < scaled_width; ++x) {
      const float v = AreaAverage(canvas.ink, left + x / scale, top + y / scale, left + (x + 1) / scale,
                                  top + (y + 1) / scale);
      scaled[size_t(y) * scaled_width + x] = v;
      mass += v, mass_x += v * (x + 0.5), mass_y += v * (y + 0.5);
    }
  if (mass <= 0) return image;
  // Shift so the centre of mass lands on the image's centre, keeping the ink inside.
  const int shift_x = std::clamp(int(std::lround(width / 2.0 - mass_x / mass)), 0, int(width) - scaled_width);
  const int shift_y = std::clamp(int(std::lround(height / 2.0 - mass_y / mass)), 0, int(height) - scaled_height);
  for (int y = 0; y < scaled_height; ++y)
    for (int x = 0; x < scaled_width; ++x)
      image[size_t(y + shift_y) * width + (x + shift_x)] = ToByte(scaled[size_t(y) * scaled_width + x]);
  return image;
}

}  // namespace ts::ui
