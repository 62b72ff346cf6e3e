#!/usr/bin/python3
"""GUI tests: start the real Tensorscope window and drive it as a person would.

    /usr/bin/python3 tests/gui/gui_test.py CASE --binary build/tensorscope --out DIR
    CASE: train_default | build_and_save | bad_project | divergence | unsaved_quit | inside_views |
          gpu_insight | occupancy_selection | layout_1280x720 | layout_1440x900 | layout_2560x1440 | all

Each case starts `tensorscope gui` with fresh $XDG_CONFIG_HOME and
$XDG_DATA_HOME (so no autosave, imgui.ini or window.json of the user's leaks
in), moves the mouse and types with xdotool (real X input events, through
GLFW and ImGui like a user's), and reads the outcome from the app's
`--test-log` (one JSON line per state change and about once a second, with
the named widget rectangles of ui/test_hooks.h in window coordinates).
Screenshots come from SIGUSR1 (`--screenshot-dir`). The window is closed the
way a window manager closes it (a WM_DELETE_WINDOW message), so the app's quit
path runs; a process that outlives its test is signalled by its own PID.

The display: by default each run starts a private Xvfb (when the Xvfb binary
exists), so GUI tests that CTest runs in parallel never click into each
other's windows and a developer's desktop is not taken over; `--display
inherit` uses $DISPLAY instead. Standard library only (PNG checks decode the
file with zlib and struct).

Exit code 0 when every requested case passed; the output says what each
step saw. Artifacts (logs, app output, screenshots, project files) are left
in --out.
"""

import argparse
import ctypes
import ctypes.util
import json
import math
import os
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import traceback
import zlib

SCREEN = "1600x1000x24"
SOURCE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def default_layer_types():
    """The layer types of the default project: the spiral-mlp preset."""
    with open(os.path.join(SOURCE_DIR, "assets", "models", "spiral-mlp.json")) as f:
        return [layer["type"] for layer in json.load(f)["layers"]]


class Failure(Exception):
    pass


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def check(condition, message):
    if not condition:
        raise Failure(message)


# ---- Display ------------------------------------------------------------------


class Display:
    """A private Xvfb server (mode "private"), or the inherited $DISPLAY."""

    def __init__(self, mode, screen=SCREEN):
        self.process = None
        self.screen = screen
        if mode == "auto":
            mode = "private" if shutil.which("Xvfb") else "inherit"
        if mode == "inherit":
            self.name = os.environ.get("DISPLAY", "")
            check(self.name, "DISPLAY is not set and --display inherit was asked for")
            return
        check(shutil.which("Xvfb"), "--display private needs the Xvfb binary (Debian package xvfb)")
        # A display number well away from :0 and xvfb-run's :99 and up, which people and scripts use.
        first = 300 + os.getpid() % 600
        for number in [*range(first, 900), *range(300, first)]:
            if os.path.exists(f"/tmp/.X{number}-lock") or os.path.exists(f"/tmp/.X11-unix/X{number}"):
                continue
            if self._start(number):
                self.name = f":{number}"
                log(f"private Xvfb on {self.name} ({self.screen}), pid {self.process.pid}")
                return
        raise Failure("could not start a private Xvfb on any display from :300 to :899")

    def _start(self, number):
        """Starts Xvfb on :number; true once it accepts connections (it writes the number to -displayfd)."""
        read_end, write_end = os.pipe()
        self.process = subprocess.Popen(
            ["Xvfb", f":{number}", "-displayfd", str(write_end), "-screen", "0", self.screen, "-nolisten", "tcp",
             "-noreset"], pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(write_end)
        text = b""
        deadline = time.monotonic() + 30
        while not text.endswith(b"\n") and time.monotonic() < deadline:
            ready, _, _ = select.select([read_end], [], [], 0.5)
            if ready:
                chunk = os.read(read_end, 64)
                if not chunk:
                    break  # it exited: the display is taken
                text += chunk
        os.close(read_end)
        if text.strip() == str(number).encode():
            return True
        self.close()
        return False

    def env(self):
        env = dict(os.environ)
        env["DISPLAY"] = self.name
        env.pop("WAYLAND_DISPLAY", None)
        return env

    def close(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def send_wm_delete(display_name, window):
    """Asks the window to close, as a window manager's close button does
    (xdotool 3.2016's windowclose destroys the window instead)."""
    x11 = ctypes.CDLL(ctypes.util.find_library("X11") or "libX11.so.6")
    x11.XOpenDisplay.restype = ctypes.c_void_p
    x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x11.XInternAtom.restype = ctypes.c_ulong
    x11.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]

    class ClientMessage(ctypes.Structure):
        _fields_ = [("type", ctypes.c_int), ("serial", ctypes.c_ulong), ("send_event", ctypes.c_int),
                    ("display", ctypes.c_void_p), ("window", ctypes.c_ulong), ("message_type", ctypes.c_ulong),
                    ("format", ctypes.c_int), ("data", ctypes.c_long * 5)]

    class XEvent(ctypes.Union):
        _fields_ = [("xclient", ClientMessage), ("pad", ctypes.c_long * 24)]

    x11.XSendEvent.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_long, ctypes.POINTER(XEvent)]
    x11.XFlush.argtypes = [ctypes.c_void_p]
    x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
    display = x11.XOpenDisplay(display_name.encode())
    check(display, f"cannot open X display {display_name} to close the window")
    try:
        event = XEvent()
        event.xclient.type = 33  # ClientMessage
        event.xclient.window = window
        event.xclient.message_type = x11.XInternAtom(display, b"WM_PROTOCOLS", 0)
        event.xclient.format = 32
        event.xclient.data[0] = x11.XInternAtom(display, b"WM_DELETE_WINDOW", 0)
        check(x11.XSendEvent(display, window, 0, 0, ctypes.byref(event)) != 0, "XSendEvent failed")
        x11.XFlush(display)
    finally:
        x11.XCloseDisplay(display)


# ---- PNG ----------------------------------------------------------------------


