"""GUI cases for the run the window shows (ui/run.h): what a preset, a data
change, a model that does not fit the data, a relaunch and Continue do to it.
Each case checks the outcome through the app's test log and saves a
screenshot into --out for a person to look at."""

import json
import os
import shutil
import statistics
import time

from gui_support import App, check, log, check_screenshot, long_spiral_project, summary


def pick(app, combo, item):
    """Opens the combo `combo` and clicks its entry `item` (both named rectangles)."""
    app.click(combo)
    app.wait_for_rect(item)
    app.click(item)


def save_screenshot(t, app, name):
    app.park_mouse()
    path = app.screenshot()
    check_screenshot(path, *app.window_size())
    shutil.copy(path, os.path.join(t.out, name))
    log(f"screenshot: {os.path.join(t.out, name)}")


def train_spiral_and_stop(app, epochs):
    """Trains the default spiral project for `epochs` epochs, then Stop; returns the log line."""
    app.wait_for_rect("train")
    app.click_train()
    app.wait_for(lambda l: l.get("epochs_done", 0) >= epochs, f"{epochs} epochs of the spiral", 180)
    app.click("stop")
    return app.wait_for(lambda l: l["state"] == "finished", "the run to stop", 60)


def case_preset_data(t):
    """A preset carries its data: shapes-cnn loads the shapes (8 classes), then
    mnist-mlp loads MNIST (10 classes) and trains on it, not on the shapes."""
    # Where the test command's fetch-mnist.sh puts MNIST (the app's own XDG dirs are fresh).
    data_home = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    app = App(t.binary, t.display, os.path.join(t.out, "preset_data"),
              env={"TENSORSCOPE_DATA_DIR": os.path.join(data_home, "tensorscope", "data")})
    t.apps.append(app)
    app.find_window()
    app.wait_for_rect("presets")
    pick(app, "presets", "preset_shapes-cnn")
    line = app.wait_for(lambda l: l.get("loaded", {}).get("name", "").startswith("shapes"), "the shapes data", 120)
    log(f"shapes-cnn: data {line['data']}, loaded {line['loaded']}")
    check(line["data"]["kind"] == "shapes" and line["loaded"]["classes"] == 8 and line["data"]["classes"] == 8,
          f"the shapes-cnn preset should load 8 shape classes: {line['data']} {line['loaded']}")
    check(line["why_train_disabled"] == "", f"shapes-cnn cannot train: {line['why_train_disabled']}")
    pick(app, "presets", "preset_mnist-mlp")
    line = app.wait_for(lambda l: l["data"]["kind"] == "mnist" and (l.get("loaded", {}).get("name", "").startswith("mnist")
                                                                   or l["data_error"]), "the MNIST data", 120)
    check(line["data_error"] == "", f"MNIST did not load (the test command installs it): {line['data_error']}")
    check(line["loaded"]["classes"] == 10 and line["loaded"]["count"] >= 50000,
          f"mnist-mlp should load MNIST's 60000 digits of 10 classes: {line['loaded']}")
    app.click_train()
    line = app.wait_for(lambda l: l.get("global_step", 0) >= 5, "a few MNIST steps", 120)
    check(line.get("run_data", {}).get("name", "").startswith("mnist"),
          f"the run judges itself on {line.get('run_data')}, not on MNIST")
    app.click("stop")
    app.wait_for(lambda l: l["state"] == "finished", "the run to stop", 60)
    save_screenshot(t, app, "preset_data.png")
    check(app.close_window() == 0, "the app's exit code was not 0")


