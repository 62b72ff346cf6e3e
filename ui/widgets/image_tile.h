// Small images drawn as coloured squares on an ImDrawList: dataset samples in
// the data preview and the prediction strip, later filters and feature maps.
// Images are H x W x C with channels innermost (the network's NHWC layout);
// C = 1 is grey, C = 3 is RGB, any other C shows its first channel.
#pragma once

#include <cstddef>
#include <functional>

#include "compute/data/dataset.h"
#include "imgui.h"

namespace ts::ui {

// Draws `height` x `width` pixels of `cell` screen pixels each with the
// top-left corner at `corner`. value(y, x, c) is in [0, 1] (clamped). Runs of
// equal colour along a row become one rectangle, so mostly-black images
// (MNIST) cost a few hundred vertices, not thousands.
void DrawPixels(ImDrawList* draw, ImVec2 corner, uint32_t height, uint32_t width, uint32_t channels, float cell,
                const std::function<float(uint32_t y, uint32_t x, uint32_t c)>& value);

// Sample `index` of an image dataset (sample_shape {C, H, W}). uint8 data is
// shown as stored (0..255); float data is shown normalised, clamped to [0, 1].
// Returns the tile's size. Nothing is drawn for non-image datasets.
ImVec2 DrawImageTile(ImDrawList* draw, ImVec2 corner, const data::Dataset& dataset, size_t index, float cell);

// True for datasets whose samples are images (sample_shape {C, H, W}).
bool IsImageDataset(const data::Dataset& dataset);

}  // namespace ts::ui
