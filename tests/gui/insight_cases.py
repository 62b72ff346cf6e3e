"""GUI cases for the GPU insight window (ui/panels/insight_*): the tour of its tabs while
training (gpu_insight: screenshots of each tab, the step timeline exported, occupancy "as if
on" a reference GPU, a forced matmul variant), and the Occupancy table's selection through
re-sorts (occupancy_selection)."""

import os
import shutil
import time

from gui_support import *  # noqa: F401,F403 (App, check, log, long_spiral_project, ...)

def open_insight_tab(app, tab, tries=4):
    """Clicks a GPU insight tab until the window shows it: while a long run trains, frames come
    slower and a click can be lost."""
    for attempt in range(tries):
        app.click(f"insight_tab_{tab}")
        try:
            return app.wait_for(lambda l: l.get("insight_tab") == tab, f"the {tab} tab", 8)
        except Failure:
            if attempt + 1 == tries:
                raise
            log(f"the click on the {tab} tab was not taken; clicking again")


def pick_reference_gpu(app, vendor, tries=3):
    """Opens the Occupancy tab's "as if on" list and picks the first reference GPU of `vendor`
    until the table says it uses that model."""
    for attempt in range(tries):
        app.click("occupancy_as_if_on")
        app.wait_for(lambda l: any(n.startswith("as_if_on " + vendor) for n in l.get("rects", {})),
                     "the reference GPUs to choose from", 10)
        choice = next(n for n in app.last["rects"] if n.startswith("as_if_on " + vendor))
        app.wait_for_rect(choice, 10)  # the list settled where it opened
        app.click(choice)
        try:
            line = app.wait_for(lambda l: l["insight_drawn"].get("occupancy_model") == choice[len("as_if_on "):],
                                f"the occupancy table as if on {choice[len('as_if_on '):]}", 8)
            log(f"occupancy as if on {line['insight_drawn']['occupancy_model']}")
            return line
        except Failure:
            if attempt + 1 == tries:
                raise
            log("the reference GPU was not picked; trying again")


def force_shared_tiled(app, t, width, height):
    """Force variant (issue 13), while the run still trains: every matmul on the shared-tiled
    kernel; the Kernels tab shows the variant in force, the roofline the dots where they moved
    (insight_kernels_forced.png, insight_roofline_forced.png). The rest of the tour keeps it."""
    open_insight_tab(app, "Kernels")
    app.wait_for(lambda l: l.get("insight_tab") == "Kernels" and l["insight_drawn"]["rows"] > 3, "the Kernels tab", 60)
    app.click("insight_force_variant")
    app.wait_for_rect("force_variant shared-tiled", 10)
    app.click("force_variant shared-tiled")
    app.park_mouse()  # under the mouse the kernel rows hold still
    line = app.wait_for(lambda l: l["insight"].get("forced_variant") == "shared-tiled" and
                        l.get("insight_tab") == "Kernels" and l["insight_drawn"]["forced_rows"] > 0,
                        "the Kernels tab to show the forced matmul rows (the next timed step)", 120)
    log(f"forced: {line['insight_drawn']['forced_rows']} rows, state {line['state']}")
    for tab, name in (("Kernels", "insight_kernels_forced.png"), ("Roofline", "insight_roofline_forced.png")):
        open_insight_tab(app, tab)
        app.wait_for(lambda l: l.get("insight_tab") == tab and l["insight_drawn"]["rows"] > 3, f"the {tab} tab", 60)
        app.park_mouse()
        shot = app.screenshot()
        check_screenshot(shot, width, height)
        shutil.copy(shot, os.path.join(t.out, name))


