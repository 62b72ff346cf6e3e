"""lavapipe at 256 and at 512 bits in one interleaved session (bench.py --widths).

    tests/bench/run.sh [BUILD_DIR] --widths [--runs N] [--quick] [--no-append]

Two Tensorscope servers, one with LP_NATIVE_VECTOR_WIDTH=256 (subgroups of 8) and one with
LP_NATIVE_VECTOR_WIDTH=512 (subgroups of 16; needs a CPU with AVX-512), and the strongest peers
(numpy and PyTorch on OpenBLAS, OPENBLAS_CORETYPE as in bench.py), measured round by round in
the order 256, 512, peer for each workload:
  - SGEMM 1024^3, the autotuner's pick at each width (GPU timestamps), against numpy (wall);
  - the 784-128-10 MLP, batch 64, training (Adam), against PyTorch;
  - the seed CNN (assets/models/cifar10-cnn.json), batch 64, training (Adam), against PyTorch.
The targets of issue 12: SGEMM 1024^3 >= 60 GFLOP/s at 512 bits; MLP and CNN training at 512
bits >= 1.3x what the same run measures at 256. The notes list each width's autotuned SGEMM
kernel and the per-kernel GPU time of a training step (the profile that explains a miss).
"""
import datetime
import os
import platform
import sys
import time

import bench
from bench import PYTHON, CNN_BATCH, CNN_DESCRIPTION, STRONGEST_CORE, Server, PeerColumns, cell, median

WIDTHS = (256, 512)
SGEMM_N, SGEMM_TARGET_GFLOPS, TRAINING_TARGET_RATIO = 1024, 60.0, 1.3
MLP_BATCH = 64


def ratio_cell(numerator, denominator, digits=2):
    if not numerator or not denominator:
        return "-"
    return ("%%.%dfx" % digits) % (median(numerator) / median(denominator))


def profile_note(label, answers_by_width, top=8):
    """The per-kernel GPU ms of a training step at each width, biggest at 512 first."""
    per_width = {w: {k: median([a["dispatch_ms"][k] for a in answers]) for k in answers[0]["dispatch_ms"]}
                 for w, answers in answers_by_width.items() if answers}
    if len(per_width) != len(WIDTHS):
        return None
    labels = sorted(per_width[512], key=lambda k: -per_width[512][k])[:top]
    parts = ["%s %.2f / %.2f ms" % (k, per_width[256].get(k, float("nan")), per_width[512][k]) for k in labels]
    totals = {w: sum(v.values()) for w, v in per_width.items()}
    return ("%s, GPU ms per training step at 256 / 512 bits: total %.2f / %.2f; the biggest at 512: %s." % (
        label, totals[256], totals[512], "; ".join(parts)))


