#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, with AddressSanitizer and
# UndefinedBehaviorSanitizer) in build-fuzz/, makes the seed corpora, replays
# every saved finding as a regression, then fuzzes each target for a while.
#
#   tests/fuzz/run.sh                  every target, 30 s each
#   tests/fuzz/run.sh 600              every target, 10 minutes each
#   tests/fuzz/run.sh 60 csv idx       only those targets
#
# Targets: model train_config checkpoint csv idx cifar image project onnx puzzle_progress device_model
# puzzle_kernel.
# The bar: no crash, no sanitizer report, no input that takes more than 2 s
# (-timeout=2) or 1 GiB (-rss_limit_mb=1024, which also caps one allocation).
# A finding is written to build-fuzz/findings/TARGET/; once fixed, copy it into
# tests/fuzz/regressions/TARGET/ so every later run replays it first.
# Corpora grow in build-fuzz/corpus/TARGET/ from run to run.
# Environment: FUZZ_BUILD_DIR (default: build-fuzz), JOBS (build jobs),
# FUZZ_TIMEOUT (default 2): the wall-clock seconds after which libFuzzer stops
# at an input as a timeout. A fuzzer run with nice -n 19 on a machine busy with
# other work can wait seconds for a core (seen: inputs that take 0.1 s of CPU
# stopped as 2 s timeouts); there, raise FUZZ_TIMEOUT: every input slower than
# 2 s is still saved (slow-unit-*) and replayed alone, where 2 s is the bar.
# A CI script needs one line, e.g. "tests/fuzz/run.sh 30".
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build_dir="${FUZZ_BUILD_DIR:-$root/build-fuzz}"
jobs="${JOBS:-$(nproc)}"
seconds="${1:-30}"
[[ $# -gt 0 ]] && shift
targets=("$@")
[[ ${#targets[@]} -eq 0 ]] && targets=(model train_config checkpoint csv idx cifar image project onnx puzzle_progress device_model puzzle_kernel)

command -v clang++ >/dev/null || { echo "tests/fuzz/run.sh needs clang (apt-get install clang)" >&2; exit 2; }
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=clang++ "${launcher[@]}" \
  -DTENSORSCOPE_BUILD_TESTS=OFF -DTENSORSCOPE_BUILD_FUZZERS=ON \
  -DCMAKE_CXX_FLAGS="-g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
cmake --build "$build_dir" --parallel "$jobs" --target fuzz_make_seeds "${targets[@]/#/fuzz_}"

# Seeds of this run only, so runs of different targets may go side by side.
seeds="$build_dir/seeds.$$"
trap 'rm -rf "$seeds"' EXIT
"$build_dir/tests/fuzz/fuzz_make_seeds" "$seeds"

export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
limits=(-timeout="${FUZZ_TIMEOUT:-2}" -rss_limit_mb=1024 -max_len=65536)
alone=(-timeout=2 -rss_limit_mb=1024)
status=0
for target in "${targets[@]}"; do
  binary="$build_dir/tests/fuzz/fuzz_$target"
  corpus="$build_dir/corpus/$target"
  findings="$build_dir/findings/$target"
  mkdir -p "$corpus" "$findings"
  cp -n "$seeds/$target"/* "$corpus"/ 2>/dev/null || true
  log="$build_dir/fuzz-$target.log"
  # Every saved finding first, as a regression: each must load or be refused.
  regressions="$root/tests/fuzz/regressions/$target"
  if compgen -G "$regressions/*" >/dev/null; then
    if ! "$binary" "${limits[@]}" "$regressions"/* >"$log.regressions" 2>&1; then
      echo "fuzz_$target: a saved regression input fails again (see $log.regressions)"
      status=1
      continue
    fi
  fi
  rm -f "$findings"/slow-unit-*
  if "$binary" "${limits[@]}" -report_slow_units=2 -max_total_time="$seconds" -print_final_stats=1 \
      -artifact_prefix="$findings/" "$corpus" "$seeds/$target" >"$log" 2>&1; then
    # An input that took 2 s or more while fuzzing (the machine may have been busy) must not, run alone.
    slow_units=0 slow_findings=0
    for unit in "$findings"/slow-unit-*; do
      [[ -e "$unit" ]] || continue
      slow_units=$((slow_units + 1))
      if ! "$binary" "${alone[@]}" "$unit" >"$log.$(basename "$unit")" 2>&1; then
        echo "fuzz_$target: FINDING: $unit takes 2 s or 1 GiB even alone (see $log.$(basename "$unit"))"
        slow_findings=$((slow_findings + 1))
        status=1
      fi
    done
    runs="$(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')"
    slowest="$(grep -m1 -o 'stat::slowest_unit_time_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')"
    peak="$(grep -m1 -o 'stat::peak_rss_mb: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')"
    printf 'fuzz_%-13s %4s s, %9s inputs, slowest %s s, peak RSS %s MB, corpus %s files, %s slow input(s) replayed alone' \
      "$target" "$seconds" "$runs" "$slowest" "$peak" "$(ls "$corpus" | wc -l)" "$slow_units"
    [[ $slow_findings == 0 ]] && printf ': no finding\n' || printf '\n'
  else
    echo "fuzz_$target: FINDING (see $log and $findings/):"
    grep -E -m5 'ERROR|runtime error|timeout|out-of-memory|deadly signal' "$log" || tail -20 "$log"
    status=1
  fi
done
exit $status