def case_gpu_insight(t):
    """Train the default project, open GPU insight from the GPU panel, open each of its eight tabs
    while training and take a screenshot of each (insight_<tab>.png); export the step timeline;
    show the occupancy as if on a reference GPU; force the shared-tiled matmul while training and
    take the Kernels tab and the roofline again (insight_kernels_forced.png, insight_roofline_forced.png)."""
    # The trace and the forced variant are taken on training submissions, so the run must outlast
    # the tour: the preset's 60 epochs end in ~4 s with sampled timing.
    app = t.start("gpu_insight", ["--project", long_spiral_project(t.out)])
    app.find_window()
    width, height = app.window_size()
    app.wait_for_rect("train", 60)
    app.wait_for_rect("open_insight")
    check(not app.last.get("insight_open"), "the GPU insight window should start closed")
    app.click_train()
    app.wait_for(lambda l: l["state"] == "running" and l.get("global_step", 0) > 50, "training to run", 60)
    app.click("open_insight")
    app.wait_for(lambda l: l.get("insight_open"), "the GPU insight window to open", 30)
    app.wait_for_rect("insight_tab_Ceilings")
    # The ceilings were asked for at startup; the first run measures them (a few seconds).
    line = app.wait_for(lambda l: l["insight"]["ceilings"], "the measured ceilings", 120)
    # Plausible for the device: a CPU driver moves tens of GB/s at most, a GPU a few TB/s.
    most_gbs, most_gflops = (500, 20000) if line["insight"].get("software_device") else (20000, 1e6)
    for key, most in (("bandwidth_gbs", most_gbs), ("fp32_gflops", most_gflops)):
        value = line["insight"][key]
        check(0 < value < most, f"implausible ceiling {key} = {value} (expected 0 < it < {most})")

    # Occupancy first: its workgroup trace is taken on the next training submission, so training must still run.
    checks = {
        "Occupancy": (lambda l: l["insight_drawn"]["occupancy_kernels"] > 3, "occupancy per kernel"),
        "Kernels": (lambda l: l["insight_drawn"]["rows"] > 3, "kernel rows"),
        "Roofline": (lambda l: l["insight_drawn"]["dots"] > 3, "a dot per kernel"),
        "Bandwidth": (lambda l: l["insight_drawn"]["bandwidth_points"] > 10, "bandwidth points"),
        "Timeline": (lambda l: l["insight_drawn"]["timeline_events"] > 3, "timeline events of a profiled submission"),
        "Memory": (lambda l: l["insight_drawn"]["memory_categories"] > 3, "memory categories"),
        "Device": (lambda l: l["insight_drawn"]["device_extensions"] > 3, "the relevant extensions"),
        "Ceilings": (lambda l: l["insight_drawn"]["ceilings"], "the measured ceilings"),
    }
    for tab, (predicate, what) in checks.items():
        open_insight_tab(app, tab)
        line = app.wait_for(lambda l: l.get("insight_tab") == tab and predicate(l), f"the {tab} tab to show {what}", 60)
        log(f"{tab}: {line['insight_drawn']}")
        if tab == "Kernels":
            # A row selects its layer (the Model panel's diagram shows it, and its rows stay highlighted).
            # Rows re-sort by time while training, and the rect comes from a log line up to a second old,
            # so a click may land on a row without a layer (metrics, update): aim again at the fresh rect.
            for attempt in range(6):
                # Near the row's left end, in the kernel column (frozen in view): the row spans the
                # scrolled table's full width, so its middle may fall on a column's resize border.
                x0, y0, x1, y1 = app.wait_for_rect("insight_kernel_layer_row")
                app.click_at(x0 + 30, (y0 + y1) / 2, "a kernel row with a layer")
                try:
                    line = app.wait_for(lambda l: l["insight"]["selected_layer"] >= 0, "a kernel row to select its layer", 4)
                    break
                except Failure:
                    if attempt == 5:
                        raise
            log(f"selected layer {line['insight']['selected_layer']}")
        if tab == "Timeline":
            app.click("insight_export_trace")
            line = app.wait_for(lambda l: l["insight"]["export_message"] != "", "the trace export's answer", 30)
            check(not line["insight"]["export_failed"], f"exporting the trace failed: {line['insight']['export_message']}")
        if tab == "Occupancy":
            app.click("insight_record_trace")
            line = app.wait_for(lambda l: l["insight"]["trace"] and l["insight_drawn"]["workgroup_records"] > 0,
                                "a workgroup trace", 60)
            log(f"trace: {line['insight_drawn']['workgroup_records']} workgroup records")
            # As if on a reference GPU: the table's model changes (the labels say modelled).
            pick_reference_gpu(app, "NVIDIA")
        app.park_mouse()
        shot = app.screenshot()
        check_screenshot(shot, width, height)
        shutil.copy(shot, os.path.join(t.out, f"insight_{tab.lower()}.png"))
        if tab == "Roofline":
            force_shared_tiled(app, t, width, height)
    line = app.last
    check(line["notices"] == 0, f"unexpected notice: {line.get('last_notice')}")
    check(app.close_window() == 0, "the app's exit code was not 0")