def read_png(path):
    """Decodes an 8-bit RGB/RGBA non-interlaced PNG: returns (width, height,
    channels, rows) with rows a list of bytearrays."""
    with open(path, "rb") as f:
        data = f.read()
    check(data[:8] == b"\x89PNG\r\n\x1a\n", f"{path}: not a PNG file")
    pos, idat, header = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        check(len(body) == length, f"{path}: truncated {kind!r} chunk")
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + length
    check(header is not None, f"{path}: no IHDR chunk")
    width, height, depth, color, _, _, interlace = header
    check(depth == 8 and color in (2, 6) and interlace == 0,
          f"{path}: expected 8-bit RGB or RGBA, non-interlaced; found depth {depth}, colour type {color}, "
          f"interlace {interlace}")
    channels = 3 if color == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = width * channels
    check(len(raw) == height * (stride + 1), f"{path}: image data is {len(raw)} bytes, expected {height * (stride + 1)}")
    rows, previous = [], bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        if kind == 1:  # Sub
            for i in range(channels, stride):
                line[i] = (line[i] + line[i - channels]) & 255
        elif kind == 2:  # Up
            line = bytearray((a + b) & 255 for a, b in zip(line, previous))
        elif kind == 3:  # Average
            for i in range(stride):
                left = line[i - channels] if i >= channels else 0
                line[i] = (line[i] + ((left + previous[i]) >> 1)) & 255
        elif kind == 4:  # Paeth
            for i in range(stride):
                a = line[i - channels] if i >= channels else 0
                b = previous[i]
                c = previous[i - channels] if i >= channels else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        else:
            check(kind == 0, f"{path}: row {y} has unknown filter type {kind}")
        rows.append(line)
        previous = line
    return width, height, channels, rows


def image_statistics(rows, channels):
    """Distinct colours and the standard deviation of the luminance (every 2nd pixel)."""
    colours, total, total_sq, count = set(), 0.0, 0.0, 0
    for line in rows:
        for i in range(0, len(line), 2 * channels):
            r, g, b = line[i], line[i + 1], line[i + 2]
            colours.add((r << 16) | (g << 8) | b)
            y = 0.299 * r + 0.587 * g + 0.114 * b
            total += y
            total_sq += y * y
            count += 1
    mean = total / count
    return len(colours), max(0.0, total_sq / count - mean * mean) ** 0.5, mean


def check_screenshot(path, width, height):
    png_width, png_height, channels, rows = read_png(path)
    check((png_width, png_height) == (width, height),
          f"{path}: {png_width}x{png_height}, but the window is {width}x{height}")
    colours, deviation, mean = image_statistics(rows, channels)
    log(f"screenshot {os.path.basename(path)}: {png_width}x{png_height}, {colours} distinct colours, "
        f"luminance mean {mean:.1f}, standard deviation {deviation:.1f}")
    check(colours >= 500, f"{path}: only {colours} distinct colours; the window looks blank")
    check(deviation >= 15, f"{path}: luminance standard deviation {deviation:.1f}; the window looks blank")
    return rows


# ---- The app ------------------------------------------------------------------


