"""GUI cases for sequence models (a character-level GPT): the char-gpt preset
with its built-in text, trained for a few seconds in the window. Each case
saves screenshots into --out for a person to look at."""

import os
import shutil

from gui_support import Failure, check, check_screenshot, log, summary
from run_cases import pick


def keep_screenshot(t, app, name):
    app.park_mouse()
    path = app.screenshot()
    check_screenshot(path, *app.window_size())
    shutil.copy(path, os.path.join(t.out, name))
    log(f"screenshot: {os.path.join(t.out, name)}")


def screenshot_as(t, app, name):
    """A screenshot as the window is, the mouse where it is (a tooltip shown)."""
    path = app.screenshot()
    check_screenshot(path, *app.window_size())
    shutil.copy(path, os.path.join(t.out, name))
    log(f"screenshot: {os.path.join(t.out, name)}")


def finished_samples(line):
    """The Text window's samples that are written to the end without an error, newest first."""
    return [s for s in line.get("text", {}).get("samples", []) if s["done"] and not s["error"]]


def check_sample(sample, vocabulary, what):
    check(len(sample["text"]) > len(sample["prompt"]), f"{what} adds nothing to its prompt: {sample!r}")
    strange = sorted({c for c in sample["text"] if c not in vocabulary})
    check(not strange, f"{what} has characters outside the text's vocabulary: {strange} in {sample['text']!r}")


def hover_until(app, rect_name, place, predicate, what, tries=4):
    """Moves the mouse onto `place` (fractions of the named rectangle, read afresh each try:
    the window's rows may move while it trains) until a log line satisfies `predicate`."""
    for attempt in range(tries):
        x0, y0, x1, y1 = app.wait_for_rect(rect_name, 60)
        app.move_to(x0 + (x1 - x0) * place[0], y0 + (y1 - y0) * place[1])
        try:
            return app.wait_for(predicate, what, 20)
        except Failure:
            if not app.alive() or attempt + 1 == tries:
                raise
            log(f"{what}: not seen yet, hovering again")
            app.move_to(x0 - 40, y0 - 40)
            app.settle(2)


def check_hovered_weights(line, what):
    text = line["text"]
    query, top = text["hovered_query"], text["hovered_top"]
    attention = text["attention"]
    log(f"{what}: query {query} ({attention['prompt'][query]!r}), top keys {top}")
    check(0 <= query < attention["tokens"], f"{what}: hovered query {query} of {attention['tokens']} tokens")
    check(1 <= len(top) <= 3, f"{what}: expected the query's top keys, got {top}")
    weights = [w for _, w in top]
    check(all(0 <= k <= query for k, _ in top), f"{what}: a key after the query {query} (attention is causal): {top}")
    check(all(0 < w <= 1 for w in weights) and weights == sorted(weights, reverse=True),
          f"{what}: the top weights should be in (0, 1], largest first: {weights}")
    check(sum(weights) <= 1 + 1e-4, f"{what}: one row's weights sum to more than 1: {weights}")
    check(weights[0] >= 1.0 / (query + 1) - 1e-5, f"{what}: the largest of {query + 1} weights is below their mean")


