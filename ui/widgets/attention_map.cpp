#include "ui/widgets/attention_map.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <numeric>
#include <optional>
#include <vector>

#include "ui/test_hooks.h"
#include "ui/widgets/chart_png.h"
#include "ui/widgets/plot.h"  // ColorSwatch

namespace ts::ui {
namespace {

constexpr ImU32 kAccent = IM_COL32(255, 205, 70, 255);       // the chosen query / head (as the network diagram's)
constexpr ImU32 kHoverOutline = IM_COL32(255, 255, 255, 220);  // the row or box under the mouse
constexpr ImU32 kFrame = IM_COL32(255, 255, 255, 45);
constexpr ImU32 kUnshaded = IM_COL32(255, 255, 255, 20);  // strip boxes with no weight to show
constexpr ImU32 kInvalid = IM_COL32(230, 60, 200, 255);   // a NaN or infinite weight
constexpr int kTopKeys = 5;

// Stops of AttentionColor, evenly spaced in t.
constexpr std::array<std::array<float, 3>, 5> kStops{{
    {0.10f, 0.12f, 0.24f},
    {0.20f, 0.29f, 0.54f},
    {0.13f, 0.55f, 0.56f},
    {0.44f, 0.78f, 0.36f},
    {0.99f, 0.91f, 0.25f},
}};

// One head's T x T weights, row-major [query][key], checked against the maps' size.
struct HeadView {
  const float* weights = nullptr;
  int n = 0;
  float at(int query, int key) const { return weights[static_cast<size_t>(query) * n + key]; }
  // The largest finite weight of a row (1 when none is positive): the kRowMax divisor.
  float RowMax(int query) const {
    float top = 0;
    for (int k = 0; k <= query; ++k)
      if (std::isfinite(at(query, k))) top = std::max(top, at(query, k));
    return top > 0 ? top : 1.0f;
  }
};

std::optional<HeadView> Head(const nn::AttentionMaps& maps, int layer, int head) {
  const size_t n = maps.tokens.size();
  if (n == 0 || maps.layers == 0 || maps.heads == 0 || layer < 0 || head < 0 ||
      layer >= static_cast<int>(maps.layers) || head >= static_cast<int>(maps.heads) ||
      maps.weights.size() < size_t(maps.layers) * maps.heads * n * n)
    return std::nullopt;
  return HeadView{maps.weights.data() + (size_t(layer) * maps.heads + head) * n * n, static_cast<int>(n)};
}

std::string LayerName(const nn::AttentionMaps& maps, int layer) {
  if (layer >= 0 && layer < static_cast<int>(maps.layer_names.size()) && !maps.layer_names[layer].empty())
    return maps.layer_names[layer];
  return "layer " + std::to_string(layer);
}

// Brightness of a weight in a row whose divisor is `row_scale` (1 for kAbsolute);
// +inf marks a non-finite weight (it wins every max, and is drawn as kInvalid).
float Shade(float weight, float row_scale) {
  return std::isfinite(weight) ? weight / row_scale : std::numeric_limits<float>::infinity();
}

float RowScale(const HeadView& view, int query, AttentionScale scale) {
  return scale == AttentionScale::kRowMax ? view.RowMax(query) : 1.0f;
}

// Dark text on bright colours, light text on dark ones.
ImU32 TextOn(ImU32 background) {
  const ImVec4 c = ImGui::ColorConvertU32ToFloat4(background);
  const float luminance = 0.299f * c.x + 0.587f * c.y + 0.114f * c.z;
  return luminance * c.w > 0.55f ? IM_COL32(15, 15, 20, 255) : IM_COL32(235, 235, 240, 255);
}

// The smallest power of two s such that s cells span at least `spacing` pixels.
int LabelStep(float spacing, float cell) {
  int step = 1;
  while (step * cell < spacing && step < (1 << 20)) step *= 2;
  return step;
}

// Draws the lower triangle of one head with its top-left corner at `corner`,
// `cell` pixels per cell. Below a pixel per cell, rows and columns are pooled
// into pixel buckets (each showing the largest shade it covers). Returns the
// cells drawn (rows outside the clip rectangle are skipped).
int DrawCells(ImDrawList* draw, const HeadView& view, ImVec2 corner, float cell, AttentionScale scale) {
  const int n = view.n;
  const float side = n * cell;
  const int buckets = cell >= 1.0f ? n : std::clamp(static_cast<int>(side), 1, n);
  const float bucket_px = side / static_cast<float>(buckets);
  const auto bucket_of = [&](int i) { return static_cast<int>(static_cast<int64_t>(i) * buckets / n); };
  const ImVec2 clip_min = draw->GetClipRectMin(), clip_max = draw->GetClipRectMax();
  std::vector<float> shade(buckets);
  int cells = 0;
  for (int q0 = 0; q0 < n;) {
    const int b = bucket_of(q0);
    int q1 = q0 + 1;
    while (q1 < n && bucket_of(q1) == b) ++q1;
    const float y0 = corner.y + b * bucket_px, y1 = y0 + bucket_px;
    if (y1 < clip_min.y || y0 > clip_max.y) {  // scrolled out of view
      q0 = q1;
      continue;
    }
    std::fill(shade.begin(), shade.begin() + b + 1, -1.0f);  // keys <= query fall in buckets 0..b
    for (int q = q0; q < q1; ++q) {
      const float row_scale = RowScale(view, q, scale);
      for (int k = 0; k <= q; ++k) {
        float& s = shade[bucket_of(k)];
        s = std::max(s, Shade(view.at(q, k), row_scale));
      }
      cells += q + 1;
    }
    // Runs of one colour along the row bucket become one rectangle.
    for (int c = 0; c <= b;) {
      const ImU32 color = AttentionColor(shade[c]);
      int end = c + 1;
      while (end <= b && AttentionColor(shade[end]) == color) ++end;
      draw->AddRectFilled(ImVec2(corner.x + c * bucket_px, y0), ImVec2(corner.x + end * bucket_px, y1), color);
      c = end;
    }
    q0 = q1;
  }
  return cells;
}

// Outlines row `query` (keys 0..query), at least 2 pixels tall.
void OutlineRow(ImDrawList* draw, ImVec2 corner, float cell, int query, ImU32 color) {
  const float y0 = corner.y + query * cell, y1 = y0 + std::max(cell, 2.0f);
  draw->AddRect(ImVec2(corner.x - 1, y0 - 1), ImVec2(corner.x + (query + 1) * cell + 1, y1 + 1), color, 0, 0, 1.0f);
}

// The cell (query, key) under `mouse` in a map at `corner`; key -1 in the empty
// upper triangle; nullopt outside.
std::optional<std::pair<int, int>> CellAt(ImVec2 mouse, ImVec2 corner, float cell, int n) {
  const float fx = (mouse.x - corner.x) / cell, fy = (mouse.y - corner.y) / cell;
  if (!(fx >= 0 && fy >= 0 && fx < n && fy < n)) return std::nullopt;
  const int query = std::min(static_cast<int>(fy), n - 1), key = std::min(static_cast<int>(fx), n - 1);
  return std::make_pair(query, key <= query ? key : -1);
}

std::string Quoted(const nn::AttentionMaps& maps, int index) {
  std::string quoted(1, '\'');  // appended, not "'" + ...: GCC 12 warns falsely (-Wrestrict) on that
  quoted += VisibleToken(maps.tokens[index]);
  quoted += "' (position " + std::to_string(index) + ")";
  return quoted;
}

std::string FormatWeight(float weight) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3f", weight);
  return text;
}

// The tooltip of query `query` (and key `key`, -1: none; > query: masked).
// Its text (without the colour keys) is also recorded as "<id>/tooltip" for tests.
void QueryTooltip(const char* id, const nn::AttentionMaps& maps, const HeadView& view, int layer, int head, int query,
                  int key, AttentionScale scale, const char* note) {
  std::string line = "query " + Quoted(maps, query);
  if (key >= 0 && key <= query)
    line += " -> key " + Quoted(maps, key) + ": weight " + FormatWeight(view.at(query, key));
  else if (key > query)
    line += " -> key " + Quoted(maps, key) + ": masked (a query sees only itself and earlier keys)";
  std::vector<int> order(query + 1);
  std::iota(order.begin(), order.end(), 0);
  const int shown = std::min(query + 1, kTopKeys);
  const auto weight_of = [&](int k) { return std::isfinite(view.at(query, k)) ? view.at(query, k) : -1.0f; };
  std::partial_sort(order.begin(), order.begin() + shown, order.end(),
                    [&](int a, int b) { return weight_of(a) > weight_of(b); });
  const float row_scale = RowScale(view, query, scale);

  ImGui::BeginTooltip();
  ImGui::TextDisabled("%s, head %d", LayerName(maps, layer).c_str(), head);
  ImGui::TextUnformatted(line.c_str());
  ImGui::TextUnformatted("top keys:");
  std::string recorded = line + "; top keys:";
  for (int rank = 0; rank < shown; ++rank) {
    const int k = order[rank];
    const std::string entry = Quoted(maps, k) + " " + FormatWeight(view.at(query, k));
    ColorSwatch(AttentionColor(Shade(view.at(query, k), row_scale)));
    ImGui::TextUnformatted(entry.c_str());
    recorded += (rank ? ", " : " ") + entry;
  }
  if (scale == AttentionScale::kRowMax)
    ImGui::TextDisabled("brightness: weight / the row's largest (%.3f)", view.RowMax(query));
  else
    ImGui::TextDisabled("brightness: the weight itself (0 to 1)");
  if (note) ImGui::TextDisabled("%s", note);
  ImGui::EndTooltip();
  RecordText(std::string(id) + "/tooltip", recorded);
}

}  // namespace

