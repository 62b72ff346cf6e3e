"""GUI cases for exchanging the run's network with other tools: Export... writes an
ONNX file and a PyTorch folder of the trained network (ui/export_run.h); PyTorch
check... replays the model's first steps in PyTorch and plots both curves
(ui/parity_window.h); Open... imports an ONNX model (ui/project.h); Metrics CSV...
writes the run's metrics (ui/metrics_csv.h) and a chart's Save as PNG... the
chart as shown (ui/widgets/chart_png.h)."""

import json
import os
import subprocess
import time

from gui_support import check, image_statistics, log, read_png, summary
from run_cases import save_screenshot, train_spiral_and_stop


def wait_for_path(path, what, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path) and os.path.getsize(path) > 0:
            return
        time.sleep(0.25)
    check(False, f"{what}: {path} was not written within {timeout} s")


def start_trained_spiral(t, case, subfolder):
    """The app of `case` after two epochs of the spiral, and a new folder for what it writes."""
    app = t.start(case)
    app.find_window()
    line = train_spiral_and_stop(app, 2)
    log(f"trained: {summary(line)}")
    folder = os.path.join(t.out, case, subfolder)
    os.makedirs(folder, exist_ok=True)
    return app, folder


def export_as(app, radio, path):
    """Export... -> pick the format -> type the path -> Export."""
    app.click("export")
    app.wait_for_rect("export_path")
    app.click(radio)
    type_into(app, "export_path", path)
    app.click("export_ok")


