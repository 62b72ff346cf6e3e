// Checkpoints: the model, its training config, the parameters, the optimizer
// state and the training position, in one binary file.
//
// Layout (little-endian), version 2:
//   bytes 0-7    magic "TSCKPT01"
//   8-11         uint32 format version (2; version 1 files, without bytes 64-71
//                and the tensor table, still load)
//   12-15        uint32 header size (72; 64 in version 1)
//   16-23        uint64 model JSON bytes (M)
//   24-31        uint64 training config JSON bytes (C)
//   32-39        uint64 parameter count (P)
//   40-43        uint32 optimizer state tensors (S)
//   44-47        uint32 epoch
//   48-55        uint64 global step
//   56-59        uint32 step in epoch
//   60-63        uint32 running statistics count (R; 0 in files from before batch norm)
//   64-71        uint64 tensor table JSON bytes (T)
//   72...        model JSON, config JSON, tensor table JSON (padded with spaces
//                so the floats start at a multiple of 64 bytes), P floats of
//                parameters, S x P floats of optimizer state, R floats of
//                running statistics
//   last 4 bytes uint32 CRC-32 of everything before it
// The tensor table names every tensor in the file and where it lies:
//   {"format": "tensorscope-tensor-table", "version": 1, "dtype": "float32", "byte_order": "little",
//    "tensors": [{"name": "dense_1.weight", "section": "parameters", "shape": [2, 64],
//                 "layout": "(in, out) row-major: Y = X W ...", "offset": 1280, "count": 128}, ...]}
// "offset" is the byte in the file where the tensor's floats start, so
// numpy.fromfile(path, "<f4", count, offset=offset) reads one. Sections:
// "parameters", "optimizer.momentum_buffer" (momentum), "optimizer.exp_avg" and
// "optimizer.exp_avg_sq" (Adam, AdamW; PyTorch's names), "running_statistics".
// Written atomically (temporary file, then rename).
#pragma once

#include <string>
#include <vector>

#include "compute/nn/model.h"
#include "compute/nn/trainer.h"

namespace ts::nn {

inline constexpr const char* kCheckpointMagic = "TSCKPT01";  // a checkpoint's first 8 bytes

struct Checkpoint {
  ModelDesc model;
  nlohmann::json config;  // TrainConfigToJson of the run that wrote it
  TrainPosition position;
  std::vector<float> parameters;                  // Plan::ReadParameters order (tensor_table.h)
  std::vector<std::vector<float>> optimizer_state;
  std::vector<float> statistics;                  // Plan::ReadStatistics order (batch norm)
};

void SaveCheckpoint(const std::string& path, const Checkpoint& checkpoint);
// Throws ts::Error naming the file and byte offset for a truncated, corrupt or
// foreign file. Every reader of checkpoints (train --resume, eval) goes
// through here, so all accept and refuse the same files: each header field is
// checked against the file and the embedded config (limits in
// assets/models/README.md), and the embedded model and training config must
// pass ParseModel and ParseTrainConfig. Only a regular file is read.
Checkpoint LoadCheckpoint(const std::string& path);
// The same from the file's bytes; `source` names it in messages.
Checkpoint ParseCheckpoint(const std::string& bytes, const std::string& source);

Checkpoint CaptureCheckpoint(const Trainer& trainer);
// Loads parameters, optimizer state and position into `trainer`. Throws
// ts::Error when the checkpoint is for another architecture or optimizer.
void RestoreCheckpoint(Trainer& trainer, const Checkpoint& checkpoint, const std::string& source);
// Loads only the parameters and running statistics into a plan (for evaluation).
void RestoreParameters(Plan& plan, const Checkpoint& checkpoint, const std::string& source);

// The tensor table of `checkpoint` as SaveCheckpoint writes it, its floats
// starting at byte `data_start`. Throws ts::Error when the checkpoint's
// tensors do not match its model.
nlohmann::json CheckpointTensorTable(const Checkpoint& checkpoint, uint64_t data_start);

// "input 2 > dense 64 > relu > dense 3 > softmax_cross_entropy": what must match.
std::string ArchitectureSignature(const ModelDesc& model);

}  // namespace ts::nn
