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
3. IDX files (a small CNN), CIFAR-10 batches (an MLP on the flattened images) and image
   folders (PNG and BMP of many kinds and sizes, resized; one folder split by
   test_fraction, one with train/ and test/) are not copied: the export's data_source.py
   reads them where they lie, split as Tensorscope split them, every sample's bytes equal
   to Tensorscope's (its hashes); its test split gives Tensorscope's probabilities (1e-5)
   and its training and validation splits have Tensorscope's sizes; train.py trains an
   epoch from them. JPEG folders load with a warning where the decoders differ.
Exit 77 (skip) when torch or numpy cannot be imported.
"""
import csv
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import warnings

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


def load_data_source(folder, name):
    """An export's data_source.py as a module of its own (`name`: one per export)."""
    sys.path.insert(0, folder)
    try:
        spec = importlib.util.spec_from_file_location(name + "_data_source", os.path.join(folder, "data_source.py"))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(folder)


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


IDX_CNN = {"format": "tensorscope-model", "version": 1, "name": "idx-cnn",
           "layers": [{"type": "input", "shape": [1, 5, 4]},
                      {"type": "conv2d", "filters": 3, "kernel": 2}, {"type": "relu"},
                      {"type": "flatten"}, {"type": "dense", "units": 10}, {"type": "softmax_cross_entropy"}],
           "training": {"validation_fraction": 0.2, "seed": 4, "batch_size": 8, "epochs": 1}}

CIFAR_MLP = {"format": "tensorscope-model", "version": 1, "name": "cifar-mlp",
             "layers": [{"type": "input", "shape": [3072]}, {"type": "dense", "units": 12}, {"type": "tanh"},
                        {"type": "dense", "units": 10}, {"type": "softmax_cross_entropy"}],
             "training": {"validation_fraction": 0.25, "seed": 9, "batch_size": 8, "epochs": 1}}


def write_idx(folder, prefix, images, labels):
    """An IDX images file and its labels file (MNIST's names, raw)."""
    n, h, w = images.shape
    with open(os.path.join(folder, prefix + "-images-idx3-ubyte"), "wb") as f:
        f.write(bytes([0, 0, 8, 3]) + b"".join(int(v).to_bytes(4, "big") for v in (n, h, w)) + images.tobytes())
    with open(os.path.join(folder, prefix + "-labels-idx1-ubyte"), "wb") as f:
        f.write(bytes([0, 0, 8, 1]) + n.to_bytes(4, "big") + labels.astype(np.uint8).tobytes())


def write_cifar(folder, rng):
    """The six CIFAR-10 batch files, 12 records each (label byte, 3 x 32 x 32 planes)."""
    for name in ["data_batch_%d.bin" % i for i in range(1, 6)] + ["test_batch.bin"]:
        records = rng.integers(0, 256, size=(12, 3073), dtype=np.uint8)
        records[:, 0] = rng.integers(0, 10, size=12)
        records.tofile(os.path.join(folder, name))


