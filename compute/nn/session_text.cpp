// TrainingSession's text views of a sequence model: samples drawn a few
// characters per worker turn between training submissions, and attention
// maps, both from one TextGenerator per run that follows the training
// parameters.
#include "compute/nn/session_worker.h"

namespace ts::nn {

TextGenerator& TrainingSession::Worker::TextGeneratorForRun() {
  if (text_generator) return *text_generator;
  Require(trainer != nullptr, "There is no model to write text: load a model and its text first.");
  Require(TokensPerSample(setup.model) > 1,
          "The model '" + setup.model.name + "' is not a sequence model (an input of T token ids and an embedding): "
          "it does not write text.");
  Require(!setup.config.vocabulary.empty(),
          "This run has no vocabulary: the model writes text only after training on text (text or kjv data).");
  data::Vocabulary vocabulary{setup.config.vocabulary};
  text_generator = std::make_unique<TextGenerator>(context, pipelines, setup.model, vocabulary,
                                                   trainer->plan().ReadParameters());
  return *text_generator;
}

void TrainingSession::Worker::EmitSample(std::string text, bool done, std::string error) {
  auto answer = std::make_shared<SampleAnswer>();
  answer->request = *sample_request;
  answer->global_step = sample_step;
  answer->text = std::move(text);
  answer->done = done;
  answer->error = std::move(error);
  SessionEvent event = Event(SessionEvent::Kind::kSample);
  event.sample = std::move(answer);
  Emit(std::move(event));
}

void TrainingSession::Worker::StartSample(const SampleRequest& request) {
  // A newer request replaces the one in progress: its answers stop here.
  sample_request = request;
  sample_step = trainer ? trainer->position().global_step : 0;
  bool started = false;
  try {
    TextGenerator& generator = TextGeneratorForRun();
    generator.SetParameters(trainer->plan().ReadParameters());  // the weights as they are now
    sample_state = generator.Begin(request.prompt, request.options);
    started = true;
  } catch (const std::exception& e) {
    EmitSample(request.prompt, true, e.what());
  }
  if (started && sample_state.done()) {  // nothing to draw (0 characters asked for)
    EmitSample(sample_state.text, true, {});
    started = false;
  }
  if (!started) sample_request.reset();
  std::lock_guard lock(mutex);
  text_pending = sample_request.has_value();
}

void TrainingSession::Worker::AdvanceSample() {
  uint32_t tokens = kMostSampleTokensPerTurn;
  if (state == SessionState::kRunning)
    tokens = seconds_per_token > 0 && training_turn_seconds > 0
                 ? static_cast<uint32_t>(std::clamp(kSampleShare * training_turn_seconds / seconds_per_token,
                                                    double(kLeastSampleTokensPerTurn), double(kMostSampleTokensPerTurn)))
                 : kLeastSampleTokensPerTurn;  // the first turn measures
  try {
    const Clock::time_point start = Clock::now();
    const uint32_t drawn = text_generator->Advance(sample_state, tokens);
    if (drawn > 0) {
      // Averaged over the recent turns: the window's frames and training share the CPU unevenly.
      const double per_token = std::chrono::duration<double>(Clock::now() - start).count() / drawn;
      seconds_per_token = seconds_per_token > 0 ? 0.5 * (seconds_per_token + per_token) : per_token;
    }
    EmitSample(sample_state.text, sample_state.done(), {});
  } catch (const std::exception& e) {
    // A failed sample must not stop the training: it ends with its error.
    EmitSample(sample_state.text, true, e.what());
    sample_state.options.tokens = sample_state.drawn;
  }
  if (sample_state.done()) sample_request.reset();
  std::lock_guard lock(mutex);
  text_pending = sample_request.has_value();
}

void TrainingSession::Worker::AnswerAttention(const AttentionRequest& request) {
  auto answer = std::make_shared<AttentionAnswer>();
  answer->request = request;
  answer->global_step = trainer ? trainer->position().global_step : 0;
  try {
    TextGenerator& generator = TextGeneratorForRun();
    // The generator holds one set of weights: while a sample is drawn they stay
    // those of its start (its label stays true), and the maps are of that step.
    if (sample_request)
      answer->global_step = sample_step;
    else
      generator.SetParameters(trainer->plan().ReadParameters());
    answer->maps = generator.Attention(request.prompt);
  } catch (const std::exception& e) {
    answer->maps = {};
    answer->error = e.what();
  }
  SessionEvent event = Event(SessionEvent::Kind::kAttention);
  event.attention = std::move(answer);
  Emit(std::move(event));
}

}  // namespace ts::nn
