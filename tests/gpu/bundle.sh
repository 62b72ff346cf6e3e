#!/usr/bin/env bash
# Makes the self-contained GPU check: one .tar.gz with the tensorscope app, the
# test executables check.sh runs, Debian's Vulkan loader (libvulkan1) and
# validation layer (vulkan-validationlayers), every other shared library they
# need but glibc's own and the GPU driver, and tests/gpu/check.sh. Carry it to
# an x86-64 machine with a GPU and run check.sh there (see that script).
#
#   tests/gpu/bundle.sh [BUILD_DIR] [--out FILE]
#
# BUILD_DIR (default: build/) must hold a Release build with the tests
# (cmake --build BUILD_DIR). The bundle goes to BUILD_DIR/tensorscope-gpu-check.tar.gz
# unless --out says otherwise. It must stay under 64 MiB.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="$root/build"
output=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --out) output="$2"; shift 2 ;;
    -*) echo "bundle.sh: unknown option '$1'" >&2; exit 2 ;;
    *) build="$1"; shift ;;
  esac
done
build="$(cd "$build" && pwd)"
output="${output:-$build/tensorscope-gpu-check.tar.gz}"
limit_bytes=$((64 * 1024 * 1024))

# The test executables check.sh runs (tests.txt: no window, Xvfb or PyTorch).
tests=$(sed -n 's/^\(test_[a-z0-9_]*\)[[:space:]].*/\1/p' "$root/tests/gpu/tests.txt")
[[ -n $tests ]] || { echo "bundle.sh: found no test in tests/gpu/tests.txt" >&2; exit 1; }
for file in tensorscope $(printf 'tests/%s ' $tests); do
  if [[ ! -x $build/$file ]]; then
    echo "bundle.sh: $build/$file is missing; build first: cmake --build $build" >&2
    exit 1
  fi
done

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
top="$stage/tensorscope-gpu-check"
mkdir -p "$top/bin" "$top/lib/fallback" "$top/share/vulkan/explicit_layer.d"
cp "$build/tensorscope" "$top/bin/"
for name in $tests; do cp "$build/tests/$name" "$top/bin/"; done
cp "$root/tests/gpu/check.sh" "$root/tests/gpu/tests.txt" "$top/"

# Debian's loader and validation layer, as installed (libvulkan1 and
# vulkan-validationlayers, build dependencies of Tensorscope).
package_file() {  # package_file PACKAGE PATTERN: the installed file of PACKAGE matching PATTERN
  dpkg -L "$1" 2>/dev/null | grep -E "$2" | head -1
}
loader=$(package_file libvulkan1 '/libvulkan\.so\.1$')
layer_json=$(package_file vulkan-validationlayers '/explicit_layer\.d/VkLayer_khronos_validation\.json$')
layer_lib=$(package_file vulkan-validationlayers '/libVkLayer_khronos_validation\.so$')
if [[ -z $loader || -z $layer_json || -z $layer_lib ]]; then
  echo "bundle.sh: install libvulkan1 and vulkan-validationlayers (apt-get install libvulkan1 vulkan-validationlayers)" >&2
  exit 1
fi
cp -L "$loader" "$top/lib/libvulkan.so.1"
cp -L "$layer_lib" "$top/lib/"
# The manifest names the library by file name only (found through the system's
# search path); point it at the bundle's copy, relative to the manifest.
sed 's|"library_path": *"[^"]*"|"library_path": "../../../lib/libVkLayer_khronos_validation.so"|' "$layer_json" \
  >"$top/share/vulkan/explicit_layer.d/VkLayer_khronos_validation.json"
grep -q '"../../../lib/libVkLayer_khronos_validation.so"' "$top/share/vulkan/explicit_layer.d/VkLayer_khronos_validation.json" ||
  { echo "bundle.sh: could not rewrite library_path in $layer_json" >&2; exit 1; }

# Every other library, as ldd resolves it here, but glibc's (the machine's own
# must serve: they go with its dynamic linker) and the loader (bundled above).
# libstdc++ and libgcc_s are carried: a machine without Debian's may have none
# or older ones. check.sh uses each only where the system's is missing or old.
glibc='^(linux-vdso|ld-linux-x86-64|libc|libm|libmvec|libpthread|libdl|librt|libresolv|libutil|libanl|libnsl|libBrokenLocale|libnss_[a-z]*|libthread_db|libc_malloc_debug)\.so'
for elf in "$top"/bin/* "$top"/lib/*.so*; do
  ldd "$elf" | sed -n 's/^[[:space:]]*\([^[:space:]]*\) => \(\/[^[:space:]]*\) .*/\1 \2/p'
done | sort -u | while read -r soname path; do
  [[ $soname =~ $glibc || $soname == libvulkan.so.1 ]] && continue
  [[ -e $top/lib/fallback/$soname ]] || cp -L "$path" "$top/lib/fallback/$soname"
done
if ldd "$top"/bin/* "$top"/lib/*.so* | grep -q "not found"; then
  echo "bundle.sh: a library could not be resolved here:" >&2
  ldd "$top"/bin/* "$top"/lib/*.so* | grep "not found" >&2
  exit 1
fi

# The newest glibc symbol version anything in the bundle needs (check.sh names it
# when the machine's glibc is older), and what the bundle is.
objdump -T "$top"/bin/* "$top"/lib/*.so* "$top"/lib/fallback/* 2>/dev/null |
  grep -oE 'GLIBC_[0-9]+\.[0-9]+(\.[0-9]+)?' | sort -uV | tail -1 >"$top/GLIBC_REQUIRED"
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git -C "$root" status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo "+local changes" || true)
echo "tensorscope ${commit}${dirty}, built $(date -u -r "$build/tensorscope" '+%Y-%m-%d %H:%M UTC') on $(. /etc/os-release && echo "$PRETTY_NAME");" \
  "loader libvulkan1 $(dpkg-query -W -f='${Version}' libvulkan1)," \
  "validation layer vulkan-validationlayers $(dpkg-query -W -f='${Version}' vulkan-validationlayers);" \
  "needs $(cat "$top/GLIBC_REQUIRED")" >"$top/BUNDLE-INFO"

strip --strip-unneeded "$top"/bin/* 2>/dev/null || true
mkdir -p "$(dirname "$output")"
tar -C "$stage" -czf "$output.partial" tensorscope-gpu-check
mv "$output.partial" "$output"
size=$(stat -c %s "$output")
echo "bundle.sh: $output: $((size / 1024 / 1024)).$(((size % (1024 * 1024)) * 10 / 1024 / 1024)) MiB;" \
  "$(ls "$top/bin" | wc -l) executables, $(ls "$top/lib/fallback" | wc -l) bundled libraries besides the loader and layer"
echo "  $(cat "$top/BUNDLE-INFO")"
if ((size >= limit_bytes)); then
  echo "bundle.sh: the bundle is $size bytes, over the 64 MiB limit" >&2
  exit 1
fi
