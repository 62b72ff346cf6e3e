// The `tensorscope bench` server (--serve) and quick table, kept apart from
// bench.cpp's --ceilings and --model reports. The JSON requests are listed at
// the top of bench_serve.cpp.
#pragma once

namespace ts::vk {
class Context;
}

namespace ts::app {

// Answers JSON requests read from stdin, one per line, with one JSON line each
// (tests/bench/bench.py drives it). Returns the exit code.
int ServeBenchRequests(vk::Context& context);

// A quick look at our numbers alone (the same requests, printed as a table);
// tests/bench/run.sh compares with the peers.
int PrintQuickBenchTable(vk::Context& context);

}  // namespace ts::app
