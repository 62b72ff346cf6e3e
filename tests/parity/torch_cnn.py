#!/usr/bin/python3
"""PyTorch twin of a Tensorscope CNN training run, for tests/test_cnn.cpp.

Usage: torch_cnn.py SPEC.json [OUT.json]      (OUT defaults to stdout)

SPEC (written by tests/test_cnn.cpp):
  {
    "model": {...},         Tensorscope model JSON (compute/nn/model.h): input (C x H x W or a
                            vector), conv2d, max_pool2d, avg_pool2d, global_avg_pool, dropout,
                            batch_norm, flatten, dense, relu, leaky_relu, sigmoid, tanh, gelu,
                            and a loss head last
    "optimizer": {"kind": "sgd" | "momentum" | "adam" | "adamw", "lr": 0.01, "momentum": 0.9,
                  "nesterov": false, "weight_decay": 0.0, "beta1": 0.9, "beta2": 0.999,
                  "eps": 1e-8},
    "parameters": [...],    initial values in Tensorscope's order (Plan::ReadParameters)
    "statistics": [...],    initial batch-norm running statistics (Plan::ReadStatistics)
    "features": [...],      (count, feature_size) float32, already normalised, each image
                            sample in Tensorscope's device order H, W, C (channels innermost)
    "labels": [...],        (count) class indices
    "batch_size": 16,
    "steps": 50
  }

Layouts, Tensorscope -> PyTorch:
  conv2d weight    (KH, KW, Cin, Cout)    -> (Cout, Cin, KH, KW)
  dense weight     (in, out), Y = X W + b -> (out, in)
  the first dense layer after flattening an image: Tensorscope's flatten orders the
  features H, W, C, PyTorch's C, H, W, so that weight's input rows are permuted too
  batch norm       weight (gamma), bias (beta); running_mean, running_var
  input images     (N, H, W, C)           -> (N, C, H, W)
Padding: "same" is TensorFlow's rule (output ceil(H / stride); the smaller half of the
padding on top / left), applied with an explicit ZeroPad2d so that strides above 1 and
asymmetric padding are reproduced; numbers pad both sides, as PyTorch's padding=.

Batches are taken in dataset order: step k uses rows [j*B, (j+1)*B) with
j = k mod (count // B), as Tensorscope does with shuffle=false.

OUT: {"losses": [loss of every step, computed before that step's update],
      "parameters": [final values in Tensorscope's order],
      "statistics": [final running statistics in Tensorscope's order],
      "torch": "1.13.0"}
Everything runs in float32 on one thread with deterministic algorithms. Only the standard
library, torch and torch_mlp.py beside this file (its loss heads and optimizers) are used.
"""
import json
import math
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from torch_mlp import make_loss, make_optimizer  # noqa: E402  (the same loss heads and optimizers)

LOSSES = ("softmax_cross_entropy", "softmax", "mse", "bce_with_logits")


def pair(value):
    if isinstance(value, list):
        return int(value[0]), int(value[1])
    return int(value), int(value)


class GlobalAvgPool(nn.Module):
    def forward(self, x):
        return x.mean(dim=(2, 3))


class Slot:
    """One Tensorscope parameter-owning layer and how its values map to torch."""

    def __init__(self, kind, module, image_before_flatten=None):
        self.kind = kind                # "conv2d", "dense", "batch_norm"
        self.module = module
        self.image = image_before_flatten  # (C, H, W) for the first dense after an image flatten