def case_data_change(t):
    """After a spiral run, picking the shapes data ends the run: nothing of the
    old run is drawn, the shapes' own defaults apply, and the input layer that
    does not fit the images is marked on its row."""
    app = t.start("data_change")
    app.find_window()
    before = train_spiral_and_stop(app, 2)
    log(f"spiral run: {summary(before)}")
    check(before.get("confusion_classes") == 3 and before["train_points"] > 0,
          f"the spiral run should show its 3-class results: {summary(before)}")
    pick(app, "dataset", "data_shapes")
    line = app.wait_for(lambda l: l.get("loaded", {}).get("name", "").startswith("shapes"), "the shapes data", 120)
    app.settle(5)
    line = app.last
    log(f"after the data change: data {line['data']}, run {line['run']}, state {line['state']}")
    check(line["data"]["samples"] == 10000 and line["data"]["classes"] == 8,
          f"the shapes data should start from its own defaults (10000 images, 8 classes): {line['data']}")
    check(line["state"] == "empty" and not line["run"] and line["run_id"] > before["run_id"],
          f"the spiral run should have ended: state {line['state']}, run {line['run']}")
    check(line["train_points"] == 0 and "confusion_classes" not in line and "test_examples" not in line
          and "epochs_done" not in line, f"the old run's results are still shown: {summary(line)}")
    check("takes inputs of shape 2" in line["row_errors"].get("0", ""),
          f"the input layer should say it does not fit the images: {line['row_errors']}")
    check(line["why_train_disabled"] != "", "Train should be disabled for a model that does not fit the data")
    save_screenshot(t, app, "data_change.png")
    app.stop()  # the data choice is an unsaved change: no need to answer the prompt


def case_output_mismatch(t):
    """A last dense layer of 16 units on the spiral's 3 classes is refused on its row, and Train does nothing."""
    app = t.start("output_mismatch")
    app.find_window()
    app.wait_for_rect("row_5")
    # The layer table scrolls: bring the output layer's row (5) into view, then
    # wait for a frame where the last dense row's units field lines up with it.
    x0, y0, x1, y1 = app.rect("row_0")
    row5_top = app.rect("row_5")[1]
    app.move_to((x0 + x1) / 2, (y0 + y1) / 2)
    for _ in range(6):
        app.xdotool("click", "5")
    app.settle(5)
    app.wait_for(lambda l: abs(l["rects"]["dense_units"][1] - l["rects"]["row_5"][1]) <= 6
                 and l["rects"]["row_5"][1] <= row5_top - 60, "the output row scrolled into view", 30)
    app.click("dense_units")  # the last dense row's units: the output layer
    app.key("ctrl+a")
    app.type("16")
    app.key("Return")
    line = app.wait_for(lambda l: any("has 16 outputs" in e for e in l["row_errors"].values()),
                        "the output layer's error on its row", 30)
    errors = line["row_errors"]
    log(f"row errors: {errors}")
    check(errors.get("5", "").startswith("dense_3 has 16 outputs, the data 'spiral:train' has 3 classes"),
          f"expected the error on row 5 (dense_3): {errors}")
    check("has 16 outputs" in line["why_train_disabled"], f"Train is not disabled: {line['why_train_disabled']!r}")
    app.click("train")
    app.settle(10)
    check(app.last["state"] == "empty", f"Train started a run of a model that does not fit: {summary(app.last)}")
    save_screenshot(t, app, "output_mismatch.png")
    app.stop()


def case_relaunch_continue(t):
    """A stopped run survives quitting: relaunched, the network, its curves and
    results are back (state stopped), and Continue trains on from where it was."""
    # The preset's 60 epochs can end before Stop is clicked on a quiet host (about 4 s), and a
    # finished run has nothing to continue: the project trains for 2000.
    project = long_spiral_project(t.out, epochs=2000)
    app = t.start("relaunch_continue", ["--project", project])
    app.find_window()
    before = train_spiral_and_stop(app, 2)
    log(f"before quitting: {summary(before)}")
    check(app.close_window() == 0, "the app's exit code was not 0")
    data = os.path.join(app.xdg["XDG_DATA_HOME"], "tensorscope")
    for name in ("last.ckpt", "last-run.json"):
        check(os.path.getsize(os.path.join(data, name)) > 0, f"{name} was not written on quit")

    again = t.start("relaunch_continue_again", ["--project", project], xdg_from=app)
    again.find_window()
    line = again.wait_for(lambda l: l["state"] == "finished" and l["train_points"] > 0, "the restored run", 60)
    log(f"relaunched: {summary(line)}")
    check(line["run"] and line["train_points"] == before["train_points"]
          and line.get("global_step") == before.get("global_step")
          and line.get("epochs_done") == before.get("epochs_done")
          and line.get("confusion_classes") == 3 and len(line.get("test_examples", [])) == 8,
          f"the restored run differs from the one that was quit: before {summary(before)}, after {summary(line)}")
    check(line["why_continue_disabled"] == "", f"Continue is disabled: {line['why_continue_disabled']}")
    # The restored network's first snapshot (decision boundary, neuron maps) compiles its pipelines
    # first: about 2 s on lavapipe with a cold shader cache.
    again.wait_for(lambda l: "snapshot_ms" in l, "the restored network's decision boundary", 60)
    again.settle(3)
    save_screenshot(t, again, "relaunch_restored.png")
    again.wait_for_rect("continue")
    again.click("continue")
    line = again.wait_for(lambda l: l.get("global_step", 0) > before["global_step"] + 20, "training to go on", 60)
    check(line["first_loss"] == before["first_loss"],
          "Continue restarted the curves instead of extending them")
    check(line["train_points"] > before["train_points"], "the curves did not grow")
    again.click("stop")
    again.wait_for(lambda l: l["state"] == "finished", "the run to stop", 60)
    check(again.close_window() == 0, "the app's exit code was not 0")