def case_export(t):
    """Train the spiral a little, Export... as ONNX (checked by python3-onnx's checker
    when installed) and as a PyTorch folder (its model.py loads the weights when
    python3-torch is installed); no error notice either time."""
    app, folder = start_trained_spiral(t, "export", "exported")

    onnx_path = os.path.join(folder, "spiral.onnx")
    export_as(app, "export_onnx", onnx_path)
    wait_for_path(onnx_path, "the ONNX export")
    check(app.last["notices"] == 0 or "Exported" in str(app.last.get("last_notice")),
          f"a notice after the ONNX export: {app.last.get('last_notice')}")
    checker = subprocess.run(["/usr/bin/python3", "-c", "import onnx, sys; onnx.checker.check_model(onnx.load(sys.argv[1]), "
                              "full_check=True); print('onnx checker: ok')", onnx_path],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if "No module named 'onnx'" in checker.stdout:
        log("python3-onnx is not installed: the ONNX file is not checked further")
    else:
        check(checker.returncode == 0, f"onnx's checker refused {onnx_path}:\n{checker.stdout}")
        log(checker.stdout.strip())

    torch_folder = os.path.join(folder, "spiral-pytorch")
    export_as(app, "export_pytorch", torch_folder)
    wait_for_path(os.path.join(torch_folder, "README.md"), "the PyTorch export")
    for name in ("model.py", "weights.bin", "manifest.json", "config.json", "train.py", "data/train_x.npy"):
        check(os.path.exists(os.path.join(torch_folder, name)), f"the PyTorch export lacks {name}")
    with open(os.path.join(torch_folder, "manifest.json")) as f:
        manifest = json.load(f)
    check(len(manifest["tensors"]) == 6, f"expected the spiral MLP's 6 tensors, found {len(manifest['tensors'])}")
    loads = subprocess.run(["/usr/bin/python3", "-c", "import sys; sys.path.insert(0, sys.argv[1]); import model; "
                            "model.load_weights(model.Model(), sys.argv[1]); print('model.py loads the weights')",
                            torch_folder], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if "No module named 'torch'" in loads.stdout:
        log("python3-torch is not installed: model.py is not loaded")
    else:
        check(loads.returncode == 0, f"model.py failed:\n{loads.stdout}")
        log(loads.stdout.strip())
    line = app.wait_for(lambda l: True, "a log line", 10)
    check(line["notices"] == 0 or "Exported" in str(line.get("last_notice")),
          f"a notice after the exports: {line.get('last_notice')}")
    check(app.close_window() == 0, "the app's exit code was not 0")


def case_parity(t):
    """PyTorch check...: 30 steps of the spiral MLP replayed in PyTorch agree to fp32
    rounding (without python3-torch the window says how to install it)."""
    app = t.start("parity")
    app.find_window()
    app.wait_for_rect("parity")
    app.click("parity")
    app.wait_for_rect("parity_run")
    app.click("parity_run")
    line = app.wait_for(lambda l: l["parity"]["verdict"] or l["parity"]["error"], "the replay's verdict", 300)
    parity = line["parity"]
    log(f"parity: {parity}")
    torch = subprocess.run(["/usr/bin/python3", "-c", "import torch"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL).returncode == 0
    if torch:
        check("agree" in parity["verdict"] and parity["steps"] == 30 and not parity["error"],
              f"expected 30 steps that agree: {parity}")
    else:
        check("python3-torch" in parity["error"], f"without torch the window should say what to install: {parity}")
    save_screenshot(t, app, "parity.png")
    check(app.close_window() == 0, "the app's exit code was not 0")


def type_into(app, field, text):
    app.wait_for_rect(field)
    app.click(field)
    app.key("ctrl+a")
    app.type(text)


def open_path(app, path):
    """Open... -> type the path -> Open (the window's own dialog, as a person uses it)."""
    app.click("open")
    type_into(app, "path_input", path)
    app.click("path_ok")


def case_open_onnx(t):
    """Open... of an ONNX file with an unsupported node (Selu) says which, by op and node, in
    the dialog and keeps the project as it was; Open... of a good one (2 inputs, 4 classes,
    written by `tensorscope export`) makes it the project's model with its weights as the run,
    on data that fits it (the spiral with 4 arms), and Continue trains it further."""
    folder = os.path.join(t.out, "open_onnx", "files")
    os.makedirs(folder, exist_ok=True)
    model = {"format": "tensorscope-model", "version": 1, "name": "four-arms", "layers": [
        {"type": "input", "shape": [2]}, {"type": "dense", "units": 24}, {"type": "relu"},
        {"type": "dense", "units": 4}, {"type": "softmax_cross_entropy"}]}
    model_path = os.path.join(folder, "four-arms.json")
    with open(model_path, "w") as f:
        json.dump(model, f)
    good = os.path.join(folder, "four-arms.onnx")
    exported = subprocess.run([t.binary, "export", model_path, "--format", "onnx", "-o", good],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    check(exported.returncode == 0, f"tensorscope export failed:\n{exported.stdout}")
    with open(good, "rb") as f:
        bytes_ = f.read()
    check(b"Relu" in bytes_, "the exported ONNX has no Relu node to replace")
    bad = os.path.join(folder, "selu.onnx")
    with open(bad, "wb") as f:
        f.write(bytes_.replace(b"Relu", b"Selu"))  # same length: still valid protobuf, an op the importer refuses

    app = t.start("open_onnx")
    app.find_window()
    before = app.wait_for(lambda l: "open" in l.get("rects", {}) and l["layers"] > 0, "the Model panel", 60)
    open_path(app, bad)
    line = app.wait_for(lambda l: "Selu" in l.get("texts", {}).get("path_error", ""), "the refusal in the dialog", 30)
    message = line["texts"]["path_error"]
    log(f"refused: {message!r}")
    check("selu.onnx" in message and "not supported (nothing was imported)" in message,
          f"the refusal should name the file and say nothing was imported: {message!r}")
    check(line["layers"] == before["layers"] and line["title"] == before["title"] and line["notices"] == before["notices"],
          f"a refused import changed the project: {summary(line)}")
    app.keeps_running(2)
    app.key("Escape")

    open_path(app, good)
    # The note comes when the project is replaced (an info notice lasts 6 s); the run once the data is loaded.
    note = app.wait_for(lambda l: "Imported the ONNX model" in str(l.get("last_notice")), "the note on the import", 60)
    log(f"note: {note['last_notice']!r}")
    line = app.wait_for(lambda l: l["run"] and l["state"] in ("ready", "finished", "paused") and
                        "four-arms" in l["title"], "the imported network as the run", 120)
    log(f"imported: {summary(line)}")
    check(line["layers"] == 5 and line["model_error"] == "" and line["project_path"] == "",
          f"the import should be a 5-layer model that Save As names: {summary(line)}")
    check(line["data"]["kind"] == "spiral" and line["data"]["classes"] == 4 and line["loaded"]["classes"] == 4,
          f"the data chosen should be the spiral with 4 arms: {line['data']} {line.get('loaded')}")
    check("a built-in set whose samples (2) and 4 classes fit it" in note["last_notice"],
          f"the note should say which data was chosen and why: {note['last_notice']!r}")
    check(line["why_continue_disabled"] == "", f"Continue cannot train the import: {line['why_continue_disabled']}")
    app.click("continue")
    line = app.wait_for(lambda l: l.get("global_step", 0) >= 20, "the import training further", 120)
    app.click("stop")
    app.wait_for(lambda l: l["state"] == "finished", "the run to stop", 60)
    save_screenshot(t, app, "open_onnx.png")
    check(app.close_window() == 0, "the app's exit code was not 0")


def save_through_dialog(app, button_rect, prefix, path):
    """Clicks `button_rect` (a button or a menu item), types `path` into the dialog, Save."""
    app.wait_for_rect(button_rect)
    app.click(button_rect)
    type_into(app, f"{prefix}_path", path)
    app.click(f"{prefix}_ok")


def right_click(app, rect_name):
    x0, y0, x1, y1 = app.rect(rect_name)
    log(f"right-click {rect_name}")
    app.move_to((x0 + x1) / 2, (y0 + y1) / 2)
    app.settle(2)
    app.xdotool("click", "3")
    app.settle(3)


def check_chart_png(app, chart, path):
    """Saves the chart named `chart` from its context menu and checks the PNG: the chart's size, not blank."""
    right_click(app, f"chart {chart}")
    save_through_dialog(app, f"chart_save_png {chart}", "chart_png", path)
    wait_for_path(path, f"the chart '{chart}' as PNG")
    line = app.wait_for(lambda l: "Saved the chart" in str(l.get("last_notice")) and path in str(l.get("last_notice")),
                        "the note that the chart was saved", 30)
    x0, y0, x1, y1 = app.rect(f"chart {chart}")
    width, height, channels, rows = read_png(path)
    colours, deviation, mean = image_statistics(rows, channels)
    log(f"{os.path.basename(path)}: {width}x{height} (the chart: {x1 - x0:.0f}x{y1 - y0:.0f}), {colours} colours, "
        f"luminance deviation {deviation:.1f}")
    check(abs(width - (x1 - x0)) <= 1 and abs(height - (y1 - y0)) <= 1,
          f"{path}: {width}x{height}, but the chart is {x1 - x0:.0f}x{y1 - y0:.0f}")
    check(colours >= 8 and deviation >= 5, f"{path}: {colours} colours, deviation {deviation:.1f}: it looks blank")
    return line


def case_window_files(t):
    """After two epochs of the spiral: Metrics CSV... writes every step and evaluation (as
    train --metrics-csv; an unwritable folder is refused in the dialog), and Save as PNG...
    from the context menus of the loss curve, the decision boundary and the confusion matrix
    writes each chart as the window shows it."""
    app, folder = start_trained_spiral(t, "window_files", "saved")

    save_through_dialog(app, "metrics_csv", "metrics_csv", "/proc/no-such-folder/run.csv")
    line = app.wait_for(lambda l: l.get("texts", {}).get("metrics_csv_error"), "the refusal in the dialog", 30)
    log(f"refused: {line['texts']['metrics_csv_error']!r}")
    check("/proc/no-such-folder" in line["texts"]["metrics_csv_error"], "the refusal should name the folder")
    app.key("Escape")
    csv_path = os.path.join(folder, "spiral-metrics.csv")
    save_through_dialog(app, "metrics_csv", "metrics_csv", csv_path)
    wait_for_path(csv_path, "the metrics CSV")
    line = app.wait_for(lambda l: "rows of metrics" in str(l.get("last_notice")), "the note that the CSV was written", 30)
    with open(csv_path) as f:
        rows = [row.rstrip("\n").split(",") for row in f]
    check(rows[0] == ["kind", "step", "epoch", "loss", "accuracy", "learning_rate", "samples_per_second", "gpu_ms",
                      "samples"], f"header: {rows[0]}")
    train = [r for r in rows[1:] if r[0] == "train"]
    validation = [r for r in rows[1:] if r[0] == "validation"]
    check(len(rows) - 1 == line["metrics_rows"] and len(train) == line["global_step"] + 1,
          f"{len(train)} train rows for {line['global_step'] + 1} steps ({len(rows) - 1} rows, log {line['metrics_rows']})")
    check([int(r[1]) for r in train] == list(range(1, len(train) + 1)), "the train rows skip or repeat a step")
    check(len(validation) >= 2, f"expected a validation row per epoch, found {len(validation)}")
    check(all(float(r[3]) > 0 and r[5] for r in train), "a train row without its loss or learning rate")
    log(f"metrics: {len(train)} train rows, {len(validation)} validation rows; first {train[0]}")

    for chart, name in (("loss plot", "loss.png"), ("boundary", "boundary.png"), ("confusion matrix", "confusion.png")):
        check_chart_png(app, chart, os.path.join(folder, name))
    save_screenshot(t, app, "window_files.png")
    check(app.close_window() == 0, "the app's exit code was not 0")


CASES = {"export": case_export, "parity": case_parity, "open_onnx": case_open_onnx, "window_files": case_window_files}