# ---- Occupancy selection and the layout (issue 11) ----------------------------


def table_rows(app, prefix="occupancy_row ", container="occupancy_table"):
    """A table's lines in view, top to bottom: [(key, rect)], key = "kernel/layer/pass", from the
    rectangles named prefix + key that lie within the rectangle `container`."""
    rects = app.last.get("rects", {})
    table = rects.get(container)
    check(table, f"no '{container}' rectangle in the log; rects: {sorted(rects)}")
    rows = [(name[len(prefix):], rect) for name, rect in rects.items()
            if name.startswith(prefix) and rect[1] >= table[1] and rect[3] <= table[3]]
    return sorted(rows, key=lambda row: row[1][1])


def wait_for_settled_rows(app, what, timeout=30, **table):
    """Waits until two log lines in a row show a table's lines in the same places; returns them."""
    previous = None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        app.settle(3)
        app.poll()
        rows = table_rows(app, **table)
        if rows and rows == previous:
            return rows
        previous = rows
        time.sleep(1.1)  # a log line about once a second
    raise Failure(f"the table's lines did not settle ({what})")


def same_order(a, b):
    """True when the shorter list of visible lines is a run of the longer one: the same lines in
    the same order, one more or less in view (the table's height can move by a line)."""
    short, long = sorted([a, b], key=len)
    return len(long) - len(short) <= 1 and any(long[i:i + len(short)] == short for i in range(len(long) - len(short) + 1))


def selected_key(app, rows):
    """The key of the line the selection's rectangle lies on."""
    selected = app.last.get("rects", {}).get("occupancy_selected")
    matches = [key for key, rect in rows if rect == selected]
    check(len(matches) == 1, f"the selected line {selected} is not exactly one of the lines in view: {rows}")
    return matches[0]


