// Push constants of embedding.comp, embedding_back.comp,
// embedding_back_position.comp and gather_text.comp, and the window start
// gather_text draws, shared by GLSL and C++ so kernels::TextWindowStart
// reproduces the device's windows exactly.
#ifndef TENSORSCOPE_SHADERS_EMBEDDING_H
#define TENSORSCOPE_SHADERS_EMBEDDING_H
#include "init.h"
#include "shared_types.h"
#ifdef __cplusplus
#define TS_EMBEDDING_FUNCTION inline
#else
#define TS_EMBEDDING_FUNCTION
#endif
TS_SHADER_NAMESPACE_BEGIN

struct EmbeddingParams {
  uint rows;               // B * T
  uint tokens_per_sample;  // T: row r is position r % T
  uint vocab;              // rows of wte
  uint width;              // C
  uint float_tokens;       // 1: the token ids are float32 values (a gathered batch); 0: uint32
};
TS_CHECK_PUSH_LAYOUT(EmbeddingParams, 5)

#ifndef __cplusplus
// Token `word` of a token buffer as an id: uint32 as is, or a float32 id
// (exact below 2^24); a negative, NaN or non-integral float gives an id
// past any vocabulary.
uint EmbeddingTokenId(uint word, uint float_tokens) {
  if (float_tokens == 0u) return word;
  float value = uintBitsToFloat(word);
  return value >= 0.0 && value < 16777216.0 && value == floor(value) ? uint(value) : 0xffffffffu;
}
#endif

struct TextGatherParams {
  uint rows;               // windows (samples) in the batch
  uint tokens_per_sample;  // T
  uint first;              // the corpus part drawn from: [first, first + span)
  uint span;               // > T
  uint random;             // 1: random windows; 0: sequential
  uint seed;
};
TS_CHECK_PUSH_LAYOUT(TextGatherParams, 6)

// Mixed into the seed so text windows and a parameter init (or a dropout
// mask) drawn with the same seed are unrelated.
const uint TEXT_WINDOW_SEED_SALT = 0x3c6ef372u;

// Where window `row` of a step starts. A window is T + 1 tokens (T inputs,
// the last label one further), so it must start at or before first + span - T - 1:
//   random:     first + InitRandomBits(seed ^ salt, adam_step, row) % (span - T)
//   sequential: first + ((batch_offset + row) % windows) * T, windows = (span - 1) / T,
//               i.e. non-overlapping windows walking the span, wrapping to its start.
// (uint arithmetic wraps identically in GLSL and C++.)
TS_EMBEDDING_FUNCTION uint TextWindowStartOf(uint first, uint span, uint tokens_per_sample, uint random, uint seed,
                                             uint adam_step, uint batch_offset, uint row) {
  if (random != 0u)
    return first + InitRandomBits(seed ^ TEXT_WINDOW_SEED_SALT, adam_step, row) % (span - tokens_per_sample);
  uint windows = (span - 1u) / tokens_per_sample;
  return first + ((batch_offset + row) % windows) * tokens_per_sample;
}

TS_SHADER_NAMESPACE_END
#undef TS_EMBEDDING_FUNCTION
#endif
