"""GUI cases for exchanging the run's network with other tools: Export... writes an
ONNX file and a PyTorch folder of the trained network (ui/export_run.h); PyTorch
check... replays the model's first steps in PyTorch and plots both curves
(ui/parity_window.h)."""

import json
import os
import subprocess
import time

from gui_support import check, log, summary
from run_cases import save_screenshot, train_spiral_and_stop


def wait_for_path(path, what, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path) and os.path.getsize(path) > 0:
            return
        time.sleep(0.25)
    check(False, f"{what}: {path} was not written within {timeout} s")


def export_as(app, radio, path):
    """Export... -> pick the format -> type the path -> Export."""
    app.click("export")
    app.wait_for_rect("export_path")
    app.click(radio)
    app.click("export_path")
    app.key("ctrl+a")
    app.type(path)
    app.click("export_ok")


def case_export(t):
    """Train the spiral a little, Export... as ONNX (checked by python3-onnx's checker
    when installed) and as a PyTorch folder (its model.py loads the weights when
    python3-torch is installed); no error notice either time."""
    app = t.start("export")
    app.find_window()
    line = train_spiral_and_stop(app, 2)
    log(f"trained: {summary(line)}")
    folder = os.path.join(t.out, "export", "exported")
    os.makedirs(folder, exist_ok=True)

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


CASES = {"export": case_export, "parity": case_parity}
