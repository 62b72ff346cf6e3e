#include "ui/panels/data_panel.h"

#include <algorithm>
#include <array>
#include <map>
#include <cstdint>
#include <cstdio>

#include <unistd.h>

#include "compute/data/registry.h"
#include "compute/data/text.h"
#include "ui/controller.h"
#include "ui/panel_layout.h"
#include "ui/project.h"
#include "ui/run.h"
#include "ui/test_hooks.h"
#include "ui/widgets/heatmap.h"
#include "ui/widgets/image_tile.h"
#include "ui/widgets/number_field.h"
#include "ui/widgets/plot.h"

namespace ts::ui {
namespace {

struct DataKind {
  const char* id;
  const char* label;
  const char* install;  // how to get it when it is not installed; nullptr: built in
};

const DataKind kKinds[] = {
    {"spiral", "Spiral (2D)", nullptr},
    {"circles", "Circles (2D)", nullptr},
    {"xor", "XOR (2D)", nullptr},
    {"blobs", "Gaussian blobs (2D)", nullptr},
    {"moons", "Moons (2D)", nullptr},
    {"mnist", "MNIST digits (28x28)", "assets/scripts/fetch-mnist.sh"},
    {"fashion-mnist", "Fashion-MNIST (28x28)", "sudo apt-get install dataset-fashion-mnist"},
    {"iris", "Iris (CSV, 4 features)", "sudo apt-get install python3-sklearn"},
    {"wine", "Wine (CSV, 13 features)", "sudo apt-get install python3-sklearn"},
    {"digits", "Digits (CSV, 8x8)", "sudo apt-get install python3-sklearn"},
    {"shapes", "Shapes (built-in images, 28x28)", nullptr},
    {"cifar10", "CIFAR-10 (binary batches, 3x32x32)...", nullptr},
    {"csv", "CSV file...", nullptr},
    {"idx", "IDX files (MNIST layout)...", nullptr},
    {"images", "Image folder (one subfolder per class)...", nullptr},
    {"kjv", "King James Bible (built-in text, characters)", "sudo apt-get install bible-kjv bible-kjv-text"},
    {"text", "Text file (UTF-8, characters)...", nullptr},
};

bool IsSynthetic(const std::string& kind) {
  return kind == "spiral" || kind == "circles" || kind == "xor" || kind == "blobs" || kind == "moons";
}

bool Installed(const DataKind& kind) {
  if (std::string(kind.id) == "kjv") return access(data::kBibleProgram, X_OK) == 0;  // prints the built-in text
  return !kind.install || data::FindDatasetDir(kind.id).has_value();
}

// Text data (labels_per_sample > 1): its vocabulary and the first windows as the text they hold.
void DrawTextWindows(const data::Dataset& dataset) {
  std::string vocabulary;
  for (const std::string& token : dataset.class_names)
    vocabulary += (vocabulary.empty() ? "" : " ") + (token == "\n" ? "\xC2\xB6" : token == " " ? "\xC2\xB7" : token);
  ImGui::TextDisabled("vocabulary (%zu characters; \xC2\xB6 line break, \xC2\xB7 space):", dataset.class_names.size());
  ImGui::PushTextWrapPos(0.0f);
  ImGui::TextUnformatted(vocabulary.c_str());
  ImGui::PopTextWrapPos();
  const size_t shown = std::min<size_t>(3, dataset.count());
  for (size_t sample = 0; sample < shown; ++sample) {
    ImGui::TextDisabled("window %zu (%zu characters; the labels: each next character)", sample, dataset.feature_size());
    ImGui::PushTextWrapPos(0.0f);
    ImGui::Indent();
    ImGui::TextUnformatted(TextOfWindow(dataset, sample).c_str());
    ImGui::Unindent();
    ImGui::PopTextWrapPos();
  }
  RecordText("data_text_preview", shown ? TextOfWindow(dataset, 0) : "");
}

// A grid of the first 16 images with their labels.
void DrawImageGrid(const data::Dataset& dataset) {
  if (!IsImageDataset(dataset)) return;
  uint32_t height = dataset.sample_shape[1], width = dataset.sample_shape[2];
  float cell = std::max(1.0f, ImGui::GetContentRegionAvail().x / (8.0f * (width + 2)));
  ImDrawList* draw = ImGui::GetWindowDrawList();
  ImVec2 origin = ImGui::GetCursorScreenPos();
  size_t shown = std::min<size_t>(16, dataset.count());
  float label_height = ImGui::GetTextLineHeight();
  for (size_t s = 0; s < shown; ++s) {
    ImVec2 corner(origin.x + (s % 8) * (width + 2) * cell, origin.y + (s / 8) * (height * cell + label_height + 4));
    ImVec2 size = DrawImageTile(draw, corner, dataset, s, cell);
    draw->AddRect(corner, ImVec2(corner.x + size.x, corner.y + size.y), IM_COL32(80, 80, 80, 255));
    uint32_t label = dataset.labels[s];
    std::string name = label < dataset.class_names.size() ? dataset.class_names[label] : std::to_string(label);
    // Long class names ("horizontal bars") are cut at the tile's edge rather than run into the next.
    draw->PushClipRect(ImVec2(corner.x, corner.y + size.y), ImVec2(corner.x + size.x + cell, corner.y + size.y + label_height),
                       true);
    draw->AddText(ImVec2(corner.x, corner.y + size.y), ImGui::GetColorU32(ImGuiCol_TextDisabled), name.c_str());
    draw->PopClipRect();
  }
  ImGui::Dummy(ImVec2(8 * (width + 2) * cell, ((shown + 7) / 8) * (height * cell + label_height + 4)));
}

void DrawTable(const data::Dataset& dataset) {
  size_t columns = std::min<size_t>(dataset.feature_size(), 8);
  if (!ImGui::BeginTable("preview", static_cast<int>(columns) + 1,
                         ImGuiTableFlags_Borders | ImGuiTableFlags_RowBg | ImGuiTableFlags_SizingFixedFit))
    return;
  for (size_t c = 0; c < columns; ++c) ImGui::TableSetupColumn(std::string("x").append(std::to_string(c)).c_str());
  ImGui::TableSetupColumn("label");
  ImGui::TableHeadersRow();
  for (size_t row = 0; row < std::min<size_t>(dataset.count(), 8); ++row) {
    ImGui::TableNextRow();
    for (size_t c = 0; c < columns; ++c) {
      ImGui::TableNextColumn();
      ImGui::Text("%.2f", dataset.normalized(row, c));
    }
    ImGui::TableNextColumn();
    ImGui::Text("%u", dataset.labels[row * dataset.labels_per_sample]);  // the first of a sample's labels
  }
  ImGui::EndTable();
  if (dataset.feature_size() > columns) ImGui::TextDisabled("(%zu more columns)", dataset.feature_size() - columns);
}

// Text's window length and test split. The window must be the model's input
// length: a button sets it to that when they differ.
bool DrawTextOptions(const AppState& state, DataChoice& data) {
  bool changed = NumberField("context", data.context, 2u, 1024u, {.logarithmic = true});
  RecordItemRect("data_context");
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("Characters per window: the model's input length T.");
  changed |= NumberField("test split", data.test_fraction, 0.01f, 0.5f, {.format = "%.2f"});
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("The share of the text, at its end, held out as the test set.");
  const uint32_t tokens = state.model ? nn::TokensPerSample(*state.model) : 1;
  if (tokens > 1 && tokens != data.context) {
    if (ImGui::Button(("Use the model's " + std::to_string(tokens)).c_str())) {
      data.context = tokens;
      changed = true;
    }
    ImGui::SameLine();
    ImGui::TextDisabled("the model reads windows of %u", tokens);
  }
  return changed;
}

}  // namespace

std::string TextOfWindow(const data::Dataset& dataset, size_t sample) {
  const size_t length = dataset.feature_size();
  std::string text;
  if (dataset.labels_per_sample <= 1 || dataset.format != data::FeatureFormat::kFloat32 || sample >= dataset.count())
    return text;
  for (size_t t = 0; t < length; ++t) {
    const float id = dataset.features_f32[sample * length + t];
    const size_t token = id >= 0 ? static_cast<size_t>(id) : SIZE_MAX;
    const std::string piece = token < dataset.class_names.size() ? dataset.class_names[token] : "?";
    text += piece == "\n" ? "\xC2\xB6\n" : piece;
  }
  return text;
}

void DrawDataMap(AppState& state, const char* id, float height) {
  const data::Dataset* train = state.train_data.get();
  const data::Dataset* test = state.test_data.get();
  // Points with one label each (text of 2-character windows is no map).
  if (!train || train->feature_size() != 2 || train->format != data::FeatureFormat::kFloat32 ||
      train->labels_per_sample != 1)
    return;
  ScatterSet sets[2];
  int set_count = 0;
  sets[set_count++] = {train->features_f32, train->labels, false};
  if (test && test->feature_size() == 2 && test->format == data::FeatureFormat::kFloat32 && test->labels_per_sample == 1)
    sets[set_count++] = {test->features_f32, test->labels, true};
  ClassGrid grid;
  const nn::Snapshot* snapshot = state.training.snapshot.get();
  if (snapshot && snapshot->boundary_resolution > 0 && !snapshot->boundary.empty())
    grid = {snapshot->boundary, static_cast<int>(snapshot->boundary_resolution), static_cast<int>(snapshot->classes)};
  HeatmapOptions options;
  options.size = ImVec2(0, height);
  options.class_names = train->class_names;
  // The explanation sits on a "(?)" so the map keeps its own hover read-out.
  ImGui::TextDisabled("(?)");
  if (ImGui::IsItemHovered())
    ImGui::SetTooltip(
        "Filled dots: training set; rings: test set.\nClick the map to add a point of class %u (choose it in the Data panel).\n\n"
        "The background is the network's decision boundary, computed on the GPU:\none forward pass over a whole grid of "
        "inputs at once, each grid point\nhandled by its own invocations - data parallelism at work.",
        state.selected_class);
  HeatmapResult result = ClassHeatmap(id, grid, std::span<const ScatterSet>(sets, set_count), options);
  if (result.clicked && !IsSynthetic(state.project.data.kind)) return;
  if (result.clicked && !WhyEditsAreLocked(state).empty()) {
    state.Notify(Notice::Level::kInfo, WhyEditsAreLocked(state));
    return;
  }
  if (result.clicked) {  // a new point: new data, so a new run (SyncRun reloads it)
    state.project.data.added_points.push_back(
        {static_cast<float>(result.clicked->x), static_cast<float>(result.clicked->y), state.selected_class});
    state.dirty = true;
  }
}

void DrawDataPanel(AppState& state) {
  if (!ImGui::Begin("Data")) {
    ImGui::End();
    return;
  }
  DataChoice& data = state.project.data;
  bool changed = false;
  // Other data means another run: not while one is training (SyncRun starts anew otherwise).
  const std::string locked = DrawWhyEditsAreLocked(state);
  ImGui::BeginDisabled(!locked.empty());
  const DataKind* current = &kKinds[0];
  for (const DataKind& kind : kKinds)
    if (data.kind == kind.id) current = &kind;
  ImGui::SetNextItemWidth(-1);
  const bool combo_open = ImGui::BeginCombo("##dataset", current->label, ImGuiComboFlags_HeightLargest);
  RecordItemRect("dataset");
  if (combo_open) {
    for (const DataKind& kind : kKinds) {
      bool installed = Installed(kind);
      std::string label = std::string(kind.label) + (installed ? "" : "  (not installed)");
      if (ImGui::Selectable(label.c_str(), &kind == current, installed ? 0 : ImGuiSelectableFlags_Disabled) &&
          data.kind != kind.id) {
        data = DefaultDataChoice(kind.id);  // its own sample and class counts, not the previous set's
        changed = true;
      }
      RecordItemRect(std::string("data_") + kind.id);
      if (!installed && ImGui::IsItemHovered(ImGuiHoveredFlags_AllowWhenDisabled))
        ImGui::SetTooltip("Install it with:\n  %s", kind.install);
    }
    ImGui::EndCombo();
  }
  for (const DataKind& kind : kKinds)
    if (!Installed(kind)) ImGui::TextDisabled("%s: not installed (%s)", kind.id, kind.install);

  if (IsSynthetic(data.kind)) {
    int samples = static_cast<int>(data.samples), classes = static_cast<int>(data.classes), seed = static_cast<int>(data.seed);
    bool two_classes_only = data.kind == "xor" || data.kind == "moons";
    changed |= NumberField("samples", samples, 50, 5000, {.logarithmic = true});
    if (!two_classes_only) changed |= NumberField("classes", classes, 2, 8);
    changed |= NumberField("noise", data.noise, 0.0f, 1.0f, {.format = "%.2f"});
    changed |= NumberField("test split", data.test_fraction, 0.05f, 0.5f, {.format = "%.2f"});
    changed |= ImGui::InputInt("seed", &seed);
    data.samples = static_cast<uint32_t>(std::max(samples, 10));
    data.classes = two_classes_only ? 2u : static_cast<uint32_t>(std::clamp(classes, 2, 8));
    data.seed = static_cast<uint32_t>(std::max(seed, 0));
    if (ImGui::Button("Regenerate")) state.loaded_data.clear();  // SyncRun loads it again
    ImGui::SameLine();
    if (ImGui::Button("Clear added points") && !data.added_points.empty()) {
      data.added_points.clear();
      changed = true;
    }
    int selected = static_cast<int>(state.selected_class);
    ImGui::SetNextItemWidth(Scaled(120));
    if (ImGui::InputInt("class of new points", &selected))
      state.selected_class = static_cast<uint32_t>(std::clamp(selected, 0, static_cast<int>(data.classes) - 1));
    ImGui::TextDisabled("%zu points added by clicking", data.added_points.size());
  } else if (data.kind == "shapes") {
    int samples = static_cast<int>(data.samples), classes = static_cast<int>(data.classes), seed = static_cast<int>(data.seed);
    changed |= NumberField("images", samples, 500, 60000, {.logarithmic = true});
    changed |= NumberField("classes", classes, 2, 8);
    changed |= NumberField("test split", data.test_fraction, 0.05f, 0.5f, {.format = "%.2f"});
    changed |= ImGui::InputInt("seed", &seed);
    data.samples = static_cast<uint32_t>(std::max(samples, 100));
    data.classes = static_cast<uint32_t>(std::clamp(classes, 2, 8));
    data.seed = static_cast<uint32_t>(std::max(seed, 0));
    if (ImGui::Button("Regenerate")) state.loaded_data.clear();  // SyncRun loads it again
    ImGui::TextDisabled("circles, squares, triangles, crosses, bars, rings, lines:\nrandom size, place, angle and noise");
  } else if (data.kind == "kjv") {
    changed |= DrawTextOptions(state, data);
    ImGui::TextDisabled("The King James Bible (4.3 MB of English, 73 characters),\nprinted by Debian's bible-kjv.");
  } else if (data.kind == "csv" || data.kind == "idx" || data.kind == "images" || data.kind == "cifar10" ||
             data.kind == "text") {
    // Each kind's field keeps what the user typed until Load, so switching kinds loses nothing.
    static std::map<std::string, std::array<char, 512>> typed_paths;
    auto [entry, added] = typed_paths.try_emplace(data.kind);
    char* path = entry->second.data();
    if (added) std::snprintf(path, 512, "%s", data.path.c_str());
    const char* hint = data.kind == "csv"      ? "/path/to/file.csv"
                       : data.kind == "text"   ? "/path/to/book.txt (UTF-8)"
                       : data.kind == "idx"    ? "directory with the 4 IDX files"
                       : data.kind == "images" ? "directory with one subfolder per class"
                                               : "directory (empty: the data folders)";
    ImGui::SetNextItemWidth(-80);
    ImGui::InputTextWithHint("##datapath", hint, path, 512);
    RecordItemRect("data path");
    ImGui::SameLine();
    if (ImGui::Button("Load")) {
      data.path = path;
      changed = true;
    }
    RecordItemRect("data load");
    if (data.kind == "csv" || data.kind == "images")
      changed |= NumberField("test split", data.test_fraction, 0.05f, 0.5f, {.format = "%.2f"}) && data.kind == "images";
    if (data.kind == "text") changed |= DrawTextOptions(state, data);
    if (data.kind == "idx")
      ImGui::TextDisabled("train-images-idx3-ubyte, train-labels-idx1-ubyte,\nt10k-images-idx3-ubyte, "
                          "t10k-labels-idx1-ubyte (or .gz)");
    if (data.kind == "images")
      ImGui::TextDisabled("PNG, JPEG or BMP; resized to the model's input.\nWith train/ and test/ subfolders, "
                          "those are the split.");
    if (data.kind == "cifar10")
      ImGui::TextDisabled("data_batch_1.bin ... data_batch_5.bin, test_batch.bin: the binary\nversion from "
                          "cs.toronto.edu/~kriz/cifar.html, unpacked into\n~/.local/share/tensorscope/data/cifar10/ "
                          "or the directory above.");
  }
  ImGui::EndDisabled();
  if (changed) state.dirty = true;  // SyncRun loads the new choice before the next frame draws

  ImGui::Separator();
  if (!state.data_error.empty()) {
    ImGui::PushStyleColor(ImGuiCol_Text, IM_COL32(255, 110, 110, 255));
    ImGui::TextWrapped("%s", state.data_error.c_str());
    ImGui::PopStyleColor();
  }
  if (const data::Dataset* train = state.train_data.get(); train && train->labels_per_sample > 1) {
    ImGui::TextWrapped("%s: %zu training, %zu test windows of %u characters, a vocabulary of %u", train->name.c_str(),
                       train->count(), state.test_data ? state.test_data->count() : 0, train->labels_per_sample,
                       train->num_classes);
    DrawTextWindows(*train);
  } else if (train) {
    ImGui::TextWrapped("%s: %zu training, %zu test samples, shape %s, %u classes", train->name.c_str(), train->count(),
                state.test_data ? state.test_data->count() : 0, nn::ShapeString(train->sample_shape).c_str(),
                train->num_classes);
    if (train->feature_size() == 2) {
      // Scrolled out of view it would still cost its vertices every frame.
      if (ImGui::IsRectVisible(ImVec2(ImGui::GetContentRegionAvail().x, ImGui::GetFrameHeight())))
        DrawDataMap(state, "data preview", 0);
    }
    else if (IsImageDataset(*train))
      DrawImageGrid(*train);
    else
      DrawTable(*train);
  }
  ImGui::End();
}

}  // namespace ts::ui
