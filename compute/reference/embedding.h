// Plain double-precision CPU versions of the GPT input kernels
// (compute/kernels/embedding.h): token + position embedding, its backward,
// and the text-window gather. What the tests compare the GPU against.
// Shapes are row-major; rows r = b*T + t.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "compute/kernels/embedding.h"

namespace ts::reference {

// tokens: (rows); wte: (vocab, C); wpe: (T, C). Returns y (rows, C):
// wte[tokens[r]] + wpe[r % T], or NaN across a row whose token >= vocab.
std::vector<double> EmbeddingForward(std::span<const uint32_t> tokens, std::span<const double> wte,
                                     std::span<const double> wpe, uint32_t rows, uint32_t tokens_per_sample,
                                     uint32_t vocab, uint32_t width);

struct EmbeddingGradients {
  std::vector<double> grad_wte;  // (vocab, C): sum of dy over the rows holding each token (0 where none does)
  std::vector<double> grad_wpe;  // (T, C): sum of dy over the batch
};
// tokens: (rows); grad_y: (rows, C). Rows whose token >= vocab add to no row of grad_wte.
EmbeddingGradients EmbeddingBackward(std::span<const uint32_t> tokens, std::span<const double> grad_y, uint32_t rows,
                                     uint32_t tokens_per_sample, uint32_t vocab, uint32_t width);

struct TextBatch {
  std::vector<uint32_t> input;   // (rows, T): corpus[start(r) + t]
  std::vector<uint32_t> labels;  // (rows, T): corpus[start(r) + t + 1]
};
// The batch gather_text.comp assembles at (adam_step, batch_offset), with the
// window starts of kernels::TextWindowStart.
TextBatch GatherText(std::span<const uint32_t> corpus, const kernels::TextGatherArgs& args, uint32_t adam_step,
                     uint32_t batch_offset);

}  // namespace ts::reference
