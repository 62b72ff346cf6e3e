// Network diagram: a picture of a ModelDesc, drawn with ImDrawList.
//
// Small MLPs (a vector input and every dense layer of at most 32 units, at most
// 6 dense layers) are drawn TensorFlow-Playground style: one column of neurons
// per dense layer (its activation named under it), weights as edges coloured by
// sign (orange positive, blue negative: the diverging colours of the heatmaps)
// with width and opacity scaled by |w| / (the layer's max |w|). With a
// snapshot of a 2D model each neuron shows its activation over the input plane,
// and hovering it shows that map larger in a tooltip. Larger models get a block
// diagram: one box per layer (name, type, output shape, parameters), arrows between.
//
//   DrawNetworkDiagram(*state.model, state.training.snapshot.get(), ImVec2(0, 260));
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "imgui.h"
#include "compute/nn/model.h"
#include "compute/nn/session.h"

namespace ts::ui {

struct NetworkDiagramOptions {
  const char* id = "network_diagram";  // the child region's ID: give each diagram in a window its own
  int highlight_layer = -1;          // index into model.layers outlined in the accent colour (-1: none)
  bool force_block_diagram = false;  // draw boxes even for a small MLP
  uint32_t max_neuron_units = 32;    // the neuron view's limits (see above)
  uint32_t max_dense_layers = 6;
  // When set: receives the index (into model.layers) of the layer clicked this
  // frame (a box, or a neuron column), and is left alone when none was.
  int* clicked_layer = nullptr;
};

// Draws the diagram into the current window at the cursor, in a child region of
// `size` (a component <= 0 takes the available width / 240 px of height); the
// block diagram scrolls when it does not fit. `snapshot` may be null (weights
// are then drawn grey); a snapshot whose tensors do not match the model (an
// older run) is ignored tensor by tensor.
void DrawNetworkDiagram(const nn::ModelDesc& model, const nn::Snapshot* snapshot, ImVec2 size,
                        const NetworkDiagramOptions& options = {});

// True when `model` gets the neuron (Playground) view under `options`.
bool UsesNeuronView(const nn::ModelDesc& model, const NetworkDiagramOptions& options = {});

// A weight matrix in a snapshot: row-major {in, out} (Y = X W), so w(i, o) = values[i * out + o].
struct WeightView {
  uint32_t in = 0, out = 0;
  std::span<const float> values;
  float w(uint32_t i, uint32_t o) const { return values[static_cast<size_t>(i) * out + o]; }
};
// The tensor `name` (e.g. "dense_1.weight") of `snapshot` with shape {in, out}.
// Snapshot::parameters are packed in layout order without the device buffer's
// alignment padding, so the tensor starts at the sum of the counts before it
// (ParameterTensor::offset is the padded device offset and is not used).
// nullopt when the tensor is missing, has another shape, or runs past the data.
std::optional<WeightView> FindWeights(const nn::Snapshot& snapshot, const std::string& name, uint32_t in, uint32_t out);

// The activation map of one layer in a snapshot: the entry of snapshot.hidden
// named `name` with `units` units and resolution^2 x units values; nullptr otherwise.
const nn::Snapshot::HiddenLayer* FindHiddenLayer(const nn::Snapshot& snapshot, const std::string& name, uint32_t units);

}  // namespace ts::ui
