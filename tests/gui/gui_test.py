#!/usr/bin/python3
"""GUI tests: start the real Tensorscope window and drive it as a person would.

    /usr/bin/python3 tests/gui/gui_test.py CASE --binary build/tensorscope --out DIR
    CASE: train_default | build_and_save | bad_project | divergence | unsaved_quit | inside_views | gpu_insight
          | preset_data | data_change | output_mismatch | relaunch_continue (run_cases.py) | export
          | parity | open_onnx | window_files (exchange_cases.py) | all
    CASE: train_default | build_and_save | bad_project | divergence | unsaved_quit | inside_views |
          gpu_insight | occupancy_selection | layout_1280x720 | layout_1440x900 | layout_2560x1440
          | lab_lessons (lab_cases.py) | lab_puzzles (puzzle_cases.py) | char_gpt (sequence_cases.py) | all

Each case starts `tensorscope gui` with fresh $XDG_CONFIG_HOME and
$XDG_DATA_HOME (so no autosave, imgui.ini or window.json of the user's leaks
in), moves the mouse and types with xdotool (real X input events, through
GLFW and ImGui like a user's), and reads the outcome from the app's
`--test-log` (one JSON line per state change and about once a second, with
the named widget rectangles of ui/test_hooks.h in window coordinates).
Screenshots come from SIGUSR1 (`--screenshot-dir`). The window is closed the
way a window manager closes it (a WM_DELETE_WINDOW message), so the app's quit
path runs; a process that outlives its test is signalled by its own PID.

The display: by default each run starts a private Xvfb (when the Xvfb binary
exists), so GUI tests that CTest runs in parallel never click into each
other's windows and a developer's desktop is not taken over; `--display
inherit` uses $DISPLAY instead. Standard library only (PNG checks decode the
file with zlib and struct).

Exit code 0 when every requested case passed; the output says what each
step saw. Artifacts (logs, app output, screenshots, project files) are left
in --out.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import zlib

# ---- Cases --------------------------------------------------------------------

from gui_support import *  # noqa: F401,F403 (Display, App, check, log, ... shared with run_cases.py)
import exchange_cases
import insight_cases
import run_cases
import lab_cases
import puzzle_cases
import parallel_cases
import sequence_cases

def case_train_default(t):
    """The default project (spiral MLP): click Train, watch it learn, take a screenshot."""
    app = t.start("train_default")
    app.find_window()
    app.wait_for_rect("train")
    first = app.last
    default = len(default_layer_types())
    check(first["state"] == "empty", f"a fresh start should have no session yet; state {first['state']!r}")
    check(first["layers"] == default and first["project_path"] == "" and not first["dirty"],
          f"expected the default spiral project ({default} layers, unsaved, clean); log: {summary(first)}")
    check("spiral-mlp" in app.window_name(), f"window title {app.window_name()!r} does not name spiral-mlp")
    app.click_train()
    line = app.wait_for(lambda l: l.get("epochs_done", 0) >= 10 or l["state"] in ("finished", "failed", "stopped"),
                        "10 epochs of training", t.train_timeout)
    log(f"after training: {summary(line)}")
    check(line["state"] in ("running", "finished"), f"training ended in state {line['state']!r}")
    check(line["notices"] == 0, f"unexpected notice: {line.get('last_notice')}")
    check(line["loss"] < line["first_loss"] / 3,
          f"loss {line['loss']:.4f} is not below a third of the first loss {line['first_loss']:.4f}")
    check(line["train_accuracy"] > 0.9, f"train accuracy {line['train_accuracy']:.3f} <= 0.9")
    check(line.get("validation_accuracy", 0) > 0.9, f"validation accuracy {line.get('validation_accuracy')} <= 0.9")
    # After each epoch the test set's sample predictions: the same 8 samples, mostly right by now.
    examples = line.get("test_examples", [])
    check(len(examples) == 8, f"expected 8 sample predictions after an epoch, found {len(examples)}")
    right = sum(1 for e in examples if e["label"] == e["predicted"])
    check(right >= 6 and all(0 <= e["confidence"] <= 1 for e in examples),
          f"sample predictions look wrong after 10 epochs: {examples}")
    app.park_mouse()
    path = app.screenshot()
    check_screenshot(path, *app.window_size())
    shutil.copy(path, os.path.join(t.out, "train_default.png"))
    # Quitting while training (clean project, so no prompt) keeps the network in last.ckpt.
    check(app.close_window() == 0, "the app's exit code was not 0")
    checkpoint = os.path.join(app.xdg["XDG_DATA_HOME"], "tensorscope", "last.ckpt")
    check(os.path.getsize(checkpoint) > 0, f"{checkpoint} was not written on quit")
    check("Saved the trained network" in app.output_text(), "no 'Saved the trained network' message on quit")


def case_build_and_save(t):
    """Add Tanh and Dense from the palette, edit the new layer's units, Save As,
    quit, reopen the file."""
    app = t.start("build_and_save")
    app.find_window()
    app.wait_for_rect("palette_tanh")
    start = app.last
    initial = default_layer_types()
    n = len(initial)
    check(start["layers"] == n, f"expected the {n}-layer default project; log: {summary(start)}")
    # Nothing selected: Tanh goes before the loss head and becomes the selection; Dense goes after it.
    expected = initial[:-1] + ["tanh", "dense"] + initial[-1:]
    app.click("palette_tanh")
    app.wait_for(lambda l: l["layers"] == n + 1 and l["dirty"], f"{n + 1} layers after adding Tanh", 30)
    app.click("palette_dense")
    app.wait_for(lambda l: l["layers"] == n + 2 and l["dirty"], f"{n + 2} layers after adding Dense", 30)
    # Wait for a frame with the new rows drawn: "dense_units" then is the last dense row's
    # field, the new layer's (row n), so it lines up with that row's rectangle.
    new_row = f"row_{n}"
    app.wait_for(lambda l: f"row_{n + 1}" in l.get("rects", {})
                 and abs(l["rects"]["dense_units"][1] - l["rects"][new_row][1]) <= 6, "the new rows' rectangles", 30)
    x0, y0, x1, y1 = app.rect("dense_units")
    row = app.rect(new_row)
    app.click_at((x0 + x1) / 2, (row[1] + row[3]) / 2, "the new dense layer's units field")
    app.key("ctrl+a")
    app.type("3")
    app.key("Return")

    save_path = os.path.join(t.out, "build_and_save", "saved", "my model.tsproj.json")
    app.click("save_as")
    app.wait_for_rect("path_input")
    app.settle(3)
    app.key("ctrl+a")  # the field has the keyboard focus when the popup opens
    app.type(save_path)
    app.click("path_ok")
    line = app.wait_for(lambda l: l["project_path"] == save_path and not l["dirty"],
                        "project_path set to the saved file and dirty false", 30)
    check(line["layers"] == n + 2 and line["model_error"] == "", f"after saving: {summary(line)}")
    check("*" not in app.window_name(), f"window title {app.window_name()!r} still marks unsaved changes")

    with open(save_path) as f:
        saved = json.load(f)
    layers = saved["model"]["layers"]
    types = [layer["type"] for layer in layers]
    log(f"saved layers: {[(l['type'], l.get('units')) for l in layers]}")
    check(saved["format"] == "tensorscope-project", f"saved format {saved.get('format')!r}")
    check(types == expected, f"saved layer types {types}, expected {expected}")
    check(layers[n].get("units") == 3, f"the new dense layer has units {layers[n].get('units')!r}; typed 3")

    check(app.close_window() == 0, "the app's exit code was not 0")

    # Reopen the file (same XDG dirs, as the same user would).
    again = t.start("build_and_save_reopen", ["--project", save_path], xdg_from=app)
    again.find_window()
    again.wait_for_rect("train", 60)
    line = again.last
    log(f"reopened: {summary(line)}")
    check(line["layers"] == n + 2, f"reopened project has {line['layers']} layers, saved {n + 2}")
    check(line["project_path"] == save_path and not line["dirty"], f"reopened: {summary(line)}")
    check(line["notices"] == 0 and line["model_error"] == "", f"reopened with a problem: {summary(line)}")
    check("spiral-mlp" in again.window_name() and "*" not in again.window_name(),
          f"window title {again.window_name()!r}: expected the project name without the unsaved mark")

    check(again.close_window() == 0, "the app's exit code was not 0")


def case_unsaved_quit(t):
    """Closing the window with unsaved changes asks first; "Discard changes" quits."""
    app = t.start("unsaved_quit")
    app.find_window()
    app.wait_for_rect("palette_relu")
    n = app.last["layers"]
    app.click("palette_relu")
    app.wait_for(lambda l: l["dirty"] and l["layers"] == n + 1, "the edit to mark the project modified", 30)
    app.close_window(expect_exit=False)
    app.settle(5)
    check(app.alive(), f"closing the window with unsaved changes quit at once (exit code "
                       f"{app.process.returncode}) instead of asking what to do with them")
    app.wait_for_rect("discard_prompt_discard")
    app.park_mouse()
    shutil.copy(app.screenshot(), os.path.join(t.out, "unsaved_quit_prompt.png"))
    app.click("discard_prompt_discard")
    try:
        code = app.process.wait(60)
    except subprocess.TimeoutExpired:
        raise Failure("the app did not exit after 'Discard changes'")
    check(code == 0, f"exit code {code} after 'Discard changes'")


def case_bad_project(t):
    """A malformed project file: a notice naming the file and JSON, the default project, and the app lives on."""
    path = os.path.join(t.out, "bad_project", "broken-project.tsproj.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write('{"format": "tensorscope-project", "version": 1, "name": "broken",\n "model": {"layers": [\n')
    app = t.start("bad_project", ["--project", path], validate=t.validate)
    app.find_window()
    app.wait_for_rect("train", 60)
    line = app.wait_for(lambda l: l["notices"] >= 1 and "broken-project.tsproj.json" in l.get("last_notice", "")
                        and "JSON" in l.get("last_notice", ""), "a notice naming the file and 'JSON'", 30)
    log(f"notice: {line['last_notice']!r}")
    check(line["layers"] == len(default_layer_types()) and line["project_path"] == "" and line["model_error"] == ""
          and not line["dirty"],
          f"expected the default project instead of the broken file; log: {summary(line)}")
    check("spiral-mlp" in app.window_name(), f"title {app.window_name()!r}")
    app.keeps_running(3)
    app.park_mouse()
    path = app.screenshot()
    check_screenshot(path, *app.window_size())
    shutil.copy(path, os.path.join(t.out, "bad_project.png"))
    check(app.close_window() == 0, "the app's exit code was not 0")
    app.check_validation()


def case_divergence(t):
    """SGD at learning rate 1e30: training stops with a notice that says it diverged; the app lives on."""
    project = {
        "format": "tensorscope-project", "version": 1, "name": "diverging",
        "model": {"format": "tensorscope-model", "version": 1, "name": "diverging", "layers": [
            {"type": "input", "shape": [2]}, {"type": "dense", "units": 32}, {"type": "relu"},
            {"type": "dense", "units": 3}, {"type": "softmax_cross_entropy"}]},
        "training": {"optimizer": "sgd", "learning_rate": 1e30, "batch_size": 32, "epochs": 5, "seed": 1},
        "data": {"kind": "spiral", "samples": 900, "classes": 3, "noise": 0.2, "seed": 1, "test_fraction": 0.2,
                 "path": "", "added_points": []},
    }
    path = os.path.join(t.out, "divergence", "diverging.tsproj.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(project, f, indent=2)
    app = t.start("divergence", ["--project", path], validate=t.validate)
    app.find_window()
    app.wait_for_rect("train", 60)
    line = app.last
    check(line["notices"] == 0 and line["model_error"] == "" and line["project_path"] == path,
          f"the project did not open cleanly: {summary(line)}")
    app.click_train()
    line = app.wait_for(lambda l: "diverged" in l.get("last_notice", ""), "a notice that says 'diverged'",
                        t.train_timeout)
    log(f"notice: {line['last_notice']!r}; state {line['state']!r}")
    check(line["state"] != "running", f"still running after divergence: {summary(line)}")
    app.keeps_running(3)
    app.park_mouse()
    shutil.copy(app.screenshot(), os.path.join(t.out, "divergence.png"))
    check(app.close_window() == 0, "the app's exit code was not 0")
    app.check_validation()


def shapes_cnn_project(name, samples, epochs):
    """A project with the shapes-cnn preset on a small built-in shapes set (epochs take seconds)."""
    with open(os.path.join(SOURCE_DIR, "assets", "models", "shapes-cnn.json")) as f:
        model = json.load(f)
    model.pop("training", None)
    return {
        "format": "tensorscope-project", "version": 1, "name": name, "model": model,
        "training": {"optimizer": "adam", "learning_rate": 0.002, "batch_size": 32, "epochs": epochs, "seed": 1,
                     "validation_fraction": 0.1},
        "data": {"kind": "shapes", "samples": samples, "classes": 8, "noise": 0.08, "seed": 1, "test_fraction": 0.2,
                 "path": "", "added_points": []},
    }


def case_inside_views(t):
    """Train shapes-cnn on a small shapes set, open the Inside window, look at every tab
    (filters, feature maps, histograms, the canvas and the mistakes), draw on the canvas."""
    path = os.path.join(t.out, "inside_views", "shapes-cnn.tsproj.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(shapes_cnn_project("inside", samples=600, epochs=4), f, indent=2)
    app = t.start("inside_views", ["--project", path])
    app.find_window()
    width, height = app.window_size()
    app.wait_for_rect("train", 60)
    title = app.wait_for_rect("inside_title")
    line = app.last
    check(line["notices"] == 0 and line["model_error"] == "", f"the project did not open cleanly: {summary(line)}")
    # The default layout: the Inside window is a title bar along the bottom, and asks the worker for nothing.
    check(not line["inside_open"], "the Inside window should start collapsed")
    check(title[3] <= height + 1 and title[1] >= height - 40,
          f"the collapsed Inside title bar {title} is not along the bottom of the {width}x{height} window")
    app.park_mouse()
    check_screenshot(app.screenshot(), width, height)

    app.click_train()
    line = app.wait_for(lambda l: l.get("epochs_done", 0) >= 1, "the first epoch", t.train_timeout)
    log(f"after one epoch: {summary(line)}")
    # Open the window: its collapse arrow sits at the left end of the title bar.
    x0, y0, x1, y1 = app.rect("inside_title")
    app.click_at(x0 + (y1 - y0) / 2, (y0 + y1) / 2, "the Inside window's collapse arrow")
    app.wait_for(lambda l: l["inside_open"], "the Inside window to open", 60)
    app.wait_for_rect("inside_tab_mistakes")

    def frames(since):
        """Median frame time and the last vertex count since log line `since` (lavapipe draws on the CPU)."""
        times = sorted(ms for line in app.lines[since:] for ms in line.get("frame_ms", []))
        median = times[len(times) // 2] if times else 0
        return f"frames p50 {median:.0f} ms over {len(times)}, {app.lines[-1].get('vertices')} vertices"

    def show(tab, name, ready, what):
        app.click(f"inside_tab_{tab}")
        line = app.wait_for(lambda l: l["inside_tab"] == name and ready(l), what, 60)
        app.park_mouse()
        app.poll()
        since = len(app.lines)
        time.sleep(2.5)  # the log writes a line (with the frame times since the last) about once a second
        app.poll()
        log(f"{name}: {frames(since)}")
        shot = app.screenshot()
        check_screenshot(shot, width, height)
        shutil.copy(shot, os.path.join(t.out, f"inside_{tab}.png"))
        return app.last

    line = show("filters", "Filters", lambda l: l["inside_drawn"]["filters"] == 32, "the 32 filters of conv2d_1")
    # Each tab has the worker run only the probe pass it shows: the chosen sample alone for Feature maps...
    line = show("maps", "Feature maps", lambda l: l["inside_drawn"]["feature_tiles"] >= 32
                and l.get("inside", {}).get("feature_maps", 0) > 0, "feature map tiles (at least relu_1's 32)")
    probe = line["inside"]
    log(f"feature maps: {line['inside_drawn']}; the worker's pass: {json.dumps(probe)}")
    check(probe["feature_maps"] == 8, f"shapes-cnn has 8 image-shaped layer outputs (3 conv, 3 relu, 2 pools); "
                                      f"the worker sent {probe['feature_maps']}")
    check(len(probe["sample_top"]) == 5 and all(0 <= p <= 1 for _, p in probe["sample_top"]),
          f"the chosen sample's top answers look wrong: {probe['sample_top']}")
    # ... and the probe batch for Activations.
    line = show("activations", "Activations", lambda l: l["inside_drawn"]["histograms"] >= 4
                and l.get("inside", {}).get("layers", 0) > 0, "histograms")
    probe = line["inside"]
    log(f"activations: {line['inside_drawn']}, dead: {probe['dead']}")
    check(probe["layers"] == 11 and len(probe["dead"]) == 4 and probe["probe_batch"] == 32,
          f"expected statistics of 11 layers and 4 ReLUs over 32 samples, found {probe}")
    check(all(0 <= share <= 1 for share in probe["dead"].values()), f"dead shares {probe['dead']}")

    # Predict: draw a ring on the canvas with the mouse; the answer's top classes sum to about 1.
    app.click("inside_tab_predict")
    app.wait_for(lambda l: l["inside_tab"] == "Predict" and "canvas" in l.get("rects", {}), "the canvas", 30)
    cx0, cy0, cx1, cy1 = app.wait_for_rect("canvas")
    centre_x, centre_y, radius = (cx0 + cx1) / 2, (cy0 + cy1) / 2, (cx1 - cx0) * 0.3
    ring = [(centre_x + radius * math.cos(2 * math.pi * k / 14), centre_y + radius * math.sin(2 * math.pi * k / 14))
            for k in range(15)]
    app.drag(ring, "a ring on the canvas")
    # The canvas sends its drawing a few times a second during a stroke: wait for the answer to the last one.
    app.settle(4)
    finished = app.last["time"]
    line = app.wait_for(lambda l: l["time"] >= finished and "canvas" in l
                        and l["canvas"]["request"] == l["canvas_requests"] and l["canvas"]["ink_pixels"] > 20
                        and not l["canvas"]["error"], "the answer to the finished drawing", 60)
    canvas = line["canvas"]
    log(f"canvas: {json.dumps(canvas)}")
    top = canvas["top"]
    check(len(top) == 5 and all(0 <= p <= 1 for _, p in top), f"expected 5 top answers, found {top}")
    check(abs(canvas["sum"] - 1) < 1e-3, f"the canvas's probabilities sum to {canvas['sum']}, not 1")
    check(top == sorted(top, key=lambda pair: -pair[1]), f"top answers not in order: {top}")
    check(line["canvas_requests"] >= 2, "the canvas should send its drawing while the stroke is drawn, not only at the end")
    log(f"the drawn ring is answered with class {top[0][0]} (6 is ring) at {top[0][1]:.0%}")
    app.settle(4)
    app.park_mouse()
    shot = app.screenshot()
    check_screenshot(shot, width, height)
    shutil.copy(shot, os.path.join(t.out, "inside_predict.png"))

    line = show("mistakes", "Mistakes", lambda l: l["inside_drawn"]["mistakes"] == min(16, l["test_mistakes"]),
                "the gallery of confident mistakes")
    log(f"mistakes: {line['test_mistakes']} in the gallery; frame ms while open: {line.get('frame_ms', [])[:12]}")
    check(line["test_mistakes"] > 0 or line.get("test_accuracy", 0) == 1, "no mistakes listed after an epoch")
    check(line["notices"] == 0, f"unexpected notice: {line.get('last_notice')}")
    check(app.close_window() == 0, "the app's exit code was not 0")


def rect_inside(inner, outer, slack=1.0):
    return (inner[0] >= outer[0] - slack and inner[1] >= outer[1] - slack and inner[2] <= outer[2] + slack
            and inner[3] <= outer[3] + slack)


def rects_overlap(a, b):
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


PANELS = ["window Model", "window Data", "window Training", "window GPU"]
STOP_CONTROLS = ["train", "pause", "stop"]


def check_layout(app, width, height, floating, training=True):
    """Every panel lies within the display, nothing floating covers the Train / Pause / Stop buttons,
    and the panels' contents fit their width (no controls cut at the right edge)."""
    line = app.last
    rects = line.get("rects", {})
    display = [0, 0, width, height]
    for name in PANELS + floating:
        check(name in rects, f"no '{name}' rectangle in the log; rects: {sorted(rects)}")
        check(rect_inside(rects[name], display), f"{name} {rects[name]} is not within the {width}x{height} display")
    for name in floating:
        for control in STOP_CONTROLS:
            check(not rects_overlap(rects[name], rects[control]),
                  f"{name} {rects[name]} covers the {control} button {rects[control]}")
    for name in PANELS + floating:
        content, inner = rects.get(name.replace("window ", "content ")), rects.get(name.replace("window ", "inner "))
        check(content and inner, f"no content or inner rectangle for {name}")
        check(content[2] <= inner[2] + 1,
              f"{name}'s content reaches x={content[2]:.0f}, past its visible area's right edge {inner[2]:.0f}: cut off")
    if not training:
        return rects
    gpu_table = rects.get("gpu_rates_table")
    check(gpu_table, "no 'gpu_rates_table' rectangle: the GPU panel's table was not drawn")
    inner = rects["inner GPU"]
    check(gpu_table[0] >= inner[0] - 1 and gpu_table[2] <= inner[2] + 1,
          f"the GPU panel's table {gpu_table} is wider than the panel's visible area {inner}")
    return rects