def case_occupancy_selection(t):
    """GPU insight, Occupancy, while training: select a kernel, re-sort the table by a column (both ways)
    and let it rebuild live, sort the Kernels tab: the same kernel stays selected, and the
    what-if value typed for it (one click on the field, then typing) stays."""
    app = t.start("occupancy_selection", ["--project", long_spiral_project(t.out)])  # training runs throughout
    app.find_window()
    width, height = app.window_size()
    app.wait_for_rect("train", 60)
    app.wait_for_rect("open_insight")
    app.click_train()
    app.wait_for(lambda l: l["state"] == "running" and l.get("global_step", 0) > 50, "training to run", 60)
    app.click("open_insight")
    app.wait_for(lambda l: l.get("insight_open"), "the GPU insight window to open", 30)
    app.wait_for_rect("insight_tab_Occupancy")
    app.click("insight_tab_Occupancy")
    app.wait_for(lambda l: l.get("insight_tab") == "Occupancy" and l["insight_drawn"]["occupancy_kernels"] > 3,
                 "the occupancy table", 60)
    app.park_mouse()
    rows = wait_for_settled_rows(app, "first drawn")
    log(f"occupancy lines in step order: {[key for key, _ in rows]}")
    check(len(rows) >= 4, f"expected at least 4 kernels in view, found {rows}")
    check(selected_key(app, rows) == rows[0][0], "the first line should be selected at first")
    # Select a kernel of a layer, not the first line.
    chosen = next((key for key, _ in rows[1:] if int(key.split("/")[1]) >= 0), None)
    check(chosen, f"no kernel with a layer in view: {rows}")
    rect = dict(rows)[chosen]
    app.click_at(rect[0] + 40, (rect[1] + rect[3]) / 2, f"the line of {chosen}")
    app.park_mouse()
    rows = wait_for_settled_rows(app, "after the click")
    check(selected_key(app, rows) == chosen, f"clicked {chosen}, but {selected_key(app, rows)} is selected")
    layer = int(chosen.split("/")[1])
    check(app.last["insight"]["selected_layer"] == layer,
          f"selecting {chosen} should select layer {layer}; log: {app.last['insight']}")

    # A what-if value for it: one click on the field lets the user type.
    x0, y0, x1, y1 = app.wait_for_rect("what_if_workgroup")
    app.click_at((x0 + x1) / 2 - 30, (y0 + y1) / 2, "the what-if workgroup size field (once)")
    app.type("96")
    app.key("Return")
    app.park_mouse()
    shot = app.screenshot()
    check_screenshot(shot, width, height)
    shutil.copy(shot, os.path.join(t.out, "occupancy_selected.png"))

    # Re-sorted by a column, both ways, the selection moves with its kernel.
    order_before = [key for key, _ in rows]
    for click in range(2):
        app.click("occupancy_header workgroup")
        app.park_mouse()
        rows = wait_for_settled_rows(app, f"sorted by workgroup size ({'ascending' if click == 0 else 'descending'})")
        order = [key for key, _ in rows]
        log(f"sorted by workgroup size, click {click + 1}: {order}")
        check(selected_key(app, rows) == chosen, f"after sorting, {selected_key(app, rows)} is selected, not {chosen}")
    check(order != order_before, f"sorting by workgroup size did not change the order: {order}")
    # Live rebuilds (a few a second while training) keep the selection and the user's sort.
    time.sleep(3)
    rows = wait_for_settled_rows(app, "after live rebuilds")
    check(same_order([key for key, _ in rows], order), f"the sort the user picked did not stay: {[k for k, _ in rows]}")
    check(selected_key(app, rows) == chosen, f"after live rebuilds, {selected_key(app, rows)} is selected")
    shot = app.screenshot()
    check_screenshot(shot, width, height)
    shutil.copy(shot, os.path.join(t.out, "occupancy_resorted.png"))

    # The Kernels tab (sorted by time, live) sorted by the kernel column instead: its lines keep that
    # order while the times change, and the selected layer stays.
    app.click("insight_tab_Kernels")
    app.wait_for(lambda l: l.get("insight_tab") == "Kernels", "the Kernels tab", 30)
    app.wait_for_rect("kernels_header kernel")
    app.click("kernels_header kernel")
    app.park_mouse()
    kernels = {"prefix": "kernels_row ", "container": "window GPU insight"}
    rows = wait_for_settled_rows(app, "the Kernels tab sorted by kernel", **kernels)
    order = [key for key, _ in rows]
    log(f"Kernels sorted by kernel: {order}")
    names = [key.split("/")[0] for key in order]
    check(len(order) >= 4 and names == sorted(names), f"the Kernels tab is not sorted by kernel: {order}")
    time.sleep(3)
    rows = wait_for_settled_rows(app, "the Kernels tab after live rebuilds", **kernels)
    check(same_order([key for key, _ in rows], order), f"the Kernels tab's sort did not stay: {[k for k, _ in rows]}")
    check(app.last["insight"]["selected_layer"] == layer, "the Kernels tab lost the selected layer")
    app.click("insight_tab_Occupancy")
    app.wait_for(lambda l: l.get("insight_tab") == "Occupancy", "the Occupancy tab again", 30)
    app.park_mouse()
    rows = wait_for_settled_rows(app, "back on the Occupancy tab")
    check(selected_key(app, rows) == chosen, f"back on Occupancy, {selected_key(app, rows)} is selected, not {chosen}")
    check(app.last["notices"] == 0, f"unexpected notice: {app.last.get('last_notice')}")
    check(app.close_window() == 0, "the app's exit code was not 0")


CASES = {"gpu_insight": case_gpu_insight, "occupancy_selection": case_occupancy_selection}