def build_model(model_json):
    """Returns (torch.nn.Sequential, slots in Tensorscope's parameter order, loss name, outputs)."""
    layers = model_json["layers"]
    if layers[0]["type"] != "input":
        raise ValueError("the model must start with an input layer")
    shape = [int(d) for d in layers[0]["shape"]]  # per sample: [C, H, W] or [F]
    flattened_image = None  # (C, H, W) when the current vector came from flattening an image
    modules, slots = [], []
    loss = None
    for i, layer in enumerate(layers[1:], start=1):
        kind = layer["type"]
        if kind == "flatten":
            if len(shape) == 3:
                flattened_image = tuple(shape)
            modules.append(nn.Flatten())
            shape = [math.prod(shape)]
        elif kind == "dense":
            if len(shape) != 1:
                raise ValueError("dense needs a vector input")
            linear = nn.Linear(shape[0], int(layer["units"]), bias=bool(layer.get("bias", True)))
            modules.append(linear)
            slots.append(Slot("dense", linear, flattened_image))
            flattened_image = None
            shape = [int(layer["units"])]
        elif kind == "conv2d":
            c, h, w = shape
            kh, kw = pair(layer["kernel"])
            sh, sw = pair(layer.get("stride", 1))
            padding = layer.get("padding", "valid")
            if padding == "valid":
                top = bottom = left = right = 0
            elif padding == "same":
                oh, ow = -(-h // sh), -(-w // sw)
                ph, pw = max((oh - 1) * sh + kh - h, 0), max((ow - 1) * sw + kw - w, 0)
                top, left = ph // 2, pw // 2
                bottom, right = ph - top, pw - left
            else:
                top, left = pair(padding)
                bottom, right = top, left
            if top or bottom or left or right:
                modules.append(nn.ZeroPad2d((left, right, top, bottom)))
            conv = nn.Conv2d(c, int(layer["filters"]), (kh, kw), stride=(sh, sw),
                             bias=bool(layer.get("bias", True)))
            modules.append(conv)
            slots.append(Slot("conv2d", conv))
            shape = [int(layer["filters"]), (h + top + bottom - kh) // sh + 1, (w + left + right - kw) // sw + 1]
        elif kind in ("max_pool2d", "avg_pool2d"):
            c, h, w = shape
            kh, kw = pair(layer["size"])
            sh, sw = pair(layer.get("stride", layer["size"]))
            ph, pw = pair(layer.get("padding", 0))
            if kind == "max_pool2d":
                modules.append(nn.MaxPool2d((kh, kw), stride=(sh, sw), padding=(ph, pw)))
            else:
                modules.append(nn.AvgPool2d((kh, kw), stride=(sh, sw), padding=(ph, pw), count_include_pad=True))
            shape = [c, (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1]
        elif kind == "global_avg_pool":
            modules.append(GlobalAvgPool())
            shape = [shape[0]]
        elif kind == "dropout":
            modules.append(nn.Dropout(float(layer.get("rate", 0.5))))
        elif kind == "batch_norm":
            if flattened_image is not None:
                raise ValueError("batch_norm of a flattened image would need its features permuted")
            momentum = float(layer.get("momentum", 0.1))
            eps = float(layer.get("epsilon", 1e-5))
            bn = (nn.BatchNorm2d if len(shape) == 3 else nn.BatchNorm1d)(shape[0], eps=eps, momentum=momentum)
            modules.append(bn)
            slots.append(Slot("batch_norm", bn))
        elif kind == "relu":
            modules.append(nn.ReLU())
        elif kind == "leaky_relu":
            modules.append(nn.LeakyReLU(float(layer.get("slope", 0.01))))
        elif kind == "sigmoid":
            modules.append(nn.Sigmoid())
        elif kind == "tanh":
            modules.append(nn.Tanh())
        elif kind == "gelu":
            modules.append(nn.GELU())
        elif kind in LOSSES:
            if i != len(layers) - 1:
                raise ValueError("the loss head must be the last layer")
            loss = "softmax_cross_entropy" if kind == "softmax" else kind
        else:
            raise ValueError("unsupported layer type %r" % kind)
    if loss is None:
        raise ValueError("the model has no loss head")
    if len(shape) != 1:
        raise ValueError("the loss head needs a vector of scores")
    return nn.Sequential(*modules), slots, loss, shape[0]


def to_torch_dense(flat, slot):
    """(in, out) Tensorscope values -> torch (out, in)."""
    out_features, in_features = slot.module.weight.shape
    w = flat.reshape(in_features, out_features)  # rows: input features in Tensorscope's order
    if slot.image is not None:
        c, h, w_ = slot.image
        # Tensorscope row (y*W + x)*C + ch  ->  torch column ch*H*W + y*W + x
        w = w.reshape(h, w_, c, out_features).permute(2, 0, 1, 3).reshape(in_features, out_features)
    return w.t().contiguous()


def from_torch_dense(weight, slot):
    out_features, in_features = weight.shape
    w = weight.t()  # (in, out), rows in torch's C, H, W order
    if slot.image is not None:
        c, h, w_ = slot.image
        w = w.reshape(c, h, w_, out_features).permute(1, 2, 0, 3)
    return w.reshape(-1)


def tensors_in_order(slots):
    """(slot, name) of every Tensorscope parameter tensor, in Plan::ReadParameters order."""
    order = []
    for slot in slots:
        order.append((slot, "weight"))
        if slot.module.bias is not None:
            order.append((slot, "bias"))
    return order


def load_parameters(slots, values):
    flat = torch.tensor(values, dtype=torch.float32)
    at = 0
    with torch.no_grad():
        for slot, name in tensors_in_order(slots):
            target = getattr(slot.module, name)
            n = target.numel()
            chunk = flat[at:at + n]
            if name == "bias" or slot.kind == "batch_norm":
                value = chunk
            elif slot.kind == "conv2d":
                cout, cin, kh, kw = target.shape
                value = chunk.reshape(kh, kw, cin, cout).permute(3, 2, 0, 1)
            else:
                value = to_torch_dense(chunk, slot)
            target.copy_(value.reshape(target.shape))
            at += n
    if at != flat.numel():
        raise ValueError("expected %d parameter values, found %d" % (at, flat.numel()))


def dump_parameters(slots):
    values = []
    for slot, name in tensors_in_order(slots):
        t = getattr(slot.module, name).detach()
        if name == "bias" or slot.kind == "batch_norm":
            values.append(t.reshape(-1))
        elif slot.kind == "conv2d":
            values.append(t.permute(2, 3, 1, 0).reshape(-1))  # back to (KH, KW, Cin, Cout)
        else:
            values.append(from_torch_dense(t, slot))
    return torch.cat(values) if values else torch.zeros(0)


def batch_norms(slots):
    return [slot.module for slot in slots if slot.kind == "batch_norm"]


def load_statistics(slots, values):
    flat = torch.tensor(values, dtype=torch.float32)
    at = 0
    with torch.no_grad():
        for bn in batch_norms(slots):
            n = bn.num_features
            bn.running_mean.copy_(flat[at:at + n])
            bn.running_var.copy_(flat[at + n:at + 2 * n])
            at += 2 * n
    if at != flat.numel():
        raise ValueError("expected %d running statistics, found %d" % (at, flat.numel()))


def dump_statistics(slots):
    values = []
    for bn in batch_norms(slots):
        values += [bn.running_mean.reshape(-1), bn.running_var.reshape(-1)]
    return torch.cat(values) if values else torch.zeros(0)


def run(spec):
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(0)  # dropout (rate 0 in the tests) is the only random layer

    model, slots, loss_name, outputs = build_model(spec["model"])
    load_parameters(slots, spec["parameters"])
    load_statistics(slots, spec.get("statistics", []))
    model.train()

    input_shape = [int(d) for d in spec["model"]["layers"][0]["shape"]]
    feature_size = math.prod(input_shape)
    x_all = torch.tensor(spec["features"], dtype=torch.float32).reshape(-1, feature_size)
    if len(input_shape) == 3:  # (N, H, W, C) on the device -> (N, C, H, W)
        c, h, w = input_shape
        x_all = x_all.reshape(-1, h, w, c).permute(0, 3, 1, 2).contiguous()
    else:
        x_all = x_all.reshape([-1] + input_shape)
    y_all = torch.tensor(spec["labels"], dtype=torch.int64)
    batch = int(spec["batch_size"])
    steps_per_epoch = x_all.shape[0] // batch
    if steps_per_epoch == 0:
        raise ValueError("fewer samples than one batch")

    criterion = make_loss(loss_name, outputs)
    optimizer = make_optimizer(model.parameters(), spec["optimizer"])
    losses = []
    for step in range(int(spec["steps"])):
        first = (step % steps_per_epoch) * batch
        x = x_all[first:first + batch]
        y = y_all[first:first + batch]
        optimizer.zero_grad(set_to_none=True)
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.item()))
    return {"losses": losses,
            "parameters": [float(v) for v in dump_parameters(slots).tolist()],
            "statistics": [float(v) for v in dump_statistics(slots).tolist()],
            "torch": torch.__version__}


def main(argv):
    if len(argv) not in (2, 3):
        sys.stderr.write(__doc__)
        return 2
    with open(argv[1]) as f:
        spec = json.load(f)
    text = json.dumps(run(spec))
    if len(argv) == 3:
        with open(argv[2], "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
