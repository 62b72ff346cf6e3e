#include "ui/widgets/sprites.h"

#include <algorithm>
#include <cmath>

namespace ts::ui {
namespace {

constexpr int kSpriteTexels = 32;  // drawn scaled down with bilinear filtering: smooth edges at any size
constexpr int kSpriteCount = 2;

struct AtlasSprites {
  const ImFontAtlas* atlas = nullptr;  // the atlas the ids below belong to
  int rect_ids[kSpriteCount] = {-1, -1};
  bool painted = false;
};
AtlasSprites g_sprites;

// Coverage of a disc of radius r (in texels) at distance d from its centre, with a one-texel soft edge.
float Coverage(float d, float r) { return std::clamp(r - d + 0.5f, 0.0f, 1.0f); }

}  // namespace

void AddSpritesToAtlas(ImFontAtlas* atlas) {
  g_sprites = {};
  g_sprites.atlas = atlas;
  for (int& id : g_sprites.rect_ids) id = atlas->AddCustomRectRegular(kSpriteTexels, kSpriteTexels);
}

void PaintSpritesIntoAtlas(ImFontAtlas* atlas) {
  if (g_sprites.atlas != atlas) return;
  unsigned char* pixels = nullptr;
  int width = 0, height = 0;
  atlas->GetTexDataAsRGBA32(&pixels, &width, &height);
  const float centre = kSpriteTexels / 2.0f, outer = centre - 0.5f;
  for (int s = 0; s < kSpriteCount; ++s) {
    const ImFontAtlasCustomRect* rect = atlas->GetCustomRectByIndex(g_sprites.rect_ids[s]);
    if (!rect || !rect->IsPacked()) return;
    for (int y = 0; y < kSpriteTexels; ++y)
      for (int x = 0; x < kSpriteTexels; ++x) {
        float d = std::hypot(x + 0.5f - centre, y + 0.5f - centre);
        // White where the tint shows, dark (near black) for the halo; alpha is the disc.
        float white = s == 0 ? Coverage(d, outer * 0.78f)
                             : Coverage(d, outer * 0.78f) * (1.0f - Coverage(d, outer * 0.42f));
        float alpha = Coverage(d, outer) * 0.9f + white * 0.1f;
        unsigned char* p = pixels + 4 * (size_t(rect->Y + y) * width + rect->X + x);
        unsigned char level = static_cast<unsigned char>(255 * white + 0.5f);
        p[0] = p[1] = p[2] = level;
        p[3] = static_cast<unsigned char>(255 * alpha + 0.5f);
      }
  }
  g_sprites.painted = true;
}

void DrawSprite(ImDrawList* draw, Sprite sprite, ImVec2 centre, float radius, ImU32 color) {
  ImFontAtlas* atlas = ImGui::GetIO().Fonts;
  const ImFontAtlasCustomRect* rect =
      g_sprites.painted && g_sprites.atlas == atlas ? atlas->GetCustomRectByIndex(g_sprites.rect_ids[int(sprite)]) : nullptr;
  if (!rect) {
    draw->AddCircleFilled(centre, radius, IM_COL32(0, 0, 0, 230), 8);
    draw->AddCircleFilled(centre, radius * 0.78f, color, 8);
    if (sprite == Sprite::kRing) draw->AddCircleFilled(centre, radius * 0.42f, IM_COL32(0, 0, 0, 230), 8);
    return;
  }
  ImVec2 uv0, uv1;
  atlas->CalcCustomRectUV(rect, &uv0, &uv1);
  draw->PrimReserve(6, 4);
  draw->PrimRectUV(ImVec2(centre.x - radius, centre.y - radius), ImVec2(centre.x + radius, centre.y + radius), uv0, uv1,
                   color);
}

}  // namespace ts::ui
