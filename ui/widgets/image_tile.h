// Dataset images drawn as small tiles on an ImDrawList: the data preview, the
// sample predictions, and the inside views' test images and mistakes.
// Images are H x W x C with channels innermost (the network's NHWC layout);
// C = 3 is RGB, any other C shows its first channel in grey. Colours are
// quantised (value_tiles.h) so runs of equal colour merge into one rectangle:
// on a software rasterizer a noisy image otherwise costs one per pixel.
#pragma once

#include <cstddef>
#include <cstdint>

#include "compute/data/dataset.h"
#include "imgui.h"

namespace ts::ui {

// Sample `index` of an image dataset (sample_shape {C, H, W}) with its
// top-left corner at `corner`, each pixel `cell` screen pixels wide. uint8
// data is shown as stored (0..255 -> black..white); float data normalised and
// clamped to [0, 1]. `step` > 1 draws each step x step block of pixels as one
// square of their mean (thumbnails). Returns the tile's size; nothing is drawn
// for non-image datasets or an index out of range.
ImVec2 DrawImageTile(ImDrawList* draw, ImVec2 corner, const data::Dataset& dataset, size_t index, float cell,
                     uint32_t step = 1);

// True for datasets whose samples are images (sample_shape {C, H, W}).
bool IsImageDataset(const data::Dataset& dataset);

}  // namespace ts::ui
