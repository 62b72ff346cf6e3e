#include "compute/parallel/all_reduce.h"

#include <cassert>

namespace ts::parallel {

AllReduceTraffic RingAllReduce(std::span<float* const> buffers, uint64_t count, float scale) {
  const uint64_t n = buffers.size();
  assert(n > 0 && "an all-reduce needs at least one buffer");
  AllReduceTraffic traffic;
  auto chunk_begin = [&](uint64_t chunk) { return chunk * count / n; };
  if (n == 1) {
    if (scale != 1.0f)
      for (uint64_t i = 0; i < count; ++i) buffers[0][i] *= scale;
    return traffic;
  }
  uint64_t bytes_sent = 0;
  // Reduce-scatter. In round s replica r sends chunk (r - s) mod n to r + 1;
  // within a round every replica sends a different chunk, so doing the sends one
  // after another here gives what simultaneous sends would.
  for (uint64_t round = 0; round + 1 < n; ++round) {
    for (uint64_t r = 0; r < n; ++r) {
      const uint64_t chunk = (r + n - round) % n;
      const float* from = buffers[r];
      float* to = buffers[(r + 1) % n];
      for (uint64_t i = chunk_begin(chunk); i < chunk_begin(chunk + 1); ++i) to[i] += from[i];
      if (r == 0) bytes_sent += (chunk_begin(chunk + 1) - chunk_begin(chunk)) * sizeof(float);
    }
    ++traffic.rounds;
  }
  // Replica r now holds the whole sum of chunk (r + 1) mod n.
  for (uint64_t r = 0; r < n; ++r) {
    const uint64_t chunk = (r + 1) % n;
    if (scale != 1.0f)
      for (uint64_t i = chunk_begin(chunk); i < chunk_begin(chunk + 1); ++i) buffers[r][i] *= scale;
  }
  // All-gather: in round s replica r passes chunk (r + 1 - s) mod n on to r + 1.
  for (uint64_t round = 0; round + 1 < n; ++round) {
    for (uint64_t r = 0; r < n; ++r) {
      const uint64_t chunk = (r + 1 + n - round) % n;
      const float* from = buffers[r];
      float* to = buffers[(r + 1) % n];
      for (uint64_t i = chunk_begin(chunk); i < chunk_begin(chunk + 1); ++i) to[i] = from[i];
      if (r == 0) bytes_sent += (chunk_begin(chunk + 1) - chunk_begin(chunk)) * sizeof(float);
    }
    ++traffic.rounds;
  }
  traffic.bytes_sent_per_replica = bytes_sent;
  return traffic;
}

}  // namespace ts::parallel