class App:
    """One `tensorscope gui` process with its own XDG dirs, test log and screenshots."""

    def __init__(self, binary, display, directory, args=(), xdg_from=None, validate=False, env=None, keep_xdg=False):
        self.display = display
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        self.xdg = xdg_from.xdg if xdg_from else {"XDG_CONFIG_HOME": os.path.join(directory, "config"),
                                                  "XDG_DATA_HOME": os.path.join(directory, "data"),
                                                  "XDG_CACHE_HOME": os.path.join(directory, "cache")}
        self.log_path = os.path.join(directory, "log.jsonl")
        self.output_path = os.path.join(directory, "output.txt")
        self.shots = os.path.join(directory, "screenshots")
        # Fresh state even when --out is reused: the log is appended to, and the XDG dirs
        # would bring back the last run's autosave, imgui.ini and window.json (keep_xdg:
        # the caller prepared them).
        for path in [self.shots, *([] if xdg_from or keep_xdg else self.xdg.values())]:
            shutil.rmtree(path, ignore_errors=True)
        if os.path.exists(self.log_path):
            os.remove(self.log_path)
        for path in [self.shots, *self.xdg.values()]:
            os.makedirs(path, exist_ok=True)
        self.lines, self._offset, self.window = [], 0, None
        self.validate = validate
        command = [binary_link(binary, directory), "gui", "--test-log", self.log_path, "--screenshot-dir", self.shots, *args]
        if validate:
            command.append("--validate")
        process_env = display.env()
        process_env.update(self.xdg)
        process_env.update(env or {})
        self.output = open(self.output_path, "w")
        log(f"start: {' '.join(command)}")
        self.process = subprocess.Popen(command, cwd=directory, env=process_env, stdout=self.output,
                                        stderr=subprocess.STDOUT)

    # -- the log

    def poll(self):
        """Reads the complete lines the app appended since the last call."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self._offset)
                data = f.read()
        except FileNotFoundError:
            return []
        end = data.rfind(b"\n") + 1
        self._offset += end
        new = [json.loads(line) for line in data[:end].decode().splitlines() if line.strip()]
        self.lines.extend(new)
        return new

    @property
    def last(self):
        self.poll()
        return self.lines[-1] if self.lines else {}

    def output_text(self):
        self.output.flush()
        with open(self.output_path, errors="replace") as f:
            return f.read()

    def alive(self):
        return self.process.poll() is None

    def wait_for(self, predicate, what, timeout):
        """Waits until a new or the latest log line satisfies `predicate`; returns it."""
        deadline = time.monotonic() + timeout
        candidates = self.lines[-1:]
        while True:
            for line in candidates:
                if predicate(line):
                    return line
            if not self.alive():
                self.poll()
                raise Failure(f"the app exited (code {self.process.returncode}) while waiting for {what}; "
                              f"last log line: {summary(self.lines[-1] if self.lines else None)}")
            if time.monotonic() > deadline:
                raise Failure(f"timed out after {timeout:.0f} s waiting for {what}; last log line: "
                              f"{summary(self.lines[-1] if self.lines else None)}")
            time.sleep(0.1)
            candidates = self.poll()

    def wait_for_rect(self, name, timeout=30):
        """Waits until the named rectangle is in the log and settled: the same in two
        consecutive lines, and not from the first frames (where ImGui has not yet
        placed the windows, so every rectangle is somewhere else)."""
        def settled(line):
            index = self.lines.index(line)
            previous = self.lines[index - 1] if index > 0 else {}
            rect = line.get("rects", {}).get(name)
            return rect is not None and line.get("time", 0) >= 0.5 and previous.get("rects", {}).get(name) == rect
        self.wait_for(settled, f"the '{name}' rectangle in the test log", timeout)
        return self.rect(name)

    def rect(self, name):
        for line in reversed(self.lines):
            if name in line.get("rects", {}):
                return line["rects"][name]
        raise Failure(f"no '{name}' rectangle in the test log (names: {sorted(self.last.get('rects', {}))})")

    def frame_seconds(self):
        """The median recent frame time, to know how long an input must last to be seen."""
        times = [t for line in self.lines[-5:] for t in line.get("frame_ms", [])]
        if not times:
            return 0.1
        return sorted(times)[len(times) // 2] / 1000.0

    def settle(self, frames=3):
        time.sleep(min(2.0, max(0.25, frames * self.frame_seconds())))

    # -- the window

    def xdotool(self, *args):
        result = subprocess.run(["xdotool", *map(str, args)], env=self.display.env(), capture_output=True, text=True,
                                timeout=30)
        check(result.returncode == 0, f"xdotool {' '.join(map(str, args))} failed: {result.stderr.strip()}")
        return result.stdout

    def find_window(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            check(self.alive(), f"the app exited (code {self.process.returncode}) before its window appeared:\n"
                                f"{self.output_text()}")
            result = subprocess.run(["xdotool", "search", "--pid", str(self.process.pid)], env=self.display.env(),
                                    capture_output=True, text=True)
            for window in result.stdout.split():
                name = subprocess.run(["xdotool", "getwindowname", window], env=self.display.env(),
                                      capture_output=True, text=True).stdout.strip()
                if name.startswith("Tensorscope"):
                    self.window = int(window)
                    log(f"window {self.window}: '{name}', {self.window_size()[0]}x{self.window_size()[1]}")
                    return self.window
            time.sleep(0.3)
        raise Failure(f"no Tensorscope window for pid {self.process.pid} after {timeout} s")

    def window_name(self):
        return self.xdotool("getwindowname", self.window).strip()

    def window_size(self):
        for line in self.xdotool("getwindowgeometry", self.window).splitlines():
            if "Geometry:" in line:
                width, height = line.split()[-1].split("x")
                return int(width), int(height)
        raise Failure("xdotool getwindowgeometry printed no geometry")

    def move_to(self, x, y):
        self.xdotool("mousemove", "--window", self.window, int(x), int(y))

    def click(self, name):
        """Clicks the middle of the named widget: move, let a frame see the hover, click."""
        x0, y0, x1, y1 = self.rect(name)
        self.click_at((x0 + x1) / 2, (y0 + y1) / 2, name)

    def drag(self, points, what=""):
        """Presses the left button at the first point, moves through the rest (a frame
        or more at each, so ImGui sees every position), and releases at the last."""
        log(f"drag {what} through {len(points)} points from ({points[0][0]:.0f}, {points[0][1]:.0f})")
        self.move_to(*points[0])
        self.settle(2)
        self.xdotool("mousedown", "1")
        self.settle(1)
        for x, y in points[1:]:
            self.move_to(x, y)
            self.settle(1)
        self.xdotool("mouseup", "1")
        self.settle(2)

    def click_at(self, x, y, what=""):
        log(f"click {what} at ({x:.0f}, {y:.0f})")
        self.move_to(x, y)
        self.settle(2)
        self.xdotool("click", "1")
        self.settle(2)

    def key(self, combo):
        """Presses and holds `combo` for a few frames: ImGui 1.86 reads key state
        once per frame, so a press and release between two frames would be lost."""
        log(f"key {combo}")
        self.xdotool("keydown", combo)
        self.settle(3)
        self.xdotool("keyup", combo)
        self.settle(1)

    def type(self, text):
        log(f"type {text!r}")
        self.xdotool("type", "--delay", "20", text)  # characters are queued, so no holding needed
        self.settle(2)

    def park_mouse(self):
        """Moves the pointer into the bottom-right corner so no tooltip covers a screenshot."""
        width, height = self.window_size()
        self.move_to(width - 2, height - 2)
        self.settle(3)

    def screenshot(self, timeout=60):
        before = set(os.listdir(self.shots))
        count = self.output_text().count("screenshot: ")
        os.kill(self.process.pid, signal.SIGUSR1)
        deadline = time.monotonic() + timeout
        while self.output_text().count("screenshot: ") <= count:  # printed once the PNG is written
            check(self.alive(), "the app exited while taking a screenshot")
            check(time.monotonic() < deadline, f"no screenshot {timeout} s after SIGUSR1")
            time.sleep(0.1)
        new = sorted(set(os.listdir(self.shots)) - before)
        check(len(new) == 1, f"expected one new screenshot, found {new}")
        return os.path.join(self.shots, new[0])

    def keeps_running(self, seconds=3.0):
        """Checks the process lives and the log keeps coming for `seconds`."""
        start = self.last.get("time", 0.0)
        self.wait_for(lambda line: line.get("time", 0.0) >= start + seconds,
                      f"log lines {seconds:.0f} s after t={start:.1f} (the app should keep running)", seconds + 30)
        check(self.alive(), "the app exited")

    def close_window(self, expect_exit=True, timeout=60):
        """Closes the window like a window manager and waits for the exit code."""
        log("close the window (WM_DELETE_WINDOW)")
        send_wm_delete(self.display.name, self.window)
        if not expect_exit:
            return None
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise Failure(f"the app did not exit {timeout} s after its window was closed")
        log(f"exited with code {code}")
        return code

    def check_validation(self):
        if self.validate:
            messages = [line for line in self.output_text().splitlines() if line.startswith("Vulkan validation")]
            check(not messages, f"{len(messages)} validation message(s), first: {messages[:1]}")

    def stop(self):
        """Ends the process (by its PID) if it still runs."""
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.output.close()


def binary_link(binary, directory):
    """The app runs through a link named tensorscope-guitest, so its process name is not
    "tensorscope": a `pkill -x tensorscope` typed elsewhere on the machine cannot end a test's app
    (the test itself signals its app by PID)."""
    link = os.path.join(directory, "tensorscope-guitest")
    if not os.path.islink(link):
        os.symlink(binary, link)
    return link


def summary(line):
    if not line:
        return "(no log line yet)"
    keep = {k: v for k, v in line.items() if k not in ("rects", "frame_ms")}
    return json.dumps(keep)


def validation_layer_installed():
    for directory in ("/usr/share/vulkan/explicit_layer.d", "/etc/vulkan/explicit_layer.d",
                      "/usr/local/share/vulkan/explicit_layer.d"):
        if os.path.exists(os.path.join(directory, "VkLayer_khronos_validation.json")):
            return True
    return False


# ---- Cases --------------------------------------------------------------------


def case_train_default(t):
    """The default project (spiral MLP): click Train, watch it learn, take a screenshot."""
    app = t.start("train_default")
    app.find_window()
    app.wait_for_rect("train")
    first = app.last
    default = len(default_layer_types())
    check(first["state"] == "empty", f"a fresh start should have no session yet; state {first['state']!r}")
    check(first["layers"] == default and first["project_path"] == "" and not first["dirty"],
          f"expected the default spiral project ({default} layers, unsaved, clean); log: {summary(first)}")
    check("spiral-mlp" in app.window_name(), f"window title {app.window_name()!r} does not name spiral-mlp")
    app.click("train")
    app.wait_for(lambda l: l["state"] in ("running", "finished"), "training to start", 60)
    line = app.wait_for(lambda l: l.get("epochs_done", 0) >= 10 or l["state"] in ("finished", "failed", "stopped"),
                        "10 epochs of training", t.train_timeout)
    log(f"after training: {summary(line)}")
    check(line["state"] in ("running", "finished"), f"training ended in state {line['state']!r}")
    check(line["notices"] == 0, f"unexpected notice: {line.get('last_notice')}")
    check(line["loss"] < line["first_loss"] / 3,
          f"loss {line['loss']:.4f} is not below a third of the first loss {line['first_loss']:.4f}")
    check(line["train_accuracy"] > 0.9, f"train accuracy {line['train_accuracy']:.3f} <= 0.9")
    check(line.get("validation_accuracy", 0) > 0.9, f"validation accuracy {line.get('validation_accuracy')} <= 0.9")
    # After each epoch the test set's sample predictions: the same 8 samples, mostly right by now.
    examples = line.get("test_examples", [])
    check(len(examples) == 8, f"expected 8 sample predictions after an epoch, found {len(examples)}")
    right = sum(1 for e in examples if e["label"] == e["predicted"])
    check(right >= 6 and all(0 <= e["confidence"] <= 1 for e in examples),
          f"sample predictions look wrong after 10 epochs: {examples}")
    app.park_mouse()
    path = app.screenshot()
    check_screenshot(path, *app.window_size())
    shutil.copy(path, os.path.join(t.out, "train_default.png"))
    # Quitting while training (clean project, so no prompt) keeps the network in last.ckpt.
    check(app.close_window() == 0, "the app's exit code was not 0")
    checkpoint = os.path.join(app.xdg["XDG_DATA_HOME"], "tensorscope", "last.ckpt")
    check(os.path.getsize(checkpoint) > 0, f"{checkpoint} was not written on quit")
    check("Saved the trained network" in app.output_text(), "no 'Saved the trained network' message on quit")


def case_build_and_save(t):
    """Add Tanh and Dense from the palette, edit the new layer's units, Save As,
    quit, reopen the file."""
    app = t.start("build_and_save")
    app.find_window()
    app.wait_for_rect("palette_tanh")
    start = app.last
    initial = default_layer_types()
    n = len(initial)
    check(start["layers"] == n, f"expected the {n}-layer default project; log: {summary(start)}")
    # Nothing selected: Tanh goes before the loss head and becomes the selection; Dense goes after it.
    expected = initial[:-1] + ["tanh", "dense"] + initial[-1:]
    app.click("palette_tanh")
    app.wait_for(lambda l: l["layers"] == n + 1 and l["dirty"], f"{n + 1} layers after adding Tanh", 30)
    app.click("palette_dense")
    app.wait_for(lambda l: l["layers"] == n + 2 and l["dirty"], f"{n + 2} layers after adding Dense", 30)
    # Wait for a frame with the new rows drawn: "dense_units" then is the last dense row's
    # field, the new layer's (row n), so it lines up with that row's rectangle.
    new_row = f"row_{n}"
    app.wait_for(lambda l: f"row_{n + 1}" in l.get("rects", {})
                 and abs(l["rects"]["dense_units"][1] - l["rects"][new_row][1]) <= 6, "the new rows' rectangles", 30)
    x0, y0, x1, y1 = app.rect("dense_units")
    row = app.rect(new_row)
    app.click_at((x0 + x1) / 2, (row[1] + row[3]) / 2, "the new dense layer's units field")
    app.key("ctrl+a")
    app.type("3")
    app.key("Return")

    save_path = os.path.join(t.out, "build_and_save", "saved", "my model.tsproj.json")
    app.click("save_as")
    app.wait_for_rect("path_input")
    app.settle(3)
    app.key("ctrl+a")  # the field has the keyboard focus when the popup opens
    app.type(save_path)
    app.click("path_ok")
    line = app.wait_for(lambda l: l["project_path"] == save_path and not l["dirty"],
                        "project_path set to the saved file and dirty false", 30)
    check(line["layers"] == n + 2 and line["model_error"] == "", f"after saving: {summary(line)}")
    check("*" not in app.window_name(), f"window title {app.window_name()!r} still marks unsaved changes")

    with open(save_path) as f:
        saved = json.load(f)
    layers = saved["model"]["layers"]
    types = [layer["type"] for layer in layers]
    log(f"saved layers: {[(l['type'], l.get('units')) for l in layers]}")
    check(saved["format"] == "tensorscope-project", f"saved format {saved.get('format')!r}")
    check(types == expected, f"saved layer types {types}, expected {expected}")
    check(layers[n].get("units") == 3, f"the new dense layer has units {layers[n].get('units')!r}; typed 3")

    check(app.close_window() == 0, "the app's exit code was not 0")

    # Reopen the file (same XDG dirs, as the same user would).
    again = t.start("build_and_save_reopen", ["--project", save_path], xdg_from=app)
    again.find_window()
    again.wait_for_rect("train", 60)
    line = again.last
    log(f"reopened: {summary(line)}")
    check(line["layers"] == n + 2, f"reopened project has {line['layers']} layers, saved {n + 2}")
    check(line["project_path"] == save_path and not line["dirty"], f"reopened: {summary(line)}")
    check(line["notices"] == 0 and line["model_error"] == "", f"reopened with a problem: {summary(line)}")
    check("spiral-mlp" in again.window_name() and "*" not in again.window_name(),
          f"window title {again.window_name()!r}: expected the project name without the unsaved mark")

    check(again.close_window() == 0, "the app's exit code was not 0")


def case_unsaved_quit(t):
    """Closing the window with unsaved changes asks first; "Discard changes" quits."""
    app = t.start("unsaved_quit")
    app.find_window()
    app.wait_for_rect("palette_relu")
    n = app.last["layers"]
    app.click("palette_relu")
    app.wait_for(lambda l: l["dirty"] and l["layers"] == n + 1, "the edit to mark the project modified", 30)
    app.close_window(expect_exit=False)
    app.settle(5)
    check(app.alive(), f"closing the window with unsaved changes quit at once (exit code "
                       f"{app.process.returncode}) instead of asking what to do with them")
    app.wait_for_rect("discard_prompt_discard")
    app.park_mouse()
    shutil.copy(app.screenshot(), os.path.join(t.out, "unsaved_quit_prompt.png"))
    app.click("discard_prompt_discard")
    try:
        code = app.process.wait(60)
    except subprocess.TimeoutExpired:
        raise Failure("the app did not exit after 'Discard changes'")
    check(code == 0, f"exit code {code} after 'Discard changes'")


def case_bad_project(t):
    """A malformed project file: a notice naming the file and JSON, the default project, and the app lives on."""
    path = os.path.join(t.out, "bad_project", "broken-project.tsproj.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write('{"format": "tensorscope-project", "version": 1, "name": "broken",\n "model": {"layers": [\n')
    app = t.start("bad_project", ["--project", path], validate=t.validate)
    app.find_window()
    app.wait_for_rect("train", 60)
    line = app.wait_for(lambda l: l["notices"] >= 1 and "broken-project.tsproj.json" in l.get("last_notice", "")
                        and "JSON" in l.get("last_notice", ""), "a notice naming the file and 'JSON'", 30)
    log(f"notice: {line['last_notice']!r}")
    check(line["layers"] == len(default_layer_types()) and line["project_path"] == "" and line["model_error"] == ""
          and not line["dirty"],
          f"expected the default project instead of the broken file; log: {summary(line)}")
    check("spiral-mlp" in app.window_name(), f"title {app.window_name()!r}")
    app.keeps_running(3)
    app.park_mouse()
    path = app.screenshot()
    check_screenshot(path, *app.window_size())
    shutil.copy(path, os.path.join(t.out, "bad_project.png"))
    check(app.close_window() == 0, "the app's exit code was not 0")
    app.check_validation()


def case_divergence(t):
    """SGD at learning rate 1e30: training stops with a notice that says it diverged; the app lives on."""
    project = {
        "format": "tensorscope-project", "version": 1, "name": "diverging",
        "model": {"format": "tensorscope-model", "version": 1, "name": "diverging", "layers": [
            {"type": "input", "shape": [2]}, {"type": "dense", "units": 32}, {"type": "relu"},
            {"type": "dense", "units": 3}, {"type": "softmax_cross_entropy"}]},
        "training": {"optimizer": "sgd", "learning_rate": 1e30, "batch_size": 32, "epochs": 5, "seed": 1},
        "data": {"kind": "spiral", "samples": 900, "classes": 3, "noise": 0.2, "seed": 1, "test_fraction": 0.2,
                 "path": "", "added_points": []},
    }
    path = os.path.join(t.out, "divergence", "diverging.tsproj.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(project, f, indent=2)
    app = t.start("divergence", ["--project", path], validate=t.validate)
    app.find_window()
    app.wait_for_rect("train", 60)
    line = app.last
    check(line["notices"] == 0 and line["model_error"] == "" and line["project_path"] == path,
          f"the project did not open cleanly: {summary(line)}")
    app.click("train")
    line = app.wait_for(lambda l: "diverged" in l.get("last_notice", ""), "a notice that says 'diverged'",
                        t.train_timeout)
    log(f"notice: {line['last_notice']!r}; state {line['state']!r}")
    check(line["state"] != "running", f"still running after divergence: {summary(line)}")
    app.keeps_running(3)
    app.park_mouse()
    shutil.copy(app.screenshot(), os.path.join(t.out, "divergence.png"))
    check(app.close_window() == 0, "the app's exit code was not 0")
    app.check_validation()


def shapes_cnn_project(name, samples, epochs):
    """A project with the shapes-cnn preset on a small built-in shapes set (epochs take seconds)."""
    with open(os.path.join(SOURCE_DIR, "assets", "models", "shapes-cnn.json")) as f:
        model = json.load(f)
    model.pop("training", None)
    return {
        "format": "tensorscope-project", "version": 1, "name": name, "model": model,
        "training": {"optimizer": "adam", "learning_rate": 0.002, "batch_size": 32, "epochs": epochs, "seed": 1,
                     "validation_fraction": 0.1},
        "data": {"kind": "shapes", "samples": samples, "classes": 8, "noise": 0.08, "seed": 1, "test_fraction": 0.2,
                 "path": "", "added_points": []},
    }


def case_inside_views(t):
    """Train shapes-cnn on a small shapes set, open the Inside window, look at every tab
    (filters, feature maps, histograms, the canvas and the mistakes), draw on the canvas."""
    path = os.path.join(t.out, "inside_views", "shapes-cnn.tsproj.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(shapes_cnn_project("inside", samples=600, epochs=4), f, indent=2)
    app = t.start("inside_views", ["--project", path])
    app.find_window()
    width, height = app.window_size()
    app.wait_for_rect("train", 60)
    title = app.wait_for_rect("inside_title")
    line = app.last
    check(line["notices"] == 0 and line["model_error"] == "", f"the project did not open cleanly: {summary(line)}")
    # The default layout: the Inside window is a title bar along the bottom, and asks the worker for nothing.
    check(not line["inside_open"], "the Inside window should start collapsed")
    check(title[3] <= height + 1 and title[1] >= height - 40,
          f"the collapsed Inside title bar {title} is not along the bottom of the {width}x{height} window")
    app.park_mouse()
    check_screenshot(app.screenshot(), width, height)

    app.click("train")
    line = app.wait_for(lambda l: l.get("epochs_done", 0) >= 1, "the first epoch", t.train_timeout)
    log(f"after one epoch: {summary(line)}")
    # Open the window: its collapse arrow sits at the left end of the title bar.
    x0, y0, x1, y1 = app.rect("inside_title")
    app.click_at(x0 + (y1 - y0) / 2, (y0 + y1) / 2, "the Inside window's collapse arrow")
    app.wait_for(lambda l: l["inside_open"], "the Inside window to open", 60)
    app.wait_for_rect("inside_tab_mistakes")

    def frames(since):
        """Median frame time and the last vertex count since log line `since` (lavapipe draws on the CPU)."""
        times = sorted(ms for line in app.lines[since:] for ms in line.get("frame_ms", []))
        median = times[len(times) // 2] if times else 0
        return f"frames p50 {median:.0f} ms over {len(times)}, {app.lines[-1].get('vertices')} vertices"

    def show(tab, name, ready, what):
        app.click(f"inside_tab_{tab}")
        line = app.wait_for(lambda l: l["inside_tab"] == name and ready(l), what, 60)
        app.park_mouse()
        app.poll()
        since = len(app.lines)
        time.sleep(2.5)  # the log writes a line (with the frame times since the last) about once a second
        app.poll()
        log(f"{name}: {frames(since)}")
        shot = app.screenshot()
        check_screenshot(shot, width, height)
        shutil.copy(shot, os.path.join(t.out, f"inside_{tab}.png"))
        return app.last

    line = show("filters", "Filters", lambda l: l["inside_drawn"]["filters"] == 32, "the 32 filters of conv2d_1")
    # Each tab has the worker run only the probe pass it shows: the chosen sample alone for Feature maps...
    line = show("maps", "Feature maps", lambda l: l["inside_drawn"]["feature_tiles"] >= 32
                and l.get("inside", {}).get("feature_maps", 0) > 0, "feature map tiles (at least relu_1's 32)")
    probe = line["inside"]
    log(f"feature maps: {line['inside_drawn']}; the worker's pass: {json.dumps(probe)}")
    check(probe["feature_maps"] == 8, f"shapes-cnn has 8 image-shaped layer outputs (3 conv, 3 relu, 2 pools); "
                                      f"the worker sent {probe['feature_maps']}")
    check(len(probe["sample_top"]) == 5 and all(0 <= p <= 1 for _, p in probe["sample_top"]),
          f"the chosen sample's top answers look wrong: {probe['sample_top']}")
    # ... and the probe batch for Activations.
    line = show("activations", "Activations", lambda l: l["inside_drawn"]["histograms"] >= 4
                and l.get("inside", {}).get("layers", 0) > 0, "histograms")
    probe = line["inside"]
    log(f"activations: {line['inside_drawn']}, dead: {probe['dead']}")
    check(probe["layers"] == 11 and len(probe["dead"]) == 4 and probe["probe_batch"] == 32,
          f"expected statistics of 11 layers and 4 ReLUs over 32 samples, found {probe}")
    check(all(0 <= share <= 1 for share in probe["dead"].values()), f"dead shares {probe['dead']}")

    # Predict: draw a ring on the canvas with the mouse; the answer's top classes sum to about 1.
    app.click("inside_tab_predict")
    app.wait_for(lambda l: l["inside_tab"] == "Predict" and "canvas" in l.get("rects", {}), "the canvas", 30)
    cx0, cy0, cx1, cy1 = app.wait_for_rect("canvas")
    centre_x, centre_y, radius = (cx0 + cx1) / 2, (cy0 + cy1) / 2, (cx1 - cx0) * 0.3
    ring = [(centre_x + radius * math.cos(2 * math.pi * k / 14), centre_y + radius * math.sin(2 * math.pi * k / 14))
            for k in range(15)]
    app.drag(ring, "a ring on the canvas")
    # The canvas sends its drawing a few times a second during a stroke: wait for the answer to the last one.
    app.settle(4)
    finished = app.last["time"]
    line = app.wait_for(lambda l: l["time"] >= finished and "canvas" in l
                        and l["canvas"]["request"] == l["canvas_requests"] and l["canvas"]["ink_pixels"] > 20
                        and not l["canvas"]["error"], "the answer to the finished drawing", 60)
    canvas = line["canvas"]
    log(f"canvas: {json.dumps(canvas)}")
    top = canvas["top"]
    check(len(top) == 5 and all(0 <= p <= 1 for _, p in top), f"expected 5 top answers, found {top}")
    check(abs(canvas["sum"] - 1) < 1e-3, f"the canvas's probabilities sum to {canvas['sum']}, not 1")
    check(top == sorted(top, key=lambda pair: -pair[1]), f"top answers not in order: {top}")
    check(line["canvas_requests"] >= 2, "the canvas should send its drawing while the stroke is drawn, not only at the end")
    log(f"the drawn ring is answered with class {top[0][0]} (6 is ring) at {top[0][1]:.0%}")
    app.settle(4)
    app.park_mouse()
    shot = app.screenshot()
    check_screenshot(shot, width, height)
    shutil.copy(shot, os.path.join(t.out, "inside_predict.png"))

    line = show("mistakes", "Mistakes", lambda l: l["inside_drawn"]["mistakes"] == min(16, l["test_mistakes"]),
                "the gallery of confident mistakes")
    log(f"mistakes: {line['test_mistakes']} in the gallery; frame ms while open: {line.get('frame_ms', [])[:12]}")
    check(line["test_mistakes"] > 0 or line.get("test_accuracy", 0) == 1, "no mistakes listed after an epoch")
    check(line["notices"] == 0, f"unexpected notice: {line.get('last_notice')}")
    check(app.close_window() == 0, "the app's exit code was not 0")


def case_gpu_insight(t):
    """Train the default project, open GPU insight from the GPU panel, open each of its eight tabs
    while training and take a screenshot of each (insight_<tab>.png); export the step timeline."""
    app = t.start("gpu_insight")
    app.find_window()
    width, height = app.window_size()
    app.wait_for_rect("train", 60)
    app.wait_for_rect("open_insight")
    check(not app.last.get("insight_open"), "the GPU insight window should start closed")
    app.click("train")
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
        "Bandwidth": (lambda l: l["insight_drawn"]["bandwidth_points"] > 10, "bandwidth points"),
        "Roofline": (lambda l: l["insight_drawn"]["dots"] > 3, "a dot per kernel"),
        "Timeline": (lambda l: l["insight_drawn"]["timeline_events"] > 3, "timeline events of a profiled submission"),
        "Memory": (lambda l: l["insight_drawn"]["memory_categories"] > 3, "memory categories"),
        "Device": (lambda l: l["insight_drawn"]["device_extensions"] > 3, "the relevant extensions"),
        "Ceilings": (lambda l: l["insight_drawn"]["ceilings"], "the measured ceilings"),
    }
    for tab, (predicate, what) in checks.items():
        app.click(f"insight_tab_{tab}")
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
        app.park_mouse()
        shot = app.screenshot()
        check_screenshot(shot, width, height)
        shutil.copy(shot, os.path.join(t.out, f"insight_{tab.lower()}.png"))
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
    app = t.start("occupancy_selection")
    app.find_window()
    width, height = app.window_size()
    app.wait_for_rect("train", 60)
    app.wait_for_rect("open_insight")
    app.click("train")
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
    check([key for key, _ in rows] == order, f"the sort the user picked did not stay: {[k for k, _ in rows]}")
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
    check([key for key, _ in rows] == order, f"the Kernels tab's sort did not stay: {[k for k, _ in rows]}")
    check(app.last["insight"]["selected_layer"] == layer, "the Kernels tab lost the selected layer")
    app.click("insight_tab_Occupancy")
    app.wait_for(lambda l: l.get("insight_tab") == "Occupancy", "the Occupancy tab again", 30)
    app.park_mouse()
    rows = wait_for_settled_rows(app, "back on the Occupancy tab")
    check(selected_key(app, rows) == chosen, f"back on Occupancy, {selected_key(app, rows)} is selected, not {chosen}")
    check(app.last["notices"] == 0, f"unexpected notice: {app.last.get('last_notice')}")
    check(app.close_window() == 0, "the app's exit code was not 0")


def rect_inside(inner, outer, slack=1.0):
    return (inner[0] >= outer[0] - slack and inner[1] >= outer[1] - slack and inner[2] <= outer[2] + slack
            and inner[3] <= outer[3] + slack)


def rects_overlap(a, b):
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


PANELS = ["window Model", "window Data", "window Training", "window GPU"]
STOP_CONTROLS = ["train", "pause", "stop"]


def check_layout(app, width, height, floating, training=True):
    """Every panel lies within the display, nothing floating covers the Train / Pause / Stop buttons,
    and the panels' contents fit their width (no controls cut at the right edge)."""
    line = app.last
    rects = line.get("rects", {})
    display = [0, 0, width, height]
    for name in PANELS + floating:
        check(name in rects, f"no '{name}' rectangle in the log; rects: {sorted(rects)}")
        check(rect_inside(rects[name], display), f"{name} {rects[name]} is not within the {width}x{height} display")
    for name in floating:
        for control in STOP_CONTROLS:
            check(not rects_overlap(rects[name], rects[control]),
                  f"{name} {rects[name]} covers the {control} button {rects[control]}")
    for name in PANELS + floating:
        content, inner = rects.get(name.replace("window ", "content ")), rects.get(name.replace("window ", "inner "))
        check(content and inner, f"no content or inner rectangle for {name}")
        check(content[2] <= inner[2] + 1,
              f"{name}'s content reaches x={content[2]:.0f}, past its visible area's right edge {inner[2]:.0f}: cut off")
    if not training:
        return rects
    gpu_table = rects.get("gpu_rates_table")
    check(gpu_table, "no 'gpu_rates_table' rectangle: the GPU panel's table was not drawn")
    inner = rects["inner GPU"]
    check(gpu_table[0] >= inner[0] - 1 and gpu_table[2] <= inner[2] + 1,
          f"the GPU panel's table {gpu_table} is wider than the panel's visible area {inner}")
    return rects


