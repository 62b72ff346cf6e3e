// Text panel: what a sequence model (a character-level GPT) writes, live
// while it trains. Opened from the Training panel ("Text...") for sequence
// models only; a floating window over the centre with two tabs:
//   Samples    a prompt, temperature, top-k and length; "Sample now", and a
//              sample every few seconds while training; the latest samples,
//              newest first, each with the training step and loss of the
//              weights that wrote it, so a learner sees them improve;
//   Attention  every block's and head's attention weights for a prompt: a
//              T x T heatmap (query rows, key columns), all heads of a layer
//              side by side, and the prompt's characters shaded by where the
//              hovered token looks; refreshed on demand and while training.
// The worker draws samples a few characters per turn between training
// submissions (nn::TrainingSession::RequestSample), so the window never waits.
#pragma once

#include "ui/app_state.h"

namespace ts::ui {

// Draws the window ("Text###Text") while state.text.open, and sends the
// requests it needs (samples while training, attention maps while shown).
void DrawTextPanel(AppState& state);

// Whether the project's model is a sequence model (the Text window is offered).
bool OffersText(const AppState& state);

// The "Text..." button that opens and closes the window (nothing for other models).
void DrawOpenTextButton(AppState& state);

// Drops the samples and maps of an earlier run (state.training.run_id moved on).
void ForgetTextOfOtherRuns(AppState& state);

// Ask the session for a sample with the Samples tab's settings, or for the
// attention maps of the Attention tab's prompt. `now`: ImGui::GetTime().
void RequestTextSample(AppState& state, double now);
void RequestAttentionMaps(AppState& state, double now);

}  // namespace ts::ui