std::string VisibleToken(const std::string& token) {
  if (token == "\n") return "\xC2\xB6";  // pilcrow
  if (token == " ") return "\xC2\xB7";   // middle dot
  if (token == "\t") return "\xC2\xBB";  // right guillemet
  std::string visible;
  for (const char c : token) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\x%02X", byte);
      visible += escaped;
    } else {
      visible += c;
    }
  }
  return visible;
}

ImU32 AttentionColor(float t) {
  if (!std::isfinite(t)) return kInvalid;
  t = std::round(std::clamp(t, 0.0f, 1.0f) * (kAttentionColorLevels - 1)) / (kAttentionColorLevels - 1);
  const float scaled = t * static_cast<float>(kStops.size() - 1);
  const size_t i = std::min(static_cast<size_t>(scaled), kStops.size() - 2);
  const float f = scaled - static_cast<float>(i);
  const auto channel = [&](int c) {
    return static_cast<int>(255.0f * (kStops[i][c] + (kStops[i + 1][c] - kStops[i][c]) * f) + 0.5f);
  };
  return IM_COL32(channel(0), channel(1), channel(2), 255);
}

AttentionPick AttentionHeatmap(const char* id, const nn::AttentionMaps& maps, int layer, int head,
                               int highlight_query, ImVec2 size, AttentionScale scale) {
  AttentionPick pick;
  const float width = std::max(size.x > 0 ? size.x : ImGui::GetContentRegionAvail().x + size.x, 40.0f);
  const float height = std::max(size.y > 0 ? size.y : width, 40.0f);
  ImGui::PushID(id);
  const ImVec2 origin = ImGui::GetCursorScreenPos();
  ImGui::InvisibleButton("##attention", ImVec2(width, height));
  const bool hovered = ImGui::IsItemHovered();
  const std::optional<HeadView> view = Head(maps, layer, head);
  if (!view) {
    ImGui::PopID();
    return pick;
  }
  const int n = view->n;
  ImDrawList* draw = ImGui::GetWindowDrawList();
  const float font = ImGui::GetFontSize();

  // Layout: query characters on the left, key characters below, a legend line under them.
  std::vector<std::string> labels(n);
  std::vector<float> label_widths(n);
  float label_width = ImGui::CalcTextSize("M").x;
  for (int i = 0; i < n; ++i) {
    labels[i] = VisibleToken(maps.tokens[i]);
    label_widths[i] = ImGui::CalcTextSize(labels[i].c_str()).x;
    label_width = std::max(label_width, label_widths[i]);
  }
  label_width = std::min(label_width, 3 * font);
  const float left = label_width + 6, top = 2, bottom = font + 4, legend = font + 4;
  const float cell =
      std::clamp(std::min((width - left - 2) / n, (height - top - bottom - legend) / n), 1.0f / n, 4 * font);
  const ImVec2 corner(origin.x + left, origin.y + top);
  const float side = n * cell;
  pick.map_min = corner;
  pick.map_max = ImVec2(corner.x + side, corner.y + side);

  pick.cells = DrawCells(draw, *view, corner, cell, scale);
  draw->AddRect(ImVec2(corner.x - 1, corner.y - 1), ImVec2(pick.map_max.x + 1, pick.map_max.y + 1), kFrame);

  // What the mouse is on: a cell, a query character (left), or a key character (below: that token as the query).
  const ImVec2 mouse = ImGui::GetIO().MousePos;
  int hovered_key = -1;  // may be > query: an empty (masked) cell
  if (hovered) {
    const int row = static_cast<int>(std::floor((mouse.y - corner.y) / cell));
    const int column = static_cast<int>(std::floor((mouse.x - corner.x) / cell));
    const bool in_rows = row >= 0 && row < n, in_columns = column >= 0 && column < n;
    if (in_rows && in_columns) {
      pick.query = row;
      hovered_key = column;
    } else if (in_rows && mouse.x < corner.x) {
      pick.query = row;
    } else if (in_columns && mouse.y >= pick.map_max.y && mouse.y < pick.map_max.y + bottom) {
      pick.query = column;
    }
  }
  if (pick.query >= 0 && hovered_key >= 0 && hovered_key <= pick.query) {
    pick.key = hovered_key;
    pick.weight = view->at(pick.query, pick.key);
  }

  // Weights printed in cells big enough for them.
  const float number_width = ImGui::CalcTextSize("0.00").x + 4;
  if (cell >= number_width && cell >= font + 2) {
    for (int q = 0; q < n; ++q) {
      const float row_scale = RowScale(*view, q, scale);
      for (int k = 0; k <= q; ++k) {
        char text[16];
        std::snprintf(text, sizeof text, "%.2f", view->at(q, k));
        const ImVec2 extent = ImGui::CalcTextSize(text);
        draw->AddText(ImVec2(corner.x + (k + 0.5f) * cell - extent.x / 2, corner.y + (q + 0.5f) * cell - extent.y / 2),
                      TextOn(AttentionColor(Shade(view->at(q, k), row_scale))), text);
      }
    }
  }

  // Axis characters, every `step`-th when cells are smaller than a character.
  const ImU32 text_color = ImGui::GetColorU32(ImGuiCol_Text);
  const auto chosen = [&](int i) { return i == pick.query || i == highlight_query; };
  const int query_step = LabelStep(font, cell), key_step = LabelStep(label_width + 2, cell);
  for (int q = 0; q < n; q += query_step)
    draw->AddText(ImVec2(corner.x - 4 - std::min(label_widths[q], label_width), corner.y + (q + 0.5f) * cell - font / 2),
                  chosen(q) ? kAccent : text_color, labels[q].c_str());
  for (int k = 0; k < n; k += key_step)
    draw->AddText(ImVec2(corner.x + (k + 0.5f) * cell - label_widths[k] / 2, pick.map_max.y + 2),
                  chosen(k) ? kAccent : text_color, labels[k].c_str());

  // Legend: the colour ramp and what brightness means.
  const float ramp_y = pick.map_max.y + bottom + 2, ramp_step = std::max(3.0f, font * 0.3f);
  for (int i = 0; i < 12; ++i)
    draw->AddRectFilled(ImVec2(corner.x + i * ramp_step, ramp_y), ImVec2(corner.x + (i + 1) * ramp_step, ramp_y + font),
                        AttentionColor(i / 11.0f));
  const char* meaning = scale == AttentionScale::kRowMax ? "weight / row's max" : "weight 0 to 1";
  const ImVec4 box(origin.x, origin.y, origin.x + width, origin.y + height);
  draw->AddText(ImGui::GetFont(), font, ImVec2(corner.x + 12 * ramp_step + 4, ramp_y),
                ImGui::GetColorU32(ImGuiCol_TextDisabled), meaning, nullptr, 0.0f, &box);

  // Outlines: the chosen row, the hovered row and cell.
  if (highlight_query >= 0 && highlight_query < n) OutlineRow(draw, corner, cell, highlight_query, kAccent);
  if (pick.query >= 0 && pick.query != highlight_query) OutlineRow(draw, corner, cell, pick.query, kHoverOutline);
  if (pick.key >= 0 && cell >= 4)
    draw->AddRect(ImVec2(corner.x + pick.key * cell, corner.y + pick.query * cell),
                  ImVec2(corner.x + (pick.key + 1) * cell, corner.y + (pick.query + 1) * cell), kAccent);
  if (pick.query >= 0) QueryTooltip(id, maps, *view, layer, head, pick.query, hovered_key, scale, nullptr);
  ChartPngMenu(id, origin, ImVec2(origin.x + width, origin.y + height));  // Save as PNG..., as every chart
  ImGui::PopID();
  return pick;
}

