"""GUI cases for parallelism (ui/parallel_window.h): Parallelism... in the Training
panel measures the current model with 1..4 data-parallel replicas in a child process
and draws the scaling chart and one step's Gantt chart per replica; its Pipeline
parallel tab runs the model in 3 stages with GPipe and 1F1B and draws both; its
Tensor parallel tab splits the first dense layer over 2 devices and checks the output."""

import time

from exchange_cases import type_into
from gui_support import check, log, summary
from run_cases import save_screenshot


def case_parallel(t):
    """Parallelism... -> Measure: the spiral MLP at 1, 2, 3 and 4 replicas, labelled
    simulated on one device (lavapipe is one device), with a Gantt chart of a
    4-replica step that has each replica's phases and all-reduces."""
    app = t.start("parallel")
    app.find_window()
    app.wait_for_rect("parallel")
    app.click("parallel")
    app.wait_for_rect("parallel_run")
    app.click("parallel_run")
    line = app.wait_for(lambda l: not l["parallel"]["running"] and (l["parallel"]["points"] or l["parallel"]["error"]),
                        "the scaling measurement", 300)
    parallel = line["parallel"]
    log(f"parallel: {parallel}")
    check(not parallel["error"], f"the measurement failed: {parallel['error']}")
    check(parallel["points"] == 4, f"expected 1..4 replicas measured: {parallel}")
    check(parallel["simulated"], "lavapipe is one device: the replicas must be labelled simulated")
    # 4 replicas: forward, >= 1 backward segment and the update each, and an all-reduce per bucket each.
    line = app.wait_for(lambda l: l["parallel"]["gantt_bars"] >= 4 * 4, "the Gantt chart", 30)
    app.wait_for_rect("parallel_gantt")
    save_screenshot(t, app, "parallel.png")

    # Pipeline parallel: the spiral MLP's 3 dense layers on 3 stages, 8 micro-batches, GPipe and 1F1B.
    app.wait_for_rect("parallel_tab_pipeline")
    app.click("parallel_tab_pipeline")
    app.wait_for_rect("parallel_pipeline_run")
    app.click("parallel_pipeline_run")
    line = app.wait_for(lambda l: l["parallel"]["pipeline_bars"] or l["parallel"]["pipeline_error"],
                        "the pipeline runs", 180)
    parallel = line["parallel"]
    log(f"pipeline: {parallel}")
    check(not parallel["pipeline_error"], f"the pipeline failed: {parallel['pipeline_error']}")
    check(parallel["pipeline_equal"], "the pipeline's losses must equal the unsplit model's")
    check(parallel["pipeline_bars"] == 2 * 2 * 3 * 8, f"expected F and B of 8 micro-batches on 3 stages, twice: {parallel}")
    save_screenshot(t, app, "pipeline_parallel.png")

    # Tensor parallel: the spiral MLP's first dense layer split over 2 devices equals the unsplit one.
    app.wait_for_rect("parallel_tab_tensor")
    app.click("parallel_tab_tensor")
    app.wait_for_rect("parallel_tensor_run")
    app.click("parallel_tensor_run")
    line = app.wait_for(lambda l: l["parallel"]["tensor_bars"] or l["parallel"]["tensor_error"], "the split layer", 120)
    parallel = line["parallel"]
    log(f"tensor parallel: {parallel}")
    check(not parallel["tensor_error"], f"the split layer failed: {parallel['tensor_error']}")
    check(parallel["tensor_equal"], "the split layer's output must equal the unsplit one's")
    check(parallel["tensor_bars"] == 4, f"expected each device's compute and all-gather: {parallel}")
    save_screenshot(t, app, "tensor_parallel.png")
    check(app.close_window() == 0, "the app's exit code was not 0")


