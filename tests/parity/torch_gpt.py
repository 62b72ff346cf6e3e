#!/usr/bin/python3
"""PyTorch twin of a Tensorscope GPT training run, for the GPT parity test.

Usage: torch_gpt.py SPEC.json [OUT.json]      (OUT defaults to stdout)

SPEC (written by tests/test_gpt_parity.cpp):
  {
    "model": {...},            Tensorscope model JSON (compute/nn/model.h): input [T],
                               embedding (vocab, units), transformer_block (heads,
                               mlp_ratio, epsilon), layer_norm (epsilon), dense on every
                               position (units, bias, tied), softmax_cross_entropy last
    "tensors": [{"name": "embedding.token_weight", "shape": [V, C]}, ...]
                               Plan::parameters(), to check that both sides agree on
                               the order and the shapes
    "parameters": [...],       initial values, concatenated in that order
                               (Plan::ReadParameters); weights stored (in, out)
                               row-major (Y = X W: torch's Linear.weight is W^T); a tied
                               head has no weight of its own (it uses the token table)
    "windows": [...],          (count, T) token ids
    "labels": [...],           (count, T) the next token of every position
    "batch_size": 8,
    "steps": 50,
    "optimizer": {"kind": "adam" | "adamw", "lr": 1e-3, "beta1": 0.9, "beta2": 0.999,
                  "eps": 1e-8, "weight_decay": 0.0},
    "decay_biases_and_norms": true,   false: weight decay only on tensors of >= 2
                                      dims (weights, both embedding tables), as nanoGPT
    "grad_clip": 0.0           > 0: clip_grad_norm_ to it before every update
  }
Batches are taken in dataset order, no shuffle: step k uses windows
[j*B, (j+1)*B) with j = k mod (count // B), as Tensorscope does with
shuffle=false (each epoch restarts at window 0 and drops a partial last batch).

The block is nanoGPT's (pre-norm): x += proj(attention(ln_1(x))), then
x += mlp(ln_2(x)) with mlp = fc, exact-erf GELU, proj. Attention is written out
(torch 1.13 has no scaled_dot_product_attention): the fused qkv projection's
columns are q | k | v, each heads x head_dim; scores q k^T / sqrt(head_dim),
causal mask with -inf, softmax, @ v.

OUT: {"losses": [loss of every step, computed before that step's update],
      "grad_norms": [the global gradient norm of every step, before clipping],
      "parameters": [final values in Tensorscope's order],
      "torch": "1.13.0"}
Everything runs in float32 on one thread with deterministic algorithms.
"""
import json
import math
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class Entry:
    """One Tensorscope parameter tensor: its torch tensor, stored transposed or not."""

    def __init__(self, name, tensor, transposed=False):
        self.name, self.tensor, self.transposed = name, tensor, transposed

    def shape(self):
        s = list(self.tensor.shape)
        return s[::-1] if self.transposed else s


def new_parameter(*shape):
    return nn.Parameter(torch.zeros(*shape, dtype=torch.float32))


class Embedding(nn.Module):
    def __init__(self, name, vocab, tokens, width):
        super().__init__()
        self.token_weight = new_parameter(vocab, width)
        self.position_weight = new_parameter(tokens, width)
        self.entries = [Entry(name + ".token_weight", self.token_weight),
                        Entry(name + ".position_weight", self.position_weight)]

    def forward(self, ids):  # (B, T) int64 -> (B, T, C)
        return self.token_weight[ids] + self.position_weight[: ids.shape[1]]


class LayerNorm(nn.Module):
    def __init__(self, name, width, eps):
        super().__init__()
        self.weight, self.bias, self.eps = new_parameter(width), new_parameter(width), eps
        self.entries = [Entry(name + ".weight", self.weight), Entry(name + ".bias", self.bias)]

    def forward(self, x):
        return F.layer_norm(x, (x.shape[-1],), self.weight, self.bias, self.eps)