def layout_case(t, width, height):
    """At width x height: train, open GPU insight and the Inside window; every panel fits the display, and
    neither floating window covers the Train / Pause / Stop row. Screenshots: layout_<size>_*.png."""
    size = f"{width}x{height}"
    check(shutil.which("Xvfb"), "the layout cases need Xvfb (Debian package xvfb) for a display of their own size")
    display = Display("private", f"{size}x24")
    try:
        app = App(t.binary, display, os.path.join(t.out, f"layout_{size}"))
        t.apps.append(app)
        app.find_window()
        app.wait_for_rect("train", 60)
        if app.window_size() != (width, height):
            # The window opens at its default size (1440x900 at most): resized to fill the display, the
            # panels are placed again for the new size.
            log(f"resize the window from {app.window_size()} to {size}")
            app.xdotool("windowmove", app.window, 0, 0)
            app.xdotool("windowsize", app.window, width, height)
            deadline = time.monotonic() + 30
            while app.window_size() != (width, height):
                check(time.monotonic() < deadline, f"the window stays {app.window_size()} after resizing to {size}")
                time.sleep(0.2)
        app.wait_for(lambda l: l.get("rects", {}).get("window GPU", [0, 0, 0, 0])[2] == width,
                     f"the panels placed for {size}", 30)
        app.wait_for_rect("window GPU")
        app.park_mouse()
        check_layout(app, width, height, [], training=False)
        shot = app.screenshot()
        check_screenshot(shot, width, height)
        shutil.copy(shot, os.path.join(t.out, f"layout_{size}_start.png"))

        app.click("train")
        # A large window takes the CPU driver longer to draw, and it shares the cores with training.
        app.wait_for(lambda l: l["state"] == "running" and l.get("global_step", 0) > 5, "training to run",
                     t.train_timeout)
        app.click("open_insight")
        app.wait_for(lambda l: l.get("insight_open"), "the GPU insight window to open", 60)
        app.wait_for_rect("window GPU insight", 60)
        app.wait_for(lambda l: l["insight_drawn"]["rows"] > 3, "the kernel table", t.train_timeout)
        app.park_mouse()
        app.settle(3)
        rects = check_layout(app, width, height, ["window GPU insight"])
        log(f"{size}: GPU insight {rects['window GPU insight']}, stop {rects['stop']}")
        shot = app.screenshot()
        check_screenshot(shot, width, height)
        shutil.copy(shot, os.path.join(t.out, f"layout_{size}_insight.png"))
        app.click("open_insight")  # closes it
        app.wait_for(lambda l: not l.get("insight_open"), "the GPU insight window to close", 30)

        # The Inside window: opened from its bar along the bottom, it grows upwards, but not over the controls.
        x0, y0, x1, y1 = app.rect("inside_title")
        app.click_at(x0 + (y1 - y0) / 2, (y0 + y1) / 2, "the Inside window's collapse arrow")
        app.wait_for(lambda l: l["inside_open"], "the Inside window to open", 60)
        opened = lambda l: l.get("rects", {}).get("window Inside", [0, 0, 0, 0])[3] - \
            l.get("rects", {}).get("window Inside", [0, 0, 0, 0])[1] > 100
        app.wait_for(opened, "the Inside window's opened rectangle", 30)
        app.wait_for_rect("window Inside")
        app.park_mouse()
        app.settle(3)
        rects = check_layout(app, width, height, ["window Inside"])
        log(f"{size}: Inside {rects['window Inside']}")
        shot = app.screenshot()
        check_screenshot(shot, width, height)
        shutil.copy(shot, os.path.join(t.out, f"layout_{size}_inside.png"))
        # The Training panel brought to the front over it (a click on its title bar): opaque, nothing shows through.
        training = rects["window Training"]
        app.click_at(training[0] + (training[2] - training[0]) * 0.6, training[1] + 8, "the Training panel's title bar")
        app.park_mouse()
        app.settle(3)
        shot = app.screenshot()
        check_screenshot(shot, width, height)
        shutil.copy(shot, os.path.join(t.out, f"layout_{size}_training_front.png"))
        check(app.last["notices"] == 0, f"unexpected notice: {app.last.get('last_notice')}")
        check(app.close_window() == 0, "the app's exit code was not 0")
    finally:
        display.close()


