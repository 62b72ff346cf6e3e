// data_source.py of a PyTorch export (pytorch_export.h) whose data are IDX
// files or CIFAR-10 binary batches: read from where they lie, split as
// Tensorscope split them. The same text for every export; numpy only.
#include "compute/interop/pytorch_export.h"

namespace ts::interop {

const char* PytorchDataSourceScript() {
  return R"PY("""The run's data, read from its original files and split as Tensorscope split it.

data/source.json names the files (IDX images and labels, or CIFAR-10 binary batches;
raw or gzipped), how Tensorscope scales their bytes (value * scale + offset, in float32)
and, per split, which file set it comes from and data/<split>_index.npy: the indices of
its samples in that set, in Tensorscope's order (the validation samples are a shuffled
share of the training files). load(split) gives (x, y): x float32 in the model's input
shape (N, C, H, W for an image input; a flat input takes each image's values in
Tensorscope's order, height, width, channel), y int64.
"""
import gzip
import json
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def read_bytes(path):
    with open(path, "rb") as f:
        data = f.read()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def read_idx(path):
    """An IDX file's array (unsigned bytes: MNIST's images or labels)."""
    data = read_bytes(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 8:
        raise ValueError("%s: not an IDX file of unsigned bytes" % path)
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims, count=int(np.prod(shape))).reshape(shape)


def load_idx(files):
    images, labels = read_idx(files[0]), read_idx(files[1])
    return images.reshape(len(images), 1, images.shape[1], images.shape[2]), labels


def load_cifar10(files):
    records = np.concatenate([np.frombuffer(read_bytes(f), dtype=np.uint8).reshape(-1, 3073) for f in files])
    return records[:, 1:].reshape(-1, 3, 32, 32), records[:, 0]


LOADERS = {"idx": load_idx, "cifar10": load_cifar10}


def load(split):
    """(x, y) of "train", "validation" or "test"; None when the run had no such split."""
    with open(os.path.join(HERE, "data", "source.json")) as f:
        source = json.load(f)
    if split not in source["splits"]:
        return None
    images, labels = LOADERS[source["format"]](source[source["splits"][split] + "_files"])
    index = np.load(os.path.join(HERE, "data", split + "_index.npy"))
    images, labels = images[index], labels[index].astype(np.int64)
    x = images.astype(np.float32) * np.float32(source["scale"]) + np.float32(source["offset"])
    if len(source["input_shape"]) != 3:  # a flat input: each image's values as Tensorscope orders them (H, W, C)
        x = x.transpose(0, 2, 3, 1).reshape(len(x), -1)
    return np.ascontiguousarray(x), labels
)PY";
}

}  // namespace ts::interop
