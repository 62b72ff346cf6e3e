#!/usr/bin/env bash
# Tensorscope on a real GPU, from the bundle that tests/gpu/bundle.sh makes:
#
#   tar xzf tensorscope-gpu-check.tar.gz && tensorscope-gpu-check/check.sh
#
# For an x86-64 Linux machine with an NVIDIA, AMD or Intel GPU and its Vulkan
# driver; needs nothing else installed (glibc 2.36 or newer; the bundle carries
# the Vulkan loader, the validation layer and every other library) and no
# network. Runs, inside about 10 minutes on a GPU:
#   1. `tensorscope devices` (if the loader finds no GPU, the vendor's ICD
#      manifest is looked for in the usual places and given to the loader in
#      VK_DRIVER_FILES / VK_ICD_FILENAMES);
#   2. the kernel, training, checkpoint and profile tests (validation layer on:
#      any validation message fails a test), not those that need a window or
#      python3-torch;
#   3. `bench --ceilings`, `bench --model mnist-mlp`, `bench --model
#      cifar10-cnn` and `bench --precision fp16` of both on random data;
# and writes one report, report.txt and report.json, with pass/fail counts, in
# the output directory (default: ./tensorscope-gpu-report-DATE).
#
# Options:
#   --out DIR         where the report and the logs go
#   --quick           devices, two short test files and `bench --ceilings` only
#   --allow-software  run on a software device (lavapipe) when no GPU is found,
#                     instead of stopping: the dry run on a machine without a GPU
#   --bundled-libs    put every bundled library on the library path, even where
#                     the system has its own (by default a bundled library is
#                     used only where the system lacks it or has an older one)
#   --budget SECONDS  stop starting new steps after this long (default 540)
#
# Exit status: 0 when every step passed, 1 when one failed, 2 when no usable
# device was found (nothing ran).
set -uo pipefail

bundle="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$PWD/tensorscope-gpu-report-$(date -u +%Y%m%d-%H%M%S)"
quick=false
allow_software=false
bundled_libs=false
budget_s=540
while [[ $# -gt 0 ]]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --quick) quick=true; shift ;;
    --allow-software) allow_software=true; shift ;;
    --bundled-libs) bundled_libs=true; shift ;;
    --budget) budget_s="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^set -uo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "check.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
mkdir -p "$out/logs" || exit 2
out="$(cd "$out" && pwd)"
work="$out/work"
mkdir -p "$work/home" "$work/cache" "$work/config" "$work/data" "$work/libs" "$work/tmp"
started=$(date +%s)
steps=()  # one JSON object per step, for report.json
text_rows=()

# --- the environment: nothing of the user's caches, data or display --------
export HOME="$work/home" XDG_CACHE_HOME="$work/cache" XDG_CONFIG_HOME="$work/config" XDG_DATA_HOME="$work/data"
export TENSORSCOPE_DATA_DIR="$work/data" TMPDIR="$work/tmp"
export TENSORSCOPE_TEST_BINARY="$bundle/bin/tensorscope"
unset DISPLAY WAYLAND_DISPLAY
# The bundle's validation layer, whatever the system has.
export VK_LAYER_PATH="$bundle/share/vulkan/explicit_layer.d"
tensorscope="$bundle/bin/tensorscope"