def check_original_files(binary, work, name, model, spec, samples, decoders=(None,)):
    """Trains `model` an epoch on `spec`, exports it, and checks data_source.py's splits
    (with each of `decoders` as its image decoder)."""
    model_path = os.path.join(work, name + ".json")
    with open(model_path, "w") as f:
        json.dump(model, f)
    checkpoint = os.path.join(work, name + ".ckpt")
    folder = os.path.join(work, name + "-pytorch")
    predictions = os.path.join(work, name + "-predictions.csv")
    support.run(binary, "train", model_path, "--data", spec, "--save", checkpoint)
    support.run(binary, "export", checkpoint, "--format", "pytorch", "-o", folder, "--data", spec)
    support.run(binary, "eval", checkpoint, "--data", spec, "--predictions", predictions)
    assert not os.path.exists(os.path.join(folder, "data", "train_x.npy")), "the data was copied"
    data_source = load_data_source(folder, name)
    for decoder in decoders:
        data_source.DECODER = decoder
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a sample whose bytes are not Tensorscope's fails the check
            train_x, _ = data_source.load("train")
            validation_x, _ = data_source.load("validation")
            test_x, test_y = data_source.load("test")
        fraction = model["training"]["validation_fraction"]
        assert len(validation_x) == round(samples * fraction) and len(train_x) == samples - len(validation_x), \
            (len(train_x), len(validation_x))
        assert train_x.dtype == np.float32 and train_x.shape[1:] == tuple(model["layers"][0]["shape"]), train_x.shape
        _, labels, ours = support.read_predictions(predictions)
        assert np.array_equal(labels, test_y), "data_source.py's test labels are not eval's"
        module = load_module(folder)
        network = module.load_weights(module.Model(), folder).eval()
        with torch.no_grad():
            theirs = torch.softmax(network(torch.from_numpy(test_x)), dim=1).numpy()
        support.compare(name + ": data_source.py + PyTorch" + (" (%s)" % decoder if decoder else ""), ours, theirs, 1e-5)
    trained = subprocess.run(["/usr/bin/python3", "train.py"], cwd=folder, env=dict(os.environ, OMP_NUM_THREADS="1"),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
    assert trained.returncode == 0, trained.stdout


def check_idx_and_cifar(binary, work):
    rng = np.random.default_rng(13)
    idx = os.path.join(work, "idx-files")
    os.makedirs(idx)
    write_idx(idx, "train", rng.integers(0, 256, size=(60, 5, 4), dtype=np.uint8), np.arange(60) % 10)
    write_idx(idx, "t10k", rng.integers(0, 256, size=(20, 5, 4), dtype=np.uint8), np.arange(20) % 10)
    check_original_files(binary, work, "idx-cnn", IDX_CNN, "idx:" + idx, 60)
    cifar = os.path.join(work, "cifar-files")
    os.makedirs(cifar)
    write_cifar(cifar, rng)
    check_original_files(binary, work, "cifar-mlp", CIFAR_MLP, "cifar10:" + cifar, 60)


IMAGE_CNN = {"format": "tensorscope-model", "version": 1, "name": "images-cnn",
             "layers": [{"type": "input", "shape": [3, 5, 7]},
                        {"type": "conv2d", "filters": 3, "kernel": 3}, {"type": "relu"},
                        {"type": "flatten"}, {"type": "dense", "units": 3}, {"type": "softmax_cross_entropy"}],
             "training": {"validation_fraction": 0.2, "seed": 6, "batch_size": 4, "epochs": 1}}

IMAGE_MLP = {"format": "tensorscope-model", "version": 1, "name": "images-mlp",
             "layers": [{"type": "input", "shape": [36]}, {"type": "dense", "units": 8}, {"type": "relu"},
                        {"type": "dense", "units": 3}, {"type": "softmax_cross_entropy"}],
             "training": {"validation_fraction": 0.2, "seed": 2, "batch_size": 4, "epochs": 1}}


def write_images(folder, rng, count, lossless_only=True):
    """`count` images in each of three class folders, of sizes from 3x2 to 19x13 (so the
    resize both grows and shrinks each axis), as PNG (RGB, gray, RGBA, gray + alpha, 16-bit
    gray and RGB) and BMP (RGB, gray), or JPEG only when not `lossless_only`."""
    import cv2
    kinds = ["rgb.png", "gray.png", "rgba.png", "graya.png", "gray16.png", "rgb16.png", "rgb.bmp", "gray.bmp"]
    for c, name in enumerate(["cat", "dog", "eel"]):
        os.makedirs(os.path.join(folder, name))
        for i in range(count):
            height, width = int(rng.integers(2, 14)), int(rng.integers(3, 20))
            kind = kinds[(i + c) % len(kinds)] if lossless_only else ("rgb.jpg", "gray.jpg")[i % 2]
            channels = {"rgb": 3, "gray": 1, "rgba": 4, "graya": 4, "gray16": 1, "rgb16": 3}[kind.split(".")[0]]
            pixels = rng.integers(0, 256, size=(height, width, channels), dtype=np.uint8)
            if kind == "graya.png":  # cv2 writes gray + alpha as BGRA; equal colours keep the luma exact
                pixels[:, :, 1] = pixels[:, :, 2] = pixels[:, :, 0]
            if "16" in kind:
                pixels = pixels.astype(np.uint16) * 257 + rng.integers(0, 256, size=pixels.shape).astype(np.uint16)
            assert cv2.imwrite(os.path.join(folder, name, "%02d-%s" % (i, kind)), pixels)


def check_image_folders(binary, work):
    """Image folders are not copied: data_source.py decodes, converts and resizes each image as
    Tensorscope does (exactly, for PNG and BMP: the export's per-sample hashes would say
    otherwise), with OpenCV and with Pillow where it can be imported."""
    rng = np.random.default_rng(21)
    decoders = ["cv2"] + (["pil"] if importlib.util.find_spec("PIL") else [])
    if len(decoders) == 1:
        print("Pillow is not installed: image folders are checked with OpenCV only")
    images = os.path.join(work, "image-folder")
    write_images(images, rng, 8)
    check_original_files(binary, work, "images-cnn", IMAGE_CNN, "images:" + images + ":size=7x5,test_fraction=0.25,seed=2",
                         18, decoders)
    split = os.path.join(work, "image-train-test")
    write_images(os.path.join(split, "train"), rng, 10)
    write_images(os.path.join(split, "test"), rng, 3)
    check_original_files(binary, work, "images-mlp", IMAGE_MLP, "images:" + split + ":size=6x6,channels=1", 30, decoders)

    # JPEG: another decoder may give other bytes; data_source.py says so and goes on.
    jpeg = os.path.join(work, "image-jpeg")
    write_images(jpeg, rng, 6, lossless_only=False)
    model_path = os.path.join(work, "images-jpeg.json")
    with open(model_path, "w") as f:
        json.dump(IMAGE_CNN, f)
    folder = os.path.join(work, "images-jpeg-pytorch")
    spec = "images:" + jpeg + ":size=7x5,channels=3"
    support.run(binary, "export", model_path, "--format", "pytorch", "-o", folder, "--data", spec)
    data_source = load_data_source(folder, "jpeg")
    for decoder in decoders:
        data_source.DECODER = decoder
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            x, _ = data_source.load("train")
        said = [str(w.message) for w in caught]
        assert all("JPEG decoders differ" in w for w in said), said
        print("JPEG images with %s: %s" % (decoder, said[0] if said else "every sample's bytes are Tensorscope's"))


def main(argv):
    if len(argv) != 2:
        sys.stderr.write(__doc__)
        return 2
    torch.set_num_threads(1)
    work = support.workdir("pytorch-export")
    check_probabilities(argv[1], work)
    check_ddp(argv[1], work)
    check_idx_and_cifar(argv[1], work)
    check_image_folders(argv[1], work)
    shutil.rmtree(work)
    print("PyTorch export: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