AttentionPick AttentionStrip(const char* id, const nn::AttentionMaps& maps, int layer, int head, int query,
                             AttentionScale scale) {
  AttentionPick pick;
  const std::optional<HeadView> view = Head(maps, layer, head);
  if (!view) return pick;
  const int n = view->n;
  const bool shaded = query >= 0 && query < n;
  const float font = ImGui::GetFontSize(), pad = 3, gap = 2, box_height = font + 2 * pad;
  const float available = std::max(ImGui::GetContentRegionAvail().x, 40.0f);

  // Boxes laid out left to right, wrapping at the available width.
  std::vector<std::string> labels(n);
  std::vector<ImVec2> offsets(n);  // top-left, relative to the strip's origin
  std::vector<float> widths(n);
  float x = 0, y = 0, used_width = 0;
  for (int i = 0; i < n; ++i) {
    labels[i] = VisibleToken(maps.tokens[i]);
    widths[i] = std::max(ImGui::CalcTextSize(labels[i].c_str()).x, font * 0.5f) + 2 * pad;
    if (x > 0 && x + widths[i] > available) x = 0, y += box_height + gap;
    offsets[i] = ImVec2(x, y);
    x += widths[i] + gap;
    used_width = std::max(used_width, x - gap);
  }
  const ImVec2 size(std::max(used_width, 1.0f), y + box_height);

  ImGui::PushID(id);
  const ImVec2 origin = ImGui::GetCursorScreenPos();
  ImGui::InvisibleButton("##strip", size);
  const bool hovered = ImGui::IsItemHovered();
  ImDrawList* draw = ImGui::GetWindowDrawList();
  pick.map_min = origin;
  pick.map_max = ImVec2(origin.x + size.x, origin.y + size.y);
  const ImVec2 mouse = ImGui::GetIO().MousePos;
  const float row_scale = shaded ? RowScale(*view, query, scale) : 1.0f;
  const ImU32 text_color = ImGui::GetColorU32(ImGuiCol_Text), muted = ImGui::GetColorU32(ImGuiCol_TextDisabled);
  for (int k = 0; k < n; ++k) {
    const ImVec2 min(origin.x + offsets[k].x, origin.y + offsets[k].y), max(min.x + widths[k], min.y + box_height);
    const bool attended = shaded && k <= query;  // keys after the query are masked: weight 0
    const ImU32 background = attended ? AttentionColor(Shade(view->at(query, k), row_scale)) : kUnshaded;
    draw->AddRectFilled(min, max, background, 2.0f);
    draw->AddText(ImVec2(min.x + pad, min.y + pad), attended ? TextOn(background) : shaded ? muted : text_color,
                  labels[k].c_str());
    if (k == query) draw->AddRect(min, max, kAccent, 2.0f, 0, 1.5f);
    if (hovered && mouse.x >= min.x && mouse.x < max.x && mouse.y >= min.y && mouse.y < max.y) {
      pick.query = k;
      if (k != query) draw->AddRect(min, max, kHoverOutline, 2.0f);
    }
  }
  pick.cells = shaded ? query + 1 : 0;
  if (pick.query >= 0) QueryTooltip(id, maps, *view, layer, head, pick.query, -1, scale, nullptr);
  ImGui::PopID();
  return pick;
}