def case_layout_1280x720(t):
    layout_case(t, 1280, 720)


def case_layout_1440x900(t):
    layout_case(t, 1440, 900)


def case_layout_2560x1440(t):
    layout_case(t, 2560, 1440)


CASES = {
    "train_default": case_train_default,
    "build_and_save": case_build_and_save,
    "bad_project": case_bad_project,
    "divergence": case_divergence,
    "unsaved_quit": case_unsaved_quit,
    "inside_views": case_inside_views,
    "gpu_insight": case_gpu_insight,
    "occupancy_selection": case_occupancy_selection,
    "layout_1280x720": case_layout_1280x720,
    "layout_1440x900": case_layout_1440x900,
    "layout_2560x1440": case_layout_2560x1440,
}


class Test:
    def __init__(self, options, display):
        self.binary = os.path.abspath(options.binary)
        self.out = os.path.abspath(options.out)
        self.display = display
        self.train_timeout = options.train_timeout
        self.validate = options.validate == "on" or (options.validate == "auto" and validation_layer_installed())
        self.apps = []

    def start(self, name, args=(), xdg_from=None, validate=False):
        app = App(self.binary, self.display, os.path.join(self.out, name), args, xdg_from, validate)
        self.apps.append(app)
        return app

    def finish(self, failed):
        for app in self.apps:
            if failed:
                print(f"--- {app.dir}: last log line: {summary(app.lines[-1] if app.lines else None)}")
                print(f"--- {app.output_path}:\n{app.output_text()[-4000:]}")
            app.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("case", choices=[*CASES, "all"])
    parser.add_argument("--binary", required=True, help="the tensorscope executable")
    parser.add_argument("--out", help="where logs and screenshots go (default: a new temporary folder)")
    parser.add_argument("--display", choices=["auto", "private", "inherit"], default="auto",
                        help="auto (default): a private Xvfb when Xvfb is installed, else $DISPLAY")
    parser.add_argument("--validate", choices=["auto", "on", "off"], default="auto",
                        help="run bad_project and divergence with the Vulkan validation layer (auto: when installed)")
    parser.add_argument("--train-timeout", type=float, default=180, help="seconds to wait for training results")
    options = parser.parse_args()
    options.out = options.out or tempfile.mkdtemp(prefix="tensorscope-gui-")
    os.makedirs(options.out, exist_ok=True)
    check(os.access(options.binary, os.X_OK), f"{options.binary} is not an executable")
    check(shutil.which("xdotool"), "xdotool is not installed (Debian package xdotool)")

    # A SIGTERM (CTest's timeout) still runs the clean-up below: the apps and Xvfb are ended.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    display = Display(options.display)
    failures = []
    try:
        for name in (CASES if options.case == "all" else [options.case]):
            log(f"=== {name} (artifacts in {options.out})")
            test = Test(options, display)
            started = time.monotonic()
            failed = True
            try:
                CASES[name](test)
                failed = False
                log(f"=== {name}: PASSED in {time.monotonic() - started:.0f} s")
            except Failure as e:
                log(f"=== {name}: FAILED: {e}")
                failures.append(name)
            except Exception:
                traceback.print_exc()
                log(f"=== {name}: ERROR")
                failures.append(name)
            finally:
                test.finish(failed)
    finally:
        display.close()
    return 1 if failures else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Failure as e:
        print(f"gui_test.py: {e}", file=sys.stderr)
        sys.exit(2)
