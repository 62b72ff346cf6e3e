#include "ui/panels/text_panel.h"

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "compute/nn/model.h"
#include "imgui.h"
#include "imgui_stdlib.h"  // after imgui.h
#include "ui/format.h"
#include "ui/panel_layout.h"
#include "ui/test_hooks.h"
#include "ui/widgets/attention_map.h"
#include "ui/widgets/text.h"


namespace ts::ui {
namespace {

// A request not answered in this long is taken as lost (e.g. dropped by a new run).
constexpr double kAnswerPatience = 60.0;
// While training and shown, the attention maps follow the weights this often.
constexpr double kAttentionInterval = 3.0;
constexpr int kMostCharacters = 2000;

const ImVec4 kErrorColor(1.0f, 0.45f, 0.4f, 1.0f);

// The newest sample request has not finished yet.
bool SampleInProgress(const TextView& text, double now) {
  if (text.requests == 0) return false;
  for (const TextView::Sample& sample : text.samples)
    if (sample.request == text.requests) return !sample.done;
  return now - text.sent_at < kAnswerPatience;  // asked, and no characters yet
}

bool Training(const AppState& state) { return state.training.state == nn::SessionState::kRunning; }

bool HasNetwork(const AppState& state) {
  return state.session && state.training.state != nn::SessionState::kEmpty && state.training.identity.has_value();
}

// Placed over the centre (where GPU insight opens) the first time, below the Training panel's controls.
void PlaceWindow() {
  const ImVec2 display = ImGui::GetIO().DisplaySize;
  const PanelLayout layout =
      DefaultLayout(display.x, display.y, ImGui::GetFrameHeight(), ImGui::GetFontSize(), 0.0f);
  ImGui::SetNextWindowPos(ImVec2(layout.insight.x, layout.insight.y), ImGuiCond_FirstUseEver);
  ImGui::SetNextWindowSize(ImVec2(layout.insight.width, layout.insight.height), ImGuiCond_FirstUseEver);
}

// ---- Samples ----------------------------------------------------------------------------------

void DrawSampleSettings(AppState& state) {
  TextView& text = state.text;
  const double now = ImGui::GetTime();
  ImGui::SetNextItemWidth(-Scaled(60));
  ImGui::InputTextWithHint("prompt", "(empty: start from a line break)", &text.prompt);
  RecordItemRect("text_prompt");
  ImGui::PushItemWidth(Scaled(110));
  ImGui::SliderFloat("temperature", &text.temperature, 0.1f, 2.0f, "%.2f");
  if (ImGui::IsItemHovered())
    ImGui::SetTooltip("Each character is drawn from softmax(logits / temperature):\n"
                      "below 1 the likeliest characters win more often, above 1 the text gets wilder.");
  ImGui::SameLine();
  if (ImGui::InputInt("top-k", &text.top_k, 1, 5)) text.top_k = std::clamp(text.top_k, 0, 1000);
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("Draw only among the k likeliest characters (0: all of them).");
  ImGui::SameLine();
  if (ImGui::InputInt("length", &text.length, 10, 100)) text.length = std::clamp(text.length, 1, kMostCharacters);
  ImGui::PopItemWidth();

  ImGui::BeginDisabled(!HasNetwork(state));
  if (ImGui::Button("Sample now")) RequestTextSample(state, now);
  ImGui::EndDisabled();
  RecordItemRect("text_sample_now");
  if (!HasNetwork(state) && ImGui::IsItemHovered(ImGuiHoveredFlags_AllowWhenDisabled))
    ImGui::SetTooltip("Train first: the samples come from the network as it learns.");
  ImGui::SameLine();
  ImGui::Checkbox("every", &text.every);
  RecordItemRect("text_every");
  ImGui::SameLine();
  ImGui::SetNextItemWidth(Scaled(80));
  ImGui::SliderFloat("s while training", &text.interval, 2.0f, 60.0f, "%.0f");
  if (SampleInProgress(text, now)) {
    ImGui::SameLine();
    const TextView::Sample* newest = text.samples.empty() ? nullptr : &text.samples.front();
    if (newest && newest->request == text.requests)
      ImGui::TextDisabled("writing... %zu characters", newest->text.size() - std::min(newest->text.size(), newest->prompt.size()));
    else
      ImGui::TextDisabled("writing...");
  }
}

void DrawSamples(AppState& state) {
  TextView& text = state.text;
  ImGui::BeginChild("samples", ImVec2(0, 0), false);
  if (text.samples.empty()) {
    Muted(HasNetwork(state)
              ? "No samples yet. While the network trains, it writes one every few seconds (or press Sample now): "
                "at first random characters, then words, then something like the text it learns from."
              : "Train the model first: the samples come from the network as it learns.");
  }
  for (const TextView::Sample& sample : text.samples) {
    ImGui::PushID(static_cast<int>(sample.request));
    char heading[160];
    if (sample.loss >= 0)
      std::snprintf(heading, sizeof heading, "step %llu   loss %.3f", static_cast<unsigned long long>(sample.step),
                    sample.loss);
    else
      std::snprintf(heading, sizeof heading, "step %llu%s", static_cast<unsigned long long>(sample.step),
                    sample.step == 0 ? "   (untrained)" : "");
    ImGui::TextColored(ImVec4(0.55f, 0.75f, 1.0f, 1.0f), "%s", heading);
    if (!sample.done) {
      ImGui::SameLine();
      ImGui::TextDisabled("writing...");
    }
    if (!sample.error.empty()) {
      ImGui::PushStyleColor(ImGuiCol_Text, kErrorColor);
      ImGui::TextWrapped("%s", sample.error.c_str());
      ImGui::PopStyleColor();
    } else {
      // The prompt muted, then what the network wrote; line breaks as line breaks, wrapped at the edge.
      ImGui::PushTextWrapPos(0.0f);
      const size_t prompt = std::min(sample.prompt.size(), sample.text.size());
      if (prompt > 0) {
        ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetColorU32(ImGuiCol_TextDisabled));
        ImGui::TextUnformatted(sample.text.data(), sample.text.data() + prompt);
        ImGui::PopStyleColor();
      }
      ImGui::TextUnformatted(sample.text.data() + prompt, sample.text.data() + sample.text.size());
      ImGui::PopTextWrapPos();
    }
    if (text.drawn.samples == 0) RecordItemRect("text_newest_sample");
    ++text.drawn.samples;
    ImGui::Separator();
    ImGui::PopID();
  }
  ImGui::EndChild();
}

void DrawSamplesTab(AppState& state) {
  DrawSampleSettings(state);
  ImGui::Separator();
  DrawSamples(state);
}

// ---- Attention --------------------------------------------------------------------------------

// The hovered query's three largest weights, for the test log.
void NoteTopKeys(TextView& text, const nn::AttentionMaps& maps, int query) {
  text.drawn.hovered_top.clear();
  if (query < 0 || query >= int(maps.tokens.size())) return;
  std::vector<std::pair<int, float>> keys;
  for (int k = 0; k <= query; ++k) keys.push_back({k, maps.at(text.layer, text.head, query, k)});
  const size_t kept = std::min<size_t>(3, keys.size());
  std::partial_sort(keys.begin(), keys.begin() + kept, keys.end(),
                    [](const auto& a, const auto& b) { return a.second > b.second; });
  keys.resize(kept);
  text.drawn.hovered_top = std::move(keys);
}

void DrawAttentionPickers(TextView& text, const nn::AttentionMaps& maps) {
  ImGui::PushItemWidth(Scaled(120));
  const std::string layer_name = text.layer < int(maps.layer_names.size()) ? maps.layer_names[text.layer] : "";
  if (ImGui::BeginCombo("layer", layer_name.c_str())) {
    for (int l = 0; l < int(maps.layers); ++l)
      if (ImGui::Selectable(maps.layer_names[l].c_str(), l == text.layer)) text.layer = l;
    ImGui::EndCombo();
  }
  RecordItemRect("text_layer");
  ImGui::SameLine();
  const int last_head = std::max(0, int(maps.heads) - 1);
  ImGui::SliderInt("head", &text.head, 0, last_head);
  text.head = std::clamp(text.head, 0, last_head);
  ImGui::PopItemWidth();
  ImGui::SameLine();
  ImGui::Checkbox("all heads", &text.all_heads);
  RecordItemRect("text_all_heads");
  ImGui::SameLine();
  ImGui::Checkbox("weights 0 to 1", &text.absolute);
  if (ImGui::IsItemHovered())
    ImGui::SetTooltip("Off: each row is shaded against its own largest weight (where each token looks most).\n"
                      "On: the weights themselves, 0 to 1 (how sharply each token looks).");
}

void DrawAttentionMaps(AppState& state, const nn::AttentionAnswer& answer) {
  TextView& text = state.text;
  const nn::AttentionMaps& maps = answer.maps;
  DrawAttentionPickers(text, maps);
  ImGui::TextDisabled("weights of step %llu; rows: the token that looks (query), columns: where it looks (key)",
                      static_cast<unsigned long long>(answer.global_step));
  int hovered_query = -1, hovered_key = -1;
  float hovered_weight = 0;
  auto note = [&](const AttentionPick& pick) {
    text.drawn.cells += static_cast<uint32_t>(std::max(pick.cells, 0));
    if (pick.query >= 0) hovered_query = pick.query, hovered_key = pick.key, hovered_weight = pick.weight;
  };
  const AttentionScale scale = text.absolute ? AttentionScale::kAbsolute : AttentionScale::kRowMax;
  auto record = [](const char* name, const AttentionPick& pick) {
    RecordRect(name, pick.map_min.x, pick.map_min.y, pick.map_max.x, pick.map_max.y);
  };
  // The prompt, shaded by where the chosen token looks: attention read on the text itself.
  const AttentionPick strip = AttentionStrip("strip", maps, text.layer, text.head, text.query, scale);
  record("text_attention_strip", strip);
  note(strip);
  if (text.all_heads) {
    const float cell = std::clamp((ImGui::GetContentRegionAvail().x - 8) / float(std::max(1u, maps.heads)) - 8,
                                  Scaled(60), Scaled(160));
    const AttentionPick grid = AttentionHeadGrid("heads", maps, text.layer, text.head, cell, scale);
    record("text_attention_grid", grid);
    text.drawn.heatmaps += maps.heads;
    text.drawn.cells += static_cast<uint32_t>(std::max(grid.cells, 0));  // a click picks the head; hover only shows
    if (grid.clicked_head >= 0) text.head = grid.clicked_head;
  }
  // The chosen head as large as fits (cells of a few pixels and up; the window scrolls when it must).
  const ImVec2 avail = ImGui::GetContentRegionAvail();
  const float side = std::max(Scaled(200), std::min(avail.x, avail.y - ImGui::GetStyle().ItemSpacing.y));
  const AttentionPick map = AttentionHeatmap("map", maps, text.layer, text.head, text.query, ImVec2(side, side), scale);
  record("text_attention_map", map);
  note(map);
  ++text.drawn.heatmaps;
  // Hovering a row or a character picks the query; it stays picked when the mouse leaves.
  if (hovered_query >= 0) text.query = hovered_query;
  text.drawn.hovered_query = hovered_query;
  text.drawn.hovered_key = hovered_key;
  text.drawn.hovered_weight = hovered_weight;
  NoteTopKeys(text, maps, hovered_query);
}

void DrawAttentionTab(AppState& state) {
  TextView& text = state.text;
  const double now = ImGui::GetTime();
  ImGui::SetNextItemWidth(-Scaled(150));
  const bool entered = ImGui::InputText("##attention prompt", &text.attention_prompt,
                                        ImGuiInputTextFlags_EnterReturnsTrue);
  RecordItemRect("text_attention_prompt");
  ImGui::SameLine();
  ImGui::BeginDisabled(!HasNetwork(state));
  if (ImGui::Button("Refresh") || (entered && HasNetwork(state))) RequestAttentionMaps(state, now);
  ImGui::EndDisabled();
  RecordItemRect("text_attention_refresh");
  HelpMarker("Each head of each transformer block mixes the earlier characters into every position with softmax "
             "weights (a row sums to 1; a token never looks ahead: the upper triangle is empty). Hover a row or a "
             "character of the prompt to see where that token looks. While the model trains, the maps refresh "
             "every few seconds.");
  // The maps of this run, asked for when the tab is first shown and while training.
  const bool lost = text.attention_pending && now - text.attention_sent_at > kAnswerPatience;
  if (HasNetwork(state) && (!text.attention_pending || lost) &&
      (!text.attention || (Training(state) && now - text.attention_sent_at >= kAttentionInterval)))
    RequestAttentionMaps(state, now);
  if (!text.attention) {
    Muted(HasNetwork(state) ? "Reading the attention weights..." : "Train the model first: the maps are of its weights.");
    return;
  }
  if (!text.attention->error.empty()) {
    ImGui::PushStyleColor(ImGuiCol_Text, kErrorColor);
    ImGui::TextWrapped("%s", text.attention->error.c_str());
    ImGui::PopStyleColor();
    return;
  }
  DrawAttentionMaps(state, *text.attention);
}

}  // namespace

