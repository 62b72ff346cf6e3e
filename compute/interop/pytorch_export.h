// PyTorch export: a folder a PyTorch user trains from, on one process or many
// (DistributedDataParallel):
//   model.py       an nn.Module mirroring the model in PyTorch's layouts (NCHW;
//                  see torch_layout.h), and load_weights()
//   weights.bin    float32 little-endian, every tensor in model.py's layout
//   manifest.json  each tensor's state_dict name, Tensorscope name, shape, byte offset, count
//   config.json    the training settings: optimizer, learning rate and schedule,
//                  batch, epochs, weight decay, seed, loss head
//   data/          the run's data as numpy files (train, validation, test: *_x.npy
//                  float32 as the network sees it, NCHW; *_y.npy int64 labels);
//                  for IDX files, CIFAR-10 batches and image folders
//                  (data::FindDataFiles) instead source.json (where the files are,
//                  how their bytes are scaled; an image folder's labels and image
//                  size), *_index.npy (which samples of them each split holds, in
//                  order) and *_hash.npy (a hash of each sample's bytes), read by
//                  data_source.py from where the files lie
//   train.py       the training loop: DDP-ready (nccl on GPUs, gloo otherwise),
//                  DistributedSampler with set_epoch, rank-0 logging and saving
//   README.md      what is where, and the launch lines
#pragma once

#include <string>

#include "compute/data/dataset.h"
#include "compute/nn/checkpoint.h"

namespace ts::interop {

// At most this many bytes of data are copied into the folder.
inline constexpr uint64_t kMaxExportedDataBytes = uint64_t{1} << 30;

struct ExportData {
  const data::Dataset* train = nullptr;       // what Tensorscope trains on (after the validation split)
  const data::Dataset* validation = nullptr;  // may be null or empty
  const data::Dataset* test = nullptr;        // may be null or empty
  std::string spec;                           // the --data spec they came from
};

// Writes the folder `folder` (created if missing; files in it are replaced,
// each atomically). Throws ts::Error naming what cannot be written or expressed.
void ExportPytorch(const nn::Checkpoint& checkpoint, const ExportData& data, const std::string& folder);

// The text of the generated files (for tests and the README).
std::string PytorchModelSource(const nn::ModelDesc& model);
const char* PytorchTrainScript();
const char* PytorchDataSourceScript();

}  // namespace ts::interop
