// tensorscope bench --precision: the same model trained in fp32 and in fp16
// (mixed precision), interleaved, with samples/s, GPU time per step, device
// memory and the bytes each step's kernels move, and the ratios fp16 / fp32.
#pragma once

#include "app/arguments.h"

namespace ts::app {

int RunPrecisionBench(const Arguments& args);

}  // namespace ts::app