def frame_times_since(app, since):
    """The frame times (ms) the app logged after its clock read `since` (s). A line holds the
    frames drawn since the line before, so the first line after `since` is left out."""
    app.poll()
    lines = [line for line in app.lines if line["time"] > since][1:]
    return [ms for line in lines for ms in line.get("frame_ms", [])]


def frames_over(app, seconds, what):
    """Parks the mouse (input raises the frame rate for half a second), waits a second, then
    returns the log line at the start and the frame times (ms) drawn over the next `seconds`."""
    app.park_mouse()
    time.sleep(1.0)
    first = app.last
    time.sleep(seconds)
    frames = frame_times_since(app, first["time"])
    log(f"{what}: {len(frames)} frames, median {statistics.median(frames) if frames else 0:.0f} ms")
    return first, frames


def case_train_fast(t):
    """Frame pacing (ui/frame_pacer.h): an idle window draws only a heartbeat;
    training draws at a capped rate; "train fast" drops it to a few frames a
    second while the curves keep coming; off again, the rate comes back."""
    path = long_spiral_project(t.out)
    app = t.start("train_fast", ["--project", path])
    app.find_window()
    app.wait_for_rect("train_fast")
    _, idle = frames_over(app, 3.5, "idle")
    check(idle and statistics.median(idle) >= 300, f"an idle window should draw a heartbeat only; frames {idle}")

    app.click_train()
    app.wait_for(lambda l: l["state"] == "running" and "global_step" in l, "training to start", 120)
    app.click("train_fast")
    app.wait_for(lambda l: l.get("train_fast"), '"train fast" to be on', 30)
    first, fast = frames_over(app, 4.0, "train fast")
    step, points = first.get("global_step", 0), first["train_points"]
    line = app.last
    log(f"train fast: steps {step} -> {line.get('global_step')}")
    check(fast and statistics.median(fast) >= 200, f'"train fast" should draw a few frames a second; frames {fast}')
    check(line["state"] == "running" and line.get("global_step", 0) > step + 100 and line["train_points"] > points,
          f'the curves should keep coming with "train fast": {summary(line)}')
    save_screenshot(t, app, "train_fast.png")

    app.click("train_fast")
    app.wait_for(lambda l: not l.get("train_fast"), '"train fast" to be off', 30)
    _, live = frames_over(app, 3.0, "live")
    # A frame takes tens of milliseconds to draw on a loaded 2-core machine, so
    # the check is relative: live training draws more often than "train fast".
    check(live and statistics.median(live) < 0.8 * statistics.median(fast),
          f"training live should draw more often than with train fast; frames {live}, with train fast {fast}")
    app.click("stop")
    app.wait_for(lambda l: l["state"] == "finished", "the run to stop", 60)
    check(app.close_window() == 0, "the app's exit code was not 0")


CASES = {
    "train_fast": case_train_fast,
    "preset_data": case_preset_data,
    "data_change": case_data_change,
    "output_mismatch": case_output_mismatch,
    "relaunch_continue": case_relaunch_continue,
}
