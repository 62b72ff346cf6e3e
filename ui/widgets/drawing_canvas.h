// A drawing surface for handwritten digits and shapes, and the preprocessing
// that turns a drawing into a network input the way MNIST was made: the ink's
// bounding box scaled (anti-aliased, aspect kept) to fit a 20 x 20 box, then
// placed in the 28 x 28 field so that its centre of mass is at the centre.
//
//   static DrawingCanvas canvas;
//   if (DrawingCanvasWidget("draw", canvas, 224)) changed = true;
//   std::vector<uint8_t> input = CanvasToImage(canvas, 28, 28, /*centre_like_mnist=*/true);
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "imgui.h"

namespace ts::ui {

struct DrawingCanvas {
  static constexpr int kResolution = 112;  // ink samples per side (4 x 28: strokes keep soft edges)
  // The brush in canvas samples: solid to kBrushCore, fading to nothing at
  // kBrushRadius. A digit drawn across most of the canvas then ends up with
  // strokes about 2.5 pixels wide in its 20-pixel box, as MNIST's pen strokes are.
  static constexpr float kBrushRadius = 6.0f;
  static constexpr float kBrushCore = 3.0f;

  std::vector<float> ink = std::vector<float>(kResolution * kResolution, 0.0f);  // row-major, [0, 1]
  std::optional<ImVec2> stroke_end;  // where the stroke being drawn last got to (canvas units)
  uint64_t version = 0;              // bumped by every change

  void Clear();
  bool empty() const;
  // Paints a brush stroke from `from` to `to` (canvas units, may lie outside).
  void PaintSegment(ImVec2 from, ImVec2 to);
};

// Draws the canvas at the cursor as a `size` x `size` square; the left
// mouse button paints. Returns true when the ink changed this frame.
bool DrawingCanvasWidget(const char* id, DrawingCanvas& canvas, float size);

// The drawing as a height x width grey image, 0 = no ink, 255 = full ink.
// centre_like_mnist: the ink's bounding box scaled to fit a box of 20/28 of
// the image (aspect kept, area-averaged) and placed so its centre of mass is at
// the image's centre; otherwise the whole canvas area-averaged to the image.
std::vector<uint8_t> CanvasToImage(const DrawingCanvas& canvas, uint32_t height, uint32_t width,
                                   bool centre_like_mnist);

}  // namespace ts::ui