bool OffersText(const AppState& state) { return state.model && nn::TokensPerSample(*state.model) > 1; }

void ForgetTextOfOtherRuns(AppState& state) {
  TextView& text = state.text;
  if (text.run_id == state.training.run_id) return;
  text.run_id = state.training.run_id;
  text.samples.clear();
  text.sent_at = -1e9;
  text.attention.reset();
  text.attention_pending = false;
  text.attention_sent_at = -1e9;
  text.query = -1;
}

void RequestTextSample(AppState& state, double now) {
  TextView& text = state.text;
  if (!state.session) return;
  ForgetTextOfOtherRuns(state);
  nn::SampleRequest request;
  request.prompt = text.prompt;
  request.options.tokens = static_cast<uint32_t>(std::clamp(text.length, 1, kMostCharacters));
  request.options.temperature = text.temperature;
  request.options.top_k = static_cast<uint32_t>(std::max(text.top_k, 0));
  request.request = ++text.requests;
  // Each sample its own draws: nn::DrawToken's splitmix streams of neighbouring
  // seeds (1, 2, ...) start alike, so the request number is spread first.
  request.options.seed = (request.request + 1) * 0xD1B54A32D192ED03ull;
  text.sent_at = now;
  state.session->RequestSample(request);
}

void RequestAttentionMaps(AppState& state, double now) {
  TextView& text = state.text;
  if (!state.session) return;
  ForgetTextOfOtherRuns(state);
  text.attention_sent_at = now;
  text.attention_pending = true;
  state.session->RequestAttention({text.attention_prompt, ++text.attention_requests});
}

