#!/usr/bin/python3
"""`tensorscope export --format pytorch`: the folder's model gives Tensorscope's
probabilities, and its train.py on 2 gloo processes takes the same steps as on one.

Usage: pytorch_export_check.py TENSORSCOPE_BINARY

1. Train a small CNN (conv, batch norm, pooling, dropout 0) one epoch on random CSV
   images, export it with --format pytorch, and check model.py + weights.bin give the
   probabilities of `tensorscope eval --predictions` on data/test_x.npy (1e-5).
2. Export an MLP (Adam with weight decay, a cosine schedule with warm-up) and run its
   train.py for an epoch as one process and as two (python3 -m torch.distributed.run
   --standalone --nproc_per_node=2 --redirects 2 --tee 2, gloo on the CPU): every
   step's loss at the same global batch agrees (relative 1e-5: the two sum the batch
   in another order; 1e-7 was measured).
Exit 77 (skip) when torch or numpy cannot be imported.
"""
import csv
import importlib.util
import json
import os
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import exchange_support as support  # noqa: E402

support.require_modules("numpy", "torch")
import numpy as np  # noqa: E402
import torch  # noqa: E402

CNN = {"format": "tensorscope-model", "version": 1, "name": "export-cnn",
       "layers": [{"type": "input", "shape": [3, 6, 6]},
                  {"type": "conv2d", "filters": 5, "kernel": 3, "stride": 2, "padding": "same"},
                  {"type": "batch_norm"}, {"type": "relu"},
                  {"type": "avg_pool2d", "size": 2, "stride": 1, "padding": 1},
                  {"type": "conv2d", "filters": 4, "kernel": 2}, {"type": "tanh"},
                  {"type": "max_pool2d", "size": 2},
                  {"type": "flatten"}, {"type": "dense", "units": 7}, {"type": "gelu"},
                  {"type": "dropout", "rate": 0.0}, {"type": "dense", "units": 3},
                  {"type": "softmax_cross_entropy"}]}

MLP = {"format": "tensorscope-model", "version": 1, "name": "export-mlp",
       "layers": [{"type": "input", "shape": [6]}, {"type": "dense", "units": 16}, {"type": "relu"},
                  {"type": "dense", "units": 8}, {"type": "leaky_relu", "slope": 0.1},
                  {"type": "dense", "units": 4}, {"type": "softmax_cross_entropy"}],
       "training": {"optimizer": "adamw", "learning_rate": 0.01, "weight_decay": 0.01, "batch_size": 16,
                    "epochs": 1, "validation_fraction": 0, "seed": 5,
                    "schedule": {"kind": "cosine", "warmup_epochs": 0.5, "min_learning_rate": 0.001}}}


def load_module(folder):
    spec = importlib.util.spec_from_file_location("exported_model", os.path.join(folder, "model.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_probabilities(binary, work):
    rng = np.random.default_rng(11)
    x, y = support.random_data(rng, 120, 3 * 6 * 6, 3)
    data = os.path.join(work, "cnn.csv")
    support.write_csv(data, x, y)
    spec = data + ":test_fraction=0.25"
    model_path = os.path.join(work, "cnn.json")
    with open(model_path, "w") as f:
        json.dump(CNN, f)
    checkpoint = os.path.join(work, "cnn.ckpt")
    folder = os.path.join(work, "cnn-pytorch")
    predictions = os.path.join(work, "cnn-predictions.csv")
    support.run(binary, "train", model_path, "--data", spec, "--epochs", 1, "--batch", 8, "--save", checkpoint)
    support.run(binary, "export", checkpoint, "--format", "pytorch", "-o", folder, "--data", spec)
    support.run(binary, "eval", checkpoint, "--data", spec, "--predictions", predictions)
    for name in ("model.py", "weights.bin", "manifest.json", "config.json", "train.py", "README.md",
                 "data/train_x.npy", "data/test_x.npy", "data/test_y.npy"):
        assert os.path.exists(os.path.join(folder, name)), name + " is missing"
    module = load_module(folder)
    model = module.load_weights(module.Model(), folder).eval()
    test_x = np.load(os.path.join(folder, "data", "test_x.npy"))
    seen, labels, ours = support.read_predictions(predictions)
    assert np.array_equal(labels, np.load(os.path.join(folder, "data", "test_y.npy"))), "test labels differ"
    assert np.allclose(support.nchw(seen, [3, 6, 6]), test_x, atol=1e-6), "data/test_x.npy is not what eval saw"
    with torch.no_grad():
        theirs = torch.softmax(model(torch.from_numpy(test_x)), dim=1).numpy()
    support.compare("export-cnn: PyTorch " + torch.__version__, ours, theirs, 1e-5)


def losses(path):
    with open(path) as f:
        return [float(row["loss"]) for row in csv.DictReader(f) if row["kind"] == "train"]


def check_ddp(binary, work):
    rng = np.random.default_rng(12)
    x, _ = support.random_data(rng, 256, 6, 4)
    y = np.argmax(x @ rng.standard_normal((6, 4)), axis=1)  # learnable labels, so the loss falls
    data = os.path.join(work, "mlp.csv")
    support.write_csv(data, x, y)
    model_path = os.path.join(work, "mlp.json")
    with open(model_path, "w") as f:
        json.dump(MLP, f)
    folder = os.path.join(work, "mlp-pytorch")
    support.run(binary, "export", model_path, "--format", "pytorch", "-o", folder, "--data", data)
    environment = dict(os.environ, OMP_NUM_THREADS="1")
    one = os.path.join(work, "one.csv")
    two = os.path.join(work, "two.csv")
    single = subprocess.run(["/usr/bin/python3", "train.py", "--metrics-csv", one], cwd=folder, env=environment,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
    assert single.returncode == 0, single.stdout
    launch = ["/usr/bin/python3", "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
              "--redirects", "2", "--tee", "2", "train.py", "--metrics-csv", two]
    double = subprocess.run(launch, cwd=folder, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, timeout=600)
    assert double.returncode == 0, double.stdout
    assert "2 process(es)" in double.stdout, double.stdout
    a, b = np.array(losses(one)), np.array(losses(two))
    assert len(a) == len(b) == 256 * 4 // 5 // 16, (len(a), len(b))  # 20% test, whole global batches of 16
    worst = float(np.max(np.abs(a - b) / np.abs(a)))
    print("%-40s %d steps, loss %.4f -> %.4f, max relative difference %.3g"
          % ("export-mlp: 1 vs 2 gloo processes", len(a), a[0], a[-1], worst))
    assert worst <= 1e-5, "losses differ by %.3g relative" % worst
    assert a[-1] < a[0], "the loss did not fall"


def main(argv):
    if len(argv) != 2:
        sys.stderr.write(__doc__)
        return 2
    torch.set_num_threads(1)
    work = support.workdir("pytorch-export")
    check_probabilities(argv[1], work)
    check_ddp(argv[1], work)
    shutil.rmtree(work)
    print("PyTorch export: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
