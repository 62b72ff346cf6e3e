// Checkpoints: ParseCheckpoint on any bytes (CRC-valid inputs come from the
// seeds and from mutations that keep the last four bytes right by chance), and
// the checkpoint written back from what loaded.
#include "compute/nn/checkpoint.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ts::fuzz::Expect([&] {
    const ts::nn::Checkpoint checkpoint =
        ts::nn::ParseCheckpoint(std::string(reinterpret_cast<const char*>(data), size), "fuzz.ckpt");
    const std::string path = ts::fuzz::ScratchPath("again.ckpt");
    ts::nn::SaveCheckpoint(path, checkpoint);
    ts::nn::LoadCheckpoint(path);
  });
  return 0;
}