class Linear(nn.Module):
    """y = x W + b with W stored (in, out) in Tensorscope, (out, in) here as torch.nn.Linear."""

    def __init__(self, name, fan_in, fan_out, bias=True):
        super().__init__()
        self.linear = nn.Linear(fan_in, fan_out, bias=bias)
        self.entries = [Entry(name + ".weight", self.linear.weight, transposed=True)]
        if bias:
            self.entries.append(Entry(name + ".bias", self.linear.bias))

    def forward(self, x):
        return self.linear(x)


class Block(nn.Module):
    """nanoGPT's Block, parameters in TransformerBlockTensors order."""

    def __init__(self, name, width, heads, mlp_ratio, eps):
        super().__init__()
        if width % heads != 0:
            raise ValueError("%s: %d features do not split into %d heads" % (name, width, heads))
        self.heads = heads
        self.ln_1 = LayerNorm(name + ".ln_1", width, eps)
        self.qkv = Linear(name + ".attn.qkv", width, 3 * width)
        self.attn_proj = Linear(name + ".attn.proj", width, width)
        self.ln_2 = LayerNorm(name + ".ln_2", width, eps)
        self.fc = Linear(name + ".mlp.fc", width, mlp_ratio * width)
        self.mlp_proj = Linear(name + ".mlp.proj", mlp_ratio * width, width)
        self.entries = [e for m in (self.ln_1, self.qkv, self.attn_proj, self.ln_2, self.fc, self.mlp_proj)
                        for e in m.entries]

    def attention(self, x):
        b, t, c = x.shape
        d = c // self.heads
        q, k, v = self.qkv(x).split(c, dim=2)
        q, k, v = (z.view(b, t, self.heads, d).transpose(1, 2) for z in (q, k, v))  # (B, H, T, D)
        scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(d))
        causal = torch.ones(t, t, dtype=torch.bool).tril()
        scores = scores.masked_fill(~causal, float("-inf"))
        y = F.softmax(scores, dim=-1) @ v
        return self.attn_proj(y.transpose(1, 2).contiguous().view(b, t, c))

    def forward(self, x):
        x = x + self.attention(self.ln_1(x))
        return x + self.mlp_proj(F.gelu(self.fc(self.ln_2(x))))  # exact erf GELU


class TiedHead(nn.Module):
    """logits = x E^T with E the embedding's token table (no weight of its own)."""

    def __init__(self, name, embedding, bias):
        super().__init__()
        self.embedding = [embedding]  # a list: not registered twice as a submodule
        self.bias = new_parameter(embedding.token_weight.shape[0]) if bias else None
        self.entries = [Entry(name + ".bias", self.bias)] if bias else []

    def forward(self, x):
        y = x @ self.embedding[0].token_weight.t()
        return y + self.bias if self.bias is not None else y


ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu, "tanh": torch.tanh, "sigmoid": torch.sigmoid}


class Gpt(nn.Module):
    def __init__(self, model_json):
        super().__init__()
        layers = model_json["layers"]
        if layers[0]["type"] != "input" or len(layers[0]["shape"]) != 1:
            raise ValueError("the model must start with an input of shape [T]")
        if layers[-1]["type"] not in ("softmax_cross_entropy", "softmax"):
            raise ValueError("a GPT ends with softmax_cross_entropy")
        tokens = int(layers[0]["shape"][0])
        self.stages = nn.ModuleList()
        self.functions = []  # per stage: a module index or an activation
        embedding, width = None, None
        for i, layer in enumerate(layers[1:-1], start=1):
            kind = layer["type"]
            name = layer.get("name", "%s_%d" % (kind, i))
            eps = float(layer.get("epsilon", 1e-5))
            if kind == "embedding":
                width = int(layer["units"])
                embedding = Embedding(name, int(layer["vocab"]), tokens, width)
                module = embedding
            elif kind == "transformer_block":
                module = Block(name, width, int(layer.get("heads", 1)), int(layer.get("mlp_ratio", 4)), eps)
            elif kind == "layer_norm":
                module = LayerNorm(name, width, eps)
            elif kind == "dense":
                units, bias = int(layer["units"]), bool(layer.get("bias", True))
                if layer.get("tied", False):
                    if embedding is None or units != embedding.token_weight.shape[0]:
                        raise ValueError("%s: a tied head needs an embedding with vocab = units" % name)
                    module = TiedHead(name, embedding, bias)
                else:
                    module = Linear(name, width, units, bias)
                width = units
            elif kind in ACTIVATIONS:
                self.functions.append(ACTIVATIONS[kind])
                continue
            else:
                raise ValueError("unsupported layer type %r" % kind)
            self.functions.append(len(self.stages))
            self.stages.append(module)
        self.entries = [e for m in self.stages for e in m.entries]

    def forward(self, ids):
        x = ids
        for f in self.functions:
            x = self.stages[f](x) if isinstance(f, int) else f(x)
        return x  # (B, T, vocab)


