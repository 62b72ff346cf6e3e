#include "compute/reference/embedding.h"

#include <cassert>
#include <limits>

namespace ts::reference {

std::vector<double> EmbeddingForward(std::span<const uint32_t> tokens, std::span<const double> wte,
                                     std::span<const double> wpe, uint32_t rows, uint32_t tokens_per_sample,
                                     uint32_t vocab, uint32_t width) {
  std::vector<double> y(size_t(rows) * width);
  for (uint32_t r = 0; r < rows; ++r) {
    const uint32_t token = tokens[r], t = r % tokens_per_sample;
    for (uint32_t c = 0; c < width; ++c)
      y[size_t(r) * width + c] = token < vocab ? wte[size_t(token) * width + c] + wpe[size_t(t) * width + c]
                                               : std::numeric_limits<double>::quiet_NaN();
  }
  return y;
}

EmbeddingGradients EmbeddingBackward(std::span<const uint32_t> tokens, std::span<const double> grad_y, uint32_t rows,
                                     uint32_t tokens_per_sample, uint32_t vocab, uint32_t width) {
  EmbeddingGradients g;
  g.grad_wte.assign(size_t(vocab) * width, 0.0);
  g.grad_wpe.assign(size_t(tokens_per_sample) * width, 0.0);
  for (uint32_t r = 0; r < rows; ++r) {
    const uint32_t token = tokens[r], t = r % tokens_per_sample;
    for (uint32_t c = 0; c < width; ++c) {
      const double dy = grad_y[size_t(r) * width + c];
      if (token < vocab) g.grad_wte[size_t(token) * width + c] += dy;
      g.grad_wpe[size_t(t) * width + c] += dy;
    }
  }
  return g;
}

TextBatch GatherText(std::span<const uint32_t> corpus, const kernels::TextGatherArgs& args, uint32_t adam_step,
                     uint32_t batch_offset) {
  const uint32_t T = args.tokens_per_sample;
  TextBatch batch;
  batch.input.resize(size_t(args.rows) * T);
  batch.labels.resize(size_t(args.rows) * T);
  for (uint32_t r = 0; r < args.rows; ++r) {
    const size_t start = kernels::TextWindowStart(args, adam_step, batch_offset, r);
    assert(start + T < corpus.size() && "the window must lie inside the corpus");
    for (uint32_t t = 0; t < T; ++t) {
      batch.input[size_t(r) * T + t] = corpus[start + t];
      batch.labels[size_t(r) * T + t] = corpus[start + t + 1];
    }
  }
  return batch;
}

}  // namespace ts::reference
