// Internal to the Model panel (ui/panels/model_panel*.cpp): the layer rows'
// inline editors, shared by the panel's table. Not part of the UI library's API.
#pragma once

#include <string>

#include "imgui.h"
#include "ui/app_state.h"

namespace ts::ui::model_panel {

// The tooltip of the last item, when it is hovered.
inline void HelpTooltip(const char* text) {
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", text);
}

// A loss head's type name ("softmax_cross_entropy", "mse", "bce_with_logits").
bool IsLossType(const std::string& type);

// The inline editors of one row (its type's fields). Returns true when
// something changed. `sequence`: the model has an embedding (a dense row then
// offers "tied"). Records the rectangles dense_units, dense_tied,
// embedding_vocab, embedding_units, block_heads, block_mlp_ratio and
// block_attention (the last row of each kind drawn).
bool DrawLayerEditors(LayerEdit& layer, bool sequence);

}  // namespace ts::ui::model_panel
