"""GUI case for the Kernel Lab window (ui/lab/): `tensorscope lab` opens the
window on lesson 1 and runs it; the case visits every lesson, moves a knob's
slider in each, waits for the lesson to run again with the new value, opens
each of the result's tabs and keeps screenshots (lab_<lesson>_<tab>.png) for
a person to look at. Every check of every kernel must pass."""

import os
import re
import shutil

from gui_support import App, Failure, check, check_screenshot, log

# A lesson runs every variant on the device, timed and checked: on a CPU
# driver the larger ones take a while.
LESSON_TIMEOUT = 400


def outcome_of(line, lesson):
    return line.get("lab", {}).get("outcomes", {}).get(lesson)


def wait_for_outcome(app, lesson, changed_from=None):
    """Waits until `lesson` is shown, nothing runs, and its outcome is of the knobs as set
    (when `changed_from` is given: of knobs other than those)."""
    def done(line):
        lab = line.get("lab", {})
        outcome = outcome_of(line, lesson)
        return (lab.get("lesson") == lesson and not lab.get("busy") and outcome is not None
                and outcome.get("settings") == lab.get("settings")
                and (changed_from is None or lab.get("settings") != changed_from))
    what = f"lesson {lesson} to run" + (" again with the knob moved" if changed_from else "")
    line = app.wait_for(done, what, LESSON_TIMEOUT)
    outcome = outcome_of(line, lesson)
    log(f"{lesson}: {outcome}")
    check(outcome["error"] == "", f"lesson {lesson} failed: {outcome['error']}")
    check(outcome.get("variants", 0) > 0, f"lesson {lesson} shows no variants: {outcome}")
    check(outcome.get("failed_checks") == 0, f"lesson {lesson}: {outcome.get('failed_checks')} variants failed their check")
    return line


def move_a_knob(app, lesson, lab):
    """Moves the lesson's first slider to 30% of its range (smaller: a quick run), else drags
    a number field a little to the right, else clicks another choice; returns the knob's key."""
    kinds, settings = lab.get("knobs", {}), lab["settings"]
    order = sorted(kinds, key=lambda k: ({"slider": 0, "number": 1, "choices": 2}[kinds[k]], k))
    check(order, f"lesson {lesson} has no knobs: {lab}")
    key = order[0]
    if kinds[key] == "choices":
        rects = app.last.get("rects", {})
        others = sorted(n for n in rects if n.startswith(f"lab_knob_{key}_") and n != f"lab_knob_{key}_{settings[key]}")
        check(others, f"lesson {lesson}: no other choice of {key} to click")
        app.click(others[0])
        return key
    x0, y0, x1, y1 = app.wait_for_rect(f"lab_knob_{key}")
    y = (y0 + y1) / 2
    if kinds[key] == "slider":  # a slider follows the mouse
        points = [(x0 + (x1 - x0) * f, y) for f in (0.5, 0.4, 0.3)]
    else:  # a number field tunes by the distance dragged
        points = [(x0 + (x1 - x0) * 0.5 + dx, y) for dx in (0, 4, 8)]
    app.drag(points, f"lab_knob_{key}")
    return key


def keep_screenshot(t, app, name):
    app.park_mouse()
    shot = app.screenshot()
    check_screenshot(shot, *app.window_size())
    shutil.copy(shot, os.path.join(t.out, name))
    log(f"screenshot: {os.path.join(t.out, name)}")


def case_lab_lessons(t):
    app = App(t.binary, t.display, os.path.join(t.out, "lab_lessons"), command="lab")
    t.apps.append(app)
    app.find_window()
    line = app.wait_for(lambda l: l.get("lab", {}).get("open") and l["lab"].get("lessons"), "the Lab to open", 60)
    lessons = line["lab"]["lessons"]
    check(line["lab"]["lesson"] == lessons[0], f"`tensorscope lab` should open on lesson 1 ({lessons[0]}), "
                                               f"not {line['lab']['lesson']}")
    log(f"lessons: {lessons}")
    for lesson in lessons:
        if app.last["lab"]["lesson"] != lesson:
            app.click(f"lab_lesson_{lesson}")
        line = wait_for_outcome(app, lesson)
        if lesson == "matmul":  # the ladder at the lesson's own size (the README's screenshot)
            app.click("lab_tab_Results")
            app.wait_for(lambda l: l["lab"]["drawn"]["tab"] == "Results", "the Results tab of matmul", 30)
            keep_screenshot(t, app, "lab_matmul_ladder.png")
        before = line["lab"]["settings"]
        key = move_a_knob(app, lesson, line["lab"])
        line = wait_for_outcome(app, lesson, changed_from=before)
        log(f"{lesson}: {key} {before[key]} -> {line['lab']['settings'][key]}")
        for tab in line["lab"]["tabs"]:
            app.click(f"lab_tab_{tab}")
            drawn = app.wait_for(lambda l: l["lab"]["drawn"]["tab"] == tab, f"the {tab} tab of {lesson}", 30)["lab"]["drawn"]
            log(f"{lesson} {tab}: {drawn}")
            if tab == "Results":
                check(drawn["rows"] == outcome_of(line, lesson)["variants"] and drawn["source_lines"] > 5,
                      f"{lesson}: the table or the source is missing: {drawn}")
            if tab == "Charts":
                check(drawn["chart_series"] > 0, f"{lesson}: no chart series drawn: {drawn}")
            if tab == "Grid":
                check(drawn["grid_cells"] > 0, f"{lesson}: no grid cells drawn: {drawn}")
                # Hovering the first cell spells out its IDs' sum with its numbers.
                x0, y0, x1, y1 = app.wait_for_rect("lab_grid")
                app.move_to(x0 + 3, y0 + 3)
                app.settle(3)
                line = app.wait_for(lambda l: "gl_GlobalInvocationID" in l["lab"]["drawn"]["hovered_formula"],
                                    "the hovered cell's formula", 30)
                formula = line["lab"]["drawn"]["hovered_formula"]
                log(f"hovered: {formula}")
                check(re.search(r"= 0 \* \d+ \+ 0 = 0$", formula), f"the first cell's formula: {formula}")
                shot = app.screenshot()
                shutil.copy(shot, os.path.join(t.out, f"lab_{lesson}_hover.png"))
            if tab in ("Access", "Tiles", "Tree"):
                check(drawn["touched"] > 0, f"{lesson}: the {tab} picture shows nothing touched: {drawn}")
            if tab != "Roofline":
                keep_screenshot(t, app, f"lab_{lesson}_{tab.lower()}.png")
    line = app.last
    check(line["notices"] == 0, f"unexpected notice: {line.get('last_notice')}")
    check(app.close_window() == 0, "the app's exit code was not 0")


CASES = {"lab_lessons": case_lab_lessons}