void DrawOpenTextButton(AppState& state) {
  if (!OffersText(state)) {
    state.text.open = false;
    return;
  }
  if (ImGui::Button(state.text.open ? "Close Text" : "Text...")) state.text.open = !state.text.open;
  RecordItemRect("open_text");
  if (ImGui::IsItemHovered())
    ImGui::SetTooltip("What the model writes as it trains (samples at the current step),\n"
                      "and where its attention heads look (heatmaps per block and head).");
}

void DrawTextPanel(AppState& state) {
  TextView& text = state.text;
  text.drawn = {};
  if (!text.open) return;
  if (!OffersText(state)) {
    text.open = false;
    return;
  }
  ForgetTextOfOtherRuns(state);
  const double now = ImGui::GetTime();
  PlaceWindow();
  ImGui::SetNextWindowBgAlpha(1.0f);  // it floats over the panels
  if (!ImGui::Begin("Text: samples and attention###Text", &text.open)) {
    ImGui::End();
    return;
  }
  StayClearOfControls();  // never over the Training panel's Stop button
  RecordRect("text_window", ImGui::GetWindowPos().x, ImGui::GetWindowPos().y,
             ImGui::GetWindowPos().x + ImGui::GetWindowSize().x, ImGui::GetWindowPos().y + ImGui::GetWindowSize().y);
  if (ImGui::BeginTabBar("text tabs")) {
    const auto tab = [&](const char* name, const char* rect, auto&& draw) {
      const bool open = ImGui::BeginTabItem(name);
      RecordItemRect(rect);
      if (!open) return;
      text.drawn.tab = name;
      draw();
      ImGui::EndTabItem();
    };
    tab("Samples", "text_tab_samples", [&] { DrawSamplesTab(state); });
    tab("Attention", "text_tab_attention", [&] { DrawAttentionTab(state); });
    ImGui::EndTabBar();
  }
  ImGui::End();
  // A sample every few seconds while training (the next once the last is written).
  if (text.open && text.every && Training(state) && !SampleInProgress(text, now) &&
      now - text.sent_at >= text.interval)
    RequestTextSample(state, now);
}

}  // namespace ts::ui
