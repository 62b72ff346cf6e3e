"""GUI cases for parallelism (ui/parallel_window.h): Parallelism... in the Training
panel measures the current model with 1..4 data-parallel replicas in a child process
and draws the scaling chart and one step's Gantt chart per replica; its Tensor
parallel tab splits the first dense layer over 2 devices and checks the output."""

from gui_support import check, log
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


CASES = {"parallel": case_parallel}
