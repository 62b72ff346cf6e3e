"""GUI case for the Kernel Lab's puzzles (ui/lab/puzzles_window.*): `tensorscope lab`
opens the Lab; the case switches it to Puzzles, picks the zip puzzle, resets it to
the starter, types a wrong kernel body into the editor with xdotool and runs it with
Ctrl+Enter (a failing try: wrong values, Show solution enabled), then a body with a
compile error (marked on its line), then the right body (passed, timed against the
reference), and checks that the progress file in the data folder says it is solved.
Screenshots of the failing try, the compile error and the pass are kept."""

import json
import os

from gui_support import App, check, log
from run_cases import save_screenshot

RUN_TIMEOUT = 120


def puzzles_of(line):
    return line.get("puzzles") or {}


def outcome_of(line, puzzle):
    return puzzles_of(line).get("outcomes", {}).get(puzzle)


def replace_code(app, text):
    """Clicks into the editor, selects everything and types `text` over it."""
    app.click("puzzle_editor")
    app.key("ctrl+a")
    app.key("Delete")
    app.type(text)


def run_and_wait(app, puzzle):
    before = puzzles_of(app.last).get("request", 0)
    app.key("ctrl+Return")
    line = app.wait_for(lambda l: puzzles_of(l).get("request", 0) > before and not puzzles_of(l).get("busy")
                        and outcome_of(l, puzzle) is not None, f"the {puzzle} kernel to run", RUN_TIMEOUT)
    line = app.wait_for(lambda l: puzzles_of(l)["drawn"]["puzzle"] == puzzle, "the result drawn", 30)
    log(f"{puzzle}: {outcome_of(line, puzzle)}; drawn {puzzles_of(line)['drawn']}")
    return line


def case_lab_puzzles(t):
    app = App(t.binary, t.display, os.path.join(t.out, "lab_puzzles"), command="lab")
    t.apps.append(app)
    app.find_window()
    app.wait_for(lambda l: l.get("lab", {}).get("open") and "puzzles" in l, "the Lab to open", 60)
    app.click("lab_mode_puzzles")
    app.wait_for(lambda l: puzzles_of(l).get("shown"), "the puzzles to show", 30)
    app.click("lab_puzzle_zip")
    app.wait_for(lambda l: puzzles_of(l)["drawn"]["puzzle"] == "zip", "the zip puzzle", 30)
    app.click("puzzle_reset")

    # A failing try: a - b instead of a + b.
    replace_code(app, "uint i = gl_GlobalInvocationID.x;\nwrite_out(i, read_a(i) - read_b(i));\n")
    line = run_and_wait(app, "zip")
    outcome = outcome_of(line, "zip")
    check(outcome["compiled"] and not outcome["passed"], f"a - b should compile and fail: {outcome}")
    check("wrong value" in outcome.get("diagnoses", []), f"a - b should be diagnosed as wrong values: {outcome}")
    drawn = puzzles_of(line)["drawn"]
    check(drawn["wrong_cells"] == outcome["wrong"] > 0, f"the wrong cells are not all drawn red: {drawn}")
    check(drawn["touched_cells"] > 0, f"the access drawing shows nothing touched: {drawn}")
    check(drawn["show_solution_enabled"], f"Show solution should be enabled after a failed try: {drawn}")
    save_screenshot(t, app, "puzzle_zip_failing.png")

    # A compile error on line 2.
    replace_code(app, "uint i = gl_GlobalInvocationID.x;\nwrite_out(i, read_a(i) + read_c(i));\n")
    line = run_and_wait(app, "zip")
    outcome = outcome_of(line, "zip")
    check(not outcome["compiled"] and outcome.get("compile_error_lines") == [2],
          f"read_c should be a compile error on line 2: {outcome}")
    check(puzzles_of(line)["drawn"]["error_lines"] == 1, f"the error line is not marked: {puzzles_of(line)['drawn']}")
    save_screenshot(t, app, "puzzle_zip_compile_error.png")

    # The right kernel.
    replace_code(app, "uint i = gl_GlobalInvocationID.x;\nwrite_out(i, read_a(i) + read_b(i));\n")
    line = run_and_wait(app, "zip")
    outcome = outcome_of(line, "zip")
    check(outcome["passed"], f"a + b should pass: {outcome}")
    check(outcome.get("ms", 0) > 0 and outcome.get("reference_ms", 0) > 0, f"a pass is timed with the reference: {outcome}")
    check(puzzles_of(line)["solved"].get("zip"), f"zip is not marked solved: {puzzles_of(line)}")
    app.click("puzzle_show_solution")
    app.wait_for(lambda l: puzzles_of(l)["drawn"]["solution_shown"], "the solution to show", 30)
    save_screenshot(t, app, "puzzle_zip_passed.png")

    path = puzzles_of(line)["progress_path"]
    with open(path) as f:
        progress = json.load(f)
    log(f"progress file {path}: {progress}")
    check(progress["puzzles"]["zip"]["solved"] and "read_a(i) + read_b(i)" in progress["puzzles"]["zip"]["code"],
          f"the progress file does not hold the solved zip: {progress}")
    check(app.last["notices"] == 0, f"unexpected notice: {app.last.get('last_notice')}")
    check(app.close_window() == 0, "the app's exit code was not 0")


CASES = {"lab_puzzles": case_lab_puzzles}
