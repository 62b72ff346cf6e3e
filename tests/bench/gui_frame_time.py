#!/usr/bin/python3
"""GUI frame time: how long the Tensorscope window takes per frame, from its --test-log.

    python3 tests/bench/gui_frame_time.py --binary build/tensorscope [--seconds 30]

Scenarios (each a fresh `tensorscope gui` with fresh XDG dirs, window 1440x900):
  idle    the default project (spiral MLP), nothing running
  spiral  the spiral-mlp preset (the default project) training, Train clicked with xdotool
          (epochs raised so that it trains through the whole measurement)
  mnist   the seed MLP 784-128-10 on MNIST (assets/models/mnist-mlp.json opened with
          --project), or on Fashion-MNIST when MNIST is not installed
  spiral-fast, mnist-fast  the same with "train fast" clicked on after Train
  insight spiral training with the GPU insight window open (--insight-tab, default Bandwidth)
Each training scenario is paired with `tensorscope train` of the same model file headless,
run just before and just after it (the mean of the two), so the table prints the window's
training throughput beside the command line's and their ratio. Targets (issue 19): mnist
>= 0.6x, spiral >= 0.3x with p95 frame <= 50 ms; with "train fast" >= 0.9x.
Frame times are the app's own (the time between two frames' ends: event polling, the
ImGui panels, rendering and presenting, all of it), read from the "frame_ms" arrays of
the test log. The first seconds after start and after Train are left out (start-up, data
loading and pipeline compilation are not steady state); a training scenario counts only
frames while the session is running.

Runs under $DISPLAY when it is set, else on a private Xvfb (1600x1000x24). Prints a
table (p50 / p95 / max per scenario) and appends it to tests/bench/RESULTS.md under a
"GUI frame time" heading (--no-append to skip). Exit status 1 when a training scenario misses its target.

Analysis options (what costs the time): --collapse Model,Data,Training,GPU collapses
those panels (clicks on their collapse arrows, after Train), --size 720x450 opens a smaller window
(written into window.json), --spiral-samples N trains the spiral preset on N points
instead of 900, --steps-per-submit N sets the training submissions' size (the GUI shares
the one queue with training), --scenarios picks scenarios, --label names the run.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "gui"))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import gui_test  # noqa: E402  (App, Display: starting and driving the window)
from gui_test import Failure, check, log  # noqa: E402

GOAL_MS = 50.0  # p95 frame while training
# The window's training throughput over the command line's, per scenario.
RATIO_TARGETS = {"spiral": 0.3, "mnist": 0.6, "spiral-fast": 0.9, "mnist-fast": 0.9, "insight": None}
BATCH = 32  # the presets' batch size (spiral-mlp.json, mnist-mlp.json)
PANELS = {"Model": "###Model", "Data": "Data", "Training": "Training", "GPU": "GPU"}


def percentile(values, p):
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * p / 100.0
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def frame_profile(lines):
    """Where the frames' time went: each part's share of the wall clock, and the median parts of
    the frames slower than GOAL_MS ("rest" = the frame's time outside its parts: the pacing's
    sleep, event polling and ImGui's new frame). None without per-frame parts."""
    frames, parts = [], []
    for line in lines:
        line_parts = line.get("frame_parts_ms", {})
        count = len(line.get("frame_ms", []))
        if not line_parts or any(len(v) != count for v in line_parts.values()):
            continue
        frames += line["frame_ms"]
        parts += [{name: values[i] for name, values in line_parts.items()} for i in range(count)]
    if not frames:
        return None
    wall = sum(frames)
    names = sorted(parts[0])
    share = ", ".join(f"{name} {100 * sum(p[name] for p in parts) / wall:.0f}%" for name in names)
    slow = [(f, p) for f, p in zip(frames, parts) if f > GOAL_MS]
    text = f"share of the wall clock: {share}; {len(slow)} of {len(frames)} frames over {GOAL_MS:.0f} ms"
    if slow:
        medians = {name: statistics.median(p[name] for _, p in slow) for name in names}
        medians["rest"] = statistics.median(f - sum(p.values()) for f, p in slow)
        text += ", their median parts: " + ", ".join(f"{name} {ms:.1f}" for name, ms in medians.items()) + " ms"
    return text


def data_root(kind):
    """Where the loader will find `kind` (mnist or fashion-mnist), searching as the app does
    but with the user's real home (the benchmark isolates $XDG_DATA_HOME)."""
    home = os.path.expanduser("~")
    roots = [os.environ.get("TENSORSCOPE_DATA_DIR", ""),
             os.path.join(os.environ.get("XDG_DATA_HOME", "") or os.path.join(home, ".local", "share"),
                          "tensorscope", "data"),
             os.path.join(home, ".local", "share", "tensorscope", "data"), "/usr/share/datasets"]
    for root in roots:
        if root and any(os.path.exists(os.path.join(root, kind, name))
                        for name in ("train-images-idx3-ubyte", "train-images-idx3-ubyte.gz")):
            return root
    return None


def cpu_seconds(pid):
    """User + system CPU time of a process so far (/proc/PID/stat), in seconds."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def headless_rate(options, model, env=None):
    """Samples/s of `tensorscope train MODEL` on the command line: the median of its epochs'
    figures (each epoch's samples over its time, evaluation included), the first epoch
    (pipeline compilation) left out."""
    import re
    import subprocess
    with open(model) as f:
        desc = json.load(f)
    epochs = 4 if "mnist" in desc["training"].get("data", "") else 120
    process_env = dict(os.environ, **(env or {}))
    result = subprocess.run([os.path.abspath(options.binary), "train", model, "--epochs", str(epochs)],
                            capture_output=True, text=True, timeout=900, env=process_env)
    check(result.returncode == 0, f"tensorscope train {model} failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    rates = [float(m) for m in re.findall(r"\|\s+[0-9.]+ s, ([0-9.]+) samples/s", result.stdout)]
    check(len(rates) >= 2, f"tensorscope train {model}: no epoch figures in its output:\n{result.stdout[-1000:]}")
    return statistics.median(rates[1:])


def prepare_config(app_dir, options):
    """window.json (the window size) for analysis runs."""
    config = os.path.join(app_dir, "config", "tensorscope")
    os.makedirs(config, exist_ok=True)
    width, height = options.size
    if options.size != (1440, 900):
        with open(os.path.join(config, "window.json"), "w") as f:
            f.write(f'{{"width": {width}, "height": {height}, "x": 0, "y": 0, "maximized": false}}\n')


def collapse_panels(app, options):
    """Clicks the collapse arrows of the --collapse panels (where app/gui.cpp's PlacePanels
    puts the windows on a first start: model and data left, training centre, GPU right)."""
    if not options.collapse:
        return
    width, height = app.window_size()
    left, right = int(width * 0.28), int(width * 0.24)
    corners = {"Model": (0, 0), "Data": (0, int(height * 0.64)), "Training": (left, 0),
               "GPU": (width - right, 0)}
    for panel in options.collapse:
        x, y = corners[panel]
        app.click_at(x + 11, y + 10, f"the collapse arrow of the {panel} panel")
    time.sleep(1)


class Run:
    def __init__(self, options, display):
        self.options = options
        self.display = display
        self.apps = []

    def start(self, name, args=(), env=None):
        directory = os.path.join(self.options.out, name)
        for sub in ("config", "data"):  # fresh XDG dirs even when --out is reused
            shutil.rmtree(os.path.join(directory, sub), ignore_errors=True)
        os.makedirs(directory, exist_ok=True)
        prepare_config(directory, self.options)
        app = gui_test.App(os.path.abspath(self.options.binary), self.display, directory, args, env=env,
                           keep_xdg=True)
        self.apps.append(app)
        app.find_window()
        app.wait_for_rect("train", 120)
        return app

    def collect(self, app, seconds, running_only):
        """Frame times from the log lines written in the next `seconds` (or until training stops)."""
        app.poll()
        first = len(app.lines)
        cpu_start, wall_start = cpu_seconds(app.process.pid), time.monotonic()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            time.sleep(0.5)
            app.poll()
            check(app.alive(), f"the app exited (code {app.process.returncode})")
            if running_only and app.lines[-1]["state"] != "running":
                break
        self.cpu_share = (cpu_seconds(app.process.pid) - cpu_start) / max(time.monotonic() - wall_start, 1e-9)
        lines = app.lines[first:]
        if running_only:
            lines = [line for line in lines if line["state"] == "running"]
        frames = [t for line in lines for t in line.get("frame_ms", [])]
        parts = {}
        for line in lines:
            for part, values in line.get("frame_parts_ms", {}).items():
                parts.setdefault(part, []).extend(values)
        self.frame_parts = {part: statistics.median(values) for part, values in parts.items() if values}
        if self.frame_parts:
            log("a frame's parts, median ms: " + ", ".join(f"{part} {ms:.1f}" for part, ms in sorted(self.frame_parts.items())))
        self.profile = frame_profile(lines)
        if self.profile:
            log("profile: " + self.profile)
        snapshots = sorted({line["snapshot_ms"] for line in lines if "snapshot_ms" in line})
        if snapshots:
            log(f"snapshot (decision boundary, neuron maps) host time: median {statistics.median(snapshots):.1f} ms, "
                f"max {snapshots[-1]:.1f} ms over {len(snapshots)} distinct values")
        steps = [(line["time"], line["global_step"]) for line in lines if "global_step" in line]
        steps_per_second = None
        if len(steps) >= 2 and steps[-1][0] > steps[0][0]:
            steps_per_second = (steps[-1][1] - steps[0][1]) / (steps[-1][0] - steps[0][0])
        return frames, (lines[-1]["time"] - lines[0]["time"]) if len(lines) >= 2 else 0.0, steps_per_second

    def finish(self):
        for app in self.apps:
            app.stop()


def spiral_args(run, training):
    """--project for the idle and spiral scenarios. Idle: the default project, or with
    --spiral-samples, the spiral-mlp preset on a spiral of that many points. Training:
    the same with 100000 epochs, so that it runs for the whole measurement (the preset's
    60 epochs can end within it)."""
    if not run.options.spiral_samples and not training:
        return []
    with open(os.path.join(ROOT, "assets", "models", "spiral-mlp.json")) as f:
        model = json.load(f)
    if run.options.spiral_samples:
        model["training"]["data"] = f"spiral:samples={run.options.spiral_samples},classes=3,noise=0.2"
    if training:
        model["training"]["epochs"] = 100000
        if run.options.steps_per_submit:
            model["training"]["steps_per_submit"] = run.options.steps_per_submit
    path = os.path.join(run.options.out, f"spiral-{run.options.spiral_samples or 900}-{model['training']['epochs']}-"
                                         f"{run.options.steps_per_submit}.json")
    with open(path, "w") as f:
        json.dump(model, f, indent=2)
    return ["--project", path]


def paired_with_headless(run, model, env, measure):
    """Runs `measure` (a window scenario) between two headless runs of `model`; returns its
    result and the headless samples/s (the mean of before and after)."""
    before = headless_rate(run.options, model, env)
    result = measure()
    after = headless_rate(run.options, model, env)
    log(f"headless {os.path.basename(model)}: {before:.0f} samples/s before, {after:.0f} after")
    return result, (before + after) / 2


def scenario_idle(run, seconds):
    app = run.start("idle", spiral_args(run, False))
    time.sleep(2)  # past start-up (fonts, first swapchain images)
    collapse_panels(app, run.options)
    frames, span, _ = run.collect(app, seconds, False)
    app.close_window()
    return frames, span, None, "default project (spiral MLP), not training", None


def train(run, app, seconds, warmup=3.0, fast=False):
    app.click_train()
    app.wait_for(lambda l: l["state"] == "running" and "global_step" in l, "training to start", 300)
    if fast:
        app.click("train_fast")
        app.wait_for(lambda l: l.get("train_fast"), "train fast to be on", 30)
    app.park_mouse()
    collapse_panels(app, run.options)
    time.sleep(warmup)
    return run.collect(app, seconds, True)


def scenario_spiral(run, seconds, fast=False):
    args = spiral_args(run, True)
    model = args[1]

    def measure():
        app = run.start("spiral-fast" if fast else "spiral", args)
        time.sleep(1)
        result = train(run, app, seconds, fast=fast)
        app.close_window()
        return result

    (frames, span, steps), headless = paired_with_headless(run, model, None, measure)
    what = "spiral-mlp training" + (', "train fast"' if fast else "")
    return frames, span, steps, what, headless


def scenario_spiral_fast(run, seconds):
    return scenario_spiral(run, seconds, fast=True)


def scenario_mnist_fast(run, seconds):
    return scenario_mnist(run, seconds, fast=True)


def scenario_mnist(run, seconds, fast=False):
    kind = "mnist" if data_root("mnist") else "fashion-mnist"
    root = data_root(kind)
    check(root, "neither MNIST nor Fashion-MNIST is installed (assets/scripts/fetch-mnist.sh, or the Debian "
                "package dataset-fashion-mnist)")
    model = os.path.join(ROOT, "assets", "models", f"{kind}-mlp.json")
    if run.options.steps_per_submit:
        with open(model) as f:
            desc = json.load(f)
        desc["training"]["steps_per_submit"] = run.options.steps_per_submit
        model = os.path.join(run.options.out, f"{kind}-mlp-{run.options.steps_per_submit}.json")
        with open(model, "w") as f:
            json.dump(desc, f, indent=2)
    env = {"TENSORSCOPE_DATA_DIR": root}

    def measure():
        app = run.start(kind + ("-fast" if fast else ""), ["--project", model], env=env)
        check(app.last["model_error"] == "" and app.last["notices"] == 0, f"{model} did not open cleanly: "
              f"{gui_test.summary(app.last)}")
        time.sleep(1)
        result = train(run, app, seconds, fast=fast)
        app.close_window()
        return result

    (frames, span, steps), headless = paired_with_headless(run, model, env, measure)
    what = f"seed MLP 784-128-10 on {kind} training" + (', "train fast"' if fast else "")
    return frames, span, steps, what, headless


def scenario_insight(run, seconds):
    app = run.start("insight", spiral_args(run, True))
    time.sleep(1)
    app.click_train()
    app.wait_for(lambda l: l["state"] == "running" and "global_step" in l, "training to start", 300)
    app.click("open_insight")
    app.wait_for(lambda l: l.get("insight_open"), "the GPU insight window to open", 30)
    tab = run.options.insight_tab
    app.wait_for_rect(f"insight_tab_{tab}")
    app.click(f"insight_tab_{tab}")
    app.park_mouse()
    time.sleep(3.0)
    frames, span, steps = run.collect(app, seconds, True)
    app.close_window()
    return frames, span, steps, f"spiral-mlp training, GPU insight open on its {tab} tab", None


SCENARIOS = {"idle": scenario_idle, "spiral": scenario_spiral, "mnist": scenario_mnist,
             "spiral-fast": scenario_spiral_fast, "mnist-fast": scenario_mnist_fast, "insight": scenario_insight}


def machine_description():
    cpu, model = platform.processor() or "unknown CPU", ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    cpu = value.strip()
                elif key.strip() == "model" and not model:
                    model = value.strip()
                if key.strip() == "" and cpu != "unknown CPU":
                    break
    except OSError:
        pass
    if model:
        cpu += f" (model {model})"
    return f"{cpu}, {os.cpu_count()} cores"


def device_description(binary):
    """The Vulkan device the app uses, as `tensorscope devices` marks it."""
    import subprocess
    try:
        lines = subprocess.run([binary, "devices"], capture_output=True, text=True, timeout=60).stdout.splitlines()
    except (OSError, subprocess.SubprocessError) as e:
        return f"unknown ({e})"
    for i, line in enumerate(lines):
        if line.startswith("*"):
            detail = lines[i + 1].strip() if i + 1 < len(lines) else ""
            return line[1:].strip() + (f"; {detail}" if detail else "")
    return "unknown"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", required=True, help="the tensorscope executable (e.g. build/tensorscope)")
    parser.add_argument("--seconds", type=float, default=30, help="seconds measured per scenario (default 30)")
    parser.add_argument("--scenarios", default="idle,spiral,mnist,spiral-fast,mnist-fast",
                        help="comma-separated: idle, spiral, mnist, spiral-fast, mnist-fast, insight")
    parser.add_argument("--insight-tab", default="Bandwidth",
                        help="the GPU insight tab the insight scenario shows (default Bandwidth)")
    parser.add_argument("--out", help="where logs go (default: a temporary folder)")
    parser.add_argument("--no-append", action="store_true", help="do not append to tests/bench/RESULTS.md")
    parser.add_argument("--collapse", default="", help="panels to collapse: Model,Data,Training,GPU")
    parser.add_argument("--size", default="1440x900", help="window size WxH (default 1440x900)")
    parser.add_argument("--spiral-samples", type=int, default=0,
                        help="idle and spiral scenarios on a spiral of this many points (default: the default project)")
    parser.add_argument("--steps-per-submit", type=int, default=0,
                        help="training scenarios with this many steps per queue submission (default: the presets')")
    parser.add_argument("--label", default="", help="a note for the table heading")
    options = parser.parse_args()
    options.out = os.path.abspath(options.out or tempfile.mkdtemp(prefix="tensorscope-frame-time-"))
    os.makedirs(options.out, exist_ok=True)
    options.size = tuple(int(v) for v in options.size.lower().split("x"))
    options.collapse = [p.strip() for p in options.collapse.split(",") if p.strip()]
    for panel in options.collapse:
        check(panel in PANELS, f"--collapse: unknown panel {panel!r} (Model, Data, Training, GPU)")
    scenarios = [s.strip() for s in options.scenarios.split(",") if s.strip()]
    for s in scenarios:
        check(s in SCENARIOS, f"unknown scenario {s!r}")
    check(os.access(options.binary, os.X_OK), f"{options.binary} is not an executable")

    display = gui_test.Display("inherit" if os.environ.get("DISPLAY") else "private")
    results = []
    load_start = os.getloadavg()[0]
    try:
        for name in scenarios:
            log(f"=== {name}: {options.seconds:.0f} s")
            run = Run(options, display)
            try:
                frames, span, steps, what, headless = SCENARIOS[name](run, options.seconds)
            finally:
                run.finish()
            check(frames, f"{name}: no frames measured")
            rate = steps * BATCH if steps else None
            row = {"name": name, "what": what, "frames": len(frames), "span": span,
                   "p50": percentile(frames, 50), "p95": percentile(frames, 95), "max": max(frames),
                   "mean": statistics.fmean(frames), "steps": steps, "rate": rate, "headless": headless,
                   "ratio": rate / headless if rate and headless else None, "cpu": run.cpu_share,
                   "target": RATIO_TARGETS.get(name), "profile": getattr(run, "profile", None)}
            log(f"{name}: {row['frames']} frames over {span:.1f} s: p50 {row['p50']:.1f} ms, p95 {row['p95']:.1f} ms, "
                f"max {row['max']:.1f} ms; the window's process used {row['cpu']:.2f} cores"
                + (f"; {rate:.0f} samples/s in the window" if rate else "")
                + (f", {headless:.0f} headless: {row['ratio']:.2f}x" if row["ratio"] else ""))
            results.append(row)
    finally:
        display.close()
    load_end = os.getloadavg()[0]

    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    size = f"{options.size[0]}x{options.size[1]}"
    heading = f"## GUI frame time, {now}: {machine_description()}"
    notes = [f"- Vulkan device: {device_description(os.path.abspath(options.binary))}",
             f"- `tests/bench/gui_frame_time.py --seconds {options.seconds:g}`; window {size} on "
             f"{'a private Xvfb' if display.process else 'DISPLAY ' + display.name}"
             + (f", collapsed panels: {', '.join(options.collapse)}" if options.collapse else "")
             + (f", spiral of {options.spiral_samples} points" if options.spiral_samples else "")
             + (f", {options.steps_per_submit} training steps per submission" if options.steps_per_submit else "")
             + (f"; {options.label}" if options.label else "")
             + f"; load average {load_start:.1f} at start, {load_end:.1f} at end.",
             f"- Frame time = the time between two frames' ends (events, ImGui panels, render, present, and the "
             f"frame pacing's sleep), from the test log's frame_ms. The idle window draws on input and news only "
             f"(a heartbeat every 0.5 s); training caps it at 25 fps, \"train fast\" at 3 fps. Goal while "
             f"training live: p95 <= {GOAL_MS:.0f} ms.",
             f"- Window = training samples/s in the window (global steps x batch {BATCH} over the test log's "
             f"clock, epoch ends included); headless = `tensorscope train` of the same model file, the median of "
             f"its epochs after the first, run just before and just after the window (mean of the two). "
             f"CPU = cores the window's process used (training included)."]
    table = ["| scenario | frames | p50 ms | p95 ms | max ms | CPU (cores) | window samples/s | headless samples/s | "
             "window / headless | target |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        met = ""
        if r["target"] is not None and r["ratio"] is not None:
            frame_ok = r["p95"] <= GOAL_MS or "fast" in r["name"]
            met = f">= {r['target']}x: {'met' if r['ratio'] >= r['target'] and frame_ok else 'missed'}"
        table.append(f"| {r['what']} | {r['frames']} | {r['p50']:.1f} | {r['p95']:.1f} | {r['max']:.1f} | "
                     f"{r['cpu']:.2f} | {r['rate'] or 0:.0f} | {r['headless'] or 0:.0f} | "
                     f"{(str(round(r['ratio'], 2)) + 'x') if r['ratio'] else '-'} | {met} |")
    profiles = [f"- {r['what']}: {r['profile']}." for r in results if r.get("profile")]
    if profiles:
        profiles.insert(0, "\nWhere each scenario's frame time went (the app's own per-frame timers; draw includes "
                           "waiting for the queue behind training's submissions):\n")
    text = "\n".join([heading, "", *notes, "", *table, *profiles, ""])
    print()
    print(text)
    if not options.no_append:
        path = os.path.join(HERE, "RESULTS.md")
        with open(path, "a") as f:
            f.write("\n" + text)
        log(f"appended to {path}")
    missed = [r["name"] for r in results if r["target"] is not None and r["ratio"] is not None and
              (r["ratio"] < r["target"] or (r["p95"] > GOAL_MS and "fast" not in r["name"]))]
    return 1 if missed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Failure as e:
        print(f"gui_frame_time.py: {e}", file=sys.stderr)
        sys.exit(2)
