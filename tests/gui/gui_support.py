"""What the GUI tests share: a private X display, the running app with its
test log, real input through xdotool, screenshots and PNG checks. The cases
live in gui_test.py (and run_cases.py); see gui_test.py for how they run."""

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
    """One `tensorscope gui` process (or `command`, e.g. "lab") with its own XDG dirs, test log and screenshots."""

    def __init__(self, binary, display, directory, args=(), xdg_from=None, validate=False, env=None, keep_xdg=False,
                 command="gui"):
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
        words = [binary_link(binary, directory), command, "--test-log", self.log_path, "--screenshot-dir", self.shots, *args]
        if validate:
            words.append("--validate")
        process_env = display.env()
        process_env.update(self.xdg)
        # The driver's default width unless the caller chose one: with fresh XDG dirs every
        # start on an AVX-512 CPU would otherwise measure 256 against 512 bits first.
        process_env.setdefault("LP_NATIVE_VECTOR_WIDTH", "256")
        process_env.update(env or {})
        self.output = open(self.output_path, "w")
        log(f"start: {' '.join(words)}")
        self.process = subprocess.Popen(words, cwd=directory, env=process_env, stdout=self.output,
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
        """The median recent frame time, to know how long an input must last to be seen. An idle
        window draws only a heartbeat frame every half second, but input makes it draw at once
        and often (ui/frame_pacer.h): idle gaps are not counted beyond 0.2 s."""
        times = [t for line in self.lines[-5:] for t in line.get("frame_ms", [])]
        if not times:
            return 0.1
        return min(0.2, sorted(times)[len(times) // 2] / 1000.0)

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
        """Clicks the middle of the named widget: move, let a frame see the hover, click.
        A widget not drawn yet (a window opening, a tab switching) is waited for."""
        if not any(name in line.get("rects", {}) for line in self.lines[-50:]):
            self.wait_for_rect(name)
        x0, y0, x1, y1 = self.rect(name)
        self.click_at((x0 + x1) / 2, (y0 + y1) / 2, name)

    def click_train(self, tries=3, timeout=30, start_timeout=240):
        """Clicks Train once it is enabled and until a run has started (or ended): on a loaded
        machine the first start's loading can outlast wait_for_rect, and a click in the
        window's first seconds can be lost. A click that was taken (the log's run_id moved on)
        is not repeated: a second click would start the run anew, and on a busy machine a
        run's start (its own device, made at a lower priority) can take minutes."""
        self.wait_for(lambda l: l.get("why_train_disabled") == "" and l["state"] != "running",
                      "Train to be enabled", 180)
        started = ("running", "finished", "failed")
        for attempt in range(tries):
            run_before = self.last.get("run_id")
            self.click("train")
            try:
                self.wait_for(lambda l: l["state"] in started or l.get("run_id") != run_before,
                              "the click on Train to be taken", timeout)
            except Failure:
                if not self.alive():
                    raise
            else:
                return self.wait_for(lambda l: l["state"] in started, "the run to start", start_timeout)
            if attempt + 1 == tries:
                raise Failure(f"Train was clicked {tries} times and no run started")
            log("the click on Train was not taken; clicking again")

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
        """Types `text`; each newline is a Return key (xdotool's type sends '\n' as a
        keysym GLFW does not know), given frames of its own: ImGui 1.86 inserts a
        frame's queued characters before that frame's Return."""
        log(f"type {text!r}")
        for index, line in enumerate(text.split("\n")):
            if index:
                self.settle(1)
                self.xdotool("key", "Return")
                self.settle(2)
            if line:
                self.xdotool("type", "--delay", "20", line)  # characters are queued, so no holding needed
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


def long_spiral_project(directory, epochs=100000, learning_rate=0.001):
    """The spiral-mlp preset with `epochs` epochs and `learning_rate`, written into `directory`: a
    run that trains through a whole case (the preset's 60 epochs take the window a few seconds
    now). At the preset's learning rate (0.01) a long run's loss, near 0.001, has real Adam spikes
    that the loss watch reports (CI once saw 0.0036 -> 0.064 at step 24917); a tenth of it keeps
    the loss higher and steadier, so a case's "no notice" check is about the case."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(root, "assets", "models", "spiral-mlp.json")) as f:
        model = json.load(f)
    model["training"]["epochs"] = epochs
    if learning_rate is not None:
        model["training"]["learning_rate"] = learning_rate
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "spiral-long.json")
    with open(path, "w") as f:
        json.dump(model, f)
    return path


def binary_link(binary, directory):
    """The app runs through a link named tensorscope-guitest, so its process name is not
    "tensorscope": a `pkill -x tensorscope` typed elsewhere on the machine cannot end a test's app
    (the test itself signals its app by PID)."""
    link = os.path.join(directory, "tensorscope-guitest")
    # A directory left by an earlier run (its name has a PID, which repeats) may hold a
    # link to another build: always point it at this one.
    if os.path.islink(link) and os.readlink(link) != binary:
        os.remove(link)
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
