// embedding.comp: a GPT's input layer, token plus learned position embedding:
//   y[r][c] = wte[tokens[r]][c] + wpe[r % T][c]     rows r = b*T + t, (B*T, C)
// A token id >= vocab writes NaN into its row (the metrics then flag bad data).
// The backward, deterministic (no float atomics; each output element is one
// invocation's sum over the rows that use it):
//   dwte[v][c] (+)= sum_{r: tokens[r] = v} dy[r][c]
//   dwpe[t][c]  = sum_b dy[b*T + t][c]
// accumulate_token_gradient adds to dwte, for a language-model head tied to
// the embedding whose backward has already written its part of dwte.
#pragma once

#include <cstdint>
#include <vector>

#include "compute/kernels/tensor_ref.h"

namespace ts::kernels {

struct EmbeddingArgs {
  TensorRef tokens;  // (rows) uint32 read, or float32 ids with float_tokens
  TensorRef wte;     // (vocab, C) read
  TensorRef wpe;     // (T, C) read
  TensorRef y;       // (rows, C) write
  uint32_t rows = 0, tokens_per_sample = 0, vocab = 0, width = 0;  // rows a multiple of tokens_per_sample
  // The ids are float32 values (a batch the dataset gather wrote, text.h): a
  // negative, NaN or non-integral value is a bad token (NaN row).
  bool float_tokens = false;
};
vk::Dispatch EmbeddingDispatch(vk::PipelineCache& pipelines, const EmbeddingArgs& args);

// The token-gradient kernel's tile (embedding_back.comp): a workgroup of
// column_lanes x row_lanes invocations sums the rows of vocab_tile token ids.
// Zero fields take the device's default; the tests force the other devices'
// shapes. (Added to the given API: only the tests need it.)
struct EmbeddingBackwardTuning {
  uint32_t column_lanes = 0;  // lanes of one column each, or four where C % 4 == 0 (vec4)
  uint32_t row_lanes = 0;
  uint32_t vocab_tile = 0;
};

struct EmbeddingBackwardArgs {
  TensorRef tokens;    // (rows) uint32 read
  TensorRef grad_y;    // (rows, C) read
  TensorRef grad_wte;  // (vocab, C) write, or += with accumulate_token_gradient
  TensorRef grad_wpe;  // (T, C) write
  uint32_t rows = 0, tokens_per_sample = 0, vocab = 0, width = 0;
  bool accumulate_token_gradient = false;
  bool float_tokens = false;  // as EmbeddingArgs::float_tokens
  EmbeddingBackwardTuning tuning;  // defaults: leave it
};
std::vector<vk::Dispatch> EmbeddingBackwardDispatches(vk::PipelineCache& pipelines, const EmbeddingBackwardArgs& args);

// gather_text.comp: a batch of training windows from a token corpus resident
// on the device (no per-step upload):
//   start(r) = random:     first + hash(seed, StepParams::adam_step, r) % (span - T)
//              sequential: first + ((StepParams::batch_offset + r) % windows) * T, windows = (span - 1) / T
//                          (non-overlapping windows walking the span, wrapping to its start)
//   input[r*T + t]  = corpus[start(r) + t]
//   labels[r*T + t] = corpus[start(r) + t + 1]      (the next character)
// Every window, its last label included, lies inside [first, first + span).
// The hash is InitRandomBits (shaders/init.h; seed salted, see
// shaders/embedding.h) so the host can reproduce a batch (TextWindowStart).
struct TextGatherArgs {
  TensorRef corpus;        // (corpus_count) uint32 token ids read
  TensorRef step_params;   // one StepParams read (adam_step, batch_offset)
  TensorRef input;         // (rows * T) uint32 write
  TensorRef labels;        // (rows * T) uint32 write
  uint32_t rows = 0, tokens_per_sample = 0;
  uint32_t first = 0, span = 0;  // the part of the corpus to draw from (train or validation); span > T
  bool random = true;
  uint32_t seed = 0;
};
vk::Dispatch TextGatherDispatch(vk::PipelineCache& pipelines, const TextGatherArgs& args);
// Where row `row` of a step's window starts, as the kernel computes it.
uint32_t TextWindowStart(const TextGatherArgs& args, uint32_t adam_step, uint32_t batch_offset, uint32_t row);

}  // namespace ts::kernels
