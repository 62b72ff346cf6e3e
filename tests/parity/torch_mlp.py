#!/usr/bin/python3
"""PyTorch twin of a Tensorscope MLP training run, for the parity test.

Usage: torch_mlp.py SPEC.json [OUT.json]      (OUT defaults to stdout)

SPEC (written by tests/test_parity.cpp):
  {
    "model": {...},            Tensorscope model JSON (see compute/nn/model.h): input,
                               flatten, dense (units, bias), relu, leaky_relu (slope),
                               sigmoid, tanh, gelu, and a loss head last
    "optimizer": {"kind": "sgd" | "momentum" | "adam" | "adamw", "lr": 0.01,
                  "momentum": 0.9, "nesterov": false, "weight_decay": 0.0,
                  "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
    "parameters": [...],       initial values, concatenated in Tensorscope's order
                               (Plan::ReadParameters): per dense layer its weight,
                               stored (in, out) row-major (Y = X W + b, so the torch
                               weight is W^T), then its bias
    "features": [...],         (count, feature_size) row-major float32, already
                               normalised (what the network sees)
    "feature_size": 10,
    "labels": [...],           (count) class indices
    "batch_size": 16,
    "steps": 100
  }
Batches are taken in dataset order, no shuffle: step k uses rows
[j*B, (j+1)*B) with j = k mod (count // B), as Tensorscope does with
shuffle=false (each epoch restarts at row 0 and drops a partial last batch).

OUT: {"losses": [loss of every step, computed before that step's update],
      "parameters": [final values in Tensorscope's order],
      "torch": "1.13.0"}
Everything runs in float32 on one thread with deterministic algorithms.
"""
import json
import sys

import numpy as np
import torch
import torch.nn as nn


def build_model(model_json):
    """Returns (torch.nn.Sequential, dense layers in order, loss name)."""
    layers = model_json["layers"]
    if layers[0]["type"] != "input":
        raise ValueError("the model must start with an input layer")
    features = int(np.prod(layers[0]["shape"]))
    modules, dense = [], []
    loss = None
    for i, layer in enumerate(layers[1:], start=1):
        kind = layer["type"]
        if kind == "flatten":
            modules.append(nn.Flatten())
        elif kind == "dense":
            linear = nn.Linear(features, int(layer["units"]), bias=bool(layer.get("bias", True)))
            modules.append(linear)
            dense.append(linear)
            features = int(layer["units"])
        elif kind == "relu":
            modules.append(nn.ReLU())
        elif kind == "leaky_relu":
            modules.append(nn.LeakyReLU(float(layer.get("slope", 0.01))))
        elif kind == "sigmoid":
            modules.append(nn.Sigmoid())
        elif kind == "tanh":
            modules.append(nn.Tanh())
        elif kind == "gelu":
            modules.append(nn.GELU())  # exact erf form, as Tensorscope's
        elif kind in ("softmax_cross_entropy", "softmax", "mse", "bce_with_logits"):
            if i != len(layers) - 1:
                raise ValueError("the loss head must be the last layer")
            loss = "softmax_cross_entropy" if kind == "softmax" else kind
        else:
            raise ValueError("unsupported layer type %r" % kind)
    if loss is None:
        raise ValueError("the model has no loss head")
    return nn.Sequential(*modules), dense, loss


def load_parameters(dense, flat):
    """Copies Tensorscope-ordered values into the torch layers."""
    flat = np.asarray(flat, dtype=np.float32)
    at = 0
    with torch.no_grad():
        for linear in dense:
            out_features, in_features = linear.weight.shape
            n = in_features * out_features
            w = flat[at:at + n].reshape(in_features, out_features)  # (in, out) row-major
            linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(w.T)))
            at += n
            if linear.bias is not None:
                linear.bias.copy_(torch.from_numpy(flat[at:at + out_features].copy()))
                at += out_features
    if at != flat.size:
        raise ValueError("expected %d parameter values, found %d" % (at, flat.size))


def dump_parameters(dense):
    values = []
    for linear in dense:
        values.append(linear.weight.detach().numpy().T.reshape(-1))  # back to (in, out)
        if linear.bias is not None:
            values.append(linear.bias.detach().numpy().reshape(-1))
    return np.concatenate(values).astype(np.float32)


def make_loss(loss, outputs):
    """Returns f(logits, labels) matching Tensorscope's loss heads (reduction='mean')."""
    if loss == "softmax_cross_entropy":
        ce = nn.CrossEntropyLoss()
        return lambda logits, labels: ce(logits, labels)
    criterion = nn.MSELoss() if loss == "mse" else nn.BCEWithLogitsLoss()

    def target(labels):
        if outputs == 1:
            return labels.to(torch.float32).reshape(-1, 1)  # the label as a number
        return nn.functional.one_hot(labels, outputs).to(torch.float32)

    return lambda logits, labels: criterion(logits, target(labels))


def make_optimizer(params, spec):
    kind = spec["kind"]
    lr = float(spec["lr"])
    wd = float(spec.get("weight_decay", 0.0))
    betas = (float(spec.get("beta1", 0.9)), float(spec.get("beta2", 0.999)))
    eps = float(spec.get("eps", 1e-8))
    if kind == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=wd)
    if kind == "momentum":
        return torch.optim.SGD(params, lr=lr, momentum=float(spec.get("momentum", 0.9)),
                               nesterov=bool(spec.get("nesterov", False)), weight_decay=wd)
    if kind == "adam":
        return torch.optim.Adam(params, lr=lr, betas=betas, eps=eps, weight_decay=wd)
    if kind == "adamw":
        return torch.optim.AdamW(params, lr=lr, betas=betas, eps=eps, weight_decay=wd)
    raise ValueError("unsupported optimizer %r" % kind)


def run(spec):
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(0)  # unused (weights come from the spec); keeps runs identical anyway

    model, dense, loss_name = build_model(spec["model"])
    load_parameters(dense, spec["parameters"])
    outputs = dense[-1].out_features

    feature_size = int(spec["feature_size"])
    x_all = torch.from_numpy(np.asarray(spec["features"], dtype=np.float32).reshape(-1, feature_size))
    y_all = torch.from_numpy(np.asarray(spec["labels"], dtype=np.int64))
    input_shape = list(spec["model"]["layers"][0]["shape"])
    batch = int(spec["batch_size"])
    steps_per_epoch = x_all.shape[0] // batch
    if steps_per_epoch == 0:
        raise ValueError("fewer samples than one batch")

    criterion = make_loss(loss_name, outputs)
    optimizer = make_optimizer(model.parameters(), spec["optimizer"])
    losses = []
    for step in range(int(spec["steps"])):
        first = (step % steps_per_epoch) * batch
        x = x_all[first:first + batch].reshape([batch] + input_shape)
        y = y_all[first:first + batch]
        optimizer.zero_grad(set_to_none=True)
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.item()))
    return {"losses": losses, "parameters": [float(v) for v in dump_parameters(dense)],
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
