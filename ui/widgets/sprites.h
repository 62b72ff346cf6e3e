// Point markers baked into the font atlas, so a scatter point is one textured
// quad (2 triangles) instead of stacked anti-aliased circles (dozens). On a
// software rasterizer thousands of points otherwise cost most of a frame.
//
// The renderer calls AddSpritesToAtlas before the atlas is built and
// PaintSpritesIntoAtlas after, before the font texture is uploaded. Without
// them (e.g. in widget tests without a renderer) DrawSprite falls back to
// filled circles.
#pragma once

#include "imgui.h"

namespace ts::ui {

enum class Sprite {
  kDot,   // a filled disc with a dark halo: the colour fills the disc
  kRing,  // a ring with a dark centre and halo: the colour fills the ring
};

// Reserves the sprites' rectangles in `atlas` (before it is built).
void AddSpritesToAtlas(ImFontAtlas* atlas);
// Paints the sprites into the built atlas's RGBA32 pixels.
void PaintSpritesIntoAtlas(ImFontAtlas* atlas);

// Draws `sprite` centred at `centre` with the given outer radius (halo
// included), tinted by `color`.
void DrawSprite(ImDrawList* draw, Sprite sprite, ImVec2 centre, float radius, ImU32 color);

}  // namespace ts::ui
