"""GUI cases for sequence models (a character-level GPT): the char-gpt preset
with its built-in text, trained for a few seconds in the window. Each case
saves screenshots into --out for a person to look at."""

import os
import shutil

from gui_support import check, check_screenshot, log, summary
from run_cases import pick


def keep_screenshot(t, app, name):
    app.park_mouse()
    path = app.screenshot()
    check_screenshot(path, *app.window_size())
    shutil.copy(path, os.path.join(t.out, name))
    log(f"screenshot: {os.path.join(t.out, name)}")


def case_char_gpt(t):
    """Presets > char-gpt loads the built-in text (windows of 64 characters, a
    vocabulary of 73) and fits the model; Train runs and its loss falls from
    about ln 73 = 4.3; Stop; spiral-mlp and back to char-gpt bring no stale state."""
    check(os.access("/usr/bin/bible", os.X_OK),
          "the char-gpt preset's text is printed by /usr/bin/bible (Debian packages bible-kjv, bible-kjv-text)")
    app = t.start("char_gpt")
    app.find_window()
    app.wait_for_rect("presets")
    pick(app, "presets", "preset_char-gpt")
    line = app.wait_for(lambda l: l.get("loaded", {}).get("name", "").startswith("kjv") or l["data_error"],
                        "the built-in text", 120)
    log(f"char-gpt: data {line['data']}, loaded {line.get('loaded')}")
    check(line["data_error"] == "", f"the built-in text did not load: {line['data_error']}")
    check(line["data"]["kind"] == "kjv" and line["loaded"]["classes"] == 73,
          f"char-gpt should load the built-in text's 73 characters: {line['data']} {line['loaded']}")
    check(line["model_error"] == "" and line["why_train_disabled"] == "" and not line["row_errors"],
          f"char-gpt cannot train: {summary(line)}")
    preview = line.get("texts", {}).get("data_text_preview", "")
    log(f"the Data panel's first window: {preview!r}")
    check(len(preview) >= 64 and "?" not in preview, f"the Data panel should show a window as its text: {preview!r}")
    keep_screenshot(t, app, "char_gpt_preset.png")

    app.click_train()
    # The first step compiles the plan (165 dispatches) and times both attention kernels: a minute on lavapipe.
    line = app.wait_for(lambda l: l.get("global_step", 0) >= 20 or l["state"] in ("failed", "finished"),
                        "20 steps of char-gpt", max(t.train_timeout, 300))
    log(f"after 20 steps: {summary({k: line.get(k) for k in ('state', 'global_step', 'first_loss', 'loss', 'notices')})}")
    check(line["state"] == "running", f"char-gpt training ended in state {line['state']!r}")
    check(3.8 < line["first_loss"] < 4.8, f"the first loss {line['first_loss']:.3f} is not near ln 73 = 4.29")
    check(line["loss"] < line["first_loss"] - 0.3,
          f"the loss {line['loss']:.3f} has not fallen from {line['first_loss']:.3f} in 20 steps")
    check(line["notices"] == 0, f"unexpected notice: {line.get('last_notice')}")
    keep_screenshot(t, app, "char_gpt_training.png")
    app.click("stop")
    app.wait_for(lambda l: l["state"] == "finished", "the run to stop", 60)

    pick(app, "presets", "preset_spiral-mlp")
    line = app.wait_for(lambda l: l["data"]["kind"] == "spiral" and l.get("loaded", {}).get("name", "")
                        .startswith("spiral"), "the spiral data", 60)
    check(line["state"] == "empty" and line["train_points"] == 0 and line["why_train_disabled"] == "",
          f"the char-gpt run is still shown over spiral-mlp: {summary(line)}")
    pick(app, "presets", "preset_char-gpt")
    line = app.wait_for(lambda l: l.get("loaded", {}).get("name", "").startswith("kjv"), "the text again", 120)
    app.settle(5)
    line = app.last
    check(line["state"] == "empty" and line["train_points"] == 0 and line["why_train_disabled"] == ""
          and line["notices"] == 0, f"char-gpt chosen again: {summary(line)}")
    keep_screenshot(t, app, "char_gpt_again.png")
    check(app.close_window() == 0, "the app's exit code was not 0")


CASES = {
    "char_gpt": case_char_gpt,
}
