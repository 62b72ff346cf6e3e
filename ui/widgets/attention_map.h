// Attention maps of a sequence model for one prompt (nn::AttentionMaps),
// drawn with ImDrawList on the current window:
//   - AttentionHeatmap: one head's T x T softmax weights, query rows (top to
//     bottom) by key columns (left to right); the causal upper triangle stays
//     empty; the prompt's characters label both axes (every 2nd, 4th, ... when
//     cells are smaller than a character; big cells also print their weight).
//     Hovering a cell or an axis character picks that query (a key-axis
//     character picks that token as the query): its row is outlined, and a
//     tooltip gives its top keys and weights.
//   - AttentionStrip: the prompt as a line of characters, each shaded by the
//     weight the chosen query gives it (where that token looks), so a learner
//     reads attention on the text itself; hovering a character picks it as
//     the query.
//   - AttentionHeadGrid: every head of one layer as small heatmaps; a click
//     picks the head.
// Colour: AttentionColor, dark (0) to bright. By default each query row is
// scaled by its own largest weight (AttentionScale::kRowMax), because a late
// query spreads its weight over many keys and would otherwise be uniformly
// dark; the legend and tooltips say so and give the raw weights.
// Characters are shown readably: a line break as a pilcrow, a space as a
// middle dot.
// Cells smaller than a pixel (a long prompt in a small box) are drawn as an
// image: each pixel shows the largest (scaled) weight of the cells it covers,
// and runs of one colour along a row are one rectangle, so a head costs at
// most T(T+1)/2 rectangles.
// With invalid input (no layers, no tokens, layer or head out of range,
// too few weights) nothing is drawn and cells is 0; AttentionHeatmap still
// reserves its box so the layout does not jump.
//
//   AttentionPick pick = AttentionHeatmap("att", maps, layer, head, view.query, ImVec2(360, 360));
//   if (pick.query >= 0) view.query = pick.query;   // hovering moves the query
//   AttentionStrip("strip", maps, layer, head, view.query);
#pragma once

#include <string>

#include "compute/nn/generate.h"
#include "imgui.h"

namespace ts::ui {

// What the mouse is on (-1: nothing), and what was drawn (for the GUI tests).
struct AttentionPick {
  int query = -1;         // hovered query row (or axis character / strip character)
  int key = -1;           // hovered key column (-1 on an axis, the strip, or an empty causal cell)
  float weight = 0.0f;    // maps.at(layer, head, query, key) when both are set
  int clicked_head = -1;  // AttentionHeadGrid: the head clicked
  int hovered_head = -1;  // AttentionHeadGrid: the head under the mouse
  int cells = 0;          // cells drawn (non-empty: key <= query); the strip: boxes shaded (query + 1)
  ImVec2 map_min{0, 0}, map_max{0, 0};  // on screen: the heatmap's cell square (cell (q, k) is at
                                        // map_min + (k, q) * side / T); the strip's or grid's whole box
};

// How weights become brightness.
enum class AttentionScale {
  kRowMax,    // weight / the largest weight in its query row (each row's strongest key is brightest)
  kAbsolute,  // the weight itself, 0 to 1
};

// A readable label of one token: "\n" -> pilcrow, " " -> middle dot, "\t" ->
// right guillemet, other control characters -> "\xNN"; others unchanged.
std::string VisibleToken(const std::string& token);

// Sequential colour map for t in [0, 1] (clamped): dark blue, teal, green,
// yellow; readable on the dark theme and distinct from the window background
// at 0. Quantised to kAttentionColorLevels levels; non-finite t: magenta.
inline constexpr int kAttentionColorLevels = 32;
ImU32 AttentionColor(float t);

// One head's map in a `size` box (square cells, as large as fit; size.x <= 0:
// the available width; size.y <= 0: as tall as wide). `highlight_query`
// (-1: none) is outlined, as a hovered row is. The cursor advances past the box.
AttentionPick AttentionHeatmap(const char* id, const nn::AttentionMaps& maps, int layer, int head,
                               int highlight_query, ImVec2 size, AttentionScale scale = AttentionScale::kRowMax);

// The prompt on one wrapped line of character boxes (wrapped at the available
// width), shaded by the weights row `query` of (layer, head) gives each key;
// keys after the query are dimmed; query < 0: unshaded.
AttentionPick AttentionStrip(const char* id, const nn::AttentionMaps& maps, int layer, int head, int query,
                             AttentionScale scale = AttentionScale::kRowMax);

// All heads of `layer` side by side (wrapping at the available width), `cell`
// pixels per head map, each under a "head h" label; `selected_head` outlined.
// A click picks the head (clicked_head, on the frame the button goes down).
AttentionPick AttentionHeadGrid(const char* id, const nn::AttentionMaps& maps, int layer, int selected_head,
                                float cell, AttentionScale scale = AttentionScale::kRowMax);

}  // namespace ts::ui
