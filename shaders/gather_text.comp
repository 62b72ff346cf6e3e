#version 450
// A batch of training windows from a token corpus resident on the device:
//   start(r)          = TextWindowStartOf(...) (shaders/embedding.h: random or sequential)
//   input[r*T + t]    = corpus[start(r) + t]
//   labels[r*T + t]   = corpus[start(r) + t + 1]      (the next token)
// The step (StepParams: adam_step, batch_offset) is read on the device, so a
// command buffer recorded once draws new windows every step. A 2D grid:
// positions along x (coalesced), windows along y.
#include "embedding.h"
#include "step_params.h"

layout(local_size_x_id = 0, local_size_y_id = 1) in;  // lanes along positions (0) x windows (1)

layout(std430, binding = 0) readonly buffer Corpus { uint corpus[]; };          // (corpus_count)
layout(std430, binding = 1) readonly buffer Step { StepParams step[]; };         // one
layout(std430, binding = 2) writeonly buffer InputTokens { uint input_tokens[]; };  // (rows, T)
layout(std430, binding = 3) writeonly buffer Labels { uint labels[]; };         // (rows, T)
layout(push_constant) uniform Push { TextGatherParams p; };

void main() {
  const uint adam_step = step[0].adam_step, batch_offset = step[0].batch_offset;
  for (uint r = gl_GlobalInvocationID.y; r < p.rows; r += gl_NumWorkGroups.y * gl_WorkGroupSize.y) {
    uint start = TextWindowStartOf(p.first, p.span, p.tokens_per_sample, p.random, p.seed, adam_step, batch_offset, r);
    uint row_base = r * p.tokens_per_sample;
    for (uint t = gl_GlobalInvocationID.x; t < p.tokens_per_sample; t += gl_NumWorkGroups.x * gl_WorkGroupSize.x) {
      input_tokens[row_base + t] = corpus[start + t];
      labels[row_base + t] = corpus[start + t + 1u];
    }
  }
}
