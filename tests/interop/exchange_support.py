"""Helpers shared by the exchange checks (tests/interop/*.py): running tensorscope,
writing CSV data, reading its predictions files.

Only the standard library and numpy are used here.
"""
import csv
import os
import subprocess
import sys

import numpy as np

SKIP = 77  # CTest's SKIP_RETURN_CODE for these checks


def require_modules(*names):
    """Exits with SKIP (and says what to install) when a module is missing."""
    missing = []
    for name in names:
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    if missing:
        packages = {"onnx": "python3-onnx", "cv2": "python3-opencv", "torch": "python3-torch", "numpy": "python3-numpy"}
        print("skipped: /usr/bin/python3 cannot import %s (sudo apt-get install %s)"
              % (", ".join(missing), " ".join(packages.get(m, m) for m in missing)))
        sys.exit(SKIP)


def run(binary, *arguments, expect=0):
    """Runs `tensorscope ARGUMENTS`; fails the check unless it exits with `expect`."""
    result = subprocess.run([binary] + [str(a) for a in arguments], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    if expect is not None and result.returncode != expect:
        raise AssertionError("tensorscope %s exited with %d (expected %d):\n%s"
                             % (" ".join(str(a) for a in arguments), result.returncode, expect, result.stdout))
    return result


def write_csv(path, features, labels):
    """A CSV Tensorscope reads: the features, then the label column last."""
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        for row, label in zip(features, labels):
            writer.writerow(["%.9g" % v for v in row] + [int(label)])


def random_data(rng, count, features, classes):
    """Normal features; labels cycling through every class (each class present)."""
    x = rng.standard_normal((count, features)).astype(np.float32)
    y = np.arange(count) % classes
    rng.shuffle(y)
    return x, y


def read_predictions(path):
    """(features as the network saw them (N, F) or None, labels, probabilities (N, K))."""
    with open(path) as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    x_columns = [i for i, name in enumerate(header) if name.startswith("x")]
    p_columns = [i for i, name in enumerate(header) if name.startswith("p")]
    label = header.index("label")
    data = np.array([[float(v) for v in row] for row in body], dtype=np.float64)
    x = data[:, x_columns].astype(np.float32) if x_columns else None
    return x, data[:, label].astype(np.int64), data[:, p_columns]


def nchw(x, shape):
    """Tensorscope's flat samples (H, W, C order for images) as an NCHW (or N, F) array."""
    if len(shape) == 3:
        c, h, w = shape
        return np.ascontiguousarray(x.reshape(-1, h, w, c).transpose(0, 3, 1, 2))
    return x.reshape(-1, *shape)


def compare(name, ours, theirs, tolerance):
    """Fails unless every probability agrees within `tolerance`; prints the worst difference."""
    ours = np.asarray(ours, dtype=np.float64)
    theirs = np.asarray(theirs, dtype=np.float64).reshape(ours.shape)
    worst = float(np.max(np.abs(ours - theirs)))
    print("%-40s max |difference| %.3g over %d probabilities" % (name, worst, ours.size))
    if not worst <= tolerance:
        raise AssertionError("%s: probabilities differ by %.3g > %.0e" % (name, worst, tolerance))


def workdir(name):
    base = os.environ.get("TMPDIR", "/tmp")
    path = os.path.join(base, "tensorscope-%s-%d" % (name, os.getpid()))
    os.makedirs(path, exist_ok=True)
    return path
