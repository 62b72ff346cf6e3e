#!/usr/bin/env bash
# The GPU check's dry run on a machine without a GPU: makes the bundle, unpacks
# it into an empty directory and runs its check.sh there against lavapipe, in an
# empty environment with nothing but the bundle on the library path (every
# bundled library forced, --bundled-libs). lavapipe then reaches the loader the
# way a vendor's driver would on a GPU machine whose loader finds none by
# itself: check.sh finds its manifest (lvp_icd.*.json) and sets VK_DRIVER_FILES.
#
#   tests/gpu/dry_run.sh [BUILD_DIR] [check.sh options, e.g. --quick]
#
# The report stays in BUILD_DIR/gpu-check-dry-run/. CTest runs it with --quick
# (test gpu_check_dry_run).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="$root/build"
if [[ $# -gt 0 && $1 != -* ]]; then
  build="$1"
  shift
fi
build="$(cd "$build" && pwd)"
report="$build/gpu-check-dry-run"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

"$root/tests/gpu/bundle.sh" "$build" --out "$scratch/tensorscope-gpu-check.tar.gz"
mkdir "$scratch/unpacked"
tar -C "$scratch/unpacked" -xzf "$scratch/tensorscope-gpu-check.tar.gz"
check="$scratch/unpacked/tensorscope-gpu-check/check.sh"

# Nothing of this machine's build reaches the bundle's executables: every
# library they load, but glibc's, must come from the bundle.
bundle="$scratch/unpacked/tensorscope-gpu-check"
outside=$(for elf in "$bundle"/bin/* "$bundle"/lib/*.so*; do
  LD_LIBRARY_PATH="$bundle/lib:$bundle/lib/fallback" ldd "$elf"; done |
  sed -n 's/^[[:space:]]*\([^[:space:]]*\) => \([^[:space:]]*\) .*/\1 \2/p' | grep -v " $bundle/" |
  grep -vE '^(libc|libm|libmvec|libpthread|libdl|librt|libresolv|libutil)\.so' | sort -u || true)
if [[ -n $outside ]]; then
  echo "dry_run.sh: the bundle's executables load these from outside the bundle:" >&2
  echo "$outside" >&2
  exit 1
fi

rm -rf "$report"
status=0
env -i PATH=/usr/bin:/bin LANG=C.UTF-8 HOME="$scratch/home" \
  bash "$check" --allow-software --bundled-libs --out "$report" "$@" || status=$?
grep -q '"failed": 0,' "$report/report.json" || status=1
grep -q 'VK_DRIVER_FILES' "$report/report.txt" || {
  echo "dry_run.sh: lavapipe was not reached through VK_DRIVER_FILES" >&2
  status=1
}
echo "dry_run.sh: report in $report (exit $status)"
exit $status
