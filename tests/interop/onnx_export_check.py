#!/usr/bin/python3
"""`tensorscope export --format onnx` checked by other readers of ONNX.

Usage: onnx_export_check.py TENSORSCOPE_BINARY

For the MLP and CNN presets (mnist-mlp, shapes-cnn), a batch-norm CNN on 3-channel
images and a model of the remaining layers (gelu, tanh, leaky relu, sigmoid head
alternatives, average and global pooling, 'same' padding with stride 2): train one
epoch on random CSV data, export the checkpoint, evaluate it with --predictions, then
  - python3-onnx's checker accepts the file (full check, with shape inference);
  - OpenCV's dnn module (cv2.dnn.readNetFromONNX) gives Tensorscope's probabilities
    within 1e-5;
  - `tensorscope import` of the exported file evaluates to the same probabilities.
Exit 77 (skip) when onnx, cv2 or numpy cannot be imported.
"""
import json
import os
import shutil
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import exchange_support as support  # noqa: E402

support.require_modules("numpy", "onnx", "cv2")
import cv2  # noqa: E402
import numpy as np  # noqa: E402
import onnx  # noqa: E402

TOLERANCE = 1e-5

BATCH_NORM_CNN = {
    "format": "tensorscope-model", "version": 1, "name": "bn-cnn",
    "layers": [
        {"type": "input", "shape": [3, 8, 8]},
        {"type": "conv2d", "filters": 6, "kernel": 3, "padding": "same"},
        {"type": "batch_norm"},
        {"type": "relu"},
        {"type": "max_pool2d", "size": 2},
        {"type": "conv2d", "filters": 5, "kernel": [3, 2], "padding": 1, "bias": False},
        {"type": "batch_norm", "momentum": 0.2, "epsilon": 1e-3},
        {"type": "relu"},
        {"type": "flatten"},
        {"type": "dense", "units": 12},
        {"type": "batch_norm"},
        {"type": "relu"},
        {"type": "dropout", "rate": 0.3},
        {"type": "dense", "units": 4},
        {"type": "softmax_cross_entropy"}]}

OTHER_LAYERS = {
    "format": "tensorscope-model", "version": 1, "name": "other-layers",
    "layers": [
        {"type": "input", "shape": [2, 9, 9]},
        {"type": "conv2d", "filters": 4, "kernel": 3, "stride": 2, "padding": "same"},
        {"type": "leaky_relu", "slope": 0.2},
        {"type": "avg_pool2d", "size": 2, "stride": 1, "padding": 1},
        {"type": "conv2d", "filters": 6, "kernel": 2},
        {"type": "tanh"},
        {"type": "global_avg_pool"},
        {"type": "dense", "units": 8},
        {"type": "gelu"},
        {"type": "dense", "units": 3},
        {"type": "sigmoid"},
        {"type": "dense", "units": 3},
        {"type": "softmax_cross_entropy"}]}


def check(binary, work, name, model, shape, classes):
    rng = np.random.default_rng(len(name))
    features = int(np.prod(shape))
    x, y = support.random_data(rng, 160, features, classes)
    data = os.path.join(work, name + ".csv")
    support.write_csv(data, x, y)
    spec = data + ":test_fraction=0.25"
    checkpoint = os.path.join(work, name + ".ckpt")
    exported = os.path.join(work, name + ".onnx")
    predictions = os.path.join(work, name + "-predictions.csv")
    support.run(binary, "train", model, "--data", spec, "--epochs", 1, "--batch", 16, "--save", checkpoint)
    support.run(binary, "export", checkpoint, "--format", "onnx", "-o", exported)
    support.run(binary, "eval", checkpoint, "--data", spec, "--predictions", predictions)
    seen, _, ours = support.read_predictions(predictions)

    proto = onnx.load(exported)
    onnx.checker.check_model(proto, full_check=True)
    opset = [o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")][0]
    assert opset >= 13, "opset %d < 13" % opset

    net = cv2.dnn.readNetFromONNX(exported)
    net.setInput(support.nchw(seen, shape))
    support.compare(name + ": OpenCV dnn " + cv2.__version__, ours, net.forward(), TOLERANCE)

    # The exported file read back by Tensorscope's importer evaluates the same.
    again = os.path.join(work, name + "-imported.ckpt")
    support.run(binary, "import", exported, "-o", again)
    round_trip = os.path.join(work, name + "-imported-predictions.csv")
    support.run(binary, "eval", again, "--data", spec, "--predictions", round_trip)
    support.compare(name + ": export + import", ours, support.read_predictions(round_trip)[2], 1e-6)


def main(argv):
    if len(argv) != 2:
        sys.stderr.write(__doc__)
        return 2
    binary = argv[1]
    work = support.workdir("onnx-export")
    models = {}
    for name, model in (("bn-cnn", BATCH_NORM_CNN), ("other-layers", OTHER_LAYERS)):
        models[name] = os.path.join(work, name + ".json")
        with open(models[name], "w") as f:
            json.dump(model, f)
    check(binary, work, "mnist-mlp", "mnist-mlp", [1, 28, 28], 10)
    check(binary, work, "shapes-cnn", "shapes-cnn", [1, 28, 28], 8)
    check(binary, work, "bn-cnn", models["bn-cnn"], [3, 8, 8], 4)
    check(binary, work, "other-layers", models["other-layers"], [2, 9, 9], 3)
    shutil.rmtree(work)
    print("ONNX export: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
