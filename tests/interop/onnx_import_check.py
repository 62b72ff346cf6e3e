#!/usr/bin/python3
"""`tensorscope import`: PyTorch models exported with torch.onnx.export become
Tensorscope checkpoints that give PyTorch's probabilities and train further.

Usage: onnx_import_check.py TENSORSCOPE_BINARY

Models: an MLP (Linear, ReLU, Tanh, GELU, LeakyReLU, Dropout, no-bias Linear) and a
CNN on 3-channel images (Conv2d with padding, BatchNorm2d, MaxPool2d, AvgPool2d,
Flatten, BatchNorm1d, Sigmoid), both in evaluation mode with non-trivial running
statistics. For each: torch.onnx.export (opset 13) -> tensorscope import -> tensorscope
eval --predictions on CSV data -> PyTorch's softmax of its logits on the same
(standardised) features agrees within 1e-5; then `tensorscope train MODEL.json
--resume CKPT` trains it for an epoch. Also: a model with an unsupported op is refused
naming the op and node, and leaves no checkpoint; a malformed file is refused clearly.
Exit 77 (skip) when torch, onnx or numpy cannot be imported.
"""
import os
import shutil
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import exchange_support as support  # noqa: E402

support.require_modules("numpy", "torch", "onnx")
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

TOLERANCE = 1e-5


def mlp():
    return nn.Sequential(nn.Linear(10, 24), nn.ReLU(), nn.Linear(24, 16), nn.Tanh(), nn.Dropout(0.2),
                         nn.Linear(16, 12, bias=False), nn.GELU(), nn.Linear(12, 8), nn.LeakyReLU(0.1),
                         nn.Linear(8, 5))


def cnn():
    return nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(6, 8, (3, 2), stride=(1, 2), padding=(1, 0)), nn.ReLU(),
                         nn.AvgPool2d((2, 1), stride=1), nn.Flatten(), nn.Linear(8 * 2 * 1, 10), nn.BatchNorm1d(10),
                         nn.Sigmoid(), nn.Linear(10, 4))


def randomise_statistics(model, generator):
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
                module.running_mean.copy_(torch.randn(module.num_features, generator=generator) * 0.3)
                module.running_var.copy_(torch.rand(module.num_features, generator=generator) + 0.5)
                module.weight.copy_(torch.rand(module.num_features, generator=generator) + 0.5)
                module.bias.copy_(torch.randn(module.num_features, generator=generator) * 0.2)


def check(binary, work, name, model, shape, classes):
    generator = torch.Generator().manual_seed(3)
    torch.manual_seed(3)
    randomise_statistics(model, generator)
    model.eval()
    exported = os.path.join(work, name + ".onnx")
    example = torch.randn([2] + shape)
    torch.onnx.export(model, example, exported, opset_version=13, input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    checkpoint = os.path.join(work, name + ".ckpt")
    model_json = os.path.join(work, name + ".json")
    support.run(binary, "import", exported, "-o", checkpoint)
    assert os.path.exists(model_json), "import wrote no model JSON beside the checkpoint"

    rng = np.random.default_rng(7)
    x, y = support.random_data(rng, 96, int(np.prod(shape)), classes)
    data = os.path.join(work, name + ".csv")
    support.write_csv(data, x, y)
    spec = data + ":test_fraction=0.5"
    predictions = os.path.join(work, name + "-predictions.csv")
    support.run(binary, "eval", checkpoint, "--data", spec, "--predictions", predictions)
    seen, _, ours = support.read_predictions(predictions)
    with torch.no_grad():
        theirs = torch.softmax(model(torch.from_numpy(support.nchw(seen, shape))), dim=1).numpy()
    support.compare(name + ": PyTorch " + torch.__version__, ours, theirs, TOLERANCE)

    trained = support.run(binary, "train", model_json, "--resume", checkpoint, "--data", spec, "--epochs", 1,
                          "--batch", 16, "--save", checkpoint)
    assert "epoch 1/1" in trained.stdout, trained.stdout


def check_refusals(binary, work):
    unsupported = nn.Sequential(nn.Linear(4, 6), nn.Softplus(), nn.Linear(6, 3), nn.ELU(), nn.Linear(3, 2))
    exported = os.path.join(work, "unsupported.onnx")
    torch.onnx.export(unsupported.eval(), torch.randn(1, 4), exported, opset_version=13)
    checkpoint = os.path.join(work, "unsupported.ckpt")
    result = support.run(binary, "import", exported, "-o", checkpoint, expect=1)
    for part in ("not supported", "Softplus", "Elu", "nothing was imported"):
        assert part in result.stdout, "missing %r in:\n%s" % (part, result.stdout)
    assert not os.path.exists(checkpoint), "a refused import left a checkpoint"
    print("unsupported ops: refused, listed by op and node")

    garbage = os.path.join(work, "garbage.onnx")
    with open(exported, "rb") as f:
        data = f.read()
    with open(garbage, "wb") as f:
        f.write(data[: len(data) // 2])
    result = support.run(binary, "import", garbage, "-o", checkpoint, expect=1)
    assert "garbage.onnx" in result.stdout and "ONNX" in result.stdout, result.stdout
    print("truncated file: " + result.stdout.strip().splitlines()[-1][:150])


def main(argv):
    if len(argv) != 2:
        sys.stderr.write(__doc__)
        return 2
    torch.set_num_threads(1)
    binary = argv[1]
    work = support.workdir("onnx-import")
    check(binary, work, "torch-mlp", mlp(), [10], 5)
    check(binary, work, "torch-cnn", cnn(), [3, 6, 6], 4)
    check_refusals(binary, work)
    shutil.rmtree(work)
    print("ONNX import: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