json_string() {  # a JSON string literal of $1
  local s=$1
  s=${s//\\/\\\\}; s=${s//\"/\\\"}; s=${s//$'\t'/\\t}; s=${s//$'\r'/}; s=${s//$'\n'/\\n}
  s=$(printf '%s' "$s" | tr -d '\000-\010\013\014\016-\037')
  printf '"%s"' "$s"
}

# record NAME STATUS SECONDS PASSED FAILED SKIPPED DETAIL
record() {
  steps+=("{\"name\": $(json_string "$1"), \"status\": \"$2\", \"seconds\": $3, \"passed\": $4, \"failed\": $5, \"skipped\": $6, \"detail\": $(json_string "$7")}")
  text_rows+=("$(printf '%-34s %-7s %5ss  passed %4s  failed %3s  skipped %3s  %s' "$1" "$2" "$3" "$4" "$5" "$6" "${7%%$'\n'*}")")
  printf '%-34s %-7s %5ss  passed %s, failed %s, skipped %s\n' "$1" "$2" "$3" "$4" "$5" "$6"
}

# --- shared libraries: the bundle's loader and layer always; any other bundled
# library only where the system lacks it or has one too old ----------------
ldso=/lib64/ld-linux-x86-64.so.2
library_notes=""
if [[ ! -x $ldso ]]; then
  echo "check.sh: $ldso not found: this bundle needs an x86-64 glibc Linux." >&2
  exit 2
fi
elf_files=("$bundle"/bin/* "$bundle"/lib/*.so*)
if $bundled_libs; then
  ln -sf "$bundle"/lib/fallback/* "$work/libs/"
  library_notes="every bundled library (--bundled-libs)"
else
  # The dynamic linker in ldd's tracing mode names what the system cannot
  # satisfy: "libX.so.N => not found", or ".../libX.so.N: version `V' not
  # found". Link the bundle's copy of each into $work/libs and ask again,
  # until nothing is missing.
  for _ in $(seq 1 20); do
    unresolved=$(for f in "${elf_files[@]}"; do
      LD_LIBRARY_PATH="$bundle/lib:$work/libs" LD_TRACE_LOADED_OBJECTS=1 "$ldso" "$f" 2>&1; done |
      sed -n -e 's/^[[:space:]]*\([^[:space:]]*\) => not found.*/\1/p' \
             -e "s/.*[[:space:]/]\\([^[:space:]/:]*\\.so[^[:space:]/:]*\\): version \`.*' not found.*/\\1/p" | sort -u)
    [[ -z $unresolved ]] && break
    added=false
    for soname in $unresolved; do
      if [[ -e $bundle/lib/fallback/$soname && ! -e $work/libs/$soname ]]; then
        ln -s "$bundle/lib/fallback/$soname" "$work/libs/$soname"
        added=true
      fi
    done
    $added || break
  done
  used=$(cd "$work/libs" && ls)
  library_notes="from the bundle where the system lacks them or has older ones: ${used:-none}${unresolved:+; UNRESOLVED: $unresolved}"
fi
export LD_LIBRARY_PATH="$bundle/lib:$work/libs"
# NVIDIA's container toolkit puts the driver's libraries here.
for dir in /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do
  [[ -d $dir ]] && LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$dir"
done
echo "libraries: $library_notes"
if [[ -n ${unresolved:-} ]] && echo "$unresolved" | grep -qE '^(libc|libm|libpthread|libdl|librt)\.so'; then
  echo "check.sh: this machine's glibc ($(getconf GNU_LIBC_VERSION 2>/dev/null || echo unknown)) is older than the" \
       "bundle needs ($(cat "$bundle/GLIBC_REQUIRED" 2>/dev/null)); run the check on a newer system." >&2
fi

# --- the device: the loader's own search first, then the vendors' manifests ---
devices_log="$out/logs/devices.txt"
probe_devices() {
  timeout 120 "$tensorscope" devices >"$devices_log" 2>&1
}
has_gpu() { grep -qE '^ +type: (discrete|integrated|virtual) GPU' "$devices_log"; }
has_device() { grep -qE '^ +type: ' "$devices_log"; }
icd_dirs=(/usr/share/vulkan/icd.d /etc/vulkan/icd.d /usr/local/share/vulkan/icd.d /usr/local/etc/vulkan/icd.d
  /usr/local/nvidia/share/vulkan/icd.d /usr/local/nvidia/vulkan/icd.d /opt/amdgpu-pro/etc/vulkan/icd.d
  /opt/amdgpu/share/vulkan/icd.d)
IFS=: read -r -a xdg_dirs <<<"${XDG_DATA_DIRS:-}"
for dir in "${xdg_dirs[@]}"; do [[ -n $dir ]] && icd_dirs+=("$dir/vulkan/icd.d"); done
find_manifests() {  # the manifests in the usual places whose names match $@
  local dir pattern file
  for dir in "${icd_dirs[@]}"; do
    for pattern in "$@"; do
      for file in "$dir"/$pattern; do [[ -f $file ]] && echo "$file"; done
    done
  done | awk '!seen[$0]++'
}
use_manifests() {  # use_manifests "$(find_manifests ...)": hands them to the loader; false if none
  local list
  list=$(paste -sd: - <<<"$1")
  [[ -z $list ]] && return 1
  export VK_DRIVER_FILES="$list" VK_ICD_FILENAMES="$list"  # the second for loaders before 1.3.207
  echo "driver manifests given to the loader: $list"
}
driver_note="found by the Vulkan loader's own search"
user_driver_files=${VK_DRIVER_FILES-unset} user_icd_filenames=${VK_ICD_FILENAMES-unset}
restore_driver_files() {
  if [[ $user_driver_files == unset ]]; then unset VK_DRIVER_FILES; else export VK_DRIVER_FILES="$user_driver_files"; fi
  if [[ $user_icd_filenames == unset ]]; then unset VK_ICD_FILENAMES; else export VK_ICD_FILENAMES="$user_icd_filenames"; fi
}
probe_devices
if ! has_gpu; then
  vendor_manifests=$(find_manifests 'nvidia*.json' 'radeon*.json' 'amd*.json' 'intel*.json')
  if use_manifests "$vendor_manifests"; then
    probe_devices
    if has_gpu; then
      driver_note="the loader found no GPU by itself; vendor manifests given in VK_DRIVER_FILES: $VK_DRIVER_FILES"
    else
      driver_note="vendor manifests found no GPU either ($(paste -sd' ' - <<<"$vendor_manifests"))"
      restore_driver_files
      probe_devices
    fi
  fi
fi
if ! has_gpu && $allow_software; then
  if use_manifests "$(find_manifests 'lvp_icd*.json')"; then
    driver_note="no GPU ($driver_note); --allow-software: lavapipe's manifest given in VK_DRIVER_FILES: $VK_DRIVER_FILES"
    probe_devices
  fi
fi
device_name=$(sed -n 's/^\* \[[0-9]*\] //p' "$devices_log" | head -1)
if ! has_device || { ! has_gpu && ! $allow_software; }; then
  if has_device; then
    why="no GPU found: the loader sees only software devices ($device_name)"
  else
    why="no Vulkan device found"
  fi
  why="$why; searched ${icd_dirs[*]} for nvidia*, radeon*, amd*, intel* manifests. Is the GPU driver installed (for NVIDIA: the driver's Vulkan ICD, nvidia_icd.json)? --allow-software runs on a software device anyway"
  # What the loader tried and why each driver failed, for the person at the machine.
  VK_LOADER_DEBUG=error,warn,driver timeout 120 "$tensorscope" devices >"$out/logs/loader-debug.txt" 2>&1
  why="$why; $driver_note; the loader's own account: logs/loader-debug.txt"
  has_device || why="$why; tensorscope devices said: $(tail -3 "$devices_log")"
  echo "check.sh: $why" >&2
  record "devices" fail 0 0 1 0 "$why"
  no_device=true
else
  no_device=false
  record "devices" pass 0 1 0 0 "$device_name ($driver_note)"
fi

# --- the steps -----------------------------------------------------------------
elapsed() { echo $(($(date +%s) - started)); }
over_budget() { (($(elapsed) >= budget_s)); }

# The test executables and their gtest filters: tests.txt (name, filter, "quick").
tests=()
while read -r name filter tag; do
  [[ -z $name || $name == \#* ]] && continue
  $quick && [[ ${tag:-} != quick ]] && continue
  tests+=("$name $filter")
done <"$bundle/tests.txt"

run_test() {  # run_test NAME FILTER
  local name=$1 filter=$2 log="$out/logs/$1.txt" t0 rc passed failed skipped status detail
  t0=$(date +%s)
  timeout 300 "$bundle/bin/$name" --gtest_brief=1 "--gtest_filter=$filter" >"$log" 2>&1
  rc=$?
  passed=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
  failed=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
  skipped=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
  passed=${passed:-0} failed=${failed:-0} skipped=${skipped:-0}
  detail=""
  if [[ $rc -eq 0 && $failed -eq 0 ]]; then
    status=pass
  else
    status=fail
    detail=$(grep -E '^\[  FAILED  \] [A-Za-z]' "$log" | sed 's/^\[  FAILED  \] //' | sort -u | paste -sd';' -)
    if [[ $rc -eq 124 ]]; then
      detail="timed out after 300 s; $detail"
    elif ((rc > 128)); then
      detail="crashed (signal $((rc - 128))); $detail"
    fi
    ((failed == 0)) && failed=1
  fi
  record "$name" "$status" "$(($(date +%s) - t0))" "$passed" "$failed" "$skipped" "$detail"
}

run_bench() {  # run_bench NAME ARGS...: bench with --json, then the text table (cached ceilings)
  local name=$1 log="$out/logs/$1.txt" t0 rc status detail
  shift
  t0=$(date +%s)
  timeout 300 "$tensorscope" bench "$@" --json >"$out/logs/$name.json" 2>"$log"
  rc=$?
  # The headline figures (a model's report nests the ceilings it read: not those).
  detail=$(sed 's/"ceilings":{[^}]*}//' "$out/logs/$name.json" 2>/dev/null |
    grep -oE '"(device|data|batch|step_gpu_ns|invocation_mismatches|fp32_gflops|bandwidth_gbs|precision|samples_per_second_vs_fp32)":("[^"]*"|[0-9.e+-]+)|"matmul_kernels":\{[^}]*\}' |
    paste -sd' ' -)
  if [[ $rc -eq 0 ]] && grep -qE '"invocation_mismatches":[1-9]' "$out/logs/$name.json"; then
    rc=1  # the shaders ran other invocation counts than their dispatches declare
    detail="pipeline statistics disagree with the declared invocations: $detail"
  fi
  if [[ $rc -eq 0 ]]; then
    status=pass
  else
    status=fail
    detail="exit $rc: $(tail -3 "$log") $detail"
  fi
  record "$name" "$status" "$(($(date +%s) - t0))" "$((rc == 0))" "$((rc != 0))" 0 "$detail"
}

if ! $no_device; then
  for entry in "${tests[@]}"; do
    name=${entry%% *} filter=${entry#* }
    if over_budget; then
      record "$name" skipped 0 0 0 0 "not started: the ${budget_s} s budget was spent"
    elif [[ ! -x $bundle/bin/$name ]]; then
      record "$name" fail 0 0 1 0 "not in the bundle"
    else
      run_test "$name" "$filter"
    fi
  done
  benches=("bench-ceilings --ceilings")
  # fp16 against fp32: on a GPU with tensor cores the autotuner may pick the
  # cooperative-matrix matmul (the JSON's matmul_kernels say which ran).
  $quick || benches+=("bench-mnist-mlp --model mnist-mlp" "bench-cifar10-cnn --model cifar10-cnn"
                      "bench-fp16-mnist-mlp --precision fp16 --model mnist-mlp --batch 1024 --rounds 3"
                      "bench-fp16-cifar10-cnn --precision fp16 --model cifar10-cnn --rounds 3")
  for entry in "${benches[@]}"; do
    name=${entry%% *}
    if over_budget; then
      record "$name" skipped 0 0 0 0 "not started: the ${budget_s} s budget was spent"
    else
      # shellcheck disable=SC2086
      run_bench $entry
    fi
  done
  # The ceilings as a person reads them (from the cache the run above filled).
  "$tensorscope" bench --ceilings >"$out/logs/bench-ceilings.txt" 2>&1
fi

# --- the report ------------------------------------------------------------------
total_passed=0 total_failed=0 total_skipped=0 steps_failed=0
for row in "${steps[@]}"; do
  p=$(sed -n 's/.*"passed": \([0-9]*\).*/\1/p' <<<"$row")
  f=$(sed -n 's/.*"failed": \([0-9]*\).*/\1/p' <<<"$row")
  s=$(sed -n 's/.*"skipped": \([0-9]*\).*/\1/p' <<<"$row")
  total_passed=$((total_passed + p)) total_failed=$((total_failed + f)) total_skipped=$((total_skipped + s))
  grep -q '"status": "fail"' <<<"$row" && steps_failed=$((steps_failed + 1))
done
seconds=$(elapsed)
bundle_info=$(cat "$bundle/BUNDLE-INFO" 2>/dev/null)
{
  echo "Tensorscope GPU check, $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -srm), glibc $(getconf GNU_LIBC_VERSION 2>/dev/null | cut -d' ' -f2)"
  echo "CPU: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -1)"
  echo "Bundle: $bundle_info"
  echo "Device: ${device_name:-none} ($driver_note)"
  echo "Libraries: $library_notes"
  echo "Options: quick=$quick allow_software=$allow_software bundled_libs=$bundled_libs budget=${budget_s}s"
  echo
  for row in "${text_rows[@]}"; do echo "$row"; done
  echo
  echo "$total_passed passed, $total_failed failed, $total_skipped skipped ($steps_failed of ${#steps[@]} steps failed; ${seconds} s)"
  echo
  echo "Logs: $out/logs (devices.txt: the full device listing; bench-*.json: the benchmarks)"
} >"$out/report.txt"
{
  echo "{"
  echo "  \"date\": $(json_string "$(date -u +%Y-%m-%dT%H:%M:%SZ)"),"
  echo "  \"system\": $(json_string "$(uname -srm)"),"
  echo "  \"bundle\": $(json_string "$bundle_info"),"
  echo "  \"device\": $(json_string "${device_name:-none}"),"
  echo "  \"driver\": $(json_string "$driver_note"),"
  echo "  \"libraries\": $(json_string "$library_notes"),"
  echo "  \"quick\": $quick, \"allow_software\": $allow_software, \"bundled_libs\": $bundled_libs,"
  echo "  \"seconds\": $seconds, \"passed\": $total_passed, \"failed\": $total_failed, \"skipped\": $total_skipped,"
  echo "  \"steps_failed\": $steps_failed,"
  echo "  \"steps\": ["
  for i in "${!steps[@]}"; do
    echo "    ${steps[$i]}$([[ $i -lt $((${#steps[@]} - 1)) ]] && echo ,)"
  done
  echo "  ]"
  echo "}"
} >"$out/report.json"
echo
cat "$out/report.txt"
if $no_device; then exit 2; fi
((steps_failed == 0))
