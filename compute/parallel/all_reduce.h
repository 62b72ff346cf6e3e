// The ring all-reduce, as NCCL and PyTorch's Gloo backend run it, over
// buffers the host can reach (one per replica).
//
// N replicas sit on a ring; replica r sends only to replica r + 1. The
// buffer is cut into N chunks. Reduce-scatter: in N - 1 rounds each replica
// sends one chunk to its neighbour, which adds it to its own copy; after them
// replica r holds the full sum of chunk (r + 1) mod N. All-gather: in N - 1
// more rounds the finished chunks travel round the ring, each overwriting the
// neighbour's copy. Every replica sends 2 (N - 1) / N of the buffer, whatever
// N is: the ring's bandwidth cost does not grow with the number of replicas.
#pragma once

#include <cstdint>
#include <span>

namespace ts::parallel {

struct AllReduceTraffic {
  uint64_t bytes_sent_per_replica = 0;  // 2 (N - 1) / N of the buffer, in bytes
  uint32_t rounds = 0;                  // 2 (N - 1)
};

// Sums `buffers[r][0, count)` over the replicas r, in place, then multiplies
// by `scale` (1 / N averages, as data-parallel training does), so that every
// buffer ends holding the same values. Each chunk is summed in ring order
// starting at a different replica, so two replicas' results are bitwise equal
// (each final chunk is computed once and copied) while the order of the
// additions differs from a plain left-to-right sum.
AllReduceTraffic RingAllReduce(std::span<float* const> buffers, uint64_t count, float scale = 1.0f);

}  // namespace ts::parallel
