#!/usr/bin/env bash
# Regenerates assets/screenshot.png, the README screenshot: the default project
# (spiral MLP) after about 20 s of training, in a 1440x900 window.
#
#   assets/scripts/screenshot.sh [BINARY]      # BINARY defaults to build/tensorscope
#
# Builds nothing. Runs the app on its own virtual display (xvfb-run) with fresh
# $XDG_CONFIG_HOME and $XDG_DATA_HOME (so no saved layout or autosave of yours
# shows up), clicks Train with xdotool where the app's --test-log says the
# button is, waits, and takes the screenshot with SIGUSR1.
# Needs: xvfb-run (xvfb, xauth), xdotool, python3 (reads the test log).
# TRAIN_SECONDS (default 20) sets how long it trains before the picture.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
binary="$(realpath -m "${1:-$root/build/tensorscope}")"
target="$root/assets/screenshot.png"
train_seconds="${TRAIN_SECONDS:-20}"

if [[ ! -x "$binary" ]]; then
  echo "screenshot.sh: $binary is not an executable; build first (assets/scripts/tensorscope.sh build)" >&2
  exit 2
fi
for tool in xvfb-run xdotool python3; do
  command -v "$tool" >/dev/null || { echo "screenshot.sh: $tool is missing (apt-get install xvfb xauth xdotool python3)" >&2; exit 2; }
done

# Re-run this script inside a private virtual display of a fixed size.
if [[ -z "${TENSORSCOPE_SCREENSHOT_DISPLAY:-}" ]]; then
  TENSORSCOPE_SCREENSHOT_DISPLAY=1 exec xvfb-run -a -s "-screen 0 1600x1000x24" "${BASH_SOURCE[0]}" "$binary"
fi

work="$(mktemp -d)"
pid=""
cleanup() {
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/config" "$work/data" "$work/shots"

# The last line of the test log, read by python3: `log_get EXPRESSION` prints
# EXPRESSION evaluated with `line` (a dict) and `rects`, or nothing.
log_get() {
  python3 - "$work/log.jsonl" "$1" <<'EOF'
import json, sys
try:
    lines = [l for l in open(sys.argv[1]).read().splitlines() if l.strip()]
    line = json.loads(lines[-1]) if lines else {}
    rects = line.get("rects", {})
    value = eval(sys.argv[2])
    if value is not None and value is not False:
        print(value)
except Exception:
    pass
EOF
}

wait_until() {  # wait_until SECONDS DESCRIPTION EXPRESSION: polls the log until EXPRESSION is true
  local deadline=$((SECONDS + $1))
  while [[ -z "$(log_get "$3")" ]]; do
    kill -0 "$pid" 2>/dev/null || { echo "screenshot.sh: the app exited while waiting for $2:" >&2; cat "$work/output.txt" >&2; exit 1; }
    (( SECONDS < deadline )) || { echo "screenshot.sh: timed out waiting for $2" >&2; exit 1; }
    sleep 0.2
  done
}

# Data sets are not state: keep finding the ones installed under the real data dir
# (MNIST from fetch-mnist.sh), so the Data panel shows what this machine has.
data_dir="${TENSORSCOPE_DATA_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/tensorscope/data}"
# Through a link with another name, so a `pkill -x tensorscope` elsewhere cannot end it.
ln -s "$binary" "$work/tensorscope-screenshot"
TENSORSCOPE_DATA_DIR="$data_dir" XDG_CONFIG_HOME="$work/config" XDG_DATA_HOME="$work/data" \
  "$work/tensorscope-screenshot" gui --test-log "$work/log.jsonl" --screenshot-dir "$work/shots" >"$work/output.txt" 2>&1 &
pid=$!

# Where Train is, once the panels are placed (the first frame's rectangles are not final).
wait_until 120 "the Train button" 'line.get("time", 0) > 1.0 and "train" in rects'
window="$(xdotool search --sync --pid "$pid" --name '^Tensorscope' | head -n 1)"
read -r x y < <(log_get '"%d %d" % ((rects["train"][0] + rects["train"][2]) / 2, (rects["train"][1] + rects["train"][3]) / 2)')
xdotool mousemove --window "$window" "$x" "$y"
sleep 0.5
xdotool click 1
wait_until 60 "training to start" 'line.get("state") in ("running", "finished")'
echo "Training for ${train_seconds} s..."
# The pointer goes to the corner so that no tooltip covers the picture.
read -r width height < <(xdotool getwindowgeometry "$window" | awk '/Geometry/ {split($2, s, "x"); print s[1], s[2]}')
xdotool mousemove --window "$window" $((width - 2)) $((height - 2))
sleep "$train_seconds"
kill -0 "$pid" 2>/dev/null || { echo "screenshot.sh: the app exited:" >&2; cat "$work/output.txt" >&2; exit 1; }
log_get '"state %s, epoch %s, loss %.4f, train accuracy %.3f" % (line["state"], line.get("epochs_done"), line["loss"], line.get("train_accuracy", 0))'

kill -USR1 "$pid"
deadline=$((SECONDS + 60))
until grep -q "^screenshot: " "$work/output.txt"; do
  (( SECONDS < deadline )) || { echo "screenshot.sh: no screenshot 60 s after SIGUSR1" >&2; cat "$work/output.txt" >&2; exit 1; }
  sleep 0.2
done
cp "$work/shots/screenshot-1.png" "$target"
echo "Wrote $target ($(python3 -c 'import struct,sys; d=open(sys.argv[1],"rb").read(24); print("%dx%d" % struct.unpack(">II", d[16:24]))' "$target"))"