def layout_case(t, width, height):
    """At width x height: train, open GPU insight and the Inside window; every panel fits the display, and
    neither floating window covers the Train / Pause / Stop row. Screenshots: layout_<size>_*.png."""
    size = f"{width}x{height}"
    check(shutil.which("Xvfb"), "the layout cases need Xvfb (Debian package xvfb) for a display of their own size")
    display = Display("private", f"{size}x24")
    try:
        app = App(t.binary, display, os.path.join(t.out, f"layout_{size}"))
        t.apps.append(app)

        def check_and_keep(window, shot_name):
            """Checks the layout with `window` open and keeps a screenshot layout_<size>_<shot_name>.png."""
            app.park_mouse()
            app.settle(3)
            rects = check_layout(app, width, height, [window])
            shot = app.screenshot()
            check_screenshot(shot, width, height)
            shutil.copy(shot, os.path.join(t.out, f"layout_{size}_{shot_name}.png"))
            return rects
        app.find_window()
        app.wait_for_rect("train", 60)
        if app.window_size() != (width, height):
            # The window opens at its default size (1440x900 at most): resized to fill the display, the
            # panels are placed again for the new size.
            log(f"resize the window from {app.window_size()} to {size}")
            app.xdotool("windowmove", app.window, 0, 0)
            app.xdotool("windowsize", app.window, width, height)
            deadline = time.monotonic() + 30
            while app.window_size() != (width, height):
                check(time.monotonic() < deadline, f"the window stays {app.window_size()} after resizing to {size}")
                time.sleep(0.2)
        app.wait_for(lambda l: l.get("rects", {}).get("window GPU", [0, 0, 0, 0])[2] == width,
                     f"the panels placed for {size}", 30)
        app.wait_for_rect("window GPU")
        app.park_mouse()
        check_layout(app, width, height, [], training=False)
        shot = app.screenshot()
        check_screenshot(shot, width, height)
        shutil.copy(shot, os.path.join(t.out, f"layout_{size}_start.png"))

        app.click_train()
        # A large window takes the CPU driver longer to draw, and it shares the cores with training.
        app.wait_for(lambda l: l["state"] == "running" and l.get("global_step", 0) > 5, "training to run",
                     t.train_timeout)
        app.click("open_insight")
        app.wait_for(lambda l: l.get("insight_open"), "the GPU insight window to open", 60)
        app.wait_for_rect("window GPU insight", 60)
        app.wait_for(lambda l: l["insight_drawn"]["rows"] > 3, "the kernel table", t.train_timeout)
        rects = check_and_keep("window GPU insight", "insight")
        log(f"{size}: GPU insight {rects['window GPU insight']}, stop {rects['stop']}")
        app.click("open_insight")  # closes it
        app.wait_for(lambda l: not l.get("insight_open"), "the GPU insight window to close", 30)

        # The Inside window: opened from its bar along the bottom, it grows upwards, but not over the controls.
        x0, y0, x1, y1 = app.rect("inside_title")
        app.click_at(x0 + (y1 - y0) / 2, (y0 + y1) / 2, "the Inside window's collapse arrow")
        app.wait_for(lambda l: l["inside_open"], "the Inside window to open", 60)
        opened = lambda l: l.get("rects", {}).get("window Inside", [0, 0, 0, 0])[3] - \
            l.get("rects", {}).get("window Inside", [0, 0, 0, 0])[1] > 100
        app.wait_for(opened, "the Inside window's opened rectangle", 30)
        app.wait_for_rect("window Inside")
        rects = check_and_keep("window Inside", "inside")
        log(f"{size}: Inside {rects['window Inside']}")
        # The Training panel brought to the front over it (a click on its title bar): opaque, nothing shows through.
        training = rects["window Training"]
        app.click_at(training[0] + (training[2] - training[0]) * 0.6, training[1] + 8, "the Training panel's title bar")
        app.park_mouse()
        app.settle(3)
        shot = app.screenshot()
        check_screenshot(shot, width, height)
        shutil.copy(shot, os.path.join(t.out, f"layout_{size}_training_front.png"))
        check(app.last["notices"] == 0, f"unexpected notice: {app.last.get('last_notice')}")
        check(app.close_window() == 0, "the app's exit code was not 0")
    finally:
        display.close()