def case_replicas_train(t):
    """replicas 2 in the Training panel: the spiral trains with two data-parallel
    replicas (the run's notice says simulated on one device) and learns as one
    device does; GPU insight's profile says it is for one device."""
    app = t.start("replicas_train")
    app.find_window()
    type_into(app, "replicas", "2")
    app.key("Return")
    app.wait_for(lambda l: l["texts"].get("replicas_note", "").startswith("simulated on one device"),
                 "the replicas field to take 2", 30)
    app.click_train()
    line = app.wait_for(lambda l: l.get("epochs_done", 0) >= 20 or l["state"] == "failed", "20 epochs with 2 replicas", 240)
    log(f"replicas: {summary(line)}")
    check(line["state"] != "failed", f"the run failed: {line.get('last_notice')}")
    check(line.get("validation_accuracy", 0) > 0.6,
          f"two replicas should learn the spiral as one device does: {line.get('validation_accuracy')}")
    check(line["notices"] == 0, f"a notice while training with replicas: {line.get('last_notice')}")
    save_screenshot(t, app, "replicas_train.png")
    # The project changed (replicas 2): closing asks, and Discard quits.
    app.close_window(expect_exit=False)
    app.wait_for_rect("discard_prompt_discard")
    app.click("discard_prompt_discard")
    check(app.process.wait(60) == 0, "the app's exit code was not 0")


def case_mixed_precision(t):
    """precision fp16 in the Training panel: the spiral trains in mixed precision, the
    loss-scale plot appears under the curves, and GPU insight's roofline shows the fp16
    kernels (half the bytes: further right). Back to fp32 after Stop, a new run has no
    loss scale."""
    from insight_cases import open_insight_tab
    app = t.start("mixed_precision")
    app.find_window()
    app.wait_for_rect("precision_fp16")
    app.click("precision_fp16")
    app.wait_for(lambda l: l["texts"].get("precision_note", "").startswith("loss scale from"),
                 "the precision to become fp16", 30)
    app.click_train()
    line = app.wait_for(lambda l: l.get("epochs_done", 0) >= 20 or l["state"] == "failed", "20 epochs in fp16", 240)
    log(f"fp16: {summary(line)}")
    check(line["state"] != "failed", f"the run failed: {line.get('last_notice')}")
    check(line.get("validation_accuracy", 0) > 0.8, f"fp16 should learn the spiral: {line.get('validation_accuracy')}")
    check(line["notices"] == 0, f"a notice while training in fp16: {line.get('last_notice')}")
    note = line["texts"].get("loss_scale_note", "")
    check(note.startswith("loss scale "), f"the loss-scale plot's note is missing: {note!r}")
    save_screenshot(t, app, "fp16_train.png")
    app.click("open_insight")
    app.wait_for(lambda l: l.get("insight_open"), "the GPU insight window to open", 30)
    open_insight_tab(app, "Roofline")
    time.sleep(2)
    save_screenshot(t, app, "fp16_roofline.png")
    app.click("stop")
    app.wait_for(lambda l: l["state"] == "finished", "the run to stop", 60)
    # The project changed (precision fp16): closing asks, and Discard quits.
    app.close_window(expect_exit=False)
    app.wait_for_rect("discard_prompt_discard")
    app.click("discard_prompt_discard")
    check(app.process.wait(60) == 0, "the app's exit code was not 0")


def case_mixed_precision_relaunch(t):
    """A project that trains in fp16 (its file says so) opens with fp16 chosen; a stopped fp16
    run survives quitting: relaunched, its loss-scale plot and skipped-step count are back."""
    import json
    import os
    from gui_support import long_spiral_project
    from run_cases import train_spiral_and_stop
    project = long_spiral_project(t.out, epochs=2000)
    with open(project) as f:
        model = json.load(f)
    model["training"]["precision"] = "fp16"
    with open(project, "w") as f:
        json.dump(model, f)
    app = t.start("mixed_precision_relaunch", ["--project", project])
    app.find_window()
    app.wait_for(lambda l: l["texts"].get("precision_note", "").startswith("loss scale from"),
                 "the project's precision fp16 in the Training panel", 30)
    before = train_spiral_and_stop(app, 2)
    note = before["texts"].get("loss_scale_note", "")
    log(f"before quitting: {summary(before)}; {note!r}")
    check(note.startswith("loss scale "), f"no loss-scale note after an fp16 run: {note!r}")
    check(app.close_window() == 0, "the app's exit code was not 0")

    again = t.start("mixed_precision_relaunch_again", ["--project", project], xdg_from=app)
    again.find_window()
    line = again.wait_for(lambda l: l["state"] == "finished" and l["train_points"] > 0, "the restored run", 60)
    check(line["texts"].get("loss_scale_note", "") == note,
          f"the loss-scale plot was not restored: {line['texts'].get('loss_scale_note')!r}, before {note!r}")
    check(line["texts"].get("precision_note", "").startswith("loss scale from"), "the precision is not fp16 after relaunch")
    again.settle(2)
    save_screenshot(t, again, "fp16_relaunched.png")
    check(again.close_window() == 0, "the app's exit code was not 0")