def text_window_tour(t, app):
    """Opens the Text window while char-gpt trains: two samples at later and later steps, then
    the attention maps with a hovered token (screenshots of both tabs)."""
    app.click("open_text")
    line = app.wait_for(lambda l: l.get("text", {}).get("open") and l["text"]["tab"] == "Samples",
                        "the Text window's Samples tab", 60)
    vocabulary = set(line["text"].get("vocabulary", []))
    check(len(vocabulary) == 73, f"the Text window should know the text's 73 characters: {len(vocabulary)}")
    # A sample every few seconds while training, a dozen characters per worker turn between submissions.
    line = app.wait_for(lambda l: finished_samples(l) or any(s["error"] for s in l["text"]["samples"]),
                        "a first sample", 600)
    errors = [s["error"] for s in line["text"]["samples"] if s["error"]]
    check(not errors, f"the sample failed: {errors}")
    first = finished_samples(line)[0]
    log(f"sample at step {first['step']} (loss {first['loss']:.3f}): {first['text']!r}")
    check_sample(first, vocabulary, "the first sample")
    check(line["state"] == "running", f"training should go on while samples are written: {line['state']}")
    line = app.wait_for(lambda l: any(s["step"] > first["step"] for s in finished_samples(l)),
                        "a second sample at a later step", 600)
    second = finished_samples(line)[0]
    log(f"sample at step {second['step']} (loss {second['loss']:.3f}): {second['text']!r}")
    check_sample(second, vocabulary, "the second sample")
    check(second["request"] > first["request"], "the newest sample should be listed first")
    check(line["text"]["drawn_samples"] >= 2, f"the window should show both samples: {line['text']['drawn_samples']}")
    throughput = line["throughput"]
    log(f"throughput: {throughput}")
    check(throughput["flops_per_token"] > 1e6 and "FLOPs/token" in throughput["text"],
          f"the Training panel should show char-gpt's FLOPs/token: {throughput}")
    check(throughput["mfu"] > 0 or "measure the peak" in throughput["text"],
          f"the Training panel should show MFU or say how to get the peak: {throughput}")
    keep_screenshot(t, app, "text_samples.png")
    # The formula and its numbers, in the FLOPs/token line's tooltip.
    x0, y0, x1, y1 = app.wait_for_rect("throughput", 60)
    app.move_to((x0 + x1) / 2, (y0 + y1) / 2)
    app.settle(4)
    screenshot_as(t, app, "throughput_tooltip.png")

    app.click("text_tab_attention")
    line = app.wait_for(lambda l: l["text"]["tab"] == "Attention" and l["text"].get("attention")
                        and l["text"]["heatmaps"] >= 1, "the attention maps", 180)
    attention = line["text"]["attention"]
    log(f"attention: {attention}, {line['text']['cells']} cells drawn")
    check(not attention["error"], f"the attention maps failed: {attention['error']}")
    check(attention["layers"] == 4 and attention["heads"] == 4, f"char-gpt has 4 blocks of 4 heads: {attention}")
    check(attention["prompt"] == "In the beginning God created" and attention["tokens"] == 28,
          f"the maps should be of the default prompt: {attention}")
    n = attention["tokens"]
    check(line["text"]["cells"] >= n * (n + 1) // 2, f"a heatmap has {n * (n + 1) // 2} cells: {line['text']['cells']}")
    # A character of the prompt: where that token looks.
    line = hover_until(app, "text_attention_strip", (0.45, 0.5),
                       lambda l: l["text"]["hovered_query"] >= 0 and l["text"]["hovered_top"],
                       "a hovered character of the prompt")
    check_hovered_weights(line, "the hovered character")
    # A cell in the lower left of the heatmap: a query late in the prompt, a key early in it.
    line = hover_until(app, "text_attention_map", (0.3, 0.8),
                       lambda l: l["text"]["hovered_key"] >= 0 and l["text"]["hovered_top"],
                       "a hovered cell of the heatmap")
    check_hovered_weights(line, "the hovered cell")
    text = line["text"]
    check(text["hovered_key"] <= text["hovered_query"] and 0 < text["hovered_weight"] <= 1,
          f"the hovered cell: key {text['hovered_key']} query {text['hovered_query']} weight {text['hovered_weight']}")
    app.settle(3)
    screenshot_as(t, app, "text_attention.png")  # with the hovered row and its tooltip
    app.click("text_all_heads")
    line = app.wait_for(lambda l: l["text"]["heatmaps"] >= 5, "every head of the layer", 60)
    keep_screenshot(t, app, "text_attention_heads.png")

    # MFU needs the device's measured fp32 peak: GPU insight measures it when it opens.
    app.click("open_insight")
    line = app.wait_for(lambda l: l["insight"]["ceilings"] and l["throughput"]["mfu"] > 0, "the MFU", 180)
    throughput = line["throughput"]
    log(f"MFU: {throughput['text']} (peak {line['insight']['fp32_gflops']:.1f} GFLOP/s)")
    expected = throughput["model_gflops"] / line["insight"]["fp32_gflops"]
    check(abs(throughput["mfu"] - expected) < 0.01 * expected and "MFU" in throughput["text"],
          f"MFU should be model GFLOP/s over the peak, {expected:.4f}: {throughput}")
    app.click("open_insight")  # closes it
    app.wait_for(lambda l: not l.get("insight_open"), "GPU insight to close", 30)
    x0, y0, x1, y1 = app.wait_for_rect("throughput", 60)
    app.move_to((x0 + x1) / 2, (y0 + y1) / 2)
    app.settle(4)
    screenshot_as(t, app, "throughput_mfu.png")


def case_char_gpt(t):
    """Presets > char-gpt loads the built-in text (windows of 64 characters, a
    vocabulary of 73) and fits the model; Train runs and its loss falls from
    about ln 73 = 4.3; the Text window shows samples at later and later steps
    and the attention maps (text_window_tour); Stop; spiral-mlp and back to
    char-gpt bring no stale state."""
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
    text_window_tour(t, app)
    app.click("stop")
    app.wait_for(lambda l: l["state"] == "finished", "the run to stop", 60)

    pick(app, "presets", "preset_spiral-mlp")
    line = app.wait_for(lambda l: l["data"]["kind"] == "spiral" and l.get("loaded", {}).get("name", "")
                        .startswith("spiral"), "the spiral data", 60)
    check(line["state"] == "empty" and line["train_points"] == 0 and line["why_train_disabled"] == "",
          f"the char-gpt run is still shown over spiral-mlp: {summary(line)}")
    check(not line["text"]["open"], "the Text window is for sequence models: it should close for spiral-mlp")
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
