// tensorscope bench: our side of the benchmark in tests/bench (SGEMM, square and
// at the models' GEMM shapes; the decision-boundary refresh; the 784-128-10 MLP's
// and the seed CNN's training and inference throughput; bias + activation).
//
//   tensorscope bench [--device N] [--validate]
//       measures our kernels alone and prints a table (a quick look);
//   tensorscope bench --serve [--device N]
//       answers JSON requests read from stdin, one per line, with one JSON line
//       each, so that tests/bench/bench.py can interleave our runs with the CPU
//       peers' runs in one session (the requests are listed at the top of bench_serve.cpp).
#pragma once

#include <string>
#include <vector>

namespace ts::app {

// `args` are the words after "bench". Returns the exit code; throws ts::Error
// for bad options.
int RunBench(const std::vector<std::string>& args);

}  // namespace ts::app