def case_mixed_precision_cnn(t):
    """fp16 on a CNN: Presets > shapes-cnn, precision fp16 is accepted (convolution and
    pooling have fp16 kernels), the run trains with its loss falling and no notice, the
    loss-scale plot is drawn, and GPU insight's roofline has a dot for every kernel row
    (fp16_cnn_train.png, fp16_cnn_roofline.png). Presets > spiral-mlp then starts clean,
    in the preset's fp32."""
    from insight_cases import open_insight_tab
    from run_cases import pick
    app = t.start("mixed_precision_cnn")
    app.find_window()
    app.wait_for_rect("presets")
    pick(app, "presets", "preset_shapes-cnn")
    line = app.wait_for(lambda l: l.get("loaded", {}).get("name", "").startswith("shapes") or l["data_error"],
                        "the shapes data", 120)
    check(line["data_error"] == "", f"the shapes data did not load: {line['data_error']}")
    app.click("precision_fp16")
    line = app.wait_for(lambda l: l["texts"].get("precision_note", "") != "", "the precision note", 30)
    note = line["texts"]["precision_note"]
    check(note.startswith("loss scale from"), f"fp16 should be accepted for a CNN: {note!r}")
    check(line["why_train_disabled"] == "", f"Train is disabled: {line['why_train_disabled']}")
    app.click_train()
    line = app.wait_for(lambda l: l.get("global_step", 0) >= 60 or l["state"] in ("failed", "finished"),
                        "60 steps of shapes-cnn in fp16", max(t.train_timeout, 300))
    log(f"fp16 cnn: {summary(line)}")
    check(line["state"] == "running", f"the fp16 CNN run ended in state {line['state']!r}: {line.get('last_notice')}")
    check(line["notices"] == 0, f"a notice while training a CNN in fp16: {line.get('last_notice')}")
    check(line["loss"] < line["first_loss"] - 0.3,
          f"the loss {line['loss']:.3f} has not fallen from {line['first_loss']:.3f} in 60 steps")
    check(line["texts"].get("loss_scale_note", "").startswith("loss scale "), "the loss-scale plot's note is missing")
    save_screenshot(t, app, "fp16_cnn_train.png")
    app.click("open_insight")
    app.wait_for(lambda l: l.get("insight_open"), "the GPU insight window to open", 30)
    open_insight_tab(app, "Roofline")
    line = app.wait_for(lambda l: l["insight_drawn"]["dots"] > 0, "the roofline's dots", 60)
    log(f"roofline: {line['insight_drawn']['dots']} dots")
    time.sleep(2)
    save_screenshot(t, app, "fp16_cnn_roofline.png")
    app.click("stop")
    app.wait_for(lambda l: l["state"] == "finished", "the run to stop", 60)
    # The project changed (precision fp16): loading a preset asks first.
    pick(app, "presets", "preset_spiral-mlp")
    app.wait_for_rect("discard_prompt_discard")
    app.click("discard_prompt_discard")
    line = app.wait_for(lambda l: l.get("loaded", {}).get("name", "").startswith("spiral"), "the spiral data", 60)
    # A preset is a new project with its own training settings: fp32 again.
    check(line["texts"].get("precision_note", "") == "",
          f"spiral-mlp's preset trains in fp32: {line['texts'].get('precision_note')!r}")
    check(line["state"] == "empty" and line["train_points"] == 0, f"the CNN run is still shown: {summary(line)}")
    check(app.close_window() == 0, "the app's exit code was not 0")


CASES = {"parallel": case_parallel, "replicas_train": case_replicas_train, "mixed_precision": case_mixed_precision,
         "mixed_precision_relaunch": case_mixed_precision_relaunch, "mixed_precision_cnn": case_mixed_precision_cnn}