def run(args, binary, runs):
    quick = args.quick
    mlp_steps = (bench.MLP_TRAIN_SAMPLES_PER_RUN // (4 if quick else 1)) // MLP_BATCH
    cnn_steps = (bench.CNN_TRAIN_SAMPLES_PER_RUN // (4 if quick else 1)) // CNN_BATCH
    started = time.time()
    load_start = os.getloadavg()
    servers = {}
    try:
        for width in WIDTHS:
            # Its own Mesa shader cache: Mesa 22.3 keys lavapipe's without the width, so the 512-bit server
            # would otherwise run code the 256-bit one cached. The app separates them by itself
            # (app/vector_width.cpp) unless MESA_SHADER_CACHE_DIR is set; then it is split here.
            env = dict(os.environ, LP_NATIVE_VECTOR_WIDTH=str(width))
            if env.get("MESA_SHADER_CACHE_DIR"):
                env["MESA_SHADER_CACHE_DIR"] += "-%dbits" % width
            servers["ours%d" % width] = Server("tensorscope at %d bits" % width, [binary, "bench", "--serve"], env)
        servers["numpy"] = Server("numpy peer", [PYTHON, os.path.join(bench.HERE, "bench.py"), "--peer", "numpy"],
                                  bench.peer_env(STRONGEST_CORE, False))
        servers["torch"] = Server("torch peer", [PYTHON, os.path.join(bench.HERE, "bench.py"), "--peer", "torch"],
                                  bench.peer_env(STRONGEST_CORE, True))
        info = {name: server.ask({"op": "info"}) for name, server in servers.items()}
        if info["ours512"]["subgroup_size"] != 16:
            sys.stderr.write("bench: LP_NATIVE_VECTOR_WIDTH=512 gave '%s' with subgroups of %s, not 16: lavapipe "
                             "has no 512-bit path here (it needs a CPU with AVX-512).\n" % (
                                 info["ours512"]["device"], info["ours512"]["subgroup_size"]))
            return 2
        reference = [name for name in ("numpy", "torch") if info[name]["blas_kind"] == "reference"]
        if reference:
            sys.stderr.write("bench: REFUSED: %s on reference BLAS; %s.\n" % (", ".join(reference),
                                                                              bench.REFERENCE_BLAS_FIX))

        square = {"op": "matmul", "n": SGEMM_N, "variant": "auto", "iterations": 1, "min_time_s": bench.GEMM_MIN_TIME_S}
        mlp = {"op": "mlp", "batch": MLP_BATCH, "steps": mlp_steps, "samples": bench.MLP_SAMPLES, "eval_samples": 1000}
        cnn = {"op": "cnn", "batch": CNN_BATCH, "steps": cnn_steps, "samples": bench.CNN_SAMPLES, "eval_samples": 256}
        workloads = [("sgemm", square, "numpy"), ("mlp", mlp, "torch"), ("cnn", cnn, "torch")]
        sys.stderr.write("bench: warming up (autotuning at each width on first use)...\n")
        for _, request, peer in workloads:
            for name in ("ours256", "ours512", peer):
                servers[name].ask(dict(request, steps=8) if "steps" in request else dict(request, min_time_s=0))
        results = {}
        for round_ in range(runs):
            sys.stderr.write("bench: round %d of %d (%.0f s so far)\n" % (round_ + 1, runs, time.time() - started))
            for key, request, peer in workloads:
                for name in ("ours256", "ours512", peer):
                    results.setdefault((key, name), []).append(servers[name].ask(request))
    finally:
        for server in servers.values():
            server.close()
    elapsed, load_end = time.time() - started, os.getloadavg()

    def gflops(name, clock):
        return [a["flops"] / median(a[clock]) * 1e-9 for a in results[("sgemm", name)]]

    def samples_per_s(key, name):
        return [a["train_samples"] / a["train_s"] for a in results[(key, name)]]

    numpy_peer, torch_peer = PeerColumns(info["numpy"]), PeerColumns(info["torch"])
    rows = []
    g256, g512, gpeer = gflops("ours256", "gpu_s"), gflops("ours512", "gpu_s"), gflops("numpy", "wall_s")
    rows.append(("SGEMM %d^3, autotuned (GPU timestamps)" % SGEMM_N, "GFLOP/s", cell(g256, 1), cell(g512, 1),
                 ratio_cell(g512, g256), ">= %.0f GFLOP/s at 512: %s" % (
                     SGEMM_TARGET_GFLOPS, "met" if median(g512) >= SGEMM_TARGET_GFLOPS else "missed"),
                 numpy_peer.cell(gpeer), numpy_peer.ratio(g256, gpeer), numpy_peer.ratio(g512, gpeer)))
    for key, label in (("mlp", "MLP 784-128-10, batch %d, training (Adam)" % MLP_BATCH),
                       ("cnn", "%s, batch %d, training (Adam)" % (CNN_DESCRIPTION, CNN_BATCH))):
        r256, r512, rpeer = samples_per_s(key, "ours256"), samples_per_s(key, "ours512"), samples_per_s(key, "torch")
        met = median(r512) >= TRAINING_TARGET_RATIO * median(r256)
        rows.append((label, "samples/s", cell(r256, 0), cell(r512, 0), ratio_cell(r512, r256),
                     ">= %.1fx: %s" % (TRAINING_TARGET_RATIO, "met" if met else "missed"),
                     torch_peer.cell(rpeer, 0), torch_peer.ratio(r256, rpeer), torch_peer.ratio(r512, rpeer)))

    now = datetime.datetime.now(datetime.timezone.utc)
    lines = ["## lavapipe 256 vs 512 bits, %s UTC: %s" % (now.strftime("%Y-%m-%d %H:%M"), bench.cpu_model()), ""]
    for width in WIDTHS:
        i = info["ours%d" % width]
        lines.append("- %d bits: %s, subgroup size %d, driver %s" % (width, i["device"], i["subgroup_size"],
                                                                     i["driver"]))
    lines.append("- Peers (%s = OPENBLAS_CORETYPE=%s): %s; %s" % (
        STRONGEST_CORE, STRONGEST_CORE, bench.describe_blas(info["numpy"]), bench.describe_blas(info["torch"])))
    lines.append("- `tests/bench/run.sh --widths`: %d interleaved rounds (256, 512, peer per workload)%s; median "
                 "[min-max] over rounds; ratios of medians. Run took %.0f s; load average %.1f at start, %.1f at "
                 "end; %s." % (runs, " (--quick)" if quick else "", elapsed, load_start[0], load_end[0],
                               platform.platform()))
    lines.append("")
    header = ("workload", "unit", "ours, 256 bits", "ours, 512 bits", "512 / 256", "target", "peer, " + STRONGEST_CORE,
              "ours 256 / peer", "ours 512 / peer")
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "|".join("---" for _ in header) + "|")
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    lines.append("")
    notes = ["SGEMM %d^3 autotuned kernel: %s at 256 bits, %s at 512 bits; sampled max relative error %.1e." % (
        SGEMM_N, results[("sgemm", "ours256")][0]["kernel"], results[("sgemm", "ours512")][0]["kernel"],
        max(a["max_error"] for w in WIDTHS for a in results[("sgemm", "ours%d" % w)]))]
    for key, label in (("mlp", "MLP b%d" % MLP_BATCH), ("cnn", "CNN b%d" % CNN_BATCH)):
        note = profile_note(label, {w: results[(key, "ours%d" % w)] for w in WIDTHS})
        if note:
            notes.append(note)
    lines.extend("- " + note for note in notes)
    lines.append("")
    text = "\n".join(lines)
    print(text)
    if reference:
        sys.stderr.write("bench: not appended: a peer ran reference BLAS (above).\n")
        return 3
    if not args.no_append:
        bench.append_results(args.results, text)
    return 0