def case_layout_1280x720(t):
    layout_case(t, 1280, 720)


def case_layout_1440x900(t):
    layout_case(t, 1440, 900)


def case_layout_2560x1440(t):
    layout_case(t, 2560, 1440)


CASES = {
    "train_default": case_train_default,
    "build_and_save": case_build_and_save,
    "bad_project": case_bad_project,
    "divergence": case_divergence,
    "unsaved_quit": case_unsaved_quit,
    "inside_views": case_inside_views,
    **insight_cases.CASES,
    **run_cases.CASES,
    **exchange_cases.CASES,
    "layout_1280x720": case_layout_1280x720,
    "layout_1440x900": case_layout_1440x900,
    "layout_2560x1440": case_layout_2560x1440,
    **lab_cases.CASES,
    **puzzle_cases.CASES,
    **parallel_cases.CASES,
    **sequence_cases.CASES,
}


class Test:
    def __init__(self, options, display):
        self.binary = os.path.abspath(options.binary)
        self.out = os.path.abspath(options.out)
        self.display = display
        self.train_timeout = options.train_timeout
        self.validate = options.validate == "on" or (options.validate == "auto" and validation_layer_installed())
        self.apps = []

    def start(self, name, args=(), xdg_from=None, validate=False):
        app = App(self.binary, self.display, os.path.join(self.out, name), args, xdg_from, validate)
        self.apps.append(app)
        return app

    def finish(self, failed):
        for app in self.apps:
            if failed:
                print(f"--- {app.dir}: last log line: {summary(app.lines[-1] if app.lines else None)}")
                print(f"--- {app.output_path}:\n{app.output_text()[-4000:]}")
            app.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("case", choices=[*CASES, "all"])
    parser.add_argument("--binary", required=True, help="the tensorscope executable")
    parser.add_argument("--out", help="where logs and screenshots go (default: a new temporary folder)")
    parser.add_argument("--display", choices=["auto", "private", "inherit"], default="auto",
                        help="auto (default): a private Xvfb when Xvfb is installed, else $DISPLAY")
    parser.add_argument("--validate", choices=["auto", "on", "off"], default="auto",
                        help="run bad_project and divergence with the Vulkan validation layer (auto: when installed)")
    parser.add_argument("--train-timeout", type=float, default=180, help="seconds to wait for training results")
    options = parser.parse_args()
    options.out = options.out or tempfile.mkdtemp(prefix="tensorscope-gui-")
    os.makedirs(options.out, exist_ok=True)
    check(os.access(options.binary, os.X_OK), f"{options.binary} is not an executable")
    check(shutil.which("xdotool"), "xdotool is not installed (Debian package xdotool)")

    # A SIGTERM (CTest's timeout) still runs the clean-up below: the apps and Xvfb are ended.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    display = Display(options.display)
    failures = []
    try:
        for name in (CASES if options.case == "all" else [options.case]):
            log(f"=== {name} (artifacts in {options.out})")
            test = Test(options, display)
            started = time.monotonic()
            failed = True
            try:
                CASES[name](test)
                failed = False
                log(f"=== {name}: PASSED in {time.monotonic() - started:.0f} s")
            except Failure as e:
                log(f"=== {name}: FAILED: {e}")
                failures.append(name)
            except Exception:
                traceback.print_exc()
                log(f"=== {name}: ERROR")
                failures.append(name)
            finally:
                test.finish(failed)
    finally:
        display.close()
    return 1 if failures else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Failure as e:
        print(f"gui_test.py: {e}", file=sys.stderr)
        sys.exit(2)