AttentionPick AttentionHeadGrid(const char* id, const nn::AttentionMaps& maps, int layer, int selected_head,
                                float cell, AttentionScale scale) {
  AttentionPick pick;
  if (!Head(maps, layer, 0)) return pick;
  const int heads = static_cast<int>(maps.heads), n = static_cast<int>(maps.tokens.size());
  const float side = std::max(std::isfinite(cell) ? cell : 0.0f, 8.0f), font = ImGui::GetFontSize();
  const float label_height = font + 2, gap = 6;
  const ImVec2 box(side, label_height + side);
  const float available = std::max(ImGui::GetContentRegionAvail().x, side);
  const int columns = std::clamp(static_cast<int>((available + gap) / (side + gap)), 1, heads);
  const int rows = (heads + columns - 1) / columns;

  ImGui::PushID(id);
  const ImVec2 origin = ImGui::GetCursorScreenPos();
  ImDrawList* draw = ImGui::GetWindowDrawList();
  const ImVec2 mouse = ImGui::GetIO().MousePos;
  for (int h = 0; h < heads; ++h) {
    const ImVec2 at(origin.x + (h % columns) * (side + gap), origin.y + (h / columns) * (box.y + gap));
    ImGui::SetCursorScreenPos(at);
    ImGui::PushID(h);
    ImGui::InvisibleButton("##head", box);
    const bool hovered = ImGui::IsItemHovered(), clicked = ImGui::IsItemClicked(ImGuiMouseButton_Left);
    ImGui::PopID();

    char label[32];
    std::snprintf(label, sizeof label, "head %d", h);
    const char* shown = ImGui::CalcTextSize(label).x <= side ? label : label + 5;  // just the number when narrow
    draw->AddText(at, h == selected_head ? kAccent : ImGui::GetColorU32(ImGuiCol_Text), shown);
    const HeadView view = *Head(maps, layer, h);
    const ImVec2 corner(at.x, at.y + label_height), far(at.x + side, at.y + box.y);
    pick.cells += DrawCells(draw, view, corner, side / n, scale);
    if (h == selected_head)
      draw->AddRect(ImVec2(corner.x - 2, corner.y - 2), ImVec2(far.x + 2, far.y + 2), kAccent, 0, 0, 2.0f);
    else
      draw->AddRect(ImVec2(corner.x - 1, corner.y - 1), ImVec2(far.x + 1, far.y + 1), hovered ? kHoverOutline : kFrame);
    if (clicked) pick.clicked_head = h;
    if (!hovered) continue;
    pick.hovered_head = h;
    const auto on = CellAt(mouse, corner, side / n, n);
    if (on) {
      pick.query = on->first;
      pick.key = on->second;
      if (pick.key >= 0) pick.weight = view.at(pick.query, pick.key);
      QueryTooltip(id, maps, view, layer, h, pick.query, pick.key, scale, "click to show this head");
    } else {
      ImGui::SetTooltip("%s, head %d: click to show it", LayerName(maps, layer).c_str(), h);
    }
  }
  const ImVec2 size(columns * (side + gap) - gap, rows * (box.y + gap) - gap);
  ImGui::SetCursorScreenPos(origin);
  ImGui::Dummy(size);
  pick.map_min = origin;
  pick.map_max = ImVec2(origin.x + size.x, origin.y + size.y);
  ImGui::PopID();
  return pick;
}

}  // namespace ts::ui