def check_tensors(entries, tensors):
    ours = [(e.name, e.shape()) for e in entries]
    theirs = [(t["name"], [int(s) for s in t["shape"]]) for t in tensors]
    if ours != theirs:
        raise ValueError("parameter tensors differ:\n torch:       %s\n Tensorscope: %s" % (ours, theirs))


def load_parameters(entries, flat):
    flat = np.asarray(flat, dtype=np.float32)
    at = 0
    with torch.no_grad():
        for e in entries:
            n = e.tensor.numel()
            values = torch.from_numpy(flat[at:at + n].copy()).reshape(e.shape())
            e.tensor.copy_(values.t() if e.transposed else values)
            at += n
    if at != flat.size:
        raise ValueError("expected %d parameter values, found %d" % (at, flat.size))


def dump_parameters(entries):
    values = []
    for e in entries:
        t = e.tensor.detach()
        values.append((t.t() if e.transposed else t).contiguous().numpy().reshape(-1))
    return np.concatenate(values).astype(np.float32)


def make_optimizer(entries, spec):
    opt = spec["optimizer"]
    kind, lr = opt["kind"], float(opt["lr"])
    wd = float(opt.get("weight_decay", 0.0))
    betas = (float(opt.get("beta1", 0.9)), float(opt.get("beta2", 0.999)))
    eps = float(opt.get("eps", 1e-8))
    params = [e.tensor for e in entries]
    if not spec.get("decay_biases_and_norms", True):
        # nanoGPT's groups: decay on tensors of 2 or more dimensions only.
        params = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": wd},
                  {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
    if kind == "adam":
        return torch.optim.Adam(params, lr=lr, betas=betas, eps=eps, weight_decay=wd)
    if kind == "adamw":
        return torch.optim.AdamW(params, lr=lr, betas=betas, eps=eps, weight_decay=wd)
    raise ValueError("unsupported optimizer %r" % kind)


def run(spec):
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(0)  # unused (weights come from the spec); keeps runs identical anyway

    model = Gpt(spec["model"])
    check_tensors(model.entries, spec["tensors"])
    load_parameters(model.entries, spec["parameters"])

    tokens = int(spec["model"]["layers"][0]["shape"][0])
    windows = torch.from_numpy(np.asarray(spec["windows"], dtype=np.int64).reshape(-1, tokens))
    labels = torch.from_numpy(np.asarray(spec["labels"], dtype=np.int64).reshape(-1, tokens))
    batch = int(spec["batch_size"])
    steps_per_epoch = windows.shape[0] // batch
    if steps_per_epoch == 0:
        raise ValueError("fewer windows than one batch")

    optimizer = make_optimizer(model.entries, spec)
    params = [e.tensor for e in model.entries]
    grad_clip = float(spec.get("grad_clip", 0.0))
    losses, grad_norms = [], []
    for step in range(int(spec["steps"])):
        first = (step % steps_per_epoch) * batch
        x, y = windows[first:first + batch], labels[first:first + batch]
        optimizer.zero_grad(set_to_none=True)
        logits = model(x)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))  # mean over B*T
        loss.backward()
        if grad_clip > 0:
            norm = torch.nn.utils.clip_grad_norm_(params, grad_clip)
        else:
            norm = torch.norm(torch.stack([p.grad.norm() for p in params]))
        optimizer.step()
        losses.append(float(loss.item()))
        grad_norms.append(float(norm))
    return {"losses": losses, "grad_norms": grad_norms,
            "parameters": [float(v) for v in dump_parameters(model.entries)], "torch": torch.__version__}


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
